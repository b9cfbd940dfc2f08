//! Registering resources and delivering their batches.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::admin::doer;
use crate::service;
use crate::state::AppState;
use rongshu_core::account::Role;
use rongshu_core::catalog::{NewResourceRequest, ResourceSpec};
use rongshu_store::Resource;

/// Register a resource. Its provider is the caller's department unless a
/// platform admin names another in `provider`.
#[utoipa::path(post, path = "/api/v1/resources", tag = "catalog",
    request_body(content = serde_json::Value, description = "name, summary, share_type, update_cycle, key_items, items[]"),
    responses((status = 201, description = "Registered; the answer carries the assigned code"),
              (status = 403, description = "Not a data officer of the provider department"),
              (status = 422, description = "The declaration is not valid; `detail` names the field")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<Resource>), ApiError> {
    let provider = match body.get("provider") {
        None | Some(serde_json::Value::Null) => actor.department().code.clone(),
        Some(serde_json::Value::String(p)) => p.clone(),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "provider must be a department code".into(),
            ));
        }
    };
    let own = provider == actor.department().code;
    let allowed = actor.is_platform_admin() || (own && actor.has_role(Role::DataOfficer));
    if !allowed {
        return Err(ApiError::Forbidden(if own {
            "registering a resource needs the role data_officer".into()
        } else {
            format!(
                "a data officer of {} cannot register resources for {provider}",
                actor.department().code
            )
        }));
    }
    let request: NewResourceRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::BadRequest(format!("the resource declaration is not valid: {e}")))?;
    let spec = ResourceSpec::parse(request)?;
    let resource = service::create_resource(
        &state.store,
        state.clock.now(),
        &doer(&actor),
        &provider,
        &spec,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(resource)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    provider: Option<String>,
}

/// Resources in the catalog, newest first.
#[utoipa::path(get, path = "/api/v1/resources", tag = "catalog",
    params(("provider" = Option<String>, Query, description = "Only this department's")),
    responses((status = 200, description = "`{\"items\": [...], \"total\": N}`"), (status = 401, description = "Not signed in")))]
pub async fn list(
    State(state): State<AppState>,
    _actor: Actor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items = state.store.resources(q.provider.as_deref()).await?;
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

/// One resource's catalog entry.
#[utoipa::path(get, path = "/api/v1/resources/{code}", tag = "catalog",
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, description = "The resource"), (status = 404, description = "No such resource")))]
pub async fn show(
    State(state): State<AppState>,
    _actor: Actor,
    Path(code): Path<String>,
) -> Result<Json<Resource>, ApiError> {
    Ok(Json(state.store.resource(&code).await?))
}

fn require_provider(actor: &Actor, resource: &Resource) -> Result<(), ApiError> {
    if actor.department().code != resource.provider.code {
        return Err(ApiError::Forbidden(format!(
            "only {} ({}) delivers batches for {}",
            resource.provider.name, resource.provider.code, resource.code
        )));
    }
    actor.require_any_role(&[Role::DataOfficer], "delivering a batch")
}

/// Deliver a CSV batch (UTF-8 or GB18030, header row of item keys or names).
/// Checked row by row and loaded atomically; the answer is the batch report.
#[utoipa::path(post, path = "/api/v1/resources/{code}/batches", tag = "data",
    params(("code" = String, Path, description = "Resource code")),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "The batch report"),
              (status = 403, description = "Not a data officer of the provider"),
              (status = 413, description = "The file is larger than the upload limit"),
              (status = 415, description = "Not a CSV body"),
              (status = 422, description = "The file cannot be read as a batch (no header, missing required column)")))]
pub async fn upload_batch(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<rongshu_ingest::BatchReport>, ApiError> {
    let resource = state.store.resource(&code).await?;
    require_provider(&actor, &resource)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        None | Some("text/csv" | "application/csv" | "text/plain" | "application/octet-stream") => {
        }
        Some(other) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "a batch is sent as text/csv, not {other}"
            )));
        }
    }
    let upload = spool_upload(&state, body).await?;
    let result = service::ingest_csv_file(
        &state.store,
        state.clock.now(),
        &doer(&actor),
        &resource,
        upload.path(),
    )
    .await;
    drop(upload);
    Ok(Json(result?))
}

/// A spooled upload, removed from disk when dropped.
struct Spooled(std::path::PathBuf);

impl Spooled {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Write the request body to a file under the data directory, refusing it as
/// soon as it passes the upload limit.
async fn spool_upload(state: &AppState, body: Body) -> Result<Spooled, ApiError> {
    let dir = state.config.data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(ApiError::internal)?;
    let spooled = Spooled(dir.join(format!("{}.part", crate::auth::token::random_secret())));
    let mut file = tokio::fs::File::create(spooled.path())
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the upload was cut off: {e}")))?;
        size += chunk.len() as u64;
        if size > state.config.upload_limit {
            drain_briefly(&mut stream).await;
            return Err(ApiError::PayloadTooLarge(format!(
                "a batch file may be at most {} bytes",
                state.config.upload_limit
            )));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(spooled)
}

/// Read and drop a little more of a refused body, so that a client still
/// sending it gets the 413 instead of a reset connection.
async fn drain_briefly(stream: &mut axum::body::BodyDataStream) {
    const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
    let mut drained = 0;
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(5));
    tokio::pin!(deadline);
    while drained < DRAIN_LIMIT {
        tokio::select! {
            chunk = stream.next() => match chunk {
                Some(Ok(c)) => drained += c.len(),
                _ => break,
            },
            () = &mut deadline => break,
        }
    }
}

/// The resource's batches, newest first (its provider and the platform office).
#[utoipa::path(get, path = "/api/v1/resources/{code}/batches", tag = "data",
    params(("code" = String, Path, description = "Resource code")),
    responses((status = 200, description = "Batches"), (status = 403, description = "Not the provider")))]
pub async fn list_batches(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let resource = state.store.resource(&code).await?;
    if actor.department().code != resource.provider.code && !actor.is_platform_admin() {
        return Err(ApiError::Forbidden(
            "only the provider sees a resource's batches".into(),
        ));
    }
    let items = state.store.batches(&code, 100).await?;
    Ok(Json(json!({ "items": items })))
}
