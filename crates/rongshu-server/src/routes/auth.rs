//! Sign-in, sign-out, the caller's own profile and tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Actor, SESSION_COOKIE, password, token};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::service::{self, Doer};
use crate::state::AppState;
use rongshu_core::account::Role;
use rongshu_store::{StoreError, TokenOwner, User};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    username: String,
    password: String,
}

/// A successful sign-in: a web session and an API token.
pub struct LoginOutcome {
    pub user: User,
    pub session_id: String,
    pub csrf_token: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl LoginOutcome {
    pub fn session_cookie(&self, state: &AppState) -> String {
        let secure = if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            self.session_id,
            state.config.session_hours * 3600
        )
    }
}

fn doer_for(user: &User) -> Doer {
    Doer {
        label: format!("user:{}", user.username),
        department: Some(user.department.code.clone()),
    }
}

/// Check a user name and password, with throttling, and open a session.
/// Both outcomes are audited; neither the password nor the token is.
pub async fn login(
    state: &AppState,
    username: &str,
    password_plain: &str,
) -> Result<LoginOutcome, ApiError> {
    let now = state.clock.now();
    let window_start = now - Duration::minutes(state.config.login_window_minutes);
    let failures = state
        .store
        .login_failures_since(username, window_start)
        .await?;
    if failures >= state.config.login_max_failures {
        return Err(ApiError::TooManyRequests(format!(
            "too many failed sign-ins for this user; try again in {} minutes",
            state.config.login_window_minutes
        )));
    }
    let candidate = match state.store.login_candidate(username).await {
        Ok(c) => Some(c),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let stored = candidate
        .as_ref()
        .and_then(|c| c.password_hash.clone())
        .unwrap_or_else(|| state.decoy_hash.clone());
    let presented = password_plain.to_owned();
    let matches = tokio::task::spawn_blocking(move || password::verify(&presented, &stored))
        .await
        .map_err(ApiError::internal)?;
    let user = match candidate {
        Some(c) if matches && !c.disabled && c.password_hash.is_some() => c.user,
        _ => {
            let doer = Doer {
                label: "anonymous".into(),
                department: None,
            };
            let audit = doer.record(
                now,
                "auth.login_failed",
                Some(username.chars().take(64).collect()),
                json!({}),
            );
            state
                .store
                .record_login_failure(username, now, audit)
                .await?;
            return Err(ApiError::Unauthorized(
                "the user name or password is wrong".into(),
            ));
        }
    };
    state.store.clear_login_failures(username).await?;
    let session_id = token::random_secret();
    let csrf_token = token::random_secret();
    let expires_at = now + Duration::hours(state.config.session_hours);
    state
        .store
        .create_session(
            &token::hash(&session_id),
            user.id,
            &csrf_token,
            now,
            expires_at,
        )
        .await?;
    let doer = doer_for(&user);
    let (_, plain, _) = service::create_token(
        &state.store,
        now,
        &doer,
        &TokenOwner::User(user.clone()),
        "sign-in",
        None,
    )
    .await?;
    state
        .store
        .append_audit(&doer.record(now, "auth.login", Some(user.username.clone()), json!({})))
        .await?;
    Ok(LoginOutcome {
        user,
        session_id,
        csrf_token,
        token: plain,
        expires_at,
    })
}

/// Sign in with a user name and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in: a session cookie is set and a token returned"),
              (status = 401, description = "Wrong user name or password"),
              (status = 429, description = "Too many failed attempts")))]
pub async fn login_handler(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let outcome = login(&state, &req.username, &req.password).await?;
    let cookie = outcome.session_cookie(&state);
    let body = Json(json!({
        "token": outcome.token,
        "csrf_token": outcome.csrf_token,
        "expires_at": outcome.expires_at,
        "user": user_json(&outcome.user),
    }));
    let mut response = body.into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub fn user_json(user: &User) -> serde_json::Value {
    json!({
        "username": user.username,
        "department": { "code": user.department.code, "name": user.department.name },
        "roles": user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    })
}

/// End the web session of the caller (its cookie); tokens stay valid until revoked.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 200, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    actor: Actor,
) -> Result<Response, ApiError> {
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_owned());
    if let Some(id) = session {
        state.store.delete_session(&token::hash(&id)).await?;
    }
    let now = state.clock.now();
    let doer = Doer {
        label: actor.label(),
        department: Some(actor.department().code.clone()),
    };
    state
        .store
        .append_audit(&doer.record(now, "auth.logout", None, json!({})))
        .await?;
    let mut response = Json(json!({ "status": "signed out" })).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("rongshu_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, description = "The caller"), (status = 401, description = "Not signed in")))]
pub async fn me(actor: Actor) -> Json<serde_json::Value> {
    match &actor.kind {
        crate::auth::ActorKind::User(u) => Json(json!({ "kind": "user", "user": user_json(u) })),
        crate::auth::ActorKind::Application(a) => Json(json!({
            "kind": "application",
            "application": { "name": a.name, "department": { "code": a.department.code, "name": a.department.name } },
        })),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewTokenRequest {
    #[serde(default)]
    label: Option<String>,
    expires_days: Option<i64>,
}

/// A new API token for the signed-in user, shown once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = NewTokenRequest,
    responses((status = 201, description = "The token, shown once"), (status = 401, description = "Not signed in")))]
pub async fn create_own_token(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewTokenRequest>,
) -> Result<Response, ApiError> {
    let user = actor
        .user()
        .ok_or_else(|| {
            ApiError::Forbidden(
                "an application cannot make tokens; its department's admin can".into(),
            )
        })?
        .clone();
    let label = req.label.unwrap_or_else(|| "api".into());
    let doer = doer_for(&user);
    let (id, plain, expires_at) = service::create_token(
        &state.store,
        state.clock.now(),
        &doer,
        &TokenOwner::User(user),
        &label,
        req.expires_days,
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "id": id, "token": plain, "label": label, "expires_at": expires_at })),
    )
        .into_response())
}

/// Revoke a token: its own user, an admin of the owning department, or the platform office.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth",
    params(("id" = i64, Path, description = "The token's id")),
    responses((status = 200, description = "Revoked"), (status = 403, description = "Not yours to revoke"),
              (status = 404, description = "No such active token")))]
pub async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let info = state.store.token_by_id(id).await?;
    let owner_department = match &info.owner {
        TokenOwner::User(u) => &u.department.code,
        TokenOwner::Application(a) => &a.department.code,
    };
    let own =
        matches!((&info.owner, actor.user()), (TokenOwner::User(u), Some(me)) if u.id == me.id);
    let dept_admin =
        actor.has_role(Role::DeptAdmin) && &actor.department().code == owner_department;
    if !(own || dept_admin || actor.is_platform_admin()) {
        return Err(ApiError::Forbidden(
            "only the token's owner or an admin of its department may revoke it".into(),
        ));
    }
    let doer = Doer {
        label: actor.label(),
        department: Some(actor.department().code.clone()),
    };
    let now = state.clock.now();
    let audit = doer.record(now, "token.revoke", Some(format!("token:{id}")), json!({}));
    state.store.revoke_token(id, now, audit).await?;
    Ok(Json(json!({ "id": id, "revoked": true })))
}
