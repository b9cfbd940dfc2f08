//! `/api/v1/releases`: a provider proposes a view of a resource for opening,
//! sees what the personal-data scan found, deals with each flagged item, and a
//! reviewer of the department approves; either may withdraw it. Published
//! releases are public (with their Frictionless `datapackage.json`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use rongshu_core::account::Role;
use rongshu_core::opendata::{ReleaseState, blocking_items, released_items};
use rongshu_store::Release;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Actor, MaybeActor};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::opendata::releases::{self, Proposal, TreatmentBody};
use crate::opendata::{base_url, datapackage, package};
use crate::routes::admin::doer;
use crate::state::AppState;

const PROPOSERS: &[Role] = &[Role::DataOfficer, Role::DeptAdmin];
const WITHDRAWERS: &[Role] = &[Role::DataOfficer, Role::DeptAdmin, Role::Reviewer];

/// The release with what the gate says about it now.
fn view_of(r: &Release) -> Value {
    let blocking = blocking_items(&r.scan, &r.treatments);
    json!({
        "id": r.id,
        "name": r.name,
        "resource": r.resource_code,
        "provider": {"code": r.provider.code, "name": r.provider.name},
        "title": r.title,
        "description": r.description,
        "open_type": r.open_type,
        "open_condition": r.open_condition,
        "license": r.license,
        "view": r.view,
        "scan": r.scan,
        "treatments": r.treatments,
        "blocking": blocking,
        "releasable": blocking.is_empty(),
        "released_items": released_items(&r.view, &r.treatments),
        "state": r.state,
        "proposed_by": r.proposed_by,
        "proposed_at": r.proposed_at,
        "reviewed_by": r.reviewed_by,
        "published_at": r.published_at,
        "withdrawn_by": r.withdrawn_by,
        "withdrawn_at": r.withdrawn_at,
    })
}

/// A release the actor may see: the own department's in any state; others'
/// only once published.
async fn visible(state: &AppState, actor: Option<&Actor>, id: i64) -> Result<Release, ApiError> {
    let release = state.store.release(id).await?;
    let own = actor
        .is_some_and(|a| a.department().code == release.provider.code || a.is_platform_admin());
    if own || release.state == ReleaseState::Published {
        Ok(release)
    } else {
        Err(ApiError::NotFound(format!("release {id} does not exist")))
    }
}

/// The release of the actor's own department, for a step of its review.
async fn own(state: &AppState, actor: &Actor, id: i64) -> Result<Release, ApiError> {
    let release = visible(state, Some(actor), id).await?;
    if actor.department().code != release.provider.code {
        return Err(ApiError::Forbidden(format!(
            "release {id} belongs to {}: only its people review it",
            release.provider.name
        )));
    }
    Ok(release)
}

/// Propose a release; the scan runs at once and its findings are in the answer.
#[utoipa::path(post, path = "/api/v1/releases", tag = "open data", request_body = Proposal,
    responses((status = 201, description = "The release, proposed, with its scan and `blocking` items"),
              (status = 403, description = "Not the resource's provider, or no data officer role"),
              (status = 409, description = "The resource is not published, or the name is taken"),
              (status = 422, description = "A bad view, open type or licence")))]
pub async fn propose(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<Proposal>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    actor.require_any_role(PROPOSERS, "proposing a release")?;
    let resource = state.store.resource(&body.resource).await?;
    if resource.provider.code != actor.department().code {
        return Err(ApiError::Forbidden(format!(
            "{} is provided by {}: only its provider proposes it for opening",
            resource.code, resource.provider.name
        )));
    }
    let release = releases::propose(&state.store, state.clock.now(), &doer(&actor), body).await?;
    Ok((StatusCode::CREATED, Json(view_of(&release))))
}

/// Releases: the caller's department's (any state) and every published one.
#[utoipa::path(get, path = "/api/v1/releases", tag = "open data",
    responses((status = 200, description = "`{\"items\": [releases]}`")))]
pub async fn list(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
) -> Result<Json<Value>, ApiError> {
    let all = state.store.releases(None, None).await?;
    let items: Vec<Value> = all
        .iter()
        .filter(|r| {
            r.state == ReleaseState::Published
                || actor.as_ref().is_some_and(|a| {
                    a.department().code == r.provider.code || a.is_platform_admin()
                })
        })
        .map(view_of)
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[utoipa::path(get, path = "/api/v1/releases/{id}", tag = "open data",
    params(("id" = i64, Path, description = "Release id")),
    responses((status = 200, description = "The release with its scan, `downloads` (`total`, `by_format`, `by_day`) and `api_calls` (open API calls)"), (status = 404, description = "No such release, or not published and not the caller's")))]
pub async fn show(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let release = visible(&state, actor.as_ref(), id).await?;
    let mut body = view_of(&release);
    let counts = state.store.download_counts(release.id).await?;
    let api_calls = state.store.api_call_count(release.id).await?;
    if let Some(obj) = body.as_object_mut() {
        obj.insert("downloads".into(), json!(counts));
        obj.insert("api_calls".into(), json!(api_calls));
    }
    Ok(Json(body))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TreatmentsBody {
    pub treatments: Vec<TreatmentBody>,
}

/// Say what is done about flagged items: `mask`, `drop`, or `justify` with a reason.
#[utoipa::path(post, path = "/api/v1/releases/{id}/treatments", tag = "open data", request_body = TreatmentsBody,
    params(("id" = i64, Path, description = "Release id")),
    responses((status = 200, description = "The release, with what still blocks it"),
              (status = 409, description = "The release is no longer proposed"),
              (status = 422, description = "An unknown item or action, or a justification without a reason")))]
pub async fn treat(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<TreatmentsBody>,
) -> Result<Json<Value>, ApiError> {
    actor.require_any_role(PROPOSERS, "resolving a release's scan findings")?;
    let release = own(&state, &actor, id).await?;
    let release = releases::treat(
        &state.store,
        state.clock.now(),
        &doer(&actor),
        &release,
        &body.treatments,
    )
    .await?;
    Ok(Json(view_of(&release)))
}

/// Approve and publish, as the department's reviewer (not the proposer).
#[utoipa::path(post, path = "/api/v1/releases/{id}/approve", tag = "open data",
    params(("id" = i64, Path, description = "Release id")),
    responses((status = 200, description = "The release, published, with the reviewer's name"),
              (status = 403, description = "Not a reviewer of the provider, or the proposer"),
              (status = 409, description = "Flagged items are not dealt with, or not proposed")))]
pub async fn approve(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    actor.require_any_role(&[Role::Reviewer], "approving a release")?;
    let release = own(&state, &actor, id).await?;
    let release =
        releases::approve(&state.store, state.clock.now(), &doer(&actor), &release).await?;
    Ok(Json(view_of(&release)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    pub reason: Option<String>,
}

/// Take a release back; a published one disappears from every open-data API.
#[utoipa::path(post, path = "/api/v1/releases/{id}/withdraw", tag = "open data", request_body = WithdrawBody,
    params(("id" = i64, Path, description = "Release id")),
    responses((status = 200, description = "The release, withdrawn"),
              (status = 403, description = "Not of the provider"),
              (status = 409, description = "Already withdrawn")))]
pub async fn withdraw(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    actor.require_any_role(WITHDRAWERS, "withdrawing a release")?;
    // The body is optional: a withdrawal needs no reason, but may give one.
    let body: WithdrawBody = if body.iter().all(u8::is_ascii_whitespace) {
        WithdrawBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the JSON body is not valid: {e}")))?
    };
    let release = own(&state, &actor, id).await?;
    let reason = body.reason;
    let release = releases::withdraw(
        &state.store,
        state.clock.now(),
        &doer(&actor),
        &release,
        reason.as_deref(),
    )
    .await?;
    Ok(Json(view_of(&release)))
}

/// The Frictionless Data Package of a published release.
#[utoipa::path(get, path = "/api/v1/releases/{id}/datapackage.json", tag = "open data",
    params(("id" = i64, Path, description = "Release id")),
    responses((status = 200, description = "datapackage.json"), (status = 404, description = "No such published release")))]
pub async fn datapackage_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let release = visible(&state, None, id).await?;
    let dataset = package::published_dataset(&state, &release.name).await?;
    Ok(Json(datapackage::datapackage(
        &dataset,
        &base_url(&state, &headers),
    )))
}
