//! The console's applications: the department's systems with their state,
//! allow-list and rate limit; one application's page with its keys (prefix,
//! label, created, last used, expiry, state), forms to issue, rotate and
//! revoke keys, to change its settings and to disable it, and the grants it
//! reads under. A new key's secret is shown on the page that answers the form
//! (never in a redirect, which would put it in a URL), once, and not cached.
//! The forms call the same functions as the API, so the rules are the API's.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, Utc};
use rongshu_store::Application;

use super::console::{
    ConsoleUser, Fields, NoticeQuery, csrf_ok, csrf_refused, error_page, field,
    form_urlencoded_component,
};
use super::{LangQuery, Texts, choose_lang, render_form};
use crate::auth::app_guard::effective_limit;
use crate::error::ApiError;
use crate::routes::applications::keys::{self, KeyView, NewKeyRequest, RotateRequest};
use crate::routes::applications::{self, AppInHand, ApplicationPatch, Right, application_in_hand};
use crate::routes::grants;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console/applications",
            get(application_list).post(application_create),
        )
        .route("/console/applications/{id}", get(application_detail))
        .route(
            "/console/applications/{id}/{action}",
            post(application_action),
        )
        .route(
            "/console/applications/{id}/keys/{key_id}/{action}",
            post(key_action),
        )
}

/// A time as Chengdu reads it, to the minute.
fn local_time(t: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(cst) => t.with_timezone(&cst).format("%Y-%m-%d %H:%M").to_string(),
        None => t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(local_time).unwrap_or_default()
}

struct AppRow {
    id: i64,
    name: String,
    department: String,
    description: String,
    allowed: String,
    limit: u32,
    limit_is_default: bool,
    state_key: &'static str,
}

fn state_key(app: &Application) -> &'static str {
    if app.disabled_at.is_some() {
        "app_disabled"
    } else {
        "app_active"
    }
}

fn app_row(app: &Application, state: &AppState) -> AppRow {
    AppRow {
        id: app.id,
        name: app.name.clone(),
        department: app.department.name.clone(),
        description: app.description.clone(),
        allowed: app.allowed_ips.join(", "),
        limit: effective_limit(app, state.app_guards.default_limit()).get(),
        limit_is_default: app.rate_limit_per_minute.is_none(),
        state_key: state_key(app),
    }
}

#[derive(Template)]
#[template(path = "applications.html")]
struct ListPage<'a> {
    t: &'static Texts,
    csrf: String,
    error: &'a str,
    items: Vec<AppRow>,
    can_register: bool,
    form_name: String,
    form_description: String,
}

async fn list_page(
    state: &AppState,
    user: ConsoleUser,
    t: &'static Texts,
    error: &str,
    form: (String, String),
) -> Response {
    let list = match applications::applications_for(state, &user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(e),
    };
    let page = ListPage {
        t,
        error,
        items: list.iter().map(|a| app_row(a, state)).collect(),
        can_register: user.actor.has_role(rongshu_core::account::Role::DeptAdmin)
            || user.actor.is_platform_admin(),
        csrf: user.csrf,
        form_name: form.0,
        form_description: form.1,
    };
    render_form(&page, error)
}

async fn application_list(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    list_page(&state, user, t, "", (String::new(), String::new())).await
}

async fn application_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    let name = field(&fields, "name").to_owned();
    let description = field(&fields, "description").to_owned();
    match applications::register(&state, &user.actor, &name, &description).await {
        Ok(app) => Redirect::to(&format!("/console/applications/{}", app.id)).into_response(),
        Err(e @ (ApiError::BadRequest(_) | ApiError::Conflict(_) | ApiError::Forbidden(_))) => {
            list_page(&state, user, t, &e.to_string(), (name, description)).await
        }
        Err(e) => error_page(e),
    }
}

struct KeyRow {
    id: i64,
    label: String,
    prefix: String,
    created: String,
    last_used: String,
    expires: String,
    state_key: String,
    can_rotate: bool,
    can_revoke: bool,
}

struct GrantRow {
    id: i64,
    request_id: Option<i64>,
    resource: String,
    items: String,
    expires: String,
    state_key: &'static str,
}

/// A key just issued, shown on this one page.
struct Secret {
    key: String,
    prefix: String,
}

#[derive(Template)]
#[template(path = "application.html")]
struct DetailPage<'a> {
    t: &'static Texts,
    csrf: String,
    notice: &'a str,
    error: &'a str,
    secret: Option<Secret>,
    app: AppRow,
    created: String,
    disabled: bool,
    can_manage: bool,
    can_stop: bool,
    keys: Vec<KeyRow>,
    grants: Vec<GrantRow>,
    /// The settings form's values: as saved, or as typed when they came back.
    form_description: String,
    form_allowed: String,
    form_limit: String,
    default_limit: u32,
    default_grace_hours: i64,
}

struct PageInput<'a> {
    notice: &'a str,
    error: &'a str,
    secret: Option<Secret>,
    /// Typed settings to show again (description, allow-list, limit).
    typed: Option<(String, String, String)>,
}

async fn detail_page(
    state: &AppState,
    user: ConsoleUser,
    t: &'static Texts,
    id: i64,
    input: PageInput<'_>,
) -> Response {
    let loaded = async {
        let hand = application_in_hand(state, &user.actor, id).await?;
        let keys = keys::key_views(state, id).await?;
        let mut grants = grants::grants_for(state, &user.actor).await?;
        grants.retain(|g| g.application_id == id);
        Ok::<_, ApiError>((hand, keys, grants))
    }
    .await;
    let (hand, key_list, grant_list) = match loaded {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let now = state.clock.now();
    let AppInHand { app, right } = hand;
    let can_manage = right >= Right::Manage;
    let can_stop = right >= Right::Stop;
    let keys = key_list
        .into_iter()
        .map(|KeyView { key, state: s }| KeyRow {
            id: key.id,
            can_rotate: can_manage && s == "active",
            can_revoke: can_stop && key.revoked_at.is_none() && s != "expired",
            label: key.label,
            prefix: key.prefix.unwrap_or_else(|| "—".into()),
            created: local_time(key.created_at),
            last_used: opt_time(key.last_used_at),
            expires: opt_time(key.expires_at),
            state_key: format!("key_{s}"),
        })
        .collect();
    let grants = grant_list
        .into_iter()
        .map(|g| GrantRow {
            state_key: if g.revoked_at.is_some() {
                "grant_revoked"
            } else if g.is_active(now) {
                "grant_active"
            } else {
                "grant_expired"
            },
            id: g.id,
            request_id: g.request_id,
            resource: format!("{} {}", g.resource.code, g.resource.name),
            items: g.items.join("、"),
            expires: local_time(g.expires_at),
        })
        .collect();
    let (form_description, form_allowed, form_limit) = input.typed.unwrap_or_else(|| {
        (
            app.description.clone(),
            app.allowed_ips.join("\n"),
            app.rate_limit_per_minute
                .map(|n| n.to_string())
                .unwrap_or_default(),
        )
    });
    let page = DetailPage {
        t,
        notice: input.notice,
        error: input.error,
        secret: input.secret,
        created: local_time(app.created_at),
        disabled: app.disabled_at.is_some(),
        can_manage,
        can_stop,
        keys,
        grants,
        form_description,
        form_allowed,
        form_limit,
        default_limit: state.app_guards.default_limit().get(),
        default_grace_hours: state.config.key_rotation_grace.num_hours(),
        app: app_row(&app, state),
        csrf: user.csrf,
    };
    let has_secret = page.secret.is_some();
    let mut response = render_form(&page, input.error);
    if has_secret {
        // The page holds a secret: no copy in any cache, the browser's included.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn application_detail(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = q.texts(&headers);
    let notice = q.notice.as_deref().unwrap_or("");
    detail_page(
        &state,
        user,
        t,
        id,
        PageInput {
            notice,
            error: "",
            secret: None,
            typed: None,
        },
    )
    .await
}

fn back_to(id: i64, notice: &str) -> Response {
    let url = if notice.is_empty() {
        format!("/console/applications/{id}")
    } else {
        format!(
            "/console/applications/{id}?notice={}",
            form_urlencoded_component(notice)
        )
    };
    Redirect::to(&url).into_response()
}

/// Refusals a form can explain on its page; anything else is an error page.
fn explainable(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::BadRequest(_)
            | ApiError::Unprocessable(_)
            | ApiError::Conflict(_)
            | ApiError::Forbidden(_)
    )
}

/// A number typed into a form, or a message naming the field.
fn number(fields: &Fields, name: &str) -> Result<Option<i64>, ApiError> {
    match field(fields, name).trim() {
        "" => Ok(None),
        text => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{name}: \"{text}\" is not a whole number"))),
    }
}

/// The application's own forms: settings, a new key, disable, enable.
async fn application_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    let actor = user.actor.clone();
    match action.as_str() {
        "settings" => {
            let typed = (
                field(&fields, "description").to_owned(),
                field(&fields, "allowed_ips").to_owned(),
                field(&fields, "rate_limit_per_minute").trim().to_owned(),
            );
            let result = async {
                let limit = number(&fields, "rate_limit_per_minute")?;
                let patch = ApplicationPatch {
                    description: Some(typed.0.clone()),
                    // One entry a line (commas and spaces also separate).
                    allowed_ips: Some(
                        typed
                            .1
                            .split(|c: char| c == '\n' || c == ',' || c.is_whitespace())
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    ),
                    rate_limit_per_minute: Some(limit),
                };
                applications::change_settings(&state, &actor, id, patch).await
            }
            .await;
            match result {
                Ok(_) => back_to(id, t.l("saved")),
                Err(e) if explainable(&e) => {
                    let error = e.to_string();
                    let input = PageInput {
                        notice: "",
                        error: &error,
                        secret: None,
                        typed: Some(typed),
                    };
                    detail_page(&state, user, t, id, input).await
                }
                Err(e) => error_page(e),
            }
        }
        "keys" => {
            let result = async {
                let req = NewKeyRequest {
                    label: field(&fields, "label").to_owned(),
                    expires_days: number(&fields, "expires_days")?,
                };
                keys::issue(&state, &actor, id, &req).await
            }
            .await;
            match result {
                Ok(issued) => {
                    let input = PageInput {
                        notice: "",
                        error: "",
                        secret: Some(Secret {
                            key: issued.token,
                            prefix: issued.prefix,
                        }),
                        typed: None,
                    };
                    detail_page(&state, user, t, id, input).await
                }
                Err(e) if explainable(&e) => back_to(id, &e.to_string()),
                Err(e) => error_page(e),
            }
        }
        "disable" | "enable" => {
            match applications::set_disabled(&state, &actor, id, action == "disable").await {
                Ok(_) => back_to(id, ""),
                Err(e) if explainable(&e) => back_to(id, &e.to_string()),
                Err(e) => error_page(e),
            }
        }
        other => error_page(ApiError::NotFound(format!(
            "no application action \"{other}\""
        ))),
    }
}

/// A key's forms: rotate (the new secret is shown on the answer) and revoke.
async fn key_action(
    State(state): State<AppState>,
    Path((id, key_id, action)): Path<(i64, i64, String)>,
    headers: HeaderMap,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    let actor = user.actor.clone();
    match action.as_str() {
        "rotate" => {
            let result = async {
                let req = RotateRequest {
                    grace_hours: number(&fields, "grace_hours")?,
                    label: None,
                    expires_days: None,
                };
                keys::rotate_key(&state, &actor, id, key_id, &req).await
            }
            .await;
            match result {
                Ok(rotated) => {
                    let input = PageInput {
                        notice: "",
                        error: "",
                        secret: Some(Secret {
                            key: rotated.issued.token,
                            prefix: rotated.issued.prefix,
                        }),
                        typed: None,
                    };
                    detail_page(&state, user, t, id, input).await
                }
                Err(e) if explainable(&e) => back_to(id, &e.to_string()),
                Err(e) => error_page(e),
            }
        }
        "revoke" => match keys::revoke_key(&state, &actor, id, key_id).await {
            Ok(_) => back_to(id, ""),
            Err(e) if explainable(&e) => back_to(id, &e.to_string()),
            Err(e) => error_page(e),
        },
        other => error_page(ApiError::NotFound(format!("no key action \"{other}\""))),
    }
}
