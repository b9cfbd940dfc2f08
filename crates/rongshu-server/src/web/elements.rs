//! The console's data element page: every element with its authoritative
//! department and how many published items carry it, and for the platform
//! office a form to register one.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rongshu_core::catalog::NewElementRequest;

use super::console::{ConsoleUser, Fields, csrf_ok, csrf_refused, error_page, field};
use super::{LangQuery, Texts, choose_lang, render_form};
use crate::error::ApiError;
use crate::routes::elements::create_element;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/console/elements", get(element_list).post(element_create))
}

struct ElementRow {
    code: String,
    name: String,
    name_en: String,
    authority: String,
    authoritative: i64,
    witnesses: i64,
}

/// What the office typed, kept when the form comes back with a mistake.
#[derive(Default)]
struct ElementForm {
    code: String,
    name: String,
    name_en: String,
    description: String,
    authority: String,
}

#[derive(Template)]
#[template(path = "elements.html")]
struct ElementsPage<'a> {
    t: &'static Texts,
    csrf: String,
    error: &'a str,
    is_admin: bool,
    items: Vec<ElementRow>,
    departments: Vec<(String, String)>,
    form: ElementForm,
}

async fn elements_page(
    state: &AppState,
    user: ConsoleUser,
    t: &'static Texts,
    error: &str,
    form: ElementForm,
) -> Response {
    let listing = async {
        let elements = state.store.elements().await?;
        let counts = state.store.element_source_counts().await?;
        let departments = state.store.departments().await?;
        Ok::<_, ApiError>((elements, counts, departments))
    }
    .await;
    let (elements, counts, departments) = match listing {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let items = elements
        .into_iter()
        .map(|e| {
            let n = counts.get(e.code.as_str()).copied().unwrap_or_default();
            ElementRow {
                code: e.code.to_string(),
                name: e.name,
                name_en: e.name_en.unwrap_or_default(),
                authority: e.authority.name,
                authoritative: n.authoritative,
                witnesses: n.witnesses,
            }
        })
        .collect();
    let page = ElementsPage {
        t,
        csrf: user.csrf,
        error,
        is_admin: user.actor.is_platform_admin(),
        items,
        departments: departments.into_iter().map(|d| (d.code, d.name)).collect(),
        form,
    };
    render_form(&page, error)
}

async fn element_list(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    elements_page(&state, user, t, "", ElementForm::default()).await
}

/// Register an element from the form (the platform office); a mistake shows
/// the page again with the reason and the values kept.
async fn element_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
    axum::Form(fields): axum::Form<Fields>,
) -> Response {
    if !csrf_ok(&user.csrf, &fields) {
        return csrf_refused();
    }
    let t = choose_lang(&LangQuery { lang: None }, &headers).0.texts();
    let form = ElementForm {
        code: field(&fields, "code").to_owned(),
        name: field(&fields, "name").to_owned(),
        name_en: field(&fields, "name_en").to_owned(),
        description: field(&fields, "description").to_owned(),
        authority: field(&fields, "authority").to_owned(),
    };
    let request = NewElementRequest {
        code: Some(form.code.clone()),
        name: Some(form.name.clone()),
        name_en: Some(form.name_en.clone()),
        description: form.description.clone(),
        authority: Some(form.authority.clone()),
    };
    match create_element(&state, &user.actor, request).await {
        Ok(_) => Redirect::to("/console/elements").into_response(),
        Err(e @ (ApiError::Unprocessable(_) | ApiError::Conflict(_))) => {
            elements_page(&state, user, t, &e.to_string(), form).await
        }
        Err(e) => error_page(e),
    }
}
