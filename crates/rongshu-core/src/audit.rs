//! The audit chain: each event's canonical text names its predecessor's hash, and
//! its own hash is the SHA-256 of that text. The text is stored exactly as it was
//! hashed, so verification never depends on how a database re-renders JSON.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::people::PersonHash;

/// The hash that the first event names as its predecessor.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, before it has a place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    /// RFC 3339 UTC time of the event.
    pub at: String,
    /// `user:<name>`, `app:<name>`, `cli`, or `anonymous`.
    pub actor: String,
    pub department: Option<String>,
    /// `auth.login`, `auth.login_failed`, `resource.create`, `batch.load`, `data.read`, …
    pub action: String,
    pub target: Option<String>,
    /// The resource read or changed, for data events.
    pub resource: Option<String>,
    /// Rows returned by a read, or loaded by a batch.
    pub rows: Option<i64>,
    pub detail: serde_json::Value,
}

/// An event with the people it touched (a read of personal data). The people
/// are kept beside the chain, in a side table linked by the event's number,
/// not in its hashed text: a page of a thousand rows must not make a
/// thousand-line event, and a person's reads are found by an index on them.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub record: AuditRecord,
    pub people: Vec<PersonHash>,
}

impl AuditEntry {
    pub fn new(record: AuditRecord, people: Vec<PersonHash>) -> Self {
        Self { record, people }
    }
}

impl From<AuditRecord> for AuditEntry {
    fn from(record: AuditRecord) -> Self {
        Self {
            record,
            people: Vec::new(),
        }
    }
}

/// The canonical form that is hashed and stored: the record plus its place.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    prev: &'a str,
    #[serde(flatten)]
    record: &'a AuditRecord,
}

/// The canonical text for an event at `seq` after `prev_hash`.
pub fn canonical_text(seq: i64, prev_hash: &str, record: &AuditRecord) -> String {
    let canonical = Canonical {
        seq,
        prev: prev_hash,
        record,
    };
    // Serialising plain strings, integers and JSON values cannot fail.
    serde_json::to_string(&canonical).unwrap_or_default()
}

pub fn hash_text(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// One stored event as the verifier reads it back.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    pub canonical: String,
}

/// Why the chain is broken at an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("event {seq}: its text does not match its hash (the event was altered)")]
    HashMismatch { seq: i64 },
    #[error("event {seq}: it names a predecessor hash that is not the previous event's")]
    BrokenLink { seq: i64 },
    #[error("event {seq}: expected sequence number {expected} (an event is missing)")]
    Gap { seq: i64, expected: i64 },
    #[error("event {seq}: its text does not carry its own sequence number and predecessor")]
    Misplaced { seq: i64 },
}

/// Walks the chain in order, one event at a time, in constant memory.
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
        }
    }
}

#[derive(serde::Deserialize)]
struct Place {
    seq: i64,
    prev: String,
}

impl ChainVerifier {
    pub fn check(&mut self, event: &StoredEvent) -> Result<(), ChainBreak> {
        let seq = event.seq;
        if seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                seq,
                expected: self.expected_seq,
            });
        }
        if event.prev_hash != self.prev_hash {
            return Err(ChainBreak::BrokenLink { seq });
        }
        if hash_text(&event.canonical) != event.hash {
            return Err(ChainBreak::HashMismatch { seq });
        }
        let place: Place =
            serde_json::from_str(&event.canonical).map_err(|_| ChainBreak::Misplaced { seq })?;
        if place.seq != seq || place.prev != event.prev_hash {
            return Err(ChainBreak::Misplaced { seq });
        }
        self.expected_seq += 1;
        self.prev_hash = event.hash.clone();
        self.checked += 1;
        Ok(())
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last event checked: the head of the chain.
    pub fn head(&self) -> &str {
        &self.prev_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str) -> AuditRecord {
        AuditRecord {
            at: "2026-01-01T00:00:00Z".into(),
            actor: "cli".into(),
            department: None,
            action: action.into(),
            target: None,
            resource: None,
            rows: None,
            detail: serde_json::json!({}),
        }
    }

    fn chain(n: i64) -> Vec<StoredEvent> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let canonical = canonical_text(seq, &prev, &record("x"));
                let hash = hash_text(&canonical);
                let ev = StoredEvent {
                    seq,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    canonical,
                };
                prev = hash;
                ev
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let mut v = ChainVerifier::default();
        for ev in chain(5) {
            v.check(&ev).unwrap();
        }
        assert_eq!(v.checked(), 5);
    }

    #[test]
    fn a_changed_byte_is_found_at_its_event() {
        let mut events = chain(5);
        events[2].canonical = events[2].canonical.replace("\"x\"", "\"y\"");
        let mut v = ChainVerifier::default();
        let err = events.iter().find_map(|e| v.check(e).err()).unwrap();
        assert_eq!(err, ChainBreak::HashMismatch { seq: 3 });
    }

    #[test]
    fn a_removed_event_is_a_gap() {
        let mut events = chain(5);
        events.remove(1);
        let mut v = ChainVerifier::default();
        let err = events.iter().find_map(|e| v.check(e).err()).unwrap();
        assert_eq!(
            err,
            ChainBreak::Gap {
                seq: 3,
                expected: 2
            }
        );
    }
}
