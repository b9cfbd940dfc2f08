//! Comparison patterns: for a pair of rows, the outcome code of every compared
//! column. Values are canonicalised once per row, not once per pair, because a row
//! takes part in many pairs.

use std::collections::HashMap;

use super::compare::{canonical, outcome_code};
use super::config::{Column, LinkageConfig};
use super::error::LinkageError;
use super::table::Table;

/// The compared columns of a run with both tables' values already canonical.
pub(crate) struct Comparator<'c> {
    columns: &'c [Column],
    /// `left[row][column]`, canonical or `None` when missing.
    left: Vec<Vec<Option<String>>>,
    right: Vec<Vec<Option<String>>>,
}

impl<'c> Comparator<'c> {
    pub(crate) fn new(
        config: &'c LinkageConfig,
        left: &Table,
        right: &Table,
    ) -> Result<Self, LinkageError> {
        let columns = config.columns();
        let prepare = |table: &Table, side: &'static str, right_side: bool| {
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
            Ok::<_, LinkageError>(
                (0..table.len())
                    .map(|row| {
                        columns
                            .iter()
                            .zip(&indexes)
                            .map(|(c, &i)| table.value(row, i).and_then(|v| canonical(c.kind, v)))
                            .collect()
                    })
                    .collect(),
            )
        };
        Ok(Self {
            columns,
            left: prepare(left, "left", false)?,
            right: prepare(right, "right", true)?,
        })
    }

    pub(crate) fn columns(&self) -> &[Column] {
        self.columns
    }

    pub(crate) fn left_len(&self) -> usize {
        self.left.len()
    }

    pub(crate) fn right_len(&self) -> usize {
        self.right.len()
    }

    /// The share of (left, right) pairs, among those with both values present,
    /// that are equal in `column`: exact from the values' frequencies, however
    /// rare, where a sample of random pairs would see none.
    pub(crate) fn exact_agreement(&self, column: usize) -> Option<f64> {
        let mut counts: HashMap<&str, (f64, f64)> = HashMap::new();
        let (mut left, mut right) = (0.0, 0.0);
        for v in self.left.iter().filter_map(|r| r.get(column)?.as_deref()) {
            counts.entry(v).or_default().0 += 1.0;
            left += 1.0;
        }
        for v in self.right.iter().filter_map(|r| r.get(column)?.as_deref()) {
            if let Some(c) = counts.get_mut(v) {
                c.1 += 1.0;
            }
            right += 1.0;
        }
        if left == 0.0 || right == 0.0 {
            return None;
        }
        let equal: f64 = counts.values().map(|(l, r)| l * r).sum();
        Some(equal / (left * right))
    }

    /// The outcome codes of one pair, one per compared column.
    pub(crate) fn pattern(&self, left: usize, right: usize) -> Result<Vec<u8>, LinkageError> {
        let (Some(l), Some(r)) = (self.left.get(left), self.right.get(right)) else {
            return Err(LinkageError::PairOutOfRange { left, right });
        };
        Ok(self
            .columns
            .iter()
            .zip(l.iter().zip(r))
            .map(|(c, (a, b))| outcome_code(&c.levels, a.as_deref(), b.as_deref()))
            .collect())
    }
}
