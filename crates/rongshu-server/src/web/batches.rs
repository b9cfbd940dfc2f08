//! The console's batch pages for a resource's provider (and the platform
//! office): the batches delivered, and one batch's quality report — counts per
//! rule, the score and how it moved since the previous batch, the first failing
//! rows, and the full list of failures to download, correct and send back.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use rongshu_core::quality::{FailingRow, QualityTally, TallyComparison};
use rongshu_store::BatchRow;

use super::console::{ConsoleUser, error_page};
use super::{LangQuery, Texts, choose_lang, render};
use crate::error::ApiError;
use crate::routes::resources::{sees_unpublished, visible_resource};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/resources/{code}/batches", get(batch_list))
        .route(
            "/console/resources/{code}/batches/{batch}",
            get(batch_detail),
        )
}

/// Batches listed on one page, newest first.
const LISTED: i64 = 100;

#[derive(Template)]
#[template(path = "batches.html")]
struct BatchesPage {
    t: &'static Texts,
    code: String,
    name: String,
    batches: Vec<BatchRow>,
}

/// One rule's line in the report.
struct RuleLine {
    rule: String,
    checked: u64,
    rejected: u64,
    warned: u64,
}

/// One rule's movement since the previous batch.
struct DeltaLine {
    rule: String,
    previous: String,
    current: String,
    rate_change: f64,
}

#[derive(Template)]
#[template(path = "batch.html")]
struct BatchPage {
    t: &'static Texts,
    code: String,
    name: String,
    batch: BatchRow,
    /// Why a failed batch failed.
    error: String,
    encoding: String,
    score: Option<f64>,
    clean_rows: u64,
    warned_rows: u64,
    rejected_rows: u64,
    rules: Vec<RuleLine>,
    batch_checks: Vec<String>,
    comparison: Option<TallyComparison>,
    deltas: Vec<DeltaLine>,
    failures: Vec<FailingRow>,
}

/// The resource and its batches, if the signed-in user may see them.
async fn provider_view(
    state: &AppState,
    user: &ConsoleUser,
    code: &str,
) -> Result<(rongshu_store::Resource, Vec<BatchRow>), ApiError> {
    let resource = visible_resource(state, &user.actor, code).await?;
    if !sees_unpublished(&user.actor, &resource) {
        return Err(ApiError::Forbidden(
            "only the provider sees a resource's batches".into(),
        ));
    }
    let batches = state.store.batches(code, LISTED).await?;
    Ok((std::sync::Arc::unwrap_or_clone(resource), batches))
}

async fn batch_list(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    match provider_view(&state, &user, &code).await {
        Ok((resource, batches)) => render(
            &BatchesPage {
                t,
                code: resource.code,
                name: resource.spec.name,
                batches,
            },
            &[],
        ),
        Err(e) => error_page(e),
    }
}

async fn batch_detail(
    State(state): State<AppState>,
    Path((code, batch_id)): Path<(String, String)>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let t = choose_lang(&q, &headers).0.texts();
    let found = async {
        let (resource, batches) = provider_view(&state, &user, &code).await?;
        let batch = batches
            .into_iter()
            .find(|b| b.batch_id == batch_id)
            .ok_or_else(|| ApiError::NotFound(format!("batch {batch_id} of {code}")))?;
        let report = state.store.batch_report(&batch_id).await?;
        Ok::<_, ApiError>((resource, batch, report))
    }
    .await;
    let (resource, batch, report) = match found {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let report: serde_json::Value = report
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    // Reports written by this version carry a tally; a failed batch carries
    // only its error, and older reports may lack parts.
    let tally: Option<QualityTally> = report
        .get("quality")
        .and_then(|q| serde_json::from_value(q.clone()).ok());
    let comparison: Option<TallyComparison> = report
        .get("comparison")
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    let text = |key: &str| {
        report
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let count = |n: Option<u64>| n.map_or_else(|| "—".to_owned(), |n| n.to_string());
    let deltas = comparison
        .iter()
        .flat_map(|c| &c.rules)
        .map(|d| DeltaLine {
            rule: d.rule.to_string(),
            previous: count(d.previous_failed),
            current: count(d.current_failed),
            rate_change: d.rate_change,
        })
        .collect();
    let page = BatchPage {
        t,
        code: resource.code,
        name: resource.spec.name,
        error: text("error"),
        encoding: text("encoding"),
        score: tally.as_ref().map(QualityTally::score),
        clean_rows: tally.as_ref().map_or(0, |q| q.clean_rows),
        warned_rows: tally.as_ref().map_or(0, |q| q.warned_rows),
        rejected_rows: tally.as_ref().map_or(0, |q| q.rejected_rows),
        rules: tally
            .iter()
            .flat_map(|q| &q.rules)
            .map(|(rule, c)| RuleLine {
                rule: rule.to_string(),
                checked: c.checked,
                rejected: c.rejected,
                warned: c.warned,
            })
            .collect(),
        batch_checks: tally
            .iter()
            .flat_map(|q| &q.batch)
            .map(|v| v.reason.clone())
            .collect(),
        comparison,
        deltas,
        failures: tally.map(|q| q.failures).unwrap_or_default(),
        batch,
    };
    render(&page, &[])
}
