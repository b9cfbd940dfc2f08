//! Fellegi–Sunter scoring of candidate pairs with estimated parameters: per-column
//! outcome and weight (the evidence a clerk sees side by side), the summed weight,
//! the match probability and the decision.

use serde::{Deserialize, Serialize};

use super::blocking::CandidatePair;
use super::compare::Outcome;
use super::config::{LinkageConfig, Thresholds};
use super::em::{ModelParameters, probability_from_weight};
use super::error::LinkageError;
use super::pattern::Comparator;
use super::table::Table;

/// What happens to a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Link,
    /// Uncertain: goes to the clerical review queue.
    Review,
    NonMatch,
}

impl Decision {
    pub fn from_probability(p: f64, t: Thresholds) -> Self {
        if p >= t.link {
            Self::Link
        } else if p >= t.review {
            Self::Review
        } else {
            Self::NonMatch
        }
    }
}

/// One column's part in a pair's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnEvidence {
    pub column: String,
    pub outcome: Outcome,
    /// log2(m/u) of the outcome; 0 when missing.
    pub weight: f64,
}

/// A scored candidate pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPair {
    pub pair: CandidatePair,
    pub left_id: String,
    pub right_id: String,
    pub weight: f64,
    pub probability: f64,
    pub evidence: Vec<ColumnEvidence>,
    pub decision: Decision,
    /// Scored as a link or for review, but a better pair took one of its
    /// records (see [`super::assign`]); its decision is then non-match.
    #[serde(default)]
    pub displaced: bool,
}

/// Scores every candidate pair with `params`.
pub fn score(
    config: &LinkageConfig,
    params: &ModelParameters,
    left: &Table,
    right: &Table,
    pairs: &[CandidatePair],
) -> Result<Vec<ScoredPair>, LinkageError> {
    let comparator = Comparator::new(config, left, right)?;
    score_with(&comparator, config.thresholds(), params, left, right, pairs)
}

pub(crate) fn score_with(
    comparator: &Comparator<'_>,
    thresholds: Thresholds,
    params: &ModelParameters,
    left: &Table,
    right: &Table,
    pairs: &[CandidatePair],
) -> Result<Vec<ScoredPair>, LinkageError> {
    check_fit(comparator, params)?;
    pairs
        .iter()
        .map(|&pair| score_pair(comparator, thresholds, params, left, right, pair))
        .collect()
}

/// As [`score_with`], keeping of each left record's non-matches only its
/// `keep_non_matches` best (a clerk asking why a record was not linked looks
/// at its nearest candidates, not at its hundredth namesake): a left record
/// of millions of candidates then holds a few. Links and review pairs are all
/// kept. `pairs` come sorted by left row, as blocking gives them; also
/// returns how many non-matches were let go.
pub(crate) fn score_pruned(
    comparator: &Comparator<'_>,
    thresholds: Thresholds,
    params: &ModelParameters,
    (left, right): (&Table, &Table),
    pairs: &[CandidatePair],
    keep_non_matches: usize,
) -> Result<(Vec<ScoredPair>, usize), LinkageError> {
    check_fit(comparator, params)?;
    let mut kept = Vec::new();
    let mut dropped = 0;
    let mut non_matches: Vec<ScoredPair> = Vec::new();
    let mut flush = |non_matches: &mut Vec<ScoredPair>, kept: &mut Vec<ScoredPair>| {
        non_matches.sort_by(|a, b| {
            b.probability
                .total_cmp(&a.probability)
                .then(a.pair.cmp(&b.pair))
        });
        if non_matches.len() > keep_non_matches {
            dropped += non_matches.len() - keep_non_matches;
            non_matches.truncate(keep_non_matches);
        }
        kept.append(non_matches);
    };
    let mut current = None;
    for &pair in pairs {
        if current != Some(pair.left) {
            flush(&mut non_matches, &mut kept);
            current = Some(pair.left);
        }
        let scored = score_pair(comparator, thresholds, params, left, right, pair)?;
        if scored.decision == Decision::NonMatch {
            non_matches.push(scored);
        } else {
            kept.push(scored);
        }
    }
    flush(&mut non_matches, &mut kept);
    kept.sort_by_key(|p| p.pair);
    Ok((kept, dropped))
}

/// Parameters may come from an earlier run: they must describe these columns.
fn check_fit(comparator: &Comparator<'_>, params: &ModelParameters) -> Result<(), LinkageError> {
    let fits = params.columns.len() == comparator.columns().len()
        && params
            .columns
            .iter()
            .zip(comparator.columns())
            .all(|(p, c)| {
                p.column == c.name && p.m.len() == c.levels.len() + 1 && p.u.len() == p.m.len()
            });
    if fits {
        Ok(())
    } else {
        Err(LinkageError::ParameterMismatch(
            "columns or level counts differ".into(),
        ))
    }
}

fn score_pair(
    comparator: &Comparator<'_>,
    thresholds: Thresholds,
    params: &ModelParameters,
    left: &Table,
    right: &Table,
    pair: CandidatePair,
) -> Result<ScoredPair, LinkageError> {
    let pattern = comparator.pattern(pair.left, pair.right)?;
    let evidence: Vec<ColumnEvidence> = params
        .columns
        .iter()
        .zip(&pattern)
        .map(|(c, &code)| ColumnEvidence {
            column: c.column.clone(),
            outcome: c.outcome(code),
            weight: c.weight(code),
        })
        .collect();
    let weight = evidence.iter().map(|e| e.weight).sum();
    let probability = probability_from_weight(params.lambda, weight);
    let id = |t: &Table, i: usize| t.rows().get(i).map(|r| r.id.clone());
    let (Some(left_id), Some(right_id)) = (id(left, pair.left), id(right, pair.right)) else {
        return Err(LinkageError::PairOutOfRange {
            left: pair.left,
            right: pair.right,
        });
    };
    Ok(ScoredPair {
        pair,
        left_id,
        right_id,
        weight,
        probability,
        evidence,
        decision: Decision::from_probability(probability, thresholds),
        displaced: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_split_into_three_decisions() {
        let t = Thresholds {
            link: 0.9,
            review: 0.5,
        };
        assert_eq!(Decision::from_probability(0.95, t), Decision::Link);
        assert_eq!(Decision::from_probability(0.9, t), Decision::Link);
        assert_eq!(Decision::from_probability(0.7, t), Decision::Review);
        assert_eq!(Decision::from_probability(0.1, t), Decision::NonMatch);
    }

    #[test]
    fn parameters_for_other_columns_are_refused() {
        let spec: crate::linkage::LinkageSpec = serde_json::from_str(
            r#"{"columns": [{"name": "name", "kind": "chinese_name"}],
                "blocking": [{"columns": ["name"]}],
                "thresholds": {"link": 0.9, "review": 0.5}}"#,
        )
        .unwrap();
        let config = LinkageConfig::parse(spec).unwrap();
        let mut t = Table::new(vec!["name".into()]);
        t.push("a".into(), vec![Some("王伟".into())]).unwrap();
        let params = ModelParameters {
            lambda: 0.5,
            columns: vec![],
        };
        let pairs = [CandidatePair { left: 0, right: 0 }];
        assert!(matches!(
            score(&config, &params, &t, &t, &pairs),
            Err(LinkageError::ParameterMismatch(_))
        ));
    }
}
