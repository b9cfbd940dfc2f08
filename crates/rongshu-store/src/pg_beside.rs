//! PostgreSQL: a large first load goes into a table beside the resource's,
//! indexed once it is full, which then takes the resource table's place.
//!
//! Inserted into the resource's table, the staged rows of a large first load
//! went one by one into its two indexes (the row id's and the key's), and
//! were sorted first so that the key index grew at its end: ten million rows
//! took 32 s (a file in key order) to 51 s (shuffled) of one statement.
//! Appended to a table without indexes, they are written once as they come,
//! and each index is then built from all of them by one sort (two million
//! rows with `psql`: 8.3 s against 5.1 s sorted, 9.2 s against 5.5 s
//! shuffled). The row ids, and so the change log the rows keep (see
//! `table_log`), follow the file's lines.
//!
//! The batch makes its table, empty, once its rows are staged and compared
//! (or, written as they are read, as soon as it has more than a first
//! turn's: see `pg_first_load`). The final step's transaction fills and
//! indexes it, then drops the resource's table (empty all along: only this
//! batch loads into it), and the batch's table, its indexes and its row-id
//! sequence take its names. PostgreSQL finds a table by its name as it is
//! now, not as a reader's snapshot saw it, so a reader whose snapshot is
//! older than the swap, and who reads the table after it, could see rows
//! inserted before the swap beside a count that does not have them; the one
//! read that takes both in one snapshot locks the table before its snapshot
//! is taken (see `query_records_counted`). Readers of the resource wait only
//! for the swap itself; those of other resources, and the audit, not at all. A column added to the resource
//! meanwhile (an item added to the catalog) is added to the batch's table
//! first.
//!
//! Used for a first load of more rows than a first turn when the resource's
//! table has exactly the indexes the catalog gives it; otherwise the rows
//! go into it in one statement, as a small load's do. A batch marked failed
//! (its process stopped, or its final step could not commit) has its table
//! dropped with its staged rows (`Store::discard_unpublished`).

use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Row};

use crate::StoreError;
use crate::batches::heartbeat_interval;
use crate::beside::shadow_name;
use crate::db::{quote_ident, ts};
use crate::stage::{ChangedLines, StageSql};

/// Memory for building the batch's indexes, for the final step's
/// transaction only: four times PostgreSQL's default, so that the keys of a
/// few million rows are sorted in memory rather than in runs written to
/// disk and merged.
const INDEX_BUILD_MEMORY: &str = "256MB";

/// The table a batch fills beside its resource's table, by bare names.
#[derive(Debug, Clone)]
pub(crate) struct PgShadow {
    live: String,
    table: String,
}

/// A first load's table beside its resource, for the final step to fill
/// and swap in.
#[derive(Debug, Clone)]
pub(crate) struct PgBeside {
    pub(crate) shadow: PgShadow,
    /// The sequence number of its first row.
    pub(crate) first_seq: i64,
    /// Rows staged to go in: every one an insert.
    pub(crate) rows: i64,
    pub(crate) lines: ChangedLines,
    /// Rows a first load wrote into the table as it read them, numbered
    /// from `first_seq`; `None` when the final step fills it (see
    /// `pg_first_load`).
    pub(crate) written_straight: Option<i64>,
}

/// What stamps a batch's heartbeat while its final step fills its table.
pub(crate) struct Beats {
    pub(crate) pool: AnyPool,
    pub(crate) batch_row_id: i64,
    /// When the batch began, on the caller's clock and on the monotonic one
    /// (heartbeats are stamped on the caller's clock).
    pub(crate) began: (DateTime<Utc>, Instant),
}

/// A column as `pg_attribute` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    declared: String,
    not_null: bool,
}

impl PgShadow {
    pub(crate) fn new(live: &str, batch_row_id: i64) -> Self {
        Self {
            live: live.to_owned(),
            table: shadow_name(live, batch_row_id),
        }
    }

    /// The batch's table, quoted.
    pub(crate) fn table(&self) -> String {
        quote_ident(&self.table)
    }

    fn key_index(table: &str) -> String {
        format!("{table}_key")
    }

    fn primary_key(table: &str) -> String {
        format!("{table}_pkey")
    }

    /// Whether the resource's table has the indexes the catalog gives it
    /// (the row id's primary key and the key's unique index) and no other,
    /// which are the ones the batch's table is given.
    pub(crate) async fn fits(conn: &mut AnyConnection, live: &str) -> Result<bool, StoreError> {
        let indexes = sqlx::query(
            "SELECT CAST(indexname AS TEXT) AS name FROM pg_indexes
             WHERE schemaname = current_schema() AND tablename = $1 ORDER BY indexname",
        )
        .bind(live)
        .fetch_all(&mut *conn)
        .await?;
        let mut names = Vec::with_capacity(indexes.len());
        for index in &indexes {
            names.push(index.try_get::<String, _>("name")?);
        }
        let primary = sqlx::query(
            "SELECT CAST(conname AS TEXT) AS name FROM pg_constraint
             WHERE conrelid = CAST($1 AS regclass) AND contype = 'p'",
        )
        .bind(quote_ident(live))
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<String, _>("name"))
        .transpose()?;
        Ok(names == [Self::key_index(live), Self::primary_key(live)]
            && primary.as_deref() == Some(Self::primary_key(live).as_str()))
    }

    /// Make the batch's table: the resource table's columns with their
    /// defaults and a row-id sequence of its own, no index.
    pub(crate) fn create(&self) -> [String; 2] {
        [
            format!("DROP TABLE IF EXISTS {}", self.table()),
            format!(
                "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING IDENTITY)",
                self.table(),
                quote_ident(&self.live)
            ),
        ]
    }

    /// The `COPY` that writes rows straight into the batch's table: the row
    /// id, the batch, then `items` (quoted).
    pub(crate) fn copy_in(&self, items: &[String]) -> String {
        format!(
            "COPY {} (_row_id, _batch_id, {}) FROM STDIN",
            self.table(),
            items.join(", ")
        )
    }

    /// Build the batch's indexes, named as the resource's are but after the
    /// batch's table, in the final step's transaction `conn`; then gather
    /// the planner's statistics, which the resource's reads will use.
    pub(crate) async fn index(
        &self,
        conn: &mut AnyConnection,
        key_items: &[String],
    ) -> Result<(), StoreError> {
        let table = self.table();
        let statements = [
            format!("SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'"),
            format!(
                "CREATE UNIQUE INDEX {} ON {table} ({})",
                quote_ident(&Self::key_index(&self.table)),
                key_items.join(", ")
            ),
            format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} PRIMARY KEY (_row_id)",
                quote_ident(&Self::primary_key(&self.table))
            ),
            format!("ANALYZE {table}"),
        ];
        for statement in statements {
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// In the final step: the statements that give the batch's table the
    /// columns added to the resource's since it was made, so that the swap
    /// loses none. `None` when the resource's table changed in another way,
    /// which the batch cannot follow.
    pub(crate) async fn catch_up(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let live = columns_of(conn, &self.live).await?;
        let mine = columns_of(conn, &self.table).await?;
        Ok(added_columns(&self.table(), &mine, &live))
    }

    /// In the final step: the resource's empty table is dropped, and the
    /// batch's table, its indexes and its row-id sequence take its names.
    pub(crate) async fn swap(&self, conn: &mut AnyConnection) -> Result<Vec<String>, StoreError> {
        let live_sequence = sequence_of(conn, &self.live).await?;
        let sequence = sequence_of(conn, &self.table).await?;
        let live = quote_ident(&self.live);
        let mut statements = vec![
            format!("DROP TABLE {live}"),
            format!("ALTER TABLE {} RENAME TO {live}", self.table()),
            format!(
                "ALTER INDEX {} RENAME TO {}",
                quote_ident(&Self::key_index(&self.table)),
                quote_ident(&Self::key_index(&self.live))
            ),
            format!(
                "ALTER TABLE {live} RENAME CONSTRAINT {} TO {}",
                quote_ident(&Self::primary_key(&self.table)),
                quote_ident(&Self::primary_key(&self.live))
            ),
        ];
        if let (Some(live_sequence), Some(sequence)) = (live_sequence, sequence) {
            statements.push(format!(
                "ALTER SEQUENCE {} RENAME TO {}",
                quote_ident(&sequence),
                quote_ident(&live_sequence)
            ));
        }
        Ok(statements)
    }
}

/// The bare name of the sequence that numbers `table`'s row ids.
async fn sequence_of(conn: &mut AnyConnection, table: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query(
        "SELECT CAST(c.relname AS TEXT) AS name FROM pg_class AS c
         WHERE c.oid = CAST(pg_get_serial_sequence($1, '_row_id') AS regclass)",
    )
    .bind(quote_ident(table))
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.try_get::<String, _>("name"))
    .transpose()?)
}

async fn columns_of(conn: &mut AnyConnection, table: &str) -> Result<Vec<Column>, StoreError> {
    let rows = sqlx::query(
        "SELECT CAST(attname AS TEXT) AS name,
                format_type(atttypid, atttypmod) AS declared,
                attnotnull AS not_null
         FROM pg_attribute
         WHERE attrelid = CAST($1 AS regclass) AND attnum > 0 AND NOT attisdropped
         ORDER BY attnum",
    )
    .bind(quote_ident(table))
    .fetch_all(&mut *conn)
    .await?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in &rows {
        columns.push(Column {
            name: row.try_get("name")?,
            declared: row.try_get("declared")?,
            not_null: row.try_get("not_null")?,
        });
    }
    Ok(columns)
}

/// The columns `live` has beyond `mine`, added to `table` (quoted) as
/// `live` declares them; `None` unless `mine` is where `live` begins and
/// every added column may be empty (the batch's rows have no value for it).
fn added_columns(table: &str, mine: &[Column], live: &[Column]) -> Option<Vec<String>> {
    let added = live.strip_prefix(mine)?;
    added
        .iter()
        .map(|c| {
            (!c.not_null).then(|| {
                // The type as PostgreSQL itself prints it (`numeric`,
                // `timestamp without time zone`): no value of anyone's.
                format!(
                    "ALTER TABLE {table} ADD COLUMN {} {}",
                    quote_ident(&c.name),
                    c.declared
                )
            })
        })
        .collect()
}

impl StageSql {
    /// Fill a first load's table beside the resource's with the staged
    /// rows, each under its sequence number as its row id, numbered in the
    /// order of their lines: `$1` the batch, `$2` the first sequence number,
    /// and for rows on unbroken `lines` `$3` the first line. Nothing is
    /// sorted when the lines are unbroken: the table has no index yet, and
    /// its rows' order is no one's concern.
    pub(crate) fn fill_logged(&self, table: &str, lines: ChangedLines) -> String {
        let place = match lines {
            ChangedLines::Unbroken { .. } => "s._line - $3".to_owned(),
            ChangedLines::Scattered => "ROW_NUMBER() OVER (ORDER BY s._line) - 1".to_owned(),
        };
        let values: Vec<String> = self.items.iter().map(|c| format!("s.{c}")).collect();
        format!(
            "INSERT INTO {table} (_row_id, _batch_id, {}) SELECT $2 + {place}, $1, {} \
             FROM {} AS s WHERE s._op = 'insert'",
            self.items.join(", "),
            values.join(", "),
            self.stage
        )
    }

    /// A first load written straight into its table (see `pg_first_load`):
    /// the staged rows that were held back from it (suspected repeats that
    /// were not, which alone carry no empty record), numbered after the
    /// rows written: `$1` the batch, `$2` the first sequence number after
    /// them.
    pub(crate) fn fill_held_back(&self, table: &str) -> String {
        let values: Vec<String> = self.items.iter().map(|c| format!("s.{c}")).collect();
        format!(
            "INSERT INTO {table} (_row_id, _batch_id, {}) \
             SELECT $2 + ROW_NUMBER() OVER (ORDER BY s._line) - 1, $1, {} \
             FROM {} AS s WHERE s._op = 'insert' AND s._record IS NULL",
            self.items.join(", "),
            values.join(", "),
            self.stage
        )
    }
}

/// Runs `work` while stamping the batch's heartbeat on another connection
/// as often as loading does: filling and indexing ten million rows takes
/// longer than a batch may go without one before it is taken for dead.
pub(crate) async fn while_beating<T>(
    beats: &Beats,
    work: impl std::future::Future<Output = T>,
) -> T {
    let stamping = async {
        let (began, began_at) = beats.began;
        loop {
            tokio::time::sleep(heartbeat_interval()).await;
            let stamp = began + chrono::Duration::from_std(began_at.elapsed()).unwrap_or_default();
            // A missed beat is tried again on the next; the batch's own
            // work decides whether it fails.
            let _ = sqlx::query("UPDATE batches SET heartbeat_at = $1 WHERE id = $2")
                .bind(ts(stamp))
                .bind(beats.batch_row_id)
                .execute(&beats.pool)
                .await;
        }
    };
    tokio::select! {
        done = work => done,
        never = stamping => never,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, declared: &str, not_null: bool) -> Column {
        Column {
            name: name.to_owned(),
            declared: declared.to_owned(),
            not_null,
        }
    }

    #[test]
    fn columns_added_to_the_resource_are_added_to_the_batchs_table_as_declared() {
        let mine = vec![
            column("_row_id", "bigint", true),
            column("name", "text", false),
        ];
        let mut live = mine.clone();
        live.push(column("salary", "numeric", false));
        live.push(column("seen", "timestamp without time zone", false));
        assert_eq!(
            added_columns("\"t_b1\"", &mine, &live),
            Some(vec![
                "ALTER TABLE \"t_b1\" ADD COLUMN \"salary\" numeric".to_owned(),
                "ALTER TABLE \"t_b1\" ADD COLUMN \"seen\" timestamp without time zone".to_owned(),
            ])
        );
        assert_eq!(added_columns("\"t_b1\"", &mine, &mine), Some(Vec::new()));
    }

    #[test]
    fn any_other_change_of_the_resources_columns_is_not_followed() {
        let mine = vec![
            column("_row_id", "bigint", true),
            column("name", "text", false),
        ];
        let retyped = vec![
            column("_row_id", "bigint", true),
            column("name", "bigint", false),
        ];
        let dropped = vec![column("_row_id", "bigint", true)];
        let mut required = mine.clone();
        required.push(column("code", "text", true));
        for live in [retyped, dropped, required] {
            assert_eq!(added_columns("\"t_b1\"", &mine, &live), None);
        }
    }
}
