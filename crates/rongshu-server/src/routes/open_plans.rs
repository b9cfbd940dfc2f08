//! `/api/v1/open-plans`: each department's annual open-data plan, and the
//! progress against it that the portal shows. Anyone reads the plans; a
//! department's data officers and admins add and remove its entries.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use rongshu_core::account::Role;
use rongshu_core::opendata::{PlanProgress, PlanStatus, check_entry};
use rongshu_core::sharing::local_date;
use rongshu_store::{NewPlanEntry, PlanEntry};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::admin::doer;
use crate::state::AppState;

const PLANNERS: &[Role] = &[Role::DataOfficer, Role::DeptAdmin];

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanEntryBody {
    pub year: i32,
    pub title: String,
    /// The catalog code of the department's resource to open.
    pub resource: String,
    /// The day it will be opened by, `YYYY-MM-DD`, within the year.
    pub due: String,
}

#[derive(Debug, Deserialize)]
pub struct PlanParams {
    year: Option<i32>,
    department: Option<String>,
}

/// One department's plan for a year, with each entry's status on `today`.
pub struct DepartmentPlan {
    pub code: String,
    pub name: String,
    pub progress: PlanProgress,
    pub entries: Vec<(PlanEntry, PlanStatus)>,
}

/// A year's plans grouped by department, as the API and the portal show them.
pub async fn plans(
    state: &AppState,
    year: i32,
    department: Option<&str>,
) -> Result<Vec<DepartmentPlan>, ApiError> {
    let today = local_date(state.clock.now());
    let mut by_department: BTreeMap<String, DepartmentPlan> = BTreeMap::new();
    for entry in state.store.plan_entries(year, department).await? {
        let published = entry.first_published.map(local_date);
        let status = PlanStatus::of(entry.due, published, today);
        by_department
            .entry(entry.department_code.clone())
            .or_insert_with(|| DepartmentPlan {
                code: entry.department_code.clone(),
                name: entry.department_name.clone(),
                progress: PlanProgress::default(),
                entries: Vec::new(),
            })
            .entries
            .push((entry, status));
    }
    Ok(by_department
        .into_values()
        .map(|mut d| {
            d.progress = PlanProgress::of(d.entries.iter().map(|(_, s)| *s));
            d
        })
        .collect())
}

/// The year a plan view shows: the one asked for, or this year.
pub fn year_or_now(state: &AppState, year: Option<i32>) -> i32 {
    year.unwrap_or_else(|| chrono::Datelike::year(&local_date(state.clock.now())))
}

fn entry_view(entry: &PlanEntry, status: PlanStatus) -> Value {
    json!({
        "id": entry.id,
        "title": entry.title,
        "resource": entry.resource,
        "due": entry.due,
        "status": status,
        "published_on": entry.first_published.map(local_date),
        "created_by": entry.created_by,
    })
}

/// Every department's plan for a year with its progress (public).
#[utoipa::path(get, path = "/api/v1/open-plans", tag = "open data",
    params(("year" = Option<i32>, Query, description = "The plan year (default: this year)"),
           ("department" = Option<String>, Query, description = "One department's code")),
    responses((status = 200, description = "`{\"year\", \"departments\": [{\"code\", \"name\", \"progress\": {\"planned\", \"done\", \"on_time\", \"overdue\", \"percent_done\"}, \"entries\": [{\"id\", \"title\", \"resource\", \"due\", \"status\": on_time|late|pending|overdue, \"published_on\"}]}]}`")))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PlanParams>,
) -> Result<Json<Value>, ApiError> {
    let year = year_or_now(&state, params.year);
    let departments: Vec<Value> = plans(&state, year, params.department.as_deref())
        .await?
        .iter()
        .map(|d| {
            json!({
                "code": d.code,
                "name": d.name,
                "progress": {
                    "planned": d.progress.planned,
                    "done": d.progress.done,
                    "on_time": d.progress.on_time,
                    "overdue": d.progress.overdue,
                    "percent_done": d.progress.percent_done(),
                },
                "entries": d.entries.iter().map(|(e, s)| entry_view(e, *s)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "year": year, "departments": departments })))
}

/// Add an entry to the caller's department's plan.
#[utoipa::path(post, path = "/api/v1/open-plans", tag = "open data", request_body = PlanEntryBody,
    responses((status = 201, description = "The entry with its status"),
              (status = 400, description = "A bad year, title or due day"),
              (status = 403, description = "Not a data officer or admin of the resource's department"),
              (status = 404, description = "No such resource")))]
pub async fn add(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<PlanEntryBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    actor.require_any_role(PLANNERS, "planning open data")?;
    let due = NaiveDate::parse_from_str(body.due.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::BadRequest(format!("due: \"{}\" is not a YYYY-MM-DD day", body.due))
    })?;
    let title = check_entry(body.year, &body.title, due)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let resource = state.store.resource(&body.resource).await?;
    if resource.provider.code != actor.department().code {
        return Err(ApiError::Forbidden(format!(
            "{} is provided by {}: a department plans only its own data",
            resource.code, resource.provider.name
        )));
    }
    let now = state.clock.now();
    let audit = doer(&actor).record(
        now,
        "open_plan.add",
        None,
        json!({"year": body.year, "resource": resource.code, "due": due}),
    );
    let entry = state
        .store
        .add_plan_entry(
            &NewPlanEntry {
                resource: &resource,
                year: body.year,
                title: &title,
                due,
                by: &actor.label(),
                now,
            },
            &audit,
        )
        .await?;
    let status = PlanStatus::of(
        entry.due,
        entry.first_published.map(local_date),
        local_date(now),
    );
    Ok((StatusCode::CREATED, Json(entry_view(&entry, status))))
}

/// Take an entry out of the caller's department's plan.
#[utoipa::path(delete, path = "/api/v1/open-plans/{id}", tag = "open data",
    params(("id" = i64, Path, description = "Entry id")),
    responses((status = 204, description = "Removed"),
              (status = 403, description = "Not of the entry's department"),
              (status = 404, description = "No such entry")))]
pub async fn remove(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    actor.require_any_role(PLANNERS, "planning open data")?;
    let entry = state.store.plan_entry(id).await?;
    if entry.department_code != actor.department().code {
        return Err(ApiError::Forbidden(format!(
            "plan entry {id} is {}'s",
            entry.department_name
        )));
    }
    let audit = doer(&actor).record(
        state.clock.now(),
        "open_plan.remove",
        None,
        json!({"title": entry.title, "resource": entry.resource}),
    );
    state.store.remove_plan_entry(id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
