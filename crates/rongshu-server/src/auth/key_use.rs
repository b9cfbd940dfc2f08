//! When each application key was last used. Noting it is kept off the hot
//! path: at most one write a minute per key and process, made by a task of
//! its own that the request does not wait for.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use rongshu_store::Store;

/// A key's "last used" is this precise, and no more.
const WRITE_EVERY: Duration = Duration::minutes(1);

#[derive(Default)]
pub struct KeyUse {
    written: Mutex<HashMap<i64, DateTime<Utc>>>,
}

impl KeyUse {
    pub fn note(&self, store: &Store, key_id: i64, now: DateTime<Utc>) {
        {
            let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
            match written.get(&key_id) {
                Some(at) if now - *at < WRITE_EVERY && now >= *at => return,
                _ => {
                    written.insert(key_id, now);
                }
            }
        }
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(key_id, now).await {
                tracing::warn!(key = key_id, error = %e, "could not note when a key was last used");
            }
        });
    }
}
