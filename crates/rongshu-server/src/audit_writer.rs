//! Reads' audit events, committed in groups. Every audited read waits until its
//! event is committed (so none is lost), but the events of reads that arrive
//! together share one transaction: at the data API's rates one commit per read
//! would make the audit log the bottleneck. The people each read touched go
//! to the audit's side table in that same transaction.
//!
//! After a group the chain's head is also written (at most once a second) to
//! a checkpoint file in the data directory, outside the database, so that
//! `rongshu audit verify` can tell a chain that was cut short or rewritten by
//! someone with database access from the one this server wrote.

use std::path::{Path, PathBuf};

use rongshu_core::audit::AuditEntry;
use rongshu_store::{AuditAppender, ChainPoint, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

/// Events committed together at most.
const MAX_GROUP: usize = 256;
/// Events waiting for their group at most; beyond it callers wait to enqueue.
const QUEUE: usize = 4_096;

/// The checkpoint is rewritten at most this often: a file write and rename
/// per group would sit on the hot path of every read. A head at most this old
/// still pins the chain: everything before it must stay as it was.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The file beside the database that holds the last head this process wrote.
pub const CHECKPOINT_FILE: &str = "audit-checkpoint.json";

type Waiter = oneshot::Sender<Result<i64, String>>;

/// A handle to the group-committing writer; cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<(AuditEntry, Waiter)>,
}

impl AuditWriter {
    /// Start the writer. `checkpoint_dir` is where the head is kept. On a
    /// SQLite file it is a thread of its own with its own connection, which
    /// spares each group's statements the hand-off to sqlx's connection
    /// thread; otherwise a task on the runtime.
    pub fn start(store: Store, checkpoint_dir: Option<PathBuf>) -> Self {
        let (queue, incoming) = mpsc::channel::<(AuditEntry, Waiter)>(QUEUE);
        let settler = Settler {
            checkpoint_dir,
            checkpointed: None,
        };
        match store.audit_appender() {
            Ok(Some(appender)) => on_thread(appender, incoming, settler),
            Ok(None) => on_runtime(store, incoming, settler),
            Err(e) => {
                tracing::warn!(error = %e, "no direct audit connection; committing through the pool");
                on_runtime(store, incoming, settler);
            }
        }
        Self { queue }
    }

    /// Record an event (with the people it touched, for a read of personal
    /// data); returns once it is committed, with its number. An error means
    /// the event is not on record, and the caller must not answer.
    pub async fn record(&self, entry: impl Into<AuditEntry>) -> Result<i64, ApiError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send((entry.into(), done))
            .await
            .map_err(|_| ApiError::internal_msg("the audit writer has stopped".to_owned()))?;
        committed
            .await
            .map_err(|_| ApiError::internal_msg("the audit writer has stopped".to_owned()))?
            .map_err(ApiError::internal_msg)
    }
}

/// The events waiting now, after the first, up to a group's size.
fn gather(
    first: (AuditEntry, Waiter),
    incoming: &mut mpsc::Receiver<(AuditEntry, Waiter)>,
) -> (Vec<AuditEntry>, Vec<Waiter>) {
    let mut group = vec![first];
    while group.len() < MAX_GROUP {
        match incoming.try_recv() {
            Ok(next) => group.push(next),
            Err(_) => break,
        }
    }
    group.into_iter().unzip()
}

fn on_runtime(
    store: Store,
    mut incoming: mpsc::Receiver<(AuditEntry, Waiter)>,
    mut settler: Settler,
) {
    tokio::spawn(async move {
        // Where this writer left the chain, while its last group went in.
        let mut last: Option<ChainPoint> = None;
        while let Some(first) = incoming.recv().await {
            let (entries, waiters) = gather(first, &mut incoming);
            let committed = store
                .append_audit_group_after(&entries, last.as_ref())
                .await;
            last = committed.as_ref().ok().and_then(|(_, head)| head.clone());
            settler.settle(committed, waiters);
        }
    });
}

fn on_thread(
    mut appender: AuditAppender,
    mut incoming: mpsc::Receiver<(AuditEntry, Waiter)>,
    mut settler: Settler,
) {
    let spawned = std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || {
            // Ends when every handle to the writer is gone.
            while let Some(first) = incoming.blocking_recv() {
                let (entries, waiters) = gather(first, &mut incoming);
                let committed = appender.append_group(&entries);
                settler.settle(committed, waiters);
            }
        });
    if let Err(e) = spawned {
        // Every read then fails with "the audit writer has stopped": none
        // is answered without its event on record.
        tracing::error!(error = %e, "could not start the audit writer thread");
    }
}

/// What follows a group's commit: the checkpoint when one is due, then each
/// waiting read is told its event's number, or the error.
struct Settler {
    checkpoint_dir: Option<PathBuf>,
    checkpointed: Option<std::time::Instant>,
}

impl Settler {
    fn settle(
        &mut self,
        committed: Result<(Vec<i64>, Option<ChainPoint>), StoreError>,
        waiters: Vec<Waiter>,
    ) {
        match committed {
            Ok((seqs, head)) => {
                let due = self
                    .checkpointed
                    .is_none_or(|at| at.elapsed() >= CHECKPOINT_EVERY);
                if let (true, Some(dir), Some(head)) = (due, &self.checkpoint_dir, head) {
                    self.checkpointed = Some(std::time::Instant::now());
                    if let Err(e) = write_checkpoint(dir, &head) {
                        tracing::warn!(error = %e, "could not write the audit checkpoint");
                    }
                }
                for (waiter, seq) in waiters.into_iter().zip(seqs) {
                    let _ = waiter.send(Ok(seq));
                }
            }
            Err(e) => {
                let message = e.to_string();
                tracing::error!(error = %message, events = waiters.len(), "audit group not committed");
                for waiter in waiters {
                    let _ = waiter.send(Err(message.clone()));
                }
            }
        }
    }
}

/// Replace the checkpoint atomically: a crash leaves the old one or the new.
pub fn write_checkpoint(dir: &Path, head: &ChainPoint) -> std::io::Result<()> {
    let text = serde_json::to_string(head).map_err(std::io::Error::other)?;
    let temporary = dir.join(format!("{CHECKPOINT_FILE}.tmp"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, dir.join(CHECKPOINT_FILE))
}

/// The checkpoint kept in `dir`, if there is one.
pub fn read_checkpoint(dir: &Path) -> std::io::Result<Option<ChainPoint>> {
    match std::fs::read_to_string(dir.join(CHECKPOINT_FILE)) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
