//! A large first load into an empty resource on SQLite, written in turns.
//!
//! SQLite has one writer. Applied in one transaction, a first load of ten
//! million rows held the write lock for about a minute: every audited read
//! waited that long for its event to be written, or failed once the wait
//! passed the busy timeout. A first load instead fills a table of its own
//! beside the resource's, and the change log with it, in short transactions
//! (`Pace`) with a pause between them for other writers. Readers see none of
//! it: the table is not the resource's, and the change log is read only up to
//! the resource's committed `change_seq`. The final step then drops the
//! resource's empty table, gives the new one its name and moves `change_seq`
//! on: one short write whatever the load's size.
//!
//! A load that stops half way leaves its table and its change-log rows beyond
//! `change_seq`; [`Store::discard_unpublished`] removes them once its batch is
//! no longer loading.

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::db::{Backend, quote_ident};
use crate::{Store, StoreError};

/// Rows of a first load's first turn, unless the store says otherwise.
pub(crate) const DEFAULT_TURN_ROWS: i64 = 20_000;

/// How long a turn aims to hold the write lock. An audited read that arrives
/// meanwhile waits about this long for its event to be written.
const TURN: Duration = Duration::from_millis(50);

/// The pause after a turn is a fifth of the turn's own time, within these
/// bounds. The audit writer takes the lock within a millisecond of its
/// release (see `direct::open_writer`); a pool connection waits under
/// SQLite's own busy handler, which tries again only every 25 to 100 ms
/// after a while, so the pause must be long enough to be found by one of
/// its tries without being searched for every turn.
const LEAST_PAUSE: Duration = Duration::from_millis(2);
const MOST_PAUSE: Duration = Duration::from_millis(20);

/// Change-log rows a discard removes per statement.
const DISCARD_STEP: i64 = 50_000;

/// How many rows each turn writes: aimed at [`TURN`] from the last turn's
/// time, within 1/16 and 16 times the first turn's rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    rows: i64,
    least: i64,
    most: i64,
}

impl Pace {
    pub(crate) fn new(first_turn_rows: i64) -> Self {
        let rows = first_turn_rows.max(1);
        Self {
            rows,
            least: (rows / 16).max(1),
            most: rows.saturating_mul(16),
        }
    }

    /// Rows (file lines, at most that many rows) for the next turn.
    pub(crate) fn rows(&self) -> i64 {
        self.rows
    }

    /// After a turn that held the lock for `took`: set the next turn's rows
    /// and return how long to leave the lock to others first. The next size
    /// is halfway between the last and the one aimed at, so that one slow
    /// turn (a checkpoint copying meanwhile) does not swing it.
    pub(crate) fn after(&mut self, took: Duration) -> Duration {
        let seconds = took.as_secs_f64().max(1e-4);
        let aimed = (self.rows as f64 * TURN.as_secs_f64() / seconds) as i64;
        self.rows = ((self.rows + aimed) / 2).clamp(self.least, self.most);
        (took / 5).clamp(LEAST_PAUSE, MOST_PAUSE)
    }
}

/// The table a first load fills beside the resource's `live` table.
#[derive(Debug, Clone)]
pub(crate) struct Shadow {
    /// The resource's table, quoted.
    live: String,
    /// The first load's table, quoted.
    pub(crate) table: String,
    /// Its table and indexes: the resource table's own DDL, renamed.
    create: Vec<String>,
}

/// The name of batch `batch_row_id`'s first-load table beside `live`.
pub(crate) fn shadow_name(live: &str, batch_row_id: i64) -> String {
    format!("{}{batch_row_id}", shadow_prefix(live))
}

fn shadow_prefix(live: &str) -> String {
    format!("{live}_b")
}

impl Shadow {
    /// Plan the table for batch `batch_row_id` beside the resource's table
    /// `live` (its bare name), from the resource table's schema as SQLite
    /// keeps it (columns added since its creation included). `None` when that
    /// schema holds something this does not know how to copy (a trigger, an
    /// index written another way): the load then goes in one transaction.
    pub(crate) async fn plan(
        conn: &mut AnyConnection,
        live: &str,
        batch_row_id: i64,
    ) -> Result<Option<Self>, StoreError> {
        let rows = sqlx::query(
            "SELECT type, sql FROM sqlite_schema WHERE tbl_name = $1 AND sql IS NOT NULL
             ORDER BY type = 'table' DESC, name",
        )
        .bind(live)
        .fetch_all(&mut *conn)
        .await?;
        let mut schema = Vec::with_capacity(rows.len());
        for row in &rows {
            schema.push((row.try_get::<String, _>("type")?, row.try_get("sql")?));
        }
        Ok(Self::from_schema(live, batch_row_id, &schema))
    }

    /// The plan from the `(type, sql)` rows of the live table's schema, the
    /// table's first.
    pub(crate) fn from_schema(
        live: &str,
        batch_row_id: i64,
        schema: &[(String, String)],
    ) -> Option<Self> {
        let shadow = shadow_name(live, batch_row_id);
        let mut create = Vec::with_capacity(schema.len());
        for (n, (kind, sql)) in schema.iter().enumerate() {
            let renamed = match (n, kind.as_str()) {
                (0, "table") => renamed_table(sql, live, &shadow)?,
                (_, "index") => renamed_index(sql, live, &shadow, n)?,
                _ => return None,
            };
            create.push(renamed);
        }
        if create.is_empty() {
            return None;
        }
        Some(Self {
            live: quote_ident(live),
            table: quote_ident(&shadow),
            create,
        })
    }

    /// Make the table and its indexes.
    pub(crate) fn create(&self) -> &[String] {
        &self.create
    }

    /// In the final step: the resource's empty table goes and the first
    /// load's takes its name.
    pub(crate) fn swap(&self) -> [String; 2] {
        [
            format!("DROP TABLE {}", self.live),
            format!("ALTER TABLE {} RENAME TO {}", self.table, self.live),
        ]
    }
}

/// What follows `CREATE TABLE <name>` or `... ON <name>` in a schema
/// statement, with `name` quoted as the store writes it or bare (SQLite
/// may write a renamed table's name either way).
fn after_name<'a>(sql: &'a str, head: &str, name: &str) -> Option<&'a str> {
    [quote_ident(name), name.to_owned()]
        .iter()
        .find_map(|written| sql.strip_prefix(&format!("{head}{written}")))
        .filter(|rest| rest.starts_with([' ', '(']))
}

fn renamed_table(sql: &str, live: &str, shadow: &str) -> Option<String> {
    let rest = after_name(sql, "CREATE TABLE ", live)?;
    Some(format!("CREATE TABLE {}{rest}", quote_ident(shadow)))
}

/// `CREATE [UNIQUE] INDEX <name> ON <live> (...)` as the same index on
/// `shadow`, named after it: index names are the schema's, not the table's,
/// and the live table's stay in use until the swap.
fn renamed_index(sql: &str, live: &str, shadow: &str, n: usize) -> Option<String> {
    let head = ["CREATE UNIQUE INDEX ", "CREATE INDEX "]
        .into_iter()
        .find(|h| sql.starts_with(h))?;
    let on = sql.find(" ON ")?;
    let rest = after_name(sql.get(on..)?, " ON ", live)?;
    Some(format!(
        "{head}{} ON {}{rest}",
        quote_ident(&format!("{shadow}_{n}")),
        quote_ident(shadow)
    ))
}

impl Store {
    /// Remove what first loads into a resource left unpublished (SQLite):
    /// the tables of its batches that are no longer loading, and their
    /// change-log rows beyond the resource's `change_seq`. Rows go a slice at
    /// a time, so that this too holds the write lock only briefly.
    pub(crate) async fn discard_unpublished(&self, resource_id: i64) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        let Some(resource) =
            sqlx::query("SELECT table_name, change_seq FROM resources WHERE id = $1")
                .bind(resource_id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(());
        };
        let live: String = resource.try_get("table_name")?;
        let published: i64 = resource.try_get("change_seq")?;
        let loading: Option<i64> =
            sqlx::query("SELECT id FROM batches WHERE resource_id = $1 AND state = 'loading'")
                .bind(resource_id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("id"))
                .transpose()?;

        let prefix = shadow_prefix(&live);
        let tables = sqlx::query(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND substr(name, 1, length($1)) = $1",
        )
        .bind(&prefix)
        .fetch_all(&self.pool)
        .await?;
        for table in &tables {
            let name: String = table.try_get("name")?;
            let batch = name
                .strip_prefix(prefix.as_str())
                .and_then(|b| b.parse::<i64>().ok());
            if batch.is_some() && batch != loading {
                let drop = format!("DROP TABLE IF EXISTS {}", quote_ident(&name));
                sqlx::query(AssertSqlSafe(drop)).execute(&self.pool).await?;
            }
        }

        let last: Option<i64> =
            sqlx::query("SELECT MAX(seq) AS last FROM change_log WHERE resource_id = $1")
                .bind(resource_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("last")?;
        let mut from = published;
        while last.is_some_and(|last| from < last) {
            // The bound is read again in each statement: a batch may have
            // been published since, and its rows are the resource's now.
            sqlx::query(
                "DELETE FROM change_log WHERE resource_id = $1 AND seq > $2 AND seq <= $3
                   AND seq > (SELECT change_seq FROM resources WHERE id = $1)
                   AND batch_id NOT IN
                       (SELECT id FROM batches WHERE resource_id = $1 AND state = 'loading')",
            )
            .bind(resource_id)
            .bind(from)
            .bind(from + DISCARD_STEP)
            .execute(&self.pool)
            .await?;
            from += DISCARD_STEP;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn schema_of(conn: &Connection, table: &str) -> Vec<(String, String)> {
        let mut statement = conn
            .prepare(
                "SELECT type, sql FROM sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL
                 ORDER BY type = 'table' DESC, name",
            )
            .unwrap();
        statement
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn swap_in(conn: &Connection, live: &str, batch: i64) {
        let shadow = Shadow::from_schema(live, batch, &schema_of(conn, live))
            .expect("the resource table's schema is understood");
        for statement in shadow.create() {
            conn.execute_batch(statement).unwrap();
        }
        conn.execute(
            &format!(
                "INSERT INTO {} (_batch_id, \"id_number\", \"added\") VALUES (?1, 'x', 'y')",
                shadow.table
            ),
            [batch],
        )
        .unwrap();
        for statement in shadow.swap() {
            conn.execute_batch(&statement).unwrap();
        }
    }

    /// Two first loads in a row (the second after the resource was emptied):
    /// each copies the table as it stands, columns added later included,
    /// with its unique key, and leaves it under the resource's name.
    #[test]
    fn a_first_load_table_takes_the_resource_tables_shape_and_name() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE \"res_7\" (_row_id INTEGER PRIMARY KEY, _batch_id BIGINT NOT NULL, \"id_number\" TEXT);
             CREATE UNIQUE INDEX \"res_7_key\" ON \"res_7\" (\"id_number\");
             ALTER TABLE \"res_7\" ADD COLUMN \"added\" TEXT;",
        )
        .unwrap();
        swap_in(&conn, "res_7", 41);
        conn.execute_batch("DELETE FROM \"res_7\"").unwrap();
        swap_in(&conn, "res_7", 42);

        let rows: Vec<(i64, String)> = conn
            .prepare("SELECT _batch_id, \"added\" FROM \"res_7\"")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![(42, "y".to_owned())]);
        let duplicate = conn.execute(
            "INSERT INTO \"res_7\" (_batch_id, \"id_number\") VALUES (43, 'x')",
            [],
        );
        assert!(duplicate.is_err(), "the key stays unique");
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1);
    }

    #[test]
    fn a_schema_with_anything_else_is_left_to_one_transaction() {
        let table = || {
            (
                "table".to_owned(),
                "CREATE TABLE \"res_1\" (a TEXT)".to_owned(),
            )
        };
        let trigger = (
            "trigger".to_owned(),
            "CREATE TRIGGER t AFTER INSERT ON \"res_1\" BEGIN SELECT 1; END".to_owned(),
        );
        assert!(Shadow::from_schema("res_1", 3, &[table()]).is_some());
        assert!(Shadow::from_schema("res_1", 3, &[table(), trigger]).is_none());
        let other_table = (
            "table".to_owned(),
            "CREATE TABLE \"res_10\" (a TEXT)".to_owned(),
        );
        assert!(Shadow::from_schema("res_1", 3, &[other_table]).is_none());
        let index_of_another_table = (
            "index".to_owned(),
            "CREATE INDEX x ON \"res_10\" (a)".to_owned(),
        );
        assert!(Shadow::from_schema("res_1", 3, &[table(), index_of_another_table]).is_none());
        assert!(Shadow::from_schema("res_1", 3, &[]).is_none());
    }

    #[test]
    fn turns_are_sized_to_the_aimed_lock_time_within_bounds() {
        let mut pace = Pace::new(1_000);
        // Ten times too fast: the next turn grows, halfway towards ten times.
        let pause = pace.after(TURN / 10);
        assert_eq!(pace.rows(), 5_500);
        assert_eq!(pause, LEAST_PAUSE);
        // Far too slow: it shrinks, but never below a sixteenth.
        let pause = pace.after(Duration::from_secs(5));
        assert_eq!(pause, MOST_PAUSE);
        for _ in 0..10 {
            pace.after(Duration::from_secs(5));
        }
        assert_eq!(pace.rows(), 62);
        for _ in 0..20 {
            pace.after(Duration::ZERO);
        }
        assert_eq!(pace.rows(), 16_000);
        assert_eq!(
            pace.after(Duration::from_millis(50)),
            Duration::from_millis(10)
        );
    }
}
