//! Assignment: after scoring, each record takes part in at most one link (or
//! one review), the best-scoring pair first. Without it a person with a
//! namesake born the same day, or a record typed twice, would be linked twice.

use std::collections::{HashMap, HashSet};

use super::config::Assignment;
use super::score::{Decision, ScoredPair};

/// Scores closer than this are the same score.
const TIE: f64 = 1e-9;

/// Applies `assignment` to scored pairs in place. Pairs are taken best score
/// first; a link or review pair whose left (and, one to one, right) record was
/// already taken by a better pair becomes a non-match marked `displaced`.
///
/// Two link pairs of one record with the same best score cannot be told apart
/// by the model (two registry entries that agree on everything compared): the
/// record is not linked to either on a coin toss; both go to clerical review.
pub fn assign(pairs: &mut [ScoredPair], assignment: Assignment) {
    if assignment == Assignment::All {
        return;
    }
    let one_to_one = assignment == Assignment::OneToOne;
    ambiguous_to_review(pairs, one_to_one);
    let mut order: Vec<usize> = (0..pairs.len())
        .filter(|&i| {
            pairs
                .get(i)
                .is_some_and(|p| p.decision != Decision::NonMatch)
        })
        .collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&pairs[a], &pairs[b]);
        pb.weight
            .total_cmp(&pa.weight)
            .then_with(|| pa.pair.cmp(&pb.pair))
    });
    let mut left_taken = HashSet::new();
    let mut right_taken = HashSet::new();
    for i in order {
        let Some(p) = pairs.get_mut(i) else { continue };
        let taken = left_taken.contains(&p.pair.left)
            || (one_to_one && right_taken.contains(&p.pair.right));
        if taken {
            p.decision = Decision::NonMatch;
            p.displaced = true;
        } else {
            left_taken.insert(p.pair.left);
            right_taken.insert(p.pair.right);
        }
    }
}

/// Link pairs that tie for a record's best score go to review instead.
fn ambiguous_to_review(pairs: &mut [ScoredPair], one_to_one: bool) {
    let mut best_left: HashMap<usize, (f64, usize)> = HashMap::new();
    let mut best_right: HashMap<usize, (f64, usize)> = HashMap::new();
    let note = |best: &mut HashMap<usize, (f64, usize)>, key: usize, w: f64| {
        let e = best.entry(key).or_insert((w, 0));
        if w > e.0 + TIE {
            *e = (w, 1);
        } else if (w - e.0).abs() <= TIE {
            e.1 += 1;
        }
    };
    for p in pairs.iter().filter(|p| p.decision == Decision::Link) {
        note(&mut best_left, p.pair.left, p.weight);
        if one_to_one {
            note(&mut best_right, p.pair.right, p.weight);
        }
    }
    let tied = |best: &HashMap<usize, (f64, usize)>, key: usize, w: f64| {
        best.get(&key)
            .is_some_and(|(b, n)| *n > 1 && (w - b).abs() <= TIE)
    };
    for p in pairs.iter_mut().filter(|p| p.decision == Decision::Link) {
        if tied(&best_left, p.pair.left, p.weight)
            || (one_to_one && tied(&best_right, p.pair.right, p.weight))
        {
            p.decision = Decision::Review;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linkage::CandidatePair;

    fn pair(left: usize, right: usize, weight: f64, decision: Decision) -> ScoredPair {
        ScoredPair {
            pair: CandidatePair { left, right },
            left_id: format!("l{left}"),
            right_id: format!("r{right}"),
            weight,
            probability: 0.0,
            evidence: vec![],
            decision,
            displaced: false,
        }
    }

    fn decisions(pairs: &[ScoredPair]) -> Vec<(Decision, bool)> {
        pairs.iter().map(|p| (p.decision, p.displaced)).collect()
    }

    use Decision::{Link, NonMatch, Review};

    #[test]
    fn one_to_one_keeps_the_best_pair_of_each_record() {
        let mut pairs = vec![
            pair(0, 0, 20.0, Link),
            pair(0, 1, 15.0, Link),   // left 0 already taken
            pair(1, 0, 18.0, Link),   // right 0 already taken
            pair(1, 1, 12.0, Review), // free: stays for review
            pair(2, 2, -5.0, NonMatch),
        ];
        assign(&mut pairs, Assignment::OneToOne);
        assert_eq!(
            decisions(&pairs),
            [
                (Link, false),
                (NonMatch, true),
                (NonMatch, true),
                (Review, false),
                (NonMatch, false)
            ]
        );
    }

    #[test]
    fn left_unique_lets_a_right_record_take_several() {
        let mut pairs = vec![
            pair(0, 0, 20.0, Link),
            pair(1, 0, 18.0, Link),
            pair(1, 1, 10.0, Link),
        ];
        assign(&mut pairs, Assignment::LeftUnique);
        assert_eq!(
            decisions(&pairs),
            [(Link, false), (Link, false), (NonMatch, true)]
        );
        let mut all = vec![pair(0, 0, 20.0, Link), pair(0, 1, 18.0, Link)];
        assign(&mut all, Assignment::All);
        assert_eq!(decisions(&all), [(Link, false), (Link, false)]);
    }

    #[test]
    fn a_tie_for_the_best_link_goes_to_review() {
        // Same name, same birth date, nothing else compared: the model cannot tell.
        let mut pairs = vec![pair(0, 0, 14.0, Link), pair(0, 1, 14.0, Link)];
        assign(&mut pairs, Assignment::OneToOne);
        assert_eq!(decisions(&pairs), [(Review, false), (NonMatch, true)]);
    }
}
