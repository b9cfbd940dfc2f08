//! Share requests (共享申请): a consumer department asks, for one of its
//! applications, to read a conditional resource or the plain values of an
//! unconditional one; the provider's reviewer approves (possibly narrowing) or
//! rejects with a reason within 10 working days; the consumer may withdraw.
//! Both sides and the platform office see the request and its discussion.
//!
//! Who answers: the provider department's `reviewer`, or its `dept_admin`
//! (the head of the department answers for it too).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::admin::doer;
use crate::state::AppState;
use rongshu_core::account::Role;
use rongshu_core::catalog::{ShareType, Status};
use rongshu_core::sharing::{
    Approval, RequestState, ShareRequestError, ShareRequestInput, ShareRequestSpec,
    WorkingCalendar, local_date,
};
use rongshu_store::{Decision, NewShareRequest, ShareRequest, ShareRequestFilter, StoreError};

const MAX_TEXT_CHARS: usize = 2000;

/// Roles that submit and withdraw for the consumer department.
const CONSUMER_ROLES: &[Role] = &[Role::DataOfficer, Role::DeptAdmin];
/// Roles that answer for the provider department.
pub(crate) const REVIEWER_ROLES: &[Role] = &[Role::Reviewer, Role::DeptAdmin];

impl From<ShareRequestError> for ApiError {
    fn from(e: ShareRequestError) -> Self {
        ApiError::Unprocessable(e.to_string())
    }
}

/// Which side of a request the caller is on.
pub(crate) fn side(actor: &Actor, r: &ShareRequest) -> Option<&'static str> {
    let dept = &actor.department().code;
    if &r.consumer.code == dept {
        Some("consumer")
    } else if &r.provider.code == dept {
        Some("provider")
    } else if actor.is_platform_admin() {
        Some("office")
    } else {
        None
    }
}

/// A request as the API shows it: with its age in working days, the due date
/// and whether it is overdue, counted in the office's calendar.
pub(crate) struct Timing {
    pub age_working_days: u32,
    pub overdue: bool,
    /// For an answered request: whether the answer came by the due date.
    pub answered_on_time: Option<bool>,
}

pub(crate) fn timing(r: &ShareRequest, calendar: &WorkingCalendar, today: NaiveDate) -> Timing {
    let submitted = local_date(r.submitted_at);
    let until = r.decided_at.map_or(today, local_date);
    Timing {
        age_working_days: calendar.working_days_between(submitted, until),
        overdue: r.state.is_open() && today > r.due_at,
        answered_on_time: r.decided_at.map(|d| local_date(d) <= r.due_at),
    }
}

fn view(actor: &Actor, r: &ShareRequest, calendar: &WorkingCalendar, today: NaiveDate) -> Value {
    let t = timing(r, calendar, today);
    let mut v = json!(r);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("age_working_days".into(), json!(t.age_working_days));
        obj.insert("overdue".into(), json!(t.overdue));
        obj.insert("answered_on_time".into(), json!(t.answered_on_time));
        obj.insert("escalated".into(), json!(r.escalated_at.is_some()));
        obj.insert("side".into(), json!(side(actor, r)));
    }
    v
}

async fn calendar_today(state: &AppState) -> Result<(WorkingCalendar, NaiveDate), ApiError> {
    let calendar = state.store.working_calendar().await?;
    Ok((calendar, local_date(state.clock.now())))
}

fn bounded(field: &str, value: &str, required: bool) -> Result<String, ApiError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(ApiError::Unprocessable(format!("{field} is required")));
    }
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "{field}: at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(v.to_owned())
}

/// Ask for a resource, for one of the caller's department's applications
/// (its data officer or department admin).
#[utoipa::path(post, path = "/api/v1/share-requests", tag = "sharing",
    request_body(content = Object, description = "`{\"resource\", \"application\", \"items\": [...], \"purpose\": \"administrative_basis|work_reference|data_verification|business_collaboration\", \"purpose_text\", \"legal_basis\", \"row_scope\": [\"district=武侯区\"], \"duration_days\", \"plain_wanted\"}`"),
    responses((status = 201, description = "The request, with its due date"),
              (status = 403, description = "Not a data officer or department admin, or the resource is not shared"),
              (status = 404, description = "No such resource"),
              (status = 422, description = "A field is missing or wrong; the message names it")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(input): ApiJson<ShareRequestInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = submit(&state, &actor, &input).await?;
    let (calendar, today) = calendar_today(&state).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&actor, &r, &calendar, today)),
    ))
}

pub(crate) async fn submit(
    state: &AppState,
    actor: &Actor,
    input: &ShareRequestInput,
) -> Result<ShareRequest, ApiError> {
    let user = actor.user().ok_or_else(|| {
        ApiError::Forbidden("a share request is made by a person, not an application".into())
    })?;
    actor.require_any_role(CONSUMER_ROLES, "submitting a share request")?;
    let code = input
        .resource
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or(ShareRequestError::Missing("resource"))?;
    let resource = crate::routes::resources::visible_resource(state, actor, code).await?;
    if resource.status != Status::Published {
        return Err(ApiError::Conflict(format!(
            "{code} is {}: only a published resource is shared",
            resource.status.as_str()
        )));
    }
    if resource.provider.code == user.department.code {
        return Err(ApiError::Unprocessable(format!(
            "{code} is your department's own: it is read without asking"
        )));
    }
    match resource.spec.share_type {
        ShareType::None => {
            return Err(ApiError::Forbidden(format!(
                "{code} is not shared outside {}",
                resource.provider.name
            )));
        }
        ShareType::Unconditional if !input.plain_wanted => {
            return Err(ApiError::Unprocessable(format!(
                "{code} is shared unconditionally and is read without asking; a request is only for plain values of its sensitive items (plain_wanted)"
            )));
        }
        _ => {}
    }
    let spec = ShareRequestSpec::parse(input, &resource.spec)?;
    let application = match state
        .store
        .application(&user.department.code, &spec.application)
        .await
    {
        Ok(a) => a,
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::Unprocessable(format!(
                "application: {} has no application named \"{}\"",
                user.department.name, spec.application
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let now = state.clock.now();
    let (calendar, today) = calendar_today(state).await?;
    let due = calendar
        .due_date(today)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let audit = doer(actor).record(
        now,
        "share_request.submit",
        None,
        json!({ "resource": code, "application": spec.application, "purpose": spec.purpose,
                "items": spec.items, "plain_wanted": spec.plain_wanted }),
    );
    let label = actor.label();
    Ok(state
        .store
        .create_share_request(
            NewShareRequest {
                resource_id: resource.id,
                consumer_id: user.department.id,
                application_id: application.id,
                spec: &spec,
                submitted_by: &label,
            },
            now,
            due,
            audit,
        )
        .await?)
}

#[derive(Deserialize)]
pub struct ListQuery {
    pub state: Option<String>,
    pub overdue: Option<bool>,
    pub escalated: Option<bool>,
}

/// Requests the caller's department made or must answer (the platform office
/// sees all); `?state=submitted`, `?overdue=true` for the unanswered ones past
/// due, `?escalated=true` for those the overdue sweep escalated to the office.
#[utoipa::path(get, path = "/api/v1/share-requests", tag = "sharing",
    params(("state" = Option<String>, Query, description = "submitted, approved, rejected or withdrawn"),
           ("overdue" = Option<bool>, Query, description = "Only unanswered requests past their due date"),
           ("escalated" = Option<bool>, Query, description = "Only requests escalated to the platform office for being overdue (answered since or not)")),
    responses((status = 200, description = "`{\"items\": [... with side, age_working_days, due_at, overdue, escalated, escalated_at, last_reminded_on], \"total\": N}`")))]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (calendar, today) = calendar_today(&state).await?;
    let items = list_for(&state, &actor, &q).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|r| view(&actor, r, &calendar, today))
        .collect();
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

pub(crate) async fn list_for(
    state: &AppState,
    actor: &Actor,
    q: &ListQuery,
) -> Result<Vec<ShareRequest>, ApiError> {
    let request_state = q
        .state
        .as_deref()
        .map(|s| {
            RequestState::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "state: \"{s}\" is not submitted, approved, rejected or withdrawn"
                ))
            })
        })
        .transpose()?;
    let scope = (!actor.is_platform_admin()).then(|| actor.department().code.clone());
    let today = local_date(state.clock.now());
    Ok(state
        .store
        .share_requests(ShareRequestFilter {
            department: scope.as_deref(),
            state: request_state,
            overdue_on: q.overdue.unwrap_or(false).then_some(today),
            escalated: q.escalated.unwrap_or(false),
        })
        .await?)
}

/// A request the caller may see, or 404 (not 403: its existence is not the
/// caller's business either).
pub(crate) async fn visible_request(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<ShareRequest, ApiError> {
    let r = state.store.share_request(id).await?;
    if side(actor, &r).is_none() {
        return Err(ApiError::NotFound(format!(
            "share request {id} does not exist"
        )));
    }
    Ok(r)
}

/// One request with its whole discussion.
#[utoipa::path(get, path = "/api/v1/share-requests/{id}", tag = "sharing",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, description = "The request and its events"), (status = 404, description = "No such request")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let r = visible_request(&state, &actor, id).await?;
    let events = state.store.share_request_events(id).await?;
    let (calendar, today) = calendar_today(&state).await?;
    let mut v = view(&actor, &r, &calendar, today);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("events".into(), json!(events));
    }
    Ok(Json(v))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    pub text: String,
}

/// Add to the discussion (either side, or the platform office).
#[utoipa::path(post, path = "/api/v1/share-requests/{id}/comments", tag = "sharing", request_body = CommentRequest,
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 201, description = "The comment"), (status = 404, description = "No such request"),
              (status = 422, description = "Empty or too long")))]
pub async fn comment(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<CommentRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e = add_comment(&state, &actor, id, &req.text).await?;
    Ok((StatusCode::CREATED, Json(json!(e))))
}

pub(crate) async fn add_comment(
    state: &AppState,
    actor: &Actor,
    id: i64,
    text: &str,
) -> Result<rongshu_store::ShareRequestEvent, ApiError> {
    visible_request(state, actor, id).await?;
    let text = bounded("text", text, true)?;
    let now = state.clock.now();
    let audit = doer(actor).record(now, "share_request.comment", None, json!({}));
    Ok(state
        .store
        .comment_share_request(id, &actor.label(), &text, now, audit)
        .await?)
}

/// Approve (the provider's reviewer or department admin). The body may narrow
/// the request: fewer `items`, more `row_scope` terms, fewer `duration_days`,
/// `plain_allowed` false; what it leaves out is granted as asked.
#[utoipa::path(post, path = "/api/v1/share-requests/{id}/approve", tag = "sharing",
    request_body(content = Object, description = "`{\"items\"?, \"row_scope\"?, \"duration_days\"?, \"plain_allowed\"?, \"comment\"?}`"),
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, description = "The approved request, with `grant_id`"),
              (status = 403, description = "Not the provider's reviewer"),
              (status = 409, description = "Already answered or withdrawn"),
              (status = 422, description = "The approval would widen the request")))]
pub async fn approve(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(approval): ApiJson<Approval>,
) -> Result<Json<Value>, ApiError> {
    let r = approve_request(&state, &actor, id, &approval).await?;
    let (calendar, today) = calendar_today(&state).await?;
    Ok(Json(view(&actor, &r, &calendar, today)))
}

fn require_provider_reviewer(actor: &Actor, r: &ShareRequest, doing: &str) -> Result<(), ApiError> {
    if r.provider.code != actor.department().code {
        return Err(ApiError::Forbidden(format!(
            "only {} (the provider) answers this request",
            r.provider.name
        )));
    }
    actor.require_any_role(REVIEWER_ROLES, doing)
}

pub(crate) async fn approve_request(
    state: &AppState,
    actor: &Actor,
    id: i64,
    approval: &Approval,
) -> Result<ShareRequest, ApiError> {
    let r = visible_request(state, actor, id).await?;
    require_provider_reviewer(actor, &r, "approving a share request")?;
    let resource = state.store.resource(&r.resource.code).await?;
    // The request as it was asked, checked again against the declaration as
    // it is now: an item dropped since cannot be granted.
    let asked = ShareRequestInput {
        resource: Some(r.resource.code.clone()),
        application: Some(r.application.clone()),
        items: r.items.clone(),
        purpose: Some(r.purpose.as_str().to_owned()),
        purpose_text: r.purpose_text.clone(),
        legal_basis: r.legal_basis.clone(),
        row_scope: r.row_scope.clone(),
        duration_days: Some(r.duration_days),
        plain_wanted: r.plain_wanted,
    };
    let spec = ShareRequestSpec::parse(&asked, &resource.spec).map_err(|e| {
        ApiError::Conflict(format!(
            "the declaration of {} changed since the request and it no longer fits ({e}); reject it with that reason",
            r.resource.code
        ))
    })?;
    let terms = approval.narrow(&spec, &resource.spec)?;
    let comment = bounded("comment", &approval.comment, false)?;
    let now = state.clock.now();
    let items: Vec<&str> = terms.items.iter().map(|i| i.as_str()).collect();
    let audit = doer(actor).record(
        now,
        "share_request.approve",
        None,
        json!({ "items": items, "row_scope": terms.row_scope.to_strings(),
                "duration_days": terms.duration_days, "plain_allowed": terms.plain_allowed }),
    );
    Ok(state
        .store
        .decide_share_request(
            id,
            Decision::Approve {
                terms: &terms,
                comment: &comment,
            },
            &actor.label(),
            now,
            audit,
        )
        .await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    pub reason: String,
}

/// Reject, with the reason the consumer will read (the provider's reviewer).
#[utoipa::path(post, path = "/api/v1/share-requests/{id}/reject", tag = "sharing", request_body = ReasonRequest,
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, description = "The rejected request"),
              (status = 403, description = "Not the provider's reviewer"),
              (status = 409, description = "Already answered or withdrawn"),
              (status = 422, description = "No reason given")))]
pub async fn reject(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> Result<Json<Value>, ApiError> {
    let r = reject_request(&state, &actor, id, &req.reason).await?;
    let (calendar, today) = calendar_today(&state).await?;
    Ok(Json(view(&actor, &r, &calendar, today)))
}

pub(crate) async fn reject_request(
    state: &AppState,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<ShareRequest, ApiError> {
    let r = visible_request(state, actor, id).await?;
    require_provider_reviewer(actor, &r, "rejecting a share request")?;
    // A refusal must give its reasons (the 2016 rules): no reason, no refusal.
    let reason = bounded("reason", reason, true)?;
    let now = state.clock.now();
    let audit = doer(actor).record(
        now,
        "share_request.reject",
        None,
        json!({ "reason": reason }),
    );
    Ok(state
        .store
        .decide_share_request(
            id,
            Decision::Reject { reason: &reason },
            &actor.label(),
            now,
            audit,
        )
        .await?)
}

/// Withdraw an unanswered request (the consumer's data officer or department admin).
#[utoipa::path(post, path = "/api/v1/share-requests/{id}/withdraw", tag = "sharing", request_body = ReasonRequest,
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, description = "The withdrawn request"),
              (status = 403, description = "Not the consumer department"),
              (status = 409, description = "Already answered")))]
pub async fn withdraw(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // The body is optional here: a withdrawal needs no reason.
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<ReasonRequest>(&body)
            .map_err(|e| ApiError::BadRequest(format!("the JSON body is not valid: {e}")))?
            .reason
    };
    let r = withdraw_request(&state, &actor, id, &reason).await?;
    let (calendar, today) = calendar_today(&state).await?;
    Ok(Json(view(&actor, &r, &calendar, today)))
}

pub(crate) async fn withdraw_request(
    state: &AppState,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<ShareRequest, ApiError> {
    let r = visible_request(state, actor, id).await?;
    if r.consumer.code != actor.department().code {
        return Err(ApiError::Forbidden(format!(
            "only {} (who asked) withdraws this request",
            r.consumer.name
        )));
    }
    actor.require_any_role(CONSUMER_ROLES, "withdrawing a share request")?;
    let reason = bounded("reason", reason, false)?;
    let now = state.clock.now();
    let audit = doer(actor).record(now, "share_request.withdraw", None, json!({}));
    Ok(state
        .store
        .decide_share_request(
            id,
            Decision::Withdraw { reason: &reason },
            &actor.label(),
            now,
            audit,
        )
        .await?)
}
