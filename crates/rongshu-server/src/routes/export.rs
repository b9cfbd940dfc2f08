//! Exporting a query's whole result as CSV or JSON, streamed page by page so
//! memory stays flat (or as one XLSX sheet), under the same access decision as a read. The audit
//! event is committed before the first byte; for a bulk export the query that
//! defines the rows stands in for them (the row count is not known yet).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::{Map, Value};

use crate::access::{self, ReadAccess};
use crate::auth::Actor;
use crate::data_query::{self, MAX_LIMIT};
use crate::disclosure::present_record;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::records::read_event;
use crate::state::AppState;
use rongshu_store::{RecordQuery, Resource, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
    Xlsx,
}

/// Export every record a query matches. Filters are written as for `GET
/// records` (`?district=武侯区&fields=name,district`); `format` is `csv` or `json`.
#[utoipa::path(get, path = "/api/v1/resources/{code}/export", tag = "data",
    params(("code" = String, Path, description = "Resource code"),
           ("format" = Option<String>, Query, description = "csv (default), json, or xlsx (one sheet: up to 1,048,575 rows, then cut, saying so in X-Rongshu-Truncated)"),
           ("fields" = Option<String>, Query, description = "Comma-separated item keys to return")),
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
    let (mut query, asked) =
        data_query::from_params(&code, &resource.spec, &access, &params, false)?;
    query.limit = MAX_LIMIT;
    let returned: Vec<&str> = query.fields.iter().map(String::as_str).collect();
    let audit = read_event(
        &state, &actor, &resource, &access, &returned, &asked, "export",
    );
    state.audit.record(audit).await?;

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
            let (bytes, cut) = workbook(&state.store, &resource, &access, query).await?;
            truncated = cut;
            Body::from(bytes)
        }
        Format::Csv => Body::from_stream(pages(
            state.store.clone(),
            resource,
            access,
            query,
            Streamed::Csv,
        )),
        Format::Json => Body::from_stream(pages(
            state.store.clone(),
            resource,
            access,
            query,
            Streamed::Json,
        )),
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

/// The formats written page by page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streamed {
    Csv,
    Json,
}

struct Cursor {
    store: Store,
    resource: Resource,
    access: ReadAccess,
    query: RecordQuery,
    format: Streamed,
    started: bool,
    done: bool,
}

/// One chunk per page: the header (or `[`) first, then each page, then `]`.
fn pages(
    store: Store,
    resource: Resource,
    access: ReadAccess,
    query: RecordQuery,
    format: Streamed,
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> + Send + 'static {
    let cursor = Cursor {
        store,
        resource,
        access,
        query,
        format,
        started: false,
        done: false,
    };
    stream::unfold(cursor, |mut c| async move {
        if c.done {
            return None;
        }
        let page = match c.store.query_records(&c.resource, &c.query).await {
            Ok(page) => page,
            Err(e) => {
                // Headers are sent already: cutting the stream is the only way
                // left to tell the client the export is incomplete.
                tracing::error!(error = ?e, resource = %c.resource.code, "export page failed");
                c.done = true;
                return Some((Err(std::io::Error::other("export failed")), c));
            }
        };
        let mut chunk = String::new();
        if !c.started {
            chunk.push_str(&match c.format {
                Streamed::Csv => csv_line(c.query.fields.iter().map(String::as_str)),
                Streamed::Json => "[".to_owned(),
            });
        }
        for record in page.records {
            let record = present_record(&c.resource.spec, record, &c.access);
            match c.format {
                Streamed::Csv => chunk.push_str(&csv_record(&c.query.fields, &record)),
                Streamed::Json => {
                    if c.started {
                        chunk.push(',');
                    }
                    chunk.push_str(&Value::Object(record).to_string());
                }
            }
            c.started = true;
        }
        c.started = true;
        match page.next_after {
            Some(after) => c.query.after = Some(after),
            None => {
                c.done = true;
                if c.format == Streamed::Json {
                    chunk.push(']');
                }
            }
        }
        Some((Ok(chunk), c))
    })
}

/// The export as one workbook sheet. A workbook is a zip written whole, so it
/// is built in memory, which the sheet's row limit bounds; past it the export
/// is cut (and says so), and CSV has every row.
async fn workbook(
    store: &Store,
    resource: &Resource,
    access: &ReadAccess,
    mut query: RecordQuery,
) -> Result<(Vec<u8>, bool), ApiError> {
    use rongshu_ingest::table_sheet::TableSheet;
    let header: Vec<&str> = query.fields.iter().map(String::as_str).collect();
    let mut sheet = TableSheet::new("数据", &header).map_err(ApiError::internal)?;
    let mut truncated = false;
    'pages: loop {
        let page = store.query_records(resource, &query).await?;
        for record in page.records {
            let record = present_record(&resource.spec, record, access);
            let cells: Vec<String> = query
                .fields
                .iter()
                .map(|f| cell_text(record.get(f)))
                .collect();
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            if !sheet.push(&refs).map_err(ApiError::internal)? {
                truncated = true;
                break 'pages;
            }
        }
        match page.next_after {
            Some(after) => query.after = Some(after),
            None => break,
        }
    }
    let bytes = tokio::task::spawn_blocking(move || sheet.finish())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok((bytes, truncated))
}

fn cell_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let cells: Vec<String> = cells.map(csv_cell).collect();
    let mut line = cells.join(",");
    line.push_str("\r\n");
    line
}

/// RFC 4180 quoting: a cell with a comma, quote or line break is quoted.
fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn csv_record(fields: &[String], record: &Map<String, Value>) -> String {
    let cells: Vec<String> = fields.iter().map(|f| cell_text(record.get(f))).collect();
    csv_line(cells.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_only_when_needed() {
        assert_eq!(csv_cell("锦江区"), "锦江区");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
