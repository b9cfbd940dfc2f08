//! The working-day calendar the platform office keeps: holidays on weekdays
//! and make-up working days (调休) on weekends. Share-request deadlines are
//! counted in it.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::admin::doer;
use crate::state::AppState;
use rongshu_core::account::Role;
use rongshu_core::sharing::{HolidayEntry, WorkingCalendar};

/// Far more than any real list (about 30 entries a year).
const MAX_ENTRIES: usize = 2000;

/// The calendar's exceptions (any signed-in caller).
#[utoipa::path(get, path = "/api/v1/holidays", tag = "sharing",
    responses((status = 200, description = "`{\"items\": [{\"date\", \"kind\": \"holiday|workday\", \"name\"}]}`")))]
pub async fn list(State(state): State<AppState>, _actor: Actor) -> Result<Json<Value>, ApiError> {
    let items = state.store.holidays().await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<HolidayEntry>,
}

/// Replace the whole list (platform office). Open requests' due dates are
/// counted again.
#[utoipa::path(put, path = "/api/v1/holidays", tag = "sharing", request_body = HolidayList,
    responses((status = 200, description = "The list as stored"),
              (status = 403, description = "Not the platform office"),
              (status = 422, description = "A date listed twice, or a name too long")))]
pub async fn replace(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(list): ApiJson<HolidayList>,
) -> Result<Json<Value>, ApiError> {
    actor.require_any_role(&[Role::PlatformAdmin], "keeping the holiday calendar")?;
    if list.items.len() > MAX_ENTRIES {
        return Err(ApiError::Unprocessable(format!(
            "at most {MAX_ENTRIES} entries"
        )));
    }
    WorkingCalendar::new(&list.items).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let audit = doer(&actor).record(
        state.clock.now(),
        "holidays.replace",
        None,
        json!({ "entries": list.items.len() }),
    );
    state.store.replace_holidays(&list.items, audit).await?;
    let items = state.store.holidays().await?;
    Ok(Json(json!({ "items": items })))
}
