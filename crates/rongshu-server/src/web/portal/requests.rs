//! `/requests`: public data requests (数据需求). Anyone asks for data without
//! signing in; the request is a demand on the `public` channel, routed to
//! the department named (or by the platform office) and answered through
//! the console or `/api/v1/demands/{id}/answer`; the answers are listed here.
//! The form carries a double-submit CSRF token like the console's sign-in.

use axum::Form;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rongshu_store::{Demand, NewPublicDemand, PublicRequester};
use serde::Deserialize;
use serde_json::json;

use super::{Chrome, failed};
use crate::auth::token;
use crate::error::ApiError;
use crate::service::Doer;
use crate::state::AppState;
use crate::web::{Texts, cookie};

const CSRF_COOKIE: &str = "rongshu_portal_csrf";
const PAGE_SIZE: i64 = 20;

/// What the form sent, kept to fill it again after an error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    organisation: String,
}

pub struct RequestRow {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub from: String,
    pub created: String,
    pub state: &'static str,
    pub department: String,
    pub answer: String,
    pub promised: String,
}

pub struct DepartmentOption {
    pub code: String,
    pub name: String,
    pub selected: bool,
}

/// A field's problem: the field's id, and what to do.
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

#[derive(askama::Template)]
#[template(path = "portal/requests.html")]
struct RequestsPage {
    c: Chrome,
    t: &'static Texts,
    csrf: String,
    notice: String,
    errors: Vec<FieldError>,
    form: RequestForm,
    departments: Vec<DepartmentOption>,
    items: Vec<RequestRow>,
    total: i64,
    prev_href: String,
    next_href: String,
}

impl RequestsPage {
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    submitted: Option<i64>,
    page: Option<i64>,
}

fn state_label(t: &Texts, state: &str) -> &'static str {
    match state {
        "open" => t.l("req_open"),
        "routed" => t.l("req_routed"),
        "will_provide" => t.l("req_will_provide"),
        "cannot" => t.l("req_cannot"),
        _ => t.l("req_closed"),
    }
}

fn row(t: &Texts, d: &Demand) -> RequestRow {
    let answered = matches!(d.state.as_str(), "will_provide" | "cannot") || d.answer.is_some();
    RequestRow {
        id: d.id,
        title: d.title.clone(),
        description: d.description.clone(),
        from: d
            .public_requester
            .as_ref()
            .and_then(|p| p.organisation.clone())
            .unwrap_or_else(|| t.l("the_public").to_owned()),
        created: d.created_at.get(..10).unwrap_or(&d.created_at).to_owned(),
        state: state_label(t, &d.state),
        department: d
            .routed_to
            .as_ref()
            .map(|r| r.name.clone())
            .unwrap_or_default(),
        answer: if answered {
            d.answer.clone().unwrap_or_default()
        } else {
            String::new()
        },
        promised: d.promised_date.clone().unwrap_or_default(),
    }
}

/// The page with the list, and the form as sent (with its errors, if any).
async fn render_page(
    state: &AppState,
    c: Chrome,
    csrf: String,
    notice: String,
    errors: Vec<FieldError>,
    form: RequestForm,
    page: i64,
) -> Result<Response, ApiError> {
    let t = c.t;
    let offset = (page - 1) * PAGE_SIZE;
    let (demands, total) = state.store.public_demands(PAGE_SIZE, offset).await?;
    let departments = state
        .store
        .departments()
        .await?
        .into_iter()
        .map(|d| DepartmentOption {
            selected: d.code == form.department,
            code: d.code,
            name: d.name,
        })
        .collect();
    let page_href = |p: i64| format!("/requests?page={p}#list");
    let new_cookie =
        format!("{CSRF_COOKIE}={csrf}; Path=/requests; HttpOnly; SameSite=Strict; Max-Age=7200");
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page_data = RequestsPage {
        t,
        csrf,
        notice,
        errors,
        form,
        departments,
        items: demands.iter().map(|d| row(t, d)).collect(),
        total,
        prev_href: if page > 1 {
            page_href(page - 1)
        } else {
            String::new()
        },
        next_href: if offset + PAGE_SIZE < total {
            page_href(page + 1)
        } else {
            String::new()
        },
        c,
    };
    let mut cookies = page_data.c.cookies();
    cookies.push(new_cookie);
    let mut response = crate::web::render(&page_data, &cookies);
    *response.status_mut() = status;
    Ok(response)
}

/// The form's token: the one this browser already holds, or a new one.
fn csrf_of(headers: &HeaderMap) -> String {
    cookie(headers, CSRF_COOKIE)
        .filter(|c| {
            c.len() >= 32
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(token::random_secret)
}

pub async fn list(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Query<Vec<(String, String)>>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Response {
    let c = Chrome::new(uri.path(), &pairs, &headers, "requests");
    let notice = params
        .submitted
        .map(|id| c.t.l("req_submitted").replace("{n}", &id.to_string()))
        .unwrap_or_default();
    let page = params.page.unwrap_or(1).clamp(1, 100_000);
    match render_page(
        &state,
        c.clone(),
        csrf_of(&headers),
        notice,
        Vec::new(),
        RequestForm::default(),
        page,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => failed(c, e),
    }
}

/// Trimmed, and at most `max` characters.
fn bounded(value: &str, max: usize) -> Result<Option<String>, usize> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(max);
    }
    Ok(Some(v.to_owned()).filter(|v| !v.is_empty()))
}

/// Check the form: every problem at once, each on its field.
async fn check(
    state: &AppState,
    t: &Texts,
    form: &RequestForm,
) -> Result<(String, String, Option<String>, PublicRequester), Vec<FieldError>> {
    let mut errors = Vec::new();
    let title = match bounded(&form.title, 200) {
        Ok(Some(v)) => v,
        _ => {
            errors.push(FieldError {
                field: "title",
                message: t.l("req_err_title").to_owned(),
            });
            String::new()
        }
    };
    let description = match bounded(&form.description, 4000) {
        Ok(Some(v)) => v,
        _ => {
            errors.push(FieldError {
                field: "description",
                message: t.l("req_err_description").to_owned(),
            });
            String::new()
        }
    };
    let mut optional =
        |field: &'static str, label: &str, value: &str, max: usize| match bounded(value, max) {
            Ok(v) => v,
            Err(n) => {
                errors.push(FieldError {
                    field,
                    message: t
                        .l("req_err_long")
                        .replace("{field}", label)
                        .replace("{n}", &n.to_string()),
                });
                None
            }
        };
    let requester = PublicRequester {
        name: optional("name", t.l("req_name"), &form.name, 100),
        contact: optional("contact", t.l("req_contact"), &form.contact, 200),
        organisation: optional("organisation", t.l("req_org"), &form.organisation, 200),
    };
    let department = Some(form.department.trim().to_owned()).filter(|d| !d.is_empty());
    if let Some(code) = &department
        && state.store.department(code).await.is_err()
    {
        errors.push(FieldError {
            field: "department",
            message: t.l("req_err_department").to_owned(),
        });
    }
    if errors.is_empty() {
        Ok((title, description, department, requester))
    } else {
        Err(errors)
    }
}

pub async fn submit(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(form): Form<RequestForm>,
) -> Response {
    let c = Chrome::new(uri.path(), &[], &headers, "requests");
    let t = c.t;
    // Double-submit check: the form's token must match the cookie set with it.
    let held = cookie(&headers, CSRF_COOKIE);
    if form.csrf.is_empty() || held != Some(form.csrf.as_str()) {
        let fresh = token::random_secret();
        let errors = vec![FieldError {
            field: "title",
            message: t.form_expired.to_owned(),
        }];
        return match render_page(&state, c.clone(), fresh, String::new(), errors, form, 1).await {
            Ok(mut r) => {
                *r.status_mut() = StatusCode::FORBIDDEN;
                r
            }
            Err(e) => failed(c, e),
        };
    }
    let (title, description, department, requester) = match check(&state, t, &form).await {
        Ok(v) => v,
        Err(errors) => {
            let csrf = form.csrf.clone();
            return match render_page(&state, c.clone(), csrf, String::new(), errors, form, 1).await
            {
                Ok(r) => r,
                Err(e) => failed(c, e),
            };
        }
    };
    let now = state.clock.now();
    let doer = Doer {
        label: "public".into(),
        department: None,
    };
    let audit = doer.record(
        now,
        "demand.create",
        None,
        json!({ "title": title, "channel": "public", "department": department }),
    );
    let created = state
        .store
        .create_public_demand(
            NewPublicDemand {
                requester: &requester,
                title: &title,
                description: &description,
                department: department.as_deref(),
            },
            now,
            audit,
        )
        .await;
    match created {
        // After a POST, a GET: reloading the page does not send it twice.
        Ok(d) => {
            Redirect::to(&format!("/requests?submitted={}#request-{}", d.id, d.id)).into_response()
        }
        Err(e) => failed(c, e.into()),
    }
}
