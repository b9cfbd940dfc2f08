//! Grants (授权): what approvals made, as both sides see them, and their
//! revocation, which takes effect on the next read.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Actor, ActorKind};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::admin::doer;
use crate::routes::share_requests::REVIEWER_ROLES;
use crate::state::AppState;
use rongshu_store::Grant;

fn view(g: &Grant, now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut v = json!(g);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("active".into(), json!(g.is_active(now)));
    }
    v
}

/// Grants the caller's department holds or gave; an application sees its own;
/// the platform office sees all.
#[utoipa::path(get, path = "/api/v1/grants", tag = "sharing",
    responses((status = 200, description = "`{\"items\": [... with active], \"total\": N}`")))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let items: Vec<Value> = grants_for(&state, &actor)
        .await?
        .iter()
        .map(|g| view(g, now))
        .collect();
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

pub(crate) async fn grants_for(state: &AppState, actor: &Actor) -> Result<Vec<Grant>, ApiError> {
    let scope = (!actor.is_platform_admin()).then(|| actor.department().code.clone());
    let mut grants = state.store.grants(scope.as_deref()).await?;
    if let ActorKind::Application(app) = &actor.kind {
        grants.retain(|g| g.application_id == app.id);
    }
    Ok(grants)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    #[serde(default)]
    pub reason: String,
}

/// Revoke a grant, with a reason (the provider's reviewer or department admin,
/// or the platform office). Reads under it stop at once.
#[utoipa::path(post, path = "/api/v1/grants/{id}/revoke", tag = "sharing", request_body = RevokeRequest,
    params(("id" = i64, Path, description = "Grant id")),
    responses((status = 200, description = "The revoked grant"),
              (status = 403, description = "Not the provider's reviewer or the office"),
              (status = 404, description = "No such grant"),
              (status = 409, description = "Revoked already"),
              (status = 422, description = "No reason given")))]
pub async fn revoke(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<RevokeRequest>,
) -> Result<Json<Value>, ApiError> {
    let g = revoke_grant(&state, &actor, id, &req.reason).await?;
    Ok(Json(view(&g, state.clock.now())))
}

pub(crate) async fn revoke_grant(
    state: &AppState,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<Grant, ApiError> {
    let grant = state.store.grant(id).await?;
    let dept = &actor.department().code;
    if &grant.provider.code != dept && &grant.consumer.code != dept && !actor.is_platform_admin() {
        return Err(ApiError::NotFound(format!("grant {id} does not exist")));
    }
    let allowed = actor.is_platform_admin()
        || (&grant.provider.code == dept && REVIEWER_ROLES.iter().any(|r| actor.has_role(*r)));
    if !allowed {
        return Err(ApiError::Forbidden(
            "a grant is revoked by the provider's reviewer or department admin, or the platform office".into(),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(ApiError::Unprocessable(
            "reason is required (at most 2000 characters)".into(),
        ));
    }
    let now = state.clock.now();
    let audit = doer(actor).record(
        now,
        "grant.revoke",
        None,
        json!({ "resource": grant.resource.code, "application": grant.application, "reason": reason }),
    );
    Ok(state
        .store
        .revoke_grant(id, &actor.label(), reason, now, audit)
        .await?)
}
