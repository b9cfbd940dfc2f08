//! The quality rules a provider or the platform office declares for a resource, as
//! they arrive in JSON, before they are checked against the resource's items.

use serde::{Deserialize, Serialize};

/// What a failed rule does to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row is not loaded.
    Reject,
    /// The row is loaded and flagged.
    Warn,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Reject => "reject",
            Severity::Warn => "warn",
        }
    }
}

/// A range bound as written: a JSON number, or a string for dates and exact decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    Number(serde_json::Number),
    Text(String),
}

impl Bound {
    pub(crate) fn text(&self) -> String {
        match self {
            Bound::Number(n) => n.to_string(),
            Bound::Text(s) => s.trim().to_owned(),
        }
    }
}

/// One declared rule, tagged by `rule`. `severity` may be left out: row-count change
/// and freshness default to `warn`, everything else to `reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleSpec {
    /// Changes the severity of the built-in kind check of `item` (reject by default;
    /// a legacy USCC checksum stays a warning).
    Kind {
        item: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// No two rows share the values of `items` (rows with any of them empty are skipped).
    Unique {
        items: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// `min <= value <= max` for numbers and dates; either bound may be left out.
    Range {
        item: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<Bound>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<Bound>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// The value is one of a code list.
    Allowed {
        item: String,
        values: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// The value matches a regular expression (anchor it with `^…$` for a whole match).
    Pattern {
        item: String,
        pattern: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// Length in characters (text) or digits (numbers).
    Length {
        item: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// The birth date in a citizen ID number equals the birth date item.
    IdBirthDate {
        id_item: String,
        birth_item: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// The sex in a citizen ID number equals the sex item (男/女, 1/2, M/F).
    IdSex {
        id_item: String,
        sex_item: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// `before` is on or before `after` (birth date before death date).
    DateOrder {
        before: String,
        after: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// The value exists as `target_item` in another resource or base registry.
    Reference {
        item: String,
        resource: String,
        target_item: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// The batch's row count differs from the last batch's by at most `max_ratio`.
    RowCountChange {
        max_ratio: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
    /// The date item is at most `max_age_days` before the day of checking.
    Freshness {
        item: String,
        max_age_days: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        severity: Option<Severity>,
    },
}

impl RuleSpec {
    /// The `rule` tag as written.
    pub fn name(&self) -> &'static str {
        match self {
            RuleSpec::Kind { .. } => "kind",
            RuleSpec::Unique { .. } => "unique",
            RuleSpec::Range { .. } => "range",
            RuleSpec::Allowed { .. } => "allowed",
            RuleSpec::Pattern { .. } => "pattern",
            RuleSpec::Length { .. } => "length",
            RuleSpec::IdBirthDate { .. } => "id_birth_date",
            RuleSpec::IdSex { .. } => "id_sex",
            RuleSpec::DateOrder { .. } => "date_order",
            RuleSpec::Reference { .. } => "reference",
            RuleSpec::RowCountChange { .. } => "row_count_change",
            RuleSpec::Freshness { .. } => "freshness",
        }
    }

    /// The declared severity, or the rule's default.
    pub fn severity(&self) -> Severity {
        let (declared, default) = match self {
            RuleSpec::RowCountChange { severity, .. } | RuleSpec::Freshness { severity, .. } => {
                (severity, Severity::Warn)
            }
            RuleSpec::Kind { severity, .. }
            | RuleSpec::Unique { severity, .. }
            | RuleSpec::Range { severity, .. }
            | RuleSpec::Allowed { severity, .. }
            | RuleSpec::Pattern { severity, .. }
            | RuleSpec::Length { severity, .. }
            | RuleSpec::IdBirthDate { severity, .. }
            | RuleSpec::IdSex { severity, .. }
            | RuleSpec::DateOrder { severity, .. }
            | RuleSpec::Reference { severity, .. } => (severity, Severity::Reject),
        };
        declared.unwrap_or(default)
    }
}
