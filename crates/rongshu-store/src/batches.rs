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
use crate::changes::{self, BatchMode};
use crate::db::{Backend, quote_ident, ts};
use crate::{Resource, Store, StoreError};

/// One row's cells, in the order of the resource's items.
pub type RowCells = Vec<Option<CellValue>>;

/// Rows sent to the database in one statement.
const ROWS_PER_STATEMENT: usize = 5_000;

/// One failed check of one row, kept in full for the downloadable list.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct FailureRow {
    pub row: u64,
    pub key: Option<String>,
    pub item: Option<String>,
    pub value: Option<String>,
    pub rule: String,
    pub severity: String,
    pub reason: String,
}

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
    /// Positions of the key items among the items.
    key_positions: Vec<usize>,
    statement: std::sync::Arc<str>,
    mode: BatchMode,
    pending: Vec<RowCells>,
    applied: Applied,
    failures_written: i64,
}

/// What a batch did to its resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Rows the batch carried (accepted by the checks).
    pub rows: i64,
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    /// The change-log sequence numbers the batch took, if it changed anything.
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
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
        mode: BatchMode,
        now: DateTime<Utc>,
    ) -> Result<BatchWriter, StoreError> {
        let public_id = format!("b{}", hex::encode(rand::random::<[u8; 10]>()));
        let batch_row_id: i64 = sqlx::query(
            "INSERT INTO batches (public_id, resource_id, state, submitted_by, started_at, mode)
             VALUES ($1, $2, 'loading', $3, $4, $5) RETURNING id",
        )
        .bind(&public_id)
        .bind(resource.id)
        .bind(submitted_by)
        .bind(ts(now))
        .bind(mode.as_str())
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
        let tx = self.begin_write().await?;
        Ok(BatchWriter {
            store: self.clone(),
            tx,
            resource: resource.clone(),
            batch_row_id,
            public_id,
            key_positions: resource
                .spec
                .key_items
                .iter()
                .filter_map(|k| resource.spec.items.iter().position(|i| &i.key == k))
                .collect(),
            keys,
            statement,
            mode,
            pending: Vec::new(),
            applied: Applied::default(),
            failures_written: 0,
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

    /// When each published resource last had a batch loaded (None: never),
    /// optionally only one department's; for the timeliness list.
    pub async fn last_loads(
        &self,
        department: Option<&str>,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.code, MAX(b.finished_at) AS last
             FROM resources r JOIN departments d ON d.id = r.department_id
             LEFT JOIN batches b ON b.resource_id = r.id AND b.state = 'loaded'
             WHERE r.status = 'published' AND ($1 IS NULL OR d.code = $1)
             GROUP BY r.code ORDER BY r.code",
        )
        .bind(department)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("code")?, r.try_get("last")?)))
            .collect()
    }

    /// Every failed check of a batch, in order, `limit` at a time after `after`.
    pub async fn batch_failures(
        &self,
        resource_code: &str,
        public_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, FailureRow)>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.n, f.row_number, f.row_key, f.item, f.value, f.rule, f.severity, f.reason
             FROM batch_failures f JOIN batches b ON b.id = f.batch_id JOIN resources r ON r.id = b.resource_id
             WHERE r.code = $1 AND b.public_id = $2 AND f.n > $3 ORDER BY f.n LIMIT $4",
        )
        .bind(resource_code)
        .bind(public_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let row: i64 = r.try_get("row_number")?;
                Ok((
                    r.try_get("n")?,
                    FailureRow {
                        row: row as u64,
                        key: r.try_get("row_key")?,
                        item: r.try_get("item")?,
                        value: r.try_get("value")?,
                        rule: r.try_get("rule")?,
                        severity: r.try_get("severity")?,
                        reason: r.try_get("reason")?,
                    },
                ))
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

/// Delete the rows whose keys are in the JSON array bound to `$1`.
fn delete_by_keys_sql(backend: Backend, resource: &Resource) -> String {
    let table = quote_ident(&resource.table_name);
    let keys = &resource.spec.key_items;
    match backend {
        Backend::Sqlite => {
            let conditions: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{table}.{} = json_extract(j.value, '$.{}')",
                        quote_ident(k.as_str()),
                        k.as_str()
                    )
                })
                .collect();
            format!(
                "DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM json_each($1) AS j WHERE {})",
                conditions.join(" AND ")
            )
        }
        Backend::Postgres => {
            let conditions: Vec<String> = keys
                .iter()
                .map(|k| format!("t.{c} = j.{c}", c = quote_ident(k.as_str())))
                .collect();
            format!(
                "DELETE FROM {table} AS t USING json_populate_recordset(NULL::{table}, CAST($1 AS json)) AS j WHERE {}",
                conditions.join(" AND ")
            )
        }
    }
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

    fn row_json(&self, row: &RowCells) -> String {
        let mut out = String::with_capacity(64 * self.keys.len().max(1));
        write_row_json(&mut out, &self.keys, row);
        out
    }

    fn key_json(&self, row: &RowCells) -> String {
        let keys: Vec<String> = self
            .key_positions
            .iter()
            .map(|&i| self.keys[i].clone())
            .collect();
        let cells: RowCells = self
            .key_positions
            .iter()
            .map(|&i| row.get(i).cloned().flatten())
            .collect();
        let mut out = String::new();
        write_row_json(&mut out, &keys, &cells);
        out
    }

    /// Keep failed checks for the batch's downloadable list, in its transaction.
    pub async fn push_failures(&mut self, failures: &[FailureRow]) -> Result<(), StoreError> {
        if failures.is_empty() {
            return Ok(());
        }
        let rows: Vec<serde_json::Value> = failures
            .iter()
            .enumerate()
            .map(|(i, f)| {
                serde_json::json!({
                    "n": self.failures_written + i as i64 + 1, "row_number": f.row, "row_key": f.key,
                    "item": f.item, "value": f.value, "rule": f.rule, "severity": f.severity, "reason": f.reason,
                })
            })
            .collect();
        let sql = match self.store.backend {
            Backend::Sqlite => {
                "INSERT INTO batch_failures (batch_id, n, row_number, row_key, item, value, rule, severity, reason)
                 SELECT $2, json_extract(value, '$.n'), json_extract(value, '$.row_number'),
                        json_extract(value, '$.row_key'), json_extract(value, '$.item'), json_extract(value, '$.value'),
                        json_extract(value, '$.rule'), json_extract(value, '$.severity'), json_extract(value, '$.reason')
                 FROM json_each($1)"
            }
            Backend::Postgres => {
                "INSERT INTO batch_failures (batch_id, n, row_number, row_key, item, value, rule, severity, reason)
                 SELECT $2, f.n, f.row_number, f.row_key, f.item, f.value, f.rule, f.severity, f.reason
                 FROM json_to_recordset(CAST($1 AS json)) AS f(n BIGINT, row_number BIGINT, row_key TEXT,
                      item TEXT, value TEXT, rule TEXT, severity TEXT, reason TEXT)"
            }
        };
        sqlx::query(sql)
            .bind(serde_json::Value::Array(rows).to_string())
            .bind(self.batch_row_id)
            .execute(&mut *self.tx)
            .await?;
        self.failures_written += failures.len() as i64;
        Ok(())
    }

    /// Compare a chunk with the current rows, write what differs, and log it.
    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let backend = self.store.backend;
        let spec = &self.resource.spec;
        let all: Vec<String> = rows.iter().map(|r| self.row_json(r)).collect();
        let all_json = format!("[{}]", all.join(","));
        let current =
            changes::current_rows(&mut self.tx, backend, &self.resource, &all_json).await?;
        let mut write = Vec::new();
        let mut removed = Vec::new();
        let mut entries: Vec<(&'static str, String, Option<String>)> = Vec::new();
        for (row, json) in rows.iter().zip(all) {
            let texts: Vec<Option<String>> = row
                .iter()
                .zip(&spec.items)
                .map(|(c, item)| {
                    changes::normalise(item.item_type, c.as_ref().map(CellValue::canonical_text))
                })
                .collect();
            let key = changes::key_of(spec, &texts);
            let old = current.get(&key);
            match (self.mode, old) {
                (BatchMode::Delete, Some(_)) => {
                    entries.push(("delete", self.key_json(row), None));
                    removed.push(json);
                    self.applied.deleted += 1;
                }
                (BatchMode::Delete, None) => self.applied.unchanged += 1,
                (_, None) => {
                    entries.push(("insert", self.key_json(row), Some(json.clone())));
                    write.push(json);
                    self.applied.inserted += 1;
                }
                (_, Some(old)) if *old != texts => {
                    entries.push(("update", self.key_json(row), Some(json.clone())));
                    write.push(json);
                    self.applied.updated += 1;
                }
                (mode, Some(_)) => {
                    // A snapshot marks even unchanged rows as seen, so that what it
                    // does not name can be found and deleted at the end.
                    if mode == BatchMode::Replace {
                        write.push(json);
                    }
                    self.applied.unchanged += 1;
                }
            }
        }
        self.applied.rows += rows.len() as i64;
        if !write.is_empty() {
            // Built from catalog-checked item keys, each quoted; the rows are bound.
            sqlx::query(AssertSqlSafe(self.statement.clone()))
                .bind(format!("[{}]", write.join(",")))
                .bind(self.batch_row_id)
                .execute(&mut *self.tx)
                .await?;
        }
        if !removed.is_empty() {
            let sql = delete_by_keys_sql(backend, &self.resource);
            sqlx::query(AssertSqlSafe(sql))
                .bind(format!("[{}]", removed.join(",")))
                .execute(&mut *self.tx)
                .await?;
        }
        self.log(&entries).await
    }

    async fn log(
        &mut self,
        entries: &[(&'static str, String, Option<String>)],
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let first = changes::reserve(&mut self.tx, self.resource.id, entries.len() as i64).await?;
        let last = first + entries.len() as i64 - 1;
        self.applied.first_seq.get_or_insert(first);
        self.applied.last_seq = Some(last);
        changes::append(
            &mut self.tx,
            self.store.backend,
            self.resource.id,
            self.batch_row_id,
            first,
            entries,
        )
        .await
    }

    /// For a snapshot: delete (and log) every row the batch did not name.
    async fn delete_unnamed(&mut self) -> Result<(), StoreError> {
        let spec = &self.resource.spec;
        let table = quote_ident(&self.resource.table_name);
        let key_columns: Vec<String> = spec
            .key_items
            .iter()
            .map(|k| format!("CAST({c} AS TEXT) AS {c}", c = quote_ident(k.as_str())))
            .collect();
        let sql = format!(
            "SELECT {} FROM {table} WHERE _batch_id <> $1 ORDER BY _row_id",
            key_columns.join(", ")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(self.batch_row_id)
            .fetch_all(&mut *self.tx)
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut key = serde_json::Map::new();
            for k in &spec.key_items {
                let text: Option<String> = row.try_get(k.as_str())?;
                let item = spec.item(k.as_str());
                let value = match (text, item.map(|i| i.item_type)) {
                    (None, _) => serde_json::Value::Null,
                    (Some(t), Some(ItemType::Integer)) => t
                        .parse::<i64>()
                        .map(serde_json::Value::from)
                        .unwrap_or(serde_json::Value::String(t)),
                    (Some(t), _) => serde_json::Value::String(t),
                };
                key.insert(k.to_string(), value);
            }
            entries.push(("delete", serde_json::Value::Object(key).to_string(), None));
        }
        let sql = format!("DELETE FROM {table} WHERE _batch_id <> $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(self.batch_row_id)
            .execute(&mut *self.tx)
            .await?;
        self.applied.deleted += entries.len() as i64;
        self.log(&entries).await
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
    ) -> Result<Applied, StoreError> {
        self.flush().await?;
        if self.mode == BatchMode::Replace {
            self.delete_unnamed().await?;
        }
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
                 rows_rejected = $3, report = $4, finished_at = $5, first_seq = $7, last_seq = $8
             WHERE id = $6",
        )
        .bind(rows_read)
        .bind(self.applied.rows)
        .bind(rows_rejected)
        .bind(report.to_string())
        .bind(ts(now))
        .bind(self.batch_row_id)
        .bind(self.applied.first_seq)
        .bind(self.applied.last_seq)
        .execute(&mut *self.tx)
        .await?;
        append_in(&mut self.tx, &audit).await?;
        self.tx.commit().await?;
        Ok(self.applied)
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
