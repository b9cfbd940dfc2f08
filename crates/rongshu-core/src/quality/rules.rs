//! A resource's quality rules checked against its items once, with patterns compiled
//! and bounds parsed, so the per-row check does no parsing of its own.

use std::collections::HashSet;
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::spec::{Bound, RuleSpec, Severity};
use crate::catalog::{ItemKey, ItemType, ResourceCode, ResourceSpec};
use crate::kind::ItemKind;
use crate::value::{CellValue, parse_cell};

/// A rule's name in a quality report, stable across batches so reports compare:
/// `kind:id_number`, `range:age`, `unique:a,b`, `type:age`, `row_count_change`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(String);

impl RuleId {
    /// A value that did not fit its item's type (recorded by the reader).
    pub fn type_check(item: &str) -> Self {
        Self(format!("type:{item}"))
    }

    /// A required item left empty (recorded by the reader).
    pub fn required(item: &str) -> Self {
        Self(format!("required:{item}"))
    }

    /// A rule as a stored failure or a report names it.
    pub fn named(id: &str) -> Self {
        Self(id.to_owned())
    }

    pub(crate) fn of(rule: &str, subject: &str) -> Self {
        if subject.is_empty() {
            Self(rule.to_owned())
        } else {
            Self(format!("{rule}:{subject}"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A declaration that does not fit the resource; `index` is the rule's position in
/// the declared list (`None` for the built-in rules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rule {index} ({rule}): \"{item}\" is not an item of the resource")]
    UnknownItem {
        index: usize,
        rule: &'static str,
        item: String,
    },
    #[error("rule {index} ({rule}): item \"{item}\" is of type {item_type}, {why}")]
    WrongType {
        index: usize,
        rule: &'static str,
        item: String,
        item_type: &'static str,
        why: &'static str,
    },
    #[error("rule {index} ({rule}){}: {message}", .item.as_ref().map(|i| format!(", item \"{i}\"")).unwrap_or_default())]
    Invalid {
        index: usize,
        rule: &'static str,
        item: Option<String>,
        message: String,
    },
}

impl RuleError {
    /// The position of the offending rule in the declared list.
    pub fn index(&self) -> usize {
        match self {
            RuleError::UnknownItem { index, .. }
            | RuleError::WrongType { index, .. }
            | RuleError::Invalid { index, .. } => *index,
        }
    }

    /// The item the error is about, when there is one.
    pub fn item(&self) -> Option<&str> {
        match self {
            RuleError::UnknownItem { item, .. } | RuleError::WrongType { item, .. } => Some(item),
            RuleError::Invalid { item, .. } => item.as_deref(),
        }
    }
}

/// One rule as the quality report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: RuleId,
    /// The rule tag (`range`, `kind`, `length`, `unique` …).
    pub rule: String,
    pub items: Vec<String>,
    /// The severity of a failure (a kind check's legacy-checksum warning is `warn`
    /// even though the rule is `reject`).
    pub severity: Severity,
    /// False for rules derived from the catalog.
    pub declared: bool,
}

/// A bound in the item's own type, so comparisons need no parsing per row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Int(i64),
    /// Canonical decimal text, compared exactly.
    Decimal(String),
    Date(NaiveDate),
    Datetime(NaiveDateTime),
}

/// A compiled row rule.
#[derive(Debug, Clone)]
pub(crate) enum Check {
    Range {
        item: usize,
        min: Option<Scalar>,
        max: Option<Scalar>,
    },
    Allowed {
        item: usize,
        values: HashSet<String>,
    },
    Pattern {
        item: usize,
        regex: regex::Regex,
    },
    Length {
        item: usize,
        min: Option<u32>,
        max: Option<u32>,
    },
    IdBirthDate {
        id: usize,
        birth: usize,
    },
    IdSex {
        id: usize,
        sex: usize,
    },
    DateOrder {
        before: usize,
        after: usize,
    },
    Reference {
        item: usize,
        resource: String,
        target: String,
    },
    Freshness {
        item: usize,
        max_age_days: u32,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct RowRule {
    pub id: RuleId,
    pub severity: Severity,
    pub check: Check,
}

#[derive(Debug, Clone)]
pub(crate) struct UniqueRule {
    pub id: RuleId,
    pub severity: Severity,
    pub items: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct KindRule {
    pub id: RuleId,
    pub item: usize,
    pub kind: ItemKind,
    /// Of a failed check; a legacy-checksum warning is always `warn`.
    pub severity: Severity,
}

#[derive(Debug, Clone)]
pub(crate) struct RowCountRule {
    pub id: RuleId,
    pub severity: Severity,
    pub max_ratio: f64,
}

/// What the checker needs to know of an item.
#[derive(Debug, Clone)]
pub(crate) struct ItemInfo {
    pub key: String,
    pub item_type: ItemType,
    pub kind: Option<ItemKind>,
}

/// A resource's rules, built-in and declared, ready to check rows.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) items: Vec<ItemInfo>,
    pub(crate) key_items: Vec<usize>,
    pub(crate) kinds: Vec<KindRule>,
    pub(crate) rows: Vec<RowRule>,
    pub(crate) unique: Vec<UniqueRule>,
    pub(crate) row_count: Vec<RowCountRule>,
    infos: Vec<RuleInfo>,
    declared: Vec<RuleSpec>,
}

/// Kinds whose check only trims, which the reader has already done.
fn kind_is_checked(kind: ItemKind) -> bool {
    !matches!(
        kind,
        ItemKind::Text | ItemKind::EntityName | ItemKind::Address
    )
}

fn is_date_like(info: &ItemInfo) -> bool {
    matches!(info.item_type, ItemType::Date | ItemType::Datetime)
        || (info.item_type == ItemType::String && info.kind == Some(ItemKind::Date))
}

struct Builder<'a> {
    spec: &'a ResourceSpec,
    set: RuleSet,
}

impl Builder<'_> {
    fn item(&self, index: usize, rule: &'static str, key: &str) -> Result<usize, RuleError> {
        self.spec
            .items
            .iter()
            .position(|it| it.key.as_str() == key)
            .ok_or_else(|| RuleError::UnknownItem {
                index,
                rule,
                item: key.to_owned(),
            })
    }

    fn wrong_type(
        &self,
        index: usize,
        rule: &'static str,
        item: usize,
        why: &'static str,
    ) -> RuleError {
        let info = &self.set.items[item];
        RuleError::WrongType {
            index,
            rule,
            item: info.key.clone(),
            item_type: info.item_type.as_str(),
            why,
        }
    }

    fn date_item(&self, index: usize, rule: &'static str, key: &str) -> Result<usize, RuleError> {
        let item = self.item(index, rule, key)?;
        if is_date_like(&self.set.items[item]) {
            Ok(item)
        } else {
            Err(self.wrong_type(
                index,
                rule,
                item,
                "but the rule needs a date (type date or datetime, or kind date)",
            ))
        }
    }

    fn text_item(&self, index: usize, rule: &'static str, key: &str) -> Result<usize, RuleError> {
        let item = self.item(index, rule, key)?;
        if self.set.items[item].item_type == ItemType::String {
            Ok(item)
        } else {
            Err(self.wrong_type(index, rule, item, "but the rule needs a string item"))
        }
    }

    /// Give a rule a name no other rule in the set has (`pattern:x`, `pattern:x#2`).
    fn unique_id(&self, rule: &str, subject: &str) -> RuleId {
        let base = RuleId::of(rule, subject);
        if !self.set.infos.iter().any(|i| i.id == base) {
            return base;
        }
        (2..)
            .map(|n| RuleId(format!("{}#{n}", base.0)))
            .find(|id| !self.set.infos.iter().any(|i| &i.id == id))
            .unwrap_or(base)
    }

    fn info(
        &mut self,
        id: &RuleId,
        rule: &str,
        items: &[usize],
        severity: Severity,
        declared: bool,
    ) {
        let items = items
            .iter()
            .map(|&i| self.set.items[i].key.clone())
            .collect();
        self.set.infos.push(RuleInfo {
            id: id.clone(),
            rule: rule.to_owned(),
            items,
            severity,
            declared,
        });
    }

    fn push_row(&mut self, rule: &'static str, items: &[usize], severity: Severity, check: Check) {
        let subject: Vec<&str> = items
            .iter()
            .map(|&i| self.set.items[i].key.as_str())
            .collect();
        let id = self.unique_id(rule, &subject.join(","));
        self.info(&id, rule, items, severity, true);
        self.set.rows.push(RowRule {
            id,
            severity,
            check,
        });
    }

    fn bound(
        &self,
        index: usize,
        item: usize,
        bound: &Option<Bound>,
    ) -> Result<Option<Scalar>, RuleError> {
        let Some(bound) = bound else {
            return Ok(None);
        };
        let info = &self.set.items[item];
        let text = bound.text();
        let bad = |what: &str| RuleError::Invalid {
            index,
            rule: "range",
            item: Some(info.key.clone()),
            message: format!("the bound \"{text}\" is not {what}"),
        };
        let scalar = match info.item_type {
            ItemType::Integer => Scalar::Int(text.parse().map_err(|_| bad("a whole number"))?),
            ItemType::Decimal => match parse_cell(ItemType::Decimal, &text) {
                Ok(Some(CellValue::Decimal(d))) => Scalar::Decimal(d),
                _ => return Err(bad("a decimal number")),
            },
            ItemType::Datetime => match parse_cell(ItemType::Datetime, &text) {
                Ok(Some(CellValue::Datetime(t))) => Scalar::Datetime(t),
                _ => Scalar::Datetime(
                    crate::ident::parse_date(&text)
                        .map_err(|_| bad("a date or date and time"))?
                        .and_time(chrono::NaiveTime::MIN),
                ),
            },
            _ => Scalar::Date(crate::ident::parse_date(&text).map_err(|_| bad("a date"))?),
        };
        Ok(Some(scalar))
    }

    fn declare(&mut self, index: usize, rule: RuleSpec) -> Result<(), RuleError> {
        let name = rule.name();
        let severity = rule.severity();
        let invalid = |item: Option<&str>, message: String| RuleError::Invalid {
            index,
            rule: name,
            item: item.map(str::to_owned),
            message,
        };
        match &rule {
            RuleSpec::Kind { item, .. } => {
                let i = self.item(index, name, item)?;
                let Some(k) = self.set.kinds.iter_mut().find(|k| k.item == i) else {
                    return Err(invalid(
                        Some(item),
                        "the item has no kind with a check (declare its kind in the catalog)"
                            .into(),
                    ));
                };
                k.severity = severity;
                let id = k.id.clone();
                if let Some(info) = self.set.infos.iter_mut().find(|r| r.id == id) {
                    info.severity = severity;
                    info.declared = true;
                }
            }
            RuleSpec::Unique { items, .. } => {
                if items.is_empty() {
                    return Err(invalid(None, "name at least one item".into()));
                }
                let mut cols = Vec::with_capacity(items.len());
                for key in items {
                    let i = self.item(index, name, key)?;
                    if cols.contains(&i) {
                        return Err(invalid(Some(key), "named twice".into()));
                    }
                    cols.push(i);
                }
                let mut sorted = cols.clone();
                sorted.sort_unstable();
                let mut key = self.set.key_items.clone();
                key.sort_unstable();
                // Declaring the key's uniqueness replaces the built-in rule (to change
                // its severity) rather than checking it twice.
                if sorted == key {
                    self.set.unique.retain(|u| u.id.as_str() != "unique_key");
                    self.set.infos.retain(|u| u.id.as_str() != "unique_key");
                }
                let subject: Vec<&str> = items.iter().map(String::as_str).collect();
                let id = self.unique_id(name, &subject.join(","));
                self.info(&id, name, &cols, severity, true);
                self.set.unique.push(UniqueRule {
                    id,
                    severity,
                    items: cols,
                });
            }
            RuleSpec::Range { item, min, max, .. } => {
                let i = self.item(index, name, item)?;
                let info = &self.set.items[i];
                let fits = matches!(info.item_type, ItemType::Integer | ItemType::Decimal)
                    || is_date_like(info);
                if !fits {
                    return Err(self.wrong_type(
                        index,
                        name,
                        i,
                        "but a range needs a number or a date",
                    ));
                }
                if min.is_none() && max.is_none() {
                    return Err(invalid(Some(item), "give min, max or both".into()));
                }
                let min = self.bound(index, i, min)?;
                let max = self.bound(index, i, max)?;
                self.push_row(name, &[i], severity, Check::Range { item: i, min, max });
            }
            RuleSpec::Allowed { item, values, .. } => {
                let i = self.item(index, name, item)?;
                if values.is_empty() {
                    return Err(invalid(Some(item), "the list of values is empty".into()));
                }
                let item_type = self.set.items[i].item_type;
                let mut set = HashSet::with_capacity(values.len());
                for v in values {
                    // Stored in canonical form so 007 matches an integer 7.
                    match parse_cell(item_type, v) {
                        Ok(Some(c)) => {
                            set.insert(c.canonical_text());
                        }
                        _ => {
                            return Err(invalid(
                                Some(item),
                                format!("\"{v}\" is not a {} value", item_type.as_str()),
                            ));
                        }
                    }
                }
                self.push_row(
                    name,
                    &[i],
                    severity,
                    Check::Allowed {
                        item: i,
                        values: set,
                    },
                );
            }
            RuleSpec::Pattern { item, pattern, .. } => {
                let i = self.item(index, name, item)?;
                if self.set.items[i].item_type == ItemType::Boolean {
                    return Err(self.wrong_type(index, name, i, "which a pattern cannot test"));
                }
                // A provider's pattern must not make the compiled program huge; the
                // regex crate already guarantees matching in linear time.
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        invalid(Some(item), format!("the pattern does not compile: {e}"))
                    })?;
                self.push_row(name, &[i], severity, Check::Pattern { item: i, regex });
            }
            RuleSpec::Length { item, min, max, .. } => {
                let i = self.item(index, name, item)?;
                let item_type = self.set.items[i].item_type;
                if !matches!(
                    item_type,
                    ItemType::String | ItemType::Integer | ItemType::Decimal
                ) {
                    return Err(self.wrong_type(
                        index,
                        name,
                        i,
                        "but a length applies to text and numbers",
                    ));
                }
                if min.is_none() && max.is_none() {
                    return Err(invalid(Some(item), "give min, max or both".into()));
                }
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    return Err(invalid(Some(item), format!("min {lo} is above max {hi}")));
                }
                let check = Check::Length {
                    item: i,
                    min: *min,
                    max: *max,
                };
                self.push_row(name, &[i], severity, check);
            }
            RuleSpec::IdBirthDate {
                id_item,
                birth_item,
                ..
            } => {
                let id = self.text_item(index, name, id_item)?;
                let birth = self.date_item(index, name, birth_item)?;
                self.push_row(
                    name,
                    &[id, birth],
                    severity,
                    Check::IdBirthDate { id, birth },
                );
            }
            RuleSpec::IdSex {
                id_item, sex_item, ..
            } => {
                let id = self.text_item(index, name, id_item)?;
                let sex = self.item(index, name, sex_item)?;
                if !matches!(
                    self.set.items[sex].item_type,
                    ItemType::String | ItemType::Integer
                ) {
                    return Err(self.wrong_type(
                        index,
                        name,
                        sex,
                        "but a sex is written as text (男/女, M/F) or a code (1/2)",
                    ));
                }
                self.push_row(name, &[id, sex], severity, Check::IdSex { id, sex });
            }
            RuleSpec::DateOrder { before, after, .. } => {
                let b = self.date_item(index, name, before)?;
                let a = self.date_item(index, name, after)?;
                if a == b {
                    return Err(invalid(
                        Some(before),
                        "before and after are the same item".into(),
                    ));
                }
                let check = Check::DateOrder {
                    before: b,
                    after: a,
                };
                self.push_row(name, &[b, a], severity, check);
            }
            RuleSpec::Reference {
                item,
                resource,
                target_item,
                ..
            } => {
                let i = self.item(index, name, item)?;
                let resource =
                    ResourceCode::parse(resource.trim()).map_err(|m| invalid(Some(item), m))?;
                let target =
                    ItemKey::parse(target_item.trim()).map_err(|m| invalid(Some(item), m))?;
                let check = Check::Reference {
                    item: i,
                    resource: resource.as_str().to_owned(),
                    target: target.as_str().to_owned(),
                };
                self.push_row(name, &[i], severity, check);
            }
            RuleSpec::RowCountChange { max_ratio, .. } => {
                if !max_ratio.is_finite() || *max_ratio < 0.0 {
                    return Err(invalid(
                        None,
                        format!("max_ratio must be a number of at least 0, found {max_ratio}"),
                    ));
                }
                let id = self.unique_id(name, "");
                self.info(&id, name, &[], severity, true);
                self.set.row_count.push(RowCountRule {
                    id,
                    severity,
                    max_ratio: *max_ratio,
                });
            }
            RuleSpec::Freshness {
                item, max_age_days, ..
            } => {
                let i = self.date_item(index, name, item)?;
                let check = Check::Freshness {
                    item: i,
                    max_age_days: *max_age_days,
                };
                self.push_row(name, &[i], severity, check);
            }
        }
        self.set.declared.push(rule);
        Ok(())
    }
}

impl RuleSet {
    /// The rules built in from the catalog (item kinds, declared lengths and the
    /// uniqueness of the key) plus the declared ones, each checked against the items.
    pub fn parse(spec: &ResourceSpec, rules: Vec<RuleSpec>) -> Result<RuleSet, RuleError> {
        let items: Vec<ItemInfo> = spec
            .items
            .iter()
            .map(|it| ItemInfo {
                key: it.key.as_str().to_owned(),
                item_type: it.item_type,
                kind: it.kind,
            })
            .collect();
        let key_items = spec
            .key_items
            .iter()
            .filter_map(|k| spec.items.iter().position(|it| &it.key == k))
            .collect();
        let mut b = Builder {
            spec,
            set: RuleSet {
                items,
                key_items,
                kinds: Vec::new(),
                rows: Vec::new(),
                unique: Vec::new(),
                row_count: Vec::new(),
                infos: Vec::new(),
                declared: Vec::new(),
            },
        };
        for (i, item) in spec.items.iter().enumerate() {
            if let Some(kind) = item.kind.filter(|k| kind_is_checked(*k)) {
                // A date typed as a date has already been parsed by the reader.
                let typed_date = kind == ItemKind::Date
                    && matches!(item.item_type, ItemType::Date | ItemType::Datetime);
                if !typed_date {
                    let id = RuleId::of("kind", item.key.as_str());
                    b.info(&id, "kind", &[i], Severity::Reject, false);
                    b.set.kinds.push(KindRule {
                        id,
                        item: i,
                        kind,
                        severity: Severity::Reject,
                    });
                }
            }
            let sized = matches!(
                item.item_type,
                ItemType::String | ItemType::Integer | ItemType::Decimal
            );
            if let Some(max) = item.length.filter(|_| sized) {
                let id = RuleId::of("length", item.key.as_str());
                b.info(&id, "length", &[i], Severity::Reject, false);
                b.set.rows.push(RowRule {
                    id,
                    severity: Severity::Reject,
                    check: Check::Length {
                        item: i,
                        min: None,
                        max: Some(max),
                    },
                });
            }
        }
        if !b.set.key_items.is_empty() {
            let id = RuleId::of("unique_key", "");
            let key = b.set.key_items.clone();
            b.info(&id, "unique", &key, Severity::Reject, false);
            b.set.unique.push(UniqueRule {
                id,
                severity: Severity::Reject,
                items: key,
            });
        }
        for (index, rule) in rules.into_iter().enumerate() {
            b.declare(index, rule)?;
        }
        Ok(b.set)
    }

    /// Every rule, built-in first, in the order the report lists them.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.infos
    }

    /// The declared rules as given (for storing and editing).
    pub fn declared(&self) -> &[RuleSpec] {
        &self.declared
    }

    /// The number of items a row has.
    pub fn width(&self) -> usize {
        self.items.len()
    }

    /// Whether rows need a [`super::ReferenceSet`] that knows something.
    pub fn has_references(&self) -> bool {
        self.rows
            .iter()
            .any(|r| matches!(r.check, Check::Reference { .. }))
    }

    /// The (resource, item) pairs the reference rules look values up in, so the
    /// caller can preload them.
    pub fn references(&self) -> Vec<(&str, &str)> {
        self.rows
            .iter()
            .filter_map(|r| match &r.check {
                Check::Reference {
                    resource, target, ..
                } => Some((resource.as_str(), target.as_str())),
                _ => None,
            })
            .collect()
    }
}
