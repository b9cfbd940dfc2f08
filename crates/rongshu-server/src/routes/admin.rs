//! Departments, users and applications. The platform office manages every
//! department; a department's admin manages its own users and applications.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::auth::user_json;
use crate::service::{self, Doer};
use crate::state::AppState;
use rongshu_core::account::{DepartmentCode, Role};
use rongshu_store::TokenOwner;

pub(crate) fn doer(actor: &Actor) -> Doer {
    Doer {
        label: actor.label(),
        department: Some(actor.department().code.clone()),
    }
}

/// Every department (any signed-in caller).
#[utoipa::path(get, path = "/api/v1/departments", tag = "admin",
    responses((status = 200, description = "Departments"), (status = 401, description = "Not signed in")))]
pub async fn list_departments(
    State(state): State<AppState>,
    _actor: Actor,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items = state.store.departments().await?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewDepartment {
    code: String,
    name: String,
    parent: Option<String>,
}

/// Create a department (platform office only).
#[utoipa::path(post, path = "/api/v1/departments", tag = "admin", request_body = NewDepartment,
    responses((status = 201, description = "Created"), (status = 403, description = "Not the platform office"),
              (status = 409, description = "The code is taken")))]
pub async fn create_department(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewDepartment>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    actor.require_any_role(&[Role::PlatformAdmin], "creating a department")?;
    let dept = service::create_department(
        &state.store,
        state.clock.now(),
        &doer(&actor),
        &req.code,
        &req.name,
        req.parent.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(dept))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUserRequest {
    username: String,
    department: String,
    #[serde(default)]
    roles: Vec<String>,
    password: String,
}

/// Create a user: the platform office in any department, a department admin in its own.
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = NewUserRequest,
    responses((status = 201, description = "Created"), (status = 403, description = "Not allowed for that department"),
              (status = 409, description = "The user name is taken")))]
pub async fn create_user(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let roles = req
        .roles
        .iter()
        .map(|r| Role::parse(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::BadRequest)?;
    let own_department = actor.department().code == req.department;
    let allowed = actor.is_platform_admin()
        || (actor.has_role(Role::DeptAdmin)
            && own_department
            && !roles.contains(&Role::PlatformAdmin));
    if !allowed {
        return Err(ApiError::Forbidden(
            "users are created by the platform office, or by a department admin in their own department".into(),
        ));
    }
    let user = service::create_user(
        &state.store,
        state.clock.now(),
        &doer(&actor),
        service::NewAccount {
            username: &req.username,
            department: &req.department,
            roles: &roles,
            password: Some(&req.password),
        },
        state.config.password_cost,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewApplication {
    name: String,
}

/// Register one of the caller's department's systems as an application (department admin).
#[utoipa::path(post, path = "/api/v1/applications", tag = "admin", request_body = NewApplication,
    responses((status = 201, description = "Created"), (status = 403, description = "Not a department admin")))]
pub async fn create_application(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewApplication>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    actor.require_any_role(
        &[Role::DeptAdmin, Role::PlatformAdmin],
        "registering an application",
    )?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "an application needs a name of 1 to 100 characters".into(),
        ));
    }
    let department =
        DepartmentCode::parse(&actor.department().code).map_err(ApiError::internal_msg)?;
    let now = state.clock.now();
    let audit = doer(&actor).record(now, "application.create", Some(name.to_owned()), json!({}));
    let app = state
        .store
        .create_application(&department, name, audit)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(app))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewKeyRequest {
    expires_days: Option<i64>,
}

/// A new key for one of the department's applications, shown once (department admin).
#[utoipa::path(post, path = "/api/v1/applications/{name}/tokens", tag = "admin", request_body = NewKeyRequest,
    params(("name" = String, Path, description = "The application's name")),
    responses((status = 201, description = "The key, shown once"), (status = 403, description = "Not a department admin"),
              (status = 404, description = "No such application in the caller's department")))]
pub async fn create_application_token(
    State(state): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<NewKeyRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    actor.require_any_role(&[Role::DeptAdmin], "issuing an application key")?;
    let app = state
        .store
        .application(&actor.department().code, &name)
        .await?;
    let (id, plain, expires_at) = service::create_token(
        &state.store,
        state.clock.now(),
        &doer(&actor),
        &TokenOwner::Application(app),
        "application key",
        req.expires_days,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "token": plain, "expires_at": expires_at })),
    ))
}
