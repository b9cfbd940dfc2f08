//! `/plans`: the portal's view of every department's annual open-data plan,
//! with progress bars drawn in SVG and each entry's status.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rongshu_core::opendata::PlanStatus;

use super::Texts;
use super::portal::Chrome;
use crate::routes::open_plans::{plans, year_or_now};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/plans", get(page))
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
#[template(path = "portal/plans.html")]
struct PlansPage {
    c: Chrome,
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
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let c = Chrome::new("/plans", &pairs, &headers, "plans");
    let t = c.t;
    let asked = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "year")
        .and_then(|(_, v)| v.parse().ok());
    let year = year_or_now(&state, asked);
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
    c.page(&PlansPage {
        c: c.clone(),
        t,
        year,
        departments,
    })
}
