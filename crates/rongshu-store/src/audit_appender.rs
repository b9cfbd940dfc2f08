//! Group commits of audit events on a direct SQLite connection, for a writer
//! that owns a thread: the same chain, head row and side table as
//! [`Store::append_audit_group`], without a thread hand-off per statement.
//!
//! The links of a group (each event's canonical text and hash) depend on the
//! head it follows. They are computed before the write lock is taken, after
//! the head this appender left last time; under the lock the head is read,
//! and only if someone else appended meanwhile are they computed again. So
//! the lock is held for the inserts alone.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rongshu_core::audit::AuditEntry;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::audit::{ChainPoint, Linked, link_after};
use crate::{Store, StoreError, direct};

/// Appends groups of events; owns its connection, so it is used by one
/// thread at a time.
pub struct AuditAppender {
    conn: Connection,
    /// The head after this appender's last group, while nothing says it moved.
    last_head: Option<ChainPoint>,
    /// Moves the log into the database file off the commit path; stops when
    /// the appender goes.
    _checkpointer: Checkpointer,
}

/// How often the log is moved into the database file, at the least.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// A thread that checkpoints the write-ahead log in the background. SQLite
/// otherwise checkpoints inside the commit that crosses its threshold, and
/// that commit waits for the copy and its sync: every reply waiting on that
/// group is late by it. A passive checkpoint blocks neither readers nor the
/// writer; the appender's own connection never checkpoints.
struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Checkpointer {
    fn start(path: &std::path::Path) -> Result<Self, StoreError> {
        let conn = direct::open_writer(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("audit-checkpoint".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "could not checkpoint the write-ahead log");
                    }
                }
            })
            .map_err(|e| {
                StoreError::Invalid(format!("could not start the checkpoint thread: {e}"))
            })?;
        Ok(Checkpointer { stop })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for AuditAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditAppender")
            .field("last_head", &self.last_head)
            .finish()
    }
}

impl Store {
    /// On a SQLite file, an appender for a writer thread; `None` on
    /// PostgreSQL (whose driver makes no hand-off to spare) or a database in
    /// memory, where [`Store::append_audit_group`] is the way.
    pub fn audit_appender(&self) -> Result<Option<AuditAppender>, StoreError> {
        let Some(readers) = &self.readers else {
            return Ok(None);
        };
        let path: PathBuf = readers.path().to_owned();
        let conn = direct::open_writer(&path)?;
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        Ok(Some(AuditAppender {
            conn,
            last_head: None,
            _checkpointer: Checkpointer::start(&path)?,
        }))
    }
}

impl AuditAppender {
    /// As [`Store::append_audit_group`]: the events in one transaction, in
    /// order after the chain's head, with the people each touched; each
    /// event's number and the head after the last.
    pub fn append_group(
        &mut self,
        entries: &[AuditEntry],
    ) -> Result<(Vec<i64>, Option<ChainPoint>), StoreError> {
        if entries.is_empty() {
            return Ok((Vec::new(), None));
        }
        let records = || entries.iter().map(|e| &e.record);
        let guessed = self
            .last_head
            .take()
            .map(|head| (link_after(&head, records()), head));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let head = tx.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok(ChainPoint {
                seq: r.get(0)?,
                hash: r.get(1)?,
            })
        })?;
        let linked = match guessed {
            Some((linked, guess)) if guess == head => linked,
            _ => link_after(&head, records()),
        };
        write_group(&tx, entries, &linked)?;
        tx.commit()?;
        let seqs: Vec<i64> = linked.iter().map(|l| l.seq).collect();
        let head = linked.into_iter().last().map(|l| ChainPoint {
            seq: l.seq,
            hash: l.hash,
        });
        self.last_head = head.clone();
        Ok((seqs, head))
    }
}

/// The inserts of one group, each a statement prepared once per connection.
fn write_group(
    tx: &rusqlite::Transaction<'_>,
    entries: &[AuditEntry],
    linked: &[Linked<'_>],
) -> Result<(), StoreError> {
    let mut event = tx.prepare_cached(
        "INSERT INTO audit_events
            (seq, at, actor, department, action, target, resource, row_count, prev_hash, hash, canonical)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut person = tx.prepare_cached(
        "INSERT INTO audit_people (person_hash, seq) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for (entry, l) in entries.iter().zip(linked) {
        let r = l.record;
        event.execute(params![
            l.seq,
            r.at,
            r.actor,
            r.department,
            r.action,
            r.target,
            r.resource,
            r.rows,
            l.prev_hash,
            l.hash,
            l.canonical,
        ])?;
        for p in &entry.people {
            person.execute(params![p.as_str(), l.seq])?;
        }
    }
    if let Some(last) = linked.last() {
        tx.prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")?
            .execute(params![last.seq, last.hash])?;
    }
    Ok(())
}
