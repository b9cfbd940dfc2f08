//! `/datasets/{name}`: one published dataset: what it is and who answers for
//! it, its items, its update history, a preview and a chart of its rows as
//! released, its downloads, an API example and how much it is used. Each
//! view is counted.

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::chart::{self, Chart, ChartWords};
use super::{Chrome, TopicLink, cycle_label, failed, open_type_label, topic_href, topic_label};
use crate::error::ApiError;
use crate::opendata::download::{DownloadFormat, download_url};
use crate::opendata::package::{self, Dataset, license};
use crate::opendata::{base_url, ckan};
use crate::state::AppState;
use crate::web::Texts;

/// Rows in the preview table.
const PREVIEW_ROWS: i64 = 10;
/// A chart is drawn from every row, so only for datasets this small.
const CHART_ROWS: i64 = 2_000;

pub struct ItemRow {
    pub key: String,
    pub name: String,
    pub item_type: String,
    pub description: String,
    pub masked: bool,
}

pub struct DownloadLink {
    pub href: String,
    pub label: &'static str,
    pub count: i64,
}

pub struct HistoryRow {
    pub when: String,
    pub what: String,
}

#[derive(askama::Template)]
#[template(path = "portal/dataset.html")]
struct DatasetPage {
    c: Chrome,
    t: &'static Texts,
    name: String,
    title: String,
    description: String,
    org_code: String,
    org_name: String,
    proposer: String,
    reviewer: String,
    license_title: String,
    license_url: String,
    open_type: &'static str,
    open_condition: String,
    conditional: bool,
    cycle: &'static str,
    published: String,
    modified: String,
    rows: i64,
    catalog_code: String,
    keywords: Vec<String>,
    topics: Vec<TopicLink>,
    items: Vec<ItemRow>,
    /// The preview's header (item names) and cells, as released.
    columns: Vec<String>,
    preview: Vec<Vec<String>>,
    chart: Option<Chart>,
    downloads: Vec<DownloadLink>,
    download_total: i64,
    views: i64,
    api_calls: i64,
    history: Vec<HistoryRow>,
    api_url: String,
    curl: String,
}

/// An account label (`user:name`) as a person's name on the page.
fn who(label: &str) -> String {
    label.strip_prefix("user:").unwrap_or(label).to_owned()
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub async fn dataset(
    State(state): State<AppState>,
    Path(name): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let c = Chrome::new(uri.path(), &pairs, &headers, "datasets");
    let base = base_url(&state, &headers);
    match page(&state, &c, &base, &name).await {
        Ok(page) => page.c.page(&page),
        Err(e) => failed(c, e),
    }
}

async fn page(
    state: &AppState,
    c: &Chrome,
    base: &str,
    name: &str,
) -> Result<DatasetPage, ApiError> {
    // Unknown, proposed and withdrawn alike are not found.
    let d = package::published_dataset(state, name).await?;
    let today = state.clock.now().date_naive();
    state.store.count_view(d.release.id, today).await?;
    let views = state.store.view_counts(d.release.id).await?;
    let downloads = state.store.download_counts(d.release.id).await?;
    let api_calls = state.store.api_call_count(d.release.id).await?;
    let t = c.t;
    let (columns, preview, chart) = rows_and_chart(state, t, base, &d).await?;
    let spec = &d.resource.spec;
    let (_, license_title, license_url) = license(&d.release.license).unwrap_or(("other", "", ""));
    let conditional = d.release.open_type == rongshu_core::opendata::ReleaseOpenType::Conditional;
    let api_url = format!(
        "{base}/api/3/action/datastore_search?resource_id={}&limit=5",
        d.resource_id()
    );
    Ok(DatasetPage {
        c: c.clone(),
        t,
        name: d.name().to_owned(),
        title: d.release.title.clone(),
        description: d.release.description.clone(),
        org_code: d.resource.provider.code.clone(),
        org_name: d.resource.provider.name.clone(),
        proposer: who(&d.release.proposed_by),
        reviewer: d
            .release
            .reviewed_by
            .as_deref()
            .map(who)
            .unwrap_or_default(),
        license_title: if license_title.is_empty() {
            d.release.license.clone()
        } else {
            license_title.to_owned()
        },
        license_url: license_url.to_owned(),
        open_type: open_type_label(t, d.release.open_type),
        open_condition: d.release.open_condition.clone().unwrap_or_default(),
        conditional,
        cycle: cycle_label(c.lang, spec.update_cycle),
        published: d
            .release
            .published_at
            .map(|p| p.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        modified: d.modified().format("%Y-%m-%d").to_string(),
        rows: d.resource.row_count,
        catalog_code: d.resource.code.clone(),
        keywords: spec.keywords.clone(),
        topics: spec
            .topics
            .iter()
            .map(|n| TopicLink {
                href: topic_href(n),
                label: topic_label(t, n),
                count: 0,
            })
            .collect(),
        items: d
            .items
            .iter()
            .map(|(i, masked)| ItemRow {
                key: i.key.to_string(),
                name: i.name.clone(),
                item_type: t.l(&format!("type_{}", i.item_type.as_str())).to_owned(),
                description: i.description.clone(),
                masked: *masked,
            })
            .collect(),
        columns,
        preview,
        chart,
        downloads: if conditional {
            Vec::new()
        } else {
            DownloadFormat::ALL
                .into_iter()
                .map(|f| DownloadLink {
                    href: download_url(&d, "", f),
                    label: f.title(),
                    count: downloads.by_format.get(f.as_str()).copied().unwrap_or(0),
                })
                .collect()
        },
        download_total: downloads.total,
        views: views.total,
        api_calls,
        history: history(state, t, &d).await?,
        curl: format!("curl '{api_url}'"),
        api_url,
    })
}

/// The preview's columns and first rows, and a chart when the rows fit one,
/// all read through `datastore_search` (so exactly what is released).
async fn rows_and_chart(
    state: &AppState,
    t: &Texts,
    base: &str,
    d: &Dataset,
) -> Result<(Vec<String>, Vec<Vec<String>>, Option<Chart>), ApiError> {
    let Some(first) = ckan::released_rows(state, base, d, PREVIEW_ROWS).await? else {
        return Ok((Vec::new(), Vec::new(), None));
    };
    let records = |v: &Value| v["records"].as_array().cloned().unwrap_or_default();
    let shown = records(&first);
    let keys: Vec<&str> = d.items.iter().map(|(i, _)| i.key.as_str()).collect();
    let columns = d.items.iter().map(|(i, _)| i.name.clone()).collect();
    let preview = shown
        .iter()
        .map(|r| keys.iter().map(|k| cell(r.get(*k))).collect())
        .collect();
    let total = first["total"].as_i64().unwrap_or(0);
    let all = if total <= PREVIEW_ROWS {
        shown
    } else if total <= CHART_ROWS {
        match ckan::released_rows(state, base, d, CHART_ROWS).await? {
            Some(v) => records(&v),
            None => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let words = ChartWords {
        by_district: t.l("chart_by_district"),
        over_time: t.l("chart_over_time"),
    };
    Ok((columns, preview, chart::chart(&d.items, &all, &words)))
}

/// The release, and the data and catalog updates behind it, newest first.
async fn history(state: &AppState, t: &Texts, d: &Dataset) -> Result<Vec<HistoryRow>, ApiError> {
    let mut rows: Vec<(String, String)> = Vec::new();
    if let Some(p) = d.release.published_at {
        let reviewer = d
            .release
            .reviewed_by
            .as_deref()
            .map(who)
            .unwrap_or_default();
        rows.push((
            p.format("%Y-%m-%d %H:%M").to_string(),
            format!(
                "{}（{}：{reviewer}）",
                t.l("history_release"),
                t.l("reviewer")
            ),
        ));
    }
    for b in state.store.batches(&d.resource.code, 20).await? {
        if b.state != "loaded" {
            continue;
        }
        let when = b.finished_at.unwrap_or(b.started_at);
        rows.push((
            when.get(..16).unwrap_or(&when).replace('T', " "),
            t.l("history_batch")
                .replace("{n}", &b.rows_loaded.to_string()),
        ));
    }
    for h in state.store.resource_history(&d.resource.code).await? {
        if h.action == "approve" {
            rows.push((
                h.at.get(..16).unwrap_or(&h.at).replace('T', " "),
                t.l("history_version")
                    .replace("{n}", &h.version.to_string()),
            ));
        }
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    rows.truncate(15);
    Ok(rows
        .into_iter()
        .map(|(when, what)| HistoryRow { when, what })
        .collect())
}
