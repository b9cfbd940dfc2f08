//! Exporting a query's whole result as CSV or JSON, streamed page by page so
//! memory stays flat, under the same access decision as a read. The audit
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
}

/// Export every record a query matches. Filters are written as for `GET
/// records` (`?district=武侯区&fields=name,district`); `format` is `csv` or `json`.
#[utoipa::path(get, path = "/api/v1/resources/{code}/export", tag = "data",
    params(("code" = String, Path, description = "Resource code"),
           ("format" = Option<String>, Query, description = "csv (default) or json"),
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
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: \"{other}\" is not csv or json"
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
    };
    let disposition = format!("attachment; filename=\"{code}.{extension}\"");
    let body = Body::from_stream(pages(state.store.clone(), resource, access, query, format));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

struct Cursor {
    store: Store,
    resource: Resource,
    access: ReadAccess,
    query: RecordQuery,
    format: Format,
    started: bool,
    done: bool,
}

/// One chunk per page: the header (or `[`) first, then each page, then `]`.
fn pages(
    store: Store,
    resource: Resource,
    access: ReadAccess,
    query: RecordQuery,
    format: Format,
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
                Format::Csv => csv_line(c.query.fields.iter().map(String::as_str)),
                Format::Json => "[".to_owned(),
            });
        }
        for record in page.records {
            let record = present_record(&c.resource.spec, record, &c.access);
            match c.format {
                Format::Csv => chunk.push_str(&csv_record(&c.query.fields, &record)),
                Format::Json => {
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
                if c.format == Format::Json {
                    chunk.push(']');
                }
            }
        }
        Some((Ok(chunk), c))
    })
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
    let cells: Vec<String> = fields
        .iter()
        .map(|f| match record.get(f) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        })
        .collect();
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
