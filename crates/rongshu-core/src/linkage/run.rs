//! One linkage run end to end: block, estimate, score, assign.

use serde::{Deserialize, Serialize};

use super::blocking::BlockingReport;
use super::config::LinkageConfig;
use super::em::EmReport;
use super::error::LinkageError;
use super::linker::{Linked, Linker};
use super::score::ScoredPair;
use super::table::Table;

/// The result of a run: what blocking did (and skipped), the EM report (so a
/// reviewer can see m and u) and every candidate pair scored and assigned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkageRun {
    pub blocking: BlockingReport,
    pub em: EmReport,
    /// Every pair kept: all links and review pairs, and each left record's
    /// best non-matches (see `LinkageSpec::non_matches_kept`).
    pub pairs: Vec<ScoredPair>,
    /// The non-matches scored and not kept.
    #[serde(default)]
    pub non_matches_dropped: usize,
}

/// Links `left` to `right` under `config`, both held whole; a pair's `right`
/// is a row of `right`. (A right side too large to hold streams through a
/// [`Linker`] instead.)
pub fn link(
    config: &LinkageConfig,
    left: &Table,
    right: &Table,
) -> Result<LinkageRun, LinkageError> {
    let mut linker = Linker::new(config.clone(), left.clone(), right.columns().to_vec())?;
    for row in right.rows() {
        linker.push_right(&row.id, &row.values)?;
    }
    let Linked {
        mut run,
        right_ordinals,
        ..
    } = linker.finish()?;
    for scored in &mut run.pairs {
        scored.pair.right = right_ordinals
            .get(scored.pair.right)
            .copied()
            .unwrap_or(usize::MAX);
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linkage::{Decision, Level, LinkageSpec, Outcome};

    const SURNAMES: [&str; 6] = ["王", "李", "张", "刘", "陈", "杨"];
    const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "磊", "军", "洋", "勇", "艳"];

    fn config() -> LinkageConfig {
        let spec: LinkageSpec = serde_json::from_str(
            r#"{"columns": [{"name": "name", "kind": "chinese_name"},
                            {"name": "birth_date", "kind": "date"},
                            {"name": "address", "kind": "address"}],
                "blocking": [{"columns": ["name"]}, {"columns": ["birth_date"]}],
                "thresholds": {"link": 0.9, "review": 0.5}}"#,
        )
        .unwrap();
        LinkageConfig::parse(spec).unwrap()
    }

    fn row(name: &str, date: &str, address: &str) -> Vec<Option<String>> {
        vec![Some(name.into()), Some(date.into()), Some(address.into())]
    }

    /// A registry of 360 people and an extract holding 300 of them, retyped
    /// with a few slips, plus the hand-made cases the test is about.
    fn tables() -> (Table, Table) {
        let cols = || vec!["name".into(), "birth_date".into(), "address".into()];
        let (mut registry, mut extract) = (Table::new(cols()), Table::new(cols()));
        const ROADS: [&str; 5] = ["人民南路", "蜀都大道", "春熙路", "府河路", "羊西线"];
        const DISTRICTS: [&str; 4] = ["武侯区", "锦江区", "金牛区", "成华区"];
        let person = |i: usize| {
            let name = format!(
                "{}{}{}",
                SURNAMES[i % 6],
                GIVEN[(i / 6) % 10],
                GIVEN[(i / 60) % 10]
            );
            let date = format!(
                "19{:02}-{:02}-{:02}",
                50 + (i * 7) % 50,
                1 + i % 12,
                1 + (i * 5) % 28
            );
            let address = format!(
                "成都市{}{}{}号{}栋",
                DISTRICTS[i % 4],
                ROADS[(i / 4) % 5],
                1 + i * 3,
                1 + i % 9
            );
            (name, date, address)
        };
        for i in 0..360usize {
            let (name, date, address) = person(i);
            registry
                .push(format!("p{i}"), row(&name, &date, &address))
                .unwrap();
            if i < 300 {
                let address = if i % 4 == 0 {
                    address.replace("成都市", "")
                } else {
                    address
                };
                extract
                    .push(format!("r{i}"), row(&name, &date, &address))
                    .unwrap();
            }
        }
        // Namesakes in the registry: the same names as the first ten, other people.
        for i in 0..10usize {
            let (name, _, _) = person(i);
            let (_, date, address) = person(i + 57);
            registry
                .push(format!("n{i}"), row(&name, &date, &address))
                .unwrap();
        }
        // Two 王建华, different people: only the first is in the extract.
        registry
            .push(
                "wang-a".into(),
                row("王建华", "1971-04-09", "成都市金牛区一环路88号3栋"),
            )
            .unwrap();
        registry
            .push(
                "wang-b".into(),
                row("王建华", "1988-11-23", "成都市郫都区府河路5号9栋"),
            )
            .unwrap();
        // The first 王建华 again, with day and month swapped in the birth date.
        extract
            .push(
                "wang-a-swapped".into(),
                row("王建华", "1971-09-04", "成都市金牛区一环路88号3栋"),
            )
            .unwrap();
        // A third 王建华 the registry does not know.
        extract
            .push(
                "wang-c".into(),
                row("王建华", "1995-02-14", "成都市成华区建设路9号1栋"),
            )
            .unwrap();
        (extract, registry)
    }

    fn decision(run: &LinkageRun, l: &str, r: &str) -> Option<Decision> {
        run.pairs
            .iter()
            .find(|p| p.left_id == l && p.right_id == r)
            .map(|p| p.decision)
    }

    #[test]
    fn namesakes_stay_apart_and_a_transposed_birth_date_still_links() {
        let (extract, registry) = tables();
        let run = link(&config(), &extract, &registry).unwrap();
        assert_eq!(
            decision(&run, "wang-a-swapped", "wang-a"),
            Some(Decision::Link)
        );
        assert_eq!(
            decision(&run, "wang-a-swapped", "wang-b"),
            Some(Decision::NonMatch)
        );
        // Same name, different birth date and address: never linked.
        for p in run.pairs.iter().filter(|p| p.left_id == "wang-c") {
            assert_eq!(p.decision, Decision::NonMatch, "{p:?}");
        }
        let swapped = run
            .pairs
            .iter()
            .find(|p| p.left_id == "wang-a-swapped" && p.right_id == "wang-a")
            .unwrap();
        assert_eq!(
            swapped.evidence[1].outcome,
            Outcome::Level(Level::MonthDaySwapped)
        );
        assert!(swapped.evidence[1].weight > 0.0, "{swapped:?}");
        // The plain cases: every retyped record links to its person, once.
        for i in 0..300 {
            assert_eq!(
                decision(&run, &format!("r{i}"), &format!("p{i}")),
                Some(Decision::Link),
                "r{i}"
            );
        }
        let links = run
            .pairs
            .iter()
            .filter(|p| p.decision == Decision::Link)
            .count();
        assert_eq!(links, 301);
        assert!(run.em.converged);
    }

    #[test]
    fn without_learning_the_starting_parameters_score() {
        let mut spec: LinkageSpec = serde_json::from_str(
            r#"{"columns": [{"name": "name", "kind": "chinese_name"},
                            {"name": "birth_date", "kind": "date"},
                            {"name": "address", "kind": "address"}],
                "blocking": [{"columns": ["name"]}],
                "thresholds": {"link": 0.9, "review": 0.5}}"#,
        )
        .unwrap();
        spec.em.learn = false;
        let (extract, registry) = tables();
        let run = link(&LinkageConfig::parse(spec).unwrap(), &extract, &registry).unwrap();
        assert_eq!(run.em.iterations, 0);
        assert_eq!(decision(&run, "r5", "p5"), Some(Decision::Link));
    }
}
