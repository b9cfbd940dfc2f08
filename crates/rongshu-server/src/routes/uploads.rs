//! Resumable batch uploads: open one, send the file in chunks (in order, each
//! resendable), ask how far it got after a lost connection, and commit it as a
//! batch exactly as `POST …/batches` would load it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rongshu_ingest::BatchFormat;
use rongshu_store::BatchMode;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::admin::doer;
use crate::routes::resources::{batch_format, deliverable_resource, drain_briefly, parse_mode};
use crate::service;
use crate::state::AppState;
use crate::uploads::{
    Appended, ChunkRange, NewUpload, Sha256Hex, Upload, UploadError, UploadId, format_name,
    parse_format,
};

/// Bytes received so far, on every answer about an upload (HEAD included).
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");

fn view(upload: &Upload) -> serde_json::Value {
    json!({
        "upload_id": upload.id.as_str(),
        "resource": upload.resource,
        "mode": upload.mode,
        "format": upload.format.map(format_name),
        "size": upload.size,
        "sha256": upload.sha256.as_ref().map(Sha256Hex::as_str),
        "received": upload.received,
        "state": upload.state.as_str(),
        "batch_id": upload.batch_id,
        "created_at": upload.created_at,
        "expires_at": upload.expires_at(),
    })
}

fn with_offset(status: StatusCode, body: serde_json::Value, received: u64) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(UPLOAD_OFFSET, HeaderValue::from(received));
    response
}

/// The caller's own upload of this resource. Anyone else's is answered as not
/// existing, so upload ids reveal nothing.
async fn own_upload(
    state: &AppState,
    actor: &Actor,
    code: &str,
    id: &str,
) -> Result<Upload, ApiError> {
    let missing = || ApiError::NotFound(format!("upload {id} does not exist"));
    let id = UploadId::parse(id).ok_or_else(missing)?;
    let upload = match state.uploads.get(&id, state.clock.now()).await {
        Err(UploadError::NotFound(_)) => return Err(missing()),
        other => other?,
    };
    let mine = upload.resource == code
        && upload.owner == actor.label()
        && upload.department == actor.department().code;
    if mine { Ok(upload) } else { Err(missing()) }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenUpload {
    /// csv, json or xlsx (or a media type); else the first chunk's Content-Type
    /// decides, as for `POST …/batches`.
    format: Option<String>,
    /// upsert (default), replace or delete.
    mode: Option<String>,
    /// Total bytes; a commit checks it.
    size: Option<u64>,
    /// Hex SHA-256 of the whole file; a commit checks it.
    sha256: Option<String>,
}

/// Open a resumable upload of a batch file (the provider's data officer, as
/// for `POST …/batches`). Send the file with `PUT …/uploads/{id}` in chunks,
/// then `POST …/uploads/{id}/commit`. An upload nobody writes to for 24 hours
/// is removed.
#[utoipa::path(post, path = "/api/v1/resources/{code}/uploads", tag = "data",
    params(("code" = String, Path, description = "Resource code")),
    request_body = OpenUpload,
    responses((status = 201, description = "`{\"upload_id\", \"received\": 0, \"expires_at\", …}`; Location names the upload"),
              (status = 400, description = "Unknown mode or format, or a malformed sha256"),
              (status = 403, description = "Not a data officer of the provider"),
              (status = 409, description = "The resource is retired"),
              (status = 413, description = "The declared size is larger than the upload limit")))]
pub async fn open(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<OpenUpload>,
) -> Result<Response, ApiError> {
    let mode = match req.mode.as_deref() {
        Some(m) => parse_mode(m)?,
        None => BatchMode::Upsert,
    };
    let format = req
        .format
        .as_deref()
        .map(|f| {
            parse_format(f).ok_or_else(|| {
                ApiError::BadRequest(format!("format: \"{f}\" is not csv, json or xlsx"))
            })
        })
        .transpose()?;
    let sha256 = req
        .sha256
        .as_deref()
        .map(|d| {
            Sha256Hex::parse(d).ok_or_else(|| {
                ApiError::BadRequest("sha256 must be 64 hex digits (the file's SHA-256)".into())
            })
        })
        .transpose()?;
    let limit = state.config.upload_limit;
    if req.size.is_some_and(|s| s > limit) {
        return Err(ApiError::PayloadTooLarge(format!(
            "a batch file may be at most {limit} bytes"
        )));
    }
    let resource = deliverable_resource(&state, &actor, &code).await?;
    let new = NewUpload {
        resource: resource.code.clone(),
        owner: actor.label(),
        department: actor.department().code.clone(),
        mode,
        format,
        size: req.size,
        sha256,
    };
    let upload = state.uploads.create(new, state.clock.now()).await?;
    tracing::info!(upload = %upload.id, resource = %resource.code, "upload opened");
    let location = format!("/api/v1/resources/{}/uploads/{}", resource.code, upload.id);
    let mut response = with_offset(StatusCode::CREATED, view(&upload), 0);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// How far an upload got: `received` is where the next chunk starts. HEAD
/// answers with the `Upload-Offset` header alone.
#[utoipa::path(get, path = "/api/v1/resources/{code}/uploads/{id}", tag = "data",
    params(("code" = String, Path, description = "Resource code"), ("id" = String, Path, description = "Upload id")),
    responses((status = 200, description = "`{\"received\", \"size\", \"state\": \"open\"|\"committing\"|\"committed\", \"batch_id\", \"expires_at\", …}`"),
              (status = 404, description = "No such upload of the caller's")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let upload = own_upload(&state, &actor, &code, &id).await?;
    Ok(with_offset(StatusCode::OK, view(&upload), upload.received))
}

/// Why a chunk was refused: an offset conflict carries the offset to resume
/// from in the body, not only in its wording.
enum Refusal {
    Offset { start: u64, received: u64 },
    Api(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

impl From<UploadError> for Refusal {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::OffsetMismatch { start, received } => Refusal::Offset { start, received },
            other => Refusal::Api(other.into()),
        }
    }
}

/// Send one chunk: `Content-Range: bytes START-END/TOTAL` (TOTAL may be `*`),
/// the bytes as the body. START must be the bytes received so far; a chunk
/// wholly below that is a resend and is acknowledged without writing.
#[utoipa::path(put, path = "/api/v1/resources/{code}/uploads/{id}", tag = "data",
    params(("code" = String, Path, description = "Resource code"), ("id" = String, Path, description = "Upload id"),
           ("Content-Range" = String, Header, description = "bytes START-END/TOTAL, END inclusive, TOTAL a number or *")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "`{\"received\": N}`"),
              (status = 400, description = "No or a malformed Content-Range, a body longer or shorter than its range, or a total that disagrees with the size"),
              (status = 404, description = "No such upload of the caller's"),
              (status = 409, description = "A gap or an overlap: `received` in the body says where to resume; or the upload is committed or busy"),
              (status = 413, description = "Past the upload limit"),
              (status = 415, description = "The first chunk's Content-Type is not a batch format")))]
pub async fn put_chunk(
    State(state): State<AppState>,
    actor: Actor,
    Path((code, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut stream = body.into_data_stream();
    let result = write_chunk(&state, &actor, &code, &id, &headers, &mut stream).await;
    if result.is_err() {
        drain_briefly(&mut stream).await;
    }
    match result {
        Ok(appended) => Ok(with_offset(
            StatusCode::OK,
            json!({ "received": appended.received }),
            appended.received,
        )),
        Err(Refusal::Offset { start, received }) => Ok(offset_conflict(start, received)),
        Err(Refusal::Api(e)) => Err(e),
    }
}

async fn write_chunk(
    state: &AppState,
    actor: &Actor,
    code: &str,
    id: &str,
    headers: &HeaderMap,
    stream: &mut axum::body::BodyDataStream,
) -> Result<Appended, Refusal> {
    let upload = own_upload(state, actor, code, id).await?;
    let range = headers
        .get(header::CONTENT_RANGE)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "a chunk needs a Content-Range header: bytes START-END/TOTAL".into(),
            )
        })?
        .to_str()
        .map_err(|_| ApiError::BadRequest("Content-Range is not ASCII".into()))?;
    let range = ChunkRange::parse(range).map_err(ApiError::BadRequest)?;
    let format: Option<BatchFormat> = match upload.format {
        Some(_) => None,
        None => Some(batch_format(
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        )?),
    };
    let claim = state.uploads.claim(&upload.id)?;
    let appended = state
        .uploads
        .append(
            &claim,
            range,
            format,
            stream,
            state.config.upload_limit,
            state.clock.now(),
        )
        .await?;
    Ok(appended)
}

fn offset_conflict(start: u64, received: u64) -> Response {
    let body = json!({
        "type": "/problems/upload-offset",
        "title": "The chunk does not continue the upload",
        "status": 409,
        "detail": UploadError::OffsetMismatch { start, received }.to_string(),
        "received": received,
    });
    let mut response = with_offset(StatusCode::CONFLICT, body, received);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// Load the uploaded file as one batch. A declared size or SHA-256 that does
/// not match is refused (422) and the upload stays open; otherwise the answer
/// is the batch report, as from `POST …/batches`. An upload loads only once.
#[utoipa::path(post, path = "/api/v1/resources/{code}/uploads/{id}/commit", tag = "data",
    params(("code" = String, Path, description = "Resource code"), ("id" = String, Path, description = "Upload id")),
    responses((status = 200, description = "The batch report"),
              (status = 403, description = "Not a data officer of the provider"),
              (status = 404, description = "No such upload of the caller's"),
              (status = 409, description = "Already committed, being committed, or the resource is retired"),
              (status = 422, description = "Size or SHA-256 differ from the declared ones, or the file cannot be read as a batch")))]
pub async fn commit(
    State(state): State<AppState>,
    actor: Actor,
    Path((code, id)): Path<(String, String)>,
) -> Result<Json<service::BatchOutcome>, ApiError> {
    let upload = own_upload(&state, &actor, &code, &id).await?;
    let resource = deliverable_resource(&state, &actor, &code).await?;
    let claim = state.uploads.claim(&upload.id)?;
    let now = state.clock.now();
    let upload = state.uploads.begin_commit(&claim, now).await?;
    let result = service::ingest_file(
        &state.store,
        now,
        &doer(&actor),
        &resource,
        &state.uploads.part_path(&upload.id),
        upload.format.unwrap_or(BatchFormat::Csv),
        upload.mode,
    )
    .await;
    match result {
        Ok(outcome) => {
            state.deliveries.notify_one();
            crate::opendata::rescan::after_load(&state, &resource.code).await;
            let batch = &outcome.report.batch_id;
            if let Err(e) = state
                .uploads
                .finish_commit(&claim, batch, state.clock.now())
                .await
            {
                // The batch is loaded: answer with it, or a retry would load it again.
                tracing::error!(upload = %upload.id, batch = %batch, error = %e, "the batch loaded but the upload could not be marked committed");
            }
            Ok(Json(outcome))
        }
        Err(e) => {
            if let Err(e) = state.uploads.abort_commit(&claim, state.clock.now()).await {
                tracing::error!(upload = %upload.id, error = %e, "a failed commit could not reopen its upload");
            }
            Err(e)
        }
    }
}

/// Abandon an upload: what was received is deleted.
#[utoipa::path(delete, path = "/api/v1/resources/{code}/uploads/{id}", tag = "data",
    params(("code" = String, Path, description = "Resource code"), ("id" = String, Path, description = "Upload id")),
    responses((status = 204, description = "Gone"),
              (status = 404, description = "No such upload of the caller's"),
              (status = 409, description = "A request is writing to or committing it")))]
pub async fn abandon(
    State(state): State<AppState>,
    actor: Actor,
    Path((code, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let upload = own_upload(&state, &actor, &code, &id).await?;
    let claim = state.uploads.claim(&upload.id)?;
    state.uploads.remove(&claim).await?;
    Ok(StatusCode::NO_CONTENT)
}
