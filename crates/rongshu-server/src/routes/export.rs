//! Exporting a query's whole result as CSV or JSON, streamed page by page so
//! memory stays flat (or as one XLSX sheet), under the same access decision as a read. The audit
//! event is committed before the first byte; for a bulk export the query that
//! defines the rows stands in for them (the row count is not known yet).
//!
//! The people an export touches are still recorded exactly, page by page:
//! the first page is read before the event and its people go on record with
//! it, in one transaction (a small export is wholly there); each later
//! page's people are added to the event in the side table before that page
//! is sent. A client never holds a row whose person is not on record, and a
//! stream cut short records only what was read. The event also keeps the
//! query itself, sensitive values hidden and ID numbers as person hashes, to
//! say what the export was for the platform office.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rongshu_core::audit::AuditEntry;
use rongshu_core::catalog::{Grade, ResourceSpec};
use rongshu_core::kind::ItemKind;
use rongshu_core::people::PersonKey;
use serde_json::{Value, json};

use crate::access::{self, ReadAccess};
use crate::auth::Actor;
use crate::data_query::{self, MAX_LIMIT};
use crate::disclosure::present_record;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::people::{Widened, person_key};
use crate::routes::records::read_event;
use crate::state::AppState;
use crate::table_stream::{Encoding, Page, PageSource, PageWriter, cell_text, stream_pages};
use rongshu_store::{Filter, FilterOp, Keyset, RecordPage, Resource, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
    Xlsx,
}

/// Export every record a query matches. Filters are written as for `GET
/// records` (`?district=武侯区&fields=name,district&sort=-birth_date`);
/// `format` is `csv`, `json` or `xlsx`.
#[utoipa::path(get, path = "/api/v1/resources/{code}/export", tag = "data",
    params(("code" = String, Path, description = "Resource code"),
           ("format" = Option<String>, Query, description = "csv (default), json, or xlsx (one sheet: up to 1,048,575 rows, then cut, saying so in X-Rongshu-Truncated)"),
           ("fields" = Option<String>, Query, description = "Comma-separated item keys to return"),
           ("sort" = Option<String>, Query, description = "Comma-separated item keys to order by, `-key` for descending; empty values last; only items the caller sees plain")),
    responses((status = 200, description = "The records, streamed: CSV with a header row, or a JSON array"),
              (status = 400, description = "Unknown format, item or a value of the wrong type"),
              (status = 401, description = "Not signed in"),
              (status = 403, description = "The resource, or a filtered item, is not shared with the caller")))]
pub async fn export(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let format = match params
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
    {
        None | Some("csv") => Format::Csv,
        Some("json") => Format::Json,
        Some("xlsx") => Format::Xlsx,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: \"{other}\" is not csv, json or xlsx"
            )));
        }
    };
    let resource = crate::routes::resources::visible_resource(&state, &actor, &code).await?;
    let access = access::decide(&state, &actor, &resource).await?;
    let data_query::Checked {
        mut query, asked, ..
    } = data_query::from_params(&code, &resource.spec, &access, &params, false)?;
    query.limit = MAX_LIMIT;
    let key = person_key(&state).await?.clone();
    let widened = Widened::new(&resource, &query);
    let mut first = state.store.query_records(&resource, &widened.query).await?;
    let people = widened.people(&key, &mut first.records);
    let returned: Vec<&str> = query.fields.iter().map(String::as_str).collect();
    let mut audit = read_event(
        &state, &actor, &resource, &access, &returned, &asked, "export",
    );
    if let Some(detail) = audit.detail.as_object_mut() {
        detail.insert(
            "query".into(),
            json!({
                "filters": stand_in(&resource.spec, &key, &query.filters),
                "format": format.name(),
            }),
        );
    }
    let seq = state.audit.record(AuditEntry::new(audit, people)).await?;
    let fields = query.fields;
    let rest = Rest {
        store: state.store.clone(),
        resource: std::sync::Arc::unwrap_or_clone(resource),
        widened,
        key,
        seq,
    };

    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let disposition = format!("attachment; filename=\"{code}.{extension}\"");
    let mut truncated = false;
    let body = match format {
        Format::Xlsx => {
            let (bytes, cut) = workbook(rest, &access, &fields, first).await?;
            truncated = cut;
            Body::from(bytes)
        }
        Format::Csv => Body::from_stream(pages(rest, access, fields, first, Encoding::Csv)),
        Format::Json => Body::from_stream(pages(rest, access, fields, first, Encoding::Json)),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    if truncated {
        headers.insert("x-rongshu-truncated", HeaderValue::from_static("true"));
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    }
}

/// The filters as the audit keeps them: a sensitive item's values hidden,
/// an ID number's as the person's hash (so the office can still tell whose).
fn stand_in(spec: &ResourceSpec, key: &PersonKey, filters: &[Filter]) -> Vec<Value> {
    let shown = |item: &str, value: &rongshu_core::value::CellValue| -> String {
        let text = value.canonical_text();
        let Some(item) = spec.item(item) else {
            return text;
        };
        match item.kind {
            Some(ItemKind::CitizenId) => key.of_stored(&text).map_or_else(
                || rongshu_core::mask::generic(&text),
                |p| format!("person:{p}"),
            ),
            Some(kind) if item.grade >= Grade::SENSITIVE => rongshu_core::mask::mask(kind, &text),
            None if item.grade >= Grade::SENSITIVE => rongshu_core::mask::generic(&text),
            _ => text,
        }
    };
    filters
        .iter()
        .map(|f| {
            let (op, value) = match &f.op {
                FilterOp::Eq(v) => ("eq", Value::String(shown(&f.item, v))),
                FilterOp::Lt(v) => ("lt", Value::String(shown(&f.item, v))),
                FilterOp::Lte(v) => ("lte", Value::String(shown(&f.item, v))),
                FilterOp::Gt(v) => ("gt", Value::String(shown(&f.item, v))),
                FilterOp::Gte(v) => ("gte", Value::String(shown(&f.item, v))),
                FilterOp::In(vs) => (
                    "in",
                    Value::Array(
                        vs.iter()
                            .map(|v| Value::String(shown(&f.item, v)))
                            .collect(),
                    ),
                ),
            };
            json!({ "item": f.item, "op": op, "value": value })
        })
        .collect()
}

/// The pages after the first, each put on record before it is used.
struct Rest {
    store: Store,
    resource: Resource,
    widened: Widened,
    key: PersonKey,
    /// The export's audit event, which each page's people are added to.
    seq: i64,
}

impl Rest {
    /// The page after `after`, its people on record.
    async fn page(&mut self, after: Keyset) -> Result<RecordPage, ApiError> {
        self.widened.query.after = Some(after);
        let mut page = self
            .store
            .query_records(&self.resource, &self.widened.query)
            .await?;
        let people = self.widened.people(&self.key, &mut page.records);
        self.store.append_audit_people(self.seq, &people).await?;
        Ok(page)
    }
}

/// The pages of an export, each presented as the caller may see it.
struct Cursor {
    rest: Rest,
    access: ReadAccess,
    /// The page read before the event, sent first.
    first: Option<RecordPage>,
    /// Where the next page starts; `None` once the last was sent.
    after: Option<Keyset>,
}

impl PageSource for Cursor {
    async fn next_page(&mut self) -> Result<Page, ApiError> {
        let page = match (self.first.take(), self.after.take()) {
            (Some(first), _) => first,
            (None, Some(after)) => self.rest.page(after).await?,
            (None, None) => {
                return Err(ApiError::internal_msg(
                    "an export page without a start".into(),
                ));
            }
        };
        self.after = page.next_after;
        let spec = &self.rest.resource.spec;
        Ok(Page {
            records: page
                .records
                .into_iter()
                .map(|r| present_record(spec, r, &self.access))
                .collect(),
            more: self.after.is_some(),
        })
    }

    fn label(&self) -> String {
        format!("export of {}", self.rest.resource.code)
    }
}

/// One chunk per page: the header (or `[`) first, then each page, then `]`.
fn pages(
    rest: Rest,
    access: ReadAccess,
    fields: Vec<String>,
    first: RecordPage,
    encoding: Encoding,
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    let cursor = Cursor {
        rest,
        access,
        first: Some(first),
        after: None,
    };
    stream_pages(cursor, PageWriter::new(encoding, fields))
}

/// The export as one workbook sheet. A workbook is a zip written whole, so it
/// is built in memory, which the sheet's row limit bounds; past it the export
/// is cut (and says so), and CSV has every row.
async fn workbook(
    mut rest: Rest,
    access: &ReadAccess,
    fields: &[String],
    first: RecordPage,
) -> Result<(Vec<u8>, bool), ApiError> {
    use rongshu_ingest::table_sheet::TableSheet;
    let header: Vec<&str> = fields.iter().map(String::as_str).collect();
    let mut sheet = TableSheet::new("数据", &header).map_err(ApiError::internal)?;
    let mut truncated = false;
    let mut page = first;
    'pages: loop {
        for record in page.records {
            let record = present_record(&rest.resource.spec, record, access);
            let cells: Vec<String> = fields.iter().map(|f| cell_text(record.get(f))).collect();
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            if !sheet.push(&refs).map_err(ApiError::internal)? {
                truncated = true;
                break 'pages;
            }
        }
        match page.next_after {
            Some(after) => page = rest.page(after).await?,
            None => break,
        }
    }
    let bytes = tokio::task::spawn_blocking(move || sheet.finish())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok((bytes, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_on_record_hides_sensitive_values_and_names_people_by_hash() {
        use rongshu_core::catalog::NewResourceRequest;
        use rongshu_core::value::CellValue;
        let req: NewResourceRequest = serde_json::from_value(json!({
            "name": "人口", "summary": "户籍人口", "share_type": "unconditional", "update_cycle": "daily",
            "classification": "1-01-001", "key_items": ["id_number"],
            "items": [
                {"key": "id_number", "name": "公民身份号码", "type": "string", "required": true, "grade": 3},
                {"key": "name", "name": "姓名", "type": "string", "grade": 3},
                {"key": "district", "name": "区县", "type": "string", "grade": 1}
            ]
        }))
        .unwrap();
        let spec = ResourceSpec::parse(req).unwrap();
        let key = PersonKey::new(b"k".to_vec());
        let first17 = "51010419800101001";
        let id = &format!(
            "{first17}{}",
            rongshu_core::ident::citizen_id::check_char(first17).unwrap()
        );
        let filters = vec![
            Filter::eq("district", CellValue::Text("锦江区".into())),
            Filter::eq("name", CellValue::Text("张三丰".into())),
            Filter {
                item: "id_number".into(),
                op: FilterOp::In(vec![CellValue::Text(id.clone())]),
            },
        ];
        let kept = Value::Array(stand_in(&spec, &key, &filters)).to_string();
        assert!(kept.contains("锦江区"), "{kept}");
        assert!(!kept.contains("张三丰") && kept.contains("张**"), "{kept}");
        assert!(!kept.contains(id), "{kept}");
        let person = key.of_stored(id).map(|p| format!("person:{p}"));
        assert!(person.is_some_and(|p| kept.contains(&p)), "{kept}");
    }
}
