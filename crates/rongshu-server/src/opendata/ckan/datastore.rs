//! `datastore_search`: a published dataset's rows, with CKAN's filters, text
//! search, fields, sort, limit/offset and total. Masked items come out masked
//! and cannot be filtered, searched or sorted on (each would tell their
//! values); dropped items do not exist here.

use rongshu_core::catalog::ItemType;
use rongshu_core::opendata::ReleaseOpenType;
use rongshu_core::value::parse_cell;
use rongshu_store::{Filter, FilterOp, SortKey, ViewQuery};
use serde_json::{Map, Value, json};

use super::catalog::dataset_of_resource;
use super::{Call, CkanError, CkanResult};
use crate::opendata::gate::view_filters;
use crate::opendata::package::{Dataset, datastore_type};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 10_000;

/// A released item that may be used in a condition or an order.
fn plain_item<'d>(
    d: &'d Dataset,
    key: &str,
    param: &str,
) -> Result<&'d rongshu_core::catalog::Item, CkanError> {
    match d.item(key) {
        None => Err(CkanError::Validation(format!(
            "{param}: field \"{key}\" is not in this resource"
        ))),
        Some((_, true)) => Err(CkanError::Validation(format!(
            "{param}: field \"{key}\" is masked and cannot be used in {param}"
        ))),
        Some((item, false)) => Ok(item),
    }
}

fn cell_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn filters_of(d: &Dataset, asked: &Map<String, Value>) -> Result<Vec<Filter>, CkanError> {
    let mut out = Vec::new();
    for (key, value) in asked {
        let item = plain_item(d, key, "filters")?;
        let raw: Vec<String> = match value {
            Value::Array(vs) => vs.iter().filter_map(cell_text).collect(),
            one => cell_text(one).into_iter().collect(),
        };
        let mut values = Vec::with_capacity(raw.len());
        for r in &raw {
            match parse_cell(item.item_type, r) {
                Ok(Some(v)) => values.push(v),
                _ => {
                    return Err(CkanError::Validation(format!(
                        "filters: \"{r}\" is not a value of field \"{key}\" ({})",
                        item.item_type.as_str()
                    )));
                }
            }
        }
        let op = match (value.is_array(), values.pop()) {
            (false, Some(v)) => FilterOp::Eq(v),
            (true, last) => {
                values.extend(last);
                FilterOp::In(values)
            }
            (false, None) => {
                return Err(CkanError::Validation(format!(
                    "filters: field \"{key}\" needs a value"
                )));
            }
        };
        out.push(Filter {
            item: key.clone(),
            op,
        });
    }
    Ok(out)
}

fn sort_of(d: &Dataset, raw: &str) -> Result<Vec<SortKey>, CkanError> {
    let mut keys = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or_default().trim_matches('"');
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(CkanError::Validation(format!(
                    "sort: \"{other}\" is not asc or desc"
                )));
            }
        };
        if field == "_id" {
            // Row order is the last key of every sort already.
            continue;
        }
        plain_item(d, field, "sort")?;
        keys.push(SortKey {
            item: field.to_owned(),
            descending,
        });
    }
    Ok(keys)
}

pub async fn datastore_search(call: &Call<'_>) -> CkanResult {
    let p = &call.params;
    let resource_id = p.required("resource_id")?;
    let d = dataset_of_resource(call, &resource_id).await?;
    if d.release.open_type == ReleaseOpenType::Conditional {
        return Err(CkanError::Authorization(format!(
            "\"{}\" is open on conditions ({}): its rows are for registered users who accepted the terms",
            d.name(),
            d.release.open_condition.as_deref().unwrap_or("")
        )));
    }
    let limit = p.int("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)?;
    let offset = p.int("offset", 0, 0, i64::MAX)?;
    let include_total = p.boolean("include_total", true)?;
    let fields: Vec<String> = match p.list("fields")? {
        None => d.items.iter().map(|(i, _)| i.key.to_string()).collect(),
        Some(asked) => {
            for f in &asked {
                if f != "_id" && d.item(f).is_none() {
                    return Err(CkanError::Validation(format!(
                        "fields: field \"{f}\" is not in this resource"
                    )));
                }
            }
            asked.into_iter().filter(|f| f != "_id").collect()
        }
    };
    let asked_filters = p.object("filters")?.unwrap_or_default();
    let mut filters = view_filters(&d.resource.spec, &d.release.view)?;
    filters.extend(filters_of(&d, &asked_filters)?);
    let text = match p.get("q") {
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => {
            return Err(CkanError::Validation(
                "q: give the text to search for as a string".into(),
            ));
        }
    };
    // Text is searched in plain text items only: a masked one would answer
    // whether a hidden value exists.
    let text_items = d
        .items
        .iter()
        .filter(|(i, masked)| !masked && i.item_type == ItemType::String)
        .map(|(i, _)| i.key.to_string())
        .collect();
    let sort_raw = p.text("sort").unwrap_or_default();
    let query = ViewQuery {
        filters,
        text,
        text_items,
        fields: fields.clone(),
        sort: sort_of(&d, &sort_raw)?,
        limit,
        offset,
        count: include_total,
        after: None,
    };
    let page = call.state.store.query_view(&d.resource, &query).await?;
    let records: Vec<Value> = page
        .records
        .into_iter()
        .map(|(row_id, mut record)| {
            d.present(&mut record);
            let mut out = Map::new();
            out.insert("_id".into(), json!(row_id));
            out.extend(record);
            Value::Object(out)
        })
        .collect();
    let mut field_list = vec![json!({"id": "_id", "type": "int"})];
    for f in &fields {
        if let Some((item, masked)) = d.item(f) {
            field_list.push(json!({
                "id": f, "type": datastore_type(item.item_type, *masked),
                "info": {"label": item.name, "masked": masked},
            }));
        }
    }
    let start = format!("/api/3/action/datastore_search?resource_id={resource_id}");
    let mut result = json!({
        "resource_id": resource_id,
        "fields": field_list,
        "records": records,
        "limit": limit,
        "offset": offset,
        "include_total": include_total,
        "records_format": "objects",
        "_links": {
            "start": start,
            "next": format!("{start}&offset={}", offset.saturating_add(limit)),
        },
    });
    if let (Some(total), Some(obj)) = (page.total, result.as_object_mut()) {
        obj.insert("total".into(), json!(total));
        obj.insert("total_was_estimated".into(), json!(false));
    }
    if !asked_filters.is_empty()
        && let Some(obj) = result.as_object_mut()
    {
        obj.insert("filters".into(), Value::Object(asked_filters));
    }
    Ok(result)
}
