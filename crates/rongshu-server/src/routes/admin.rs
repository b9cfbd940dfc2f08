//! Departments and users. The platform office manages every department; a
//! department's admin manages its own users (and applications: see
//! `applications`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::auth::user_json;
use crate::service::{self, Doer};
use crate::state::AppState;
use rongshu_core::account::Role;

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
