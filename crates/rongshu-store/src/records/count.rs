//! Exact totals. The whole resource's count is kept on its row in `resources`,
//! moved by each batch in the transaction that changes the rows (see
//! `batches`), so an unfiltered total is one row read however large the table.
//! A filtered total (the grant's row scope counts as a filter) is a `COUNT(*)`
//! over the same conditions as the read: an equality or `in` on the key's
//! (first) item counts from the key's unique index; any other filter scans the
//! table.

use rongshu_core::catalog::ResourceSpec;
use sqlx::{AssertSqlSafe, Row};

use super::Filter;
use super::clause::Clause;
use crate::db::quote_ident;
use crate::{Resource, Store, StoreError};

impl Store {
    /// How many of the resource's rows match all the filters, exactly, read
    /// through `executor` (a transaction that reads the page too: see
    /// `query_records_counted`).
    pub(crate) async fn count_on<'e, E>(
        &self,
        executor: E,
        resource: &Resource,
        filters: &[Filter],
    ) -> Result<i64, StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        if filters.is_empty() {
            // Read now, not from the `Resource` in hand: a batch may have
            // committed since it was loaded.
            let row = sqlx::query("SELECT row_count FROM resources WHERE id = $1")
                .bind(resource.id)
                .fetch_optional(executor)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("resource {}", resource.code)))?;
            return Ok(row.try_get("row_count")?);
        }
        let spec: &ResourceSpec = &resource.spec;
        let mut clause = Clause::new(self.backend);
        clause.filters(spec, filters)?;
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {}{}",
            quote_ident(&resource.table_name),
            clause.sql()
        );
        let row = clause
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_one(executor)
            .await?;
        Ok(row.try_get("n")?)
    }
}
