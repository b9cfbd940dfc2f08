//! The `Citizen` extractor: a signed-in citizen, from the citizen session
//! cookie and nothing else. Staff sessions and tokens are a different cookie
//! and a different table, so neither kind of sign-in opens the other's pages.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use rongshu_core::people::PersonHash;

use crate::auth::actor::{CSRF_HEADER, cookie_value};
use crate::auth::token;
use crate::error::ApiError;
use crate::state::AppState;

pub const CITIZEN_COOKIE: &str = "rongshu_citizen";

/// A citizen whose session was checked.
#[derive(Debug, Clone)]
pub struct Citizen {
    pub person: PersonHash,
    /// The session's CSRF token, for forms and the `X-CSRF-Token` header.
    pub csrf: String,
    /// The cookie's value, to end the session with.
    pub session_id: String,
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Citizen>, ApiError> {
    let Some(session_id) = cookie_value(parts, CITIZEN_COOKIE) else {
        return Ok(None);
    };
    let session = state
        .store
        .citizen_session(&token::hash(session_id), state.clock.now())
        .await?;
    Ok(session.map(|s| Citizen {
        person: s.person,
        csrf: s.csrf_token,
        session_id: session_id.to_owned(),
    }))
}

impl FromRequestParts<AppState> for Citizen {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let citizen = resolve(parts, state).await?.ok_or_else(|| {
            ApiError::Unauthorized(
                "sign in as a citizen first: POST /api/v1/citizen/otp, then /api/v1/citizen/login"
                    .into(),
            )
        })?;
        // The cookie goes along by itself; a change must prove it came from us.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if presented != Some(citizen.csrf.as_str()) {
                return Err(ApiError::Forbidden(
                    "a change made with a session cookie needs the X-CSRF-Token header".into(),
                ));
            }
        }
        Ok(citizen)
    }
}

/// For the citizen pages: the citizen if signed in. Forms check their own
/// CSRF field.
pub struct MaybeCitizen(pub Option<Citizen>);

impl FromRequestParts<AppState> for MaybeCitizen {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeCitizen(resolve(parts, state).await?))
    }
}
