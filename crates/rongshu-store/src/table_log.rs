//! The inserts of a first load, logged by the rows it wrote.
//!
//! A first load into an empty resource inserts every row it writes. Logging
//! each insert copied every record into the change log beside the row it
//! describes: the logged record, its key and the log's two index entries
//! were more to write than the row itself (on SQLite, a million rows written
//! as read took 5.3-5.6 s logged and 2.4-2.6 s not). A first load (in place,
//! or beside its resource, see `beside` and `first_load`) therefore gives
//! each row its sequence number as its row id, logs nothing, and is marked
//! `logged_in_table`; it stages no record either. A row of the resource that
//! still carries such a batch is that batch's insert, unchanged since, and
//! the log reads it from there (see `changes`).
//!
//! Before a later batch updates or deletes such a row, it writes the row's
//! entry into the change log as it would have been logged then
//! ([`StageSql::write_out`]): from there on the entry is an ordinary one.
//! Written out by a batch that failed afterwards, the entry equals the
//! row's; reads take the log's and leave the row's out.

use rongshu_core::catalog::ItemType;

use crate::db::Backend;
use crate::stage::{ChangedLines, GONE, StageSql, unquote};

/// Items per call that builds an object: each takes two arguments, and a
/// function has at most 100 on PostgreSQL (127 on older SQLite builds).
const ITEMS_PER_OBJECT: usize = 50;

/// Which rows a batch is about to change, for [`StageSql::write_out`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Targets {
    /// Every staged update and deletion (a batch applied in one step).
    Staged,
    /// The staged updates and deletions on lines `$2` (exclusive) to `$3`
    /// (inclusive): a turn of a batch written beside its resource.
    StagedLines,
    /// Every row a snapshot no longer names.
    Gone,
    /// The rows a snapshot no longer names with row ids from `$2`
    /// (exclusive) to `$3` (inclusive).
    GoneRows,
}

impl StageSql {
    /// A row of the resource's table as the log records it: a JSON object of
    /// its present items, typed as `write_row_json` writes them (numbers for
    /// integers, `true`/`false` for booleans, strings for the rest).
    pub(crate) fn record_json(&self, alias: &str) -> String {
        let postgres = self.backend == Backend::Postgres;
        let values: Vec<String> = self
            .items
            .iter()
            .zip(&self.item_types)
            .map(|(column, item_type)| {
                let value = format!("{alias}.{column}");
                let json = match (item_type, postgres) {
                    (ItemType::Integer | ItemType::String, _) => value,
                    // SQLite stores 0 or 1.
                    (ItemType::Boolean, false) => format!(
                        "json(CASE WHEN {value} IS NULL THEN NULL \
                         WHEN {value} THEN 'true' ELSE 'false' END)"
                    ),
                    (ItemType::Boolean, true) => value,
                    // SQLite stores the canonical text; PostgreSQL's
                    // numbers, dates and times read back as it (ISO dates,
                    // whole seconds), and go as strings, as logged.
                    (_, false) => value,
                    (_, true) => format!("CAST({value} AS TEXT)"),
                };
                format!("'{}', {json}", unquote(column))
            })
            .collect();
        let chunks = values.chunks(ITEMS_PER_OBJECT);
        if postgres {
            let objects: Vec<String> = chunks
                .map(|chunk| {
                    format!(
                        "jsonb_strip_nulls(jsonb_build_object({}))",
                        chunk.join(", ")
                    )
                })
                .collect();
            return format!("CAST(('{{}}'::jsonb || {}) AS TEXT)", objects.join(" || "));
        }
        // A patch's nulls remove its members: what is left is the present
        // items, as a logged record has them.
        chunks.fold("'{}'".to_owned(), |record, chunk| {
            format!("json_patch({record}, json_object({}))", chunk.join(", "))
        })
    }

    /// Insert a first load's staged rows into the resource's table, each
    /// under its sequence number as its row id: `$1` the batch, `$2` the
    /// first sequence number, and for rows on unbroken `lines` `$3` the
    /// first line. The numbering is `log_staged`'s, or with `by_key` the
    /// order of the keys: a large load then adds to the key index at its
    /// end, where in the file's order it wrote index pages all over (ten
    /// million shuffled rows: 77 s of a PostgreSQL final step).
    pub(crate) fn insert_logged(&self, lines: ChangedLines, by_key: bool) -> String {
        let keys: Vec<String> = self.key_items.iter().map(|k| format!("s.{k}")).collect();
        let order = if by_key {
            format!("{}, s._line", keys.join(", "))
        } else {
            "s._line".to_owned()
        };
        let place = match (lines, by_key) {
            (ChangedLines::Unbroken { .. }, false) => "s._line - $3".to_owned(),
            _ => format!("ROW_NUMBER() OVER (ORDER BY {order}) - 1"),
        };
        let values: Vec<String> = self.items.iter().map(|c| format!("s.{c}")).collect();
        format!(
            "INSERT INTO {} (_row_id, _batch_id, {}) SELECT $2 + {place}, $1, {} \
             FROM {} AS s WHERE s._op = 'insert' ORDER BY {order}",
            self.table,
            self.items.join(", "),
            values.join(", "),
            self.stage
        )
    }

    /// PostgreSQL: move the table's row ids on past those given explicitly
    /// (see [`Self::insert_logged`]), so that rows inserted later do not
    /// take one of them. SQLite takes the next id after the largest anyway.
    pub(crate) fn row_ids_past_the_largest(&self) -> Option<String> {
        (self.backend == Backend::Postgres).then(|| {
            let table = self.table.replace('\'', "''");
            format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '_row_id'), MAX(_row_id)) \
                 FROM {}",
                self.table
            )
        })
    }

    /// Write into the change log the entries, still read from the rows, of
    /// the `targets` a batch is about to change: `$1` the resource (and
    /// `$2`, `$3` as the targets say).
    pub(crate) fn write_out(&self, targets: Targets) -> String {
        let stage = &self.stage;
        let rows = match targets {
            Targets::Staged => {
                format!("SELECT _target_row FROM {stage} WHERE _op IN ('update', 'delete')")
            }
            Targets::StagedLines => format!(
                "SELECT _target_row FROM {stage} WHERE _op IN ('update', 'delete') \
                 AND _line > $2 AND _line <= $3"
            ),
            Targets::Gone => format!("SELECT _row_id FROM {GONE}"),
            Targets::GoneRows => {
                format!("SELECT _row_id FROM {GONE} WHERE _row_id > $2 AND _row_id <= $3")
            }
        };
        format!(
            "INSERT INTO change_log (resource_id, seq, batch_id, op, row_key, record) \
             SELECT $1, t._row_id, t._batch_id, 'insert', {}, {} \
             FROM {} AS t JOIN batches AS b ON b.id = t._batch_id AND b.logged_in_table = 1 \
             WHERE t._row_id IN ({rows}) \
               AND NOT EXISTS (SELECT 1 FROM change_log AS c \
                               WHERE c.resource_id = $1 AND c.seq = t._row_id)",
            self.key_json("t"),
            self.record_json("t"),
            self.table
        )
    }

    /// The entries still read from the rows of batch `$3`, with sequence
    /// numbers from `$1` (exclusive) to `$2` (inclusive), at most `$5`, in
    /// order: `seq`, `row_key`, `record`. `$4` the resource: an entry
    /// written out into the log is read from there.
    pub(crate) fn entries_in_table(&self) -> String {
        format!(
            "SELECT t._row_id AS seq, {} AS row_key, {} AS record FROM {} AS t \
             WHERE t._row_id > $1 AND t._row_id <= $2 AND t._batch_id = $3 \
               AND NOT EXISTS (SELECT 1 FROM change_log AS c \
                               WHERE c.resource_id = $4 AND c.seq = t._row_id) \
             ORDER BY t._row_id LIMIT $5",
            self.key_json("t"),
            self.record_json("t"),
            self.table
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batches::write_row_json;
    use proptest::prelude::*;
    use rongshu_core::value::CellValue;
    use rusqlite::Connection;

    /// A resource table with an item of each stored kind.
    fn table(conn: &Connection) {
        conn.execute_batch(
            "CREATE TABLE t (_row_id INTEGER PRIMARY KEY, _batch_id BIGINT NOT NULL, \
             \"s\" TEXT, \"i\" BIGINT, \"d\" TEXT, \"b\" INTEGER)",
        )
        .unwrap();
    }

    fn record_of(
        s: Option<String>,
        i: Option<i64>,
        d: Option<String>,
        b: Option<bool>,
    ) -> (String, String) {
        let conn = Connection::open_in_memory().unwrap();
        table(&conn);
        conn.execute(
            "INSERT INTO t (_batch_id, s, i, d, b) VALUES (1, ?1, ?2, ?3, ?4)",
            rusqlite::params![s, i, d, b],
        )
        .unwrap();
        let sql = StageSql::for_test_items(&[
            ("s", ItemType::String),
            ("i", ItemType::Integer),
            ("d", ItemType::Decimal),
            ("b", ItemType::Boolean),
        ]);
        let from_table: String = conn
            .query_row(
                &format!("SELECT {} FROM t", sql.record_json("t")),
                [],
                |r| r.get(0),
            )
            .unwrap();
        let keys: Vec<String> = ["s", "i", "d", "b"].map(String::from).to_vec();
        let cells = vec![
            s.map(CellValue::Text),
            i.map(CellValue::Integer),
            d.map(CellValue::Decimal),
            b.map(CellValue::Boolean),
        ];
        let mut logged = String::new();
        write_row_json(&mut logged, &keys, &cells);
        (from_table, logged)
    }

    proptest! {
        #[test]
        fn a_row_read_from_its_table_is_the_record_its_load_would_have_logged(
            s in proptest::option::of("\\PC*|[\"\\\\\u{0}-\u{1f}a-z张]*"),
            i in proptest::option::of(any::<i64>()),
            d in proptest::option::of("-?[0-9]{1,12}(\\.[0-9]{1,6})?"),
            b in proptest::option::of(any::<bool>()),
        ) {
            let (from_table, logged) = record_of(s, i, d, b);
            let from_table: serde_json::Value = serde_json::from_str(&from_table).unwrap();
            let logged: serde_json::Value = serde_json::from_str(&logged).unwrap();
            prop_assert_eq!(from_table, logged);
        }
    }

    #[test]
    fn a_wide_resource_is_read_in_objects_of_fifty_items() {
        let items: Vec<(String, ItemType)> = (0..130)
            .map(|n| (format!("item_{n}"), ItemType::Integer))
            .collect();
        let named: Vec<(&str, ItemType)> = items.iter().map(|(k, t)| (k.as_str(), *t)).collect();
        let sql = StageSql::for_test_items(&named);
        let conn = Connection::open_in_memory().unwrap();
        let columns: Vec<String> = items.iter().map(|(k, _)| format!("{k} BIGINT")).collect();
        conn.execute_batch(&format!("CREATE TABLE t ({})", columns.join(", ")))
            .unwrap();
        conn.execute_batch("INSERT INTO t (item_0, item_129) VALUES (7, 9)")
            .unwrap();
        let record: String = conn
            .query_row(
                &format!("SELECT {} FROM t", sql.record_json("t")),
                [],
                |r| r.get(0),
            )
            .unwrap();
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        assert_eq!(record, serde_json::json!({"item_0": 7, "item_129": 9}));
    }
}
