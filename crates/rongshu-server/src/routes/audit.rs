//! The audit log, as the platform office reads it.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;
use rongshu_core::account::Role;

#[derive(Deserialize)]
pub struct EventsQuery {
    action: Option<String>,
    limit: Option<i64>,
}

/// The newest audit events (platform office only).
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit",
    params(("action" = Option<String>, Query, description = "Only events of this action, e.g. data.read"),
           ("limit" = Option<i64>, Query, description = "At most this many (1 to 1000, default 100)")),
    responses((status = 200, description = "Events, newest first"), (status = 403, description = "Not the platform office")))]
pub async fn events(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    actor.require_any_role(&[Role::PlatformAdmin], "reading the audit log")?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let items = state.store.audit_events(q.action.as_deref(), limit).await?;
    Ok(Json(json!({ "items": items })))
}
