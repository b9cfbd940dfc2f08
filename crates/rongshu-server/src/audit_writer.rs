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
use rongshu_store::{ChainPoint, Store};
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
    /// Start the writer task. `checkpoint_dir` is where the head is kept.
    pub fn start(store: Store, checkpoint_dir: Option<PathBuf>) -> Self {
        let (queue, mut incoming) = mpsc::channel::<(AuditEntry, Waiter)>(QUEUE);
        tokio::spawn(async move {
            let mut checkpointed: Option<std::time::Instant> = None;
            while let Some(first) = incoming.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match incoming.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                let (entries, waiters): (Vec<AuditEntry>, Vec<Waiter>) = group.into_iter().unzip();
                match store.append_audit_group(&entries).await {
                    Ok((seqs, head)) => {
                        let due = checkpointed.is_none_or(|at| at.elapsed() >= CHECKPOINT_EVERY);
                        if let (true, Some(dir), Some(head)) = (due, &checkpoint_dir, head) {
                            checkpointed = Some(std::time::Instant::now());
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
        });
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
