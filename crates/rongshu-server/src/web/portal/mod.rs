//! The public open-data portal (开放门户): home, search with facets, topic and
//! department pages, a page per dataset, and public data requests. Rendered
//! on the server, usable without JavaScript; Chinese by default, English by
//! `?lang=en` on every page. Only published releases are ever shown.

mod chart;
mod dataset;
mod home;
pub(crate) mod labels;
mod listing;
mod requests;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Lang, LangQuery, Texts, choose_lang, render};
use crate::error::ApiError;
use crate::opendata::package::Dataset;
use crate::state::AppState;
use rongshu_core::catalog::PRIORITY_TOPICS;
use rongshu_core::opendata::ReleaseOpenType;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/datasets", get(listing::datasets))
        .route("/datasets/{name}", get(dataset::dataset))
        .route("/topics/{slug}", get(listing::topic))
        .route("/organizations/{code}", get(listing::organization))
        .route("/requests", get(requests::list).post(requests::submit))
}

/// The priority domains' URL slugs, in `PRIORITY_TOPICS` order, and their label keys.
const TOPIC_SLUGS: [(&str, &str); 9] = [
    ("transport", "topic_transport"),
    ("education", "topic_education"),
    ("health", "topic_health"),
    ("geography", "topic_geography"),
    ("public-safety", "topic_safety"),
    ("finance", "topic_finance"),
    ("market", "topic_market"),
    ("environment", "topic_environment"),
    ("culture", "topic_culture"),
];

/// A topic as the portal links it: the catalog's name, its page, its label.
#[derive(Debug, Clone)]
pub struct TopicLink {
    pub href: String,
    pub label: String,
    pub count: u64,
}

/// The page of a topic: a priority domain by its slug, any other by its name.
pub fn topic_href(name: &str) -> String {
    match PRIORITY_TOPICS.iter().position(|t| *t == name) {
        Some(i) => format!("/topics/{}", TOPIC_SLUGS[i].0),
        None => format!("/topics/{}", encode(name)),
    }
}

/// A topic's name in the page's language (others are shown as catalogued).
pub fn topic_label(t: &Texts, name: &str) -> String {
    match PRIORITY_TOPICS.iter().position(|p| *p == name) {
        Some(i) => t.l(TOPIC_SLUGS[i].1).to_owned(),
        None => name.to_owned(),
    }
}

/// The catalog's topic name behind a `/topics/{slug}` path segment.
pub fn topic_of_slug(slug: &str) -> String {
    match TOPIC_SLUGS.iter().position(|(s, _)| *s == slug) {
        Some(i) => PRIORITY_TOPICS[i].to_owned(),
        None => slug.to_owned(),
    }
}

pub fn open_type_label(t: &Texts, open_type: ReleaseOpenType) -> &'static str {
    match open_type {
        ReleaseOpenType::Open => t.l("open_type_open"),
        ReleaseOpenType::Conditional => t.l("open_type_conditional"),
    }
}

pub fn cycle_label(lang: Lang, cycle: rongshu_core::catalog::UpdateCycle) -> &'static str {
    match lang {
        Lang::Zh => cycle.label_zh(),
        Lang::En => cycle.as_str(),
    }
}

/// Percent-encoding for a query value or path segment.
pub fn encode(s: &str) -> String {
    super::console::form_urlencoded_component(s)
}

/// What every portal page carries besides its content: the words, the
/// language switch back to this very page, and which part of the site it is.
#[derive(Clone)]
pub struct Chrome {
    pub t: &'static Texts,
    pub lang: Lang,
    /// This page in the other language (its query kept).
    pub switch_href: String,
    /// `home`, `datasets`, `requests`: the navigation item marked current.
    pub nav: &'static str,
    set_cookie: Option<String>,
}

impl Chrome {
    /// The page at `path` asked with `pairs` (its query).
    pub fn new(
        path: &str,
        pairs: &[(String, String)],
        headers: &HeaderMap,
        nav: &'static str,
    ) -> Self {
        let asked = pairs
            .iter()
            .rev()
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.clone());
        let (lang, set_cookie) = choose_lang(&LangQuery { lang: asked }, headers);
        let t = lang.texts();
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("lang={}", t.other_lang));
        Self {
            t,
            lang,
            switch_href: format!("{path}?{}", query.join("&")),
            nav,
            set_cookie,
        }
    }

    pub fn cookies(&self) -> Vec<String> {
        self.set_cookie.iter().cloned().collect()
    }

    pub fn page(&self, template: &impl askama::Template) -> Response {
        render(template, &self.cookies())
    }
}

#[derive(askama::Template)]
#[template(path = "portal/not_found.html")]
struct NotFoundPage {
    c: Chrome,
    t: &'static Texts,
}

/// The portal's own 404 page (an unknown, proposed or withdrawn dataset alike).
pub fn not_found(c: Chrome) -> Response {
    let t = c.t;
    let cookies = c.cookies();
    let mut response = render(&NotFoundPage { c, t }, &cookies);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A failure: not found as the portal's page, anything else as the API's error.
pub fn failed(c: Chrome, e: ApiError) -> Response {
    match e {
        ApiError::NotFound(_) => not_found(c),
        other => other.into_response(),
    }
}

/// A dataset as a line of a list.
pub struct DatasetRow {
    pub name: String,
    pub title: String,
    pub description: String,
    pub org_code: String,
    pub org_name: String,
    pub topics: Vec<TopicLink>,
    pub open_type: &'static str,
    pub cycle: &'static str,
    pub modified: String,
    pub rows: i64,
    pub downloads: i64,
}

impl DatasetRow {
    pub fn of(c: &Chrome, d: &Dataset, downloads: i64) -> Self {
        let spec = &d.resource.spec;
        let mut description: String = d.release.description.chars().take(140).collect();
        if d.release.description.chars().count() > 140 {
            description.push('…');
        }
        Self {
            name: d.name().to_owned(),
            title: d.release.title.clone(),
            description,
            org_code: d.resource.provider.code.clone(),
            org_name: d.resource.provider.name.clone(),
            topics: spec
                .topics
                .iter()
                .map(|name| TopicLink {
                    href: topic_href(name),
                    label: topic_label(c.t, name),
                    count: 0,
                })
                .collect(),
            open_type: open_type_label(c.t, d.release.open_type),
            cycle: cycle_label(c.lang, spec.update_cycle),
            modified: d.modified().format("%Y-%m-%d").to_string(),
            rows: d.resource.row_count,
            downloads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_priority_topic_has_a_slug_and_back() {
        for name in PRIORITY_TOPICS {
            let href = topic_href(name);
            let slug = href.trim_start_matches("/topics/");
            assert_eq!(topic_of_slug(slug), name);
            assert!(slug.is_ascii());
        }
        assert_eq!(
            topic_href("经济发展"),
            "/topics/%E7%BB%8F%E6%B5%8E%E5%8F%91%E5%B1%95"
        );
        assert_eq!(topic_of_slug("经济发展"), "经济发展");
    }

    #[test]
    fn the_language_switch_keeps_the_query() {
        let pairs = vec![
            ("q".to_owned(), "人口 统计".to_owned()),
            ("lang".to_owned(), "zh".to_owned()),
            ("page".to_owned(), "2".to_owned()),
        ];
        let c = Chrome::new("/datasets", &pairs, &HeaderMap::new(), "datasets");
        assert_eq!(
            c.switch_href,
            "/datasets?q=%E4%BA%BA%E5%8F%A3%20%E7%BB%9F%E8%AE%A1&page=2&lang=en"
        );
    }
}
