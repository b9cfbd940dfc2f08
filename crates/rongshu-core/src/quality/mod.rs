//! Quality rules for delivered batches: the checks built in from the catalog (item
//! kinds, lengths, key uniqueness) and the ones a provider declares per resource,
//! evaluated row by row, and the numbers of the batch's quality report.
//!
//! Type and required checks happen in the reader; it records them here with
//! [`Violation::type_error`] and [`Violation::required`] so the report counts them.

mod check;
mod repeats;
mod rules;
mod spec;
mod tally;

pub use check::{BatchChecks, InMemoryReferences, ReferenceSet, RowChecker, RowVerdict, Violation};
pub use repeats::{RepeatRule, RowDigests};
pub use rules::{RuleError, RuleId, RuleInfo, RuleSet};
pub use spec::{Bound, RuleSpec, Severity};
pub use tally::{
    DEFAULT_INLINE_FAILURES, FailingRow, QualityTally, RuleCount, RuleDelta, TallyComparison,
};
