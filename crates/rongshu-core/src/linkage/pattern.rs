//! Comparison patterns: for a pair of rows, the outcome code of every compared
//! column. Values are canonicalised once per row, not once per pair, because a row
//! takes part in many pairs.

use std::collections::HashMap;

use super::compare::{canonical, outcome_code};
use super::config::{Column, Level, LinkageConfig};
use super::error::LinkageError;
use super::table::Table;

/// A row's compared values in canonical form, `None` where missing.
pub(crate) type Canonical = Vec<Option<String>>;

/// The counts behind the chance that a random pair agrees exactly in one
/// column: each left value's count on both sides, and how many values each
/// side has. Right values no left row has are only counted.
pub(crate) struct ExactTally {
    counts: HashMap<String, (f64, f64)>,
    left: f64,
    right: f64,
}

impl ExactTally {
    pub(crate) fn of_left(rows: &[Canonical], column: usize) -> Self {
        let mut counts: HashMap<String, (f64, f64)> = HashMap::new();
        let mut left = 0.0;
        for v in rows.iter().filter_map(|r| r.get(column)?.as_deref()) {
            counts.entry(v.to_owned()).or_default().0 += 1.0;
            left += 1.0;
        }
        Self {
            counts,
            left,
            right: 0.0,
        }
    }

    pub(crate) fn add_right(&mut self, value: Option<&str>) {
        let Some(v) = value else { return };
        if let Some(c) = self.counts.get_mut(v) {
            c.1 += 1.0;
        }
        self.right += 1.0;
    }

    /// The share of (left, right) pairs, among those with both values
    /// present, that are equal: exact from the values' frequencies, however
    /// rare, where a sample of random pairs would see none.
    pub(crate) fn agreement(&self) -> Option<f64> {
        if self.left == 0.0 || self.right == 0.0 {
            return None;
        }
        let equal: f64 = self.counts.values().map(|(l, r)| l * r).sum();
        Some(equal / (self.left * self.right))
    }
}

/// The compared columns of a run with both sides' values already canonical.
pub(crate) struct Comparator<'c> {
    columns: &'c [Column],
    left: Vec<Canonical>,
    /// The right rows pairs may point at.
    right: Vec<Canonical>,
    /// How many right rows there were in all (more than `right` when only
    /// the rows that met a left row were kept).
    right_total: usize,
    /// A uniform sample of all right rows for random pairs; `None`: `right`
    /// is every row.
    sample: Option<Vec<Canonical>>,
    /// Per column, the chance of exact agreement of a random pair (columns
    /// whose closest level is exact).
    exact: Vec<Option<f64>>,
}

impl<'c> Comparator<'c> {
    /// Both tables whole.
    pub(crate) fn new(
        config: &'c LinkageConfig,
        left: &Table,
        right: &Table,
    ) -> Result<Self, LinkageError> {
        let left = Self::canonical_rows(config, left, "left", false)?;
        let right = Self::canonical_rows(config, right, "right", true)?;
        let exact = config
            .columns()
            .iter()
            .enumerate()
            .map(|(c, column)| {
                if column.levels.first() != Some(&Level::Exact) {
                    return None;
                }
                let mut tally = ExactTally::of_left(&left, c);
                for row in &right {
                    tally.add_right(row.get(c).and_then(|v| v.as_deref()));
                }
                tally.agreement()
            })
            .collect();
        Ok(Self {
            columns: config.columns(),
            right_total: right.len(),
            left,
            right,
            sample: None,
            exact,
        })
    }

    /// Gathered by a run that streamed the right side (see `Linker`).
    pub(crate) fn from_parts(
        columns: &'c [Column],
        left: Vec<Canonical>,
        right: Vec<Canonical>,
        right_total: usize,
        sample: Vec<Canonical>,
        exact: Vec<Option<f64>>,
    ) -> Self {
        Self {
            columns,
            left,
            right,
            right_total,
            sample: Some(sample),
            exact,
        }
    }

    /// Every row's compared values, canonical, in the columns' order.
    pub(crate) fn canonical_rows(
        config: &LinkageConfig,
        table: &Table,
        side: &'static str,
        right_side: bool,
    ) -> Result<Vec<Canonical>, LinkageError> {
        let columns = config.columns();
        let indexes = columns
            .iter()
            .map(|c| {
                let name = if right_side { &c.right_name } else { &c.name };
                table
                    .column_index(name)
                    .ok_or_else(|| LinkageError::UnknownColumn {
                        side,
                        column: name.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((0..table.len())
            .map(|row| {
                columns
                    .iter()
                    .zip(&indexes)
                    .map(|(c, &i)| table.value(row, i).and_then(|v| canonical(c.kind, v)))
                    .collect()
            })
            .collect())
    }

    pub(crate) fn columns(&self) -> &[Column] {
        self.columns
    }

    pub(crate) fn left_len(&self) -> usize {
        self.left.len()
    }

    /// Right rows in all, kept or not.
    pub(crate) fn right_len(&self) -> usize {
        self.right_total
    }

    fn sample_rows(&self) -> &[Canonical] {
        self.sample.as_deref().unwrap_or(&self.right)
    }

    /// Rows in the random-pair sample of the right side; every right row
    /// when there are no more than the sample holds.
    pub(crate) fn sample_len(&self) -> usize {
        self.sample_rows().len()
    }

    pub(crate) fn exact_agreement(&self, column: usize) -> Option<f64> {
        self.exact.get(column).copied().flatten()
    }

    /// The outcome codes of one pair, one per compared column.
    pub(crate) fn pattern(&self, left: usize, right: usize) -> Result<Vec<u8>, LinkageError> {
        match (self.left.get(left), self.right.get(right)) {
            (Some(l), Some(r)) => Ok(self.codes(l, r)),
            _ => Err(LinkageError::PairOutOfRange { left, right }),
        }
    }

    /// The outcome codes of a left row and a row of the right side's sample.
    pub(crate) fn sample_pattern(
        &self,
        left: usize,
        sampled: usize,
    ) -> Result<Vec<u8>, LinkageError> {
        match (self.left.get(left), self.sample_rows().get(sampled)) {
            (Some(l), Some(r)) => Ok(self.codes(l, r)),
            _ => Err(LinkageError::PairOutOfRange {
                left,
                right: sampled,
            }),
        }
    }

    fn codes(&self, l: &Canonical, r: &Canonical) -> Vec<u8> {
        self.columns
            .iter()
            .zip(l.iter().zip(r))
            .map(|(c, (a, b))| outcome_code(&c.levels, a.as_deref(), b.as_deref()))
            .collect()
    }
}
