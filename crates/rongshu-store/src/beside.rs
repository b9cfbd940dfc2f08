//! A large batch on SQLite, written beside its resource in turns.
//!
//! SQLite has one writer. Applied in one transaction, a first load of ten
//! million rows held the write lock for about a minute: every audited read
//! waited that long for its event to be written, or failed once the wait
//! passed the busy timeout. A large batch instead fills a table of its own
//! beside the resource's (a copy of the resource's rows first, unless it has
//! none), with the batch's changes and their change log, in short
//! transactions (`Pace`) with a pause between them for other writers. (A
//! first load's rows log themselves, see `table_log`.) Readers see none of
//! it: the table is not the resource's, and the change log is read only up
//! to the resource's committed `change_seq`. The final step then
//! puts the resource's table aside, gives the new one its name and moves
//! `change_seq` on: one short write whatever the batch's size. The table put
//! aside is removed afterwards, in turns too.
//!
//! A batch into a resource that has rows is written so only when it changes
//! many (see [`IN_PLACE_TURNS`]): the copy costs time in proportion to the
//! whole table, the final step in place only to the changes.
//!
//! A batch that stops half way leaves its table and its change-log rows
//! beyond `change_seq`; [`Store::discard_unpublished`] removes them once the
//! batch is no longer loading.

use std::time::{Duration, Instant};

use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

use crate::batches::BatchWriter;
use crate::db::{Backend, quote_ident};
use crate::stage::{ChangedLines, Todo};
use crate::table_log::Targets;
use crate::{Store, StoreError};

/// Rows of a batch's first turn, unless the store says otherwise; a batch
/// into an empty resource with more changes than this is written beside it.
pub(crate) const DEFAULT_TURN_ROWS: i64 = 20_000;

/// A batch into a resource with rows is written beside it when it has more
/// changes than this many first turns: applied in place, they would hold
/// the write lock for about a second or more (3.5 s per million changes on
/// a two-core machine).
pub(crate) const IN_PLACE_TURNS: i64 = 12;

/// How long a turn aims to hold the write lock. An audited read that arrives
/// meanwhile waits about this long for its event to be written.
pub(crate) const TURN: Duration = Duration::from_millis(50);

/// The pause after a turn is a fifth of the turn's own time, within these
/// bounds. The audit writer takes the lock within a millisecond of its
/// release (see `direct::open_writer`); a pool connection waits under
/// SQLite's own busy handler, which tries again only every 25 to 100 ms
/// after a while, so the pause must be long enough for one of its tries to
/// fall in it now and then.
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
        pause_after(took)
    }
}

/// How long to leave the write lock to others after a turn that held it
/// for `took` (see [`LEAST_PAUSE`]).
pub(crate) fn pause_after(took: Duration) -> Duration {
    (took / 5).clamp(LEAST_PAUSE, MOST_PAUSE)
}

/// The table a batch fills beside the resource's `live` table.
#[derive(Debug, Clone)]
pub(crate) struct Shadow {
    /// The resource's table, quoted.
    live: String,
    /// The resource's table, bare.
    live_name: String,
    /// The batch's table, quoted.
    pub(crate) table: String,
    /// The batch's table, bare.
    table_name: String,
    /// What the resource's table is renamed to when the batch's takes its
    /// place, until it is removed (bare).
    pub(crate) retired: String,
    /// Its table and indexes: the resource table's own DDL, renamed.
    create: Vec<String>,
}

/// The name of batch `batch_row_id`'s table beside `live`.
pub(crate) fn shadow_name(live: &str, batch_row_id: i64) -> String {
    format!("{}{batch_row_id}", shadow_prefix(live))
}

fn shadow_prefix(live: &str) -> String {
    format!("{live}_b")
}

/// The name of the resource's table once batch `batch_row_id`'s has taken
/// its place.
fn retired_name(live: &str, batch_row_id: i64) -> String {
    format!("{}{batch_row_id}", retired_prefix(live))
}

fn retired_prefix(live: &str) -> String {
    format!("{live}_r")
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
            live_name: live.to_owned(),
            table: quote_ident(&shadow),
            table_name: shadow,
            retired: retired_name(live, batch_row_id),
            create,
        })
    }

    /// Make the table and its indexes.
    pub(crate) fn create(&self) -> &[String] {
        &self.create
    }

    /// In the final step, with the resource's table planned again as `now`:
    /// the statements that give the batch's table the columns added to the
    /// resource's since the batch made it (an item added to the catalog
    /// meanwhile gets its column at once), so that the swap loses none.
    /// `None` when the resource's table changed in any other way, which the
    /// batch cannot follow.
    pub(crate) async fn catch_up(
        &self,
        conn: &mut AnyConnection,
        now: &Shadow,
    ) -> Result<Option<Vec<String>>, StoreError> {
        if now.create.get(1..) != self.create.get(1..) {
            return Ok(None);
        }
        let live = columns_of(conn, &self.live_name).await?;
        let mine = columns_of(conn, &self.table_name).await?;
        Ok(added_columns(&self.table, &mine, &live))
    }

    /// In the final step: the batch's table takes the resource table's name,
    /// and that table is put aside under [`Self::retired`]. Dropping it here
    /// would hold the write lock while SQLite reads every page of it (0.4 s
    /// a million rows); [`Store::remove_in_turns`] removes it afterwards.
    pub(crate) fn swap(&self) -> [String; 2] {
        [
            format!(
                "ALTER TABLE {} RENAME TO {}",
                self.live,
                quote_ident(&self.retired)
            ),
            format!("ALTER TABLE {} RENAME TO {}", self.table, self.live),
        ]
    }
}

/// A table's column as SQLite describes it (`pragma_table_xinfo`).
#[derive(Debug, Clone, PartialEq)]
struct Column {
    name: String,
    declared: String,
    not_null: bool,
    default: Option<String>,
    in_key: bool,
}

async fn columns_of(conn: &mut AnyConnection, table: &str) -> Result<Vec<Column>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, type, \"notnull\" AS not_null, dflt_value, pk \
         FROM pragma_table_xinfo($1) ORDER BY cid",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in &rows {
        columns.push(Column {
            name: row.try_get("name")?,
            declared: row.try_get("type")?,
            not_null: row.try_get::<i64, _>("not_null")? != 0,
            default: row.try_get("dflt_value")?,
            in_key: row.try_get::<i64, _>("pk")? != 0,
        });
    }
    Ok(columns)
}

/// `ALTER TABLE <table> ADD COLUMN` for each column `live` has after all of
/// `mine`; `None` unless `mine` is where `live` starts and each added column
/// can be added so (nullable, not part of the key). Adding a nullable column
/// rewrites no row: the batch's rows read it as null (or as its default),
/// which is what the resource's rows got when it was added to them.
fn added_columns(table: &str, mine: &[Column], live: &[Column]) -> Option<Vec<String>> {
    if !live.starts_with(mine) {
        return None;
    }
    live[mine.len()..]
        .iter()
        .map(|c| {
            if c.not_null || c.in_key {
                return None;
            }
            let default = c
                .default
                .as_ref()
                .map(|d| format!(" DEFAULT {d}"))
                .unwrap_or_default();
            Some(format!(
                "ALTER TABLE {table} ADD COLUMN {} {}{default}",
                quote_ident(&c.name),
                c.declared
            ))
        })
        .collect()
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

/// What a batch changes, as the comparison found it.
pub(crate) struct Changes {
    /// The resource had no rows: there is nothing to copy.
    pub(crate) empty: bool,
    /// Changes the staged rows make (inserts, updates, deletions).
    pub(crate) staged: i64,
    /// Rows a snapshot no longer names.
    pub(crate) gone: i64,
    /// The first and last line of the staged rows that change something.
    pub(crate) lines: Option<(i64, i64)>,
    pub(crate) todo: Todo,
    /// Some of the resource's rows are logged by themselves: those the
    /// batch changes are written out into the log first (see `table_log`).
    pub(crate) in_table: bool,
}

/// A batch written beside its resource, for the final step to swap in.
#[derive(Clone)]
pub(crate) struct Beside {
    pub(crate) shadow: Shadow,
    /// The sequence number its first change was logged under.
    pub(crate) first_seq: i64,
    /// How many rows the resource gains (negative: loses).
    pub(crate) moved: i64,
    pub(crate) turns: u32,
    pub(crate) longest_turn: Duration,
}

/// A statement of a turn and its (integer) parameters.
type Step<'a> = (&'a str, Vec<i64>);

impl BatchWriter {
    /// Write the batch beside its resource, in turns: the resource's rows as
    /// they are, then the staged changes and their log in the order of their
    /// lines (a first load's inserts in the order of their keys, logged by
    /// the rows), then the deletion of the rows a snapshot no longer names,
    /// and its log. `None` when the resource's table cannot be copied, for
    /// the caller to apply the batch in one transaction instead.
    pub(crate) async fn write_beside(
        &mut self,
        changes: Changes,
    ) -> Result<Option<Beside>, StoreError> {
        let Some(shadow) =
            Shadow::plan(&mut self.conn, &self.resource.table_name, self.batch_row_id).await?
        else {
            return Ok(None);
        };
        let first_seq = self.make_shadow(&shadow).await?;
        let table = shadow.table.clone();
        let mut beside = Beside {
            shadow,
            first_seq,
            moved: 0,
            turns: 0,
            longest_turn: Duration::ZERO,
        };
        let mut pace = Pace::new(self.store.turn_rows);
        let (resource, batch) = (self.resource.id, self.batch_row_id);

        if !changes.empty {
            let copy = self.sql.copy_rows_into(&table);
            let last = self.last(&self.sql.last_row_id()).await?;
            let mut after = 0;
            while after < last {
                let upto = after.saturating_add(pace.rows()).min(last);
                self.turn(&mut beside, &mut pace, &[(&copy, vec![after, upto])])
                    .await?;
                after = upto;
            }
        }

        if changes.empty && changes.staged > 0 {
            // A first load: every staged change is an insert, written in the
            // order of the keys (see `StageSql::key_order`).
            for statement in self.sql.key_order() {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(&mut *self.conn)
                    .await?;
            }
            let insert = self.sql.insert_in_key_order_into(&table);
            let mut after = 0_i64;
            while after < changes.staged {
                let upto = after.saturating_add(pace.rows()).min(changes.staged);
                let steps: [Step; 1] = [(&insert, vec![batch, after, upto, beside.first_seq])];
                let done = self.turn(&mut beside, &mut pace, &steps).await?;
                beside.moved += done[0];
                after = upto;
            }
            if beside.moved != changes.staged {
                return Err(StoreError::Corrupt(format!(
                    "a first load of {} rows wrote {}",
                    changes.staged, beside.moved
                )));
            }
        } else if let (Some((first_line, last_line)), true) = (changes.lines, changes.staged > 0) {
            let lines = ChangedLines::of(changes.staged, Some(first_line), Some(last_line));
            let log = self.sql.log_staged_lines(lines);
            let todo = changes.todo;
            let updates = self.sql.update_lines_in(&table).filter(|_| todo.updates);
            let deletes = todo.deletes.then(|| self.sql.delete_lines_in(&table));
            let inserts = todo.inserts.then(|| self.sql.insert_lines_into(&table));
            let write_out = (changes.in_table && (todo.updates || todo.deletes))
                .then(|| self.sql.write_out(Targets::StagedLines));
            let (mut after, mut logged) = (first_line - 1, 0_i64);
            while after < last_line {
                let upto = after.saturating_add(pace.rows()).min(last_line);
                let first_seq = match lines {
                    ChangedLines::Unbroken { .. } => beside.first_seq,
                    ChangedLines::Scattered => beside.first_seq + logged,
                };
                let mut log_params = vec![resource, batch, first_seq, after, upto];
                if let ChangedLines::Unbroken { first } = lines {
                    log_params.push(first);
                }
                let mut steps: Vec<Step> = vec![(&log, log_params)];
                if let Some(updates) = &updates {
                    steps.push((updates, vec![batch, after, upto]));
                }
                if let Some(deletes) = &deletes {
                    steps.push((deletes, vec![after, upto]));
                }
                if let Some(inserts) = &inserts {
                    steps.push((inserts, vec![batch, after, upto]));
                }
                // Last, not counted below: it reads the resource's table,
                // which the steps before leave as it is.
                if let Some(write_out) = &write_out {
                    steps.push((write_out, vec![resource, after, upto]));
                }
                let done = self.turn(&mut beside, &mut pace, &steps).await?;
                logged += done[0];
                let mut rest = done.iter().skip(if updates.is_some() { 2 } else { 1 });
                if deletes.is_some() {
                    beside.moved -= rest.next().copied().unwrap_or(0);
                }
                if inserts.is_some() {
                    beside.moved += rest.next().copied().unwrap_or(0);
                }
                after = upto;
            }
            if logged != changes.staged {
                return Err(StoreError::Corrupt(format!(
                    "a batch of {} changes logged {logged}",
                    changes.staged
                )));
            }
        }

        if changes.gone > 0 {
            let log = self.sql.log_gone_rows();
            let delete = self.sql.delete_gone_in(&table);
            let write_out = changes
                .in_table
                .then(|| self.sql.write_out(Targets::GoneRows));
            let last = self.last(&self.sql.last_gone_row_id()).await?;
            let (mut after, mut logged) = (0, 0_i64);
            while after < last {
                let upto = after.saturating_add(pace.rows()).min(last);
                let first_seq = beside.first_seq + changes.staged + logged;
                let mut steps: Vec<Step> = vec![
                    (&log, vec![resource, batch, first_seq, after, upto]),
                    (&delete, vec![after, upto]),
                ];
                if let Some(write_out) = &write_out {
                    steps.push((write_out, vec![resource, after, upto]));
                }
                let done = self.turn(&mut beside, &mut pace, &steps).await?;
                logged += done[0];
                beside.moved -= done[1];
                after = upto;
            }
            if logged != changes.gone {
                return Err(StoreError::Corrupt(format!(
                    "a snapshot that no longer names {} rows logged {logged} of them",
                    changes.gone
                )));
            }
        }
        Ok(Some(beside))
    }

    /// Make the batch's table beside the resource's, once what an earlier
    /// batch that stopped left (which would clash with this one) is gone;
    /// returns the sequence number the batch's first change is logged under.
    pub(crate) async fn make_shadow(&mut self, shadow: &Shadow) -> Result<i64, StoreError> {
        let first_seq = self.first_seq_beside().await?;
        for statement in shadow.create() {
            sqlx::query(AssertSqlSafe(statement.clone()))
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(first_seq)
    }

    /// For a batch about to write beside its resource (on either backend):
    /// remove what an earlier batch that stopped left there, and return the
    /// sequence number after the resource's published one, which the
    /// batch's first change will be logged under.
    pub(crate) async fn first_seq_beside(&mut self) -> Result<i64, StoreError> {
        self.store.discard_unpublished(self.resource.id).await?;
        let published: i64 = sqlx::query("SELECT change_seq FROM resources WHERE id = $1")
            .bind(self.resource.id)
            .fetch_one(&mut *self.conn)
            .await?
            .try_get("change_seq")?;
        Ok(published + 1)
    }

    /// The `hi` a query of the batch's connection gives (0 when none).
    async fn last(&mut self, query: &str) -> Result<i64, StoreError> {
        let hi: Option<i64> = sqlx::query(AssertSqlSafe(query.to_owned()))
            .fetch_one(&mut *self.conn)
            .await?
            .try_get("hi")?;
        Ok(hi.unwrap_or(0))
    }

    /// One turn: `steps` in one short write; then a pause for other writers,
    /// sized by `pace`, which learns from the turn's time. Returns the rows
    /// each step affected. The turn is marked as under way for the log's
    /// checkpoints, and waits first while they ask for a restart of the
    /// log (see `checkpointer`).
    async fn turn(
        &mut self,
        beside: &mut Beside,
        pace: &mut Pace,
        steps: &[Step<'_>],
    ) -> Result<Vec<i64>, StoreError> {
        let held = Instant::now();
        let under_way = self.store.begin_turn().await;
        let began = Instant::now();
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        let locked = began.elapsed();
        let mut done = Vec::with_capacity(steps.len());
        for (statement, params) in steps {
            let mut query = sqlx::query(AssertSqlSafe((*statement).to_owned()));
            for p in params {
                query = query.bind(*p);
            }
            let affected = query.execute(&mut *tx).await?.rows_affected();
            done.push(i64::try_from(affected).unwrap_or(i64::MAX));
        }
        tx.commit().await?;
        drop(under_way);
        let took = began.elapsed();
        // Where a slow turn's time went: held for the log's restart,
        // waiting for the lock (another writer had it), or writing.
        tracing::debug!(
            rows = pace.rows(),
            held_for_log_ms = (began - held).as_millis(),
            lock_wait_ms = locked.as_millis(),
            took_ms = took.as_millis(),
            "turn written beside"
        );
        beside.turns += 1;
        beside.longest_turn = beside.longest_turn.max(took);
        self.beat().await?;
        tokio::time::sleep(pace.after(took)).await;
        Ok(done)
    }
}

impl Store {
    /// Remove, in the background, every resource table a final step put
    /// aside and nobody removed (the process stopped first).
    pub(crate) async fn remove_put_aside_in_background(&self) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        let put_aside = sqlx::query(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'res_*_r[0-9]*'",
        )
        .fetch_all(&self.pool)
        .await?;
        for table in &put_aside {
            let (store, name) = (self.clone(), table.try_get::<String, _>("name")?);
            self.in_background(
                "could not remove a resource table a batch put aside",
                async move { store.remove_in_turns(&name).await },
            );
        }
        Ok(())
    }

    /// Remove a table of ours that no reader names any more (one put aside by
    /// a final step, or a stopped batch's): its rows in turns, then the
    /// table, which is then empty and dropped at once. A table removed
    /// meanwhile by someone else (the background task and a discard may
    /// meet) is done with.
    pub(crate) async fn remove_in_turns(&self, table: &str) -> Result<(), StoreError> {
        match self.remove_rows_then_table(table).await {
            Err(e) => {
                let exists = sqlx::query("SELECT 1 AS one FROM sqlite_schema WHERE name = $1")
                    .bind(table)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some();
                if exists { Err(e) } else { Ok(()) }
            }
            done => done,
        }
    }

    async fn remove_rows_then_table(&self, table: &str) -> Result<(), StoreError> {
        let table = quote_ident(table);
        let last: Option<i64> = sqlx::query(AssertSqlSafe(format!(
            "SELECT MAX(_row_id) AS hi FROM {table}"
        )))
        .fetch_one(&self.pool)
        .await?
        .try_get("hi")?;
        let delete = format!("DELETE FROM {table} WHERE _row_id > $1 AND _row_id <= $2");
        let mut pace = Pace::new(self.turn_rows);
        let mut after = 0_i64;
        while let Some(last) = last.filter(|last| after < *last) {
            let upto = after.saturating_add(pace.rows()).min(last);
            let under_way = self.begin_turn().await;
            let began = Instant::now();
            sqlx::query(AssertSqlSafe(delete.clone()))
                .bind(after)
                .bind(upto)
                .execute(&self.pool)
                .await?;
            drop(under_way);
            after = upto;
            tokio::time::sleep(pace.after(began.elapsed())).await;
        }
        sqlx::query(AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remove what batches that are no longer loading left unpublished: on
    /// SQLite the tables of those written beside the resource, and on both
    /// backends their change-log rows beyond the resource's `change_seq`
    /// (on PostgreSQL, a log written beside the rows whose batch failed
    /// just as it was to be published, see `log_aside`). Rows go a slice at
    /// a time, so that this too holds the write lock only briefly.
    pub(crate) async fn discard_unpublished(&self, resource_id: i64) -> Result<(), StoreError> {
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

        // Tables of batches no longer loading, and resource tables put aside
        // whose removal did not finish (the process stopped). On PostgreSQL
        // only a first load fills a table beside (see `pg_beside`), and the
        // resource's own is dropped, not put aside.
        let (prefixes, tables_named) = match self.backend {
            Backend::Sqlite => (
                vec![shadow_prefix(&live), retired_prefix(&live)],
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND substr(name, 1, length($1)) = $1",
            ),
            Backend::Postgres => (
                vec![shadow_prefix(&live)],
                "SELECT CAST(tablename AS TEXT) AS name FROM pg_tables
                 WHERE schemaname = current_schema() AND substr(tablename, 1, length($1)) = $1",
            ),
        };
        for prefix in prefixes {
            let tables = sqlx::query(tables_named)
                .bind(&prefix)
                .fetch_all(&self.pool)
                .await?;
            for table in &tables {
                let name: String = table.try_get("name")?;
                let batch = name
                    .strip_prefix(prefix.as_str())
                    .and_then(|b| b.parse::<i64>().ok());
                if batch.is_none() || batch == loading {
                    continue;
                }
                match self.backend {
                    Backend::Sqlite => self.remove_in_turns(&name).await?,
                    // Dropping a table takes PostgreSQL no time whatever its
                    // size, and blocks no one who does not read it.
                    Backend::Postgres => {
                        sqlx::query(AssertSqlSafe(format!("DROP TABLE {}", quote_ident(&name))))
                            .execute(&self.pool)
                            .await?;
                    }
                }
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
        conn.execute_batch(&format!("DROP TABLE \"{}\"", shadow.retired))
            .unwrap();
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

    fn columns(conn: &Connection, table: &str) -> Vec<Column> {
        let mut statement = conn
            .prepare(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1) \
                 ORDER BY cid",
            )
            .unwrap();
        statement
            .query_map([table], |r| {
                Ok(Column {
                    name: r.get(0)?,
                    declared: r.get(1)?,
                    not_null: r.get::<_, i64>(2)? != 0,
                    default: r.get(3)?,
                    in_key: r.get::<_, i64>(4)? != 0,
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Items added to the catalog while a batch is written beside the
    /// resource: the batch's table gets their columns in the final step,
    /// and ends with the very columns of the resource's.
    #[test]
    fn columns_added_meanwhile_are_added_to_the_batchs_table_alike() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE \"res_7\" (_row_id INTEGER PRIMARY KEY, _batch_id BIGINT NOT NULL, \"id_number\" TEXT);
             CREATE UNIQUE INDEX \"res_7_key\" ON \"res_7\" (\"id_number\");",
        )
        .unwrap();
        let shadow = Shadow::from_schema("res_7", 4, &schema_of(&conn, "res_7")).unwrap();
        for statement in shadow.create() {
            conn.execute_batch(statement).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO \"res_7_b4\" (_batch_id, \"id_number\") VALUES (4, 'x');
             ALTER TABLE \"res_7\" ADD COLUMN \"phone\" TEXT;
             ALTER TABLE \"res_7\" ADD COLUMN \"children\" INTEGER DEFAULT 0;",
        )
        .unwrap();
        let now = Shadow::from_schema("res_7", 4, &schema_of(&conn, "res_7")).unwrap();
        assert_eq!(now.create().get(1..), shadow.create().get(1..));
        let live = columns(&conn, "res_7");
        let statements = added_columns(&shadow.table, &columns(&conn, "res_7_b4"), &live)
            .expect("nullable columns added at the end are followed");
        assert_eq!(statements.len(), 2);
        for statement in &statements {
            conn.execute_batch(statement).unwrap();
        }
        assert_eq!(columns(&conn, "res_7_b4"), live);
        let (phone, children): (Option<String>, i64) = conn
            .query_row(
                "SELECT \"phone\", \"children\" FROM \"res_7_b4\"",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((phone, children), (None, 0));
        assert_eq!(
            added_columns(&shadow.table, &live, &live),
            Some(Vec::new()),
            "nothing added, nothing to do"
        );
    }

    /// What an added column cannot explain leaves the batch to be refused.
    #[test]
    fn other_changes_of_the_columns_are_not_followed() {
        let column = |name: &str| Column {
            name: name.to_owned(),
            declared: "TEXT".to_owned(),
            not_null: false,
            default: None,
            in_key: false,
        };
        let mine = vec![column("a"), column("b")];
        // A column gone, or the columns in another order.
        assert_eq!(added_columns("t", &mine, &[column("a")]), None);
        assert_eq!(added_columns("t", &mine, &[column("b"), column("a")]), None);
        // A column of another type.
        let mut retyped = column("b");
        retyped.declared = "INTEGER".to_owned();
        assert_eq!(added_columns("t", &mine, &[column("a"), retyped]), None);
        // An added column that rows could not simply read as null.
        let mut required = column("c");
        required.not_null = true;
        assert_eq!(
            added_columns("t", &mine, &[column("a"), column("b"), required]),
            None
        );
        assert_eq!(
            added_columns("t", &mine, &[column("a"), column("b"), column("c")]),
            Some(vec!["ALTER TABLE t ADD COLUMN \"c\" TEXT".to_owned()])
        );
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
