//! Finding repeats outside memory. Remembering every key and unique value of a
//! batch makes memory grow with the file; instead a checker built with
//! [`super::RowChecker::deferring_repeats`] hands on each row's digests, and
//! whatever holds the batch's rows (the store's staged table) finds the
//! repeats once the batch is read, with the rules described here.

use super::rules::{RuleId, RuleSet};
use super::spec::Severity;

/// A row's digests, for finding its repeats later: two independent 64-bit
/// hashes each, so two different values collide with probability about
/// n²/2¹²⁹ (10⁻²⁵ for ten million rows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowDigests {
    /// The key's, every key value included (an empty one as a marker), as the
    /// reader's own repeat check hashes them.
    pub key: u128,
    /// One per rule of [`RuleSet::repeat_rules`], in that order; `None` when a
    /// value of the rule is empty (an empty value repeats nothing) or when the
    /// row was rejected by another rule (it claims no value).
    pub unique: Vec<Option<u128>>,
}

/// A uniqueness rule checked over the staged batch, with everything a failure
/// of it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RepeatRule {
    pub id: RuleId,
    pub severity: Severity,
    /// The item a failure names (the rule's first).
    pub item: String,
    pub reason: String,
    /// Position in [`RuleSet`]'s uniqueness rules.
    pub(crate) index: usize,
}

/// Why a row fails a uniqueness rule over `keys`, as the report says it.
pub(crate) fn repeat_reason(keys: &[&str]) -> String {
    if keys.len() == 1 {
        "the value occurs in an earlier row".to_owned()
    } else {
        format!("({}) occurs in an earlier row", keys.join(", "))
    }
}

impl RuleSet {
    /// The uniqueness rules left to check once repeated keys are rejected. A
    /// rule over the key's items (or more) cannot fail among rows whose keys
    /// differ, so it is left out rather than hashed and compared for nothing.
    pub fn repeat_rules(&self) -> Vec<RepeatRule> {
        self.unique
            .iter()
            .enumerate()
            .filter(|(_, u)| {
                self.key_items.is_empty() || !self.key_items.iter().all(|k| u.items.contains(k))
            })
            .map(|(index, u)| {
                let keys: Vec<&str> = u
                    .items
                    .iter()
                    .filter_map(|&i| self.items.get(i).map(|it| it.key.as_str()))
                    .collect();
                RepeatRule {
                    id: u.id.clone(),
                    severity: u.severity,
                    item: keys.first().map(|k| (*k).to_owned()).unwrap_or_default(),
                    reason: repeat_reason(&keys),
                    index,
                }
            })
            .collect()
    }
}
