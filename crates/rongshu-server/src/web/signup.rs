//! `/signup`: the portal's form for an open API key. Anyone may sign up;
//! the key is shown once on the answer page, with how to use it. The form
//! carries a double-submit CSRF token, as the other forms before sign-in do.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::console::{Fields, csrf_refused, field};
use super::portal::Chrome;
use super::{Texts, cookie, render};
use crate::auth::token;
use crate::error::ApiError;
use crate::routes::open_accounts::{SignUpBody, sign_up};
use crate::state::AppState;

const FORM_COOKIE: &str = "rongshu_signup_form";

pub fn routes() -> Router<AppState> {
    Router::new().route("/signup", get(form).post(submit))
}

#[derive(Template)]
#[template(path = "portal/signup.html")]
struct SignUpPage<'a> {
    c: Chrome,
    t: &'static Texts,
    csrf: String,
    error: &'a str,
    email: &'a str,
    name: &'a str,
    organisation: &'a str,
    limit: u32,
    /// Set once signed up: the key, shown this once.
    key: Option<String>,
}

fn page(
    state: &AppState,
    c: Chrome,
    status: StatusCode,
    values: (&str, &str, &str),
    error: &str,
    key: Option<String>,
) -> Response {
    let csrf = token::random_secret();
    let mut cookies = c.cookies();
    cookies.push(format!(
        "{FORM_COOKIE}={csrf}; Path=/signup; HttpOnly; SameSite=Strict; Max-Age=3600"
    ));
    let (email, name, organisation) = values;
    let mut response = render(
        &SignUpPage {
            t: c.t,
            c,
            csrf,
            error,
            email,
            name,
            organisation,
            limit: state.open_limits.limit().get(),
            key,
        },
        &cookies,
    );
    *response.status_mut() = status;
    response
}

async fn form(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let c = Chrome::new("/signup", &pairs, &headers, "signup");
    page(&state, c, StatusCode::OK, ("", "", ""), "", None)
}

async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    let c = Chrome::new("/signup", &[], &headers, "signup");
    let t = c.t;
    let sent = field(&fields, "csrf");
    if sent.is_empty() || cookie(&headers, FORM_COOKIE) != Some(sent) {
        return csrf_refused();
    }
    let body = SignUpBody {
        email: field(&fields, "email").to_owned(),
        name: field(&fields, "name").to_owned(),
        organisation: field(&fields, "organisation").to_owned(),
        password: field(&fields, "password").to_owned(),
    };
    let values = (
        body.email.as_str(),
        body.name.as_str(),
        body.organisation.as_str(),
    );
    match sign_up(&state, &body).await {
        Ok(made) => page(
            &state,
            c,
            StatusCode::CREATED,
            ("", "", ""),
            "",
            Some(made.secret),
        ),
        // The checks' messages name the field; the form keeps what was typed
        // (never the password).
        Err(ApiError::BadRequest(message)) => {
            let error = format!("{}{message}", t.l("signup_fix"));
            page(&state, c, StatusCode::BAD_REQUEST, values, &error, None)
        }
        Err(ApiError::Conflict(_)) => page(
            &state,
            c,
            StatusCode::CONFLICT,
            values,
            t.l("signup_taken"),
            None,
        ),
        Err(e) => e.into_response(),
    }
}
