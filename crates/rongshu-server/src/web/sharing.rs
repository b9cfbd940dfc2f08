//! The console's sharing pages: share requests from both sides (list with
//! due dates, age, overdue and escalation flags, a form to ask, the discussion
//! with the overdue reminders, and the provider's approve/reject forms),
//! grants (list, revoke), and the office's list of escalated requests. They call the
//! same functions as the API, so the rules are the API's.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rongshu_core::sharing::{Approval, Purpose, ShareRequestInput, local_date};
use rongshu_store::{ShareRequest, ShareRequestEvent};

use super::console::{
    ConsoleUser, Fields, NoticeQuery, csrf_ok, csrf_refused, error_page, field,
    form_urlencoded_component, split_list,
};
use super::{LangQuery, Texts, choose_lang, render, render_form};
use crate::error::ApiError;
use crate::routes::{applications, grants, share_requests};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console/share-requests",
            get(request_list).post(request_create),
        )
        .route("/console/share-requests/{id}", get(request_detail))
        .route(
            "/console/share-requests/{id}/{action}",
            post(request_action),
        )
        .route("/console/grants", get(grant_list))
        .route("/console/grants/{id}/revoke", post(grant_revoke))
        .route("/console/escalations", get(escalation_list))
}

struct RequestRow {
    id: i64,
    public_id: String,
    resource: String,
    side: &'static str,
    other: String,
    application: String,
    state_key: String,
    submitted: String,
    due: String,
    age: u32,
    overdue: bool,
    escalated: bool,
    provider: String,
    consumer: String,
    escalated_on: String,
    last_reminded: String,
}

fn request_rows(
    actor: &crate::auth::Actor,
    list: &[ShareRequest],
    calendar: &rongshu_core::sharing::WorkingCalendar,
    today: chrono::NaiveDate,
) -> Vec<RequestRow> {
    list.iter()
        .map(|r| {
            let timing = share_requests::timing(r, calendar, today);
            let side = share_requests::side(actor, r).unwrap_or("office");
            RequestRow {
                id: r.id,
                public_id: r.public_id.clone(),
                resource: format!("{} {}", r.resource.code, r.resource.name),
                side,
                other: if side == "consumer" {
                    r.provider.name.clone()
                } else {
                    r.consumer.name.clone()
                },
                application: r.application.clone(),
                state_key: format!("sr_{}", r.state.as_str()),
                submitted: local_date(r.submitted_at).to_string(),
                due: r.due_at.to_string(),
                age: timing.age_working_days,
                overdue: timing.overdue,
                escalated: r.escalated_at.is_some(),
                provider: r.provider.name.clone(),
                consumer: r.consumer.name.clone(),
                escalated_on: r
                    .escalated_at
                    .map(|t| local_date(t).to_string())
                    .unwrap_or_default(),
                last_reminded: r
                    .last_reminded_on
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Which requests a list page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Shown {
    #[default]
    All,
    Overdue,
    Escalated,
}

impl Shown {
    fn query(self) -> share_requests::ListQuery {
        share_requests::ListQuery {
            state: None,
            overdue: Some(self == Shown::Overdue),
            escalated: Some(self == Shown::Escalated),
        }
    }
}

/// What was typed into the request form, kept when it comes back with a mistake.
#[derive(Default)]
struct RequestForm {
    resource: String,
    application: String,
    items: String,
    purpose: String,
    purpose_text: String,
    legal_basis: String,
    row_scope: String,
    duration_days: String,
    plain_wanted: bool,
}

#[derive(Template)]
#[template(path = "share_requests.html")]
struct RequestsPage<'a> {
    t: &'static Texts,
    csrf: String,
    error: &'a str,
    shown: &'static str,
    items: Vec<RequestRow>,
    purposes: Vec<(&'static str, &'static str)>,
    form: RequestForm,
}

#[derive(serde::Deserialize)]
struct ListQuery {
    lang: Option<String>,
    overdue: Option<bool>,
    escalated: Option<bool>,
}

async fn requests_page(
    state: &AppState,
    user: ConsoleUser,
    t: &'static Texts,
    error: &str,
    shown: Shown,
    form: RequestForm,
) -> Response {
    let listing = async {
        let list = share_requests::list_for(state, &user.actor, &shown.query()).await?;
        let calendar = state.store.working_calendar().await?;
        Ok::<_, ApiError>((list, calendar))
    }
    .await;
    let (list, calendar) = match listing {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let today = local_date(state.clock.now());
    let page = RequestsPage {
        t,
        csrf: user.csrf,
        error,
        shown: match shown {
            Shown::All => "all",
            Shown::Overdue => "overdue",
            Shown::Escalated => "escalated",
        },
        items: request_rows(&user.actor, &list, &calendar, today),
        purposes: Purpose::ALL
            .into_iter()
            .map(|p| (p.as_str(), p.label_zh()))
            .collect(),
        form,
    };
    render_form(&page, error)
}

async fn request_list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = choose_lang(&LangQuery { lang: q.lang }, &headers).0.texts();
    let shown = if q.escalated.unwrap_or(false) {
        Shown::Escalated
    } else if q.overdue.unwrap_or(false) {
        Shown::Overdue
    } else {
        Shown::All
    };
    requests_page(&state, user, t, "", shown, RequestForm::default()).await
}

async fn request_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    let form = RequestForm {
        resource: field(&fields, "resource").trim().to_owned(),
        application: field(&fields, "application").trim().to_owned(),
        items: field(&fields, "items").to_owned(),
        purpose: field(&fields, "purpose").to_owned(),
        purpose_text: field(&fields, "purpose_text").to_owned(),
        legal_basis: field(&fields, "legal_basis").to_owned(),
        row_scope: field(&fields, "row_scope").to_owned(),
        duration_days: field(&fields, "duration_days").trim().to_owned(),
        plain_wanted: !field(&fields, "plain_wanted").is_empty(),
    };
    let duration_days = match form.duration_days.as_str() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let msg = format!("duration_days: \"{d}\" is not a number of days");
                return requests_page(&state, user, t, &msg, Shown::All, form).await;
            }
        },
    };
    let input = ShareRequestInput {
        resource: Some(form.resource.clone()),
        application: Some(form.application.clone()),
        items: split_list(&form.items),
        purpose: Some(form.purpose.clone()),
        purpose_text: form.purpose_text.clone(),
        legal_basis: form.legal_basis.clone(),
        row_scope: split_list(&form.row_scope),
        duration_days,
        plain_wanted: form.plain_wanted,
    };
    match share_requests::submit(&state, &user.actor, &input).await {
        Ok(r) => Redirect::to(&format!("/console/share-requests/{}", r.id)).into_response(),
        Err(
            e @ (ApiError::Unprocessable(_)
            | ApiError::BadRequest(_)
            | ApiError::Conflict(_)
            | ApiError::NotFound(_)
            | ApiError::Forbidden(_)),
        ) => requests_page(&state, user, t, &e.to_string(), Shown::All, form).await,
        Err(e) => error_page(e),
    }
}

#[derive(Template)]
#[template(path = "share_request.html")]
struct RequestPage<'a> {
    t: &'static Texts,
    csrf: String,
    notice: &'a str,
    r: ShareRequest,
    state_key: String,
    purpose_label: &'static str,
    age: u32,
    overdue: bool,
    submitted_on: String,
    escalated_on: String,
    events: Vec<ShareRequestEvent>,
    can_answer: bool,
    can_withdraw: bool,
}

async fn request_detail(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = q.texts(&headers);
    let loaded = async {
        let r = share_requests::visible_request(&state, &user.actor, id).await?;
        let events = state.store.share_request_events(id).await?;
        let calendar = state.store.working_calendar().await?;
        Ok::<_, ApiError>((r, events, calendar))
    }
    .await;
    let (r, events, calendar) = match loaded {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let timing = share_requests::timing(&r, &calendar, local_date(state.clock.now()));
    let actor = &user.actor;
    let dept = &actor.department().code;
    let open = r.state.is_open();
    let page = RequestPage {
        t,
        csrf: user.csrf.clone(),
        notice: q.notice.as_deref().unwrap_or(""),
        state_key: format!("sr_{}", r.state.as_str()),
        purpose_label: if t.code == "en" {
            r.purpose.as_str()
        } else {
            r.purpose.label_zh()
        },
        age: timing.age_working_days,
        overdue: timing.overdue,
        submitted_on: local_date(r.submitted_at).to_string(),
        escalated_on: r
            .escalated_at
            .map(|t| local_date(t).to_string())
            .unwrap_or_default(),
        events,
        can_answer: open
            && &r.provider.code == dept
            && share_requests::REVIEWER_ROLES
                .iter()
                .any(|role| actor.has_role(*role)),
        can_withdraw: open && &r.consumer.code == dept,
        r,
    };
    render(&page, &[])
}

async fn request_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let actor = &user.actor;
    let result = match action.as_str() {
        "comment" => share_requests::add_comment(&state, actor, id, field(&fields, "text"))
            .await
            .map(|_| ()),
        "approve" => {
            let optional_list = |name: &str| {
                let list = split_list(field(&fields, name));
                (!list.is_empty()).then_some(list)
            };
            let duration_days = match field(&fields, "duration_days").trim() {
                "" => None,
                d => match d.parse::<i64>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        return notice(id, &format!("duration_days: \"{d}\" is not a number"));
                    }
                },
            };
            let approval = Approval {
                items: optional_list("items"),
                row_scope: optional_list("row_scope"),
                duration_days,
                // The box is only offered when plain values were asked for.
                plain_allowed: (field(&fields, "plain_offered") == "1")
                    .then(|| !field(&fields, "plain_allowed").is_empty()),
                comment: field(&fields, "comment").to_owned(),
            };
            share_requests::approve_request(&state, actor, id, &approval)
                .await
                .map(|_| ())
        }
        "reject" => share_requests::reject_request(&state, actor, id, field(&fields, "reason"))
            .await
            .map(|_| ()),
        "withdraw" => share_requests::withdraw_request(&state, actor, id, field(&fields, "reason"))
            .await
            .map(|_| ()),
        other => {
            return error_page(ApiError::NotFound(format!(
                "no share request action \"{other}\""
            )));
        }
    };
    match result {
        Ok(()) => Redirect::to(&format!("/console/share-requests/{id}")).into_response(),
        Err(
            e @ (ApiError::Conflict(_)
            | ApiError::BadRequest(_)
            | ApiError::Unprocessable(_)
            | ApiError::Forbidden(_)),
        ) => notice(id, &e.to_string()),
        Err(e) => error_page(e),
    }
}

fn notice(id: i64, message: &str) -> Response {
    Redirect::to(&format!(
        "/console/share-requests/{id}?notice={}",
        form_urlencoded_component(message)
    ))
    .into_response()
}

// ---- grants -----------------------------------------------------------------

struct GrantRow {
    id: i64,
    request_id: Option<i64>,
    resource: String,
    consumer: String,
    application: String,
    /// Set when the viewer may open the application's page.
    application_id: Option<i64>,
    items: String,
    row_scope: String,
    plain_allowed: bool,
    expires: String,
    state_key: &'static str,
    can_revoke: bool,
}

#[derive(Template)]
#[template(path = "grants.html")]
struct GrantsPage<'a> {
    t: &'static Texts,
    csrf: String,
    notice: &'a str,
    items: Vec<GrantRow>,
}

async fn grant_list(
    State(state): State<AppState>,
    Query(q): Query<NoticeQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = q.texts(&headers);
    let list = match grants::grants_for(&state, &user.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(e),
    };
    let now = state.clock.now();
    let actor = &user.actor;
    let dept = actor.department().code.clone();
    let reviewer = share_requests::REVIEWER_ROLES
        .iter()
        .any(|role| actor.has_role(*role));
    let items = list
        .into_iter()
        .map(|g| {
            let active = g.is_active(now);
            GrantRow {
                id: g.id,
                request_id: g.request_id,
                resource: format!("{} {}", g.resource.code, g.resource.name),
                consumer: g.consumer.name.clone(),
                application: g.application.clone(),
                application_id: applications::right_over(actor, &g.consumer.code)
                    .map(|_| g.application_id),
                items: g.items.join("、"),
                row_scope: g.row_scope.join("；"),
                plain_allowed: g.plain_allowed,
                expires: local_date(g.expires_at).to_string(),
                state_key: if g.revoked_at.is_some() {
                    "grant_revoked"
                } else if active {
                    "grant_active"
                } else {
                    "grant_expired"
                },
                can_revoke: g.revoked_at.is_none()
                    && (actor.is_platform_admin() || (g.provider.code == dept && reviewer)),
            }
        })
        .collect();
    render(
        &GrantsPage {
            t,
            csrf: user.csrf,
            notice: q.notice.as_deref().unwrap_or(""),
            items,
        },
        &[],
    )
}

async fn grant_revoke(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    match grants::revoke_grant(&state, &user.actor, id, field(&fields, "reason")).await {
        Ok(_) => Redirect::to("/console/grants").into_response(),
        Err(e @ (ApiError::Conflict(_) | ApiError::Unprocessable(_) | ApiError::Forbidden(_))) => {
            Redirect::to(&format!(
                "/console/grants?notice={}",
                form_urlencoded_component(&e.to_string())
            ))
            .into_response()
        }
        Err(e) => error_page(e),
    }
}

// ---- the office's escalations ------------------------------------------------

#[derive(Template)]
#[template(path = "escalations.html")]
struct EscalationsPage {
    t: &'static Texts,
    open: Vec<RequestRow>,
    answered: Vec<RequestRow>,
}

/// Requests the overdue sweep escalated to the platform office: those still
/// unanswered first, then those answered since (the office's record).
async fn escalation_list(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    if !user.actor.is_platform_admin() {
        return error_page(ApiError::Forbidden(
            "the list of escalated requests is the platform office's".into(),
        ));
    }
    let listing = async {
        let list = share_requests::list_for(&state, &user.actor, &Shown::Escalated.query()).await?;
        let calendar = state.store.working_calendar().await?;
        Ok::<_, ApiError>((list, calendar))
    }
    .await;
    let (list, calendar) = match listing {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let today = local_date(state.clock.now());
    let (open, answered): (Vec<ShareRequest>, Vec<ShareRequest>) =
        list.into_iter().partition(|r| r.state.is_open());
    render(
        &EscalationsPage {
            t,
            open: request_rows(&user.actor, &open, &calendar, today),
            answered: request_rows(&user.actor, &answered, &calendar, today),
        },
        &[],
    )
}
