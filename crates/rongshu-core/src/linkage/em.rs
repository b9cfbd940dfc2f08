//! Expectation–maximisation of the Fellegi–Sunter parameters without labels: the
//! candidate pairs are a mixture of matches (outcomes drawn from m) and non-matches
//! (drawn from u) in proportion λ; EM finds m, u and λ that explain them best under
//! the usual assumption that columns agree independently given the class. By
//! default u stays at its random-pair estimate (see [`EmSettings::estimate_u`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::blocking::CandidatePair;
use super::compare::{MISSING, Outcome};
use super::config::{EmSettings, LinkageConfig};
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
    estimate_with(&comparator, config.em(), pairs)
}

pub(crate) fn estimate_with(
    comparator: &Comparator<'_>,
    settings: EmSettings,
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

    let mut params = initial(comparator, settings, pairs.len())?;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < settings.max_iterations && !patterns.is_empty() {
        iterations += 1;
        let next = step(&params, &patterns, settings.estimate_u);
        converged = largest_change(&params, &next) < settings.tolerance;
        params = next;
        if converged {
            break;
        }
    }
    Ok(EmReport {
        parameters: params,
        iterations,
        converged,
    })
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
        for (column, code) in counts.iter_mut().zip(comparator.pattern(l, r)?) {
            if let Some(c) = column.get_mut(usize::from(code)) {
                *c += 1.0;
            }
        }
        Ok(())
    };
    let all = nl.saturating_mul(nr);
    if all <= settings.u_sample_size {
        for l in 0..nl {
            for r in 0..nr {
                tally(l, r)?;
            }
        }
    } else {
        let mut state = settings.seed;
        for _ in 0..settings.u_sample_size {
            let l = (splitmix64(&mut state) % nl as u64) as usize;
            let r = (splitmix64(&mut state) % nr as u64) as usize;
            tally(l, r)?;
        }
    }
    Ok(counts.into_iter().map(normalised).collect())
}

/// A small, well-mixed generator: enough to sample pairs reproducibly without
/// pulling a random-number crate into the domain crate.
fn splitmix64(state: &mut u64) -> u64 {
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

/// The posterior probability that a pattern is a match, computed in log space so
/// that many columns do not underflow.
pub(crate) fn match_probability(params: &ModelParameters, pattern: &[u8]) -> f64 {
    let weight: f64 = params
        .columns
        .iter()
        .zip(pattern)
        .map(|(c, &code)| c.weight(code))
        .sum();
    probability_from_weight(params.lambda, weight)
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
        let g = match_probability(params, pattern);
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
        .map(|(c, (m, u))| ColumnParameters {
            column: c.column.clone(),
            outcomes: c.outcomes.clone(),
            m: normalised(m),
            u: if estimate_u {
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
        let fixed = estimate_with(&comparator, config.em(), &pairs).unwrap();
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
        let free = estimate_with(&comparator, settings, &pairs).unwrap();
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
