//! The SQL of a staged batch. A batch's rows first go into temporary tables
//! private to the connection that loads it; they are compared with the
//! resource's rows there, and only the final step (apply what differs, log it,
//! mark the batch loaded) takes the write lock. On SQLite, which has one writer,
//! that keeps a long load from holding up every other write (reads' audit
//! events among them) for more than the time it takes to apply the changes.
//!
//! Every name in these statements is a checked catalog key or a name of ours,
//! quoted; every value is bound.

use rongshu_core::catalog::{ItemType, ResourceSpec};

use crate::Resource;
use crate::changes::BatchMode;
use crate::db::{Backend, quote_ident};
use crate::first_load::DIRECT_REPEATS;

/// The staged rows' table on SQLite: temporary, private to the batch's
/// connection. On PostgreSQL it is an unlogged table of the batch's own (see
/// `stage_table`), since `COPY` fills it through a second connection.
const SQLITE_STAGE: &str = "rongshu_stage";
/// The schema a scratch file of staged rows is attached as (SQLite).
pub(crate) const SCRATCH_SCHEMA: &str = "rongshu_scratch";
const SCRATCH_PREFIX: &str = "rongshu_scratch.";
pub(crate) const STAGE_FAILURES: &str = "rongshu_stage_failures";
pub(crate) const GONE: &str = "rongshu_gone";
/// The staged new rows' lines in the order of their keys (see
/// `StageSql::key_order`).
pub(crate) const KEY_ORDER: &str = "rongshu_key_order";
/// Values that occur on more than one staged row (see `repeats`).
pub(crate) const REPEATS: &str = "rongshu_repeats";
/// Keys that may occur on more than one staged row (see `seen_keys`).
pub(crate) const SUSPECTS: &str = "rongshu_suspects";

/// How an applied statement moves the resource's row count: by the rows it
/// affected, counted by the database itself, so the kept count is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowEffect {
    Adds,
    Removes,
    Keeps,
}

impl RowEffect {
    pub(crate) fn delta(self, rows_affected: u64) -> i64 {
        let n = i64::try_from(rows_affected).unwrap_or(i64::MAX);
        match self {
            RowEffect::Adds => n,
            RowEffect::Removes => -n,
            RowEffect::Keeps => 0,
        }
    }
}

/// How the lines of a batch's changed rows lie (see `StageSql::log_staged`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangedLines {
    /// Every line from `first` to the last changed one is a changed row.
    Unbroken {
        first: i64,
    },
    Scattered,
}

impl ChangedLines {
    /// From the number of changed rows and their first and last line.
    pub(crate) fn of(changed: i64, first: Option<i64>, last: Option<i64>) -> Self {
        match (first, last) {
            (Some(first), Some(last)) if changed > 0 && last - first + 1 == changed => {
                ChangedLines::Unbroken { first }
            }
            _ => ChangedLines::Scattered,
        }
    }
}

/// Which kinds of change a batch's final step has to write, from the counts
/// the comparison gave.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Todo {
    pub(crate) updates: bool,
    pub(crate) inserts: bool,
    /// Staged deletions (delete mode).
    pub(crate) deletes: bool,
    /// Rows a snapshot no longer names.
    pub(crate) gone: bool,
}

/// The statements of one batch, built once from the resource's declaration.
pub(crate) struct StageSql {
    pub(crate) backend: Backend,
    /// The staged rows' table (see `stage_table`).
    pub(crate) stage: String,
    pub(crate) table: String,
    pub(crate) items: Vec<String>,
    non_key_items: Vec<String>,
    pub(crate) key_items: Vec<String>,
    column_types: Vec<&'static str>,
    pub(crate) item_types: Vec<ItemType>,
    /// What a staged row does when the resource has no row with its key.
    unmatched: &'static str,
    /// Uniqueness rules whose digests each staged row carries (see `repeats`).
    pub(crate) unique_rules: usize,
    /// SQLite: the staged rows are in a scratch file attached as
    /// [`SCRATCH_SCHEMA`] (see `stage_scratch`), not in a temporary table.
    pub(crate) scratch: bool,
}

/// Bound values per statement, under both databases' limits (SQLite 32766,
/// PostgreSQL 65535).
const MAX_PARAMETERS: usize = 30_000;

impl StageSql {
    pub(crate) fn new(
        backend: Backend,
        resource: &Resource,
        mode: BatchMode,
        unique_rules: usize,
        batch_row_id: i64,
    ) -> Self {
        let spec: &ResourceSpec = &resource.spec;
        let quoted = |k: &str| quote_ident(k);
        Self {
            backend,
            stage: stage_table(backend, batch_row_id),
            table: quote_ident(&resource.table_name),
            items: spec.items.iter().map(|i| quoted(i.key.as_str())).collect(),
            non_key_items: spec
                .items
                .iter()
                .filter(|i| !spec.key_items.contains(&i.key))
                .map(|i| quoted(i.key.as_str()))
                .collect(),
            key_items: spec.key_items.iter().map(|k| quoted(k.as_str())).collect(),
            column_types: spec
                .items
                .iter()
                .map(|i| backend.column_type(i.item_type))
                .collect(),
            item_types: spec.items.iter().map(|i| i.item_type).collect(),
            unmatched: match mode {
                BatchMode::Delete => "absent",
                BatchMode::Upsert | BatchMode::Replace => "insert",
            },
            unique_rules,
            scratch: false,
        }
    }

    /// The statements of a resource with these items (key: the first), for
    /// tests of the SQL alone.
    #[cfg(test)]
    pub(crate) fn for_test_items(items: &[(&str, ItemType)]) -> Self {
        let backend = Backend::Sqlite;
        let quoted: Vec<String> = items.iter().map(|(k, _)| quote_ident(k)).collect();
        Self {
            backend,
            stage: stage_table(backend, 1),
            table: quote_ident("res_1"),
            items: quoted.clone(),
            non_key_items: quoted.iter().skip(1).cloned().collect(),
            key_items: quoted.iter().take(1).cloned().collect(),
            column_types: items.iter().map(|(_, t)| backend.column_type(*t)).collect(),
            item_types: items.iter().map(|(_, t)| *t).collect(),
            unmatched: "insert",
            unique_rules: 0,
            scratch: false,
        }
    }

    /// The staged columns other than the items, in the order `insert_rows`
    /// binds them: the file line, the record, what the streaming checks made
    /// of the row (`_status`, see `repeats::Status`), its key as written and
    /// its digests (two halves each).
    fn meta_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = ["_line", "_record", "_status", "_key", "_k1", "_k2"]
            .iter()
            .map(|c| (*c).to_owned())
            .collect();
        for u in 0..self.unique_rules {
            columns.push(format!("_u{u}a"));
            columns.push(format!("_u{u}b"));
        }
        columns
    }

    /// Tables for the rows, the failed checks and (for a snapshot) the rows
    /// it no longer names. Dropped first in case a connection that loaded an
    /// earlier batch kept them. With the rows in a scratch file, their table
    /// is made there (`rows_table`), by the connection that fills it.
    pub(crate) fn create(&self) -> Vec<String> {
        let integer = self.integer();
        let mut statements = self.drop();
        if !self.scratch {
            statements.push(self.rows_table());
        }
        statements.push(format!(
            "CREATE TEMP TABLE {STAGE_FAILURES} (n {integer} NOT NULL, row_number {integer} NOT NULL, \
             row_key TEXT, item TEXT, value TEXT, rule TEXT NOT NULL, severity TEXT NOT NULL, \
             reason TEXT NOT NULL)"
        ));
        statements.push(format!(
            "CREATE TEMP TABLE {GONE} (_row_id {integer} PRIMARY KEY)"
        ));
        statements
    }

    /// The backend's 64-bit integer column type.
    pub(crate) fn integer(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "INTEGER",
            Backend::Postgres => "BIGINT",
        }
    }

    /// The staged rows' table.
    pub(crate) fn rows_table(&self) -> String {
        let stage = &self.stage;
        let integer = self.integer();
        let (line, table) = match (self.backend, self.scratch) {
            // The line as the rowid: rows arrive in line order, so the final
            // step reads them in that order without sorting them first.
            (Backend::Sqlite, false) => ("_line INTEGER PRIMARY KEY", "TEMP TABLE"),
            // The scratch file holds nothing else.
            (Backend::Sqlite, true) => ("_line INTEGER PRIMARY KEY", "TABLE"),
            // Unlogged: the rows are scratch, and nothing is gained by writing
            // them to the write-ahead log as well.
            (Backend::Postgres, _) => ("_line BIGINT NOT NULL", "UNLOGGED TABLE"),
        };
        let columns: Vec<String> = self
            .items
            .iter()
            .zip(&self.column_types)
            .map(|(c, t)| format!("{c} {t}"))
            .collect();
        let mut repeat_columns = vec![
            format!("_status {integer} NOT NULL DEFAULT 0"),
            format!("_prior {integer}"),
            "_key TEXT".to_owned(),
            format!("_k1 {integer}"),
            format!("_k2 {integer}"),
        ];
        for u in 0..self.unique_rules {
            repeat_columns.push(format!("_u{u}a {integer}"));
            repeat_columns.push(format!("_u{u}b {integer}"));
            repeat_columns.push(format!("_d{u} {integer} NOT NULL DEFAULT 0"));
        }
        format!(
            // A row starts as what it does when its key is new, so comparing
            // touches only the rows whose key the resource has: a first load
            // rewrites no staged row (on PostgreSQL each update is a new row
            // version). `_record` is the row as the change log records it,
            // left empty by a first load, whose rows log themselves (see
            // `table_log`).
            "CREATE {table} {stage} ({line}, _op TEXT NOT NULL DEFAULT '{}', \
             _target_row {integer}, _record TEXT, {}, {})",
            self.unmatched,
            repeat_columns.join(", "),
            columns.join(", ")
        )
    }

    /// Drop every table of the batch, the staged rows' among them.
    pub(crate) fn drop(&self) -> Vec<String> {
        let mut statements = vec![format!("DROP TABLE IF EXISTS {}", self.stage)];
        statements.extend(self.drop_side_tables());
        statements
    }

    /// Drop the tables beside the staged rows' (which, in a scratch file, go
    /// with the file).
    pub(crate) fn drop_side_tables(&self) -> Vec<String> {
        [
            STAGE_FAILURES,
            GONE,
            REPEATS,
            SUSPECTS,
            DIRECT_REPEATS,
            KEY_ORDER,
        ]
        .iter()
        .map(|t| format!("DROP TABLE IF EXISTS {t}"))
        .collect()
    }

    /// The `COPY` that stages rows on PostgreSQL, its columns in the order
    /// `copy::encode_row` writes them (the order `insert_rows` binds them).
    pub(crate) fn copy_rows(&self) -> String {
        format!(
            "COPY {} ({}, {}) FROM STDIN",
            self.stage,
            self.meta_columns().join(", "),
            self.items.join(", ")
        )
    }

    /// Cheap statistics for the staged rows once they are all in, so the
    /// planner joins them with the resource sensibly (PostgreSQL only).
    pub(crate) fn analyze(&self) -> Option<String> {
        match self.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(format!("ANALYZE {}", self.stage)),
        }
    }

    /// Rows staged by one statement.
    pub(crate) fn rows_per_statement(&self) -> usize {
        (MAX_PARAMETERS / self.parameters_per_row()).clamp(1, 1_000)
    }

    fn parameters_per_row(&self) -> usize {
        self.items.len() + self.meta_columns().len()
    }

    /// Stage `rows` rows with bound values: for each, its order, its record
    /// as JSON text (what the change log will carry), then its items.
    /// Plain parameters rather than one JSON document: the database then
    /// parses nothing, which is where staging spent most of its time. On
    /// SQLite the parameters are anonymous `?`: the driver looks each numbered
    /// one up by name, and that lookup is linear in the statement's
    /// parameters, which made a thousand-row statement quadratic.
    pub(crate) fn insert_rows(&self, rows: usize) -> String {
        let stage = &self.stage;
        let per_row = self.parameters_per_row();
        let meta = self.meta_columns();
        let mut sql = format!(
            "INSERT INTO {stage} ({}, {}) VALUES ",
            meta.join(", "),
            self.items.join(", ")
        );
        for r in 0..rows {
            if r > 0 {
                sql.push(',');
            }
            let base = r * per_row;
            sql.push('(');
            match self.backend {
                Backend::Sqlite => {
                    let marks = vec!["?"; per_row];
                    sql.push_str(&marks.join(", "));
                }
                Backend::Postgres => {
                    let mut marks: Vec<String> = (0..meta.len())
                        .map(|m| format!("${}", base + 1 + m))
                        .collect();
                    for (i, t) in self.item_types.iter().enumerate() {
                        marks.push(self.backend.placeholder(*t, base + 1 + meta.len() + i));
                    }
                    sql.push_str(&marks.join(", "));
                }
            }
            sql.push(')');
        }
        sql
    }

    pub(crate) fn item_types(&self) -> &[ItemType] {
        &self.item_types
    }

    /// Stage failed checks: `$1` a JSON array of failure objects.
    pub(crate) fn insert_failures(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!(
                "INSERT INTO {STAGE_FAILURES} (n, row_number, row_key, item, value, rule, severity, reason)
                 SELECT json_extract(value, '$.n'), json_extract(value, '$.row_number'),
                        json_extract(value, '$.row_key'), json_extract(value, '$.item'),
                        json_extract(value, '$.value'), json_extract(value, '$.rule'),
                        json_extract(value, '$.severity'), json_extract(value, '$.reason')
                 FROM json_each($1)"
            ),
            Backend::Postgres => format!(
                "INSERT INTO {STAGE_FAILURES} (n, row_number, row_key, item, value, rule, severity, reason)
                 SELECT f.n, f.row_number, f.row_key, f.item, f.value, f.rule, f.severity, f.reason
                 FROM json_to_recordset(CAST($1 AS json)) AS f(n BIGINT, row_number BIGINT, row_key TEXT,
                      item TEXT, value TEXT, rule TEXT, severity TEXT, reason TEXT)"
            ),
        }
    }

    /// Compare the staged rows with the resource's: each staged row learns the
    /// row it would replace and what it does to it. Reads the resource only.
    pub(crate) fn diff(&self, mode: BatchMode) -> Vec<String> {
        let stage = &self.stage;
        let matched = match mode {
            BatchMode::Delete => "'delete'".to_owned(),
            BatchMode::Upsert | BatchMode::Replace if self.non_key_items.is_empty() => {
                "'same'".to_owned()
            }
            BatchMode::Upsert | BatchMode::Replace => {
                let differs: Vec<String> = self
                    .non_key_items
                    .iter()
                    .map(|c| format!("t.{c} IS DISTINCT FROM s.{c}"))
                    .collect();
                format!(
                    "CASE WHEN {} THEN 'update' ELSE 'same' END",
                    differs.join(" OR ")
                )
            }
        };
        let join: Vec<String> = self
            .key_items
            .iter()
            .map(|c| format!("t.{c} = s.{c}"))
            .collect();
        let mut statements = vec![format!(
            "UPDATE {stage} AS s SET _target_row = t._row_id, _op = {matched} \
             FROM {} AS t WHERE {}",
            self.table,
            join.join(" AND ")
        )];
        if mode == BatchMode::Replace {
            statements.push(format!(
                // SQLite makes an index whose name says no schema in `main`;
                // the staged rows of a scratch file are not there.
                "CREATE INDEX {}{stage}_target ON {stage} (_target_row)",
                if self.scratch { SCRATCH_PREFIX } else { "" }
            ));
            statements.push(format!(
                "INSERT INTO {GONE} (_row_id) SELECT t._row_id FROM {} AS t \
                 WHERE NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE s._target_row = t._row_id)",
                self.table
            ));
        }
        statements
    }

    /// A row of the resource, if it has any.
    pub(crate) fn any_row(&self) -> String {
        format!("SELECT 1 AS one FROM {} LIMIT 1", self.table)
    }

    /// How many staged rows do what (`_op`, count), and the first and last
    /// line of each (`lo`, `hi`).
    pub(crate) fn op_counts(&self) -> String {
        let stage = &self.stage;
        format!(
            "SELECT _op, COUNT(*) AS n, MIN(_line) AS lo, MAX(_line) AS hi FROM {stage} GROUP BY _op"
        )
    }

    /// The first and last line staged (`lo`, `hi`).
    pub(crate) fn line_span(&self) -> String {
        let stage = &self.stage;
        match self.backend {
            // Two subqueries: SQLite reads a rowid's minimum or maximum from
            // the end of the table, but only for a query asking for just one.
            Backend::Sqlite => format!(
                "SELECT (SELECT MIN(_line) FROM {stage}) AS lo, (SELECT MAX(_line) FROM {stage}) AS hi"
            ),
            // The staged rows have no index: one pass finds both, where two
            // subqueries read them twice (two million rows: 0.12 s, not 0.22-0.25).
            Backend::Postgres => {
                format!("SELECT MIN(_line) AS lo, MAX(_line) AS hi FROM {stage}")
            }
        }
    }

    pub(crate) fn gone_count(&self) -> String {
        format!("SELECT COUNT(*) AS n FROM {GONE}")
    }

    /// The key of a row as a JSON object, from the columns of `alias`.
    pub(crate) fn key_json(&self, alias: &str) -> String {
        let pairs: Vec<String> = self
            .key_items
            .iter()
            .map(|c| format!("'{}', {alias}.{c}", unquote(c)))
            .collect();
        match self.backend {
            Backend::Sqlite => format!("json_object({})", pairs.join(", ")),
            Backend::Postgres => format!("CAST(json_build_object({}) AS TEXT)", pairs.join(", ")),
        }
    }

    /// Log the staged rows' changes in the order they arrived: `$1` resource,
    /// `$2` batch, `$3` the first sequence number.
    ///
    /// `lines` is how the changed rows lie in the file. When they are one
    /// unbroken run of lines from `$4` (a first load or a full update of a
    /// clean file), a row's place in the log is its line's distance from
    /// the first; otherwise it is counted by a window over the rows, which
    /// SQLite does by copying every changed row, record and all, into a
    /// scratch table first: a second of the write lock per million rows.
    pub(crate) fn log_staged(&self, lines: ChangedLines) -> String {
        let place = match lines {
            ChangedLines::Unbroken { .. } => "s._line - $4",
            ChangedLines::Scattered => "ROW_NUMBER() OVER (ORDER BY s._line) - 1",
        };
        self.log_staged_where(place, "")
    }

    /// Log the staged rows' changes on lines `$4` (exclusive) to `$5`
    /// (inclusive), one turn of a batch written beside its resource (see
    /// `beside`): `$1` resource, `$2` batch, `$3` the first sequence number
    /// of the whole run (`Unbroken`, its first line then `$6`) or of these
    /// lines (`Scattered`).
    pub(crate) fn log_staged_lines(&self, lines: ChangedLines) -> String {
        let place = match lines {
            ChangedLines::Unbroken { .. } => "s._line - $6",
            ChangedLines::Scattered => "ROW_NUMBER() OVER (ORDER BY s._line) - 1",
        };
        self.log_staged_where(place, " AND s._line > $4 AND s._line <= $5")
    }

    fn log_staged_where(&self, place: &str, lines: &str) -> String {
        let stage = &self.stage;
        format!(
            "INSERT INTO change_log (resource_id, seq, batch_id, op, row_key, record) \
             SELECT $1, $3 + {place}, $2, s._op, {}, \
                    CASE WHEN s._op = 'delete' THEN NULL ELSE s._record END \
             FROM {stage} AS s WHERE s._op IN ('insert', 'update', 'delete'){lines}",
            self.key_json("s")
        )
    }

    /// Insert `rows` new rows into `table` (quoted), a batch's table beside
    /// the resource's (see `first_load`): for each, its row id (its
    /// sequence number, see `table_log`), the batch, then its items in
    /// order, as anonymous parameters.
    pub(crate) fn insert_rows_into(&self, table: &str, rows: usize) -> String {
        let row = format!("({})", vec!["?"; self.items.len() + 2].join(", "));
        format!(
            "INSERT INTO {table} (_row_id, _batch_id, {}) VALUES {}",
            self.items.join(", "),
            vec![row; rows].join(", ")
        )
    }

    /// Whether `table` (quoted) has a row with the key items `?1`, `?2`, ...
    pub(crate) fn key_lookup_in(&self, table: &str) -> String {
        let matches: Vec<String> = self
            .key_items
            .iter()
            .enumerate()
            .map(|(n, c)| format!("{c} = ?{}", n + 1))
            .collect();
        format!("SELECT 1 FROM {table} WHERE {}", matches.join(" AND "))
    }

    /// SQLite: the staged new rows sorted by key into [`KEY_ORDER`] beside
    /// them, numbered by its rowids. A first load written beside its
    /// resource in that order adds each row to the end of the key index; in
    /// the file's order, when that is not the keys', each turn rewrote
    /// index pages all over it, and the log took each rewrite in full (a
    /// million shuffled rows, logged then too: 24 s written by line). The
    /// rows are copied, not only their lines listed: read by
    /// line in the keys' order, the staged rows came from all over the
    /// scratch file.
    pub(crate) fn key_order(&self) -> [String; 2] {
        let stage = &self.stage;
        let schema = if self.scratch { SCRATCH_SCHEMA } else { "temp" };
        let keys: Vec<String> = self.key_items.iter().map(|k| format!("s.{k}")).collect();
        let values: Vec<String> = self.items.iter().map(|c| format!("s.{c} AS {c}")).collect();
        [
            format!("DROP TABLE IF EXISTS {schema}.{KEY_ORDER}"),
            format!(
                "CREATE TABLE {schema}.{KEY_ORDER} AS SELECT {} \
                 FROM {stage} AS s WHERE s._op = 'insert' ORDER BY {}, s._line",
                values.join(", "),
                keys.join(", ")
            ),
        ]
    }

    /// Copy the rows numbered `$2` (exclusive) to `$3` (inclusive) in
    /// [`KEY_ORDER`] into `table` (quoted), in that order, each with its
    /// sequence number as its row id (see `table_log`): `$1` the batch,
    /// `$4` the first sequence number of the whole load.
    pub(crate) fn insert_in_key_order_into(&self, table: &str) -> String {
        let values: Vec<String> = self.items.iter().map(|c| format!("o.{c}")).collect();
        format!(
            "INSERT INTO {table} (_row_id, _batch_id, {}) SELECT $4 + o.rowid - 1, $1, {} \
             FROM {KEY_ORDER} AS o WHERE o.rowid > $2 AND o.rowid <= $3 ORDER BY o.rowid",
            self.items.join(", "),
            values.join(", ")
        )
    }

    /// Copy the staged new rows on lines `$2` (exclusive) to `$3` (inclusive)
    /// into `table` (quoted), a batch's table beside the resource's (see
    /// `beside`): `$1` the batch.
    pub(crate) fn insert_lines_into(&self, table: &str) -> String {
        let stage = &self.stage;
        let columns = self.items.join(", ");
        let values: Vec<String> = self.items.iter().map(|c| format!("s.{c}")).collect();
        format!(
            "INSERT INTO {table} (_batch_id, {columns}) SELECT $1, {} FROM {stage} AS s \
             WHERE s._op = 'insert' AND s._line > $2 AND s._line <= $3 ORDER BY s._line",
            values.join(", ")
        )
    }

    /// The resource's rows with `_row_id` from `$1` (exclusive) to `$2`
    /// (inclusive), as they are, into `table` (quoted), a copy of the
    /// resource's table beside it (see `beside`).
    pub(crate) fn copy_rows_into(&self, table: &str) -> String {
        format!(
            "INSERT INTO {table} SELECT * FROM {} WHERE _row_id > $1 AND _row_id <= $2",
            self.table
        )
    }

    /// The last `_row_id` of the resource's rows (`hi`).
    pub(crate) fn last_row_id(&self) -> String {
        format!("SELECT MAX(_row_id) AS hi FROM {}", self.table)
    }

    /// The last `_row_id` of the rows a snapshot no longer names (`hi`).
    pub(crate) fn last_gone_row_id(&self) -> String {
        format!("SELECT MAX(_row_id) AS hi FROM {GONE}")
    }

    /// The staged updates on lines `$2` (exclusive) to `$3` (inclusive),
    /// applied to `table` (quoted), a copy of the resource's table: `$1` the
    /// batch. `None` when every item is a key item (nothing to update).
    pub(crate) fn update_lines_in(&self, table: &str) -> Option<String> {
        if self.non_key_items.is_empty() {
            return None;
        }
        let stage = &self.stage;
        let sets: Vec<String> = self
            .non_key_items
            .iter()
            .map(|c| format!("{c} = s.{c}"))
            .collect();
        Some(format!(
            "UPDATE {table} AS t SET _batch_id = $1, {} FROM {stage} AS s \
             WHERE t._row_id = s._target_row AND s._op = 'update' \
               AND s._line > $2 AND s._line <= $3",
            sets.join(", ")
        ))
    }

    /// The staged deletions on lines `$1` (exclusive) to `$2` (inclusive),
    /// applied to `table` (quoted), a copy of the resource's table.
    pub(crate) fn delete_lines_in(&self, table: &str) -> String {
        let stage = &self.stage;
        format!(
            "DELETE FROM {table} WHERE _row_id IN \
             (SELECT _target_row FROM {stage} WHERE _op = 'delete' AND _line > $1 AND _line <= $2)"
        )
    }

    /// The rows a snapshot no longer names with `_row_id` from `$1`
    /// (exclusive) to `$2` (inclusive), deleted from `table` (quoted), a
    /// copy of the resource's table.
    pub(crate) fn delete_gone_in(&self, table: &str) -> String {
        format!(
            "DELETE FROM {table} WHERE _row_id IN \
             (SELECT _row_id FROM {GONE} WHERE _row_id > $1 AND _row_id <= $2)"
        )
    }

    /// As [`Self::log_gone`], for the rows with `_row_id` from `$4`
    /// (exclusive) to `$5` (inclusive): `$3` the first of their sequence
    /// numbers.
    pub(crate) fn log_gone_rows(&self) -> String {
        format!(
            "INSERT INTO change_log (resource_id, seq, batch_id, op, row_key, record) \
             SELECT $1, $3 - 1 + ROW_NUMBER() OVER (ORDER BY t._row_id), $2, 'delete', {}, NULL \
             FROM {} AS t JOIN {GONE} AS g ON g._row_id = t._row_id \
             WHERE g._row_id > $4 AND g._row_id <= $5",
            self.key_json("t"),
            self.table
        )
    }

    /// Log the deletions of rows a snapshot no longer names, after the staged
    /// changes, in the order the rows were first stored.
    pub(crate) fn log_gone(&self) -> String {
        format!(
            "INSERT INTO change_log (resource_id, seq, batch_id, op, row_key, record) \
             SELECT $1, $3 - 1 + ROW_NUMBER() OVER (ORDER BY t._row_id), $2, 'delete', {}, NULL \
             FROM {} AS t JOIN {GONE} AS g ON g._row_id = t._row_id",
            self.key_json("t"),
            self.table
        )
    }

    /// Write the changes into the resource's table: `$1` the batch. Each
    /// statement says how the rows it touches move the resource's row count.
    /// A statement with nothing to do is left out: each one reads every
    /// staged row, and this runs under the write lock.
    pub(crate) fn apply(&self, mode: BatchMode, todo: Todo) -> Vec<(String, RowEffect)> {
        let stage = &self.stage;
        let mut statements = Vec::new();
        match mode {
            BatchMode::Upsert | BatchMode::Replace => {
                if !self.non_key_items.is_empty() && todo.updates {
                    let sets: Vec<String> = self
                        .non_key_items
                        .iter()
                        .map(|c| format!("{c} = s.{c}"))
                        .collect();
                    statements.push((
                        format!(
                            "UPDATE {} AS t SET _batch_id = $1, {} FROM {stage} AS s \
                             WHERE t._row_id = s._target_row AND s._op = 'update'",
                            self.table,
                            sets.join(", ")
                        ),
                        RowEffect::Keeps,
                    ));
                }
                if mode == BatchMode::Replace && todo.gone {
                    statements.push((
                        format!(
                            "DELETE FROM {} WHERE _row_id IN (SELECT _row_id FROM {GONE})",
                            self.table
                        ),
                        RowEffect::Removes,
                    ));
                }
                if todo.inserts {
                    let columns = self.items.join(", ");
                    let values: Vec<String> = self.items.iter().map(|c| format!("s.{c}")).collect();
                    statements.push((
                        format!(
                            "INSERT INTO {} (_batch_id, {columns}) SELECT $1, {} FROM {stage} AS s \
                             WHERE s._op = 'insert' ORDER BY s._line",
                            self.table,
                            values.join(", ")
                        ),
                        RowEffect::Adds,
                    ));
                }
            }
            BatchMode::Delete if todo.deletes => statements.push((
                format!(
                    "DELETE FROM {} WHERE _row_id IN \
                     (SELECT _target_row FROM {stage} WHERE _op = 'delete')",
                    self.table
                ),
                RowEffect::Removes,
            )),
            BatchMode::Delete => {}
        }
        statements
    }

    /// Keep the staged failed checks with the batch: `$1` the batch. They are
    /// numbered again in the order of their rows, since the repeats found
    /// after staging were added last.
    pub(crate) fn copy_failures(&self) -> String {
        format!(
            "INSERT INTO batch_failures (batch_id, n, row_number, row_key, item, value, rule, severity, reason) \
             SELECT $1, ROW_NUMBER() OVER (ORDER BY row_number, n), row_number, row_key, item, value, rule, severity, reason \
             FROM {STAGE_FAILURES}"
        )
    }
}

/// A quoted catalog key back to its bare form (keys never contain quotes).
pub(crate) fn unquote(quoted: &str) -> &str {
    quoted.trim_matches('"')
}

/// The staged rows' table of a batch. PostgreSQL stages through `COPY` on a
/// connection of its own, which cannot see the batch connection's temporary
/// tables; the table is named for the batch so batches never share one.
pub(crate) fn stage_table(backend: Backend, batch_row_id: i64) -> String {
    match backend {
        Backend::Sqlite => SQLITE_STAGE.to_owned(),
        Backend::Postgres => format!("rongshu_stage_{batch_row_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::ChangedLines;

    #[test]
    fn only_an_unbroken_run_of_changed_lines_is_numbered_by_line() {
        assert_eq!(
            ChangedLines::of(3, Some(2), Some(4)),
            ChangedLines::Unbroken { first: 2 }
        );
        assert_eq!(
            ChangedLines::of(1, Some(7), Some(7)),
            ChangedLines::Unbroken { first: 7 }
        );
        // A line between the first and the last did not change, or a record
        // spanned two lines.
        assert_eq!(
            ChangedLines::of(2, Some(2), Some(4)),
            ChangedLines::Scattered
        );
        assert_eq!(ChangedLines::of(0, None, None), ChangedLines::Scattered);
        assert_eq!(ChangedLines::of(2, None, Some(3)), ChangedLines::Scattered);
    }
}
