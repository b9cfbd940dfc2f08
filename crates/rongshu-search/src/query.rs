//! What a caller asks of the index and what it gets back.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SearchError;

/// A facet: a field with exact values that results can be filtered by and counted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Facet {
    /// The provider department's code.
    Provider,
    /// base / theme / department.
    Kind,
    /// Open-data topic; a resource may have several.
    Topic,
    /// 共享类型.
    ShareType,
    /// 开放类型.
    OpenType,
    /// Resource format.
    Format,
    /// 更新周期.
    UpdateCycle,
    /// Lifecycle status.
    Status,
    /// 关键字 (CKAN's tags); a resource may have several.
    Keyword,
}

impl Facet {
    /// Every facet, in the order answers list them.
    pub const ALL: [Facet; 9] = [
        Facet::Provider,
        Facet::Kind,
        Facet::Topic,
        Facet::ShareType,
        Facet::OpenType,
        Facet::Format,
        Facet::UpdateCycle,
        Facet::Status,
        Facet::Keyword,
    ];

    /// The facet's name in answers and query strings; also its field name in the index.
    pub fn as_str(self) -> &'static str {
        match self {
            Facet::Provider => "provider",
            Facet::Kind => "kind",
            Facet::Topic => "topic",
            Facet::ShareType => "share_type",
            Facet::OpenType => "open_type",
            Facet::Format => "format",
            Facet::UpdateCycle => "update_cycle",
            Facet::Status => "status",
            Facet::Keyword => "keyword",
        }
    }
}

impl fmt::Display for Facet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Facet {
    type Err = SearchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Facet::ALL
            .into_iter()
            .find(|facet| facet.as_str() == s)
            .ok_or_else(|| SearchError::Unknown {
                what: "facet",
                value: s.to_owned(),
            })
    }
}

/// How hits are ordered. Every order ends with the resource code, so pages are stable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best match first; without query text, most recently updated first.
    #[default]
    Relevance,
    /// By name (Unicode code point order), ascending.
    Name,
    /// Most recently updated first.
    Updated,
}

impl SortOrder {
    /// The order's name in query strings.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Relevance => "relevance",
            SortOrder::Name => "name",
            SortOrder::Updated => "updated",
        }
    }
}

impl FromStr for SortOrder {
    type Err = SearchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [SortOrder::Relevance, SortOrder::Name, SortOrder::Updated]
            .into_iter()
            .find(|order| order.as_str() == s)
            .ok_or_else(|| SearchError::Unknown {
                what: "sort order",
                value: s.to_owned(),
            })
    }
}

/// One search request.
///
/// Filters are exact values. Two filters on the same facet are alternatives (OR); filters
/// on different facets must all hold (AND).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// The user's words; `None`, blank, `*` or `*:*` match everything.
    pub q: Option<String>,
    /// Exact facet values the hits must have.
    pub filters: Vec<(Facet, String)>,
    /// Order of the hits.
    pub sort: SortOrder,
    /// Hits to skip.
    pub offset: usize,
    /// Hits to return, at most [`SearchQuery::MAX_LIMIT`].
    pub limit: usize,
}

impl SearchQuery {
    /// The largest page the index hands out; bigger requests are cut to it.
    pub const MAX_LIMIT: usize = 1000;

    /// A first page of 20 for the given words, by relevance, without filters.
    pub fn text(q: impl Into<String>) -> Self {
        SearchQuery {
            q: Some(q.into()),
            ..SearchQuery::default()
        }
    }
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            q: None,
            filters: Vec::new(),
            sort: SortOrder::Relevance,
            offset: 0,
            limit: 20,
        }
    }
}

/// One matching resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The resource code.
    pub code: String,
    /// Relevance score; 0 when the order is not by relevance or there is no query text.
    pub score: f32,
}

/// How many matches have one value of a facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetCount {
    /// The exact value (a code for `provider`; the caller adds labels).
    pub value: String,
    /// Number of matching resources with that value.
    pub count: u64,
}

/// The answer to a [`SearchQuery`].
///
/// Facet counts are taken over all the query's matches, after the text and all filters;
/// each facet lists its values by count, most first, then by value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Number of matching resources, over all pages.
    pub total: usize,
    /// The requested page.
    pub hits: Vec<Hit>,
    /// Counts per facet name (see [`Facet::as_str`]).
    pub facets: BTreeMap<String, Vec<FacetCount>>,
}
