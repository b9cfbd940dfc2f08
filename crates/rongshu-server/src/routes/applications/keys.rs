//! An application's keys: issued with the secret shown once (only its hash
//! and a short prefix are kept), listed by prefix, label, creation, last use,
//! expiry and state, rotated with a grace period, revoked at once.
//!
//! Rotation issues a new key and keeps the old one working for a grace period
//! (24 hours unless the request says otherwise, from 0 to 168 hours), so the
//! system can switch over without a gap; then the old key stops, as an
//! expired one. Revocation stops a key for the very next request.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Duration;
use rongshu_core::account::Role;
use rongshu_store::{ApplicationKey, NewToken, TokenOwner};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AppInHand, Right, application_in_hand};
use crate::auth::{Actor, token};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::admin::doer;
use crate::service::{self, IssuedToken};
use crate::state::AppState;

/// The longest grace a rotation may give the old key: a week.
const MAX_GRACE_HOURS: i64 = 7 * 24;

/// A key as its list shows it, with its state at the moment of asking.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KeyView {
    #[serde(flatten)]
    pub key: ApplicationKey,
    pub state: &'static str,
}

pub(crate) async fn key_views(state: &AppState, app_id: i64) -> Result<Vec<KeyView>, ApiError> {
    let now = state.clock.now();
    Ok(state
        .store
        .application_keys(app_id)
        .await?
        .into_iter()
        .map(|key| KeyView {
            state: key.state(now).as_str(),
            key,
        })
        .collect())
}

/// An application's keys, newest first.
#[utoipa::path(get, path = "/api/v1/applications/{id}/keys", tag = "admin",
    params(("id" = i64, Path, description = "The application's id")),
    responses((status = 200, description = "`{\"items\": [{id, label, prefix, created_at, last_used_at, expires_at, state: active|rotating|expired|revoked, revoked_at, rotated_at, replaced_by}]}`"),
              (status = 404, description = "No such application the caller may see")))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    application_in_hand(&state, &actor, id).await?;
    let items = key_views(&state, id).await?;
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    #[serde(default)]
    pub label: String,
    /// Days until it stops working; none: until revoked.
    pub expires_days: Option<i64>,
}

fn issued_json(issued: &IssuedToken) -> Value {
    json!({
        "id": issued.id,
        "key": issued.token,
        "prefix": issued.prefix,
        "label": issued.label,
        "expires_at": issued.expires_at,
        "note": "the key is shown this once; only its prefix can be seen later",
    })
}

/// A new key for the application, shown once (its department admin).
#[utoipa::path(post, path = "/api/v1/applications/{id}/keys", tag = "admin", request_body = NewKeyRequest,
    params(("id" = i64, Path, description = "The application's id")),
    responses((status = 201, description = "`{id, key (shown this once), prefix, label, expires_at}`"),
              (status = 403, description = "Not the department's admin"),
              (status = 404, description = "No such application")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: NewKeyRequest = optional_json(&body)?;
    let issued = issue(&state, &actor, id, &req).await?;
    Ok((StatusCode::CREATED, Json(issued_json(&issued))))
}

/// A body that may be left out altogether.
fn optional_json<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the JSON body is not valid: {e}")))
}

pub(crate) async fn issue(
    state: &AppState,
    actor: &Actor,
    id: i64,
    req: &NewKeyRequest,
) -> Result<IssuedToken, ApiError> {
    let hand = application_in_hand(state, actor, id).await?;
    hand.require(Right::Manage, "issuing an application key")?;
    service::issue_token(
        &state.store,
        state.clock.now(),
        &doer(actor),
        &TokenOwner::Application(hand.app),
        &req.label,
        req.expires_days,
    )
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old key keeps working, 0 to 168 hours (default 24).
    pub grace_hours: Option<i64>,
    /// The new key's label; the old one's when left out.
    pub label: Option<String>,
    /// The new key's lifetime in days; none: until revoked.
    pub expires_days: Option<i64>,
}

/// Replace a key: a new key is issued (shown once) and the old one keeps
/// working for the grace period, then stops (its department admin).
#[utoipa::path(post, path = "/api/v1/applications/{id}/keys/{key_id}/rotate", tag = "admin", request_body = RotateRequest,
    params(("id" = i64, Path, description = "The application's id"), ("key_id" = i64, Path, description = "The key to replace")),
    responses((status = 201, description = "The new key `{id, key (shown this once), prefix, label, expires_at, replaces: {id, works_until}}`"),
              (status = 403, description = "Not the department's admin"),
              (status = 404, description = "No such application or key"),
              (status = 409, description = "The key is revoked, expired or rotated already")))]
pub async fn rotate(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, key_id)): Path<(i64, i64)>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: RotateRequest = optional_json(&body)?;
    let rotated = rotate_key(&state, &actor, id, key_id, &req).await?;
    let mut v = issued_json(&rotated.issued);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "replaces".into(),
            json!({ "id": key_id, "works_until": rotated.old_works_until }),
        );
    }
    Ok((StatusCode::CREATED, Json(v)))
}

pub(crate) struct Rotated {
    pub issued: IssuedToken,
    pub old_works_until: Option<chrono::DateTime<chrono::Utc>>,
}

pub(crate) async fn rotate_key(
    state: &AppState,
    actor: &Actor,
    id: i64,
    key_id: i64,
    req: &RotateRequest,
) -> Result<Rotated, ApiError> {
    let hand = application_in_hand(state, actor, id).await?;
    hand.require(Right::Manage, "rotating an application key")?;
    let old = state.store.application_key(id, key_id).await?;
    let grace = match req.grace_hours {
        None => state.config.key_rotation_grace,
        Some(h) if (0..=MAX_GRACE_HOURS).contains(&h) => Duration::hours(h),
        Some(_) => {
            return Err(ApiError::Unprocessable(format!(
                "grace_hours: from 0 to {MAX_GRACE_HOURS}"
            )));
        }
    };
    let now = state.clock.now();
    let label = service::token_label(req.label.as_deref().unwrap_or(&old.label))?;
    let expires_at = service::expiry(now, req.expires_days)?;
    let plain = token::generate();
    let prefix = token::prefix(&plain);
    let audit = doer(actor).record(
        now,
        "token.rotate",
        Some(hand.target()),
        json!({ "key": key_id, "grace_until": now + grace, "label": label }),
    );
    let owner = TokenOwner::Application(hand.app);
    let new_id = state
        .store
        .rotate_application_key(
            key_id,
            NewToken {
                hash: &token::hash(&plain),
                prefix: &prefix,
                owner: &owner,
                label: &label,
                created_at: now,
                expires_at,
            },
            now + grace,
            audit,
        )
        .await?;
    let old = state.store.application_key(id, key_id).await?;
    Ok(Rotated {
        issued: IssuedToken {
            id: new_id,
            token: plain,
            prefix,
            label,
            expires_at,
        },
        old_works_until: old.expires_at,
    })
}

/// Stop a key at once (its department admin, or the platform office).
#[utoipa::path(post, path = "/api/v1/applications/{id}/keys/{key_id}/revoke", tag = "admin",
    params(("id" = i64, Path, description = "The application's id"), ("key_id" = i64, Path, description = "The key to stop")),
    responses((status = 200, description = "The key, revoked"),
              (status = 403, description = "Not its department admin or the office"),
              (status = 404, description = "No such application or key"),
              (status = 409, description = "Revoked already")))]
pub async fn revoke(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, key_id)): Path<(i64, i64)>,
) -> Result<Json<Value>, ApiError> {
    let key = revoke_key(&state, &actor, id, key_id).await?;
    Ok(Json(json!(key)))
}

pub(crate) async fn revoke_key(
    state: &AppState,
    actor: &Actor,
    id: i64,
    key_id: i64,
) -> Result<KeyView, ApiError> {
    let hand: AppInHand = application_in_hand(state, actor, id).await?;
    hand.require(Right::Stop, "revoking an application key")?;
    let key = state.store.application_key(id, key_id).await?;
    if key.revoked_at.is_some() {
        return Err(ApiError::Conflict(format!(
            "key {key_id} was revoked already"
        )));
    }
    let now = state.clock.now();
    let audit = doer(actor).record(
        now,
        "token.revoke",
        Some(hand.target()),
        json!({ "key": key_id }),
    );
    state.store.revoke_token(key_id, now, audit).await?;
    let key = state.store.application_key(id, key_id).await?;
    Ok(KeyView {
        state: key.state(now).as_str(),
        key,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NamedKeyRequest {
    expires_days: Option<i64>,
}

/// A new key for one of the department's applications named in the path,
/// shown once (department admin). The older form of
/// `POST /api/v1/applications/{id}/keys`, kept for scripts that name the
/// application.
#[utoipa::path(post, path = "/api/v1/applications/{name}/tokens", tag = "admin", request_body = NamedKeyRequest,
    params(("name" = String, Path, description = "The application's name")),
    responses((status = 201, description = "`{id, token (shown once), expires_at}`"), (status = 403, description = "Not a department admin"),
              (status = 404, description = "No such application in the caller's department")))]
pub async fn create_by_name(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<NamedKeyRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    actor.require_any_role(&[Role::DeptAdmin], "issuing an application key")?;
    let app = state
        .store
        .application(&actor.department().code, &name)
        .await?;
    let issued = issue(
        &state,
        &actor,
        app.id,
        &NewKeyRequest {
            label: "application key".into(),
            expires_days: req.expires_days,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": issued.id, "token": issued.token, "prefix": issued.prefix,
                     "expires_at": issued.expires_at }),
        ),
    ))
}
