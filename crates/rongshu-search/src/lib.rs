//! Full-text search over the catalog (资源目录): Chinese word segmentation, a built-in
//! synonym table, typo tolerance for Latin words, exact filters with facet counts, and
//! stable paging.
//!
//! The index is derived data. The server feeds it [`CatalogDoc`]s from the database,
//! commits with the catalog change sequence it reflects, and rebuilds it when
//! [`SearchIndex::applied_seq`] shows it missing or stale. This crate knows nothing of SQL
//! or HTTP.
//!
//! A server process keeps it current like this (one writer per index directory):
//!
//! - on start, `SearchIndex::open_or_create(data_dir/search)`; if `applied_seq()` is 0 or
//!   older than the oldest change the database still lists, `rebuild(all_docs, db_seq)`;
//! - then, and on every tick, read the catalog changes after `applied_seq()`, `upsert` the
//!   changed resources (retired ones too: status is a facet) or `delete` removed ones, and
//!   `commit(last_seq)`.
//!
//! Matching: the query is cut into words by jieba; each word matches as a whole word in a
//! field (name weighted highest, then keywords and items, topics, provider, summary), or
//! as all its character bigrams anywhere in the resource (so a word jieba cut differently
//! in the document is still found, as a substring search would find it), or through a
//! built-in synonym. Latin words of four letters or more also match with one typo.

mod analysis;
mod collect;
mod doc;
mod error;
mod index;
mod query;
mod schema;
mod synonyms;
mod text_query;

pub use doc::CatalogDoc;
pub use error::SearchError;
pub use index::SearchIndex;
pub use query::{Facet, FacetCount, Hit, SearchQuery, SearchResults, SortOrder};
