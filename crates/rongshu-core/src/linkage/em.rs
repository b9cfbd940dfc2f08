//! Expectation–maximisation of the Fellegi–Sunter parameters without labels: the
//! candidate pairs are a mixture of matches (outcomes drawn from m) and non-matches
//! (drawn from u) in proportion λ; EM finds m, u and λ that explain them best under
//! the usual assumption that columns agree independently given the class. By
//! default u stays at its random-pair estimate (see [`EmSettings::estimate_u`]).
//!
//! Blocking makes the candidates agree on the blocking columns whether they
//! match or not (namesakes blocked on name), which random-pair u cannot know:
//! left as it is, EM explains every namesake as a match with a different birth
//! date. So EM runs once per blocking rule, over the pairs that rule alone
//! proposes, with the rule's own columns left out of the model; each column's m
//! is the mean of the sessions that could learn it. Scores then use every
//! column with the random-pair u and the prior of a *random* pair being a match
//! (the expected matches over left × right), so a pair's probability does not
//! depend on which rule found it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::blocking::CandidatePair;
use super::compare::{MISSING, Outcome};
use super::config::{EmSettings, Level, LinkageConfig};
use super::error::LinkageError;
use super::pattern::Comparator;
use super::table::Table;

/// No probability goes below this, so no weight is infinite.
const FLOOR: f64 = 1e-6;

/// m and u of one column over its outcomes (its levels in order, then "different");
/// "missing" has no entry because it carries no evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnParameters {
    pub column: String,
    pub outcomes: Vec<Outcome>,
    /// P(outcome | match).
    pub m: Vec<f64>,
    /// P(outcome | non-match).
    pub u: Vec<f64>,
}

impl ColumnParameters {
    /// The match weight log2(m/u) of an outcome code; 0 for missing.
    pub(crate) fn weight(&self, code: u8) -> f64 {
        let k = usize::from(code);
        match (self.m.get(k), self.u.get(k)) {
            (Some(m), Some(u)) if code != MISSING => (m / u).log2(),
            _ => 0.0,
        }
    }

    pub(crate) fn outcome(&self, code: u8) -> Outcome {
        self.outcomes
            .get(usize::from(code))
            .copied()
            .unwrap_or(Outcome::Missing)
    }

    /// The m and u of an outcome, e.g. to check what EM learnt about exact names.
    pub fn m_u(&self, outcome: Outcome) -> Option<(f64, f64)> {
        let k = self.outcomes.iter().position(|o| *o == outcome)?;
        Some((*self.m.get(k)?, *self.u.get(k)?))
    }
}

/// The whole model: λ, the prior share of matches among candidate pairs, and every
/// column's m and u.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelParameters {
    pub lambda: f64,
    pub columns: Vec<ColumnParameters>,
}

impl ModelParameters {
    pub fn column(&self, name: &str) -> Option<&ColumnParameters> {
        self.columns.iter().find(|c| c.column == name)
    }
}

/// What EM produced and whether it settled before the iteration limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmReport {
    pub parameters: ModelParameters,
    pub iterations: usize,
    pub converged: bool,
}

/// Estimates m, u and λ from the candidate pairs of `left` and `right`.
pub fn estimate(
    config: &LinkageConfig,
    left: &Table,
    right: &Table,
    pairs: &[CandidatePair],
) -> Result<EmReport, LinkageError> {
    let comparator = Comparator::new(config, left, right)?;
    estimate_with(&comparator, config.em(), &rule_columns(config), pairs)
}

pub(crate) fn estimate_with(
    comparator: &Comparator<'_>,
    settings: EmSettings,
    rules: &[Vec<usize>],
    pairs: &[CandidatePair],
) -> Result<EmReport, LinkageError> {
    // Identical patterns behave identically: EM runs over distinct patterns with
    // their counts, which are few (product of the level counts) however many pairs.
    let mut counts: HashMap<Vec<u8>, f64> = HashMap::new();
    for p in pairs {
        *counts
            .entry(comparator.pattern(p.left, p.right)?)
            .or_default() += 1.0;
    }
    let patterns: Vec<(Vec<u8>, f64)> = counts.into_iter().collect();

    let start = initial(comparator, settings, pairs.len())?;
    let cells = comparator.left_len() as f64 * comparator.right_len() as f64;
    let smaller = comparator.left_len().min(comparator.right_len()) as f64;
    // Without learning: as if each record of the smaller table had one match.
    let mut global = ModelParameters {
        lambda: random_pair_prior(smaller, cells),
        columns: start.columns.clone(),
    };
    if !settings.learn || patterns.is_empty() {
        return Ok(EmReport {
            parameters: global,
            iterations: 0,
            converged: false,
        });
    }
    let n = start.columns.len();
    let mut m_sum: Vec<Vec<f64>> = start.columns.iter().map(|c| vec![0.0; c.m.len()]).collect();
    let mut u_sum = m_sum.clone();
    let mut learnt = vec![0usize; n];
    let mut expected_matches = Vec::new();
    let (mut iterations, mut converged) = (0, true);
    // A configuration whose rules all use compared columns has one session per
    // rule; one that blocks only on columns it does not compare has a single
    // session over all candidates with every column in the model.
    let sessions: Vec<Vec<usize>> = if rules.is_empty() {
        vec![Vec::new()]
    } else {
        rules.to_vec()
    };
    for rule in &sessions {
        let active: Vec<bool> = (0..n).map(|c| !rule.contains(&c)).collect();
        // The pairs this rule alone would propose: equal (the closest level) on
        // every rule column.
        let session: Vec<(Vec<u8>, f64)> = patterns
            .iter()
            .filter(|(p, _)| rule.iter().all(|&c| p.get(c) == Some(&0)))
            .cloned()
            .collect();
        let total: f64 = session.iter().map(|(_, k)| k).sum();
        if total == 0.0 || !active.iter().any(|a| *a) {
            continue;
        }
        let mut params = ModelParameters {
            lambda: (smaller / total).clamp(0.001, 0.5),
            columns: start.columns.clone(),
        };
        let mut done = false;
        let mut i = 0;
        while i < settings.max_iterations {
            i += 1;
            let next = step(&params, &session, &active, settings.estimate_u);
            done = largest_change(&params, &next) < settings.tolerance;
            params = next;
            if done {
                break;
            }
        }
        iterations += i;
        converged &= done;
        for (c, column) in params.columns.iter().enumerate() {
            if active.get(c) == Some(&true) {
                add(&mut m_sum[c], &column.m);
                add(&mut u_sum[c], &column.u);
                learnt[c] += 1;
            }
        }
        // The matches this session saw, over the share of all matches that
        // agree on the rule's columns.
        let recall: f64 = rule
            .iter()
            .filter_map(|&c| params.columns.get(c).and_then(|p| p.m.first()))
            .product();
        expected_matches.push(params.lambda * total / recall.max(FLOOR));
    }
    for (c, column) in global.columns.iter_mut().enumerate() {
        if learnt[c] > 0 {
            let k = learnt[c] as f64;
            column.m = normalised(m_sum[c].iter().map(|x| x / k).collect());
            if settings.estimate_u {
                column.u = normalised(u_sum[c].iter().map(|x| x / k).collect());
            }
        }
    }
    if !expected_matches.is_empty() {
        let mean = expected_matches.iter().sum::<f64>() / expected_matches.len() as f64;
        // Never more matches than records on the smaller side.
        global.lambda = random_pair_prior(mean.min(smaller), cells);
    }
    Ok(EmReport {
        parameters: global,
        iterations,
        converged: converged && iterations > 0,
    })
}

fn add(sum: &mut [f64], values: &[f64]) {
    for (s, v) in sum.iter_mut().zip(values) {
        *s += v;
    }
}

/// The prior probability that a random (left, right) pair is a match.
fn random_pair_prior(matches: f64, cells: f64) -> f64 {
    (matches / cells.max(1.0)).clamp(1e-12, 0.5)
}

/// Each blocking rule as the indexes of its compared columns; a rule that
/// also blocks on a column it does not compare is still learnt without the
/// columns it does compare.
pub(crate) fn rule_columns(config: &LinkageConfig) -> Vec<Vec<usize>> {
    config
        .blocking()
        .iter()
        .map(|rule| {
            rule.columns
                .iter()
                .filter_map(|name| config.columns().iter().position(|c| &c.name == name))
                .collect()
        })
        .collect()
}

/// Starting point: m trusts the closest level (most true matches agree exactly),
/// u is what random pairs look like (nearly all random pairs are non-matches), and
/// λ assumes each row of the smaller table has about one match among the candidates.
fn initial(
    comparator: &Comparator<'_>,
    settings: EmSettings,
    candidates: usize,
) -> Result<ModelParameters, LinkageError> {
    let u = random_pair_frequencies(comparator, settings)?;
    let columns = comparator
        .columns()
        .iter()
        .zip(u)
        .map(|(c, u)| {
            let k = c.levels.len() + 1;
            let rest = 0.1 / (k - 1) as f64;
            let m = (0..k).map(|i| if i == 0 { 0.9 } else { rest }).collect();
            let outcomes = c
                .levels
                .iter()
                .map(|l| Outcome::Level(*l))
                .chain([Outcome::Different])
                .collect();
            ColumnParameters {
                column: c.name.clone(),
                outcomes,
                m,
                u,
            }
        })
        .collect();
    let smaller = comparator.left_len().min(comparator.right_len()) as f64;
    let lambda = (smaller / candidates.max(1) as f64).clamp(0.001, 0.5);
    Ok(ModelParameters { lambda, columns })
}

/// Outcome frequencies over a seeded sample of random pairs (all pairs when there
/// are fewer than the sample size), with one pseudo-count per outcome so that an
/// outcome never seen at random does not start at u = 0.
fn random_pair_frequencies(
    comparator: &Comparator<'_>,
    settings: EmSettings,
) -> Result<Vec<Vec<f64>>, LinkageError> {
    let mut counts: Vec<Vec<f64>> = comparator
        .columns()
        .iter()
        .map(|c| vec![1.0; c.levels.len() + 1])
        .collect();
    let (nl, nr) = (comparator.left_len(), comparator.right_len());
    let mut tally = |l: usize, r: usize| -> Result<(), LinkageError> {
        for (column, code) in counts.iter_mut().zip(comparator.sample_pattern(l, r)?) {
            if let Some(c) = column.get_mut(usize::from(code)) {
                *c += 1.0;
            }
        }
        Ok(())
    };
    // Every pair when there are few; the sample then holds every right row.
    let sampled = comparator.sample_len();
    let all = nl.saturating_mul(nr);
    if all <= settings.u_sample_size && sampled == nr {
        for l in 0..nl {
            for r in 0..nr {
                tally(l, r)?;
            }
        }
    } else if sampled > 0 && nl > 0 {
        let mut state = settings.seed;
        for _ in 0..settings.u_sample_size {
            let l = (splitmix64(&mut state) % nl as u64) as usize;
            let r = (splitmix64(&mut state) % sampled as u64) as usize;
            tally(l, r)?;
        }
    }
    let mut u: Vec<Vec<f64>> = counts.into_iter().map(normalised).collect();
    // Exact agreement of a random pair is computed, not sampled: a sample of
    // some thousand pairs cannot tell 1 in 30,000 (a birth date) from 1 in
    // 300,000 (an address), and exact agreement is the strongest evidence.
    for (c, column) in comparator.columns().iter().enumerate() {
        if column.levels.first() != Some(&Level::Exact) {
            continue;
        }
        let (Some(exact), Some(u)) = (comparator.exact_agreement(c), u.get_mut(c)) else {
            continue;
        };
        let exact = exact.clamp(1e-9, 1.0 - 1e-9);
        let rest: f64 = u.iter().skip(1).sum();
        if rest <= 0.0 {
            continue;
        }
        let scale = (1.0 - exact) / rest;
        for (k, x) in u.iter_mut().enumerate() {
            *x = if k == 0 { exact } else { *x * scale };
        }
    }
    Ok(u)
}

/// A small, well-mixed generator: enough to sample pairs reproducibly without
/// pulling a random-number crate into the domain crate.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn normalised(mut v: Vec<f64>) -> Vec<f64> {
    for x in &mut v {
        *x = x.max(FLOOR);
    }
    let total: f64 = v.iter().sum();
    v.into_iter().map(|x| x / total).collect()
}

/// P(match | weight) = 1 / (1 + 2^-(weight + log2(λ / (1 − λ)))).
pub(crate) fn probability_from_weight(lambda: f64, weight: f64) -> f64 {
    let prior = (lambda / (1.0 - lambda)).log2();
    1.0 / (1.0 + (-(weight + prior)).exp2())
}

/// One E step (each pattern's match probability) and one M step (expected
/// frequencies become the new m and λ, and u when asked).
fn step(
    params: &ModelParameters,
    patterns: &[(Vec<u8>, f64)],
    active: &[bool],
    estimate_u: bool,
) -> ModelParameters {
    let mut m: Vec<Vec<f64>> = params
        .columns
        .iter()
        .map(|c| vec![0.0; c.m.len()])
        .collect();
    let mut u = m.clone();
    let (mut matches, mut total) = (0.0, 0.0);
    for (pattern, count) in patterns {
        let weight: f64 = params
            .columns
            .iter()
            .zip(pattern)
            .zip(active)
            .filter(|(_, a)| **a)
            .map(|((c, &code), _)| c.weight(code))
            .sum();
        let g = probability_from_weight(params.lambda, weight);
        matches += g * count;
        total += count;
        for ((mc, uc), &code) in m.iter_mut().zip(u.iter_mut()).zip(pattern) {
            let k = usize::from(code);
            if let (Some(a), Some(b)) = (mc.get_mut(k), uc.get_mut(k)) {
                *a += g * count;
                *b += (1.0 - g) * count;
            }
        }
    }
    let lambda = (matches / total.max(1.0)).clamp(FLOOR, 1.0 - FLOOR);
    let columns = params
        .columns
        .iter()
        .zip(m.into_iter().zip(u))
        .zip(active)
        .map(|((c, (m, u)), &on)| ColumnParameters {
            column: c.column.clone(),
            outcomes: c.outcomes.clone(),
            m: if on { normalised(m) } else { c.m.clone() },
            u: if estimate_u && on {
                normalised(u)
            } else {
                c.u.clone()
            },
        })
        .collect();
    ModelParameters { lambda, columns }
}

fn largest_change(a: &ModelParameters, b: &ModelParameters) -> f64 {
    a.columns
        .iter()
        .zip(&b.columns)
        .flat_map(|(x, y)| {
            x.m.iter()
                .zip(&y.m)
                .chain(x.u.iter().zip(&y.u))
                .map(|(p, q)| (p - q).abs())
        })
        .fold((a.lambda - b.lambda).abs(), f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_follows_weight_and_prior() {
        assert!((probability_from_weight(0.5, 0.0) - 0.5).abs() < 1e-12);
        assert!(probability_from_weight(0.5, 10.0) > 0.999);
        assert!(probability_from_weight(0.5, -10.0) < 0.001);
        // A rarer match needs more evidence for the same probability.
        assert!(probability_from_weight(0.01, 5.0) < probability_from_weight(0.5, 5.0));
    }

    #[test]
    fn missing_carries_no_weight() {
        let c = ColumnParameters {
            column: "name".into(),
            outcomes: vec![Outcome::Different],
            m: vec![0.5],
            u: vec![0.25],
        };
        assert_eq!(c.weight(MISSING), 0.0);
        assert!((c.weight(0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn splitmix_is_reproducible() {
        let (mut a, mut b, mut c) = (7, 7, 8);
        assert_eq!(splitmix64(&mut a), splitmix64(&mut b));
        assert_ne!(splitmix64(&mut a), splitmix64(&mut c));
    }

    fn tables() -> (LinkageConfig, Table, Table) {
        let spec: crate::linkage::LinkageSpec = serde_json::from_str(
            r#"{"columns": [{"name": "name", "kind": "chinese_name"},
                            {"name": "birth_date", "kind": "date"}],
                "blocking": [{"columns": ["birth_date"]}],
                "thresholds": {"link": 0.9, "review": 0.5}}"#,
        )
        .unwrap();
        let config = LinkageConfig::parse(spec).unwrap();
        let cols = vec!["name".to_owned(), "birth_date".to_owned()];
        let (mut left, mut right) = (Table::new(cols.clone()), Table::new(cols));
        let names = [
            "王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵军", "周杰",
        ];
        for (i, n) in names.iter().enumerate() {
            let date = Some(format!("1990-01-{:02}", i + 1));
            left.push(format!("l{i}"), vec![Some((*n).into()), date.clone()])
                .unwrap();
            // Every other record has a typo in the name.
            let name = if i % 2 == 0 {
                (*n).to_owned()
            } else {
                format!("{n}x")
            };
            right.push(format!("r{i}"), vec![Some(name), date]).unwrap();
        }
        (config, left, right)
    }

    fn all_pairs(n: usize) -> Vec<CandidatePair> {
        (0..n)
            .flat_map(|left| (0..n).map(move |right| CandidatePair { left, right }))
            .collect()
    }

    #[test]
    fn u_stays_at_random_pair_frequencies_unless_asked() {
        let (config, left, right) = tables();
        let comparator = Comparator::new(&config, &left, &right).unwrap();
        let initial = initial(&comparator, config.em(), 8).unwrap();
        let pairs = all_pairs(8);
        let fixed =
            estimate_with(&comparator, config.em(), &rule_columns(&config), &pairs).unwrap();
        for (a, b) in initial.columns.iter().zip(&fixed.parameters.columns) {
            assert_eq!(a.u, b.u);
        }
        let name = fixed.parameters.column("name").unwrap();
        let (m, u) = name
            .m_u(Outcome::Level(crate::linkage::Level::Exact))
            .unwrap();
        assert!(m > u);
        // The 8 true pairs among 64: λ lands near 1/8.
        assert!(
            (fixed.parameters.lambda - 0.125).abs() < 0.05,
            "{}",
            fixed.parameters.lambda
        );

        let settings = EmSettings {
            estimate_u: true,
            ..config.em()
        };
        let free = estimate_with(&comparator, settings, &rule_columns(&config), &pairs).unwrap();
        assert_ne!(initial.columns[0].u, free.parameters.columns[0].u);
        assert!(free.iterations >= 1);
    }

    #[test]
    fn no_candidates_leave_the_starting_parameters() {
        let (config, left, right) = tables();
        let report = estimate(&config, &left, &right, &[]).unwrap();
        assert_eq!(report.iterations, 0);
        assert!(!report.converged);
    }

    #[test]
    fn a_pair_outside_the_tables_is_an_error() {
        let (config, left, right) = tables();
        let pairs = [CandidatePair { left: 99, right: 0 }];
        assert_eq!(
            estimate(&config, &left, &right, &pairs),
            Err(LinkageError::PairOutOfRange { left: 99, right: 0 })
        );
    }
}
