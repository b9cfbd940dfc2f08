//! How a change of the log is shown to a reader: its record masked by grade
//! like any read, and its key too. A key item the reader may not see plainly
//! (grade 3 for a consumer) is masked, which would make the key useless for
//! keeping a copy in step; such a change also carries `key_ref`, a keyed
//! pseudonym of the key (HMAC with a platform secret, scoped to the resource
//! and the reading department) that is stable across changes of the same row
//! but reveals nothing of the key and cannot be joined across departments.

use hmac::{Hmac, KeyInit, Mac};
use rongshu_store::{Change, Resource};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::access::ReadAccess;
use crate::disclosure::present_record;

/// The name under which the platform keeps the key-pseudonym secret.
pub const KEY_REF_SECRET: &str = "exchange.key_ref";

/// Most changes a feed page returns.
pub const MAX_LIMIT: i64 = 5_000;
pub const DEFAULT_LIMIT: i64 = 500;

/// Makes `key_ref`s for one reader of one resource.
pub struct KeyRefs {
    secret: Vec<u8>,
    scope: String,
}

impl KeyRefs {
    pub fn new(secret: Vec<u8>, resource: &str, department: &str) -> Self {
        Self {
            secret,
            scope: format!("{resource}\n{department}\n"),
        }
    }

    fn key_ref(&self, key: &Value) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return String::new();
        };
        mac.update(self.scope.as_bytes());
        mac.update(key.to_string().as_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..16])
    }
}

/// One change as a reader sees it: `{seq, op, key, record, batch_id}` and,
/// when the key is masked for the reader, `key_ref`.
pub fn present_change(
    resource: &Resource,
    change: Change,
    access: &ReadAccess,
    refs: &KeyRefs,
) -> Value {
    let spec = &resource.spec;
    let as_map = |v: Value| match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let plain_key = change.key;
    let key = present_record(spec, as_map(plain_key.clone()), access);
    let key_masked = Value::Object(key.clone()) != plain_key;
    let record = change
        .record
        .map(|r| Value::Object(present_record(spec, as_map(r), access)))
        .unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("seq".into(), Value::from(change.seq));
    out.insert("op".into(), Value::String(change.op));
    out.insert("key".into(), Value::Object(key));
    if key_masked {
        out.insert("key_ref".into(), Value::String(refs.key_ref(&plain_key)));
    }
    out.insert("record".into(), record);
    out.insert("batch_id".into(), Value::String(change.batch_id));
    Value::Object(out)
}
