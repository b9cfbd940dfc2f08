//! One storage API over SQLite (the embedded default) and PostgreSQL. This is the
//! only crate that writes SQL. Both backends are reached through sqlx's `Any`
//! driver with portable SQL (`$1` placeholders work on both); where the dialects
//! differ (identity columns, column types, casts) `Backend` says how.

mod accounts;
mod applications;
mod audit;
mod audit_appender;
mod batches;
mod beside;
mod catalog;
mod changes;
mod checkpointer;
mod citizens;
mod db;
mod demands;
mod direct;
mod downloads;
mod elements;
mod error;
mod first_load;
mod linkage;
mod log_aside;
mod migrations;
mod open_accounts;
mod open_plans;
mod pg_beside;
mod pg_first_load;
mod portal;
mod records;
mod registry;
mod releases;
mod repeats;
mod seen_keys;
mod sharing;
mod stage;
mod stage_copy;
mod stage_scratch;
mod subscriptions;
mod table_log;
mod view_rows;

pub use accounts::{
    Department, LoginCandidate, NewToken, NewUser, Session, TokenInfo, TokenOwner, User,
};
pub use applications::{Application, ApplicationChange, ApplicationKey, NewApplication};
pub use audit::{AuditEventRow, ChainPoint, PersonRead, VerifyOutcome};
pub use audit_appender::AuditAppender;
pub use batches::{Applied, BatchRow, BatchWriter, FailureRow, RowCells, batch_lease};
pub use catalog::{
    CatalogActor, HistoryEntry, PortalCounts, Resource, ResourceVersion, WorkingVersion,
};
pub use changes::{AsOfPage, BatchMode, Change};
pub use citizens::{CitizenCode, CitizenSession, NewCitizenCode, NewCitizenSession};
pub use db::Backend;
pub use demands::{
    Demand, DemandAnswer, DemandEvent, DepartmentRef, NewDemand, NewPublicDemand, PublicRequester,
};
pub use downloads::DownloadCounts;
pub use elements::{DataElement, ElementHistoryEntry, ElementSource, SourceCounts};
pub use error::StoreError;
pub use linkage::{
    LinkageCounts, LinkageDecision, LinkageJob, LinkagePair, NewLinkageJob, NewLinkagePair,
    PairClass,
};
pub use migrations::latest_version;
pub use open_accounts::{
    AccessRequest, AccessRequestState, NewOpenUser, OpenCaller, OpenKey, OpenLogin, OpenUser,
};
pub use open_plans::{NewPlanEntry, PlanEntry};
pub use portal::{ReleaseUse, ViewCounts};
pub use records::{Filter, FilterOp, Keyset, RecordPage, RecordQuery, SortKey};
pub use registry::{
    Answering, NewDispute, RegistryRun, RegistryValue, Ticket, TicketFilter, TicketList,
    VerifyStats, WitnessValue,
};
pub use releases::{NewRelease, Release, ReleaseChange};
pub use repeats::{
    KEY_REPEAT_REASON, KEY_REPEAT_RULE, Repeats, RuleChange, StagedRow, StreamStatus,
};
pub use sharing::{
    Decision, FollowUpDone, FollowUpWrite, Grant, NewShareRequest, OverdueRequest, ResourceRef,
    ShareRequest, ShareRequestEvent, ShareRequestFilter,
};
pub use subscriptions::{
    AttemptOutcome, ClaimedSubscription, Delivery, NewSubscription, Subscription,
};
pub use view_rows::{ViewPage, ViewQuery};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection, Executor, Row};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A pooled connection idle longer than this is pinged before it is used.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// A handle to the platform's database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL: how to open a native connection beside the pool, for the
    /// bulk path the `Any` driver lacks (`COPY` into a batch's staged rows).
    pg_copy: Option<std::sync::Arc<sqlx::postgres::PgConnectOptions>>,
    /// On a SQLite file: connections for short reads made in place.
    readers: Option<Arc<direct::Readers>>,
    /// On a SQLite file: the thread that checkpoints its write-ahead log.
    checkpointer: Option<Arc<checkpointer::Checkpointer>>,
    /// What the registry's build and verification may hold, in MiB.
    registry_memory_mib: u64,
    /// SQLite: rows of the first turn of a batch written beside its
    /// resource, and how large a batch must be to be written so (see
    /// `beside`). PostgreSQL: how many changes a batch must have for its
    /// change log to be written beside its rows (see `log_aside`).
    turn_rows: i64,
    /// Blocks in each batch's filter of seen keys (see `seen_keys`).
    seen_key_blocks: usize,
    /// Work that goes on after a call has answered (removing a table a
    /// batch's final step put aside); [`Store::close`] waits for it.
    background: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// The SQLite URL for a data directory's database file.
pub fn sqlite_url_for_dir(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("rongshu.db").display())
}

impl Store {
    /// Connect and bring the schema up to date. A database whose schema is newer
    /// than this binary is refused.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url).await?;
        migrations::migrate(&store).await?;
        Ok(store)
    }

    /// Connect without migrating (for tools that must not change the schema).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time anyway; readers share the rest.
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            // sqlx pings every connection it hands out, by default: a second
            // round trip for every statement, on SQLite a hand-off to the
            // connection's thread and back. A connection idle for a while is
            // the one that may have been dropped by the server or a firewall:
            // only that one is pinged before use.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_BEFORE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            });
        let file = match backend {
            Backend::Sqlite => direct::file_of_url(url),
            Backend::Postgres => None,
        };
        // A file's log is checkpointed by the store's own thread (see
        // `checkpointer`), never in a commit; a database that cannot be
        // opened directly keeps SQLite's automatic checkpoints.
        let pragmas = if file.is_some() {
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 60000; \
             PRAGMA wal_autocheckpoint = 0;"
        } else {
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 60000;"
        };
        let options = match backend {
            Backend::Sqlite => options.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    conn.execute(pragmas).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(url).await?;
        let pg_copy = match backend {
            Backend::Postgres => Some(std::sync::Arc::new(url.parse()?)),
            Backend::Sqlite => None,
        };
        // The pool's first connection has put the file in WAL mode.
        let checkpointer = match &file {
            Some(f) => Some(Arc::new(checkpointer::Checkpointer::start(f)?)),
            None => None,
        };
        let readers = file.map(|f| Arc::new(direct::Readers::new(f)));
        Ok(Self {
            pool,
            backend,
            pg_copy,
            readers,
            checkpointer,
            registry_memory_mib: RegistryRun::DEFAULT_MEMORY_MIB,
            turn_rows: beside::DEFAULT_TURN_ROWS,
            seen_key_blocks: seen_keys::BLOCKS,
            background: Arc::default(),
        })
    }

    /// Before each turn of a large batch on SQLite: wait while the checkpoint
    /// thread asks for the log's restart (a second at most), then mark the
    /// turn as under way until the guard is dropped, so that the log is not
    /// restarted meanwhile (see `checkpointer`). `None` without the thread.
    pub(crate) async fn begin_turn(&self) -> Option<checkpointer::TurnUnderWay> {
        let checkpointer = self.checkpointer.as_ref()?;
        let began = std::time::Instant::now();
        while checkpointer.holds_turns() && began.elapsed() < checkpointer::MOST_HOLD {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        Some(checkpointer.turn_under_way())
    }

    /// The same store, its registry runs (the build, and verification after
    /// each batch) holding about `mib` MiB at most.
    pub fn with_registry_memory_mib(mut self, mib: u64) -> Self {
        self.registry_memory_mib = mib;
        self
    }

    /// The same store, a large batch on SQLite written beside its resource
    /// in turns starting at `rows` rows, when it has more changes than that
    /// for an empty resource or twelve times that for one with rows; on
    /// PostgreSQL, a batch with more changes than `rows` has its change log
    /// written beside its rows (tests make it small to see batches in many
    /// turns; `i64::MAX` applies every batch in one step).
    pub fn with_turn_rows(mut self, rows: i64) -> Self {
        self.turn_rows = rows.max(1);
        self
    }

    /// The same store, each batch's filter of seen keys cut to `blocks`
    /// blocks: with one, nearly every key is a suspect, which tests use to
    /// see suspects that repeat nothing handled as the rare ones are.
    #[doc(hidden)]
    pub fn with_seen_key_blocks(mut self, blocks: usize) -> Self {
        self.seen_key_blocks = blocks.max(1);
        self
    }

    /// A registry run under this store's memory budget.
    pub fn registry_run(&self, due_working_days: u32) -> RegistryRun {
        RegistryRun {
            due_working_days,
            memory_mib: self.registry_memory_mib,
        }
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// once (BEGIN IMMEDIATE), so it waits its turn under the busy timeout
    /// instead of failing when a read inside it would have to upgrade.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Connections open and idle, for metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// On SQLite, return once every committed page of the write-ahead log is
    /// in the database file, copying them now (as the store's checkpoint
    /// thread otherwise does within a moment) or waiting while that thread
    /// copies them; nothing to do on PostgreSQL. A reader that keeps an old
    /// snapshot open for a minute makes this an error rather than a wait.
    pub async fn copy_log_into_file(&self) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            // A checkpoint already under way makes this one report "busy"
            // rather than wait for it.
            let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&self.pool)
                .await?;
            let (busy, log, copied): (i64, i64, i64) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if busy == 0 && copied >= log {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(StoreError::Invalid(format!(
                    "only {copied} of the log's {log} pages could be copied: a reader still holds the rest"
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Run `work` after the caller's answer; a failure is logged as `what`.
    pub(crate) fn in_background(
        &self,
        what: &'static str,
        work: impl std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
    ) {
        let task = tokio::spawn(async move {
            if let Err(e) = work.await {
                tracing::warn!(error = %e, "{what}");
            }
        });
        if let Ok(mut tasks) = self.background.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(task);
        }
    }

    /// Finish the work left in the background, then close every connection.
    pub async fn close(&self) {
        let tasks = self
            .background
            .lock()
            .map(|mut tasks| std::mem::take(&mut *tasks))
            .unwrap_or_default();
        for task in tasks {
            let _ = task.await;
        }
        self.pool.close().await;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop();
        }
    }

    /// Run raw SQL; for tests that must reach under the API (e.g. to tamper
    /// with the audit log and see the verifier catch it).
    #[doc(hidden)]
    pub async fn execute_unchecked_for_tests(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// The first column of raw SQL's first row, as an integer; for tests
    /// that must look under the API (at what a load has written but not
    /// published, say).
    #[doc(hidden)]
    pub async fn query_integer_for_tests(&self, sql: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on(test: impl std::future::Future<Output = ()>) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(test);
    }

    #[test]
    fn a_registry_budget_goes_with_every_clone_of_the_store() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&sqlite_url_for_dir(dir.path())).await.unwrap();
            assert_eq!(
                store.registry_run(10).memory_mib,
                RegistryRun::DEFAULT_MEMORY_MIB
            );
            let store = store.with_registry_memory_mib(64);
            let run = store.clone().registry_run(10);
            assert_eq!((run.memory_mib, run.due_working_days), (64, 10));
            store.close().await;
        });
    }

    /// A commit leaves its pages in the log; the store's thread copies them
    /// into the database file, with no further write or close to do it.
    #[test]
    fn a_commit_reaches_the_database_file_without_another_write() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&sqlite_url_for_dir(dir.path())).await.unwrap();
            let file = dir.path().join("rongshu.db");
            let before = std::fs::metadata(&file).unwrap().len();
            store
                .execute_unchecked_for_tests(
                    "CREATE TABLE bulk AS
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
                     SELECT i, zeroblob(2000) AS pad FROM n",
                )
                .await
                .unwrap();
            let grown = before + 8_000_000;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::fs::metadata(&file).unwrap().len() < grown {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the committed pages stayed in the log"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            store.close().await;
        });
    }
}
