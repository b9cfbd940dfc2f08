//! `/plans`: the portal's view of every department's annual open-data plan,
//! with progress bars drawn in SVG and each entry's status.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rongshu_core::opendata::PlanStatus;
use serde::Deserialize;

use super::{LangQuery, Texts, choose_lang, render};
use crate::routes::open_plans::{plans, year_or_now};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/plans", get(page))
}

#[derive(Deserialize)]
pub struct PlansQuery {
    lang: Option<String>,
    year: Option<i32>,
}

struct EntryRow {
    title: String,
    resource: String,
    due: String,
    status: &'static str,
    status_label: &'static str,
    published_on: String,
}

struct DepartmentRow {
    name: String,
    planned: u32,
    done: u32,
    overdue: u32,
    percent: u32,
    /// The bar's filled width out of 200.
    bar: u32,
    entries: Vec<EntryRow>,
}

#[derive(Template)]
#[template(path = "open_plans.html")]
struct PlansPage {
    t: &'static Texts,
    year: i32,
    departments: Vec<DepartmentRow>,
}

fn status_key(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::OnTime => "plan_on_time",
        PlanStatus::Late => "plan_late",
        PlanStatus::Pending => "plan_pending",
        PlanStatus::Overdue => "plan_overdue",
    }
}

async fn page(
    State(state): State<AppState>,
    Query(q): Query<PlansQuery>,
    headers: HeaderMap,
) -> Response {
    let (lang, set_lang) = choose_lang(&LangQuery { lang: q.lang }, &headers);
    let t = lang.texts();
    let year = year_or_now(&state, q.year);
    let found = match plans(&state, year, None).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let departments = found
        .into_iter()
        .map(|d| DepartmentRow {
            name: d.name,
            planned: d.progress.planned,
            done: d.progress.done,
            overdue: d.progress.overdue,
            percent: d.progress.percent_done(),
            bar: d.progress.percent_done() * 2,
            entries: d
                .entries
                .into_iter()
                .map(|(e, s)| EntryRow {
                    title: e.title,
                    resource: e.resource,
                    due: e.due.to_string(),
                    status: s.as_str(),
                    status_label: t.l(status_key(s)),
                    published_on: e
                        .first_published
                        .map(|p| rongshu_core::sharing::local_date(p).to_string())
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    render(
        &PlansPage {
            t,
            year,
            departments,
        },
        set_lang.as_slice(),
    )
}
