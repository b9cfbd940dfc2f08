//! A linkage run whose right side streams past: the left table (the records
//! to place, usually the smaller side) is held whole; right rows are fed one
//! at a time and only those that meet a left row in some block are kept. So
//! linking a few thousand keyless records against a registry of millions
//! holds the records, the candidates and a fixed sample, never the registry.
//!
//! What the model needs of the whole right side is gathered on the way past:
//! how many rows there were (the prior of a random pair being a match), how
//! often each exactly compared value occurs (u of exact agreement) and a
//! uniform sample of rows (u of the other levels, from random pairs).

use std::collections::{BTreeSet, HashMap};

use super::assign::assign;
use super::blocking::{BlockingReport, CandidatePair, KeyColumn, RuleReport, key_of, resolve};
use super::compare::canonical;
use super::config::{Level, LinkageConfig};
use super::em::{estimate_with, rule_columns, splitmix64};
use super::error::LinkageError;
use super::pattern::{Canonical, Comparator, ExactTally};
use super::run::LinkageRun;
use super::score::score_pruned;
use super::table::Table;

/// Sets the reservoir's random stream apart from the pair sample's, which
/// starts from the same configured seed.
const RESERVOIR_STREAM: u64 = 0x7265_7365_7276_6f69;

/// One block of a rule: the left rows with its key and the kept right rows
/// that share it, until the block grows past the cap.
#[derive(Default)]
struct Block {
    lefts: Vec<usize>,
    /// Slots in the kept table; emptied once the block is skipped.
    rights: Vec<usize>,
    /// Right rows seen with this key, kept or not.
    right_count: usize,
    skipped: bool,
}

struct RuleIndex {
    columns: Vec<String>,
    keys: Vec<KeyColumn>,
    blocks: HashMap<Vec<String>, Block>,
}

/// A run in progress: see the module documentation.
pub struct Linker {
    config: LinkageConfig,
    left: Table,
    left_canonical: Vec<Canonical>,
    /// Where each compared column is in a right row.
    right_columns: Vec<usize>,
    rules: Vec<RuleIndex>,
    kept: Table,
    kept_canonical: Vec<Canonical>,
    /// Each kept row's position in the stream.
    kept_ordinal: Vec<usize>,
    seen: usize,
    exact: Vec<Option<ExactTally>>,
    sample: Vec<Canonical>,
    rng: u64,
}

/// A finished run with the rows its pairs point at: `right` holds only the
/// kept right rows, and a pair's `right` is a row of it.
pub struct Linked {
    pub run: LinkageRun,
    pub left: Table,
    pub right: Table,
    /// Each kept right row's position in the stream (0 for the first row fed).
    pub right_ordinals: Vec<usize>,
    /// How many right rows were fed.
    pub right_rows: usize,
}

impl Linker {
    /// A run of `config` placing the rows of `left` among right rows whose
    /// values come in the order of `right_columns`.
    pub fn new(
        config: LinkageConfig,
        left: Table,
        right_columns: Vec<String>,
    ) -> Result<Self, LinkageError> {
        let right_shape = Table::new(right_columns);
        let rules = config
            .blocking()
            .iter()
            .map(|rule| {
                let keys = rule
                    .columns
                    .iter()
                    .map(|name| resolve(&config, &left, &right_shape, name))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut blocks: HashMap<Vec<String>, Block> = HashMap::new();
                for row in 0..left.len() {
                    if let Some(key) = key_of(&keys, |k| left.value(row, k.left)) {
                        blocks.entry(key).or_default().lefts.push(row);
                    }
                }
                Ok(RuleIndex {
                    columns: rule.columns.clone(),
                    keys,
                    blocks,
                })
            })
            .collect::<Result<Vec<_>, LinkageError>>()?;
        let left_canonical = Comparator::canonical_rows(&config, &left, "left", false)?;
        let right_columns = config
            .columns()
            .iter()
            .map(|c| {
                right_shape
                    .column_index(&c.right_name)
                    .ok_or_else(|| LinkageError::UnknownColumn {
                        side: "right",
                        column: c.right_name.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let exact = config
            .columns()
            .iter()
            .enumerate()
            .map(|(c, column)| {
                (column.levels.first() == Some(&Level::Exact))
                    .then(|| ExactTally::of_left(&left_canonical, c))
            })
            .collect();
        // Its own stream, not the one the random pairs are drawn from later.
        let rng = config.em().seed ^ RESERVOIR_STREAM;
        Ok(Self {
            kept: right_shape,
            config,
            left,
            left_canonical,
            right_columns,
            rules,
            kept_canonical: Vec::new(),
            kept_ordinal: Vec::new(),
            seen: 0,
            exact,
            sample: Vec::new(),
            rng,
        })
    }

    /// Feed the next right row; it is copied only if it is kept.
    pub fn push_right(&mut self, id: &str, values: &[Option<String>]) -> Result<(), LinkageError> {
        if values.len() != self.kept.columns().len() {
            return Err(LinkageError::RowWidth {
                id: id.to_owned(),
                expected: self.kept.columns().len(),
                got: values.len(),
            });
        }
        let ordinal = self.seen;
        self.seen += 1;
        let row_canonical: Canonical = self
            .config
            .columns()
            .iter()
            .zip(&self.right_columns)
            .map(|(c, &i)| {
                values
                    .get(i)
                    .and_then(|v| v.as_deref())
                    .and_then(|v| canonical(c.kind, v))
            })
            .collect();
        for (tally, value) in self.exact.iter_mut().zip(&row_canonical) {
            if let Some(tally) = tally {
                tally.add_right(value.as_deref());
            }
        }
        self.add_to_sample(&row_canonical);

        let cap = self.config.max_block_size();
        let slot = self.kept.len();
        let mut keep = false;
        for rule in &mut self.rules {
            let Some(key) = key_of(&rule.keys, |k| {
                values.get(k.right).and_then(|v| v.as_deref())
            }) else {
                continue;
            };
            let Some(block) = rule.blocks.get_mut(&key) else {
                continue;
            };
            block.right_count += 1;
            if block.skipped {
                continue;
            }
            if block.lefts.len().saturating_mul(block.right_count) > cap {
                // Over the cap it stays: right rows only add up.
                block.skipped = true;
                block.rights = Vec::new();
                continue;
            }
            block.rights.push(slot);
            keep = true;
        }
        if keep {
            self.kept.push(id.to_owned(), values.to_vec())?;
            self.kept_canonical.push(row_canonical);
            self.kept_ordinal.push(ordinal);
        }
        Ok(())
    }

    /// Reservoir sampling: every row seen so far is in the sample with the
    /// same chance, and until the sample is full it holds every row in order.
    fn add_to_sample(&mut self, row: &Canonical) {
        let capacity = self.config.em().u_sample_size;
        if self.sample.len() < capacity {
            self.sample.push(row.clone());
            return;
        }
        let j = (splitmix64(&mut self.rng) % self.seen as u64) as usize;
        if let Some(place) = self.sample.get_mut(j) {
            *place = row.clone();
        }
    }

    /// How many right rows were fed so far, and how many of them are kept.
    pub fn right_rows(&self) -> (usize, usize) {
        (self.seen, self.kept.len())
    }

    /// The candidate pairs (a pair's right is a kept row) and blocking's report.
    fn candidates(&self) -> (Vec<CandidatePair>, BlockingReport) {
        let cap = self.config.max_block_size();
        let mut pairs = BTreeSet::new();
        let mut rules = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            let mut report = RuleReport {
                columns: rule.columns.clone(),
                blocks: 0,
                pairs: 0,
                skipped_blocks: 0,
                skipped_pairs: 0,
                largest_skipped: 0,
            };
            for block in rule.blocks.values().filter(|b| b.right_count > 0) {
                report.blocks += 1;
                let size = block.lefts.len().saturating_mul(block.right_count);
                if block.skipped {
                    report.skipped_blocks += 1;
                    report.skipped_pairs = report.skipped_pairs.saturating_add(size);
                    report.largest_skipped = report.largest_skipped.max(size);
                    continue;
                }
                report.pairs += size;
                for &left in &block.lefts {
                    for &right in &block.rights {
                        pairs.insert(CandidatePair { left, right });
                    }
                }
            }
            rules.push(report);
        }
        let report = BlockingReport {
            max_block_size: cap,
            rules,
            candidate_pairs: pairs.len(),
        };
        (pairs.into_iter().collect(), report)
    }

    /// Rows kept for a block that later went over the cap, and nothing else,
    /// are let go before scoring: the result holds paired rows only.
    fn drop_unpaired(&mut self, candidates: &mut [CandidatePair]) -> Result<(), LinkageError> {
        let mut slot_of: Vec<Option<usize>> = vec![None; self.kept.len()];
        for pair in candidates.iter() {
            if let Some(slot) = slot_of.get_mut(pair.right) {
                *slot = Some(0);
            }
        }
        if slot_of.iter().all(Option::is_some) {
            return Ok(());
        }
        let mut kept = Table::new(self.kept.columns().to_vec());
        let (mut canonical, mut ordinal) = (Vec::new(), Vec::new());
        let old = std::mem::take(&mut self.kept_canonical);
        for ((row, slot), (values, at)) in self
            .kept
            .rows()
            .iter()
            .zip(slot_of.iter_mut())
            .zip(old.into_iter().zip(&self.kept_ordinal))
        {
            if slot.is_some() {
                *slot = Some(kept.len());
                kept.push(row.id.clone(), row.values.clone())?;
                canonical.push(values);
                ordinal.push(*at);
            }
        }
        for pair in candidates.iter_mut() {
            if let Some(Some(slot)) = slot_of.get(pair.right) {
                pair.right = *slot;
            }
        }
        self.kept = kept;
        self.kept_canonical = canonical;
        self.kept_ordinal = ordinal;
        Ok(())
    }

    /// Blocking's candidates with each pair's right as its stream position.
    pub(crate) fn blocked(&self) -> (Vec<CandidatePair>, BlockingReport) {
        let (mut pairs, report) = self.candidates();
        for pair in &mut pairs {
            pair.right = self
                .kept_ordinal
                .get(pair.right)
                .copied()
                .unwrap_or(usize::MAX);
        }
        (pairs, report)
    }

    /// Estimate, score and assign over the candidates.
    pub fn finish(mut self) -> Result<Linked, LinkageError> {
        let (mut candidates, blocking) = self.candidates();
        self.drop_unpaired(&mut candidates)?;
        let exact = self
            .exact
            .iter()
            .map(|t| t.as_ref().and_then(ExactTally::agreement))
            .collect();
        let Self {
            config,
            left,
            left_canonical,
            kept,
            kept_canonical,
            kept_ordinal,
            seen,
            sample,
            ..
        } = self;
        let comparator = Comparator::from_parts(
            config.columns(),
            left_canonical,
            kept_canonical,
            seen,
            sample,
            exact,
        );
        let em = estimate_with(
            &comparator,
            config.em(),
            &rule_columns(&config),
            &candidates,
        )?;
        let (mut pairs, non_matches_dropped) = score_pruned(
            &comparator,
            config.thresholds(),
            &em.parameters,
            (&left, &kept),
            &candidates,
            config.non_matches_kept(),
        )?;
        assign(&mut pairs, config.assignment());
        Ok(Linked {
            run: LinkageRun {
                blocking,
                em,
                pairs,
                non_matches_dropped,
            },
            left,
            right: kept,
            right_ordinals: kept_ordinal,
            right_rows: seen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linkage::score::ScoredPair;
    use crate::linkage::{Decision, LinkageSpec};

    const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
    const GIVEN: [&str; 12] = [
        "伟", "芳", "娜", "敏", "静", "磊", "军", "洋", "勇", "艳", "杰", "涛",
    ];

    /// The pairs of a run given `decision`.
    fn decided(run: &LinkageRun, decision: Decision) -> Vec<&ScoredPair> {
        run.pairs
            .iter()
            .filter(|p| p.decision == decision)
            .collect()
    }

    fn person(i: usize) -> Vec<Option<String>> {
        let name = format!(
            "{}{}{}",
            SURNAMES[i % 8],
            GIVEN[(i / 8) % 12],
            GIVEN[(i / 96) % 12]
        );
        let date = format!(
            "19{:02}-{:02}-{:02}",
            40 + (i * 7) % 60,
            1 + (i * 5) % 12,
            1 + (i * 11) % 28
        );
        vec![
            Some(name),
            Some(date),
            Some(format!("成都市武侯区人民南路{i}号")),
        ]
    }

    fn config(u_sample_size: usize) -> LinkageConfig {
        let mut spec: LinkageSpec = serde_json::from_str(
            r#"{"columns": [{"name": "name", "kind": "chinese_name"},
                            {"name": "birth_date", "kind": "date"},
                            {"name": "address", "kind": "address"}],
                "blocking": [{"columns": ["name", "birth_date"]}, {"columns": ["address"]}],
                "thresholds": {"link": 0.9, "review": 0.5}}"#,
        )
        .unwrap();
        spec.em.u_sample_size = u_sample_size;
        LinkageConfig::parse(spec).unwrap()
    }

    fn columns() -> Vec<String> {
        vec!["name".into(), "birth_date".into(), "address".into()]
    }

    #[test]
    fn only_the_right_rows_that_meet_a_left_row_are_kept() {
        // Twenty records of people 0, 500, 1000, …; the registry has 10,000.
        let mut left = Table::new(columns());
        for k in 0..20 {
            left.push(format!("r{k}"), person(k * 500)).unwrap();
        }
        let mut linker = Linker::new(config(300), left, columns()).unwrap();
        for i in 0..10_000 {
            linker.push_right(&format!("p{i}"), &person(i)).unwrap();
        }
        let (seen, kept) = linker.right_rows();
        assert_eq!(seen, 10_000);
        // Each record meets its own person (address and name with date are
        // unique) and nobody else.
        assert_eq!(kept, 20);
        assert_eq!(linker.sample.len(), 300);
        let linked = linker.finish().unwrap();
        assert_eq!(linked.right_rows, 10_000);
        assert_eq!(linked.right.len(), 20);
        for k in 0..20 {
            let pair = linked
                .run
                .pairs
                .iter()
                .find(|p| p.left_id == format!("r{k}"))
                .unwrap();
            assert_eq!(pair.right_id, format!("p{}", k * 500));
            assert_eq!(linked.right_ordinals[pair.pair.right], k * 500);
            assert_eq!(pair.decision, Decision::Link, "{pair:?}");
        }
    }

    #[test]
    fn a_record_keeps_its_link_and_its_three_best_non_matches() {
        let mut left = Table::new(columns());
        left.push("r".into(), person(0)).unwrap();
        let mut linker = Linker::new(config(300), left, columns()).unwrap();
        for i in 0..2_000 {
            linker.push_right(&format!("p{i}"), &person(i)).unwrap();
        }
        // Eight others at person 0's address (a household, a tenement):
        // candidates through the address rule, non-matches all.
        let address = person(0)[2].clone();
        for (k, given) in GIVEN.iter().take(8).enumerate() {
            let others = vec![
                Some(format!("欧阳{given}")),
                Some(format!("19{}-06-15", 50 + k)),
                address.clone(),
            ];
            linker.push_right(&format!("n{k}"), &others).unwrap();
        }
        let linked = linker.finish().unwrap();
        let run = &linked.run;
        let links = decided(run, Decision::Link);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].right_id, "p0");
        let non = decided(run, Decision::NonMatch);
        assert_eq!(non.len(), 3);
        assert_eq!(run.non_matches_dropped, run.blocking.candidate_pairs - 4);
        assert!(non.iter().all(|p| p.right_id.starts_with('n')), "{non:?}");
        // Those kept score at least as well as any let go: they all score
        // alike, so the tie keeps the first rows.
        let kept: Vec<&str> = non.iter().map(|p| p.right_id.as_str()).collect();
        assert_eq!(kept, ["n0", "n1", "n2"]);
    }

    #[test]
    fn a_block_over_the_cap_makes_no_pairs_and_keeps_no_rows() {
        let mut spec: LinkageSpec = serde_json::from_str(
            r#"{"columns": [{"name": "name", "kind": "chinese_name"}],
                "blocking": [{"columns": ["name"]}],
                "thresholds": {"link": 0.9, "review": 0.5},
                "max_block_size": 5}"#,
        )
        .unwrap();
        spec.em.learn = false;
        let config = LinkageConfig::parse(spec).unwrap();
        let mut left = Table::new(vec!["name".into()]);
        left.push("a".into(), vec![Some("王伟".into())]).unwrap();
        let mut linker = Linker::new(config, left, vec!["name".into()]).unwrap();
        for i in 0..8 {
            linker
                .push_right(&format!("p{i}"), &[Some("王伟".into())])
                .unwrap();
        }
        let (pairs, report) = linker.blocked();
        assert!(pairs.is_empty());
        assert_eq!(report.rules[0].skipped_pairs, 8);
        // A row of the wrong width is refused, not truncated.
        assert!(matches!(
            linker.push_right("x", &[]),
            Err(LinkageError::RowWidth { .. })
        ));
        let linked = linker.finish().unwrap();
        assert!(linked.run.pairs.is_empty());
        assert_eq!((linked.right_rows, linked.right.len()), (8, 0));
    }
}
