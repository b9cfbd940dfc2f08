//! The batch report: what a provider is told about a delivered file.

use serde::Serialize;

/// One rejected row: its file line (the header is line 1), its key where it
/// could be read, the item at fault and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    pub row: u64,
    pub key: Option<String>,
    pub item: Option<String>,
    pub reason: String,
}

/// Rejects kept for the inline report: the first `cap`, with the total counted.
#[derive(Debug, Clone)]
pub struct RejectList {
    cap: usize,
    kept: Vec<Reject>,
    total: u64,
}

impl RejectList {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            kept: Vec::new(),
            total: 0,
        }
    }

    pub fn push(&mut self, reject: Reject) {
        self.total += 1;
        if self.kept.len() < self.cap {
            self.kept.push(reject);
        }
    }

    /// The list once rows found rejected later (repeats found where the rows
    /// were staged) are counted: `first` is every reject in row order, as far
    /// as the list keeps them, and `added` the rows newly rejected.
    pub fn amend(&mut self, mut first: Vec<Reject>, added: u64) {
        first.truncate(self.cap);
        self.kept = first;
        self.total += added;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn into_kept(self) -> Vec<Reject> {
        self.kept
    }
}

/// The answer to a delivered batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    pub batch_id: String,
    pub resource: String,
    pub encoding: String,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_rejected: u64,
    /// The first rejects; `rejects_truncated` says when there were more.
    pub rejects: Vec<Reject>,
    pub rejects_truncated: bool,
    /// Header columns that name no item and were skipped.
    pub ignored_columns: Vec<String>,
}
