//! Checking rows against a rule set: per row, without allocating for a clean row,
//! with the batch's uniqueness state kept as 128-bit hashes.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::repeats::{RowDigests, repeat_reason};
use super::rules::{Check, RuleId, RuleSet, Scalar};
use super::spec::Severity;
use crate::ident::{Sex, citizen_id, parse_date};
use crate::kind::KindError;
use crate::value::CellValue;

/// Looks up whether a value exists in another resource or a base registry. The
/// server preloads sets or queries; tests use [`InMemoryReferences`].
pub trait ReferenceSet {
    fn contains(&self, resource: &str, item: &str, value: &str) -> bool;
}

/// Reference values held in memory, keyed by resource and item.
#[derive(Debug, Clone, Default)]
pub struct InMemoryReferences {
    sets: HashMap<(String, String), HashSet<String>>,
}

impl InMemoryReferences {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, resource: &str, item: &str, value: &str) {
        self.sets
            .entry((resource.to_owned(), item.to_owned()))
            .or_default()
            .insert(value.to_owned());
    }

    pub fn extend<I: IntoIterator<Item = S>, S: Into<String>>(
        &mut self,
        resource: &str,
        item: &str,
        values: I,
    ) {
        self.sets
            .entry((resource.to_owned(), item.to_owned()))
            .or_default()
            .extend(values.into_iter().map(Into::into));
    }
}

impl ReferenceSet for InMemoryReferences {
    fn contains(&self, resource: &str, item: &str, value: &str) -> bool {
        // Avoid building the (String, String) key per lookup: few sets, scan them.
        self.sets
            .iter()
            .find(|((r, i), _)| r == resource && i == item)
            .is_some_and(|(_, set)| set.contains(value))
    }
}

/// One failed rule on one row, or on the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: RuleId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub reason: String,
    pub severity: Severity,
}

impl Violation {
    /// A value that does not fit its item's type, as the reader finds it.
    pub fn type_error(item: &str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            rule: RuleId::type_check(item),
            item: Some(item.to_owned()),
            value: Some(value.to_owned()),
            reason: reason.into(),
            severity: Severity::Reject,
        }
    }

    /// A required item left empty, as the reader finds it.
    pub fn required(item: &str) -> Self {
        Self {
            rule: RuleId::required(item),
            item: Some(item.to_owned()),
            value: None,
            reason: "a required value is missing".into(),
            severity: Severity::Reject,
        }
    }
}

/// What checking one row found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowVerdict {
    /// True when a `reject` rule failed: the row is not loaded.
    pub reject: bool,
    pub violations: Vec<Violation>,
    /// Values the kind checks normalised (upper-case X, 11-digit mobile), by item
    /// position, for the caller to store instead of what was written.
    pub normalized: Vec<(usize, String)>,
    /// The row's key as text (key values joined by `|`), set only when there are
    /// violations, for the report's list of failing rows.
    pub key: Option<String>,
    /// The row's digests, from a checker that defers repeats to the caller.
    pub digests: Option<RowDigests>,
}

impl RowVerdict {
    /// A verdict for a row the reader refused before the checker saw it.
    pub fn from_violations(violations: Vec<Violation>, key: Option<String>) -> Self {
        let reject = violations.iter().any(|v| v.severity == Severity::Reject);
        Self {
            reject,
            violations,
            normalized: Vec::new(),
            key,
            digests: None,
        }
    }

    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

/// A cell seen without copying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum View<'a> {
    Str(&'a str),
    /// Canonical decimal text: compared as a number, its length counted in digits.
    Dec(&'a str),
    Int(i64),
    Date(NaiveDate),
    Datetime(NaiveDateTime),
    Bool(bool),
}

impl<'a> View<'a> {
    fn of(cell: &'a CellValue) -> Self {
        match cell {
            CellValue::Text(s) => View::Str(s),
            CellValue::Decimal(s) => View::Dec(s),
            CellValue::Integer(i) => View::Int(*i),
            CellValue::Date(d) => View::Date(*d),
            CellValue::Datetime(t) => View::Datetime(*t),
            CellValue::Boolean(b) => View::Bool(*b),
        }
    }

    fn date(self) -> Option<NaiveDate> {
        match self {
            View::Date(d) => Some(d),
            View::Datetime(t) => Some(t.date()),
            View::Str(s) => parse_date(s).ok(),
            _ => None,
        }
    }

    /// The canonical text, written into `buf` unless it is already text.
    fn text<'b>(self, buf: &'b mut String) -> &'b str
    where
        'a: 'b,
    {
        if let View::Str(s) | View::Dec(s) = self {
            return s;
        }
        buf.clear();
        // Writing to a String cannot fail.
        let _ = match self {
            View::Str(_) | View::Dec(_) => Ok(()),
            View::Int(i) => write!(buf, "{i}"),
            View::Date(d) => write!(buf, "{}", d.format("%Y-%m-%d")),
            View::Datetime(t) => write!(buf, "{}", t.format("%Y-%m-%d %H:%M:%S")),
            View::Bool(b) => write!(buf, "{b}"),
        };
        buf.as_str()
    }

    fn owned(self) -> String {
        let mut buf = String::new();
        self.text(&mut buf).to_owned()
    }
}

/// Passes a precomputed hash through: the uniqueness set's keys are hashes already.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, i: u128) {
        self.0 = (i as u64) ^ ((i >> 64) as u64);
    }
}

type HashedKeys = HashSet<u128, BuildHasherDefault<PassThrough>>;

/// Checks the rows of one batch. Holds the batch's uniqueness state, so use one
/// checker per batch.
pub struct RowChecker<'r> {
    rules: &'r RuleSet,
    refs: &'r dyn ReferenceSet,
    today: NaiveDate,
    /// One set of seen tuples per unique rule. Tuples are kept as two independent
    /// 64-bit SipHash values (16 bytes a row instead of the text): two different
    /// tuples collide with probability about n²/2¹²⁹, 10⁻²⁵ for 10 million rows.
    seen: Vec<HashedKeys>,
    hashes: Vec<Option<u128>>,
    /// Set by [`Self::deferring_repeats`]: the uniqueness rules (positions in
    /// `rules.unique`) whose digests each verdict carries instead.
    deferred: Option<Vec<usize>>,
    buf: String,
    buf2: String,
}

impl<'r> RowChecker<'r> {
    pub fn new(rules: &'r RuleSet, today: NaiveDate, refs: &'r dyn ReferenceSet) -> Self {
        Self {
            rules,
            refs,
            today,
            seen: vec![HashedKeys::default(); rules.unique.len()],
            hashes: Vec::with_capacity(rules.unique.len()),
            deferred: None,
            buf: String::new(),
            buf2: String::new(),
        }
    }

    /// Remember nothing of the rows: each verdict carries the row's digests
    /// (see [`super::repeats`]) and the caller finds repeats of the key and of
    /// [`RuleSet::repeat_rules`] itself, so memory stays flat however many
    /// rows the batch has.
    pub fn deferring_repeats(mut self) -> Self {
        self.deferred = Some(self.rules.repeat_rules().iter().map(|r| r.index).collect());
        self.seen = Vec::new();
        self
    }

    /// Check one row: `cells` in item order, as the reader typed them (`None` empty).
    pub fn check(&mut self, cells: &[Option<CellValue>]) -> RowVerdict {
        let rules = self.rules;
        let mut violations = Vec::new();
        let mut normalized: Vec<(usize, String)> = Vec::new();
        let cell = |i: usize| cells.get(i).and_then(Option::as_ref).map(View::of);

        for k in &rules.kinds {
            let Some(view) = cell(k.item) else { continue };
            let text = view.text(&mut self.buf);
            match k.kind.check_on(text, self.today) {
                Ok(n) => {
                    if let Some(w) = n.warning {
                        violations.push(violation(
                            rules,
                            &k.id,
                            k.item,
                            Some(view),
                            w.to_string(),
                            Severity::Warn,
                        ));
                    }
                    if n.value != text {
                        normalized.push((k.item, n.value.into_owned()));
                    }
                }
                Err(e) => {
                    let reason = kind_reason(&e);
                    violations.push(violation(
                        rules,
                        &k.id,
                        k.item,
                        Some(view),
                        reason,
                        k.severity,
                    ));
                }
            }
        }

        // Rules read the normalised value where the kind check produced one.
        let value = |i: usize| -> Option<View<'_>> {
            match normalized.iter().find(|(j, _)| *j == i) {
                Some((_, s)) => Some(View::Str(s)),
                None => cell(i),
            }
        };

        for rule in &rules.rows {
            let failure = match &rule.check {
                Check::Range { item, min, max } => value(*item).and_then(|v| {
                    let below = min
                        .as_ref()
                        .is_some_and(|b| compare(v, b) == Some(Ordering::Less));
                    let above = max
                        .as_ref()
                        .is_some_and(|b| compare(v, b) == Some(Ordering::Greater));
                    (below || above).then(|| {
                        (
                            *item,
                            Some(v),
                            format!("outside the range {}", range_text(min, max)),
                        )
                    })
                }),
                Check::Allowed { item, values } => value(*item).and_then(|v| {
                    let text = v.text(&mut self.buf);
                    (!values.contains(text))
                        .then(|| (*item, Some(v), "not one of the allowed values".to_owned()))
                }),
                Check::Pattern { item, regex } => value(*item).and_then(|v| {
                    let text = v.text(&mut self.buf);
                    (!regex.is_match(text)).then(|| {
                        (
                            *item,
                            Some(v),
                            format!("does not match the pattern {}", regex.as_str()),
                        )
                    })
                }),
                Check::Length { item, min, max } => value(*item).and_then(|v| {
                    let n = length_of(v, &mut self.buf);
                    let short = min.is_some_and(|m| n < m as usize);
                    let long = max.is_some_and(|m| n > m as usize);
                    (short || long).then(|| {
                        let limit = match (min, max) {
                            (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                            (Some(lo), None) => format!("at least {lo}"),
                            (None, Some(hi)) => format!("at most {hi}"),
                            (None, None) => String::new(),
                        };
                        (*item, Some(v), format!("length {n}, expected {limit}"))
                    })
                }),
                Check::IdBirthDate { id, birth } => {
                    match (id_of(value(*id)), value(*birth).and_then(View::date)) {
                        (Some(d), Some(b)) if d.birth_date != b => Some((
                            *birth,
                            value(*birth),
                            format!(
                                "the ID number gives the birth date {}",
                                d.birth_date.format("%Y-%m-%d")
                            ),
                        )),
                        _ => None,
                    }
                }
                Check::IdSex { id, sex } => match (id_of(value(*id)), value(*sex)) {
                    (Some(d), Some(v)) => match sex_of(v) {
                        SexCode::Known(s) if s != d.sex => Some((
                            *sex,
                            Some(v),
                            format!(
                                "the ID number gives the sex {}",
                                match d.sex {
                                    Sex::Male => "男 (male)",
                                    Sex::Female => "女 (female)",
                                }
                            ),
                        )),
                        SexCode::Unrecognised => {
                            Some((*sex, Some(v), "not a sex code (男/女, 1/2, M/F)".to_owned()))
                        }
                        _ => None,
                    },
                    _ => None,
                },
                Check::DateOrder { before, after } => {
                    let b = value(*before).and_then(View::date);
                    let a = value(*after);
                    match (b, a.and_then(View::date)) {
                        (Some(b), Some(ad)) if ad < b => Some((
                            *after,
                            a,
                            format!(
                                "before {} {}",
                                rules.items[*before].key,
                                b.format("%Y-%m-%d")
                            ),
                        )),
                        _ => None,
                    }
                }
                Check::Reference {
                    item,
                    resource,
                    target,
                } => value(*item).and_then(|v| {
                    let text = v.text(&mut self.buf);
                    (!self.refs.contains(resource, target, text)).then(|| {
                        (
                            *item,
                            Some(v),
                            format!("not found as {target} in resource {resource}"),
                        )
                    })
                }),
                Check::Freshness { item, max_age_days } => {
                    let v = value(*item);
                    v.and_then(View::date).and_then(|d| {
                        let age = (self.today - d).num_days();
                        (age > i64::from(*max_age_days)).then(|| {
                            (
                                *item,
                                v,
                                format!("{age} days old, more than {max_age_days}"),
                            )
                        })
                    })
                }
            };
            if let Some((item, v, reason)) = failure {
                violations.push(violation(rules, &rule.id, item, v, reason, rule.severity));
            }
        }

        let mut reject = violations.iter().any(|v| v.severity == Severity::Reject);

        let digests = self.deferred.as_ref().map(|rules_to_hash| {
            let unique = rules_to_hash
                .iter()
                .map(|&u| {
                    // A rejected row claims no value, as below.
                    if reject {
                        return None;
                    }
                    rules
                        .unique
                        .get(u)
                        .and_then(|u| hash_tuple(u.items.iter().map(|&i| value(i))))
                })
                .collect();
            RowDigests {
                key: key_digest(rules.key_items.iter().map(|&i| cell(i))),
                unique,
            }
        });

        // Uniqueness last: a row that is not loaded must not claim its key, or the
        // corrected row later in the batch would be taken for a duplicate.
        if !rules.unique.is_empty() && !reject && self.deferred.is_none() {
            self.hashes.clear();
            for (u, seen) in rules.unique.iter().zip(&self.seen) {
                let h = hash_tuple(u.items.iter().map(|&i| value(i)));
                if let Some(h) = h
                    && seen.contains(&h)
                {
                    let item = u.items.first().copied().unwrap_or_default();
                    let keys: Vec<&str> = u
                        .items
                        .iter()
                        .map(|&i| rules.items[i].key.as_str())
                        .collect();
                    let reason = repeat_reason(&keys);
                    violations.push(violation(
                        rules,
                        &u.id,
                        item,
                        value(item),
                        reason,
                        u.severity,
                    ));
                }
                self.hashes.push(h);
            }
            reject = violations.iter().any(|v| v.severity == Severity::Reject);
            if !reject {
                for (seen, h) in self.seen.iter_mut().zip(&self.hashes) {
                    if let Some(h) = h {
                        seen.insert(*h);
                    }
                }
            }
        }

        let key = if violations.is_empty() {
            None
        } else {
            Some(self.key_text(cells))
        };
        RowVerdict {
            reject,
            violations,
            normalized,
            key,
            digests,
        }
    }

    fn key_text(&mut self, cells: &[Option<CellValue>]) -> String {
        let mut out = String::new();
        for (n, &i) in self.rules.key_items.iter().enumerate() {
            if n > 0 {
                out.push('|');
            }
            if let Some(v) = cells.get(i).and_then(Option::as_ref).map(View::of) {
                out.push_str(v.text(&mut self.buf2));
            }
        }
        out
    }

    /// Make room for `rows` rows in the uniqueness sets when the batch size is
    /// known (a previous batch's count), so the sets do not rehash as they grow.
    pub fn reserve(&mut self, rows: usize) {
        for seen in &mut self.seen {
            seen.reserve(rows);
        }
    }

    /// Tuples remembered by the first uniqueness rule: the key's, unless a declared
    /// rule replaced it.
    pub fn distinct_keys(&self) -> usize {
        self.seen.first().map_or(0, HashSet::len)
    }
}

/// Batch-level rules, evaluated once per batch.
pub struct BatchChecks;

impl BatchChecks {
    /// The row-count rules of `rules` against the last batch's count. No previous
    /// batch (or an empty one) gives nothing to compare with, so no violation.
    pub fn row_count_change(
        rules: &RuleSet,
        previous: Option<u64>,
        current: u64,
    ) -> Vec<Violation> {
        let Some(prev) = previous.filter(|p| *p > 0) else {
            return Vec::new();
        };
        let ratio = (current as f64 - prev as f64).abs() / prev as f64;
        rules
            .row_count
            .iter()
            .filter(|r| ratio > r.max_ratio)
            .map(|r| Violation {
                rule: r.id.clone(),
                item: None,
                value: Some(current.to_string()),
                reason: format!(
                    "{current} rows against {prev} in the last batch: a change of {:.1}%, more than {:.1}%",
                    ratio * 100.0,
                    r.max_ratio * 100.0
                ),
                severity: r.severity,
            })
            .collect()
    }
}

fn violation(
    rules: &RuleSet,
    id: &RuleId,
    item: usize,
    value: Option<View<'_>>,
    reason: String,
    severity: Severity,
) -> Violation {
    Violation {
        rule: id.clone(),
        item: rules.items.get(item).map(|i| i.key.clone()),
        value: value.map(View::owned),
        reason,
        severity,
    }
}

fn kind_reason(e: &KindError) -> String {
    e.to_string()
}

fn id_of(v: Option<View<'_>>) -> Option<citizen_id::Decoded> {
    match v {
        Some(View::Str(s)) => citizen_id::decode(s, None).ok(),
        _ => None,
    }
}

enum SexCode {
    Known(Sex),
    /// 0 not known, 9 not stated (GB/T 2261.1): nothing to compare.
    Unstated,
    Unrecognised,
}

fn sex_of(v: View<'_>) -> SexCode {
    let code = match v {
        View::Int(i) => i.to_string(),
        View::Str(s) => s.trim().to_ascii_lowercase(),
        _ => return SexCode::Unrecognised,
    };
    match code.as_str() {
        "男" | "1" | "m" | "male" | "男性" => SexCode::Known(Sex::Male),
        "女" | "2" | "f" | "female" | "女性" => SexCode::Known(Sex::Female),
        "0" | "9" | "未知" | "未说明" => SexCode::Unstated,
        _ => SexCode::Unrecognised,
    }
}

/// Characters of text, or digits of a number (sign and point not counted).
fn length_of(v: View<'_>, buf: &mut String) -> usize {
    match v {
        View::Str(s) => s.chars().count(),
        View::Dec(s) => s.bytes().filter(u8::is_ascii_digit).count(),
        View::Int(i) => i
            .unsigned_abs()
            .checked_ilog10()
            .map_or(1, |d| d as usize + 1),
        other => other.text(buf).chars().count(),
    }
}

fn compare(v: View<'_>, bound: &Scalar) -> Option<Ordering> {
    match (v, bound) {
        (View::Int(i), Scalar::Int(b)) => Some(i.cmp(b)),
        (View::Dec(s) | View::Str(s), Scalar::Decimal(b)) => Some(cmp_decimal(s, b)),
        (View::Datetime(t), Scalar::Datetime(b)) => Some(t.cmp(b)),
        (v, Scalar::Date(b)) => v.date().map(|d| d.cmp(b)),
        _ => None,
    }
}

/// Compare two canonical decimals (`-12.50`, `0.5`) exactly.
fn cmp_decimal(a: &str, b: &str) -> Ordering {
    fn split(s: &str) -> (bool, &str, &str) {
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        (neg, int.trim_start_matches('0'), frac.trim_end_matches('0'))
    }
    let (an, ai, af) = split(a);
    let (bn, bi, bf) = split(b);
    let zero = |i: &str, f: &str| i.is_empty() && f.is_empty();
    let (an, bn) = (an && !zero(ai, af), bn && !zero(bi, bf));
    let magnitude = ai
        .len()
        .cmp(&bi.len())
        .then_with(|| ai.cmp(bi))
        .then_with(|| af.cmp(bf));
    match (an, bn) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

fn range_text(min: &Option<Scalar>, max: &Option<Scalar>) -> String {
    let show = |s: &Option<Scalar>| match s {
        None => "…".to_owned(),
        Some(Scalar::Int(i)) => i.to_string(),
        Some(Scalar::Decimal(d)) => d.clone(),
        Some(Scalar::Date(d)) => d.format("%Y-%m-%d").to_string(),
        Some(Scalar::Datetime(t)) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
    };
    format!("{} to {}", show(min), show(max))
}

/// Hash a row's key, an empty value as a marker of its own: the reader's own
/// repeat check takes two rows with the same empty key part for repeats.
fn key_digest<'a>(values: impl Iterator<Item = Option<View<'a>>>) -> u128 {
    let mut a = DefaultHasher::new();
    let mut b = DefaultHasher::new();
    b.write_u64(0x9e37_79b9_7f4a_7c15);
    for v in values {
        match v {
            Some(View::Date(d)) => (1u8, d.num_days_from_ce()).hash(&mut a),
            Some(other) => (1u8, other).hash(&mut a),
            None => 0u8.hash(&mut a),
        }
        match v {
            Some(View::Date(d)) => (1u8, d.num_days_from_ce()).hash(&mut b),
            Some(other) => (1u8, other).hash(&mut b),
            None => 0u8.hash(&mut b),
        }
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Hash a tuple of values; `None` when any is empty, since a missing value is not
/// a duplicate of another missing value.
fn hash_tuple<'a>(values: impl Iterator<Item = Option<View<'a>>>) -> Option<u128> {
    let mut a = DefaultHasher::new();
    let mut b = DefaultHasher::new();
    // A different first word makes the second lane independent of the first.
    b.write_u64(0x9e37_79b9_7f4a_7c15);
    for v in values {
        let v = v?;
        // Dates hash by day number so a date parsed from text equals a typed one.
        match v {
            View::Date(d) => d.num_days_from_ce().hash(&mut a),
            other => other.hash(&mut a),
        }
        match v {
            View::Date(d) => d.num_days_from_ce().hash(&mut b),
            other => other.hash(&mut b),
        }
    }
    Some((u128::from(a.finish()) << 64) | u128::from(b.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_exactly() {
        let cases = [
            ("0.5", "0.45", Ordering::Greater),
            ("-0.5", "-0.45", Ordering::Less),
            ("12.50", "12.5", Ordering::Equal),
            ("-0.00", "0", Ordering::Equal),
            ("100", "99.999", Ordering::Greater),
            ("-1", "0.1", Ordering::Less),
            (
                "123456789012345678901234567890.1",
                "123456789012345678901234567890",
                Ordering::Greater,
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp_decimal(a, b), want, "{a} vs {b}");
            assert_eq!(cmp_decimal(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn number_lengths_count_digits() {
        let mut buf = String::new();
        assert_eq!(length_of(View::Int(0), &mut buf), 1);
        assert_eq!(length_of(View::Int(-12345), &mut buf), 5);
        assert_eq!(length_of(View::Int(i64::MIN), &mut buf), 19);
        assert_eq!(length_of(View::Dec("-12.50"), &mut buf), 4);
        assert_eq!(length_of(View::Str("张三丰"), &mut buf), 3);
    }

    #[test]
    fn tuples_hash_apart_and_empty_values_do_not_hash() {
        let a = hash_tuple([Some(View::Str("ab")), Some(View::Str("c"))].into_iter());
        let b = hash_tuple([Some(View::Str("a")), Some(View::Str("bc"))].into_iter());
        assert_ne!(a, b);
        assert_eq!(hash_tuple([Some(View::Int(1)), None].into_iter()), None);
    }
}
