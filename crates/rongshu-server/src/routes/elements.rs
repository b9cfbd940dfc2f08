//! The data element registry (一数一源): anyone signed in reads it; the
//! platform office registers elements and names each one's authoritative
//! department.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rongshu_core::account::Role;
use rongshu_core::catalog::{NewElementRequest, Status};
use rongshu_store::{DataElement, ElementSource};
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::admin::doer;
use crate::service;
use crate::state::AppState;

/// Every data element with its authoritative department and how many
/// published resource items carry it (any signed-in caller).
#[utoipa::path(get, path = "/api/v1/elements", tag = "elements",
    responses((status = 200, description = "`{\"items\": [{code, name, name_en, description, authority, sources: {authoritative, witnesses}}]}`"),
              (status = 401, description = "Not signed in")))]
pub async fn list(State(state): State<AppState>, _actor: Actor) -> Result<Json<Value>, ApiError> {
    let elements = state.store.elements().await?;
    let counts = state.store.element_source_counts().await?;
    let items: Vec<Value> = elements
        .iter()
        .map(|e| {
            let mut v = json!(e);
            if let Some(obj) = v.as_object_mut() {
                let n = counts.get(e.code.as_str()).copied().unwrap_or_default();
                obj.insert("sources".into(), json!(n));
            }
            v
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// Register a data element (platform office only).
#[utoipa::path(post, path = "/api/v1/elements", tag = "elements",
    request_body(content = serde_json::Value, description = "`{code, name, name_en?, description?, authority}`; authority is a department code"),
    responses((status = 201, description = "Registered"), (status = 403, description = "Not the platform office"),
              (status = 409, description = "The code is registered already"),
              (status = 422, description = "Not valid, or the authority department does not exist; `detail` names the field")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewElementRequest>,
) -> Result<(StatusCode, Json<DataElement>), ApiError> {
    let element = create_element(&state, &actor, req).await?;
    Ok((StatusCode::CREATED, Json(element)))
}

/// Register an element, for the API and the console.
pub(crate) async fn create_element(
    state: &AppState,
    actor: &Actor,
    req: NewElementRequest,
) -> Result<DataElement, ApiError> {
    actor.require_any_role(&[Role::PlatformAdmin], "registering a data element")?;
    service::create_element(&state.store, state.clock.now(), &doer(actor), req).await
}

/// Change a data element's names, description or authoritative department
/// (platform office only). The code does not change.
#[utoipa::path(put, path = "/api/v1/elements/{code}", tag = "elements",
    params(("code" = String, Path, description = "Element code, e.g. person.name")),
    request_body(content = serde_json::Value, description = "`{name, name_en?, description?, authority}`, the whole declaration"),
    responses((status = 200, description = "The element"), (status = 403, description = "Not the platform office"),
              (status = 404, description = "No such element"),
              (status = 422, description = "Not valid, or the authority department does not exist")))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    ApiJson(req): ApiJson<NewElementRequest>,
) -> Result<Json<DataElement>, ApiError> {
    actor.require_any_role(&[Role::PlatformAdmin], "changing a data element")?;
    Ok(Json(
        service::update_element(&state.store, state.clock.now(), &doer(&actor), &code, req).await?,
    ))
}

/// A source the caller may know of: what was published, and otherwise only
/// the caller's own department's drafts (the platform office sees all).
fn visible(actor: &Actor, source: &ElementSource) -> bool {
    matches!(source.status, Status::Published | Status::Retired)
        || actor.is_platform_admin()
        || source.department.code == actor.department().code
}

/// One element, the resource items that carry it split into the
/// authoritative provider's (values of record) and witnesses (evidence for
/// verification), and its history.
#[utoipa::path(get, path = "/api/v1/elements/{code}", tag = "elements",
    params(("code" = String, Path, description = "Element code, e.g. person.name")),
    responses((status = 200, description = "`{\"element\": {...}, \"authoritative\": [{resource, department, item}], \"witnesses\": [...], \"history\": [...]}`"),
              (status = 404, description = "No such element")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let element = state.store.element(&code).await?;
    let (authoritative, witnesses): (Vec<ElementSource>, Vec<ElementSource>) = state
        .store
        .element_sources(&code)
        .await?
        .into_iter()
        .filter(|s| visible(&actor, s))
        .partition(|s| s.authoritative);
    let history = state.store.element_history(&code).await?;
    Ok(Json(json!({
        "element": element,
        "authoritative": authoritative,
        "witnesses": witnesses,
        "history": history,
    })))
}
