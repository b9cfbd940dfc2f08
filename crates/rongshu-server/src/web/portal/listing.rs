//! Lists of datasets: `/datasets` (search with facets), and the same list
//! held to one topic (`/topics/{slug}`) or one department
//! (`/organizations/{code}`). Chinese queries go through the open-data index
//! (jieba segmentation); each facet value is a link that adds or removes it.

use std::collections::BTreeMap;

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rongshu_core::catalog::{PRIORITY_TOPICS, UpdateCycle};
use rongshu_core::opendata::ReleaseOpenType;
use rongshu_search::{Facet, SearchQuery, SortOrder};

use super::{
    Chrome, DatasetRow, cycle_label, encode, failed, not_found, open_type_label, topic_label,
    topic_of_slug,
};
use crate::error::ApiError;
use crate::opendata::package;
use crate::state::AppState;
use crate::web::Texts;

const PAGE_SIZE: usize = 10;
/// The distribution formats every dataset has.
const FORMATS: [&str; 3] = ["CSV", "JSON", "XLSX"];

/// What a list was asked for: the words, one value per facet, the page.
#[derive(Debug, Clone, Default, PartialEq)]
struct ListQuery {
    q: String,
    topic: String,
    org: String,
    format: String,
    cycle: String,
    open_type: String,
    page: usize,
}

/// The facets a list offers: query parameter, index facet (format has none), label key.
const FACETS: [(&str, Option<Facet>, &str); 5] = [
    ("topic", Some(Facet::Topic), "facet_topic"),
    ("org", Some(Facet::Provider), "facet_org"),
    ("format", None, "facet_format"),
    ("cycle", Some(Facet::UpdateCycle), "facet_cycle"),
    ("open_type", Some(Facet::OpenType), "facet_open_type"),
];

impl ListQuery {
    fn parse(pairs: &[(String, String)]) -> Self {
        let mut q = ListQuery::default();
        for (k, v) in pairs {
            let v = v.trim().to_owned();
            match k.as_str() {
                "q" => q.q = v.chars().take(200).collect(),
                "page" => q.page = v.parse().unwrap_or(1),
                other => {
                    if let Some(slot) = q.facet_mut(other) {
                        *slot = v;
                    }
                }
            }
        }
        q.page = q.page.clamp(1, 10_000);
        q
    }

    fn facet(&self, name: &str) -> &str {
        match name {
            "topic" => &self.topic,
            "org" => &self.org,
            "format" => &self.format,
            "cycle" => &self.cycle,
            "open_type" => &self.open_type,
            _ => "",
        }
    }

    fn facet_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "topic" => &mut self.topic,
            "org" => &mut self.org,
            "format" => &mut self.format,
            "cycle" => &mut self.cycle,
            "open_type" => &mut self.open_type,
            _ => return None,
        })
    }

    /// This list with one facet set (or cleared), back on its first page.
    fn with(&self, name: &str, value: &str) -> Self {
        let mut next = self.clone();
        if let Some(slot) = next.facet_mut(name) {
            *slot = value.to_owned();
        }
        next.page = 1;
        next
    }

    fn at_page(&self, page: usize) -> Self {
        let mut next = self.clone();
        next.page = page;
        next
    }

    /// The list's address under `base`, with `lang` kept out (the cookie remembers it).
    fn href(&self, base: &str) -> String {
        let mut parts = Vec::new();
        if !self.q.is_empty() {
            parts.push(format!("q={}", encode(&self.q)));
        }
        for (name, _, _) in FACETS {
            let v = self.facet(name);
            if !v.is_empty() {
                parts.push(format!("{name}={}", encode(v)));
            }
        }
        if self.page > 1 {
            parts.push(format!("page={}", self.page));
        }
        if parts.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", parts.join("&"))
        }
    }
}

pub struct FacetLink {
    pub label: String,
    pub count: u64,
    pub href: String,
    pub active: bool,
}

pub struct FacetGroup {
    pub id: &'static str,
    pub title: &'static str,
    pub values: Vec<FacetLink>,
}

pub struct ActiveFilter {
    pub label: String,
    pub remove_href: String,
}

#[derive(askama::Template)]
#[template(path = "portal/datasets.html")]
struct ListPage {
    c: Chrome,
    t: &'static Texts,
    heading: String,
    intro: String,
    /// Where the search form sends its words (the list's own path).
    action: String,
    /// Fixed filters of a topic or department page, kept by the search form.
    hidden: Vec<(&'static str, String)>,
    q: String,
    total: usize,
    rows: Vec<DatasetRow>,
    facets: Vec<FacetGroup>,
    active: Vec<ActiveFilter>,
    clear_href: String,
    page: usize,
    pages: usize,
    prev_href: String,
    next_href: String,
}

/// A value's label in the page's language.
fn value_label(
    t: &Texts,
    c: &Chrome,
    facet: &str,
    value: &str,
    departments: &BTreeMap<String, String>,
) -> String {
    match facet {
        "topic" => topic_label(t, value),
        "org" => departments
            .get(value)
            .cloned()
            .unwrap_or_else(|| value.to_owned()),
        "cycle" => UpdateCycle::parse(value)
            .map(|u| cycle_label(c.lang, u).to_owned())
            .unwrap_or_else(|| value.to_owned()),
        "open_type" => match value {
            "open" => open_type_label(t, ReleaseOpenType::Open).to_owned(),
            "conditional" => open_type_label(t, ReleaseOpenType::Conditional).to_owned(),
            other => other.to_owned(),
        },
        _ => value.to_owned(),
    }
}

/// A list page: `fixed` is the facet a topic or department page holds to.
async fn list(
    state: &AppState,
    c: Chrome,
    base: &str,
    mut asked: ListQuery,
    fixed: Option<(&'static str, String)>,
    heading: String,
    intro: String,
) -> Response {
    if let Some((name, value)) = &fixed
        && let Some(slot) = asked.facet_mut(name)
    {
        *slot = value.clone();
    }
    let result = async {
        let departments: BTreeMap<String, String> = state
            .store
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect();
        let filters: Vec<(Facet, String)> = FACETS
            .iter()
            .filter_map(|(name, facet, _)| {
                let v = asked.facet(name);
                facet.filter(|_| !v.is_empty()).map(|f| (f, v.to_owned()))
            })
            .collect();
        let format_ok = asked.format.is_empty()
            || FORMATS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&asked.format));
        let query = SearchQuery {
            q: Some(asked.q.clone()).filter(|q| !q.is_empty()),
            filters,
            sort: if asked.q.is_empty() {
                SortOrder::Updated
            } else {
                SortOrder::Relevance
            },
            offset: (asked.page - 1) * PAGE_SIZE,
            limit: PAGE_SIZE,
        };
        let found = state.open_index().await?.search(state, query).await?;
        let (total, hits) = if format_ok {
            (found.total, found.hits)
        } else {
            (0, Vec::new())
        };
        let used = state.store.release_use().await?;
        let mut rows = Vec::with_capacity(hits.len());
        for hit in &hits {
            match package::published_dataset(state, &hit.code).await {
                Ok(d) => {
                    let downloads = used.get(&d.release.id).map_or(0, |u| u.downloads);
                    rows.push(DatasetRow::of(&c, &d, downloads));
                }
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let t = c.t;
        let mut facets = Vec::new();
        let mut active = Vec::new();
        for (name, facet, title) in FACETS {
            if fixed.as_ref().is_some_and(|(f, _)| *f == name) {
                continue;
            }
            let counts: Vec<(String, u64)> = match facet {
                Some(f) if total > 0 => found
                    .facets
                    .get(f.as_str())
                    .map(|vs| vs.iter().map(|v| (v.value.clone(), v.count)).collect())
                    .unwrap_or_default(),
                None if total > 0 => FORMATS
                    .iter()
                    .map(|f| ((*f).to_owned(), total as u64))
                    .collect(),
                _ => Vec::new(),
            };
            let current = asked.facet(name);
            let mut values: Vec<FacetLink> = counts
                .into_iter()
                .map(|(value, count)| {
                    let on = value.eq_ignore_ascii_case(current);
                    FacetLink {
                        label: value_label(t, &c, name, &value, &departments),
                        count,
                        href: asked.with(name, if on { "" } else { &value }).href(base),
                        active: on,
                    }
                })
                .collect();
            // The priority topics first, in their order, then the rest by count.
            if name == "topic" {
                values.sort_by_key(|v| {
                    PRIORITY_TOPICS
                        .iter()
                        .position(|p| topic_label(t, p) == v.label)
                        .unwrap_or(usize::MAX)
                });
            }
            if !current.is_empty() {
                active.push(ActiveFilter {
                    label: format!(
                        "{}：{}",
                        t.l(title),
                        value_label(t, &c, name, current, &departments)
                    ),
                    remove_href: asked.with(name, "").href(base),
                });
            }
            facets.push(FacetGroup {
                id: name,
                title: t.l(title),
                values,
            });
        }
        if !asked.q.is_empty() {
            active.insert(
                0,
                ActiveFilter {
                    label: format!("“{}”", asked.q),
                    remove_href: ListQuery {
                        q: String::new(),
                        ..asked.clone()
                    }
                    .at_page(1)
                    .href(base),
                },
            );
        }
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let mut clear = ListQuery::default();
        if let Some((name, value)) = &fixed
            && let Some(slot) = clear.facet_mut(name)
        {
            *slot = value.clone();
        }
        let hidden = FACETS
            .iter()
            .filter(|(name, _, _)| !asked.facet(name).is_empty())
            .filter(|(name, _, _)| fixed.as_ref().is_none_or(|(f, _)| f != name))
            .map(|(name, _, _)| (*name, asked.facet(name).to_owned()))
            .collect();
        Ok::<_, ApiError>(ListPage {
            t,
            heading,
            intro,
            action: base.to_owned(),
            hidden,
            q: asked.q.clone(),
            total,
            rows,
            facets,
            active,
            clear_href: base.to_owned(),
            page: asked.page,
            pages,
            prev_href: if asked.page > 1 {
                asked.at_page(asked.page - 1).href(base)
            } else {
                String::new()
            },
            next_href: if asked.page < pages {
                asked.at_page(asked.page + 1).href(base)
            } else {
                String::new()
            },
            c: c.clone(),
        })
    }
    .await;
    match result {
        Ok(page) => page.c.page(&page),
        Err(e) => failed(c, e),
    }
}

pub async fn datasets(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let c = Chrome::new(uri.path(), &pairs, &headers, "datasets");
    let asked = ListQuery::parse(&pairs);
    let heading = if asked.q.is_empty() {
        c.t.l("nav_datasets").to_owned()
    } else {
        c.t.l("search_results").to_owned()
    };
    list(&state, c, "/datasets", asked, None, heading, String::new()).await
}

pub async fn topic(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let c = Chrome::new(uri.path(), &pairs, &headers, "datasets");
    let name = topic_of_slug(&slug);
    // Any topic a published dataset carries has a page; the priority ones always do.
    if !PRIORITY_TOPICS.contains(&name.as_str()) {
        let carried = match package::published(&state).await {
            Ok(all) => all.iter().any(|d| d.resource.spec.topics.contains(&name)),
            Err(e) => return failed(c, e),
        };
        if !carried {
            return not_found(c);
        }
    }
    let heading =
        c.t.l("topic_h1")
            .replace("{topic}", &topic_label(c.t, &name));
    let base = uri.path().to_owned();
    list(
        &state,
        c,
        &base,
        ListQuery::parse(&pairs),
        Some(("topic", name)),
        heading,
        String::new(),
    )
    .await
}

pub async fn organization(
    State(state): State<AppState>,
    Path(code): Path<String>,
    OriginalUri(uri): OriginalUri,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let c = Chrome::new(uri.path(), &pairs, &headers, "datasets");
    let dept = match state.store.department(&code).await {
        Ok(d) => d,
        Err(e) => return failed(c, e.into()),
    };
    let heading = c.t.l("org_h1").replace("{org}", &dept.name);
    let base = format!("/organizations/{}", encode(&dept.code));
    list(
        &state,
        c,
        &base,
        ListQuery::parse(&pairs),
        Some(("org", dept.code)),
        heading,
        String::new(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facet_links_add_and_remove_one_value_and_restart_paging() {
        let pairs = vec![
            ("q".to_owned(), "生产总值".to_owned()),
            ("topic".to_owned(), "公共安全".to_owned()),
            ("page".to_owned(), "3".to_owned()),
        ];
        let q = ListQuery::parse(&pairs);
        assert_eq!(q.page, 3);
        assert_eq!(
            q.with("org", "tjj").href("/datasets"),
            "/datasets?q=%E7%94%9F%E4%BA%A7%E6%80%BB%E5%80%BC&topic=%E5%85%AC%E5%85%B1%E5%AE%89%E5%85%A8&org=tjj"
        );
        assert_eq!(
            q.with("topic", "").href("/datasets"),
            "/datasets?q=%E7%94%9F%E4%BA%A7%E6%80%BB%E5%80%BC"
        );
        assert_eq!(ListQuery::parse(&[("page".into(), "x".into())]).page, 1);
    }
}
