//! The `Actor` extractor: a handler that takes an `Actor` cannot run for an
//! anonymous caller, and one that needs a role asks the actor for it, so the
//! refusal is the same everywhere.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use rongshu_core::account::Role;
use rongshu_store::{Application, Department, TokenOwner, User};

use crate::auth::{client_ip, token};
use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "rongshu_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Debug, Clone)]
pub enum ActorKind {
    User(User),
    Application(Application),
}

/// A caller whose credentials were checked.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    /// Set when the caller came with a web session: its CSRF token.
    pub session_csrf: Option<String>,
}

impl Actor {
    pub fn department(&self) -> &Department {
        match &self.kind {
            ActorKind::User(u) => &u.department,
            ActorKind::Application(a) => &a.department,
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        match &self.kind {
            ActorKind::User(u) => u.roles.contains(&role),
            ActorKind::Application(_) => false,
        }
    }

    pub fn is_platform_admin(&self) -> bool {
        self.has_role(Role::PlatformAdmin)
    }

    /// How the actor is named in the audit log.
    pub fn label(&self) -> String {
        match &self.kind {
            ActorKind::User(u) => format!("user:{}", u.username),
            ActorKind::Application(a) => format!("app:{}/{}", a.department.code, a.name),
        }
    }

    pub fn user(&self) -> Option<&User> {
        match &self.kind {
            ActorKind::User(u) => Some(u),
            ActorKind::Application(_) => None,
        }
    }

    /// Refuse unless the actor holds one of `roles`.
    pub fn require_any_role(&self, roles: &[Role], doing: &str) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has_role(*r)) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "{doing} needs the role {}",
            names.join(" or ")
        )))
    }
}

pub(crate) fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// An application's key works only while the application is enabled, from
/// an address on its allow-list, and within its rate limit.
fn admit_application(
    parts: &Parts,
    state: &AppState,
    app: &Application,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    if app.disabled_at.is_some() {
        return Err(ApiError::Unauthorized(format!(
            "application {}/{} is disabled; its keys do not work",
            app.department.code, app.name
        )));
    }
    let ip = client_ip::of(parts, &state.config.trusted_proxies);
    state.app_guards.admit(app, ip, now)
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Actor>, ApiError> {
    let now = state.clock.now();
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let presented = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be \"Bearer <token>\"".into())
            })?;
        let hash = token::hash(presented);
        let info = match state.read_cache.token(&hash) {
            Some(cached) => cached.as_ref().clone(),
            None => {
                let ticket = state.read_cache.ticket();
                let info = state
                    .store
                    .token_by_hash(&hash)
                    .await?
                    .ok_or_else(|| ApiError::Unauthorized("the token is not known".into()))?;
                // Only known tokens are kept: random ones sent by the
                // thousand must not push the callers' own out of the cache.
                state.read_cache.put_token(hash, ticket, info.clone());
                info
            }
        };
        if info.revoked {
            return Err(ApiError::Unauthorized("the token was revoked".into()));
        }
        if info.expires_at.is_some_and(|t| t <= now) {
            return Err(ApiError::Unauthorized("the token has expired".into()));
        }
        let kind = match info.owner {
            TokenOwner::User(u) => ActorKind::User(u),
            TokenOwner::Application(a) => {
                admit_application(parts, state, &a, now)?;
                state.key_use.note(&state.store, info.id, now);
                ActorKind::Application(a)
            }
        };
        return Ok(Some(Actor {
            kind,
            session_csrf: None,
        }));
    }
    if let Some(session_id) = cookie_value(parts, SESSION_COOKIE)
        && let Some(session) = state
            .store
            .session_by_hash(&token::hash(session_id), now)
            .await?
    {
        return Ok(Some(Actor {
            kind: ActorKind::User(session.user),
            session_csrf: Some(session.csrf_token),
        }));
    }
    Ok(None)
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let actor = resolve(parts, state)
            .await?
            .ok_or_else(|| ApiError::Unauthorized(String::new()))?;
        // A cookie is sent by the browser on its own; a change made with one must
        // also prove it came from our page.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if let (Some(expected), false) = (&actor.session_csrf, safe) {
            let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if presented != Some(expected.as_str()) {
                return Err(ApiError::Forbidden(
                    "a change made with a session cookie needs the X-CSRF-Token header".into(),
                ));
            }
        }
        Ok(actor)
    }
}

/// For pages that anyone may see but that show more to a signed-in user.
pub struct MaybeActor(pub Option<Actor>);

impl FromRequestParts<AppState> for MaybeActor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // A bad or expired credential on a public page just means "not signed in".
        Ok(MaybeActor(resolve(parts, state).await.ok().flatten()))
    }
}
