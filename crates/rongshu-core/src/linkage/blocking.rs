//! Blocking: the candidate pairs worth comparing. Each rule pairs the rows whose
//! values agree on all its columns; the rules are unioned and each pair kept once,
//! so comparing stays near-linear instead of left × right.

use serde::{Deserialize, Serialize};

use super::compare::canonical;
use super::config::{ComparisonKind, LinkageConfig};
use super::error::LinkageError;
use super::linker::Linker;
use super::table::Table;

/// A pair of row indexes, left table first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CandidatePair {
    pub left: usize,
    pub right: usize,
}

/// A blocking column resolved to its index on each side and its normalisation.
pub(crate) struct KeyColumn {
    pub(crate) left: usize,
    pub(crate) right: usize,
    kind: ComparisonKind,
}

/// What one blocking rule did: how many blocks (values present on both
/// sides) it found, the pairs it proposed, and the blocks it skipped for being
/// larger than the configured cap. Counts only: a skipped key (a surname, a
/// birth date) is not repeated here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleReport {
    pub columns: Vec<String>,
    pub blocks: usize,
    /// Pairs this rule proposed (some may also come from another rule).
    pub pairs: usize,
    pub skipped_blocks: usize,
    /// Pairs the skipped blocks would have made.
    pub skipped_pairs: usize,
    /// The size (left rows × right rows) of the largest skipped block.
    pub largest_skipped: usize,
}

/// Blocking's account of itself: the cap, each rule, and the candidate pairs
/// after the rules were unioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingReport {
    pub max_block_size: usize,
    pub rules: Vec<RuleReport>,
    pub candidate_pairs: usize,
}

impl BlockingReport {
    pub fn skipped_blocks(&self) -> usize {
        self.rules.iter().map(|r| r.skipped_blocks).sum()
    }
}

/// The candidate pairs of every blocking rule, unioned, sorted and without repeats.
pub fn block(
    config: &LinkageConfig,
    left: &Table,
    right: &Table,
) -> Result<Vec<CandidatePair>, LinkageError> {
    Ok(block_with_report(config, left, right)?.0)
}

/// [`block`] with its report. Blocks larger than the configuration's
/// `max_block_size` (left rows × right rows) are skipped, so a common surname
/// or birth date cannot make the candidates quadratic; the rows in them still
/// meet through the other rules.
pub fn block_with_report(
    config: &LinkageConfig,
    left: &Table,
    right: &Table,
) -> Result<(Vec<CandidatePair>, BlockingReport), LinkageError> {
    // One blocking for both ways in: the right rows stream through a linker.
    let mut linker = Linker::new(config.clone(), left.clone(), right.columns().to_vec())?;
    for row in right.rows() {
        linker.push_right(&row.id, &row.values)?;
    }
    Ok(linker.blocked())
}

/// A blocking column is normalised like the compared column of that name (so
/// 1990/3/7 meets 1990-03-07); a column that is not compared is matched exactly.
pub(crate) fn resolve(
    config: &LinkageConfig,
    left: &Table,
    right: &Table,
    name: &str,
) -> Result<KeyColumn, LinkageError> {
    let (right_name, kind) = config
        .column(name)
        .map_or((name, ComparisonKind::Exact), |c| {
            (c.right_name.as_str(), c.kind)
        });
    let left_index = left
        .column_index(name)
        .ok_or_else(|| LinkageError::UnknownColumn {
            side: "left",
            column: name.to_owned(),
        })?;
    let right_index =
        right
            .column_index(right_name)
            .ok_or_else(|| LinkageError::UnknownColumn {
                side: "right",
                column: right_name.to_owned(),
            })?;
    Ok(KeyColumn {
        left: left_index,
        right: right_index,
        kind,
    })
}

/// The rule's key for a row, `None` when any part is missing: a blank value must
/// not pair every blank row with every other.
pub(crate) fn key_of<'a>(
    keys: &[KeyColumn],
    value: impl Fn(&KeyColumn) -> Option<&'a str>,
) -> Option<Vec<String>> {
    keys.iter()
        .map(|k| value(k).and_then(|v| canonical(k.kind, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linkage::config::LinkageSpec;

    fn table(rows: &[(&str, &str, Option<&str>)]) -> Table {
        let mut t = Table::new(vec!["name".into(), "birth_date".into(), "phone".into()]);
        for (i, (n, d, p)) in rows.iter().enumerate() {
            t.push(
                i.to_string(),
                vec![Some((*n).into()), Some((*d).into()), p.map(Into::into)],
            )
            .unwrap();
        }
        t
    }

    fn config(blocking: &str) -> LinkageConfig {
        capped(blocking, 10_000)
    }

    fn capped(blocking: &str, cap: usize) -> LinkageConfig {
        let spec: LinkageSpec = serde_json::from_str(&format!(
            r#"{{"columns": [{{"name": "name", "kind": "chinese_name"}},
                            {{"name": "birth_date", "kind": "date"}},
                            {{"name": "phone", "kind": "phone"}}],
                "blocking": {blocking},
                "thresholds": {{"link": 0.9, "review": 0.5}},
                "max_block_size": {cap}}}"#
        ))
        .unwrap();
        LinkageConfig::parse(spec).unwrap()
    }

    #[test]
    fn a_block_over_the_cap_is_skipped_and_reported() {
        // Three 王伟 on the left, four on the right, all born on different days:
        // the name block would make 12 pairs; the cap is 10.
        let left = table(&[
            ("王伟", "1990-01-01", None),
            ("王伟", "1991-01-01", None),
            ("王伟", "1992-01-01", None),
            ("李娜", "1985-05-05", None),
        ]);
        let right = table(&[
            ("王伟", "1990-01-01", None),
            ("王伟", "1993-01-01", None),
            ("王伟", "1994-01-01", None),
            ("王伟", "1995-01-01", None),
            ("李娜", "1985-05-05", None),
        ]);
        let config = capped(
            r#"[{"columns": ["name"]}, {"columns": ["birth_date"]}]"#,
            10,
        );
        let (pairs, report) = block_with_report(&config, &left, &right).unwrap();
        // The 王伟 who share a birth date still meet through the date rule.
        assert_eq!(
            pairs,
            [
                CandidatePair { left: 0, right: 0 },
                CandidatePair { left: 3, right: 4 }
            ]
        );
        let name = &report.rules[0];
        assert_eq!(
            (
                name.blocks,
                name.pairs,
                name.skipped_blocks,
                name.skipped_pairs,
                name.largest_skipped
            ),
            (2, 1, 1, 12, 12)
        );
        assert_eq!(report.rules[1].skipped_blocks, 0);
        assert_eq!(report.candidate_pairs, 2);
        assert_eq!(report.skipped_blocks(), 1);
        // Without the cap the block is paired whole.
        let open = capped(r#"[{"columns": ["name"]}]"#, 12);
        assert_eq!(block(&open, &left, &right).unwrap().len(), 13);
    }

    #[test]
    fn rules_are_unioned_and_pairs_kept_once() {
        let left = table(&[
            ("王小明", "1990-03-07", Some("13800138000")),
            ("李四", "1985-01-01", None),
        ]);
        let right = table(&[
            ("王小明", "1990/3/7", Some("13800138000")),
            ("张三", "1985-01-01", None),
            ("赵六", "2000-01-01", None),
        ]);
        let pairs = block(
            &config(r#"[{"columns": ["birth_date"]}, {"columns": ["phone"]}, {"columns": ["name", "birth_date"]}]"#),
            &left,
            &right,
        )
        .unwrap();
        assert_eq!(
            pairs,
            [
                CandidatePair { left: 0, right: 0 },
                CandidatePair { left: 1, right: 1 }
            ]
        );
    }

    #[test]
    fn missing_values_do_not_block_together() {
        let left = table(&[("王", "1990-03-07", None)]);
        let right = table(&[("李", "2000-01-01", None)]);
        let pairs = block(&config(r#"[{"columns": ["phone"]}]"#), &left, &right).unwrap();
        assert!(pairs.is_empty());
    }

    #[test]
    fn an_unknown_blocking_column_is_an_error() {
        let t = table(&[]);
        assert!(matches!(
            block(&config(r#"[{"columns": ["hukou"]}]"#), &t, &t),
            Err(LinkageError::UnknownColumn { side: "left", .. })
        ));
    }
}
