//! Staged rows as PostgreSQL `COPY` text: one line per row, columns split by
//! tabs, `\N` for a missing value. The columns and what each row carries are
//! those `StageSql::insert_rows` binds, in the same order (see
//! `StageSql::copy_rows`), so both paths stage the same table.
//!
//! Values are never part of an SQL statement here: they travel in `COPY`'s
//! data stream, escaped only so that a tab, a newline or a backslash in a
//! value cannot end a column or a row early.

use rongshu_core::catalog::ItemType;
use rongshu_core::value::CellValue;
use sqlx::{Connection, PgConnection};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::StoreError;
use crate::batches::{StoredCell, stored_cell};
use crate::repeats::StagedRow;

/// Runs of encoded rows waiting to be sent at most: one being sent, one
/// ready; the file's reader waits beyond that, so memory stays bounded.
const QUEUED_RUNS: usize = 2;

/// One `COPY` for all of a batch's rows, on the batch's copy connection, fed
/// run by run. A `COPY` per run waited at its end for PostgreSQL to store
/// that run before the next one was read; with one `COPY` left open, data
/// only goes out, and PostgreSQL stores one run on one core while the next is
/// read and checked on the other. The connection is owned by a task of its
/// own, which sends what it is given and finishes when the sender is done.
pub(crate) struct CopyStream {
    runs: Option<mpsc::Sender<Vec<u8>>>,
    sending: Option<JoinHandle<Result<(), StoreError>>>,
}

impl CopyStream {
    /// Start `statement` (a `COPY ... FROM STDIN`) on `conn`.
    pub(crate) fn start(mut conn: PgConnection, statement: String) -> Self {
        let (runs, mut incoming) = mpsc::channel::<Vec<u8>>(QUEUED_RUNS);
        let sending = tokio::spawn(async move {
            let mut copy = conn.copy_in_raw(&statement).await?;
            while let Some(run) = incoming.recv().await {
                if let Err(e) = copy.send(run).await {
                    let _ = copy.abort("the batch could not be staged").await;
                    return Err(e.into());
                }
            }
            copy.finish().await?;
            conn.close().await?;
            Ok(())
        });
        Self {
            runs: Some(runs),
            sending: Some(sending),
        }
    }

    /// Send a run of encoded rows; waits while [`QUEUED_RUNS`] are queued.
    pub(crate) async fn send(&mut self, run: Vec<u8>) -> Result<(), StoreError> {
        let sent = match &self.runs {
            Some(runs) => runs.send(run).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The task stopped early: its error says why.
        self.finish().await?;
        Err(StoreError::Database(sqlx::Error::WorkerCrashed))
    }

    /// Give the `COPY` up: its connection is dropped, and PostgreSQL rolls
    /// it back. A batch that fails must do this before it removes its staged
    /// rows' table: the open `COPY` holds a lock on it, and would wait for
    /// rows that never come.
    pub(crate) async fn abandon(mut self) {
        self.runs = None;
        if let Some(sending) = self.sending.take() {
            sending.abort();
            let _ = sending.await;
        }
    }

    /// End the `COPY` once everything sent is stored, and close the
    /// connection.
    pub(crate) async fn finish(&mut self) -> Result<(), StoreError> {
        self.runs = None;
        match self.sending.take() {
            // The task panicked: our fault, not the file's.
            Some(sending) => sending
                .await
                .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?,
            None => Ok(()),
        }
    }
}

impl Drop for CopyStream {
    /// A stream neither finished nor abandoned (its batch was dropped) is
    /// abandoned.
    fn drop(&mut self) {
        if let Some(sending) = self.sending.take() {
            sending.abort();
        }
    }
}

/// Append one staged row: `line`, `record`, status, key as written, key
/// digest halves, the unique-rule digest halves, then the items as typed.
pub(crate) fn encode_row(
    out: &mut Vec<u8>,
    row: &StagedRow,
    record: Option<&str>,
    unique_rules: usize,
    item_types: &[ItemType],
) {
    encode_meta(out, row, record, unique_rules);
    for (i, item_type) in item_types.iter().enumerate() {
        out.push(b'\t');
        push_cell(out, *item_type, row.cells.get(i).and_then(Option::as_ref));
    }
    out.push(b'\n');
}

/// Append a row written straight into a first load's table as `encode_row`
/// would, but with the empty record that marks it so (see `pg_first_load`)
/// and none of its `items` cells: it is staged only to claim its key.
pub(crate) fn encode_claim(out: &mut Vec<u8>, row: &StagedRow, unique_rules: usize, items: usize) {
    encode_meta(out, row, Some(""), unique_rules);
    for _ in 0..items {
        out.push(b'\t');
        push_null(out);
    }
    out.push(b'\n');
}

/// The columns of a staged row before its items.
fn encode_meta(out: &mut Vec<u8>, row: &StagedRow, record: Option<&str>, unique_rules: usize) {
    push_int(out, row.line as i64);
    out.push(b'\t');
    match record {
        Some(record) => push_text(out, record),
        None => push_null(out),
    }
    out.push(b'\t');
    push_int(out, row.status.code());
    out.push(b'\t');
    match &row.key {
        Some(key) => push_text(out, key),
        None => push_null(out),
    }
    let (k1, k2) = crate::batches::halves(row.digests.key);
    out.push(b'\t');
    push_int(out, k1);
    out.push(b'\t');
    push_int(out, k2);
    for u in 0..unique_rules {
        let digest = row
            .digests
            .unique
            .get(u)
            .copied()
            .flatten()
            .map(crate::batches::halves);
        for half in [digest.map(|(a, _)| a), digest.map(|(_, b)| b)] {
            out.push(b'\t');
            match half {
                Some(v) => push_int(out, v),
                None => push_null(out),
            }
        }
    }
}

/// Append one row of a first load as the resource's table stores it (see
/// `pg_first_load`): its row id, the batch, then the items as typed, in the
/// order of `PgShadow::copy_in`'s columns.
pub(crate) fn encode_resource_row(
    out: &mut Vec<u8>,
    row_id: i64,
    batch_row_id: i64,
    row: &StagedRow,
    item_types: &[ItemType],
) {
    push_int(out, row_id);
    out.push(b'\t');
    push_int(out, batch_row_id);
    for (i, item_type) in item_types.iter().enumerate() {
        out.push(b'\t');
        push_cell(out, *item_type, row.cells.get(i).and_then(Option::as_ref));
    }
    out.push(b'\n');
}

/// A cell as `bind_cell` would bind it: integers and booleans as themselves,
/// everything else as its canonical text, which the column's type reads in.
fn push_cell(out: &mut Vec<u8>, item_type: ItemType, cell: Option<&CellValue>) {
    match stored_cell(item_type, cell) {
        StoredCell::Null(_) => push_null(out),
        StoredCell::Integer(i) => push_int(out, i),
        StoredCell::Boolean(b) => out.extend_from_slice(if b { b"t" } else { b"f" }),
        StoredCell::Text(t) => push_text(out, &t),
    }
}

fn push_null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\\N");
}

fn push_int(out: &mut Vec<u8>, v: i64) {
    use std::io::Write;
    // Written straight into the run: writing into a Vec cannot fail.
    let _ = write!(out, "{v}");
}

/// Whether `bytes` may hold a byte `COPY` needs escaped: a backslash, or a
/// control byte up to a carriage return (tab, newline and return among
/// them). Almost no value does; this looks at every byte without stopping
/// early, which the compiler turns into a few wide comparisons, where the
/// escaping loop took a branch per byte (7.5% of a staging process's time).
fn may_need_escapes(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(false, |any, &b| any | (b <= b'\r') | (b == b'\\'))
}

/// Text with `COPY`'s own escapes for the bytes that would end a column or a
/// row, and for the escape character itself.
fn push_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if !may_need_escapes(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repeats::StreamStatus;

    proptest::proptest! {
        /// Any text reads back as itself once `COPY` undoes its escapes,
        /// and integers are written as Rust writes them.
        #[test]
        fn text_is_escaped_exactly_where_copy_needs_it(
            text in "\\PC*|[\\\\\u{0}-\u{1f}a-z张]*",
            v in proptest::prelude::any::<i64>(),
        ) {
            let mut out = Vec::new();
            push_text(&mut out, &text);
            let expected = text
                .replace('\\', "\\\\")
                .replace('\t', "\\t")
                .replace('\n', "\\n")
                .replace('\r', "\\r");
            proptest::prop_assert_eq!(String::from_utf8(out).ok(), Some(expected));
            let mut out = Vec::new();
            push_int(&mut out, v);
            proptest::prop_assert_eq!(out, v.to_string().into_bytes());
        }
    }

    #[test]
    fn separators_and_backslashes_are_escaped_and_missing_values_are_null() {
        let mut out = Vec::new();
        push_text(&mut out, "a\tb\\c\nd\re");
        assert_eq!(out, b"a\\tb\\\\c\\nd\\re");

        let row = StagedRow {
            line: 2,
            status: StreamStatus::Warned,
            key: None,
            digests: Default::default(),
            cells: vec![
                Some(CellValue::Text("成都\t".into())),
                None,
                Some(CellValue::Integer(-7)),
                Some(CellValue::Boolean(true)),
            ],
        };
        let mut out = Vec::new();
        encode_row(
            &mut out,
            &row,
            Some("{\"k\":\"\\\"\"}"),
            1,
            &[
                ItemType::String,
                ItemType::Decimal,
                ItemType::Integer,
                ItemType::Boolean,
            ],
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "2\t{\"k\":\"\\\\\"\"}\t1\t\\N\t0\t0\t\\N\t\\N\t成都\\t\t\\N\t-7\tt\n"
        );
    }
}
