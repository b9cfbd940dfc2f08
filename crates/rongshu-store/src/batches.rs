//! Loading a batch into a resource's typed table. Rows are staged on the
//! batch's own connection (see `stage`), compared with the resource's, and the
//! differences applied in one transaction, so readers see the old data or the
//! new, never a mix. The batch's own row is committed first as `loading` and
//! kept alive by a heartbeat, so a batch whose process died is found and
//! marked failed.

use chrono::{DateTime, Utc};
use rongshu_core::audit::AuditRecord;
use rongshu_core::catalog::ItemType;
use rongshu_core::value::CellValue;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyArguments;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnection;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Connection, Row};
use std::time::{Duration, Instant};

use crate::audit::append_in;
use crate::beside::{self, Beside, Changes, Shadow};
use crate::changes::{self, BatchMode};
use crate::db::{Backend, ts};
use crate::first_load::{self, QueuedRow};
use crate::log_aside::LogAside;
use crate::pg_beside::{self, Beats, PgBeside, PgShadow};
use crate::repeats::{StagedRow, StreamStatus};
use crate::seen_keys::SeenKeys;
use crate::stage::{ChangedLines, RowEffect, SCRATCH_SCHEMA, StageSql, Todo};
use crate::stage_copy::CopyStream;
use crate::stage_scratch::{self, ScratchStage};
use crate::table_log::Targets;
use crate::{Resource, Store, StoreError};

/// One row's cells, in the order of the resource's items.
pub type RowCells = Vec<Option<CellValue>>;

/// Rows sent to the database in one statement.
pub(crate) const ROWS_PER_STATEMENT: usize = 5_000;

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

/// An open batch: rows go in with `push` and are staged on a connection of
/// their own; `finish` compares them with the resource and makes the
/// differences visible in one short write.
pub struct BatchWriter {
    pub(crate) store: Store,
    pub(crate) conn: PoolConnection<Any>,
    /// PostgreSQL: one `COPY` on a connection of the batch's own (the `Any`
    /// driver cannot), until every row is in (see `stage_copy`).
    pub(crate) copy: Option<CopyStream>,
    /// On a SQLite file: the scratch file the rows are staged in, through a
    /// connection of its own until every row is in (see `stage_scratch`).
    pub(crate) scratch: Option<ScratchStage>,
    /// Every row is staged (and, on PostgreSQL, the staged rows analysed).
    all_staged: bool,
    pub(crate) resource: Resource,
    pub(crate) batch_row_id: i64,
    public_id: String,
    /// Item keys, in the order of a row's cells, for the record each staged
    /// row carries into the change log; `None` for a first load, whose rows
    /// log themselves (see `table_log`).
    pub(crate) record_keys: Option<Vec<String>>,
    pub(crate) sql: StageSql,
    /// The staging statement for a full run of rows, built once.
    insert_rows: std::sync::Arc<str>,
    mode: BatchMode,
    pending: Vec<StagedRow>,
    /// Whether each pending row's key is a suspect (see `seen_keys`).
    pending_suspects: Vec<bool>,
    /// A large first load is written as it is read (see `first_load` on
    /// SQLite, `pg_first_load` on PostgreSQL); other batches are staged
    /// the general way.
    pub(crate) first_load: first_load::Stage,
    /// Repeated keys a first load written as read handed back, kept in
    /// [`first_load::DIRECT_REPEATS`].
    pub(crate) repeats_kept: i64,
    /// Rows staged that will be applied (after `settle_repeats`, exactly).
    pub(crate) rows_staged: i64,
    /// Rows staged only so that their keys count as seen.
    pub(crate) rejected_staged: i64,
    /// Whether rows come with digests for `settle_repeats` to compare.
    pub(crate) checks_repeats: bool,
    /// The staged keys, roughly (see `seen_keys`), when repeats are checked.
    pub(crate) seen_keys: Option<SeenKeys>,
    pub(crate) failures_written: i64,
    /// When the batch began, on the caller's clock and on the monotonic one:
    /// heartbeats are stamped on the caller's clock, as the stale check is.
    began: (DateTime<Utc>, Instant),
    heartbeat: Instant,
    /// How long finding repeated keys and unique values in the staged rows
    /// took (part of staging, reported beside it).
    pub(crate) repeats_took: std::time::Duration,
    /// The first and last line of the rows sent to the staged table, while
    /// every row went there and none has been taken out since: then a first
    /// load's comparison need not read the table for them (on PostgreSQL,
    /// a pass over every staged row).
    pub(crate) staged_span: StagedSpan,
}

/// What the writer knows of the lines in the staged table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StagedSpan {
    /// No row staged yet.
    Nothing,
    /// Every row staged, and still there, lies from `first` to `last`.
    Lines { first: i64, last: i64 },
    /// Rows went elsewhere or were taken out: ask the table.
    Unknown,
}

impl StagedSpan {
    /// After rows with these lines, in file order, went to the staged table.
    fn extended(self, lines: impl Iterator<Item = i64>) -> Self {
        lines.fold(self, |span, line| match span {
            StagedSpan::Nothing => StagedSpan::Lines {
                first: line,
                last: line,
            },
            StagedSpan::Lines { first, last } => StagedSpan::Lines {
                first: first.min(line),
                last: last.max(line),
            },
            StagedSpan::Unknown => StagedSpan::Unknown,
        })
    }
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

/// A checked cell as every staging path stores it: integers and booleans
/// as such, every other value as its canonical text, nothing as NULL (of
/// the item's type, for drivers that bind typed NULLs).
pub(crate) enum StoredCell<'a> {
    Integer(i64),
    Boolean(bool),
    Text(std::borrow::Cow<'a, str>),
    Null(ItemType),
}

pub(crate) fn stored_cell(item_type: ItemType, cell: Option<&CellValue>) -> StoredCell<'_> {
    match (item_type, cell) {
        (_, None) => StoredCell::Null(item_type),
        (ItemType::Integer, Some(CellValue::Integer(i))) => StoredCell::Integer(*i),
        (ItemType::Boolean, Some(CellValue::Boolean(b))) => StoredCell::Boolean(*b),
        (_, Some(CellValue::Text(t) | CellValue::Decimal(t))) => StoredCell::Text(t.into()),
        (_, Some(other)) => StoredCell::Text(other.canonical_text().into()),
    }
}

pub(crate) fn bind_cell<'q>(
    query: Query<'q, Any, AnyArguments>,
    item_type: ItemType,
    cell: Option<&CellValue>,
) -> Query<'q, Any, AnyArguments> {
    match stored_cell(item_type, cell) {
        StoredCell::Integer(i) => query.bind(i),
        StoredCell::Boolean(b) => query.bind(b),
        StoredCell::Text(t) => query.bind(t.into_owned()),
        StoredCell::Null(ItemType::Integer) => query.bind(None::<i64>),
        StoredCell::Null(ItemType::Boolean) => query.bind(None::<bool>),
        StoredCell::Null(_) => query.bind(None::<String>),
    }
}

impl Store {
    /// Open a batch for a resource. `submitted_by` names the actor. Only one
    /// batch loads into a resource at a time: a second one is refused while
    /// the first is alive (its heartbeat is fresh), and replaces it when the
    /// process that loaded it has stopped.
    pub async fn begin_batch(
        &self,
        resource: &Resource,
        submitted_by: &str,
        mode: BatchMode,
        now: DateTime<Utc>,
    ) -> Result<BatchWriter, StoreError> {
        self.open_batch(resource, submitted_by, mode, now, None)
            .await
    }

    /// Open a batch whose rows come with digests ([`BatchWriter::push_checked`])
    /// so that [`BatchWriter::settle_repeats`] finds repeated keys and the
    /// values of `unique_rules` uniqueness rules in the staged rows.
    pub async fn begin_checked_batch(
        &self,
        resource: &Resource,
        submitted_by: &str,
        mode: BatchMode,
        now: DateTime<Utc>,
        unique_rules: usize,
    ) -> Result<BatchWriter, StoreError> {
        self.open_batch(resource, submitted_by, mode, now, Some(unique_rules))
            .await
    }

    async fn open_batch(
        &self,
        resource: &Resource,
        submitted_by: &str,
        mode: BatchMode,
        now: DateTime<Utc>,
        unique_rules: Option<usize>,
    ) -> Result<BatchWriter, StoreError> {
        self.fail_stale_batches(Some(resource.id), now).await?;
        let public_id = format!("b{}", hex::encode(rand::random::<[u8; 10]>()));
        let inserted = sqlx::query(
            "INSERT INTO batches (public_id, resource_id, state, submitted_by, started_at, mode, heartbeat_at)
             VALUES ($1, $2, 'loading', $3, $4, $5, $4) RETURNING id",
        )
        .bind(&public_id)
        .bind(resource.id)
        .bind(submitted_by)
        .bind(ts(now))
        .bind(mode.as_str())
        .fetch_one(&self.pool)
        .await;
        let batch_row_id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "another batch is loading into {}; send this one when it has finished",
                    resource.code
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let mut sql = StageSql::new(
            self.backend,
            resource,
            mode,
            unique_rules.unwrap_or(0),
            batch_row_id,
        );
        let scratch_file = self.scratch_file(batch_row_id);
        sql.scratch = scratch_file.is_some();
        // Only this batch loads into the resource, so one empty now is
        // empty until the final step: a first load (see `compare`).
        let empty_at_start = match sqlx::query(AssertSqlSafe(sql.any_row()))
            .fetch_optional(&self.pool)
            .await
        {
            Ok(row) => row.is_none(),
            Err(e) => {
                let e = StoreError::from(e);
                self.mark_failed(batch_row_id, &e.to_string(), now).await?;
                return Err(e);
            }
        };
        // Rows with their key digests, no uniqueness rule but the key's, into
        // a resource with no rows: every row the checks let through is an
        // insert, and may be written as it is read (see `first_load`).
        // On PostgreSQL, straight into the batch's table (see `pg_first_load`).
        let may_write_as_read = empty_at_start
            && (scratch_file.is_some() || self.pg_copy.is_some())
            && unique_rules == Some(0)
            && mode != BatchMode::Delete;
        let first_load = if may_write_as_read {
            first_load::Stage::Holding(Vec::new())
        } else {
            first_load::Stage::General
        };
        // Such a batch makes its scratch file only if it stays small.
        let scratch_file =
            scratch_file.filter(|_| matches!(first_load, first_load::Stage::General));
        // A first load's rows log themselves (see `table_log`).
        let record_keys: Option<Vec<String>> = (!empty_at_start).then(|| {
            resource
                .spec
                .items
                .iter()
                .map(|i| i.key.to_string())
                .collect()
        });
        let staged = match self.stage_connection(&sql).await {
            Ok(conn) => match self.copy_connection(&sql).await {
                Ok(copy) => match scratch_file {
                    Some(path) => {
                        ScratchStage::create(path, &sql, record_keys.clone(), STAGE_CACHE_KIB)
                            .await
                            .map(|scratch| (conn, copy, Some(scratch)))
                    }
                    None => Ok((conn, copy, None)),
                },
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (conn, copy, scratch) = match staged {
            Ok(all) => all,
            Err(e) => {
                self.mark_failed(batch_row_id, &e.to_string(), now).await?;
                return Err(e);
            }
        };
        Ok(BatchWriter {
            store: self.clone(),
            conn,
            copy,
            scratch,
            all_staged: false,
            resource: resource.clone(),
            batch_row_id,
            public_id,
            record_keys,
            insert_rows: sql.insert_rows(sql.rows_per_statement()).into(),
            sql,
            mode,
            pending: Vec::new(),
            pending_suspects: Vec::new(),
            first_load,
            repeats_kept: 0,
            rows_staged: 0,
            rejected_staged: 0,
            checks_repeats: unique_rules.is_some(),
            seen_keys: unique_rules
                .is_some()
                .then(|| SeenKeys::with_blocks(self.seen_key_blocks)),
            failures_written: 0,
            began: (now, Instant::now()),
            heartbeat: Instant::now(),
            repeats_took: std::time::Duration::ZERO,
            staged_span: StagedSpan::Nothing,
        })
    }

    /// A connection of the batch's own, with its staging tables.
    async fn stage_connection(&self, sql: &StageSql) -> Result<PoolConnection<Any>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Sqlite {
            // The bundled SQLite keeps temporary tables in memory by default;
            // a batch of any size must spill to disk instead. A larger page
            // cache than the default 2 MiB keeps the staged rows' and the
            // table's index pages from being written out and read back
            // while they are filled (a sixth less time on a million rows);
            // it is a fixed amount, whatever the file's size, and given back
            // when the batch ends.
            sqlx::query("PRAGMA temp_store = FILE")
                .execute(&mut *conn)
                .await?;
            for pragma in cache_pragmas(STAGE_CACHE_KIB) {
                sqlx::query(AssertSqlSafe(pragma))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        for statement in sql.create() {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *conn)
                .await?;
        }
        Ok(conn)
    }

    /// PostgreSQL: the connection that stages a batch's rows with `COPY`.
    async fn copy_connection(&self, sql: &StageSql) -> Result<Option<CopyStream>, StoreError> {
        match &self.pg_copy {
            Some(options) => {
                let conn = PgConnection::connect_with(options).await?;
                Ok(Some(CopyStream::start(conn, sql.copy_rows())))
            }
            None => Ok(None),
        }
    }

    /// On a SQLite file, where batch `batch_row_id` stages its rows.
    pub(crate) fn scratch_file(&self, batch_row_id: i64) -> Option<std::path::PathBuf> {
        let readers = self.readers.as_ref()?;
        Some(stage_scratch::scratch_path(readers.path(), batch_row_id))
    }

    /// Remove the staged rows of a batch that will not finish: its table on
    /// PostgreSQL, its scratch file on a SQLite file (the temporary tables
    /// of a SQLite database in memory go with their connection).
    async fn drop_stage(&self, batch_row_id: i64) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            let table = crate::stage::stage_table(self.backend, batch_row_id);
            sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
                .execute(&self.pool)
                .await?;
        }
        if let Some(path) = self.scratch_file(batch_row_id) {
            stage_scratch::remove_scratch(&path)?;
        }
        // And what it wrote beside the resource, or logged unpublished.
        let resource = sqlx::query("SELECT resource_id FROM batches WHERE id = $1")
            .bind(batch_row_id)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(resource) = resource {
            self.discard_unpublished(resource.try_get("resource_id")?)
                .await?;
        }
        Ok(())
    }

    /// Mark as failed the batches whose loader stopped: still `loading`, but
    /// no heartbeat for longer than the lease. Run at start, periodically, and
    /// before a new batch of the same resource. Batches of a live process,
    /// this one's or another's (the CLI beside the server, a second server on
    /// PostgreSQL), are left alone.
    pub async fn fail_stale_batches(
        &self,
        resource_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let lease = chrono::Duration::from_std(batch_lease())
            .unwrap_or_else(|_| chrono::Duration::seconds(DEFAULT_LEASE_SECONDS));
        let failed = sqlx::query(
            "UPDATE batches SET state = 'failed', finished_at = $1,
                 report = '{\"error\":\"the process loading this batch stopped before it finished\"}'
             WHERE state = 'loading' AND (heartbeat_at IS NULL OR heartbeat_at < $2)
               AND ($3 IS NULL OR resource_id = $3)
             RETURNING id",
        )
        .bind(ts(now))
        .bind(ts(now - lease))
        .bind(resource_id)
        .fetch_all(&self.pool)
        .await?;
        // What a stopped loader staged is left in a table of its own.
        for row in &failed {
            self.drop_stage(row.try_get("id")?).await?;
        }
        Ok(failed.len() as u64)
    }

    /// Mark batches left `loading` by a process that stopped as failed, and
    /// remove (in the background) the resource tables final steps put aside
    /// that a stopped process left.
    pub async fn fail_interrupted_batches(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let failed = self.fail_stale_batches(None, now).await?;
        self.remove_put_aside_in_background().await?;
        Ok(failed)
    }

    async fn mark_failed(
        &self,
        batch_row_id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE batches SET state = 'failed', report = $1, finished_at = $2 WHERE id = $3",
        )
        .bind(serde_json::json!({ "error": reason }).to_string())
        .bind(ts(now))
        .bind(batch_row_id)
        .execute(&self.pool)
        .await?;
        self.drop_stage(batch_row_id).await
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

/// Append one row as a JSON object keyed by item key. Decimals, dates and
/// times go as strings in canonical form, so PostgreSQL's input functions and
/// SQLite's text columns both receive the exact written value.
pub(crate) fn write_row_json(out: &mut String, keys: &[String], row: &RowCells) {
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

/// A staged row's record as the change log records it, written into
/// `buffer`; `None` when the batch logs none (`keys` is `None`).
pub(crate) fn record_of<'b>(
    buffer: &'b mut String,
    keys: Option<&[String]>,
    row: &StagedRow,
) -> Option<&'b str> {
    let keys = keys?;
    buffer.clear();
    write_row_json(buffer, keys, &row.cells);
    Some(buffer.as_str())
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    // Runs that need no escape go in whole: every value of a load passes
    // through here. What needs one is ASCII, and no byte of a multi-byte
    // character is, so each escape falls between characters.
    let mut plain_from = 0;
    for (at, byte) in s.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(s.get(plain_from..at).unwrap_or_default());
        if escaped.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escaped);
        }
        plain_from = at + 1;
    }
    out.push_str(s.get(plain_from..).unwrap_or_default());
    out.push('"');
}

impl BatchWriter {
    pub fn batch_id(&self) -> &str {
        &self.public_id
    }

    /// Add a checked row. The caller guarantees keys are unique within the batch.
    pub async fn push(&mut self, row: RowCells) -> Result<(), StoreError> {
        let line = (self.rows_staged + self.rejected_staged + self.pending.len() as i64) as u64;
        self.push_checked(StagedRow {
            line,
            status: StreamStatus::Clean,
            key: None,
            digests: Default::default(),
            cells: row,
        })
        .await
    }

    /// Add a row with what finding its repeats needs; a rejected row is
    /// staged only so that its key counts as seen, and is never applied.
    pub async fn push_checked(&mut self, row: StagedRow) -> Result<(), StoreError> {
        let suspect = match self.seen_keys.as_mut() {
            Some(seen) => seen.note(row.digests.key),
            None => true,
        };
        self.pending.push(row);
        self.pending_suspects.push(suspect);
        if self.pending.len() >= ROWS_PER_STATEMENT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Keep failed checks for the batch's downloadable list; they are stored
    /// with the batch when it finishes.
    pub async fn push_failures(&mut self, failures: &[FailureRow]) -> Result<(), StoreError> {
        if failures.is_empty() {
            return Ok(());
        }
        let rows: Vec<serde_json::Value> = failures
            .iter()
            .enumerate()
            .map(|(i, f)| {
                serde_json::json!({
                    "n": self.failures_written + i as i64 + 1, "row_number": f.row,
                    "row_key": f.key.as_deref().map(storable), "item": f.item.as_deref().map(storable),
                    "value": f.value.as_deref().map(storable), "rule": storable(&f.rule),
                    "severity": f.severity, "reason": storable(&f.reason),
                })
            })
            .collect();
        sqlx::query(AssertSqlSafe(self.sql.insert_failures()))
            .bind(serde_json::Value::Array(rows).to_string())
            .execute(&mut *self.conn)
            .await?;
        self.failures_written += failures.len() as i64;
        self.beat().await
    }

    /// Stage the pending rows.
    pub(crate) async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        let suspects = std::mem::take(&mut self.pending_suspects);
        // On PostgreSQL every row is staged, if only to claim its key (see
        // `pg_first_load`); on SQLite a first load's rows may go elsewhere.
        let all_staged_here = self.store.backend == Backend::Postgres
            || matches!(self.first_load, first_load::Stage::General);
        self.staged_span = if all_staged_here {
            self.staged_span
                .extended(rows.iter().map(|row| row.line as i64))
        } else {
            StagedSpan::Unknown
        };
        if !matches!(self.first_load, first_load::Stage::General) {
            let queued = rows
                .into_iter()
                .zip(suspects)
                .map(|(row, suspect)| QueuedRow { row, suspect })
                .collect();
            self.load_first(queued).await?;
        } else if self.copy.is_some() {
            self.copy_rows(&rows).await?;
        } else if self.scratch.is_some() {
            self.scratch_rows(rows).await?;
        } else {
            self.insert_rows(&rows).await?;
        }
        self.beat().await
    }

    pub(crate) fn count_staged(&mut self, row: &StagedRow) {
        if row.status == StreamStatus::Rejected {
            self.rejected_staged += 1;
        } else {
            self.rows_staged += 1;
        }
    }

    /// Stage rows with multi-row inserts of bound values.
    async fn insert_rows(&mut self, rows: &[StagedRow]) -> Result<(), StoreError> {
        let mut record = String::new();
        for run in rows.chunks(self.sql.rows_per_statement()) {
            let statement: std::sync::Arc<str> = if run.len() == self.sql.rows_per_statement() {
                self.insert_rows.clone()
            } else {
                self.sql.insert_rows(run.len()).into()
            };
            let mut query = sqlx::query(AssertSqlSafe(statement));
            for row in run {
                let record = record_of(&mut record, self.record_keys.as_deref(), row);
                let (k1, k2) = halves(row.digests.key);
                query = query
                    .bind(row.line as i64)
                    .bind(record.map(str::to_owned))
                    .bind(row.status.code())
                    .bind(row.key.clone())
                    .bind(k1)
                    .bind(k2);
                for u in 0..self.sql.unique_rules {
                    let digest = row.digests.unique.get(u).copied().flatten().map(halves);
                    query = query
                        .bind(digest.map(|(a, _)| a))
                        .bind(digest.map(|(_, b)| b));
                }
                self.count_staged(row);
                for (i, item_type) in self.sql.item_types().iter().enumerate() {
                    query = bind_cell(query, *item_type, row.cells.get(i).and_then(Option::as_ref));
                }
            }
            query.execute(&mut *self.conn).await?;
        }
        Ok(())
    }

    /// SQLite file: stage rows in the batch's scratch file.
    pub(crate) async fn scratch_rows(&mut self, rows: Vec<StagedRow>) -> Result<(), StoreError> {
        for row in &rows {
            self.count_staged(row);
        }
        let per_statement = self.sql.rows_per_statement();
        let partial = (!rows.len().is_multiple_of(per_statement))
            .then(|| self.sql.insert_rows(rows.len() % per_statement));
        match self.scratch.as_mut() {
            Some(scratch) => scratch.insert(rows, partial).await,
            None => Ok(()),
        }
    }

    /// PostgreSQL: stage rows with one `COPY` on the batch's copy connection.
    pub(crate) async fn copy_rows(&mut self, rows: &[StagedRow]) -> Result<(), StoreError> {
        let mut data = Vec::with_capacity(rows.len() * 256);
        let mut record = String::new();
        for row in rows {
            let record = record_of(&mut record, self.record_keys.as_deref(), row);
            crate::stage_copy::encode_row(
                &mut data,
                row,
                record,
                self.sql.unique_rules,
                self.sql.item_types(),
            );
        }
        for row in rows {
            self.count_staged(row);
        }
        match self.copy.as_mut() {
            Some(copy) => copy.send(data).await,
            None => Ok(()),
        }
    }

    /// Stage what is still pending; from here on the batch only reads and
    /// changes what is staged. On PostgreSQL the copy connection is done
    /// with, and the staged rows get the statistics the comparison's plan
    /// needs.
    pub(crate) async fn stage_all(&mut self) -> Result<(), StoreError> {
        self.flush().await?;
        if self.all_staged {
            return Ok(());
        }
        self.all_staged = true;
        match std::mem::replace(&mut self.first_load, first_load::Stage::General) {
            first_load::Stage::Holding(held) => self.stage_held(held).await?,
            first_load::Stage::Writing(mut load) => {
                let written = load.close().await;
                self.keep_repeats(load.take_repeats()).await?;
                let written = written?;
                self.first_load = first_load::Stage::Written(Beside {
                    shadow: load.shadow.clone(),
                    first_seq: load.first_seq,
                    moved: written.inserted,
                    turns: written.turns,
                    longest_turn: written.longest_turn,
                });
                return Ok(());
            }
            first_load::Stage::Direct(load) => self.finish_pg_first_load(load).await?,
            other => self.first_load = other,
        }
        if let Some(mut copy) = self.copy.take() {
            copy.finish().await?;
        }
        if let Some(scratch) = self.scratch.as_mut() {
            scratch.close().await?;
            let path = scratch
                .path()
                .to_str()
                .ok_or_else(|| StoreError::Invalid("the database's path is not UTF-8".into()))?;
            // A connection whose batch was dropped unfinished may still have
            // its scratch file attached.
            let attached = sqlx::query("SELECT 1 FROM pragma_database_list WHERE name = $1")
                .bind(SCRATCH_SCHEMA)
                .fetch_optional(&mut *self.conn)
                .await?;
            if attached.is_some() {
                sqlx::query(AssertSqlSafe(format!("DETACH DATABASE {SCRATCH_SCHEMA}")))
                    .execute(&mut *self.conn)
                    .await?;
            }
            sqlx::query(AssertSqlSafe(format!(
                "ATTACH DATABASE $1 AS {SCRATCH_SCHEMA}"
            )))
            .bind(path)
            .execute(&mut *self.conn)
            .await?;
            // As the file was filled: nothing of it needs to survive a crash.
            for pragma in [
                format!("PRAGMA {SCRATCH_SCHEMA}.journal_mode = OFF"),
                format!("PRAGMA {SCRATCH_SCHEMA}.synchronous = OFF"),
                format!("PRAGMA {SCRATCH_SCHEMA}.cache_size = -{STAGE_CACHE_KIB}"),
            ] {
                sqlx::query(AssertSqlSafe(pragma))
                    .execute(&mut *self.conn)
                    .await?;
            }
        }
        if let Some(statement) = self.sql.analyze() {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(())
    }

    /// Tell other processes this batch's loader is alive.
    pub(crate) async fn beat(&mut self) -> Result<(), StoreError> {
        if self.heartbeat.elapsed() < heartbeat_interval() {
            return Ok(());
        }
        self.heartbeat = Instant::now();
        let (began, began_at) = self.began;
        let stamp = began + chrono::Duration::from_std(began_at.elapsed()).unwrap_or_default();
        sqlx::query("UPDATE batches SET heartbeat_at = $1 WHERE id = $2")
            .bind(ts(stamp))
            .bind(self.batch_row_id)
            .execute(&self.store.pool)
            .await?;
        Ok(())
    }

    /// Make the batch visible: the staged rows are compared with the
    /// resource's (reads only), then the differences, their change log, the
    /// resource's count, the batch's report, its failed checks and its audit
    /// event commit together in one write.
    pub async fn finish(
        mut self,
        rows_read: i64,
        rows_rejected: i64,
        report: &serde_json::Value,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Applied, StoreError> {
        match self
            .complete(rows_read, rows_rejected, report, now, audit)
            .await
        {
            Ok(applied) => {
                // The staging tables go with the batch; a connection that
                // cannot drop them is closed instead of going back to the pool.
                let mut dropped = true;
                let restore = match self.store.backend {
                    Backend::Sqlite => cache_pragmas(DEFAULT_CACHE_KIB).to_vec(),
                    Backend::Postgres => Vec::new(),
                };
                let drop = if self.sql.scratch {
                    let mut side = self.sql.drop_side_tables();
                    if self.scratch.is_some() {
                        side.push(format!("DETACH DATABASE {SCRATCH_SCHEMA}"));
                    }
                    side
                } else {
                    self.sql.drop()
                };
                for statement in drop.into_iter().chain(restore) {
                    if sqlx::query(AssertSqlSafe(statement))
                        .execute(&mut *self.conn)
                        .await
                        .is_err()
                    {
                        dropped = false;
                        break;
                    }
                }
                if !dropped {
                    let _ = self.conn.close().await;
                }
                Ok(applied)
            }
            // Nothing of the batch was committed; say so on the batch at once
            // rather than leaving it `loading` (and its resource blocked)
            // until its lease runs out.
            Err(e) => {
                if let Some(copy) = self.copy.take() {
                    copy.abandon().await;
                }
                self.abandon_first_load().await;
                let (store, id) = (self.store.clone(), self.batch_row_id);
                let _ = self.conn.close().await;
                if let Err(marking) = store.mark_failed(id, &e.to_string(), now).await {
                    tracing::error!(error = %marking, batch = id, "could not mark a failed batch");
                }
                Err(e)
            }
        }
    }

    /// Compare the staged rows with the resource: what each does, and how
    /// many rows a snapshot no longer names.
    async fn compare(&mut self) -> Result<Comparison, StoreError> {
        let mut applied = Applied {
            rows: self.rows_staged,
            ..Applied::default()
        };
        // Into an empty resource every staged row does what it does to a new
        // key (which it was staged as): there is nothing to compare with.
        // Only this batch loads into the resource, so it stays empty until
        // the final step.
        let empty = sqlx::query(AssertSqlSafe(self.sql.any_row()))
            .fetch_optional(&mut *self.conn)
            .await?
            .is_none();
        if !empty && self.record_keys.is_none() {
            // Staged as a first load, without the records a log needs.
            return Err(StoreError::Conflict(format!(
                "{} gained rows while batch {} was loading into it as its first",
                self.resource.code, self.public_id
            )));
        }
        // The first and last line of the rows that change something.
        let (mut first_line, mut last_line) = (None::<i64>, None::<i64>);
        if empty {
            match self.mode {
                BatchMode::Upsert | BatchMode::Replace => {
                    applied.inserted = self.rows_staged;
                    match self.staged_span {
                        StagedSpan::Lines { first, last } => {
                            (first_line, last_line) = (Some(first), Some(last));
                        }
                        StagedSpan::Nothing => {}
                        StagedSpan::Unknown => {
                            let span = sqlx::query(AssertSqlSafe(self.sql.line_span()))
                                .fetch_one(&mut *self.conn)
                                .await?;
                            first_line = span.try_get("lo")?;
                            last_line = span.try_get("hi")?;
                        }
                    }
                }
                BatchMode::Delete => applied.unchanged = self.rows_staged,
            }
        } else {
            for statement in self.sql.diff(self.mode) {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut *self.conn)
                    .await?;
            }
            let counts = sqlx::query(AssertSqlSafe(self.sql.op_counts()))
                .fetch_all(&mut *self.conn)
                .await?;
            for row in &counts {
                let op: Option<String> = row.try_get("_op")?;
                let n: i64 = row.try_get("n")?;
                let changes = match op.as_deref() {
                    Some("insert") => &mut applied.inserted,
                    Some("update") => &mut applied.updated,
                    Some("delete") => &mut applied.deleted,
                    _ => {
                        applied.unchanged += n;
                        continue;
                    }
                };
                *changes += n;
                let (lo, hi): (Option<i64>, Option<i64>) = (row.try_get("lo")?, row.try_get("hi")?);
                first_line = first_line.into_iter().chain(lo).min();
                last_line = last_line.into_iter().chain(hi).max();
            }
        }
        let gone: i64 = if self.mode == BatchMode::Replace && !empty {
            sqlx::query(AssertSqlSafe(self.sql.gone_count()))
                .fetch_one(&mut *self.conn)
                .await?
                .try_get("n")?
        } else {
            0
        };
        applied.deleted += gone;
        Ok(Comparison {
            applied,
            empty,
            first_line,
            last_line,
            gone,
        })
    }

    async fn complete(
        &mut self,
        rows_read: i64,
        rows_rejected: i64,
        report: &serde_json::Value,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Applied, StoreError> {
        self.stage_all().await?;
        let staged_at = Instant::now();
        let written_as_read = match &self.first_load {
            first_load::Stage::Written(written) => Some(written.clone()),
            _ => None,
        };
        let found = match &written_as_read {
            // Into an empty resource: every row written is an insert.
            Some(written) => Comparison {
                applied: Applied {
                    rows: written.moved,
                    inserted: written.moved,
                    ..Applied::default()
                },
                empty: true,
                first_line: None,
                last_line: None,
                gone: 0,
            },
            None => self.compare().await?,
        };
        let mut applied = found.applied;
        let changes = found.changes();
        // Rows of the resource logged by themselves that this batch changes
        // are written out into the log first (see `table_log`).
        let in_table = !found.empty && self.has_rows_logged_in_table().await?;

        let diffed_at = Instant::now();
        let backend = self.store.backend;
        if backend == Backend::Sqlite {
            let pragma = format!("PRAGMA cache_size = -{FINAL_STEP_CACHE_KIB}");
            sqlx::query(AssertSqlSafe(pragma))
                .execute(&mut *self.conn)
                .await?;
        }
        // A large batch on SQLite is written beside the resource in turns,
        // and the final step only swaps it in (see `beside`).
        let turn_rows = self.store.turn_rows;
        let beside_worth = backend == Backend::Sqlite
            && if found.empty {
                changes > turn_rows
            } else {
                changes > turn_rows.saturating_mul(beside::IN_PLACE_TURNS)
            };
        let beside = if let Some(written) = written_as_read.clone() {
            if written.moved == 0 {
                // Every row was rejected: the batch's table is empty.
                sqlx::query(AssertSqlSafe(format!(
                    "DROP TABLE {}",
                    written.shadow.table
                )))
                .execute(&mut *self.conn)
                .await?;
                None
            } else {
                Some(written)
            }
        } else if beside_worth {
            self.write_beside(Changes {
                empty: found.empty,
                staged: found.staged_changes(),
                gone: found.gone,
                lines: found.first_line.zip(found.last_line),
                todo: found.todo(),
                in_table,
            })
            .await?
        } else {
            None
        };
        // A large first load on PostgreSQL fills a table beside the
        // resource's, which the final step swaps in (see `pg_beside`).
        let pg_beside = if let first_load::Stage::DirectWritten(written) = &self.first_load {
            Some(PgBeside {
                shadow: written.shadow.clone(),
                first_seq: written.first_seq,
                rows: found.staged_changes(),
                lines: ChangedLines::Scattered,
                written_straight: Some(written.rows),
            })
        } else if backend == Backend::Postgres && found.empty && found.staged_changes() > turn_rows
        {
            self.make_beside(&found).await?
        } else {
            None
        };
        // A large batch on PostgreSQL has its change log written on another
        // connection while this one writes its rows (see `log_aside`).
        let log_aside = match (self.store.pg_copy.clone(), &beside, &pg_beside) {
            (Some(options), None, None) if found.staged_changes() > turn_rows && !found.empty => {
                Some(self.log_aside(&options, &found).await?)
            }
            _ => None,
        };
        let locked_at = Instant::now();
        let mut tx = match backend {
            Backend::Sqlite => self.conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.conn.begin().await?,
        };
        let step = FinalStep {
            sql: &self.sql,
            resource: &self.resource,
            batch_row_id: self.batch_row_id,
            public_id: &self.public_id,
            mode: self.mode,
            turn_rows,
        };
        // The batch's first sequence number, and how many rows the resource
        // gained (negative: lost) in this write.
        let (first, moved) = match (&beside, &pg_beside) {
            (Some(beside), _) => (
                Some(step.swap_in(&mut tx, beside, found.empty, changes).await?),
                beside.moved,
            ),
            (None, Some(filled)) => {
                let beats = Beats {
                    pool: self.store.pool.clone(),
                    batch_row_id: self.batch_row_id,
                    began: self.began,
                };
                let (first, moved) = step.swap_in_pg(&mut tx, filled, changes, &beats).await?;
                (Some(first), moved)
            }
            (None, None) if changes > 0 => {
                let logged_from = log_aside.as_ref().map(|log| log.first);
                let (first, moved) = step
                    .apply_in_place(&mut tx, &found, logged_from, in_table)
                    .await?;
                (Some(first), moved)
            }
            (None, None) => (None, 0),
        };
        applied.first_seq = first;
        applied.last_seq = first.map(|first| first + changes - 1);
        if self.failures_written > 0 {
            sqlx::query(AssertSqlSafe(self.sql.copy_failures()))
                .bind(self.batch_row_id)
                .execute(&mut *tx)
                .await?;
        }
        // The exact count moves with the rows, in their transaction: totals
        // read it as one row instead of counting tens of millions (and the
        // write lock is not held for a count either).
        sqlx::query(
            "UPDATE resources SET row_count = row_count + $1, updated_at = $2 WHERE id = $3",
        )
        .bind(moved)
        .bind(ts(now))
        .bind(self.resource.id)
        .execute(&mut *tx)
        .await?;
        // Every way a first load is written logs its inserts by its rows
        // (see `table_log`).
        sqlx::query(
            "UPDATE batches SET state = 'loaded', rows_read = $1, rows_loaded = $2,
                 rows_rejected = $3, report = $4, finished_at = $5, first_seq = $7, last_seq = $8,
                 logged_in_table = $9
             WHERE id = $6",
        )
        .bind(rows_read)
        .bind(applied.rows)
        .bind(rows_rejected)
        .bind(report.to_string())
        .bind(ts(now))
        .bind(self.batch_row_id)
        .bind(applied.first_seq)
        .bind(applied.last_seq)
        .bind(i64::from(found.empty))
        .execute(&mut *tx)
        .await?;
        // The log written beside is waited for before the batch's event
        // takes the audit chain's head: held while waiting, the head would
        // keep every audited read waiting too.
        if let Some(log) = log_aside {
            log.commit().await?;
        }
        append_in(&mut tx, &audit).await?;
        tx.commit().await?;
        if let Some(beside) = &beside {
            let (store, retired) = (self.store.clone(), beside.shadow.retired.clone());
            self.store.in_background(
                "could not remove a resource table a batch put aside",
                async move { store.remove_in_turns(&retired).await },
            );
        }
        // How long the load took, and how long of it other writers waited.
        tracing::info!(
            batch = %self.public_id,
            rows = applied.rows,
            changes,
            staging_ms = (staged_at - self.began.1).as_millis() as u64,
            repeats_ms = self.repeats_took.as_millis() as u64,
            compare_ms = (diffed_at - staged_at).as_millis() as u64,
            beside_ms = (locked_at - diffed_at).as_millis() as u64,
            turns = beside.as_ref().map_or(0, |b| b.turns),
            longest_turn_ms = beside.as_ref().map_or(0, |b| b.longest_turn.as_millis() as u64),
            written_as_read = written_as_read.is_some(),
            filled_beside = pg_beside.is_some(),
            written_straight = pg_beside.as_ref().and_then(|b| b.written_straight),
            write_lock_ms = locked_at.elapsed().as_millis() as u64,
            "batch applied"
        );
        Ok(applied)
    }

    /// Whether a loaded batch of the resource logged its inserts by its rows
    /// (see `table_log`): a first load does.
    async fn has_rows_logged_in_table(&mut self) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "SELECT 1 AS one FROM batches
             WHERE resource_id = $1 AND logged_in_table = 1 AND state = 'loaded' LIMIT 1",
        )
        .bind(self.resource.id)
        .fetch_optional(&mut *self.conn)
        .await?
        .is_some())
    }

    /// PostgreSQL: make the empty table a first load fills beside the
    /// resource's, and return it with the sequence number of its first row;
    /// `None`, with nothing made, when the resource's table has indexes of
    /// another kind.
    pub(crate) async fn make_pg_shadow(&mut self) -> Result<Option<(PgShadow, i64)>, StoreError> {
        if !PgShadow::fits(&mut self.conn, &self.resource.table_name).await? {
            return Ok(None);
        }
        let first_seq = self.first_seq_beside().await?;
        // Marked failed, the batch drops it with its staged rows.
        let shadow = PgShadow::new(&self.resource.table_name, self.batch_row_id);
        for statement in shadow.create() {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(Some((shadow, first_seq)))
    }

    /// PostgreSQL: make the table a first load fills beside the resource's
    /// (see `pg_beside`). `None` when the resource's table has indexes of
    /// another kind, for the rows to go into it in one step.
    async fn make_beside(&mut self, found: &Comparison) -> Result<Option<PgBeside>, StoreError> {
        let Some((shadow, first_seq)) = self.make_pg_shadow().await? else {
            return Ok(None);
        };
        Ok(Some(PgBeside {
            shadow,
            first_seq,
            rows: found.staged_changes(),
            lines: ChangedLines::of(found.staged_changes(), found.first_line, found.last_line),
            written_straight: None,
        }))
    }

    /// PostgreSQL: start logging the staged changes on a connection of
    /// their own, from the sequence number after the resource's published
    /// one. What a stopped batch left beyond it would clash, and is cleared
    /// first, committed before the log's transaction begins: otherwise its
    /// inserts would wait on the clearing transaction's deletions, which
    /// commits only after it.
    async fn log_aside(
        &mut self,
        options: &sqlx::postgres::PgConnectOptions,
        found: &Comparison,
    ) -> Result<LogAside, StoreError> {
        changes::clear_unpublished(&mut self.conn, self.resource.id).await?;
        let published: i64 = sqlx::query("SELECT change_seq FROM resources WHERE id = $1")
            .bind(self.resource.id)
            .fetch_one(&mut *self.conn)
            .await?
            .try_get("change_seq")?;
        let first = published + 1;
        let lines = ChangedLines::of(found.staged_changes(), found.first_line, found.last_line);
        let mut parameters = vec![self.resource.id, self.batch_row_id, first];
        if let ChangedLines::Unbroken { first: first_line } = lines {
            parameters.push(first_line);
        }
        Ok(LogAside::start(
            options,
            self.sql.log_staged(lines),
            parameters,
            first,
        ))
    }

    /// Abandon the batch: nothing of it becomes visible; its row says why. The
    /// staging connection is closed, which discards the staged rows.
    pub async fn fail(mut self, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(copy) = self.copy.take() {
            copy.abandon().await;
        }
        self.abandon_first_load().await;
        let store = self.store.clone();
        let id = self.batch_row_id;
        let _ = self.conn.close().await;
        store.mark_failed(id, reason, now).await
    }
}

/// What the staged rows do to the resource, as the comparison found.
struct Comparison {
    /// Counts by what the rows do; `deleted` includes `gone`.
    applied: Applied,
    /// The resource had no rows: nothing was compared.
    empty: bool,
    /// The first and last line of the rows that change something.
    first_line: Option<i64>,
    last_line: Option<i64>,
    /// Rows a snapshot no longer names.
    gone: i64,
}

impl Comparison {
    /// Changes the staged rows make (inserts, updates, deletions).
    fn staged_changes(&self) -> i64 {
        self.applied.inserted + self.applied.updated + self.applied.deleted - self.gone
    }

    /// Every change of the batch, each of which takes a sequence number.
    fn changes(&self) -> i64 {
        self.staged_changes() + self.gone
    }

    /// Which statements applying the batch needs.
    fn todo(&self) -> Todo {
        Todo {
            updates: self.applied.updated > 0,
            inserts: self.applied.inserted > 0,
            deletes: self.applied.deleted > self.gone,
            gone: self.gone > 0,
        }
    }
}

/// What a batch's final step reads of it, borrowed beside the transaction
/// that holds its connection.
struct FinalStep<'a> {
    sql: &'a StageSql,
    resource: &'a Resource,
    batch_row_id: i64,
    public_id: &'a str,
    mode: BatchMode,
    /// A first load with more rows than this goes in the order of its keys.
    turn_rows: i64,
}

impl FinalStep<'_> {
    /// Reserve the sequence numbers of a batch written beside the resource,
    /// and say whether the resource is as the batch found it: the numbers
    /// begin at `first_seq`, the batch is still loading, and (for a first
    /// load, `empty`) the resource still has no row. One batch of a resource
    /// loads at a time, so nothing else has logged a change or written a row
    /// meanwhile; if something has, the batch fails rather than publish a
    /// log with a gap or a clash.
    async fn reserve_undisturbed(
        &self,
        tx: &mut AnyConnection,
        changes: i64,
        first_seq: i64,
        empty: bool,
    ) -> Result<(i64, bool), StoreError> {
        let first = changes::reserve(&mut *tx, self.resource.id, changes).await?;
        let state: String = sqlx::query("SELECT state FROM batches WHERE id = $1")
            .bind(self.batch_row_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("state")?;
        let still_empty = !empty
            || sqlx::query(AssertSqlSafe(self.sql.any_row()))
                .fetch_optional(&mut *tx)
                .await?
                .is_none();
        Ok((
            first,
            first == first_seq && state == "loading" && still_empty,
        ))
    }

    /// A batch written beside the resource (see `beside`) takes the
    /// resource table's place; returns its first sequence number.
    async fn swap_in(
        &self,
        tx: &mut AnyConnection,
        beside: &Beside,
        empty: bool,
        changes: i64,
    ) -> Result<i64, StoreError> {
        let (first, undisturbed) = self
            .reserve_undisturbed(tx, changes, beside.first_seq, empty)
            .await?;
        // A column added to the resource meanwhile is added to the
        // batch's table too; any other change of shape would be lost.
        let catch_up =
            match Shadow::plan(&mut *tx, &self.resource.table_name, self.batch_row_id).await? {
                Some(now) => beside.shadow.catch_up(&mut *tx, &now).await?,
                None => None,
            };
        let Some(catch_up) = catch_up.filter(|_| undisturbed) else {
            return Err(StoreError::Conflict(format!(
                "{} changed while batch {} was loading into it",
                self.resource.code, self.public_id
            )));
        };
        for statement in catch_up.into_iter().chain(beside.shadow.swap()) {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        Ok(first)
    }

    /// A first load's table beside the resource (see `pg_beside`) is filled
    /// (or, written as read, completed: see `pg_first_load`) and indexed,
    /// and takes the resource table's place; returns the first sequence
    /// number and how many rows the resource gained.
    async fn swap_in_pg(
        &self,
        tx: &mut AnyConnection,
        filled: &PgBeside,
        changes: i64,
        beats: &Beats,
    ) -> Result<(i64, i64), StoreError> {
        let moved = match filled.written_straight {
            // Most rows are in: the few held back follow them.
            Some(written) => {
                let fill = sqlx::query(AssertSqlSafe(
                    self.sql.fill_held_back(&filled.shadow.table()),
                ))
                .bind(self.batch_row_id)
                .bind(filled.first_seq + written);
                pg_beside::while_beating(beats, async {
                    let held_back = fill.execute(&mut *tx).await?.rows_affected();
                    filled.shadow.index(&mut *tx, &self.sql.key_items).await?;
                    Ok::<_, StoreError>(written + RowEffect::Adds.delta(held_back))
                })
                .await?
            }
            None => {
                let mut fill = sqlx::query(AssertSqlSafe(
                    self.sql.fill_logged(&filled.shadow.table(), filled.lines),
                ))
                .bind(self.batch_row_id)
                .bind(filled.first_seq);
                if let ChangedLines::Unbroken { first: first_line } = filled.lines {
                    fill = fill.bind(first_line);
                }
                pg_beside::while_beating(beats, async {
                    let moved =
                        RowEffect::Adds.delta(fill.execute(&mut *tx).await?.rows_affected());
                    filled.shadow.index(&mut *tx, &self.sql.key_items).await?;
                    Ok::<_, StoreError>(moved)
                })
                .await?
            }
        };
        if moved != filled.rows {
            return Err(StoreError::Corrupt(format!(
                "a first load of {} rows wrote {moved}",
                filled.rows
            )));
        }
        // Only now is the resource's row held, for the rest of this short
        // while: an edit of its declaration did not wait for the rows.
        let (first, undisturbed) = self
            .reserve_undisturbed(tx, changes, filled.first_seq, true)
            .await?;
        let catch_up = filled.shadow.catch_up(&mut *tx).await?;
        let Some(catch_up) = catch_up.filter(|_| undisturbed) else {
            return Err(StoreError::Conflict(format!(
                "{} changed while batch {} was loading into it",
                self.resource.code, self.public_id
            )));
        };
        let swap = filled.shadow.swap(&mut *tx).await?;
        let ids = self.sql.row_ids_past_the_largest();
        for statement in catch_up.into_iter().chain(swap).chain(ids) {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        Ok((first, moved))
    }

    /// Log the batch's `changes` and write them into the resource's table;
    /// returns the first sequence number and how many rows the resource
    /// gained (negative: lost). `logged_from`: the staged changes are being
    /// logged on another connection from that sequence number (see
    /// `log_aside`). `in_table`: some rows are logged by themselves, and
    /// those the batch changes are written out into the log first.
    async fn apply_in_place(
        &self,
        tx: &mut AnyConnection,
        found: &Comparison,
        logged_from: Option<i64>,
        in_table: bool,
    ) -> Result<(i64, i64), StoreError> {
        let (staged_changes, gone) = (found.staged_changes(), found.gone);
        if logged_from.is_none() {
            changes::clear_unpublished(&mut *tx, self.resource.id).await?;
        }
        let first = changes::reserve(&mut *tx, self.resource.id, found.changes()).await?;
        if found.empty {
            return self.insert_logged(tx, found, first).await;
        }
        if let Some(logged_from) = logged_from.filter(|from| *from != first) {
            // One batch of a resource loads at a time; if another logged
            // meanwhile, this one fails rather than publish a clash.
            return Err(StoreError::Conflict(format!(
                "{} changed while batch {} was loading into it (its log begins at {logged_from}, the resource's next change is {first})",
                self.resource.code, self.public_id
            )));
        }
        if staged_changes > 0 && logged_from.is_none() {
            let lines = ChangedLines::of(staged_changes, found.first_line, found.last_line);
            let mut log = sqlx::query(AssertSqlSafe(self.sql.log_staged(lines)))
                .bind(self.resource.id)
                .bind(self.batch_row_id)
                .bind(first);
            if let ChangedLines::Unbroken { first } = lines {
                log = log.bind(first);
            }
            log.execute(&mut *tx).await?;
        }
        if gone > 0 {
            sqlx::query(AssertSqlSafe(self.sql.log_gone()))
                .bind(self.resource.id)
                .bind(self.batch_row_id)
                .bind(first + staged_changes)
                .execute(&mut *tx)
                .await?;
        }
        let todo = found.todo();
        if in_table {
            let targets = [
                (Targets::Staged, todo.updates || todo.deletes),
                (Targets::Gone, todo.gone),
            ];
            for (targets, _) in targets.into_iter().filter(|(_, any)| *any) {
                sqlx::query(AssertSqlSafe(self.sql.write_out(targets)))
                    .bind(self.resource.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let mut moved = 0;
        for (statement, effect) in self.sql.apply(self.mode, todo) {
            let done = sqlx::query(AssertSqlSafe(statement))
                .bind(self.batch_row_id)
                .execute(&mut *tx)
                .await?;
            moved += effect.delta(done.rows_affected());
        }
        Ok((first, moved))
    }
}

impl FinalStep<'_> {
    /// A first load: its rows go in under their sequence numbers as row ids,
    /// which log them (see `table_log`); returns `first` and how many rows
    /// the resource gained.
    async fn insert_logged(
        &self,
        tx: &mut AnyConnection,
        found: &Comparison,
        first: i64,
    ) -> Result<(i64, i64), StoreError> {
        let lines = ChangedLines::of(found.staged_changes(), found.first_line, found.last_line);
        let by_key = found.staged_changes() > self.turn_rows;
        let mut insert = sqlx::query(AssertSqlSafe(self.sql.insert_logged(lines, by_key)))
            .bind(self.batch_row_id)
            .bind(first);
        if let (ChangedLines::Unbroken { first: first_line }, false) = (lines, by_key) {
            insert = insert.bind(first_line);
        }
        let moved = RowEffect::Adds.delta(insert.execute(&mut *tx).await?.rows_affected());
        if moved != found.staged_changes() {
            return Err(StoreError::Corrupt(format!(
                "a first load of {} rows wrote {moved}",
                found.staged_changes()
            )));
        }
        if let Some(statement) = self.sql.row_ids_past_the_largest() {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        Ok((first, moved))
    }
}

/// The page cache of a batch's own connection, in KiB, for the main
/// database and the temporary one its staged rows are in.
pub(crate) const STAGE_CACHE_KIB: i64 = 64 * 1024;
/// The main database's page cache during a batch's final step, in KiB. The
/// step adds each row to the table's key index and to the change log's index
/// by key; rows that arrive in no particular key order land on index pages
/// all over, and with 64 MiB those pages were written out mid-step and read
/// back: a million shuffled rows held the write lock 14.3–15.1 s with 64 MiB,
/// 9.4–11.5 s with this (`rongshu bench ingest --shuffled`). Only the batch
/// holding the write lock fills it, so one such cache is in use at a time,
/// and it goes back with the connection.
pub(crate) const FINAL_STEP_CACHE_KIB: i64 = 256 * 1024;
/// SQLite's default, which a pooled connection goes back to.
const DEFAULT_CACHE_KIB: i64 = 2000;

fn cache_pragmas(kib: i64) -> [String; 2] {
    [
        format!("PRAGMA cache_size = -{kib}"),
        format!("PRAGMA temp.cache_size = -{kib}"),
    ]
}

/// A 128-bit digest as the two 64-bit integers a column can hold.
pub(crate) fn halves(digest: u128) -> (i64, i64) {
    ((digest >> 64) as u64 as i64, digest as u64 as i64)
}

/// Text as a column can keep it: a failed value quoted from a broken file may
/// carry NUL characters, which PostgreSQL refuses in text.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// How long a loading batch may go without a heartbeat before it is taken for
/// dead. `RONGSHU_BATCH_LEASE_SECONDS` shortens it (tests that kill a loader).
pub fn batch_lease() -> Duration {
    std::env::var("RONGSHU_BATCH_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(
            Duration::from_secs(DEFAULT_LEASE_SECONDS as u64),
            Duration::from_secs,
        )
}

pub(crate) fn heartbeat_interval() -> Duration {
    batch_lease() / 4
}

const DEFAULT_LEASE_SECONDS: i64 = 60;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A record's text value reads back as written, whatever it holds.
        #[test]
        fn record_strings_read_back_as_written(text in "\\PC*|[\"\\\\\u{0}-\u{1f}a-z张]*") {
            let mut out = String::new();
            push_json_string(&mut out, &text);
            let back: String = serde_json::from_str(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, text);
        }
    }

    #[test]
    fn the_staged_span_runs_from_the_first_line_sent_to_the_last_until_it_is_unknown() {
        let span = StagedSpan::Nothing.extended([2, 3].into_iter());
        assert_eq!(span, StagedSpan::Lines { first: 2, last: 3 });
        assert_eq!(
            span.extended([4, 9].into_iter()),
            StagedSpan::Lines { first: 2, last: 9 }
        );
        assert_eq!(span.extended(std::iter::empty()), span);
        assert_eq!(
            StagedSpan::Nothing.extended(std::iter::empty()),
            StagedSpan::Nothing
        );
        assert_eq!(
            StagedSpan::Unknown.extended([2].into_iter()),
            StagedSpan::Unknown
        );
    }

    #[test]
    fn a_row_is_one_json_object_of_its_present_cells() {
        let keys = ["name", "age", "born", "note"].map(String::from).to_vec();
        let row: RowCells = vec![
            Some(CellValue::Text("张\"三\\\n".into())),
            Some(CellValue::Integer(42)),
            Some(CellValue::Date(
                chrono::NaiveDate::from_ymd_opt(1980, 2, 3).unwrap_or_default(),
            )),
            None,
        ];
        let mut out = String::new();
        write_row_json(&mut out, &keys, &row);
        let read: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(
            read,
            serde_json::json!({"name": "张\"三\\\n", "age": 42, "born": "1980-02-03"})
        );
    }
}
