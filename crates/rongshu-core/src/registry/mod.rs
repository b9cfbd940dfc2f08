//! The base registries (基础库) and multi-source verification (多元校核):
//! values normalised for comparison, golden records assembled from each
//! element's authoritative source with provenance, witness values classified
//! against them, cross-registry checks, facts derived from keys, and the
//! correction tickets' lifecycle. Pure: the store feeds it observations.

pub mod derived;
pub mod normalise;
pub mod ticket;
pub mod verify;

pub use derived::{EntityFacts, PersonFacts, entity_facts, person_facts};
pub use normalise::{Normalised, ValueKind, normalise};
pub use ticket::{Answer, Answerer, TicketState};
pub use verify::{
    Classification, Conflict, ConflictKind, Context, Evidence, GoldenValue, Observation,
    RepresentativeFacts, Source, SubjectKind, Verified, conflict_key, verify_subject,
};
