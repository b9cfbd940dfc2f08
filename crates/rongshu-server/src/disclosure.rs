//! What a reader sees of a record, as the access decision says: plain items
//! pass, masked ones go through rongshu-core masking, hidden ones are removed.
//! Pure: the decision was made before (see `access`).

use rongshu_core::catalog::ResourceSpec;
use rongshu_core::kind::ItemKind;
use rongshu_core::mask;
use serde_json::{Map, Value};

use crate::access::{Disclosure, ReadAccess};

pub fn present_record(
    spec: &ResourceSpec,
    mut record: Map<String, Value>,
    access: &ReadAccess,
) -> Map<String, Value> {
    // Deny by default: a field the decision does not name is removed.
    record.retain(|key, _| access.disclosure(key) != Disclosure::Hidden);
    for (key, value) in record.iter_mut() {
        if access.disclosure(key) != Disclosure::Masked {
            continue;
        }
        let kind = spec.item(key).and_then(|i| i.kind);
        match value {
            Value::String(s) => *s = mask_text(kind, s),
            Value::Null => {}
            other => *other = Value::String("***".into()),
        }
    }
    record
}

/// Mask by the item's kind. A grade-3 value is always masked, even when its
/// kind alone would not call for it (the grade is the provider's judgement).
pub(crate) fn mask_text(kind: Option<ItemKind>, value: &str) -> String {
    let by_kind = kind.map(|k| mask::mask(k, value));
    match by_kind {
        Some(masked) if masked != value => masked,
        _ => mask::generic(value),
    }
}
