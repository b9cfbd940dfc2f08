//! The quality report's numbers for one batch: counts per rule, the first failing
//! rows, a score, and how they moved since the previous batch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check::{RowVerdict, Violation};
use super::rules::{RuleId, RuleSet};
use super::spec::Severity;

/// Failing rows kept inline in a report by default; the full list is the caller's
/// download.
pub const DEFAULT_INLINE_FAILURES: usize = 100;

/// Counts for one rule over a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    /// Rows the rule was evaluated on. Every row rule runs on every row (an empty
    /// value passes), so this is the number of rows seen; type and required counts
    /// come from the reader and also count every row.
    pub checked: u64,
    /// Rows on which the rule failed with `reject`.
    pub rejected: u64,
    /// Rows on which the rule failed with `warn`.
    pub warned: u64,
}

impl RuleCount {
    pub fn failed(&self) -> u64 {
        self.rejected + self.warned
    }
}

/// One failing row as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingRow {
    /// The row's line in the file (the header is line 1), or its 1-based
    /// place in the batch when it was counted without one.
    pub row: u64,
    /// The row's key values joined by `|`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(flatten)]
    pub violation: Violation,
}

/// The numbers of one batch's quality report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityTally {
    pub rows: u64,
    /// Rows not loaded.
    pub rejected_rows: u64,
    /// Rows loaded with at least one warning.
    pub warned_rows: u64,
    /// Rows loaded without any violation.
    pub clean_rows: u64,
    /// Per rule id; rules that never failed are listed with zero failures.
    pub rules: BTreeMap<RuleId, RuleCount>,
    /// Batch-level violations (row-count change).
    #[serde(default)]
    pub batch: Vec<Violation>,
    /// The first failing rows, up to `inline_limit` violations.
    #[serde(default)]
    pub failures: Vec<FailingRow>,
    pub inline_limit: usize,
}

/// How a rule's failures moved since the previous batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleDelta {
    pub rule: RuleId,
    /// `None` when the rule did not exist in that batch.
    pub previous_failed: Option<u64>,
    pub current_failed: Option<u64>,
    /// Change in the share of rows failing, in percentage points (one decimal).
    pub rate_change: f64,
}

/// A batch's report compared with the previous one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TallyComparison {
    pub previous_rows: u64,
    pub current_rows: u64,
    pub previous_score: f64,
    pub current_score: f64,
    /// Current minus previous score, in points (one decimal).
    pub score_change: f64,
    /// Rules whose failures changed, appeared or disappeared.
    pub rules: Vec<RuleDelta>,
}

fn one_decimal(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn rate(failed: u64, rows: u64) -> f64 {
    if rows == 0 {
        0.0
    } else {
        failed as f64 * 100.0 / rows as f64
    }
}

impl QualityTally {
    /// An empty tally listing every rule of `rules`, keeping `inline_limit` failures.
    pub fn new(rules: &RuleSet, inline_limit: usize) -> Self {
        let rules = rules
            .rules()
            .iter()
            .filter(|r| r.rule != "row_count_change")
            .map(|r| (r.id.clone(), RuleCount::default()))
            .collect();
        Self {
            rows: 0,
            rejected_rows: 0,
            warned_rows: 0,
            clean_rows: 0,
            rules,
            batch: Vec::new(),
            failures: Vec::new(),
            inline_limit,
        }
    }

    /// Count one row: its verdict from [`super::RowChecker::check`], or from
    /// [`RowVerdict::from_violations`] for a row the reader refused (type, required).
    pub fn record(&mut self, verdict: &RowVerdict) {
        self.record_at(self.rows + 1, verdict);
    }

    /// Count a row's verdict, listing its failures under `line`: the file's
    /// line number, as every report names rows (the header being line 1).
    pub fn record_at(&mut self, line: u64, verdict: &RowVerdict) {
        self.rows += 1;
        if verdict.reject {
            self.rejected_rows += 1;
        } else if verdict.violations.is_empty() {
            self.clean_rows += 1;
        } else {
            self.warned_rows += 1;
        }
        for v in &verdict.violations {
            // Type and required rules appear when they first fail.
            let count = self.rules.entry(v.rule.clone()).or_default();
            match v.severity {
                Severity::Reject => count.rejected += 1,
                Severity::Warn => count.warned += 1,
            }
            if self.failures.len() < self.inline_limit {
                self.failures.push(FailingRow {
                    row: line,
                    key: verdict.key.clone(),
                    violation: v.clone(),
                });
            }
        }
    }

    /// Record the batch-level violations (from [`super::BatchChecks`]).
    pub fn record_batch(&mut self, violations: Vec<Violation>) {
        self.batch.extend(violations);
    }

    /// Close the tally: every rule was evaluated on every row.
    pub fn finish(mut self) -> Self {
        for count in self.rules.values_mut() {
            count.checked = self.rows;
        }
        self
    }

    /// The share of rows loaded without any violation, 0-100 with one decimal:
    /// `100 × clean rows / rows`. Rejected rows and rows with a warning both count
    /// against it; batch-level violations do not (they are listed apart). An empty
    /// batch scores 100.
    pub fn score(&self) -> f64 {
        if self.rows == 0 {
            return 100.0;
        }
        one_decimal(self.clean_rows as f64 * 100.0 / self.rows as f64)
    }

    /// The rows the loader keeps.
    pub fn loaded_rows(&self) -> u64 {
        self.rows - self.rejected_rows
    }

    /// How this batch compares with `previous`: score change and, per rule, the change
    /// in the share of failing rows (so batches of different sizes compare).
    pub fn compare(&self, previous: &QualityTally) -> TallyComparison {
        let mut ids: Vec<&RuleId> = self.rules.keys().chain(previous.rules.keys()).collect();
        ids.sort();
        ids.dedup();
        let rules = ids
            .into_iter()
            .filter_map(|id| {
                let now = self.rules.get(id).map(RuleCount::failed);
                let before = previous.rules.get(id).map(RuleCount::failed);
                let change = one_decimal(
                    rate(now.unwrap_or(0), self.rows) - rate(before.unwrap_or(0), previous.rows),
                );
                let moved = now != before || change != 0.0;
                moved.then(|| RuleDelta {
                    rule: id.clone(),
                    previous_failed: before,
                    current_failed: now,
                    rate_change: change,
                })
            })
            .collect();
        TallyComparison {
            previous_rows: previous.rows,
            current_rows: self.rows,
            previous_score: previous.score(),
            current_score: self.score(),
            score_change: one_decimal(self.score() - previous.score()),
            rules,
        }
    }
}
