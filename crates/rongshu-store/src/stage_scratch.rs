//! SQLite: a batch's staged rows in a scratch database file of its own,
//! filled through a direct connection on a thread of its own.
//!
//! Staging through the pool spent more time handing values over than
//! storing them: every bound value was boxed for the `Any` driver, sent to
//! the connection's thread and converted again there, and the next
//! statement was built only once that thread had run the last. A file of
//! the batch's own can be written by a plain connection, binding and storing
//! on one thread while the delivered file is read and checked on another
//! (a million rows staged in 3.5-5.2 s instead of 11.0 s, `rongshu bench
//! ingest`; 4.5-5.7 s when each run of rows was awaited before the next
//! was read). Once every row is in, the connection is closed and the
//! batch's pooled connection attaches the file as `rongshu_scratch`, so
//! comparing and applying read it as before.
//!
//! The file lies beside the database (`<database>-stage-<batch>`), where
//! the operator has provided room for data, and goes when the batch ends;
//! one left by a process that stopped goes when its batch is marked failed.

use std::path::{Path, PathBuf};

use rongshu_core::catalog::ItemType;
use rusqlite::{Connection, OpenFlags, Statement};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::batches::{StoredCell, halves, record_of, stored_cell};
use crate::repeats::StagedRow;
use crate::stage::StageSql;

/// The scratch file of batch `batch_row_id` of the database at `database`.
pub(crate) fn scratch_path(database: &Path, batch_row_id: i64) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(format!("-stage-{batch_row_id}"));
    PathBuf::from(name)
}

/// Remove a scratch file; one that is not there is fine.
pub(crate) fn remove_scratch(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Invalid(format!(
            "could not remove a batch's staged rows ({}): {e}",
            path.display()
        ))),
    }
}

/// What binding a staged row needs, kept by the filling thread.
struct RowShape {
    /// Item keys for each row's logged record; `None`: rows carry none.
    keys: Option<Vec<String>>,
    item_types: Vec<ItemType>,
    unique_rules: usize,
    /// Rows per statement, and the statement for that many.
    rows_per_statement: usize,
    full_statement: String,
}

/// Runs of rows waiting for the filling thread at most: one being stored
/// and one ready keep the reader and the filling thread both at work; more
/// would only hold more rows in memory.
const QUEUED_RUNS: usize = 2;

/// A run of rows for the filling thread, with the statement for its last,
/// shorter stretch (when there is one).
type Run = (Vec<StagedRow>, Option<String>);

/// The scratch file of one batch and, until every row is in, the thread
/// that fills it.
pub(crate) struct ScratchStage {
    path: PathBuf,
    filler: Option<Filler>,
}

/// The thread filling the scratch file through its own connection. Runs go
/// to it without waiting for the previous one to be stored, so rows are
/// read and checked while the ones before them are written.
struct Filler {
    runs: mpsc::Sender<Run>,
    /// The thread's outcome, once it has stored every run or failed.
    done: oneshot::Receiver<Result<(), StoreError>>,
}

impl ScratchStage {
    /// Make the file and its table, and start the thread that fills it.
    /// `sql` must say the rows are staged in a scratch file.
    pub(crate) async fn create(
        path: PathBuf,
        sql: &StageSql,
        keys: Option<Vec<String>>,
        cache_kib: i64,
    ) -> Result<Self, StoreError> {
        let rows_per_statement = sql.rows_per_statement();
        let shape = RowShape {
            keys,
            item_types: sql.item_types().to_vec(),
            unique_rules: sql.unique_rules,
            rows_per_statement,
            full_statement: sql.insert_rows(rows_per_statement),
        };
        let table = sql.rows_table();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_scratch(&opened, &table, cache_kib))
            .await
            .map_err(|e| StoreError::Invalid(format!("the staging thread failed: {e}")))??;
        let (runs, mut incoming) = mpsc::channel::<Run>(QUEUED_RUNS);
        let (finished, done) = oneshot::channel();
        std::thread::Builder::new()
            .name("batch-stage".into())
            .spawn(move || {
                let mut outcome = Ok(());
                while let Some((rows, partial)) = incoming.blocking_recv() {
                    outcome = insert_rows(&conn, &shape, &rows, partial.as_deref());
                    if outcome.is_err() {
                        break;
                    }
                }
                // The connection closes (and its lock goes) before anyone
                // hears that the thread is done.
                drop(conn);
                let _ = finished.send(outcome);
            })
            .map_err(|e| StoreError::Invalid(format!("could not start the staging thread: {e}")))?;
        Ok(Self {
            path,
            filler: Some(Filler { runs, done }),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Hand `rows` to the filling thread, which stores them in one
    /// transaction of the scratch file; waits only while earlier runs fill
    /// the queue. `partial` is the statement for the run of rows left over
    /// after the full ones, when there is one. A failure to store shows
    /// here or at `close`.
    pub(crate) async fn insert(
        &mut self,
        rows: Vec<StagedRow>,
        partial: Option<String>,
    ) -> Result<(), StoreError> {
        let Some(filler) = self.filler.as_mut() else {
            return Err(StoreError::Invalid(
                "rows were staged after the batch's staging had ended".into(),
            ));
        };
        if filler.runs.send((rows, partial)).await.is_err() {
            // The thread stopped: it says why.
            return self.close().await;
        }
        Ok(())
    }

    /// Wait until every row handed over is stored and the filling connection
    /// is closed (its exclusive lock with it): the file is then ready to be
    /// attached. Returns what went wrong in storing, if anything did.
    pub(crate) async fn close(&mut self) -> Result<(), StoreError> {
        let Some(Filler { runs, done }) = self.filler.take() else {
            return Ok(());
        };
        drop(runs);
        match done.await {
            Ok(outcome) => outcome,
            Err(_) => Err(StoreError::Invalid(
                "the staging thread stopped without a word".into(),
            )),
        }
    }
}

impl Drop for ScratchStage {
    fn drop(&mut self) {
        // The thread stores what it was handed and ends; the file it writes
        // to is gone by then, and nothing reads it.
        self.filler = None;
        if let Err(e) = remove_scratch(&self.path) {
            tracing::warn!(error = %e, "a batch's staged rows were left behind");
        }
    }
}

/// A new scratch file: no journal and no syncing (a crash discards it
/// anyway), locked to this connection while it fills.
fn open_scratch(path: &Path, table: &str, cache_kib: i64) -> Result<Connection, StoreError> {
    remove_scratch(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
         PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -{cache_kib};"
    ))?;
    conn.execute_batch(table)?;
    Ok(conn)
}

fn insert_rows(
    conn: &Connection,
    shape: &RowShape,
    rows: &[StagedRow],
    partial: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN")?;
    let inserted = (|| {
        let mut record = String::new();
        for run in rows.chunks(shape.rows_per_statement) {
            let text = if run.len() == shape.rows_per_statement {
                shape.full_statement.as_str()
            } else {
                partial.ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "no staging statement for a run of {} rows",
                        run.len()
                    ))
                })?
            };
            let mut statement = conn.prepare_cached(text)?;
            let mut at = 0;
            for row in run {
                let record = record_of(&mut record, shape.keys.as_deref(), row);
                bind_row(&mut statement, &mut at, shape, row, record)?;
            }
            statement.raw_execute()?;
        }
        Ok::<(), StoreError>(())
    })();
    match inserted {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Bind one row's values after parameter `at`, in the order `insert_rows`
/// names the columns (as `BatchWriter::insert_rows` does on the pool).
fn bind_row(
    statement: &mut Statement<'_>,
    at: &mut usize,
    shape: &RowShape,
    row: &StagedRow,
    record: Option<&str>,
) -> Result<(), StoreError> {
    let mut next = || {
        *at += 1;
        *at
    };
    statement.raw_bind_parameter(next(), row.line as i64)?;
    statement.raw_bind_parameter(next(), record)?;
    statement.raw_bind_parameter(next(), row.status.code())?;
    statement.raw_bind_parameter(next(), row.key.as_deref())?;
    let (k1, k2) = halves(row.digests.key);
    statement.raw_bind_parameter(next(), k1)?;
    statement.raw_bind_parameter(next(), k2)?;
    for u in 0..shape.unique_rules {
        let digest = row.digests.unique.get(u).copied().flatten().map(halves);
        statement.raw_bind_parameter(next(), digest.map(|(a, _)| a))?;
        statement.raw_bind_parameter(next(), digest.map(|(_, b)| b))?;
    }
    for (i, item_type) in shape.item_types.iter().enumerate() {
        let cell = row.cells.get(i).and_then(Option::as_ref);
        let index = next();
        match stored_cell(*item_type, cell) {
            StoredCell::Integer(i) => statement.raw_bind_parameter(index, i)?,
            StoredCell::Boolean(b) => statement.raw_bind_parameter(index, b)?,
            StoredCell::Text(t) => statement.raw_bind_parameter(index, t.as_ref())?,
            StoredCell::Null(_) => statement.raw_bind_parameter(index, None::<i64>)?,
        }
    }
    Ok(())
}
