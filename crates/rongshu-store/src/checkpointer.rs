//! A thread per SQLite database file that moves the write-ahead log into the
//! file, so that no connection of the store checkpoints in its own commit,
//! and keeps the log from growing without end.
//!
//! SQLite otherwise checkpoints inside the commit that crosses its threshold,
//! and that commit waits for the copy and its sync: every read waiting on an
//! audit group would be late by it, and a batch that wrote a million rows
//! would answer 1.5 s later for copying them. So the store's connections are
//! opened with automatic checkpoints off, and this thread checkpoints
//! passively, which blocks neither readers nor writers.
//!
//! A passive checkpoint alone does not bound the log. SQLite starts writing
//! the log from its beginning again only when a write transaction begins
//! with every frame already copied and no reader still using the log; with
//! groups committed back to back and lookups reading all the while, that
//! moment never comes, and the log grew by 1.5 GB in eight seconds of the
//! lookup benchmark. Once the log is long, a restarting checkpoint makes that
//! moment: it holds off writers for the few frames left since the passive
//! copy and waits for readers of the log to finish, which lookups do within
//! microseconds. Its wait is short, so that a long reader (an export) never
//! holds the writer back: the checkpoint then stays passive and is tried
//! again on the next round.

use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::{StoreError, direct};

/// How often the log is moved into the database file, at the least.
const EVERY: Duration = Duration::from_millis(250);

/// Frames in the log beyond which it is restarted: 16 MiB of 4 KiB pages,
/// four times SQLite's own automatic threshold, so that a restart (and the
/// pause it makes writers take) comes at most every few rounds under load.
const RESTART_AFTER_FRAMES: i64 = 4_096;

/// How long a restart waits for the write lock and for readers of the log.
const RESTART_WAIT: Duration = Duration::from_millis(20);

/// The checkpointing thread; it stops when [`Checkpointer::stop`] is called
/// or the checkpointer is dropped.
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// What `PRAGMA wal_checkpoint` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpointed {
    /// The checkpoint could not finish (a lock or a reader was in the way).
    pub busy: bool,
    /// Frames in the log.
    pub log_frames: i64,
    /// Frames of the log now in the database file.
    pub copied_frames: i64,
}

/// One checkpoint in `mode` (`PASSIVE`, `RESTART`, …).
pub(crate) fn checkpoint(conn: &Connection, mode: &str) -> Result<Checkpointed, StoreError> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    Ok(conn.query_row(&sql, [], |r| {
        Ok(Checkpointed {
            busy: r.get::<_, i64>(0)? != 0,
            log_frames: r.get(1)?,
            copied_frames: r.get(2)?,
        })
    })?)
}

/// A passive checkpoint, and a restarting one when the log has grown long.
fn round(conn: &Connection) -> Result<(), StoreError> {
    let passive = checkpoint(conn, "PASSIVE")?;
    if passive.log_frames >= RESTART_AFTER_FRAMES {
        let restart = checkpoint(conn, "RESTART")?;
        if restart.busy {
            tracing::debug!(frames = restart.log_frames, "log not restarted this round");
        }
    }
    Ok(())
}

impl Checkpointer {
    /// Start checkpointing the database file at `path`, which must be in
    /// WAL mode already.
    pub(crate) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = direct::open_writer(path)?;
        conn.busy_timeout(RESTART_WAIT)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                loop {
                    std::thread::park_timeout(EVERY);
                    if stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    if let Err(e) = round(&conn) {
                        tracing::warn!(error = %e, "could not checkpoint the write-ahead log");
                    }
                }
            })
            .map_err(|e| {
                StoreError::Invalid(format!("could not start the checkpoint thread: {e}"))
            })?;
        Ok(Checkpointer {
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stop the thread and wait for it, so that its connection is closed
    /// when this returns.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(thread) = self.thread.lock()
            && let Some(thread) = thread.as_ref()
        {
            thread.thread().unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_after_passive(conn: &Connection) -> Result<i64, StoreError> {
        Ok(checkpoint(conn, "PASSIVE")?.log_frames)
    }

    struct Db {
        _dir: tempfile::TempDir,
        writer: Connection,
        checkpointer: Connection,
        reader: Connection,
    }

    /// A log grown past the restart threshold the way steady lookups grow
    /// it: each commit lands while a reader still holds an older snapshot,
    /// so a passive checkpoint never copies the last frames, and the next
    /// commit appends instead of starting over. The reader is left holding
    /// a snapshot older than the last commit.
    fn grown_log() -> Result<Db, StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Invalid(e.to_string()))?;
        let path = dir.path().join("wal.db");
        drop(Connection::open(&path)?);
        let writer = direct::open_writer(&path)?;
        writer.execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);",
        )?;
        let checkpointer = direct::open_writer(&path)?;
        let reader = direct::open_writer(&path)?;
        let mut i = 0;
        loop {
            reader.execute_batch("BEGIN")?;
            reader.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0))?;
            writer.execute("INSERT INTO t (id, v) VALUES (?1, zeroblob(3000))", [i])?;
            i += 1;
            if frames_after_passive(&checkpointer)? > RESTART_AFTER_FRAMES {
                break;
            }
            reader.execute_batch("COMMIT")?;
        }
        Ok(Db {
            _dir: dir,
            writer,
            checkpointer,
            reader,
        })
    }

    #[test]
    fn a_round_restarts_a_long_log_once_its_readers_finish() -> Result<(), StoreError> {
        let db = grown_log()?;
        // Wait long enough for the reader, however slow the machine.
        db.checkpointer.busy_timeout(Duration::from_secs(10))?;
        let reader = db.reader;
        let finishing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            reader.execute_batch("COMMIT")
        });
        round(&db.checkpointer)?;
        finishing
            .join()
            .map_err(|_| StoreError::Invalid("reader thread panicked".into()))??;
        db.writer
            .execute("INSERT INTO t (id, v) VALUES (-1, zeroblob(3000))", [])?;
        let frames = frames_after_passive(&db.checkpointer)?;
        assert!(frames < 10, "the log was not restarted: {frames} frames");
        Ok(())
    }

    #[test]
    fn a_passive_checkpoint_alone_leaves_the_log_growing() -> Result<(), StoreError> {
        let db = grown_log()?;
        db.checkpointer.busy_timeout(Duration::from_secs(10))?;
        frames_after_passive(&db.checkpointer)?;
        db.reader.execute_batch("COMMIT")?;
        db.writer
            .execute("INSERT INTO t (id, v) VALUES (-1, zeroblob(3000))", [])?;
        let frames = frames_after_passive(&db.checkpointer)?;
        assert!(frames > RESTART_AFTER_FRAMES, "{frames} frames");
        Ok(())
    }

    #[test]
    fn a_reader_that_stays_only_delays_the_restart() -> Result<(), StoreError> {
        let db = grown_log()?;
        db.checkpointer.busy_timeout(RESTART_WAIT)?;
        let started = std::time::Instant::now();
        round(&db.checkpointer)?;
        assert!(started.elapsed() < Duration::from_secs(5));
        // The writer is not held back by the checkpoint that gave up.
        db.writer
            .execute("INSERT INTO t (id, v) VALUES (-1, zeroblob(3000))", [])?;
        db.reader.execute_batch("COMMIT")?;
        Ok(())
    }
}
