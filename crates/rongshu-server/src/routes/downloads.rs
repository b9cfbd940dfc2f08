//! `GET /api/v1/releases/{id}/download`: a published release's rows as a
//! file, for anyone (a conditional release for the key of an approved user),
//! of the current data or of a past version; `GET …/versions` lists those.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::opendata::download::{self, DownloadFormat};
use crate::opendata::{package, versions};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct DownloadParams {
    format: Option<String>,
    version: Option<String>,
}

/// Download a published release's rows, now or as a past version.
#[utoipa::path(get, path = "/api/v1/releases/{id}/download", tag = "open data",
    params(("id" = String, Path, description = "Release id or dataset name"),
           ("format" = Option<String>, Query, description = "csv (default), csv-bom (UTF-8 with BOM, formulas defused, for spreadsheets), json, or xlsx"),
           ("version" = Option<String>, Query, description = "A version from `versions`: the data as that batch left it (default: the current data)"),
           ("X-API-Key" = Option<String>, Header, description = "For a conditional release: the key of a user whose request was approved")),
    responses((status = 200, description = "The rows, streamed, as `attachment; filename=\"{name}.{ext}\"` (`{name}-{version}.{ext}` for a past version)"),
              (status = 400, description = "Unknown format"),
              (status = 401, description = "A key that is unknown or revoked"),
              (status = 403, description = "The release is open on conditions and the caller's request is not approved"),
              (status = 404, description = "No such published release, or no such version of it")))]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<DownloadParams>,
) -> Result<Response, ApiError> {
    let format = DownloadFormat::parse(params.format.as_deref().unwrap_or("csv"))?;
    let dataset = download::downloadable(&state, &id, &headers).await?;
    download::download(&state, dataset, format, params.version.as_deref()).await
}

/// A published release's versions, newest (the current data) first.
#[utoipa::path(get, path = "/api/v1/releases/{id}/versions", tag = "open data",
    params(("id" = String, Path, description = "Dataset name")),
    responses((status = 200, description = "`{\"dataset\": name, \"versions\": [{\"version\", \"loaded_at\", \"rows_loaded\", \"current\", \"download\"}]}`"),
              (status = 404, description = "No such published release")))]
pub async fn list_versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let dataset = package::published_dataset(&state, &name).await?;
    let list: Vec<Value> = versions::versions(&state, &dataset)
        .await?
        .into_iter()
        .map(|v| {
            let download = format!(
                "/api/v1/releases/{}/download?version={}",
                dataset.name(),
                v.version
            );
            json!({
                "version": v.version,
                "loaded_at": v.loaded_at,
                "rows_loaded": v.rows_loaded,
                "current": v.current,
                "download": download,
            })
        })
        .collect();
    Ok(Json(json!({"dataset": dataset.name(), "versions": list})))
}
