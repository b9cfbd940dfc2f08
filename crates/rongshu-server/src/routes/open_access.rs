//! The staff side of the open API: a provider's reviewers decide requests to
//! use their conditional releases (谁提供、谁审核), and the platform office sees
//! the registered users and revokes a key that is abused.

use axum::Json;
use axum::extract::{Path, State};
use rongshu_core::account::Role;
use rongshu_store::{Release, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::admin::doer;
use crate::routes::open_accounts::{key_view, request_view, user_view};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Required to reject: the requester reads it.
    pub reason: Option<String>,
}

/// A release of the actor's own department (the platform office sees all).
async fn provided(state: &AppState, actor: &Actor, id: i64) -> Result<Release, ApiError> {
    let release = state.store.release(id).await?;
    if actor.department().code != release.provider.code && !actor.is_platform_admin() {
        return Err(ApiError::Forbidden(format!(
            "release {id} belongs to {}: only its people see who asked for it",
            release.provider.name
        )));
    }
    Ok(release)
}

/// Requests to use a release, oldest first.
#[utoipa::path(get, path = "/api/v1/releases/{id}/access-requests", tag = "open data",
    params(("id" = i64, Path, description = "Release id")),
    responses((status = 200, description = "`{\"items\": [request]}`"),
              (status = 403, description = "Not of the provider or the platform office")))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let release = provided(&state, &actor, id).await?;
    let items: Vec<Value> = state
        .store
        .open_access_requests(release.id)
        .await?
        .iter()
        .map(request_view)
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn decide(
    state: &AppState,
    actor: &Actor,
    id: i64,
    request_id: i64,
    approve: bool,
    body: DecisionBody,
) -> Result<Json<Value>, ApiError> {
    actor.require_any_role(&[Role::Reviewer], "deciding a request to use open data")?;
    let release = provided(state, actor, id).await?;
    if actor.department().code != release.provider.code {
        return Err(ApiError::Forbidden(
            "only the provider's reviewers decide who uses its data".into(),
        ));
    }
    let request = match state.store.open_access_request(request_id).await {
        Ok(r) if r.release_id == release.id => r,
        Ok(_) | Err(StoreError::NotFound(_)) => {
            return Err(ApiError::NotFound(format!(
                "release {id} has no request {request_id}"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let reason = body
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if !approve && reason.is_none() {
        return Err(ApiError::BadRequest(
            "reason: say why the request is rejected".into(),
        ));
    }
    let by = actor.label();
    let action = if approve {
        "open.access_approve"
    } else {
        "open.access_reject"
    };
    let audit = doer(actor).record(
        state.clock.now(),
        action,
        None,
        json!({"release": release.id, "user": request.user.id}),
    );
    let decided = state
        .store
        .decide_open_access(request.id, approve, &by, reason, state.clock.now(), &audit)
        .await?;
    Ok(Json(request_view(&decided)))
}

/// Approve a request: the user's keys may read the release from now on.
#[utoipa::path(post, path = "/api/v1/releases/{id}/access-requests/{request}/approve", tag = "open data",
    request_body = DecisionBody,
    params(("id" = i64, Path, description = "Release id"), ("request" = i64, Path, description = "Request id")),
    responses((status = 200, description = "The request, approved, with the reviewer"),
              (status = 403, description = "Not a reviewer of the provider"),
              (status = 409, description = "Decided already")))]
pub async fn approve(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, request)): Path<(i64, i64)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // The body is optional: an approval needs no reason, but may give one.
    let body: DecisionBody = if body.iter().all(u8::is_ascii_whitespace) {
        DecisionBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the JSON body is not valid: {e}")))?
    };
    decide(&state, &actor, id, request, true, body).await
}

/// Reject a request, with a reason the user reads.
#[utoipa::path(post, path = "/api/v1/releases/{id}/access-requests/{request}/reject", tag = "open data",
    request_body = DecisionBody,
    params(("id" = i64, Path, description = "Release id"), ("request" = i64, Path, description = "Request id")),
    responses((status = 200, description = "The request, rejected"),
              (status = 400, description = "No reason"),
              (status = 403, description = "Not a reviewer of the provider"),
              (status = 409, description = "Decided already")))]
pub async fn reject(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, request)): Path<(i64, i64)>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    decide(&state, &actor, id, request, false, body).await
}

/// The portal's registered users, newest first, with their keys.
#[utoipa::path(get, path = "/api/v1/open-users", tag = "open data",
    responses((status = 200, description = "`{\"items\": [{user, \"keys\": [...]}]}`"),
              (status = 403, description = "Not the platform office")))]
pub async fn users(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, ApiError> {
    if !actor.is_platform_admin() {
        return Err(ApiError::Forbidden(
            "the platform office manages the portal's users".into(),
        ));
    }
    let mut keys_of: std::collections::HashMap<i64, Vec<Value>> = std::collections::HashMap::new();
    for key in state.store.all_open_keys().await? {
        keys_of.entry(key.user_id).or_default().push(key_view(&key));
    }
    let mut items = Vec::new();
    for user in state.store.open_users().await? {
        let keys = keys_of.remove(&user.id).unwrap_or_default();
        let mut v = user_view(&user);
        if let Some(map) = v.as_object_mut() {
            map.insert("keys".into(), Value::Array(keys));
        }
        items.push(v);
    }
    Ok(Json(json!({ "items": items })))
}

/// Revoke a portal user's key (the platform office, e.g. for abuse).
#[utoipa::path(post, path = "/api/v1/open-keys/{id}/revoke", tag = "open data",
    params(("id" = i64, Path, description = "Key id")),
    responses((status = 200, description = "The key, revoked"),
              (status = 403, description = "Not the platform office"),
              (status = 404, description = "No such key"),
              (status = 409, description = "Revoked already")))]
pub async fn revoke_key(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    if !actor.is_platform_admin() {
        return Err(ApiError::Forbidden(
            "the platform office revokes the portal's keys".into(),
        ));
    }
    let now = state.clock.now();
    let audit = doer(&actor).record(now, "open.key_revoke", None, json!({}));
    let key = state
        .store
        .revoke_open_key(id, &actor.label(), now, &audit)
        .await?;
    Ok(Json(key_view(&key)))
}
