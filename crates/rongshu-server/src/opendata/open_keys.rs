//! Who calls the open API: a registered user's key, from `X-API-Key` or
//! `Authorization: Bearer`, checked against its stored hash and held to a
//! per-key rate limit (a token bucket per key, in memory, per process).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use chrono::{DateTime, Utc};
use rongshu_core::rate::{RateLimit, TokenBucket};
use rongshu_store::OpenCaller;

use crate::auth::token;
use crate::error::ApiError;
use crate::state::AppState;

/// Marks open API keys, so they are told apart from staff tokens (`rst_`).
pub const KEY_MARK: &str = "rok_";

/// A new open API key: the marker and 256 random bits.
pub fn generate() -> String {
    format!("{KEY_MARK}{}", token::random_secret())
}

/// The per-key buckets of this process.
pub struct OpenKeyLimits {
    limit: RateLimit,
    buckets: Mutex<HashMap<i64, TokenBucket>>,
}

impl OpenKeyLimits {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, TokenBucket>> {
        // A panic while holding the lock leaves plain counters behind; keep going.
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Let one call of `key_id` through, or say when to come back.
    pub fn admit(&self, key_id: i64, now: DateTime<Utc>) -> Result<(), ApiError> {
        let limit = self.limit;
        self.lock()
            .entry(key_id)
            .or_insert_with(|| TokenBucket::full(limit, now))
            .try_take(now)
            .map_err(|wait| ApiError::RateLimited {
                detail: format!(
                    "an open API key is limited to {limit}; try again in {} s",
                    wait.seconds()
                ),
                retry_after_secs: wait.seconds(),
            })
    }
}

/// The key a request presents, if any.
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| k.starts_with(KEY_MARK))
}

/// Whether the request carries an open API key at all.
pub fn presents_key(headers: &HeaderMap) -> bool {
    presented(headers).is_some()
}

/// The caller behind the request's key, admitted under its rate limit.
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<OpenCaller, ApiError> {
    let key = presented(headers).ok_or_else(|| {
        ApiError::Unauthorized(
            "the open API needs a key in X-API-Key: sign up on the portal (/signup) for one".into(),
        )
    })?;
    let found = state.store.open_caller(&token::hash(key)).await?;
    let caller = found.ok_or_else(|| {
        ApiError::Unauthorized(
            "this key is not valid (unknown or revoked): ask for a new one on the portal".into(),
        )
    })?;
    state.open_limits.admit(caller.key_id, state.clock.now())?;
    Ok(caller)
}
