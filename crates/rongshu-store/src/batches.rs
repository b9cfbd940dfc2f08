//! Loading a batch into a resource's typed table. Rows are upserted by key inside
//! one transaction, so readers see the old data or the new, never a mix; the
//! batch's own row is committed first as `loading`, so a batch that dies halfway
//! is found and marked failed at the next start.

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::catalog::ItemType;
use rongshu_core::value::CellValue;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row, Transaction};

use crate::audit::append_in;
use crate::db::{Backend, quote_ident, ts};
use crate::{Resource, Store, StoreError};

/// One row's cells, in the order of the resource's items.
pub type RowCells = Vec<Option<CellValue>>;

/// Rows sent to the database in one statement.
const ROWS_PER_STATEMENT: usize = 5_000;

/// A batch as listed.
#[derive(Debug, Clone, Serialize)]
pub struct BatchRow {
    pub batch_id: String,
    pub resource: String,
    pub state: String,
    pub submitted_by: String,
    pub rows_read: i64,
    pub rows_loaded: i64,
    pub rows_rejected: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// An open batch: rows go in with `push`, and become visible at `finish`.
pub struct BatchWriter {
    store: Store,
    tx: Transaction<'static, Any>,
    resource: Resource,
    batch_row_id: i64,
    public_id: String,
    keys: Vec<String>,
    statement: std::sync::Arc<str>,
    pending: Vec<RowCells>,
    written: i64,
}

pub(crate) fn bind_cell<'q>(
    query: Query<'q, Any, AnyArguments>,
    item_type: ItemType,
    cell: Option<&CellValue>,
) -> Query<'q, Any, AnyArguments> {
    match (item_type, cell) {
        (ItemType::Integer, Some(CellValue::Integer(i))) => query.bind(*i),
        (ItemType::Integer, None) => query.bind(None::<i64>),
        (ItemType::Boolean, Some(CellValue::Boolean(b))) => query.bind(*b),
        (ItemType::Boolean, None) => query.bind(None::<bool>),
        (_, Some(v)) => query.bind(v.canonical_text()),
        (_, None) => query.bind(None::<String>),
    }
}

impl Store {
    /// Open a batch for a resource. `submitted_by` names the actor.
    pub async fn begin_batch(
        &self,
        resource: &Resource,
        submitted_by: &str,
        now: DateTime<Utc>,
    ) -> Result<BatchWriter, StoreError> {
        let public_id = format!("b{}", hex::encode(rand::random::<[u8; 10]>()));
        let batch_row_id: i64 = sqlx::query(
            "INSERT INTO batches (public_id, resource_id, state, submitted_by, started_at)
             VALUES ($1, $2, 'loading', $3, $4) RETURNING id",
        )
        .bind(&public_id)
        .bind(resource.id)
        .bind(submitted_by)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?
        .try_get("id")?;
        let keys = resource
            .spec
            .items
            .iter()
            .map(|i| i.key.to_string())
            .collect();
        let statement: std::sync::Arc<str> = upsert_sql(self.backend, resource).into();
        let tx = self.pool.begin().await?;
        Ok(BatchWriter {
            store: self.clone(),
            tx,
            resource: resource.clone(),
            batch_row_id,
            public_id,
            keys,
            statement,
            pending: Vec::new(),
            written: 0,
        })
    }

    /// Mark batches left `loading` by a process that stopped as failed; their
    /// rows were never committed.
    pub async fn fail_interrupted_batches(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE batches SET state = 'failed', finished_at = $1,
                 report = '{\"error\":\"the server stopped while this batch was loading\"}'
             WHERE state = 'loading'",
        )
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn batches(
        &self,
        resource_code: &str,
        limit: i64,
    ) -> Result<Vec<BatchRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT b.public_id, r.code, b.state, b.submitted_by, b.rows_read, b.rows_loaded,
                    b.rows_rejected, b.started_at, b.finished_at
             FROM batches b JOIN resources r ON r.id = b.resource_id
             WHERE r.code = $1 ORDER BY b.id DESC LIMIT $2",
        )
        .bind(resource_code)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BatchRow {
                    batch_id: r.try_get("public_id")?,
                    resource: r.try_get("code")?,
                    state: r.try_get("state")?,
                    submitted_by: r.try_get("submitted_by")?,
                    rows_read: r.try_get("rows_read")?,
                    rows_loaded: r.try_get("rows_loaded")?,
                    rows_rejected: r.try_get("rows_rejected")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                })
            })
            .collect()
    }

    /// The stored report of a batch, as JSON text.
    pub async fn batch_report(&self, public_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT report FROM batches WHERE public_id = $1")
            .bind(public_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("batch {public_id}")))?;
        Ok(row.try_get("report")?)
    }
}

/// The statement that upserts one chunk of rows. The rows travel as a single
/// JSON array bound to `$1` (the batch id is `$2`), which both databases unpack
/// natively: a handful of parameters instead of tens of thousands, so the
/// statement is prepared once and each chunk costs one round trip.
fn upsert_sql(backend: Backend, resource: &Resource) -> String {
    let items = &resource.spec.items;
    let table = quote_ident(&resource.table_name);
    let columns: Vec<String> = std::iter::once("_batch_id".to_owned())
        .chain(items.iter().map(|i| quote_ident(i.key.as_str())))
        .collect();
    let source = match backend {
        // Item keys are [a-z0-9_], so they are safe inside a JSON path literal.
        Backend::Sqlite => {
            let fields: Vec<String> = items
                .iter()
                .map(|i| format!("json_extract(value, '$.{}')", i.key.as_str()))
                .collect();
            format!(
                "SELECT $2, {} FROM json_each($1) WHERE true",
                fields.join(", ")
            )
        }
        Backend::Postgres => {
            let fields: Vec<String> = items
                .iter()
                .map(|i| format!("r.{}", quote_ident(i.key.as_str())))
                .collect();
            format!(
                "SELECT $2, {} FROM json_populate_recordset(NULL::{table}, CAST($1 AS json)) AS r",
                fields.join(", ")
            )
        }
    };
    let keys: Vec<String> = resource
        .spec
        .key_items
        .iter()
        .map(|k| quote_ident(k.as_str()))
        .collect();
    let updates: Vec<String> = std::iter::once("_batch_id".to_owned())
        .chain(
            items
                .iter()
                .filter(|i| !resource.spec.key_items.contains(&i.key))
                .map(|i| quote_ident(i.key.as_str())),
        )
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) {source} ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(","),
        keys.join(","),
        updates.join(",")
    )
}

/// Append one row as a JSON object keyed by item key. Decimals, dates and
/// times go as strings in canonical form, so PostgreSQL's input functions and
/// SQLite's text columns both receive the exact written value.
fn write_row_json(out: &mut String, keys: &[String], row: &RowCells) {
    out.push('{');
    let mut first = true;
    for (key, cell) in keys.iter().zip(row) {
        let Some(cell) = cell else { continue };
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        match cell {
            CellValue::Integer(i) => out.push_str(&i.to_string()),
            CellValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
            CellValue::Text(t) | CellValue::Decimal(t) => push_json_string(out, t),
            other => push_json_string(out, &other.canonical_text()),
        }
    }
    out.push('}');
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl BatchWriter {
    pub fn batch_id(&self) -> &str {
        &self.public_id
    }

    /// Add a checked row. The caller guarantees keys are unique within the batch.
    pub async fn push(&mut self, row: RowCells) -> Result<(), StoreError> {
        self.pending.push(row);
        if self.pending.len() >= ROWS_PER_STATEMENT {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let mut json = String::with_capacity(rows.len() * 64 * self.keys.len().max(1));
        json.push('[');
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            write_row_json(&mut json, &self.keys, row);
        }
        json.push(']');
        // Built from catalog-checked item keys, each quoted; the rows are bound.
        sqlx::query(AssertSqlSafe(self.statement.clone()))
            .bind(json)
            .bind(self.batch_row_id)
            .execute(&mut *self.tx)
            .await?;
        self.written += rows.len() as i64;
        Ok(())
    }

    /// Make the batch visible: the rows, the resource's count, the batch's
    /// report and its audit event commit together.
    pub async fn finish(
        mut self,
        rows_read: i64,
        rows_rejected: i64,
        report: &serde_json::Value,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<i64, StoreError> {
        self.flush().await?;
        let table = quote_ident(&self.resource.table_name);
        let count_sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let total: i64 = sqlx::query(AssertSqlSafe(count_sql))
            .fetch_one(&mut *self.tx)
            .await?
            .try_get("n")?;
        sqlx::query("UPDATE resources SET row_count = $1, updated_at = $2 WHERE id = $3")
            .bind(total)
            .bind(ts(now))
            .bind(self.resource.id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "UPDATE batches SET state = 'loaded', rows_read = $1, rows_loaded = $2,
                 rows_rejected = $3, report = $4, finished_at = $5 WHERE id = $6",
        )
        .bind(rows_read)
        .bind(self.written)
        .bind(rows_rejected)
        .bind(report.to_string())
        .bind(ts(now))
        .bind(self.batch_row_id)
        .execute(&mut *self.tx)
        .await?;
        append_in(&mut self.tx, &audit).await?;
        self.tx.commit().await?;
        Ok(self.written)
    }

    /// Abandon the batch: nothing of it becomes visible; its row says why.
    pub async fn fail(self, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let store = self.store.clone();
        let id = self.batch_row_id;
        self.tx.rollback().await?;
        sqlx::query(
            "UPDATE batches SET state = 'failed', report = $1, finished_at = $2 WHERE id = $3",
        )
        .bind(serde_json::json!({ "error": reason }).to_string())
        .bind(ts(now))
        .bind(id)
        .execute(&store.pool)
        .await?;
        Ok(())
    }
}
