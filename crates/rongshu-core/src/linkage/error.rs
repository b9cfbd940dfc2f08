//! Why a linkage configuration, table or parameter set was refused.

use super::config::{ComparisonKind, Level};

/// Everything the linkage engine refuses; each names what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkageError {
    #[error("a linkage configuration needs at least one compared column")]
    NoColumns,
    #[error("column `{0}` is compared twice")]
    DuplicateColumn(String),
    #[error("column `{0}` has no comparison levels")]
    NoLevels(String),
    #[error("column `{column}` lists level `{level:?}` twice")]
    DuplicateLevel { column: String, level: Level },
    #[error("level `{level:?}` does not apply to a {kind:?} comparison (column `{column}`)")]
    LevelNotForKind {
        column: String,
        level: Level,
        kind: ComparisonKind,
    },
    #[error("a linkage configuration needs at least one blocking rule")]
    NoBlockingRules,
    #[error("blocking rule {0} lists no columns")]
    EmptyBlockingRule(usize),
    #[error("the {side} table has no column `{column}`")]
    UnknownColumn { side: &'static str, column: String },
    #[error("thresholds must satisfy 0 ≤ review ≤ link ≤ 1 (got review {review}, link {link})")]
    Thresholds { review: f64, link: f64 },
    #[error("max_block_size must be at least 1")]
    MaxBlockSize,
    #[error("EM settings: {0}")]
    EmSettings(&'static str),
    #[error("row `{id}` has {got} values but the table has {expected} columns")]
    RowWidth {
        id: String,
        expected: usize,
        got: usize,
    },
    #[error("candidate pair ({left}, {right}) points outside the tables")]
    PairOutOfRange { left: usize, right: usize },
    #[error("model parameters do not fit the configuration: {0}")]
    ParameterMismatch(String),
}
