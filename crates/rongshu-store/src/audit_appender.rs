//! Group commits of audit events on a direct SQLite connection, for a writer
//! that owns a thread: the same chain, head row and side table as
//! [`Store::append_audit_group`], without a thread hand-off per statement.
//!
//! The links of a group (each event's canonical text and hash) depend on the
//! head it follows. They are computed before the write lock is taken, after
//! the head this appender left last time; under the lock the head is read,
//! and only if someone else appended meanwhile are they computed again. So
//! the lock is held for the inserts alone.

use rongshu_core::audit::AuditEntry;
use rusqlite::{Connection, params};

use crate::audit::{ChainPoint, Linked, link_after};
use crate::{Store, StoreError, direct};

/// Appends groups of events; owns its connection, so it is used by one
/// thread at a time.
pub struct AuditAppender {
    conn: Connection,
    /// The head after this appender's last group, while nothing says it moved.
    last_head: Option<ChainPoint>,
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
        let conn = direct::open_writer(readers.path())?;
        Ok(Some(AuditAppender {
            conn,
            last_head: None,
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
        // The transaction's own statements are prepared once, like the
        // inserts: rusqlite's transaction helpers parse `BEGIN` and `COMMIT`
        // afresh each time, which cost a tenth of a group's work.
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let written = self.write_after(entries, guessed);
        let linked = match written {
            Ok(linked) => linked,
            Err(e) => {
                // Nothing of the group stays, and the connection is ready
                // for the next one.
                if !self.conn.is_autocommit() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                return Err(e);
            }
        };
        let seqs: Vec<i64> = linked.iter().map(|l| l.seq).collect();
        let head = linked.into_iter().last().map(|l| ChainPoint {
            seq: l.seq,
            hash: l.hash,
        });
        self.last_head = head.clone();
        Ok((seqs, head))
    }

    /// Inside the group's transaction: read the head, link the events after
    /// it (reusing `guessed` when the head is the one it was made for), write
    /// them and commit.
    fn write_after<'r>(
        &self,
        entries: &'r [AuditEntry],
        guessed: Option<(Vec<Linked<'r>>, ChainPoint)>,
    ) -> Result<Vec<Linked<'r>>, StoreError> {
        let head = self
            .conn
            .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
            .query_row([], |r| {
                Ok(ChainPoint {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            })?;
        let linked = match guessed {
            Some((linked, guess)) if guess == head => linked,
            _ => link_after(&head, entries.iter().map(|e| &e.record)),
        };
        write_group(&self.conn, entries, &linked)?;
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(linked)
    }
}

/// The inserts of one group, each a statement prepared once per connection.
fn write_group(
    conn: &Connection,
    entries: &[AuditEntry],
    linked: &[Linked<'_>],
) -> Result<(), StoreError> {
    let mut event = conn.prepare_cached(
        "INSERT INTO audit_events
            (seq, at, actor, department, action, target, resource, row_count, prev_hash, hash, canonical)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut person = conn.prepare_cached(
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
        conn.prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")?
            .execute(params![last.seq, last.hash])?;
    }
    Ok(())
}
