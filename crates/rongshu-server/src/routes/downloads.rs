//! `GET /api/v1/releases/{id}/download`: a published release's rows as a
//! file, for anyone (the release is public; a conditional one is refused).

use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::opendata::download::{self, DownloadFormat};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct DownloadParams {
    format: Option<String>,
}

/// Download a published release's current rows.
#[utoipa::path(get, path = "/api/v1/releases/{id}/download", tag = "open data",
    params(("id" = String, Path, description = "Release id or dataset name"),
           ("format" = Option<String>, Query, description = "csv (default), csv-bom (UTF-8 with BOM, formulas defused, for spreadsheets), json, or xlsx")),
    responses((status = 200, description = "The rows, streamed, as `attachment; filename=\"{name}.{ext}\"`"),
              (status = 400, description = "Unknown format"),
              (status = 403, description = "The release is open on conditions"),
              (status = 404, description = "No such published release")))]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DownloadParams>,
) -> Result<Response, ApiError> {
    let format = DownloadFormat::parse(params.format.as_deref().unwrap_or("csv"))?;
    let dataset = download::downloadable(&state, &id).await?;
    download::download(&state, dataset, format).await
}
