//! SQLite: a large first load written straight into the table beside the
//! resource's as the file is read.
//!
//! Written the general way, a first load goes twice through the database:
//! into a scratch file as it is read, then from there into the table beside
//! the resource's (see `beside`). Into an empty resource every row the checks
//! let through is an insert, so there is nothing to compare and the scratch
//! copy is not needed: a thread of the batch's own writes each run of rows
//! into the batch's table, in turns, while the next run is read and checked
//! on the other core. Each row's id is its sequence number, which logs it
//! (see `table_log`). The final step then swaps the table in as it does for
//! any batch written beside its resource.
//!
//! Repeated keys are found as the rows go in. Every row whose cells could be
//! typed claims its key, and a later row with a claimed key is a repeat (see
//! `repeats`). A row whose key the batch's filter of seen keys has never
//! seen (see `seen_keys`) cannot be one; for the rare other, the thread
//! looks its key up among the rows written so far and among the keys of the
//! rejected rows, which it keeps in a temporary table of its connection.
//! Repeats are handed back to the batch, which reports them as the general
//! way does.
//!
//! Used for a batch whose rows carry their key digests, with no uniqueness
//! rule besides the key (those need every row at hand), into a resource with
//! no rows, on a SQLite file, once it has more rows than a first turn and
//! those came in the order of their keys: the table's key index then grows
//! at its end. A file in another order is sorted by key the general way (see
//! `StageSql::key_order`); a file that leaves key order later on is still
//! written as read, only slower.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rongshu_core::catalog::ItemType;
use rusqlite::{Connection, Statement};
use tokio::sync::{mpsc, oneshot};

use sqlx::AssertSqlSafe;

use crate::StoreError;
use crate::batches::{
    BatchWriter, FINAL_STEP_CACHE_KIB, ROWS_PER_STATEMENT, RowCells, STAGE_CACHE_KIB, StoredCell,
    halves, stored_cell,
};
use crate::beside::{self, Beside, Shadow};
use crate::checkpointer::Checkpointer;
use crate::db::Backend;
use crate::direct;
use crate::pg_first_load::{PgFirstLoad, PgWritten};
use crate::repeats::{KEY_REPEAT, StagedRow, StreamStatus};
use crate::stage::StageSql;
use crate::stage_scratch::ScratchStage;

/// Runs of rows waiting for the thread at most: as for the scratch file,
/// one being written and one ready.
const QUEUED_RUNS: usize = 2;

/// Rows written between two looks at the turn's time: about a millisecond.
const SLICE_ROWS: usize = 256;

/// The rejected rows' keys, as digests, in a temporary table of the
/// thread's connection.
const CLAIMS: &str = "CREATE TEMP TABLE IF NOT EXISTS rongshu_claimed \
     (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b)) WITHOUT ROWID";
const CLAIM: &str = "INSERT OR IGNORE INTO temp.rongshu_claimed (a, b) VALUES (?1, ?2)";
const CLAIMED_BEFORE: &str = "SELECT 1 FROM temp.rongshu_claimed WHERE a = ?1 AND b = ?2";

/// A checked row on its way to the thread, and whether the batch's filter
/// had seen its key before (only then can it repeat one).
pub(crate) struct QueuedRow {
    pub(crate) row: StagedRow,
    pub(crate) suspect: bool,
}

/// A row whose key an earlier row of the batch claimed: not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRepeat {
    pub(crate) line: i64,
    /// What the streaming checks made of it (`StreamStatus::code`).
    pub(crate) prior: i64,
    pub(crate) key: Option<String>,
}

/// What the thread wrote.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Written {
    pub(crate) inserted: i64,
    pub(crate) turns: u32,
    pub(crate) longest_turn: Duration,
}

/// Where the thread writes, and what it needs to know of the rows.
pub(crate) struct Target {
    pub(crate) shadow: Shadow,
    pub(crate) batch_row_id: i64,
    /// The sequence number of the first row written.
    pub(crate) first_seq: i64,
}

/// Rows written by one statement: the per-statement work (cursors opened,
/// the table's last rowid found) was a good part of a row's.
const ROWS_PER_INSERT: usize = 64;

/// The statements the thread runs, built once from the batch's SQL.
struct Statements {
    /// Inserts of [`ROWS_PER_INSERT`] rows, and of one.
    insert_many: String,
    insert_one: String,
    loaded: String,
    item_types: Vec<ItemType>,
    /// Positions of the key items among a row's cells.
    key_positions: Vec<usize>,
}

/// Positions of the key items among a row's cells.
fn key_positions(sql: &StageSql) -> Vec<usize> {
    sql.key_items
        .iter()
        .filter_map(|k| sql.items.iter().position(|i| i == k))
        .collect()
}

/// Whether the rows that will be loaded come in the order of their keys, as
/// SQLite orders the stored values (NULL, then numbers, then text by its
/// bytes). Only then is a first load written as it is read: in any other
/// order it is sorted by key on the way in (see `StageSql::key_order`).
fn keys_ascend(rows: &[QueuedRow], positions: &[usize], item_types: &[ItemType]) -> bool {
    let loaded = rows
        .iter()
        .filter(|q| q.row.status != StreamStatus::Rejected);
    let keys = loaded.map(|q| {
        positions
            .iter()
            .map(|&k| {
                let item_type = item_types.get(k).copied().unwrap_or(ItemType::String);
                stored_cell(item_type, q.row.cells.get(k).and_then(Option::as_ref))
            })
            .collect::<Vec<_>>()
    });
    let mut last: Option<Vec<StoredCell<'_>>> = None;
    for key in keys {
        if let Some(before) = &last
            && compare_keys(before, &key) == std::cmp::Ordering::Greater
        {
            return false;
        }
        last = Some(key);
    }
    true
}

fn compare_keys(a: &[StoredCell<'_>], b: &[StoredCell<'_>]) -> std::cmp::Ordering {
    // SQLite's order of storage classes: NULL, numbers, text.
    fn rank<'a>(cell: &'a StoredCell<'_>) -> (u8, i64, &'a str) {
        match cell {
            StoredCell::Null(_) => (0, 0, ""),
            StoredCell::Integer(i) => (1, *i, ""),
            StoredCell::Boolean(b) => (1, i64::from(*b), ""),
            StoredCell::Text(t) => (2, 0, t.as_ref()),
        }
    }
    a.iter().map(rank).cmp(b.iter().map(rank))
}

impl Statements {
    fn new(sql: &StageSql, shadow: &Shadow) -> Self {
        let key_positions = key_positions(sql);
        Self {
            insert_many: sql.insert_rows_into(&shadow.table, ROWS_PER_INSERT),
            insert_one: sql.insert_rows_into(&shadow.table, 1),
            loaded: sql.key_lookup_in(&shadow.table),
            item_types: sql.item_types().to_vec(),
            key_positions,
        }
    }
}

/// Where a batch that may be written as it is read stands.
pub(crate) enum Stage {
    /// Not such a batch: its rows are staged the general way.
    General,
    /// Rows held until there are more than a first turn's: a batch that
    /// stays smaller is staged the general way after all, and applied in
    /// one short step.
    Holding(Vec<QueuedRow>),
    Writing(FirstLoad),
    /// Every row written, for the final step to swap in (`moved`: the rows
    /// inserted).
    Written(Beside),
    /// PostgreSQL: rows being written straight into the batch's table (see
    /// `pg_first_load`).
    Direct(PgFirstLoad),
    /// PostgreSQL: every row sent, for the final step to complete and swap in.
    DirectWritten(PgWritten),
}

/// The thread writing a first load, and what it hands back.
pub(crate) struct FirstLoad {
    runs: Option<mpsc::Sender<Vec<QueuedRow>>>,
    done: Option<oneshot::Receiver<Result<Written, StoreError>>>,
    stop: Arc<AtomicBool>,
    repeats: Arc<Mutex<Vec<KeyRepeat>>>,
    pub(crate) shadow: Shadow,
    pub(crate) first_seq: i64,
}

impl FirstLoad {
    /// Open a connection to the database file `path` and start the thread
    /// writing into `target.shadow`, whose table exists and is empty.
    pub(crate) async fn start(
        path: &Path,
        sql: &StageSql,
        target: Target,
        checkpointer: Option<Arc<Checkpointer>>,
    ) -> Result<Self, StoreError> {
        let statements = Statements::new(sql, &target.shadow);
        let opened = path.to_owned();
        let conn = tokio::task::spawn_blocking(move || open(&opened))
            .await
            .map_err(|e| StoreError::Invalid(format!("the loading thread failed: {e}")))??;
        let (runs, incoming) = mpsc::channel::<Vec<QueuedRow>>(QUEUED_RUNS);
        let (finished, done) = oneshot::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let repeats = Arc::new(Mutex::new(Vec::new()));
        let thread = Thread {
            conn,
            statements,
            batch_row_id: target.batch_row_id,
            next_seq: target.first_seq,
            checkpointer,
            stop: stop.clone(),
            repeats: repeats.clone(),
        };
        std::thread::Builder::new()
            .name("batch-load".into())
            .spawn(move || {
                let outcome = thread.run(incoming);
                let _ = finished.send(outcome);
            })
            .map_err(|e| StoreError::Invalid(format!("could not start the loading thread: {e}")))?;
        Ok(Self {
            runs: Some(runs),
            done: Some(done),
            stop,
            repeats,
            shadow: target.shadow,
            first_seq: target.first_seq,
        })
    }

    /// Hand a run of rows to the thread; waits only while earlier runs fill
    /// the queue. A failure to write shows here or at `close`.
    pub(crate) async fn send(&mut self, rows: Vec<QueuedRow>) -> Result<(), StoreError> {
        let Some(runs) = self.runs.as_ref() else {
            return Err(StoreError::Invalid(
                "rows were sent after the batch's load had ended".into(),
            ));
        };
        if runs.send(rows).await.is_err() {
            // The thread stopped: it says why, or was told to.
            self.close().await?;
            return Err(StoreError::Invalid(
                "the batch's loading thread stopped before every row was written".into(),
            ));
        }
        Ok(())
    }

    /// The repeats found since the last call, in the order of their lines.
    pub(crate) fn take_repeats(&self) -> Vec<KeyRepeat> {
        self.repeats
            .lock()
            .map(|mut found| std::mem::take(&mut *found))
            .unwrap_or_default()
    }

    /// Wait until every row handed over is written and committed, and the
    /// thread has closed its connection.
    pub(crate) async fn close(&mut self) -> Result<Written, StoreError> {
        self.runs = None;
        let Some(done) = self.done.take() else {
            return Err(StoreError::Invalid(
                "the batch's load was already closed".into(),
            ));
        };
        match done.await {
            Ok(outcome) => outcome,
            Err(_) => Err(StoreError::Invalid(
                "the loading thread stopped without a word".into(),
            )),
        }
    }

    /// Stop the thread after its current turn and wait for it, so that it
    /// writes nothing once the batch has been given up.
    pub(crate) async fn abandon(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.close().await;
    }
}

impl Drop for FirstLoad {
    fn drop(&mut self) {
        // A batch dropped unfinished: the thread ends after its turn, and
        // what it wrote goes when the batch is marked failed.
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A read-write connection as the audit writer's, which may also keep the
/// rejected rows' keys in a temporary table of its own on disk.
fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = direct::open_writer(path)?;
    conn.execute_batch(&format!(
        "PRAGMA temp_store = FILE; PRAGMA cache_size = -{FINAL_STEP_CACHE_KIB};"
    ))?;
    conn.execute_batch(CLAIMS)?;
    Ok(conn)
}

/// The loading thread's state.
struct Thread {
    conn: Connection,
    statements: Statements,
    batch_row_id: i64,
    next_seq: i64,
    checkpointer: Option<Arc<Checkpointer>>,
    stop: Arc<AtomicBool>,
    repeats: Arc<Mutex<Vec<KeyRepeat>>>,
}

impl Thread {
    /// Write runs as they come, in turns of about [`beside::TURN`] each,
    /// with a pause after each for other writers.
    fn run(mut self, mut incoming: mpsc::Receiver<Vec<QueuedRow>>) -> Result<Written, StoreError> {
        let mut written = Written::default();
        // The run being written, and how far; a turn may end inside a run.
        let (mut run, mut at) = (Vec::new(), 0);
        loop {
            if at >= run.len() {
                match incoming.blocking_recv() {
                    Some(next) => (run, at) = (next, 0),
                    None => break,
                }
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let under_way = self.checkpointer.as_ref().map(|c| c.begin_turn_blocking());
            let began = Instant::now();
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            let mut found = Vec::new();
            let turn = (|| {
                let mut inserted = 0;
                // A slice at a time until the turn's time is up, taking the
                // next run only if it is ready: the lock is never held
                // waiting for the file.
                while began.elapsed() < beside::TURN {
                    if at >= run.len() {
                        match incoming.try_recv() {
                            Ok(next) => (run, at) = (next, 0),
                            Err(_) => break,
                        }
                    }
                    let upto = (at + SLICE_ROWS).min(run.len());
                    inserted += self.write_rows(&run[at..upto], &mut found)?;
                    at = upto;
                }
                Ok::<i64, StoreError>(inserted)
            })();
            let inserted = match turn {
                Ok(n) => {
                    self.conn.execute_batch("COMMIT")?;
                    n
                }
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            };
            drop(under_way);
            let took = began.elapsed();
            written.inserted += inserted;
            written.turns += 1;
            written.longest_turn = written.longest_turn.max(took);
            if !found.is_empty()
                && let Ok(mut repeats) = self.repeats.lock()
            {
                repeats.extend(found);
            }
            tracing::debug!(
                rows = inserted,
                took_ms = took.as_millis(),
                "first-load turn written"
            );
            std::thread::sleep(beside::pause_after(took));
        }
        Ok(written)
    }

    /// Write rows inside the turn's transaction; returns how many were
    /// inserted, and adds the repeats to `found`. Rows go in statements of
    /// [`ROWS_PER_INSERT`]; those before a suspect are written before its
    /// key is looked up.
    fn write_rows(
        &mut self,
        rows: &[QueuedRow],
        found: &mut Vec<KeyRepeat>,
    ) -> Result<i64, StoreError> {
        let mut pending: Vec<&StagedRow> = Vec::with_capacity(ROWS_PER_INSERT);
        let mut inserted = 0;
        for QueuedRow { row, suspect } in rows {
            let (a, b) = halves(row.digests.key);
            if *suspect {
                inserted += self.insert(&pending)?;
                pending.clear();
                if self.claimed(a, b, &row.cells)? {
                    found.push(KeyRepeat {
                        line: row.line as i64,
                        prior: row.status.code(),
                        key: row.key.clone(),
                    });
                    continue;
                }
            }
            if row.status == StreamStatus::Rejected {
                // Not loaded, but its key counts as seen.
                self.conn.prepare_cached(CLAIM)?.execute([a, b])?;
                continue;
            }
            pending.push(row);
            if pending.len() == ROWS_PER_INSERT {
                inserted += self.insert(&pending)?;
                pending.clear();
            }
        }
        inserted += self.insert(&pending)?;
        Ok(inserted)
    }

    /// Insert rows into the batch's table, each under its sequence number
    /// as its row id (see `table_log`), in statements of
    /// [`ROWS_PER_INSERT`] rows and then of one; returns how many.
    fn insert(&mut self, rows: &[&StagedRow]) -> Result<i64, StoreError> {
        let statements = &self.statements;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            // A full chunk in one statement; a short one row by row.
            let (insert, per_statement) = if chunk.len() == ROWS_PER_INSERT {
                (&statements.insert_many, ROWS_PER_INSERT)
            } else {
                (&statements.insert_one, 1)
            };
            let mut insert = self.conn.prepare_cached(insert)?;
            for rows in chunk.chunks(per_statement) {
                let mut at = 0;
                for row in rows {
                    insert.raw_bind_parameter(next(&mut at), self.next_seq)?;
                    insert.raw_bind_parameter(next(&mut at), self.batch_row_id)?;
                    for (i, item_type) in statements.item_types.iter().enumerate() {
                        let at = next(&mut at);
                        bind_cell(&mut insert, at, *item_type, row.cells.get(i))?;
                    }
                    self.next_seq += 1;
                }
                insert.raw_execute()?;
            }
        }
        Ok(rows.len() as i64)
    }

    /// Whether a row with key digest `a`, `b` and these cells repeats a key
    /// claimed earlier: by a rejected row (its digest kept) or by a row
    /// written (its key in the table).
    fn claimed(&self, a: i64, b: i64, cells: &RowCells) -> Result<bool, StoreError> {
        let rejected_earlier = self.conn.prepare_cached(CLAIMED_BEFORE)?.exists([a, b])?;
        if rejected_earlier {
            return Ok(true);
        }
        // A row missing part of its key cannot share it with a written row,
        // which has all of it.
        let positions = &self.statements.key_positions;
        if positions
            .iter()
            .any(|&k| cells.get(k).is_none_or(Option::is_none))
        {
            return Ok(false);
        }
        let mut loaded = self.conn.prepare_cached(&self.statements.loaded)?;
        for (n, &k) in positions.iter().enumerate() {
            bind_cell(
                &mut loaded,
                n + 1,
                self.statements.item_types[k],
                cells.get(k),
            )?;
        }
        let mut rows = loaded.raw_query();
        Ok(rows.next()?.is_some())
    }
}

/// The next parameter's index after `at`, which it becomes.
fn next(at: &mut usize) -> usize {
    *at += 1;
    *at
}

/// Bind a checked cell at parameter `index` as every staging path stores it.
fn bind_cell(
    statement: &mut Statement<'_>,
    index: usize,
    item_type: ItemType,
    cell: Option<&Option<rongshu_core::value::CellValue>>,
) -> Result<(), StoreError> {
    match stored_cell(item_type, cell.and_then(Option::as_ref)) {
        StoredCell::Integer(i) => statement.raw_bind_parameter(index, i)?,
        StoredCell::Boolean(b) => statement.raw_bind_parameter(index, b)?,
        StoredCell::Text(t) => statement.raw_bind_parameter(index, t.as_ref())?,
        StoredCell::Null(_) => statement.raw_bind_parameter(index, None::<i64>)?,
    }
    Ok(())
}

/// Repeated keys a first load handed back, in a temporary table of the
/// batch's connection shaped as the staged rows' (see `repeats`).
pub(crate) const DIRECT_REPEATS: &str = "rongshu_direct_repeats";

impl BatchWriter {
    /// A run of checked rows of a batch that may be written as read: held
    /// while the batch is small, handed to the loading thread once it is not.
    pub(crate) async fn load_first(&mut self, rows: Vec<QueuedRow>) -> Result<(), StoreError> {
        match &mut self.first_load {
            Stage::Holding(held) => {
                held.extend(rows);
                if held.len() as i64 > self.store.turn_rows {
                    self.start_first_load().await?;
                }
                Ok(())
            }
            Stage::Writing(_) => self.send_first(rows).await,
            Stage::Direct(_) => self.send_pg_first_load(rows).await,
            Stage::General | Stage::Written(_) | Stage::DirectWritten(_) => Err(
                StoreError::Invalid("rows were staged after the batch's load had ended".into()),
            ),
        }
    }

    async fn send_first(&mut self, rows: Vec<QueuedRow>) -> Result<(), StoreError> {
        for queued in &rows {
            self.count_staged(&queued.row);
        }
        let Stage::Writing(load) = &mut self.first_load else {
            return Ok(());
        };
        load.send(rows).await?;
        let repeats = load.take_repeats();
        self.keep_repeats(repeats).await
    }

    /// Make the batch's table beside the resource's and start the thread
    /// that writes into it, with the rows held so far. A resource table the
    /// batch cannot copy the shape of sends the batch the general way.
    async fn start_first_load(&mut self) -> Result<(), StoreError> {
        let Stage::Holding(mut held) = std::mem::replace(&mut self.first_load, Stage::General)
        else {
            return Ok(());
        };
        if self.store.backend == Backend::Postgres {
            if !self.start_pg_first_load().await? {
                return self.stage_held(held).await;
            }
            while !held.is_empty() {
                let rest = held.split_off(ROWS_PER_STATEMENT.min(held.len()));
                let run = std::mem::replace(&mut held, rest);
                self.send_pg_first_load(run).await?;
            }
            return Ok(());
        }
        if !keys_ascend(&held, &key_positions(&self.sql), self.sql.item_types()) {
            return self.stage_held(held).await;
        }
        let path = self.store.readers.as_ref().map(|r| r.path().to_owned());
        let shadow =
            Shadow::plan(&mut self.conn, &self.resource.table_name, self.batch_row_id).await?;
        let (Some(path), Some(shadow)) = (path, shadow) else {
            return self.stage_held(held).await;
        };
        let first_seq = self.make_shadow(&shadow).await?;
        let target = Target {
            shadow,
            batch_row_id: self.batch_row_id,
            first_seq,
        };
        let load =
            FirstLoad::start(&path, &self.sql, target, self.store.checkpointer.clone()).await?;
        self.first_load = Stage::Writing(load);
        // Written as read, a repeated key is found by the key index as the
        // rows go in: the digests' spill would never be read.
        if let Some(seen) = self.seen_keys.as_mut() {
            seen.stop_spilling();
        }
        while !held.is_empty() {
            let rest = held.split_off(ROWS_PER_STATEMENT.min(held.len()));
            let run = std::mem::replace(&mut held, rest);
            self.send_first(run).await?;
        }
        Ok(())
    }

    /// The rows of a batch that stayed small, staged the general way in a
    /// scratch file made now.
    pub(crate) async fn stage_held(&mut self, held: Vec<QueuedRow>) -> Result<(), StoreError> {
        if self.store.backend == Backend::Postgres {
            let rows: Vec<StagedRow> = held.into_iter().map(|q| q.row).collect();
            return self.copy_rows(&rows).await;
        }
        let path = self.store.scratch_file(self.batch_row_id).ok_or_else(|| {
            StoreError::Invalid("a batch written as read needs a database file".into())
        })?;
        let scratch =
            ScratchStage::create(path, &self.sql, self.record_keys.clone(), STAGE_CACHE_KIB)
                .await?;
        self.scratch = Some(scratch);
        let rows = held.into_iter().map(|q| q.row).collect();
        self.scratch_rows(rows).await
    }

    /// A batch given up while its rows are being written: the thread stops
    /// after its turn, before the batch is marked failed and what it wrote
    /// is discarded.
    pub(crate) async fn abandon_first_load(&mut self) {
        match std::mem::replace(&mut self.first_load, Stage::General) {
            Stage::Writing(load) => load.abandon().await,
            Stage::Direct(load) => Self::abandon_pg_first_load(load).await,
            _ => {}
        }
    }

    /// Keep repeated keys the loading thread found, for `settle_repeats`.
    pub(crate) async fn keep_repeats(&mut self, repeats: Vec<KeyRepeat>) -> Result<(), StoreError> {
        if repeats.is_empty() {
            return Ok(());
        }
        if self.repeats_kept == 0 {
            sqlx::query(AssertSqlSafe(format!(
                "CREATE TEMP TABLE IF NOT EXISTS {DIRECT_REPEATS} (_line INTEGER PRIMARY KEY, \
                 _status INTEGER NOT NULL, _prior INTEGER, _key TEXT)"
            )))
            .execute(&mut *self.conn)
            .await?;
        }
        // Three parameters a row, well under SQLite's limit.
        for run in repeats.chunks(1_000) {
            let marks = vec![format!("(?, {KEY_REPEAT}, ?, ?)"); run.len()];
            let statement = format!(
                "INSERT INTO {DIRECT_REPEATS} (_line, _status, _prior, _key) VALUES {}",
                marks.join(", ")
            );
            let mut insert = sqlx::query(AssertSqlSafe(statement));
            for repeat in run {
                insert = insert
                    .bind(repeat.line)
                    .bind(repeat.prior)
                    .bind(repeat.key.clone());
            }
            insert.execute(&mut *self.conn).await?;
        }
        self.repeats_kept += repeats.len() as i64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::borrow::Cow;

    /// `values` in the order SQLite's `ORDER BY` gives them, from a column
    /// declared `declared`.
    fn sqlite_order(declared: &str, values: &[StoredCell<'static>]) -> Vec<StoredCell<'static>> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!("CREATE TABLE t (v {declared})"))
            .unwrap();
        for value in values {
            let mut insert = conn.prepare("INSERT INTO t (v) VALUES (?1)").unwrap();
            bind_cell_value(&mut insert, value);
            insert.raw_execute().unwrap();
        }
        let mut select = conn.prepare("SELECT v FROM t ORDER BY v").unwrap();
        select
            .query_map([], |r| {
                Ok(match r.get_ref(0)? {
                    rusqlite::types::ValueRef::Integer(i) => StoredCell::Integer(i),
                    rusqlite::types::ValueRef::Text(t) => {
                        StoredCell::Text(Cow::Owned(String::from_utf8_lossy(t).into_owned()))
                    }
                    _ => StoredCell::Null(ItemType::String),
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn bind_cell_value(statement: &mut Statement<'_>, value: &StoredCell<'_>) {
        match value {
            StoredCell::Integer(i) => statement.raw_bind_parameter(1, i),
            StoredCell::Boolean(b) => statement.raw_bind_parameter(1, b),
            StoredCell::Text(t) => statement.raw_bind_parameter(1, t.as_ref()),
            StoredCell::Null(_) => statement.raw_bind_parameter(1, None::<i64>),
        }
        .unwrap();
    }

    fn never_descends(ordered: &[StoredCell<'_>]) -> bool {
        ordered.windows(2).all(|w| {
            compare_keys(std::slice::from_ref(&w[0]), std::slice::from_ref(&w[1]))
                != std::cmp::Ordering::Greater
        })
    }

    proptest! {
        /// Keys in the order SQLite sorts them never look out of order, so
        /// a file in key order is taken as such, whatever the text.
        #[test]
        fn text_keys_in_sqlite_order_ascend(values in proptest::collection::vec("[0-9A-Za-z张三李四-]{0,6}|\\PC{0,4}", 0..40)) {
            let cells: Vec<StoredCell<'static>> = values.into_iter().map(|v| StoredCell::Text(Cow::Owned(v))).collect();
            prop_assert!(never_descends(&sqlite_order("TEXT", &cells)));
        }

        #[test]
        fn integer_keys_in_sqlite_order_ascend(values in proptest::collection::vec(any::<i64>(), 0..40)) {
            let cells: Vec<StoredCell<'static>> = values.into_iter().map(StoredCell::Integer).collect();
            let ordered = sqlite_order("INTEGER", &cells);
            prop_assert!(never_descends(&ordered));
            // And out of order when two differ the other way round.
            let mut reversed = sqlite_order("INTEGER", &cells);
            reversed.reverse();
            let distinct = ordered.first().zip(ordered.last()).is_some_and(|(a, b)| {
                compare_keys(std::slice::from_ref(a), std::slice::from_ref(b)) != std::cmp::Ordering::Equal
            });
            prop_assert_eq!(never_descends(&reversed), !distinct);
        }
    }
}
