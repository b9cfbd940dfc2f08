//! Storage errors, in terms a caller can act on.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From a direct SQLite connection (see `direct`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A change that is well formed but not allowed (e.g. an item changing type).
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the database schema is at version {database}, newer than this program knows ({binary}); use a newer rongshu"
    )]
    SchemaTooNew { database: i64, binary: i64 },
    #[error("unsupported database URL \"{0}\": use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}
