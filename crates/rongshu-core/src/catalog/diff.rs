//! What changed between two versions of a resource, field by field, for its
//! history and for the side-by-side review.

use serde::Serialize;
use serde_json::{Map, Value};

use super::ResourceSpec;

/// One changed field: `summary`, `items.phone.grade`, `items.phone` (added or
/// removed, with the other side null).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

fn as_map(spec: &ResourceSpec) -> Map<String, Value> {
    match serde_json::to_value(spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn items_by_key(v: Option<&Value>) -> Vec<(String, Map<String, Value>)> {
    v.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    let m = i.as_object()?.clone();
                    let key = m.get("key")?.as_str()?.to_owned();
                    Some((key, m))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Changes from `before` to `after`; empty when they are the same. With no
/// `before`, every field of `after` is listed as set.
pub fn diff_specs(before: Option<&ResourceSpec>, after: &ResourceSpec) -> Vec<FieldChange> {
    let old = before.map(as_map).unwrap_or_default();
    let new = as_map(after);
    let mut changes = Vec::new();
    let mut fields: Vec<&String> = old.keys().chain(new.keys()).collect();
    fields.sort();
    fields.dedup();
    for field in fields {
        if field == "items" {
            continue;
        }
        let (b, a) = (old.get(field), new.get(field));
        if b != a {
            changes.push(FieldChange {
                field: field.clone(),
                before: b.cloned().unwrap_or(Value::Null),
                after: a.cloned().unwrap_or(Value::Null),
            });
        }
    }
    let old_items = items_by_key(old.get("items"));
    let new_items = items_by_key(new.get("items"));
    for (key, item) in &new_items {
        match old_items.iter().find(|(k, _)| k == key) {
            None => changes.push(FieldChange {
                field: format!("items.{key}"),
                before: Value::Null,
                after: Value::Object(item.clone()),
            }),
            Some((_, prev)) => {
                let mut names: Vec<&String> = prev.keys().chain(item.keys()).collect();
                names.sort();
                names.dedup();
                for name in names {
                    let (b, a) = (prev.get(name), item.get(name));
                    if b != a {
                        changes.push(FieldChange {
                            field: format!("items.{key}.{name}"),
                            before: b.cloned().unwrap_or(Value::Null),
                            after: a.cloned().unwrap_or(Value::Null),
                        });
                    }
                }
            }
        }
    }
    for (key, item) in &old_items {
        if !new_items.iter().any(|(k, _)| k == key) {
            changes.push(FieldChange {
                field: format!("items.{key}"),
                before: Value::Object(item.clone()),
                after: Value::Null,
            });
        }
    }
    changes
}
