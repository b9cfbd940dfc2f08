//! The audit log: append inside the caller's transaction (so a change and its
//! event commit together), and walk the whole chain to verify it.

use std::fmt::Write as _;

use rongshu_core::audit::{
    AuditEntry, AuditRecord, ChainBreak, ChainVerifier, StoredEvent, canonical_text, hash_text,
};
use rongshu_core::people::PersonHash;
use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::db::Backend;
use crate::{Store, StoreError};

/// Append one event. The first statement takes the chain's head row for
/// update, which serialises appenders across connections and processes on both
/// backends (SQLite's write lock, PostgreSQL's row lock).
pub(crate) async fn append_in(
    conn: &mut AnyConnection,
    record: &AuditRecord,
) -> Result<i64, StoreError> {
    let points = append_linked(conn, &[record]).await?;
    points
        .last()
        .map(|p| p.seq)
        .ok_or_else(|| StoreError::Invalid("no audit event was appended".into()))
}

/// A point of the chain: an event's number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChainPoint {
    pub seq: i64,
    pub hash: String,
}

/// Columns of one stored event.
const EVENT_COLUMNS: usize = 11;
/// Events per INSERT at most: 2,816 parameters, well under both backends'
/// limits (SQLite 32,766; PostgreSQL 65,535). A power of two (see
/// [`next_chunk`]).
const EVENTS_PER_INSERT: usize = 256;

/// `$n` placeholders for PostgreSQL; anonymous `?` for SQLite, whose driver
/// looks numbered ones up by name, linearly, which makes a statement of
/// thousands of parameters quadratic.
fn placeholders(conn: &AnyConnection) -> impl Fn(&mut String, usize) + use<> {
    let anonymous = conn.backend_name().eq_ignore_ascii_case("sqlite");
    move |sql: &mut String, n: usize| {
        if anonymous {
            sql.push('?');
        } else {
            let _ = write!(sql, "${n}");
        }
    }
}

/// How the next multi-row INSERT of `left` rows is made: it takes `rows` of
/// them (at most `max`) in a statement of `slots` rows, the smallest power
/// of two that holds them, the slots past `rows` bound to NULL and skipped.
/// Statements come in a few sizes only, so each connection's statement cache
/// keeps them prepared (one text per group size would have the database
/// parse a fresh statement for most groups); and a group goes in one
/// statement, not one per power of two it adds up to, since on PostgreSQL
/// each statement is a round trip that the group's commit, and every read
/// waiting on it, waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chunk {
    rows: usize,
    slots: usize,
}

fn next_chunk(left: usize, max: usize) -> Chunk {
    let rows = left.min(max).max(1);
    Chunk {
        rows,
        slots: rows.next_power_of_two().min(max),
    }
}

/// `INSERT INTO {target} SELECT * FROM (VALUES …) WHERE {present} IS NOT
/// NULL`, with `slots` rows of `columns` placeholders numbered from
/// `first`: the padding rows' NULLs are filtered out. Both backends name a
/// VALUES list's columns `column1`, `column2`, ….
fn padded_insert(
    target: &str,
    present: &str,
    columns: usize,
    slots: usize,
    first: usize,
    placeholder: &impl Fn(&mut String, usize),
) -> String {
    let mut sql = format!("INSERT INTO {target} SELECT * FROM (VALUES ");
    for i in 0..slots {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            placeholder(&mut sql, first + i * columns + c);
        }
        sql.push(')');
    }
    // Only placeholders are written into the text; every value is bound.
    let _ = write!(sql, ") AS v WHERE {present} IS NOT NULL");
    sql
}

/// Append `records` in order after the chain's head, in the caller's
/// transaction. The head is locked and read in one statement and the events
/// go in as one multi-row INSERT per 256: with the people and the head's
/// update, a group of reads' events costs four statements, not four per
/// event. Each statement is a round trip to the connection, and those round
/// trips were the whole cost of a group commit.
async fn append_linked(
    conn: &mut AnyConnection,
    records: &[&AuditRecord],
) -> Result<Vec<ChainPoint>, StoreError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    // Locks the head (SQLite's write lock, PostgreSQL's row lock) and reads
    // it in one round trip.
    let head = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *conn)
        .await?;
    let head = ChainPoint {
        seq: head.try_get("seq")?,
        hash: head.try_get("hash")?,
    };
    let linked = link_after(&head, records.iter().copied());
    let placeholder = placeholders(conn);
    let mut rest = linked.as_slice();
    while !rest.is_empty() {
        let Chunk { rows, slots } = next_chunk(rest.len(), EVENTS_PER_INSERT);
        let (chunk, after) = rest.split_at(rows);
        rest = after;
        let sql = padded_insert(
            "audit_events
                (seq, at, actor, department, action, target, resource, row_count, prev_hash, hash, canonical)",
            "column1",
            EVENT_COLUMNS,
            slots,
            1,
            &placeholder,
        );
        let insert = bind_events(sqlx::query(AssertSqlSafe(sql)), chunk, slots);
        insert.execute(&mut *conn).await?;
    }
    if let Some(last) = linked.last() {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(last.seq)
            .bind(&last.hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(linked
        .into_iter()
        .map(|l| ChainPoint {
            seq: l.seq,
            hash: l.hash,
        })
        .collect())
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Bind linked events as the rows of a [`padded_insert`] of `slots` rows.
fn bind_events<'q>(
    mut insert: AnyQuery<'q>,
    events: &'q [Linked<'q>],
    slots: usize,
) -> AnyQuery<'q> {
    for Linked {
        record,
        seq,
        prev_hash: prev,
        hash,
        canonical,
    } in events
    {
        insert = insert
            .bind(*seq)
            .bind(&record.at)
            .bind(&record.actor)
            .bind(record.department.as_deref())
            .bind(&record.action)
            .bind(record.target.as_deref())
            .bind(record.resource.as_deref())
            .bind(record.rows)
            .bind(prev)
            .bind(hash)
            .bind(canonical);
    }
    // NULLs of each column's type: PostgreSQL gives a VALUES column one
    // type, from all its rows.
    let (number, text) = (None::<i64>, None::<&str>);
    for _ in events.len()..slots {
        insert = insert
            .bind(number)
            .bind(text)
            .bind(text)
            .bind(text)
            .bind(text)
            .bind(text)
            .bind(text)
            .bind(number)
            .bind(text)
            .bind(text)
            .bind(text);
    }
    insert
}

/// Bind (event, person) pairs as the rows of a [`padded_insert`] of `slots`
/// rows into `audit_people`.
fn bind_people<'q>(
    mut insert: AnyQuery<'q>,
    people: &'q [(i64, &'q PersonHash)],
    slots: usize,
) -> AnyQuery<'q> {
    for (seq, person) in people {
        insert = insert.bind(person.as_str()).bind(*seq);
    }
    for _ in people.len()..slots {
        insert = insert.bind(None::<&str>).bind(None::<i64>);
    }
    insert
}

/// An event linked into the chain: its number, the hash before it, its own
/// hash and the canonical text that hash is of.
pub(crate) struct Linked<'r> {
    pub(crate) record: &'r AuditRecord,
    pub(crate) seq: i64,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
    pub(crate) canonical: String,
}

/// Link `records` in order after `head`.
pub(crate) fn link_after<'r>(
    head: &ChainPoint,
    records: impl IntoIterator<Item = &'r AuditRecord>,
) -> Vec<Linked<'r>> {
    let (mut prev_seq, mut prev_hash) = (head.seq, head.hash.clone());
    records
        .into_iter()
        .map(|record| {
            let seq = prev_seq + 1;
            let canonical = canonical_text(seq, &prev_hash, record);
            let hash = hash_text(&canonical);
            prev_seq = seq;
            let prev = std::mem::replace(&mut prev_hash, hash.clone());
            Linked {
                record,
                seq,
                prev_hash: prev,
                hash,
                canonical,
            }
        })
        .collect()
}

/// Most people rows in one INSERT: two parameters each, well under both
/// backends' limit on parameters per statement.
const PEOPLE_PER_INSERT: usize = 512;

/// Link people to events in the side table. A pair already there is left as
/// it is: an export's pages may name one person twice.
async fn insert_people(
    conn: &mut AnyConnection,
    rows: &[(i64, &PersonHash)],
) -> Result<(), StoreError> {
    let placeholder = placeholders(conn);
    let mut rest = rows;
    while !rest.is_empty() {
        let Chunk { rows, slots } = next_chunk(rest.len(), PEOPLE_PER_INSERT);
        let (chunk, after) = rest.split_at(rows);
        rest = after;
        let mut sql = padded_insert(
            "audit_people (person_hash, seq)",
            "column2",
            2,
            slots,
            1,
            &placeholder,
        );
        sql.push_str(" ON CONFLICT DO NOTHING");
        bind_people(sqlx::query(AssertSqlSafe(sql)), chunk, slots)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// One read that touched a person, as the person's access log lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PersonRead {
    pub event: AuditEventRow,
    /// The reading department's name today, when it still exists.
    pub department_name: Option<String>,
}

/// The actions that read data and so belong in a person's access log.
const READ_ACTIONS: &str = "'data.read', 'data.verify'";

/// One event as listed to people (the console, tests).
#[derive(Debug, Clone, Serialize)]
pub struct AuditEventRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub department: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub resource: Option<String>,
    pub rows: Option<i64>,
    pub detail: serde_json::Value,
}

/// The verifier's answer.
#[derive(Debug, Clone)]
pub enum VerifyOutcome {
    Intact { events: u64, head: String },
    Broken { checked: u64, brk: ChainBreak },
}

/// Events are read back this many at a time, so verification runs in constant memory.
const VERIFY_PAGE: i64 = 5_000;

impl Store {
    /// Record an event on its own (a sign-in, a read): committed before this returns.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let seq = append_in(&mut tx, record).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Record several events in one transaction (a group commit): one write
    /// for many reads' events, with the people each touched in the side
    /// table in the same transaction. Returns each event's number, in order,
    /// and the chain's head after the last.
    pub async fn append_audit_group(
        &self,
        entries: &[AuditEntry],
    ) -> Result<(Vec<i64>, Option<ChainPoint>), StoreError> {
        let mut tx = self.begin_write().await?;
        let records: Vec<&AuditRecord> = entries.iter().map(|e| &e.record).collect();
        let points = append_linked(&mut tx, &records).await?;
        let seqs: Vec<i64> = points.iter().map(|p| p.seq).collect();
        let head = points.into_iter().last();
        let people: Vec<(i64, &PersonHash)> = entries
            .iter()
            .zip(&seqs)
            .flat_map(|(entry, seq)| entry.people.iter().map(move |p| (*seq, p)))
            .collect();
        insert_people(&mut tx, &people).await?;
        tx.commit().await?;
        Ok((seqs, head))
    }

    /// As [`Store::append_audit_group`], for a writer that knows where it
    /// left the chain (`last`, the head after its previous group). On
    /// PostgreSQL the group then goes in one statement, one round trip
    /// instead of six, when the head is still there: the head's update is
    /// conditional on it, and the inserts on the update. When someone else
    /// appended meanwhile, or elsewhere, it goes as `append_audit_group`.
    pub async fn append_audit_group_after(
        &self,
        entries: &[AuditEntry],
        last: Option<&ChainPoint>,
    ) -> Result<(Vec<i64>, Option<ChainPoint>), StoreError> {
        if let (Backend::Postgres, Some(last)) = (self.backend, last)
            && let Some(appended) = self.append_if_head_is(entries, last).await?
        {
            return Ok(appended);
        }
        self.append_audit_group(entries).await
    }

    /// PostgreSQL: the group in one statement if the head is still `last`;
    /// `None` when it is not (nothing is written then), or when the group is
    /// too large for one statement.
    async fn append_if_head_is(
        &self,
        entries: &[AuditEntry],
        last: &ChainPoint,
    ) -> Result<Option<(Vec<i64>, Option<ChainPoint>)>, StoreError> {
        let linked = link_after(last, entries.iter().map(|e| &e.record));
        let people: Vec<(i64, &PersonHash)> = entries
            .iter()
            .zip(&linked)
            .flat_map(|(entry, l)| entry.people.iter().map(move |p| (l.seq, p)))
            .collect();
        let Some(head) = linked.last() else {
            return Ok(None);
        };
        if linked.len() > EVENTS_PER_INSERT || people.len() > PEOPLE_PER_INSERT {
            return Ok(None);
        }
        let numbered = |sql: &mut String, n: usize| {
            let _ = write!(sql, "${n}");
        };
        let event_slots = next_chunk(linked.len(), EVENTS_PER_INSERT).slots;
        let mut sql = String::from(
            "WITH head AS (UPDATE audit_head SET seq = $1, hash = $2
                           WHERE id = 1 AND seq = $3 AND hash = $4 RETURNING id),
             events AS (",
        );
        sql.push_str(&padded_insert(
            "audit_events
                (seq, at, actor, department, action, target, resource, row_count, prev_hash, hash, canonical)",
            "column1",
            EVENT_COLUMNS,
            event_slots,
            5,
            &numbered,
        ));
        sql.push_str(" AND EXISTS (SELECT 1 FROM head))");
        let people_slots =
            (!people.is_empty()).then(|| next_chunk(people.len(), PEOPLE_PER_INSERT).slots);
        if let Some(slots) = people_slots {
            sql.push_str(", people AS (");
            sql.push_str(&padded_insert(
                "audit_people (person_hash, seq)",
                "column2",
                2,
                slots,
                5 + event_slots * EVENT_COLUMNS,
                &numbered,
            ));
            sql.push_str(" AND EXISTS (SELECT 1 FROM head) ON CONFLICT DO NOTHING)");
        }
        sql.push_str(" SELECT COUNT(*) AS n FROM head");
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(head.seq)
            .bind(&head.hash)
            .bind(last.seq)
            .bind(&last.hash);
        query = bind_events(query, &linked, event_slots);
        if let Some(slots) = people_slots {
            query = bind_people(query, &people, slots);
        }
        let moved: i64 = query.fetch_one(&self.pool).await?.try_get("n")?;
        if moved == 0 {
            return Ok(None);
        }
        let seqs = linked.iter().map(|l| l.seq).collect();
        let head = ChainPoint {
            seq: head.seq,
            hash: head.hash.clone(),
        };
        Ok(Some((seqs, Some(head))))
    }

    /// Link more people to an event already on record: a bulk export's later
    /// pages, each put on record before it is sent.
    pub async fn append_audit_people(
        &self,
        seq: i64,
        people: &[PersonHash],
    ) -> Result<(), StoreError> {
        if people.is_empty() {
            return Ok(());
        }
        let rows: Vec<(i64, &PersonHash)> = people.iter().map(|p| (seq, p)).collect();
        let mut tx = self.begin_write().await?;
        insert_people(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The reads that touched a person, newest first, before event `before`
    /// (exclusive) when given.
    pub async fn person_reads(
        &self,
        person: &PersonHash,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<PersonRead>, StoreError> {
        let sql = format!(
            "SELECT e.seq, e.canonical, d.name AS department_name
             FROM audit_people p
             JOIN audit_events e ON e.seq = p.seq
             LEFT JOIN departments d ON d.code = e.department
             WHERE p.person_hash = $1 AND p.seq < $2 AND e.action IN ({READ_ACTIONS})
             ORDER BY p.seq DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(person.as_str())
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(PersonRead {
                    event: event_row(row.try_get("seq")?, &row.try_get::<String, _>("canonical")?)?,
                    department_name: row.try_get("department_name")?,
                })
            })
            .collect()
    }

    /// The hash of event `seq`, if there is one: to compare with a checkpoint
    /// kept outside the database.
    pub async fn audit_hash_at(&self, seq: i64) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT hash FROM audit_events WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("hash")?),
            None => None,
        })
    }

    /// Recompute every event's hash and link, in order.
    pub async fn verify_audit(&self) -> Result<VerifyOutcome, StoreError> {
        let mut verifier = ChainVerifier::default();
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, prev_hash, hash, canonical FROM audit_events
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(VERIFY_PAGE)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let event = StoredEvent {
                    seq: row.try_get("seq")?,
                    prev_hash: row.try_get("prev_hash")?,
                    hash: row.try_get("hash")?,
                    canonical: row.try_get("canonical")?,
                };
                after = event.seq;
                if let Err(brk) = verifier.check(&event) {
                    return Ok(VerifyOutcome::Broken {
                        checked: verifier.checked(),
                        brk,
                    });
                }
            }
        }
        // The head row must agree with the last event: a truncated tail shows here.
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        if head_seq != verifier.checked() as i64 || head_hash != verifier.head() {
            return Ok(VerifyOutcome::Broken {
                checked: verifier.checked(),
                brk: ChainBreak::Gap {
                    seq: head_seq,
                    expected: verifier.checked() as i64 + 1,
                },
            });
        }
        Ok(VerifyOutcome::Intact {
            events: verifier.checked(),
            head: verifier.head().to_owned(),
        })
    }

    /// The newest events first, optionally only those of one action.
    pub async fn audit_events(
        &self,
        action: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, canonical FROM audit_events
             WHERE ($1 IS NULL OR action = $1) ORDER BY seq DESC LIMIT $2",
        )
        .bind(action)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| event_row(row.try_get("seq")?, &row.try_get::<String, _>("canonical")?))
            .collect()
    }
}

/// An event read back from its canonical text.
fn event_row(seq: i64, canonical: &str) -> Result<AuditEventRow, StoreError> {
    let v: serde_json::Value = serde_json::from_str(canonical)
        .map_err(|e| StoreError::Corrupt(format!("audit event text: {e}")))?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    Ok(AuditEventRow {
        seq,
        at: text("at").unwrap_or_default(),
        actor: text("actor").unwrap_or_default(),
        department: text("department"),
        action: text("action").unwrap_or_default(),
        target: text("target"),
        resource: text("resource"),
        rows: v.get("rows").and_then(|x| x.as_i64()),
        detail: v.get("detail").cloned().unwrap_or(serde_json::Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::{Chunk, next_chunk};

    #[test]
    fn a_group_goes_in_one_statement_of_a_power_of_two_slots() {
        for left in 1..=1_000 {
            let mut rest = left;
            let mut statements = 0;
            while rest > 0 {
                let Chunk { rows, slots } = next_chunk(rest, 256);
                assert!(rows >= 1 && rows <= slots && rows <= rest, "{left}: {rows}");
                assert!(slots.is_power_of_two() && slots <= 256, "{left}: {slots}");
                assert!(slots < 2 * rows, "{left}: {rows} rows in {slots} slots");
                rest -= rows;
                statements += 1;
            }
            assert_eq!(statements, left.div_ceil(256), "{left}");
        }
        assert_eq!(
            next_chunk(37, 256),
            Chunk {
                rows: 37,
                slots: 64
            }
        );
        assert_eq!(
            next_chunk(1_000, 256),
            Chunk {
                rows: 256,
                slots: 256
            }
        );
    }
}
