//! Server-rendered pages: the public portal at `/` and the console at
//! `/console`. They work without JavaScript; forms carry a CSRF token.

mod applications;
mod batches;
mod citizen;
mod console;
mod elements;
mod i18n;
mod linkage;
mod open_plans;
mod portal;
mod registry;
mod sharing;
mod signup;
mod subscriptions;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub use i18n::{Lang, Texts};

use crate::auth::{MaybeActor, SESSION_COOKIE, token};
use crate::error::ApiError;
use crate::routes::login;
use crate::state::AppState;
use rongshu_core::catalog::ShareType;

const LANG_COOKIE: &str = "rongshu_lang";
const LOGIN_CSRF_COOKIE: &str = "rongshu_login_csrf";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(console))
        .route("/console/login", post(console_login))
        .route("/console/logout", post(console_logout))
        .merge(console::routes())
        .merge(elements::routes())
        .merge(batches::routes())
        .merge(sharing::routes())
        .merge(subscriptions::routes())
        .merge(applications::routes())
        .merge(citizen::routes())
        .merge(signup::routes())
        .merge(open_plans::routes())
        .merge(portal::routes())
        .merge(linkage::routes())
        .merge(registry::routes())
}

#[derive(Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `?lang=en|zh` wins and is remembered in a cookie; otherwise the cookie; otherwise Chinese.
pub(crate) fn choose_lang(query: &LangQuery, headers: &HeaderMap) -> (Lang, Option<String>) {
    let parse = |s: &str| match s {
        "en" => Some(Lang::En),
        "zh" => Some(Lang::Zh),
        _ => None,
    };
    if let Some(lang) = query.lang.as_deref().and_then(parse) {
        let set = format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            lang.code()
        );
        return (lang, Some(set));
    }
    let lang = cookie(headers, LANG_COOKIE)
        .and_then(parse)
        .unwrap_or(Lang::Zh);
    (lang, None)
}

pub(crate) fn render(template: &impl Template, set_cookies: &[String]) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = Html(html).into_response();
            for c in set_cookies {
                if let Ok(v) = HeaderValue::from_str(c) {
                    response.headers_mut().append(SET_COOKIE, v);
                }
            }
            response
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// A page with a form, shown again with `error` when the form was refused:
/// then 422, so that a client (or a test) can tell a refusal from a success
/// without reading the page.
pub(crate) fn render_form(template: &impl Template, error: &str) -> Response {
    let mut response = render(template, &[]);
    if !error.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

pub(crate) fn share_label(t: &Texts, share: ShareType) -> &'static str {
    match share {
        ShareType::Unconditional => t.share_unconditional,
        ShareType::Conditional => t.share_conditional,
        ShareType::None => t.share_none,
    }
}

pub struct ResourceRow {
    pub code: String,
    pub status: &'static str,
    pub name: String,
    pub share: &'static str,
    pub cycle: &'static str,
    pub rows: i64,
}

pub(crate) fn resource_rows(
    t: &Texts,
    lang: Lang,
    resources: Vec<rongshu_store::Resource>,
) -> Vec<ResourceRow> {
    resources
        .into_iter()
        .map(|r| ResourceRow {
            status: r.status.as_str(),
            share: share_label(t, r.spec.share_type),
            cycle: match lang {
                Lang::Zh => r.spec.update_cycle.label_zh(),
                Lang::En => r.spec.update_cycle.as_str(),
            },
            code: r.code,
            name: r.spec.name,
            rows: r.row_count,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'static Texts,
    csrf: String,
    error: &'a str,
}

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    t: &'static Texts,
    is_admin: bool,
    username: String,
    department: String,
    roles: String,
    csrf: String,
    resources: Vec<ResourceRow>,
}

fn login_page(lang: Lang, error: &str, status: StatusCode, set_lang: Option<String>) -> Response {
    let csrf = token::random_secret();
    let mut cookies: Vec<String> = set_lang.into_iter().collect();
    cookies.push(format!(
        "{LOGIN_CSRF_COOKIE}={csrf}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=3600"
    ));
    let mut response = render(
        &LoginPage {
            t: lang.texts(),
            csrf,
            error,
        },
        &cookies,
    );
    *response.status_mut() = status;
    response
}

async fn console(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    MaybeActor(actor): MaybeActor,
) -> Response {
    let (lang, set_lang) = choose_lang(&q, &headers);
    let Some(actor) = actor.filter(|a| a.session_csrf.is_some()) else {
        return login_page(lang, "", StatusCode::OK, set_lang);
    };
    let t = lang.texts();
    let Some(user) = actor.user() else {
        return login_page(lang, "", StatusCode::OK, set_lang);
    };
    match state.store.resources(Some(&user.department.code)).await {
        Ok(resources) => {
            let page = ConsolePage {
                t,
                is_admin: actor.is_platform_admin(),
                username: user.username.clone(),
                department: user.department.name.clone(),
                roles: user
                    .roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                csrf: actor.session_csrf.clone().unwrap_or_default(),
                resources: resource_rows(t, lang, resources),
            };
            render(&page, set_lang.as_slice())
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn console_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let (lang, _) = choose_lang(&LangQuery { lang: None }, &headers);
    let t = lang.texts();
    // Double-submit check: the form's token must match the cookie we set with it.
    if cookie(&headers, LOGIN_CSRF_COOKIE) != Some(form.csrf.as_str()) || form.csrf.is_empty() {
        return login_page(lang, t.form_expired, StatusCode::FORBIDDEN, None);
    }
    match login(&state, &form.username, &form.password).await {
        Ok(outcome) => {
            let mut response = Redirect::to("/console").into_response();
            if let Ok(v) = HeaderValue::from_str(&outcome.session_cookie(&state)) {
                response.headers_mut().append(SET_COOKIE, v);
            }
            response
        }
        Err(ApiError::TooManyRequests(_)) => {
            login_page(lang, t.login_throttled, StatusCode::TOO_MANY_REQUESTS, None)
        }
        Err(ApiError::Unauthorized(_)) => {
            login_page(lang, t.login_failed, StatusCode::UNAUTHORIZED, None)
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

async fn console_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeActor(actor): MaybeActor,
    Form(form): Form<LogoutForm>,
) -> Response {
    let Some(actor) = actor else {
        return Redirect::to("/console").into_response();
    };
    if actor.session_csrf.as_deref() != Some(form.csrf.as_str()) {
        return (StatusCode::FORBIDDEN, "CSRF token mismatch").into_response();
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = state.store.delete_session(&token::hash(id)).await
    {
        return ApiError::from(e).into_response();
    }
    let mut response = Redirect::to("/console").into_response();
    response.headers_mut().append(
        SET_COOKIE,
        HeaderValue::from_static("rongshu_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    response
}
