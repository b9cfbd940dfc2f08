//! Blocking: the candidate pairs worth comparing. Each rule pairs the rows whose
//! values agree on all its columns; the rules are unioned and each pair kept once,
//! so comparing stays near-linear instead of left × right.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::compare::canonical;
use super::config::{ComparisonKind, LinkageConfig};
use super::error::LinkageError;
use super::table::Table;

/// A pair of row indexes, left table first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CandidatePair {
    pub left: usize,
    pub right: usize,
}

/// A blocking column resolved to its index on each side and its normalisation.
struct KeyColumn {
    left: usize,
    right: usize,
    kind: ComparisonKind,
}

/// The candidate pairs of every blocking rule, unioned, sorted and without repeats.
pub fn block(
    config: &LinkageConfig,
    left: &Table,
    right: &Table,
) -> Result<Vec<CandidatePair>, LinkageError> {
    let mut pairs = BTreeSet::new();
    for rule in config.blocking() {
        let keys = rule
            .columns
            .iter()
            .map(|name| resolve(config, left, right, name))
            .collect::<Result<Vec<_>, _>>()?;
        let mut index: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
        for row in 0..left.len() {
            if let Some(key) = key_of(&keys, |k| left.value(row, k.left)) {
                index.entry(key).or_default().push(row);
            }
        }
        for row in 0..right.len() {
            let Some(key) = key_of(&keys, |k| right.value(row, k.right)) else {
                continue;
            };
            for &l in index.get(&key).map(Vec::as_slice).unwrap_or_default() {
                pairs.insert(CandidatePair {
                    left: l,
                    right: row,
                });
            }
        }
    }
    Ok(pairs.into_iter().collect())
}

/// A blocking column is normalised like the compared column of that name (so
/// 1990/3/7 meets 1990-03-07); a column that is not compared is matched exactly.
fn resolve(
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
fn key_of<'a>(
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
        let spec: LinkageSpec = serde_json::from_str(&format!(
            r#"{{"columns": [{{"name": "name", "kind": "chinese_name"}},
                            {{"name": "birth_date", "kind": "date"}},
                            {{"name": "phone", "kind": "phone"}}],
                "blocking": {blocking},
                "thresholds": {{"link": 0.9, "review": 0.5}}}}"#
        ))
        .unwrap();
        LinkageConfig::parse(spec).unwrap()
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
