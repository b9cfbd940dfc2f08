//! The catalog in and out of spreadsheets: export in the layout a
//! catalog-compilation office uses (XLSX, CSV) or as JSON, and import of the
//! same XLSX layout, all or nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rongshu_core::account::{DepartmentCode, Role};
use rongshu_core::catalog::Status;
use rongshu_ingest::catalog_sheet::{self, CatalogEntry};
use rongshu_store::{CatalogActor, Resource};
use serde_json::json;

use crate::auth::Actor;
use crate::catalog_query;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::admin::doer;
use crate::state::AppState;

/// Largest catalog workbook accepted.
pub const IMPORT_LIMIT: usize = 20 * 1024 * 1024;

fn entry(r: &Resource) -> CatalogEntry {
    CatalogEntry {
        code: r.code.clone(),
        provider_code: r.provider.code.clone(),
        provider_name: r.provider.name.clone(),
        status: r.status.as_str().to_owned(),
        version: r.version,
        publish_date: r.publish_date.clone(),
        spec: r.spec.clone(),
    }
}

/// Export the catalog (`format=xlsx|csv|json`), all of what the caller may
/// see, or the part that search parameters (`q`, facets) select.
#[utoipa::path(get, path = "/api/v1/catalog/export", tag = "catalog",
    params(("format" = Option<String>, Query, description = "xlsx (default), csv or json"),
           ("q" = Option<String>, Query, description = "Search words; facets as for /api/v1/resources")),
    responses((status = 200, description = "The catalog, one row per item"), (status = 400, description = "Unknown format")))]
pub async fn export(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let format = params
        .iter()
        .find(|(k, _)| k == "format")
        .map_or("xlsx", |(_, v)| v.as_str())
        .to_owned();
    let filters: Vec<(String, String)> =
        params.into_iter().filter(|(k, _)| k != "format").collect();
    let resources = if filters.is_empty() {
        let mut all = state.store.resources(None).await?;
        all.retain(|r| {
            matches!(r.status, Status::Published | Status::Retired)
                || r.provider.code == actor.department().code
                || actor.is_platform_admin()
        });
        all.reverse();
        all
    } else {
        let mut query = catalog_query::parse(&filters, &actor)?;
        query.limit = rongshu_search::SearchQuery::MAX_LIMIT;
        query.offset = 0;
        let mut out = Vec::new();
        loop {
            let page = state.search.search(query.clone()).await?;
            for hit in &page.hits {
                if let Ok(r) = state.store.resource(&hit.code).await {
                    out.push(r);
                }
            }
            query.offset += page.hits.len();
            if page.hits.is_empty() || query.offset >= page.total {
                break;
            }
        }
        out
    };
    let entries: Vec<CatalogEntry> = resources.iter().map(entry).collect();
    let (content_type, extension, body) = match format.as_str() {
        "xlsx" => {
            let bytes = tokio::task::spawn_blocking(move || catalog_sheet::write_xlsx(&entries))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
                bytes,
            )
        }
        "csv" => {
            let mut bytes = Vec::new();
            catalog_sheet::write_csv(&entries, &mut bytes).map_err(ApiError::internal)?;
            ("text/csv; charset=utf-8", "csv", bytes)
        }
        "json" => {
            let bytes =
                serde_json::to_vec(&json!({ "items": entries })).map_err(ApiError::internal)?;
            ("application/json", "json", bytes)
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "format: \"{other}\" is not xlsx, csv or json"
            )));
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"catalog.{extension}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Import a catalog workbook. Every row is checked first; any problem (named
/// by row and column) refuses the whole file, and the resources are created
/// in one transaction, as drafts that go through review. A data officer
/// imports for the own department only; the platform office for any, creating
/// departments that do not exist yet from the sheet's provider names.
#[utoipa::path(post, path = "/api/v1/catalog/import", tag = "catalog",
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    responses((status = 201, description = "`{\"created\": [codes]}`"),
              (status = 403, description = "Rows for another department"),
              (status = 413, description = "Larger than the import limit"),
              (status = 422, description = "`{\"problems\": [{\"row\", \"column\", \"message\"}]}` in the problem's detail")))]
pub async fn import(
    State(state): State<AppState>,
    actor: Actor,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !(actor.is_platform_admin() || actor.has_role(Role::DataOfficer)) {
        return Err(ApiError::Forbidden(
            "importing a catalog needs the role data_officer or platform_admin".into(),
        ));
    }
    if body.len() > IMPORT_LIMIT {
        return Err(ApiError::PayloadTooLarge(format!(
            "a catalog workbook may be at most {IMPORT_LIMIT} bytes"
        )));
    }
    let parsed = tokio::task::spawn_blocking(move || catalog_sheet::read_xlsx(&body))
        .await
        .map_err(ApiError::internal)?;
    let imported = match parsed {
        Ok(v) => v,
        Err(problems) => {
            let list: Vec<serde_json::Value> = problems
                .problems
                .iter()
                .map(|p| json!({ "row": p.row, "column": p.column, "message": p.message }))
                .collect();
            let body = json!({
                "type": "/problems/catalog-import",
                "title": "The workbook has problems; nothing was imported",
                "status": 422,
                "detail": problems.to_string(),
                "problems": list,
            });
            let mut response = (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/problem+json"),
            );
            return Ok(response);
        }
    };
    let own = actor.department().code.clone();
    if !actor.is_platform_admin() {
        let foreign: Vec<String> = imported
            .iter()
            .filter(|e| e.provider_code != own)
            .map(|e| format!("row {} ({})", e.first_row, e.provider_code))
            .collect();
        if !foreign.is_empty() {
            return Err(ApiError::Forbidden(format!(
                "a data officer of {own} imports only {own}'s resources; these rows are another department's: {}",
                foreign.join(", ")
            )));
        }
    }
    let now = state.clock.now();
    let who = doer(&actor);
    for e in &imported {
        if state.store.department(&e.provider_code).await.is_err() {
            let code = DepartmentCode::parse(&e.provider_code)
                .map_err(|m| ApiError::Unprocessable(format!("row {}: {m}", e.first_row)))?;
            if !actor.is_platform_admin() {
                return Err(ApiError::NotFound(format!(
                    "department {code} does not exist"
                )));
            }
            let name = e.provider_name.clone().unwrap_or_else(|| code.to_string());
            crate::service::create_department(&state.store, now, &who, code.as_str(), &name, None)
                .await?;
        }
    }
    let entries: Vec<_> = imported
        .into_iter()
        .map(|e| (e.provider_code, e.spec, e.code))
        .collect();
    let audit = who.record(now, "catalog.import", None, json!({}));
    let actor_ref = CatalogActor {
        label: &who.label,
        now,
    };
    let created = state
        .store
        .import_resources(&entries, actor_ref, audit)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "created": created }))).into_response())
}
