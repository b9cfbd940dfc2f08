//! PostgreSQL: a large batch's change log written beside its rows.
//!
//! A batch's final step writes every changed row twice: into the resource's
//! table, and with its sequence number into the change log. In one
//! transaction the two inserts ran one after the other, each on one core.
//! Instead the log is written on a connection of its own, in a transaction of
//! its own, while the final transaction writes the rows, and PostgreSQL works
//! on both at once.
//!
//! Nobody sees the log's entries early: they lie beyond the resource's
//! `change_seq`, which no reader of the log goes past, until the final
//! transaction moves it. The log's transaction commits just before the final
//! one. A batch that fails or is dropped before then drops the log's
//! connection, and PostgreSQL rolls its entries back. Should the final
//! transaction fail in the moment between the two commits, its entries are
//! left unpublished, as a stopped batch's are, and are cleared with those
//! (`changes::clear_unpublished`, `Store::discard_unpublished`).

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::StoreError;

/// The change log of a batch, being written on a connection of its own.
pub(crate) struct LogAside {
    /// The batch's first sequence number, which the log was written from.
    pub(crate) first: i64,
    /// The insert's outcome, once it is done.
    logged: Option<oneshot::Receiver<Result<(), StoreError>>>,
    /// Told to commit; dropped unsent, the task rolls back.
    go_ahead: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), StoreError>>>,
}

impl LogAside {
    /// Open a connection and start `statement` (an insert into the change
    /// log, all of whose parameters are integers) in a transaction there.
    /// `first` is the sequence number the statement logs from.
    pub(crate) fn start(
        options: &PgConnectOptions,
        statement: String,
        parameters: Vec<i64>,
        first: i64,
    ) -> Self {
        let options = options.clone();
        let (report, logged) = oneshot::channel();
        let (go_ahead, told) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut conn = match PgConnection::connect_with(&options).await {
                Ok(conn) => conn,
                Err(e) => {
                    let _ = report.send(Err(StoreError::from(e)));
                    return Ok(());
                }
            };
            let inserted = log_in_transaction(&mut conn, &statement, &parameters).await;
            let failed = inserted.is_err();
            let _ = report.send(inserted);
            if failed || told.await.is_err() {
                // Closing the connection rolls the transaction back.
                let _ = conn.close().await;
                return Ok(());
            }
            sqlx::query("COMMIT").execute(&mut conn).await?;
            conn.close().await?;
            Ok(())
        });
        Self {
            first,
            logged: Some(logged),
            go_ahead: Some(go_ahead),
            task: Some(task),
        }
    }

    /// Wait for the log to be written, then commit it. Called just before
    /// the batch's final transaction commits.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let crashed = || StoreError::Database(sqlx::Error::WorkerCrashed);
        let logged = self.logged.take().ok_or_else(crashed)?;
        logged.await.map_err(|_| crashed())??;
        if let Some(go_ahead) = self.go_ahead.take() {
            go_ahead.send(()).map_err(|_| crashed())?;
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|_| crashed())?,
            None => Err(crashed()),
        }
    }
}

impl Drop for LogAside {
    /// A log neither committed nor awaited (its batch failed or was dropped)
    /// is given up: the task stops, its connection is dropped, and
    /// PostgreSQL rolls the entries back.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn log_in_transaction(
    conn: &mut PgConnection,
    statement: &str,
    parameters: &[i64],
) -> Result<(), StoreError> {
    sqlx::query("BEGIN").execute(&mut *conn).await?;
    let mut query = sqlx::query(AssertSqlSafe(statement.to_owned()));
    for parameter in parameters {
        query = query.bind(*parameter);
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
