//! `/`: the portal's front page: search, figures, topics, the latest and the
//! most downloaded datasets.

use axum::extract::{OriginalUri, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rongshu_core::catalog::PRIORITY_TOPICS;
use rongshu_search::{SearchQuery, SortOrder};

use super::{Chrome, DatasetRow, TopicLink, failed, topic_href, topic_label};
use crate::error::ApiError;
use crate::opendata::package;
use crate::state::AppState;
use crate::web::Texts;

const LIST_LEN: usize = 6;

#[derive(askama::Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    c: Chrome,
    t: &'static Texts,
    datasets: usize,
    departments: usize,
    downloads: i64,
    views: i64,
    /// The whole catalog's figures, beside what is open of it.
    catalog: rongshu_store::PortalCounts,
    topics: Vec<TopicLink>,
    latest: Vec<DatasetRow>,
    popular: Vec<DatasetRow>,
}

pub async fn home(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let c = Chrome::new(uri.path(), &pairs, &headers, "home");
    match page(&state, &c).await {
        Ok((figures, catalog, topics, latest, popular)) => {
            let t = c.t;
            let page = HomePage {
                t,
                datasets: figures.0,
                departments: figures.1,
                downloads: figures.2,
                views: figures.3,
                catalog,
                topics,
                latest,
                popular,
                c,
            };
            page.c.page(&page)
        }
        Err(e) => failed(c, e),
    }
}

type Figures = (usize, usize, i64, i64);

async fn page(
    state: &AppState,
    c: &Chrome,
) -> Result<
    (
        Figures,
        rongshu_store::PortalCounts,
        Vec<TopicLink>,
        Vec<DatasetRow>,
        Vec<DatasetRow>,
    ),
    ApiError,
> {
    let index = state.open_index().await?;
    let found = index
        .search(
            state,
            SearchQuery {
                sort: SortOrder::Updated,
                limit: LIST_LEN,
                ..SearchQuery::default()
            },
        )
        .await?;
    let used = state.store.release_use().await?;
    let downloads_of = |id: i64| used.get(&id).map_or(0, |u| u.downloads);
    let mut latest = Vec::with_capacity(found.hits.len());
    for hit in &found.hits {
        match package::published_dataset(state, &hit.code).await {
            Ok(d) => latest.push(DatasetRow::of(c, &d, downloads_of(d.release.id))),
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let mut ranked: Vec<(i64, i64)> = used
        .iter()
        .filter(|(_, u)| u.downloads > 0)
        .map(|(id, u)| (*id, u.downloads))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut popular = Vec::new();
    for (id, downloads) in ranked {
        if popular.len() == LIST_LEN {
            break;
        }
        let Ok(release) = state.store.release(id).await else {
            continue;
        };
        // Withdrawn since: not found, so not listed.
        if let Ok(d) = package::published_dataset(state, &release.name).await {
            popular.push(DatasetRow::of(c, &d, downloads));
        }
    }
    let facet = |name: &str| found.facets.get(name).cloned().unwrap_or_default();
    let topic_counts = facet("topic");
    let count_of = |name: &str| {
        topic_counts
            .iter()
            .find(|f| f.value == name)
            .map_or(0, |f| f.count)
    };
    // The priority domains always, in their order; other topics after them.
    let mut topics: Vec<TopicLink> = PRIORITY_TOPICS
        .iter()
        .map(|name| TopicLink {
            href: topic_href(name),
            label: topic_label(c.t, name),
            count: count_of(name),
        })
        .collect();
    for f in &topic_counts {
        if !PRIORITY_TOPICS.contains(&f.value.as_str()) {
            topics.push(TopicLink {
                href: topic_href(&f.value),
                label: topic_label(c.t, &f.value),
                count: f.count,
            });
        }
    }
    let figures = (
        found.total,
        facet("provider").len(),
        used.values().map(|u| u.downloads).sum(),
        used.values().map(|u| u.views).sum(),
    );
    let catalog = state.store.portal_counts().await?;
    Ok((figures, catalog, topics, latest, popular))
}
