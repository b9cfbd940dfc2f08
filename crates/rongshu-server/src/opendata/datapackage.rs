//! A Frictionless Data Package (`datapackage.json`) for a published release:
//! its table schema with only the released items, masked ones as strings.

use rongshu_core::catalog::ItemType;
use serde_json::{Value, json};

use crate::opendata::package::{Dataset, license};

fn field_type(item_type: ItemType, masked: bool) -> &'static str {
    if masked {
        return "string";
    }
    match item_type {
        ItemType::String => "string",
        ItemType::Integer => "integer",
        ItemType::Decimal => "number",
        ItemType::Date => "date",
        ItemType::Datetime => "datetime",
        ItemType::Boolean => "boolean",
    }
}

pub fn datapackage(d: &Dataset, base: &str) -> Value {
    let spec = &d.resource.spec;
    let licenses: Vec<Value> = license(&d.release.license)
        .map(|(id, title, path)| json!({"name": id, "title": title, "path": path}))
        .into_iter()
        .collect();
    let fields: Vec<Value> = d
        .items
        .iter()
        .map(|(item, masked)| {
            let mut f = json!({
                "name": item.key.as_str(),
                "title": item.name,
                "type": field_type(item.item_type, *masked),
            });
            if let Some(obj) = f.as_object_mut() {
                if !item.description.is_empty() {
                    obj.insert("description".into(), json!(item.description));
                }
                if *masked {
                    obj.insert("rongshu:masked".into(), json!(true));
                }
            }
            f
        })
        .collect();
    let primary_key: Vec<&str> = spec
        .key_items
        .iter()
        .map(|k| k.as_str())
        .filter(|k| d.item(k).is_some_and(|(_, masked)| !masked))
        .collect();
    let mut schema = json!({ "fields": fields });
    if primary_key.len() == spec.key_items.len()
        && !primary_key.is_empty()
        && let Some(obj) = schema.as_object_mut()
    {
        obj.insert("primaryKey".into(), json!(primary_key));
    }
    json!({
        "profile": "tabular-data-package",
        "name": d.name(),
        "id": d.name(),
        "title": d.release.title,
        "description": d.release.description,
        "keywords": spec.keywords,
        "licenses": licenses,
        "homepage": format!("{base}/api/3/action/package_show?id={}", d.name()),
        "created": d.release.published_at.map(|t| t.to_rfc3339()),
        "contributors": [
            {"title": d.resource.provider.name, "role": "publisher"},
        ],
        "resources": [{
            "name": "data",
            "title": d.release.title,
            "profile": "tabular-data-resource",
            "path": format!("{base}/api/3/action/datastore_search?resource_id={}", d.resource_id()),
            "format": "json",
            "mediatype": "application/json",
            "encoding": "utf-8",
            "schema": schema,
        }],
    })
}
