//! Applications (应用): a consumer department's systems, registered to read
//! data with keys of their own, with an optional allow-list of addresses and
//! a rate limit. Keys are in `keys`.
//!
//! Who may do what, decided once per request as a `Right`:
//! - the department's `dept_admin` manages its applications: registers them,
//!   changes their settings, issues, rotates and revokes keys, disables them;
//! - its `data_officer` sees them (they name one in each share request);
//! - the platform office sees every department's, and may stop one (disable
//!   it, revoke a key) when it misbehaves, but issues no secrets for another
//!   department.
//!
//! Anyone else is told the application does not exist; an application's own
//! key manages nothing.

pub(crate) mod keys;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rongshu_core::account::Role;
use rongshu_core::net::AllowList;
use rongshu_core::rate::RateLimit;
use rongshu_store::{Application, ApplicationChange};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::auth::app_guard::effective_limit;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::admin::doer;
use crate::service;
use crate::state::AppState;

/// What the caller may do with one application; each level includes the ones
/// before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Right {
    /// Read its settings and its keys' list (never a secret).
    See,
    /// Also disable or enable it and revoke its keys.
    Stop,
    /// Also change its settings and issue or rotate keys.
    Manage,
}

/// The caller's right over applications of `department`, if any.
pub(crate) fn right_over(actor: &Actor, department: &str) -> Option<Right> {
    actor.user()?;
    let own = actor.department().code == department;
    if own && actor.has_role(Role::DeptAdmin) {
        Some(Right::Manage)
    } else if actor.is_platform_admin() {
        Some(Right::Stop)
    } else if own && actor.has_role(Role::DataOfficer) {
        Some(Right::See)
    } else {
        None
    }
}

/// An application together with what the caller may do with it.
pub(crate) struct AppInHand {
    pub app: Application,
    pub right: Right,
}

impl AppInHand {
    pub fn require(&self, need: Right, doing: &str) -> Result<(), ApiError> {
        if self.right >= need {
            return Ok(());
        }
        Err(ApiError::Forbidden(match need {
            Right::Manage => format!(
                "{doing} is for the department admin of {}",
                self.app.department.name
            ),
            _ => format!(
                "{doing} is for the department admin of {} or the platform office",
                self.app.department.name
            ),
        }))
    }

    /// How the audit log names the application.
    pub fn target(&self) -> String {
        format!("app:{}/{}", self.app.department.code, self.app.name)
    }
}

/// An application the caller may see, or 404.
pub(crate) async fn application_in_hand(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<AppInHand, ApiError> {
    let app = state.store.application_by_id(id).await?;
    match right_over(actor, &app.department.code) {
        Some(right) => Ok(AppInHand { app, right }),
        None => Err(ApiError::NotFound(format!(
            "application {id} does not exist"
        ))),
    }
}

/// The applications the caller may see: the office all, a department's
/// admin and data officers their own.
pub(crate) async fn applications_for(
    state: &AppState,
    actor: &Actor,
) -> Result<Vec<Application>, ApiError> {
    if actor.user().is_none() {
        return Err(ApiError::Forbidden(
            "applications are managed by people, not by an application's key".into(),
        ));
    }
    if actor.is_platform_admin() {
        return Ok(state.store.applications(None).await?);
    }
    actor.require_any_role(
        &[Role::DeptAdmin, Role::DataOfficer],
        "listing applications",
    )?;
    Ok(state
        .store
        .applications(Some(&actor.department().code))
        .await?)
}

pub(crate) fn app_view(app: &Application, default_limit: RateLimit) -> Value {
    let mut v = json!(app);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "state".into(),
            json!(if app.disabled_at.is_some() {
                "disabled"
            } else {
                "active"
            }),
        );
        obj.insert(
            "rate_limit_effective".into(),
            json!(effective_limit(app, default_limit).get()),
        );
    }
    v
}

/// The applications the caller may see (the office: every department's).
#[utoipa::path(get, path = "/api/v1/applications", tag = "admin",
    responses((status = 200, description = "`{\"items\": [{id, name, department, description, allowed_ips, rate_limit_per_minute, rate_limit_effective, state, disabled_at, created_at}], \"total\": N}`"),
              (status = 403, description = "Not a department admin, data officer or the platform office")))]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, ApiError> {
    let default_limit = state.app_guards.default_limit();
    let items: Vec<Value> = applications_for(&state, &actor)
        .await?
        .iter()
        .map(|a| app_view(a, default_limit))
        .collect();
    Ok(Json(json!({ "total": items.len(), "items": items })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplicationRequest {
    name: String,
    #[serde(default)]
    description: String,
}

/// Register one of the caller's department's systems as an application (department admin).
#[utoipa::path(post, path = "/api/v1/applications", tag = "admin", request_body = NewApplicationRequest,
    responses((status = 201, description = "Created"), (status = 403, description = "Not a department admin"),
              (status = 409, description = "The department has an application of that name")))]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewApplicationRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let app = register(&state, &actor, &req.name, &req.description).await?;
    Ok((
        StatusCode::CREATED,
        Json(app_view(&app, state.app_guards.default_limit())),
    ))
}

pub(crate) async fn register(
    state: &AppState,
    actor: &Actor,
    name: &str,
    description: &str,
) -> Result<Application, ApiError> {
    actor.require_any_role(
        &[Role::DeptAdmin, Role::PlatformAdmin],
        "registering an application",
    )?;
    service::create_application(
        &state.store,
        state.clock.now(),
        &doer(actor),
        &actor.department().code,
        name,
        description,
    )
    .await
}

/// One application with its keys (prefixes only: a key is shown once, when made).
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "admin",
    params(("id" = i64, Path, description = "The application's id")),
    responses((status = 200, description = "The application and `keys`: [{id, label, prefix, created_at, last_used_at, expires_at, state, revoked_at, rotated_at, replaced_by}]"),
              (status = 404, description = "No such application the caller may see")))]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let hand = application_in_hand(&state, &actor, id).await?;
    let keys = keys::key_views(&state, id).await?;
    let mut v = app_view(&hand.app, state.app_guards.default_limit());
    if let Some(obj) = v.as_object_mut() {
        obj.insert("keys".into(), json!(keys));
    }
    Ok(Json(v))
}

/// `"field": null` is `Some(None)`, an absent field `None`: PATCH tells them apart.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationPatch {
    pub description: Option<String>,
    /// IPv4 and IPv6 addresses and CIDR blocks; empty: any address.
    pub allowed_ips: Option<Vec<String>>,
    /// Requests a minute; `null` returns to the platform's default.
    #[serde(default, deserialize_with = "present")]
    pub rate_limit_per_minute: Option<Option<i64>>,
}

/// Change an application's description, allow-list or rate limit (its
/// department admin). Fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/applications/{id}", tag = "admin",
    request_body(content = Object, description = "`{\"description\"?, \"allowed_ips\"?: [\"10.1.0.0/16\", \"2001:db8::/32\", \"192.168.3.4\"] (empty: any address), \"rate_limit_per_minute\"?: n | null (null: the platform default)}`"),
    params(("id" = i64, Path, description = "The application's id")),
    responses((status = 200, description = "The application as changed; the change applies to its next request"),
              (status = 403, description = "Not the department's admin"),
              (status = 404, description = "No such application"),
              (status = 422, description = "A bad address or limit; the message names it")))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<ApplicationPatch>,
) -> Result<Json<Value>, ApiError> {
    let app = change_settings(&state, &actor, id, patch).await?;
    Ok(Json(app_view(&app, state.app_guards.default_limit())))
}

pub(crate) async fn change_settings(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: ApplicationPatch,
) -> Result<Application, ApiError> {
    let hand = application_in_hand(state, actor, id).await?;
    hand.require(Right::Manage, "changing an application's settings")?;
    let description = patch
        .description
        .as_deref()
        .map(service::application_description)
        .transpose()?;
    let allowed_ips = patch
        .allowed_ips
        .as_deref()
        .map(|list| {
            AllowList::parse(list)
                .map(|l| l.to_strings())
                .map_err(|e| ApiError::Unprocessable(format!("allowed_ips: {e}")))
        })
        .transpose()?;
    let limit = patch
        .rate_limit_per_minute
        .map(|n| {
            n.map(|n| {
                RateLimit::per_minute(n)
                    .map(|l| i64::from(l.get()))
                    .map_err(|e| ApiError::Unprocessable(format!("rate_limit_per_minute: {e}")))
            })
            .transpose()
        })
        .transpose()?;
    let change = ApplicationChange {
        description,
        allowed_ips,
        rate_limit_per_minute: limit,
    };
    let audit = doer(actor).record(
        state.clock.now(),
        "application.update",
        Some(hand.target()),
        json!({ "description": change.description, "allowed_ips": change.allowed_ips,
                "rate_limit_per_minute": change.rate_limit_per_minute }),
    );
    let app = state.store.update_application(id, &change, audit).await?;
    state.app_guards.forget(id);
    Ok(app)
}

/// Stop an application: its keys stop working at once (its department
/// admin, or the platform office).
#[utoipa::path(post, path = "/api/v1/applications/{id}/disable", tag = "admin",
    params(("id" = i64, Path, description = "The application's id")),
    responses((status = 200, description = "The application, disabled"),
              (status = 403, description = "Not its department admin or the office"),
              (status = 404, description = "No such application"), (status = 409, description = "Disabled already")))]
pub async fn disable(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let app = set_disabled(&state, &actor, id, true).await?;
    Ok(Json(app_view(&app, state.app_guards.default_limit())))
}

/// Let a disabled application's keys work again (those not revoked or expired).
#[utoipa::path(post, path = "/api/v1/applications/{id}/enable", tag = "admin",
    params(("id" = i64, Path, description = "The application's id")),
    responses((status = 200, description = "The application, enabled"),
              (status = 403, description = "Not its department admin or the office"),
              (status = 404, description = "No such application"), (status = 409, description = "Enabled already")))]
pub async fn enable(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let app = set_disabled(&state, &actor, id, false).await?;
    Ok(Json(app_view(&app, state.app_guards.default_limit())))
}

pub(crate) async fn set_disabled(
    state: &AppState,
    actor: &Actor,
    id: i64,
    disabled: bool,
) -> Result<Application, ApiError> {
    let hand = application_in_hand(state, actor, id).await?;
    let (doing, action) = if disabled {
        ("disabling an application", "application.disable")
    } else {
        ("enabling an application", "application.enable")
    };
    hand.require(Right::Stop, doing)?;
    let now = state.clock.now();
    let audit = doer(actor).record(now, action, Some(hand.target()), json!({}));
    let app = state
        .store
        .set_application_disabled(id, disabled.then_some(now), audit)
        .await?;
    state.app_guards.forget(id);
    Ok(app)
}
