//! Share demands (共享需求): ask for data no resource offers, route, answer, close.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::admin::doer;
use crate::state::AppState;
use rongshu_core::account::Role;
use rongshu_store::{Demand, DemandAnswer, NewDemand};

pub(crate) fn age_days(demand: &Demand, now: chrono::DateTime<chrono::Utc>) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&demand.created_at)
        .map(|t| (now - t.with_timezone(&chrono::Utc)).num_days())
        .unwrap_or(0)
}

fn with_age(demand: &Demand, now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut v = json!(demand);
    let age = chrono::DateTime::parse_from_rfc3339(&demand.created_at)
        .map(|t| (now - t.with_timezone(&chrono::Utc)).num_days())
        .unwrap_or(0);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("age_days".into(), json!(age));
    }
    v
}

fn bounded(field: &str, value: &str, max: usize, required: bool) -> Result<String, ApiError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(ApiError::BadRequest(format!("{field} is required")));
    }
    if v.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "{field}: at most {max} characters"
        )));
    }
    Ok(v.to_owned())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewDemandRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub items: Vec<String>,
    #[serde(default)]
    pub reason: String,
}

/// Ask for data no resource offers (any signed-in user of a department).
#[utoipa::path(post, path = "/api/v1/demands", tag = "catalog", request_body = NewDemandRequest,
    responses((status = 201, description = "The demand"), (status = 400, description = "Missing or too long fields")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewDemandRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let demand = create_demand(&state, &actor, &req).await?;
    Ok((
        StatusCode::CREATED,
        Json(with_age(&demand, state.clock.now())),
    ))
}

pub(crate) async fn create_demand(
    state: &AppState,
    actor: &Actor,
    req: &NewDemandRequest,
) -> Result<Demand, ApiError> {
    let user = actor.user().ok_or_else(|| {
        ApiError::Forbidden("a demand is made by a person, not an application".into())
    })?;
    let title = bounded("title", &req.title, 200, true)?;
    let description = bounded("description", &req.description, 4000, false)?;
    let reason = bounded("reason", &req.reason, 2000, true)?;
    if req.items.len() > 100 {
        return Err(ApiError::BadRequest("items: at most 100".into()));
    }
    let items: Vec<String> = req
        .items
        .iter()
        .map(|i| bounded("items", i, 100, false))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|i| !i.is_empty())
        .collect();
    let now = state.clock.now();
    let audit = doer(actor).record(now, "demand.create", None, json!({ "title": title }));
    let label = actor.label();
    Ok(state
        .store
        .create_demand(
            NewDemand {
                requester: &user.department.code,
                created_by: &label,
                title: &title,
                description: &description,
                items: &items,
                reason: &reason,
            },
            now,
            audit,
        )
        .await?)
}

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
}

/// Demands the caller's department made or was asked to answer; the platform office sees all.
#[utoipa::path(get, path = "/api/v1/demands", tag = "catalog",
    params(("state" = Option<String>, Query, description = "open, routed, will_provide, cannot or closed")),
    responses((status = 200, description = "`{\"items\": [...], \"total\": N}`")))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let scope = (!actor.is_platform_admin()).then(|| actor.department().code.clone());
    let items = state
        .store
        .demands(scope.as_deref(), q.state.as_deref())
        .await?;
    let now = state.clock.now();
    let items: Vec<Value> = items.iter().map(|d| with_age(d, now)).collect();
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

pub(crate) fn may_see(actor: &Actor, d: &Demand) -> bool {
    let dept = &actor.department().code;
    actor.is_platform_admin()
        || d.requester.as_ref().is_some_and(|q| &q.code == dept)
        || d.routed_to.as_ref().is_some_and(|t| &t.code == dept)
}

/// One demand with its whole discussion.
#[utoipa::path(get, path = "/api/v1/demands/{id}", tag = "catalog",
    params(("id" = i64, Path, description = "Demand id")),
    responses((status = 200, description = "The demand and its events"), (status = 404, description = "No such demand")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let demand = state.store.demand(id).await?;
    if !may_see(&actor, &demand) {
        return Err(ApiError::NotFound(format!("demand {id} does not exist")));
    }
    let events = state.store.demand_events(id).await?;
    let mut v = with_age(&demand, state.clock.now());
    if let Some(obj) = v.as_object_mut() {
        obj.insert("events".into(), json!(events));
    }
    Ok(Json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RouteRequest {
    department: String,
}

/// Route a demand to the department that should answer it (platform office).
#[utoipa::path(post, path = "/api/v1/demands/{id}/route", tag = "catalog", request_body = RouteRequest,
    params(("id" = i64, Path, description = "Demand id")),
    responses((status = 200, description = "Routed"), (status = 403, description = "Not the platform office")))]
pub async fn route(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<RouteRequest>,
) -> Result<Json<Value>, ApiError> {
    let d = route_demand(&state, &actor, id, &req.department).await?;
    Ok(Json(with_age(&d, state.clock.now())))
}

pub(crate) async fn route_demand(
    state: &AppState,
    actor: &Actor,
    id: i64,
    department: &str,
) -> Result<Demand, ApiError> {
    actor.require_any_role(&[Role::PlatformAdmin], "routing a demand")?;
    let now = state.clock.now();
    let audit = doer(actor).record(now, "demand.route", None, json!({ "to": department }));
    Ok(state
        .store
        .route_demand(id, department.trim(), &actor.label(), now, audit)
        .await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AnswerRequest {
    /// `will_provide` or `cannot`
    pub decision: String,
    pub resource: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub by_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    pub reason: String,
}

/// Answer a demand routed to the caller's department (its data officer or admin).
#[utoipa::path(post, path = "/api/v1/demands/{id}/answer", tag = "catalog", request_body = AnswerRequest,
    params(("id" = i64, Path, description = "Demand id")),
    responses((status = 200, description = "Answered"), (status = 403, description = "Not the department it was routed to"),
              (status = 409, description = "Not routed, or already answered")))]
pub async fn answer(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<AnswerRequest>,
) -> Result<Json<Value>, ApiError> {
    let d = answer_demand(&state, &actor, id, &req).await?;
    Ok(Json(with_age(&d, state.clock.now())))
}

pub(crate) async fn answer_demand(
    state: &AppState,
    actor: &Actor,
    id: i64,
    req: &AnswerRequest,
) -> Result<Demand, ApiError> {
    let demand = state.store.demand(id).await?;
    let routed_here = demand
        .routed_to
        .as_ref()
        .is_some_and(|t| t.code == actor.department().code);
    if !routed_here {
        return Err(ApiError::Forbidden(
            "only the department the demand was routed to answers it".into(),
        ));
    }
    actor.require_any_role(&[Role::DataOfficer, Role::DeptAdmin], "answering a demand")?;
    let reason = bounded("reason", &req.reason, 2000, req.decision == "cannot")?;
    let by_date = req.by_date.map(|d| d.to_string());
    let answer = match req.decision.as_str() {
        "will_provide" => DemandAnswer::WillProvide {
            resource_code: req.resource.as_deref(),
            by_date: by_date.as_deref(),
            note: &reason,
        },
        "cannot" => DemandAnswer::Cannot { reason: &reason },
        other => {
            return Err(ApiError::BadRequest(format!(
                "decision: \"{other}\" is not will_provide or cannot"
            )));
        }
    };
    let now = state.clock.now();
    let audit = doer(actor).record(
        now,
        "demand.answer",
        None,
        json!({ "decision": req.decision }),
    );
    Ok(state
        .store
        .answer_demand(id, answer, &actor.label(), now, audit)
        .await?)
}

/// Close a demand (the department that made it, or the platform office).
#[utoipa::path(post, path = "/api/v1/demands/{id}/close", tag = "catalog",
    params(("id" = i64, Path, description = "Demand id")),
    responses((status = 200, description = "Closed"), (status = 403, description = "Not the requester")))]
pub async fn close(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let d = close_demand(&state, &actor, id).await?;
    Ok(Json(with_age(&d, state.clock.now())))
}

pub(crate) async fn close_demand(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<Demand, ApiError> {
    let demand = state.store.demand(id).await?;
    let requested_here = demand
        .requester
        .as_ref()
        .is_some_and(|q| q.code == actor.department().code);
    if !requested_here && !actor.is_platform_admin() {
        return Err(ApiError::Forbidden(
            "only the department that made a demand closes it".into(),
        ));
    }
    let now = state.clock.now();
    let audit = doer(actor).record(now, "demand.close", None, json!({}));
    Ok(state
        .store
        .close_demand(id, &actor.label(), now, audit)
        .await?)
}
