//! The search crate's one error type.

use thiserror::Error;

/// Everything that can go wrong while building, updating or querying the catalog index.
#[derive(Debug, Error)]
pub enum SearchError {
    /// The search engine failed (I/O on the index directory, a corrupt segment, …).
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory could not be opened or prepared.
    #[error("search index directory: {0}")]
    Directory(String),
    /// Another writer (usually another process) holds this index directory.
    #[error("search index directory is locked by another writer: {0}")]
    Locked(String),
    /// A thread panicked while holding the index writer; the writer is unusable.
    #[error("search index writer was poisoned by a panic")]
    Poisoned,
    /// A facet or sort name from outside did not name a known one.
    #[error("unknown {what} {value:?}")]
    Unknown {
        /// "facet" or "sort order".
        what: &'static str,
        /// The name that was given.
        value: String,
    },
}

impl From<std::io::Error> for SearchError {
    fn from(err: std::io::Error) -> Self {
        SearchError::Directory(err.to_string())
    }
}
