//! A published release's versions: the data as each loaded batch of its
//! resource left it, from the batch that was current when the release was
//! published on. A past version is rebuilt from the change log, then cut to
//! the release's view (its filters, its items, its masking) exactly as the
//! current data is, so a version never shows more than the release did.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::{CellValue, parse_cell};
use rongshu_store::{Filter, FilterOp};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::opendata::package::Dataset;
use crate::state::AppState;
use crate::table_stream::{Page, PageSource};

/// Batches looked at for versions: more than any resource loads in years.
const MAX_BATCHES: i64 = 100_000;

/// Change-log rows read per page of a past version.
const PAGE_ROWS: i64 = 5_000;

/// One version of a release.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// The batch that made it: what `?version=` names.
    pub version: String,
    pub loaded_at: DateTime<Utc>,
    pub rows_loaded: i64,
    /// The data as it is now.
    pub current: bool,
}

/// The release's versions, newest first.
pub async fn versions(state: &AppState, dataset: &Dataset) -> Result<Vec<Version>, ApiError> {
    let published = dataset
        .release
        .published_at
        .unwrap_or(dataset.release.updated_at);
    let mut loaded = Vec::new();
    for b in state
        .store
        .batches(&dataset.resource.code, MAX_BATCHES)
        .await?
    {
        if b.state != "loaded" {
            continue;
        }
        let Some(finished) = b.finished_at.as_deref() else {
            continue;
        };
        let loaded_at = DateTime::parse_from_rfc3339(finished)
            .map_err(ApiError::internal)?
            .with_timezone(&Utc);
        loaded.push(Version {
            version: b.batch_id,
            loaded_at,
            rows_loaded: b.rows_loaded,
            current: false,
        });
    }
    // Newest first: every batch since publication, and the one the release
    // was published over (the first one older than publication).
    let mut out = Vec::new();
    for v in loaded {
        let before = v.loaded_at <= published;
        out.push(v);
        if before {
            break;
        }
    }
    if let Some(first) = out.first_mut() {
        first.current = true;
    }
    Ok(out)
}

/// The version named `version`, or a 404 that lists where to look.
pub async fn find(state: &AppState, dataset: &Dataset, version: &str) -> Result<Version, ApiError> {
    versions(state, dataset)
        .await?
        .into_iter()
        .find(|v| v.version == version)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "\"{}\" has no version {version}: GET /api/v1/releases/{}/versions lists them",
                dataset.name(),
                dataset.name()
            ))
        })
}

/// A past version's rows, as released, page by page.
pub struct PastRows {
    state: AppState,
    dataset: Dataset,
    version: String,
    view: Vec<Filter>,
    after: i64,
    done: bool,
}

impl PastRows {
    pub fn new(state: AppState, dataset: Dataset, version: String, view: Vec<Filter>) -> Self {
        Self {
            state,
            dataset,
            version,
            view,
            after: 0,
            done: false,
        }
    }
}

impl PageSource for PastRows {
    async fn next_page(&mut self) -> Result<Page, ApiError> {
        if self.done {
            return Ok(Page {
                records: Vec::new(),
                more: false,
            });
        }
        let page = self
            .state
            .store
            .records_as_of(&self.dataset.resource, &self.version, self.after, PAGE_ROWS)
            .await?;
        match page.next_after {
            Some(after) => self.after = after,
            None => self.done = true,
        }
        let spec = &self.dataset.resource.spec;
        let records = page
            .records
            .into_iter()
            .filter(|r| self.view.iter().all(|f| holds(spec, f, r)))
            .map(|mut r| {
                r.retain(|k, _| self.dataset.item(k).is_some());
                self.dataset.present(&mut r);
                r
            })
            .collect();
        Ok(Page {
            records,
            more: !self.done,
        })
    }

    fn label(&self) -> String {
        format!(
            "download of {} version {}",
            self.dataset.name(),
            self.version
        )
    }
}

/// Whether a logged record meets a view filter, as the database would
/// decide it: an empty value meets none.
fn holds(spec: &ResourceSpec, filter: &Filter, record: &Map<String, Value>) -> bool {
    let Some(item) = spec.item(&filter.item) else {
        return false;
    };
    let Some(value) = record
        .get(&filter.item)
        .and_then(|v| cell(item.item_type, v))
    else {
        return false;
    };
    let cmp = |other: &CellValue| compare(&value, other);
    match &filter.op {
        FilterOp::Eq(v) => cmp(v) == Some(Ordering::Equal),
        FilterOp::Lt(v) => cmp(v) == Some(Ordering::Less),
        FilterOp::Lte(v) => matches!(cmp(v), Some(Ordering::Less | Ordering::Equal)),
        FilterOp::Gt(v) => cmp(v) == Some(Ordering::Greater),
        FilterOp::Gte(v) => matches!(cmp(v), Some(Ordering::Greater | Ordering::Equal)),
        FilterOp::In(vs) => vs.iter().any(|v| cmp(v) == Some(Ordering::Equal)),
    }
}

fn cell(item_type: ItemType, value: &Value) -> Option<CellValue> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    parse_cell(item_type, &text).ok().flatten()
}

fn compare(a: &CellValue, b: &CellValue) -> Option<Ordering> {
    use CellValue::*;
    match (a, b) {
        (Text(x), Text(y)) => Some(x.cmp(y)),
        (Integer(x), Integer(y)) => Some(x.cmp(y)),
        (Decimal(x), Decimal(y)) => Some(compare_decimal(x, y)),
        (Integer(x), Decimal(y)) => Some(compare_decimal(&x.to_string(), y)),
        (Decimal(x), Integer(y)) => Some(compare_decimal(x, &y.to_string())),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (Datetime(x), Datetime(y)) => Some(x.cmp(y)),
        (Boolean(x), Boolean(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Canonical decimals (`-12.50`) compared exactly, digit by digit.
fn compare_decimal(a: &str, b: &str) -> Ordering {
    let split = |s: &str| {
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let zero = int.is_empty() && frac.is_empty();
        (negative && !zero, int.to_owned(), frac.to_owned())
    };
    let (an, ai, af) = split(a);
    let (bn, bi, bf) = split(b);
    let magnitude = ai
        .len()
        .cmp(&bi.len())
        .then_with(|| ai.cmp(&bi))
        .then_with(|| af.cmp(&bf));
    match (an, bn) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_by_value_not_by_text() {
        let cases = [
            ("9.5", "10", Ordering::Less),
            ("10.50", "10.5", Ordering::Equal),
            ("-3", "2", Ordering::Less),
            ("-3", "-2.5", Ordering::Less),
            ("0.00", "-0", Ordering::Equal),
            ("0.125", "0.13", Ordering::Less),
            ("100", "99.999", Ordering::Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_decimal(a, b), want, "{a} vs {b}");
            assert_eq!(compare_decimal(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
