//! Catalog search as callers see it: parameters parsed into a search query,
//! visibility rules added, and hits turned into catalog entries with labelled
//! facets. Shared by the API and the console's search page.

use rongshu_core::catalog::{Format, OpenType, ResourceKind, ShareType, Status, UpdateCycle};
use rongshu_search::{Facet, SearchQuery, SortOrder};
use serde_json::{Value, json};

use crate::auth::Actor;
use crate::error::ApiError;
use crate::state::AppState;

pub const DEFAULT_LIMIT: usize = 20;

/// Parse query parameters; who asks decides which statuses are visible: a
/// department sees published resources, plus its own in any state when it
/// filters on itself; the platform office sees everything.
pub fn parse(params: &[(String, String)], actor: &Actor) -> Result<SearchQuery, ApiError> {
    let mut query = SearchQuery {
        limit: DEFAULT_LIMIT,
        ..SearchQuery::default()
    };
    for (name, value) in params {
        let value = value.trim();
        match name.as_str() {
            "q" => query.q = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "sort" => {
                query.sort = value.parse::<SortOrder>().map_err(|_| {
                    ApiError::BadRequest(format!(
                        "sort: \"{value}\" is not relevance, name or updated"
                    ))
                })?;
            }
            "offset" => {
                query.offset = value.parse().map_err(|_| {
                    ApiError::BadRequest(format!("offset: \"{value}\" is not a number"))
                })?;
            }
            "limit" => {
                query.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=SearchQuery::MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "limit must be a number from 1 to {}",
                            SearchQuery::MAX_LIMIT
                        ))
                    })?;
            }
            "lang" => {}
            other => {
                let facet: Facet = other.parse().map_err(|_| {
                    ApiError::BadRequest(format!(
                        "\"{other}\" is not a search parameter: use q, sort, offset, limit, or a facet (provider, kind, topic, share_type, open_type, format, update_cycle, status)"
                    ))
                })?;
                if !value.is_empty() {
                    query.filters.push((facet, value.to_owned()));
                }
            }
        }
    }
    if !actor.is_platform_admin() {
        let own = &actor.department().code;
        let only_own = query
            .filters
            .iter()
            .any(|(f, v)| *f == Facet::Provider && v == own)
            && query
                .filters
                .iter()
                .filter(|(f, _)| *f == Facet::Provider)
                .count()
                == 1;
        let statuses: Vec<&str> = query
            .filters
            .iter()
            .filter(|(f, _)| *f == Facet::Status)
            .map(|(_, v)| v.as_str())
            .collect();
        let unpublished = statuses
            .iter()
            .any(|s| !matches!(*s, "published" | "retired"));
        if !only_own {
            if unpublished {
                return Err(ApiError::Forbidden(
                    "drafts and submissions are seen by their provider: add provider=<your department>".into(),
                ));
            }
            if statuses.is_empty() {
                query.filters.push((Facet::Status, "published".into()));
            }
        }
    }
    Ok(query)
}

fn label(facet: &str, value: &str, departments: &[rongshu_store::Department]) -> String {
    let found = match facet {
        "provider" => departments
            .iter()
            .find(|d| d.code == value)
            .map(|d| d.name.clone()),
        "kind" => ResourceKind::parse(value).map(|k| k.label_zh().to_owned()),
        "share_type" => ShareType::parse(value).map(|k| k.label_zh().to_owned()),
        "open_type" => OpenType::parse(value).map(|k| k.label_zh().to_owned()),
        "format" => Format::parse(value).map(|k| k.label_zh().to_owned()),
        "update_cycle" => UpdateCycle::parse(value).map(|k| k.label_zh().to_owned()),
        "status" => Status::parse(value).map(|k| k.label_zh().to_owned()),
        _ => None,
    };
    found.unwrap_or_else(|| value.to_owned())
}

/// Run the query and shape the answer: `{"items", "total", "facets"}`.
pub async fn run(state: &AppState, query: SearchQuery) -> Result<Value, ApiError> {
    let results = state.search.search(query).await?;
    let mut items = Vec::with_capacity(results.hits.len());
    for hit in &results.hits {
        // The index may trail a concurrent change by a moment; skip what vanished.
        if let Ok(r) = state.store.resource(&hit.code).await {
            items.push(json!(r));
        }
    }
    let departments = state.store.departments().await?;
    let mut facets = serde_json::Map::new();
    for (facet, counts) in &results.facets {
        let values: Vec<Value> = counts
            .iter()
            .map(|c| json!({ "value": c.value, "label": label(facet, &c.value, &departments), "count": c.count }))
            .collect();
        facets.insert(facet.clone(), Value::Array(values));
    }
    Ok(json!({ "items": items, "total": results.total, "facets": facets }))
}
