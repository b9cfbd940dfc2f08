//! Timeliness (更新及时性): from each resource's declared update cycle and its
//! last loaded batch, when the next batch is due and who is overdue.

use axum::Json;
use axum::extract::State;
use chrono::DateTime;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct TimelinessQuery {
    department: Option<String>,
    /// Only the overdue ones.
    #[serde(default)]
    overdue: bool,
}

/// Published resources with their last batch, next due date and whether they
/// are overdue. A department sees its own; the platform office sees all (or
/// one department's with `department=`).
#[utoipa::path(get, path = "/api/v1/timeliness", tag = "data",
    params(("department" = Option<String>, Query, description = "One department (platform office only)"),
           ("overdue" = Option<bool>, Query, description = "Only overdue resources")),
    responses((status = 200, description = "`{\"items\": [{\"code\", \"name\", \"provider\", \"update_cycle\", \"last_batch_at\", \"due_at\", \"overdue\", \"days_overdue\"}]}`")))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<TimelinessQuery>,
) -> Result<Json<Value>, ApiError> {
    let scope = if actor.is_platform_admin() {
        q.department.clone()
    } else {
        Some(actor.department().code.clone())
    };
    let now = state.clock.now();
    let mut items = Vec::new();
    for (code, last) in state.store.last_loads(scope.as_deref()).await? {
        let resource = state.store.resource(&code).await?;
        let cycle = resource.spec.update_cycle;
        // A resource that never delivered is due one cycle after publication.
        let since = match last.as_deref().map(DateTime::parse_from_rfc3339) {
            Some(Ok(t)) => t.with_timezone(&chrono::Utc),
            _ => resource.updated_at,
        };
        let due = cycle.next_due(since);
        let overdue = due < now;
        if q.overdue && !overdue {
            continue;
        }
        items.push(json!({
            "code": code,
            "name": resource.spec.name,
            "provider": { "code": resource.provider.code, "name": resource.provider.name },
            "update_cycle": cycle.as_str(),
            "last_batch_at": last,
            "due_at": due,
            "overdue": overdue,
            "days_overdue": if overdue { (now - due).num_days() } else { 0 },
        }));
    }
    Ok(Json(json!({ "items": items })))
}
