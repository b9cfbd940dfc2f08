//! The citizen's API: ask for a sign-in code, sign in with it, see who read
//! one's data, sign out.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::citizen::Citizen;
use crate::citizen::access_log::{AccessLogPage, DEFAULT_LIMIT, read_own_log};
use crate::citizen::sign_in::{CLEAR_COOKIE, ask_for_code, sign_in, sign_out};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The citizen ID number (18 characters, or 15 in the old form).
    id_number: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CitizenLoginRequest {
    id_number: String,
    /// The six digits sent to the registered phone.
    code: String,
}

#[derive(Deserialize)]
pub struct LogQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// What every code request is told, registered or not.
const SENT: &str =
    "if a mobile number is registered for this ID number, a sign-in code was sent to it";

/// Ask for a one-time sign-in code. It goes to the mobile number registered
/// for the ID number; the answer is the same whether there is one or not.
/// Codes last 5 minutes; one a minute and five an hour per ID number.
#[utoipa::path(post, path = "/api/v1/citizen/otp", tag = "citizen", request_body = CodeRequest,
    responses((status = 200, description = "`{\"status\": \"sent\", \"message\", \"expires_in\": seconds}`, and in the demo `demo_code`"),
              (status = 400, description = "Not a valid ID number"),
              (status = 429, description = "Asked too often"),
              (status = 503, description = "No short-message gateway is configured")))]
pub async fn request_code(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Json<Value>, ApiError> {
    let asked = ask_for_code(&state, &req.id_number).await?;
    let mut body = json!({
        "status": "sent",
        "message": SENT,
        "expires_in": asked.expires_in,
    });
    if let Some(code) = asked.shown {
        body["demo_code"] = Value::String(code.as_str().to_owned());
    }
    Ok(Json(body))
}

/// Sign in with the ID number and the code: a citizen session cookie is set
/// (changes made with it need `X-CSRF-Token` with the `csrf_token` answered).
#[utoipa::path(post, path = "/api/v1/citizen/login", tag = "citizen", request_body = CitizenLoginRequest,
    responses((status = 200, description = "Signed in: `{\"csrf_token\", \"expires_at\"}` and a session cookie"),
              (status = 400, description = "Not a valid ID number or code"),
              (status = 401, description = "Wrong or expired code"),
              (status = 429, description = "The code was tried too many times")))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CitizenLoginRequest>,
) -> Result<Response, ApiError> {
    let signed_in = sign_in(&state, &req.id_number, &req.code).await?;
    let cookie = signed_in.cookie(&state);
    let mut response = Json(json!({
        "csrf_token": signed_in.csrf_token,
        "expires_at": signed_in.expires_at,
    }))
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// End the citizen's session.
#[utoipa::path(post, path = "/api/v1/citizen/logout", tag = "citizen",
    responses((status = 200, description = "Signed out"),
              (status = 401, description = "Not signed in as a citizen"),
              (status = 403, description = "No X-CSRF-Token")))]
pub async fn logout(State(state): State<AppState>, citizen: Citizen) -> Result<Response, ApiError> {
    sign_out(&state, &citizen.session_id, &citizen.person).await?;
    let mut response = Json(json!({ "status": "signed out" })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    Ok(response)
}

/// Every read of the signed-in citizen's data, newest first: when, which
/// department, application or person, which resource and items, under which
/// grant and purpose, and how (records, query, export, changes, verify,
/// webhook). Citizen session only.
#[utoipa::path(get, path = "/api/v1/me/access-log", tag = "citizen",
    params(("before" = Option<i64>, Query, description = "Only entries older than this one (its `seq`); `next_before` of the previous page"),
           ("limit" = Option<i64>, Query, description = "Entries per page, 1 to 200 (default 50)")),
    responses((status = 200, description = "`{\"entries\": [{seq, at, operation, department, application, user, subscription, resource, items, masked, grant, purpose}], \"next_before\"}`"),
              (status = 401, description = "Not signed in as a citizen")))]
pub async fn access_log(
    State(state): State<AppState>,
    citizen: Citizen,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<AccessLogPage>, ApiError> {
    let page = read_own_log(
        &state,
        &citizen.person,
        q.before,
        q.limit.unwrap_or(DEFAULT_LIMIT),
    )
    .await?;
    Ok(Json(page))
}
