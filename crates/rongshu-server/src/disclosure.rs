//! What a reader may see of a record: grades decide. The provider sees its own
//! data plain; another department sees grades 1-2 plain, grade 3 masked and
//! grade 4 not at all (it is only ever verified).

use rongshu_core::catalog::{Grade, ResourceSpec};
use rongshu_core::kind::ItemKind;
use rongshu_core::mask;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Provider,
    Consumer,
}

pub fn present_record(
    spec: &ResourceSpec,
    mut record: Map<String, Value>,
    audience: Audience,
) -> Map<String, Value> {
    if audience == Audience::Provider {
        return record;
    }
    for item in &spec.items {
        let key = item.key.as_str();
        if item.grade >= Grade::CORE {
            record.remove(key);
        } else if item.grade >= Grade::SENSITIVE {
            if let Some(Value::String(s)) = record.get(key) {
                let masked = mask_text(item.kind, s);
                record.insert(key.to_owned(), Value::String(masked));
            } else if let Some(v) = record.get_mut(key)
                && !v.is_null()
            {
                *v = Value::String("***".into());
            }
        }
    }
    record
}

/// Mask by the item's kind. A grade-3 value is always masked, even when its
/// kind alone would not call for it (the grade is the provider's judgement).
fn mask_text(kind: Option<ItemKind>, value: &str) -> String {
    let by_kind = kind.map(|k| mask::mask(k, value));
    match by_kind {
        Some(masked) if masked != value => masked,
        _ => mask::generic(value),
    }
}
