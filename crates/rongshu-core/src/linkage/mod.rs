//! Record linkage: matching records that carry no usable key to the persons (or any
//! rows) of another table, by blocking, Fellegi–Sunter scoring and EM estimation of
//! the m/u parameters without labels. Pure: tables come in, decisions come out.
//!
//! The pipeline is [`block`] (candidate pairs) → [`estimate`] (m, u, λ) → [`score`]
//! (weights, probability, decision per pair) → [`assign`] (each record in at most
//! one link, best first); [`link`] runs them all over two tables held whole,
//! and a [`Linker`] over a right side streamed past, keeping only what it needs.

mod assign;
mod blocking;
mod compare;
mod config;
mod em;
mod error;
mod linker;
mod pattern;
mod run;
mod score;
mod table;

pub use assign::assign;
pub use blocking::{BlockingReport, CandidatePair, RuleReport, block, block_with_report};
pub use compare::{Outcome, canonical, compare, surname};
pub use config::{
    Assignment, BlockingRule, ColumnSpec, ComparisonKind, DEFAULT_MAX_BLOCK_SIZE,
    DEFAULT_NON_MATCHES_KEPT, EmSettings, Level, LinkageConfig, LinkageSpec, Thresholds,
};
pub use em::{ColumnParameters, EmReport, ModelParameters, estimate};
pub use error::LinkageError;
pub use linker::{Linked, Linker};
pub use run::{LinkageRun, link};
pub use score::{ColumnEvidence, Decision, ScoredPair, score};
pub use table::{Row, Table};
