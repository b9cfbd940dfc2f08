//! The personal-data gate on a proposed view: the view's own filters as the
//! store's, and the scan of its actual rows.

use rongshu_core::catalog::ResourceSpec;
use rongshu_core::opendata::{PiiScanner, ReleaseView, ScanReport};
use rongshu_core::value::parse_cell;
use rongshu_store::{Filter, FilterOp, RecordQuery, Resource, Store};
use serde_json::Value;

use crate::error::ApiError;

/// Rows scanned at most per proposal; a larger view is scanned this far and
/// the report says it is incomplete (the reviewer sees that).
pub const SCAN_ROW_LIMIT: u64 = 500_000;
const SCAN_PAGE: i64 = 1_000;

/// The view's row filter as store filters. The view was checked when it was
/// proposed, so a failure here means the declaration changed since: refuse.
pub fn view_filters(spec: &ResourceSpec, view: &ReleaseView) -> Result<Vec<Filter>, ApiError> {
    view.filters
        .iter()
        .map(|f| {
            let stale = || {
                ApiError::Conflict(format!(
                    "the release's filter on {} no longer fits the resource's declaration",
                    f.item
                ))
            };
            let item = spec.item(&f.item).ok_or_else(stale)?;
            let mut values = Vec::new();
            for raw in f.values() {
                values.push(
                    parse_cell(item.item_type, &raw)
                        .ok()
                        .flatten()
                        .ok_or_else(stale)?,
                );
            }
            let one = || values.first().cloned().ok_or_else(stale);
            let op = match f.op.as_str() {
                "eq" => FilterOp::Eq(one()?),
                "lt" => FilterOp::Lt(one()?),
                "lte" => FilterOp::Lte(one()?),
                "gt" => FilterOp::Gt(one()?),
                "gte" => FilterOp::Gte(one()?),
                "in" => FilterOp::In(values.clone()),
                _ => return Err(stale()),
            };
            Ok(Filter {
                item: f.item.clone(),
                op,
            })
        })
        .collect()
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Scan every row of the view (up to the limit) for personal values.
pub async fn scan_view(
    store: &Store,
    resource: &Resource,
    view: &ReleaseView,
) -> Result<ScanReport, ApiError> {
    let spec = &resource.spec;
    let items = view.items.iter().filter_map(|k| spec.item(k));
    let mut scanner = PiiScanner::new(items);
    let mut query = RecordQuery::new(view_filters(spec, view)?, view.items.clone(), SCAN_PAGE);
    loop {
        let page = store.query_records(resource, &query).await?;
        for record in &page.records {
            let texts: Vec<(&str, String)> = record
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), text_of(v)?)))
                .collect();
            scanner.scan_row(|key| {
                texts
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.as_str())
            });
        }
        if scanner.rows_scanned() >= SCAN_ROW_LIMIT {
            return Ok(scanner.finish(page.next_after.is_none()));
        }
        match page.next_after {
            Some(after) => query.after = Some(after),
            None => return Ok(scanner.finish(true)),
        }
    }
}
