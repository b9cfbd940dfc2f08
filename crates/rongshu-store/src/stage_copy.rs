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

use crate::batches::{StoredCell, stored_cell};
use crate::repeats::StagedRow;

/// Append one staged row: `line`, `record`, status, key as written, key
/// digest halves, the unique-rule digest halves, then the items as typed.
pub(crate) fn encode_row(
    out: &mut Vec<u8>,
    row: &StagedRow,
    record: &str,
    unique_rules: usize,
    item_types: &[ItemType],
) {
    push_int(out, row.line as i64);
    out.push(b'\t');
    push_text(out, record);
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
    out.extend_from_slice(v.to_string().as_bytes());
}

/// Text with `COPY`'s own escapes for the bytes that would end a column or a
/// row, and for the escape character itself.
fn push_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
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
            "{\"k\":\"\\\"\"}",
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
