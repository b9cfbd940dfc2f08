//! A share request (共享申请) as a consumer writes it, checked against the
//! resource it asks for; and the provider's approval, which may only narrow it
//! into the terms of a grant.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

use super::Purpose;
use crate::catalog::{Grade, ItemKey, ResourceCode, ResourceSpec};
use crate::value::parse_cell;

/// Longest grant a request may ask for: three years, then ask again.
pub const MAX_DURATION_DAYS: u32 = 3 * 366;
const MAX_TEXT_CHARS: usize = 2000;
const MAX_NAME_CHARS: usize = 100;

/// What a client sends, before it is checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequestInput {
    pub resource: Option<String>,
    /// The name of one of the consumer department's applications.
    pub application: Option<String>,
    #[serde(default)]
    pub items: Vec<String>,
    pub purpose: Option<String>,
    #[serde(default)]
    pub purpose_text: String,
    #[serde(default)]
    pub legal_basis: String,
    /// `item=value` terms, all of which a row must match (e.g. `district=武侯区`).
    #[serde(default)]
    pub row_scope: Vec<String>,
    pub duration_days: Option<i64>,
    /// Plain values wanted for the grade-3 items asked for.
    #[serde(default)]
    pub plain_wanted: bool,
}

/// One equality a row must meet; the value is the item type's canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeTerm {
    pub item: ItemKey,
    pub value: String,
}

/// Rows a grant covers: those matching every term. Empty means all rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowScope(Vec<ScopeTerm>);

impl RowScope {
    pub fn terms(&self) -> &[ScopeTerm] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Terms as `item=value` text, the form they are written and stored in.
    pub fn to_strings(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|t| format!("{}={}", t.item.as_str(), t.value))
            .collect()
    }

    /// Check `item=value` terms against the resource: known, not core, one
    /// term per item, and a value of the item's type.
    pub fn parse(raw: &[String], resource: &ResourceSpec) -> Result<Self, ShareRequestError> {
        let mut terms = Vec::with_capacity(raw.len());
        let mut seen = HashSet::new();
        for text in raw {
            let (key, value) = text
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| ShareRequestError::BadScopeTerm(text.clone()))?;
            let item = known_item(resource, "row_scope", key)?;
            if !seen.insert(key.to_owned()) {
                return Err(ShareRequestError::Duplicate {
                    field: "row_scope",
                    item: key.to_owned(),
                });
            }
            let value = parse_cell(item.item_type, value)
                .map_err(|e| ShareRequestError::BadScopeValue {
                    item: key.to_owned(),
                    message: e.to_string(),
                })?
                .ok_or_else(|| ShareRequestError::BadScopeTerm(text.clone()))?;
            terms.push(ScopeTerm {
                item: item.key.clone(),
                value: value.canonical_text(),
            });
        }
        Ok(Self(terms))
    }

    /// True when every row this scope admits, `wider` admits too.
    fn within(&self, wider: &RowScope) -> bool {
        wider.0.iter().all(|t| self.0.contains(t))
    }
}

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRequestSpec {
    pub resource: ResourceCode,
    pub application: String,
    pub items: Vec<ItemKey>,
    pub purpose: Purpose,
    pub purpose_text: String,
    pub legal_basis: String,
    pub row_scope: RowScope,
    pub duration_days: u32,
    pub plain_wanted: bool,
}

/// What is wrong with a request or an approval; `field()` names the part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareRequestError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{field}: at most {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("resource: {0}")]
    BadResource(String),
    #[error("items: name at least one item")]
    NoItems,
    #[error("{field}: the resource has no item \"{item}\"")]
    UnknownItem { field: &'static str, item: String },
    #[error("{field}: \"{item}\" is named twice")]
    Duplicate { field: &'static str, item: String },
    #[error("{field}: \"{item}\" is a core item (grade 4): it is never shared, only verified")]
    CoreItem { field: &'static str, item: String },
    #[error(
        "purpose: \"{0}\" is not administrative_basis, work_reference, data_verification or business_collaboration"
    )]
    BadPurpose(String),
    #[error("row_scope: \"{0}\" is not item=value")]
    BadScopeTerm(String),
    #[error("row_scope: {item}: {message}")]
    BadScopeValue { item: String, message: String },
    #[error("duration_days: give a number of days from 1 to {MAX_DURATION_DAYS}")]
    BadDuration,
    #[error(
        "plain_wanted: none of the items asked for is sensitive (grade 3); they are plain already"
    )]
    NothingToUnmask,
    #[error("{field}: an approval may only narrow the request: {message}")]
    NotNarrower {
        field: &'static str,
        message: String,
    },
}

impl ShareRequestError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ShareRequestError::Missing(f) | ShareRequestError::TooLong { field: f, .. } => f,
            ShareRequestError::BadResource(_) => "resource",
            ShareRequestError::NoItems => "items",
            ShareRequestError::UnknownItem { field, .. }
            | ShareRequestError::Duplicate { field, .. }
            | ShareRequestError::CoreItem { field, .. }
            | ShareRequestError::NotNarrower { field, .. } => field,
            ShareRequestError::BadPurpose(_) => "purpose",
            ShareRequestError::BadScopeTerm(_) | ShareRequestError::BadScopeValue { .. } => {
                "row_scope"
            }
            ShareRequestError::BadDuration => "duration_days",
            ShareRequestError::NothingToUnmask => "plain_wanted",
        }
    }
}

fn known_item<'a>(
    resource: &'a ResourceSpec,
    field: &'static str,
    key: &str,
) -> Result<&'a crate::catalog::Item, ShareRequestError> {
    let item = resource
        .item(key)
        .ok_or_else(|| ShareRequestError::UnknownItem {
            field,
            item: key.to_owned(),
        })?;
    if item.grade >= Grade::CORE {
        return Err(ShareRequestError::CoreItem {
            field,
            item: key.to_owned(),
        });
    }
    Ok(item)
}

fn text(
    field: &'static str,
    raw: &str,
    max: usize,
    required: bool,
) -> Result<String, ShareRequestError> {
    let v = raw.trim();
    if required && v.is_empty() {
        return Err(ShareRequestError::Missing(field));
    }
    if v.chars().count() > max {
        return Err(ShareRequestError::TooLong { field, max });
    }
    Ok(v.to_owned())
}

fn item_list(raw: &[String], resource: &ResourceSpec) -> Result<Vec<ItemKey>, ShareRequestError> {
    let mut items = Vec::with_capacity(raw.len());
    let mut seen = HashSet::new();
    for key in raw.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        let item = known_item(resource, "items", key)?;
        if !seen.insert(key) {
            return Err(ShareRequestError::Duplicate {
                field: "items",
                item: key.to_owned(),
            });
        }
        items.push(item.key.clone());
    }
    if items.is_empty() {
        return Err(ShareRequestError::NoItems);
    }
    Ok(items)
}

fn duration(raw: Option<i64>) -> Result<u32, ShareRequestError> {
    let days = raw.ok_or(ShareRequestError::Missing("duration_days"))?;
    u32::try_from(days)
        .ok()
        .filter(|d| (1..=MAX_DURATION_DAYS).contains(d))
        .ok_or(ShareRequestError::BadDuration)
}

fn any_sensitive(items: &[ItemKey], resource: &ResourceSpec) -> bool {
    items.iter().any(|k| {
        resource
            .item(k.as_str())
            .is_some_and(|i| i.grade >= Grade::SENSITIVE)
    })
}

impl ShareRequestSpec {
    /// Check a request against the declaration of the resource it names.
    pub fn parse(
        input: &ShareRequestInput,
        resource: &ResourceSpec,
    ) -> Result<Self, ShareRequestError> {
        let code = input
            .resource
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or(ShareRequestError::Missing("resource"))?;
        let code = ResourceCode::parse(code).map_err(ShareRequestError::BadResource)?;
        let application = text(
            "application",
            input.application.as_deref().unwrap_or_default(),
            MAX_NAME_CHARS,
            true,
        )?;
        let items = item_list(&input.items, resource)?;
        let purpose_raw = input
            .purpose
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or(ShareRequestError::Missing("purpose"))?;
        let purpose = Purpose::parse(purpose_raw)
            .ok_or_else(|| ShareRequestError::BadPurpose(purpose_raw.to_owned()))?;
        let purpose_text = text("purpose_text", &input.purpose_text, MAX_TEXT_CHARS, true)?;
        let legal_basis = text("legal_basis", &input.legal_basis, MAX_TEXT_CHARS, true)?;
        let row_scope = RowScope::parse(&input.row_scope, resource)?;
        let duration_days = duration(input.duration_days)?;
        if input.plain_wanted && !any_sensitive(&items, resource) {
            return Err(ShareRequestError::NothingToUnmask);
        }
        Ok(Self {
            resource: code,
            application,
            items,
            purpose,
            purpose_text,
            legal_basis,
            row_scope,
            duration_days,
            plain_wanted: input.plain_wanted,
        })
    }

    /// The terms of a grant that gives exactly what was asked.
    pub fn as_asked(&self) -> GrantTerms {
        GrantTerms {
            items: self.items.clone(),
            row_scope: self.row_scope.clone(),
            duration_days: self.duration_days,
            plain_allowed: self.plain_wanted,
        }
    }
}

/// A provider's approval: each field left out grants what was asked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub items: Option<Vec<String>>,
    pub row_scope: Option<Vec<String>>,
    pub duration_days: Option<i64>,
    pub plain_allowed: Option<bool>,
    #[serde(default)]
    pub comment: String,
}

/// What a grant allows.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantTerms {
    pub items: Vec<ItemKey>,
    pub row_scope: RowScope,
    pub duration_days: u32,
    /// Plain values for the granted grade-3 items.
    pub plain_allowed: bool,
}

impl Approval {
    /// The grant's terms: the request, narrowed as the approval says. Anything
    /// wider than the request (another item, fewer scope terms, longer, plain
    /// values not asked for) is refused.
    pub fn narrow(
        &self,
        request: &ShareRequestSpec,
        resource: &ResourceSpec,
    ) -> Result<GrantTerms, ShareRequestError> {
        let mut terms = request.as_asked();
        if let Some(items) = &self.items {
            let items = item_list(items, resource)?;
            if let Some(extra) = items.iter().find(|i| !request.items.contains(i)) {
                return Err(ShareRequestError::NotNarrower {
                    field: "items",
                    message: format!("\"{}\" was not asked for", extra.as_str()),
                });
            }
            terms.items = items;
        }
        if let Some(scope) = &self.row_scope {
            let scope = RowScope::parse(scope, resource)?;
            if !scope.within(&request.row_scope) {
                return Err(ShareRequestError::NotNarrower {
                    field: "row_scope",
                    message: format!(
                        "keep the requested terms {}",
                        request.row_scope.to_strings().join(", ")
                    ),
                });
            }
            terms.row_scope = scope;
        }
        if let Some(days) = self.duration_days {
            let days = duration(Some(days))?;
            if days > request.duration_days {
                return Err(ShareRequestError::NotNarrower {
                    field: "duration_days",
                    message: format!("{} days were asked for", request.duration_days),
                });
            }
            terms.duration_days = days;
        }
        if let Some(plain) = self.plain_allowed {
            if plain && !request.plain_wanted {
                return Err(ShareRequestError::NotNarrower {
                    field: "plain_allowed",
                    message: "plain values were not asked for".into(),
                });
            }
            terms.plain_allowed = plain;
        }
        if terms.plain_allowed && !any_sensitive(&terms.items, resource) {
            // Nothing left to unmask: say so in the grant rather than carry a flag that means nothing.
            terms.plain_allowed = false;
        }
        Ok(terms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::NewResourceRequest;

    fn population() -> ResourceSpec {
        let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
            "name": "人口基础信息", "summary": "户籍人口", "share_type": "conditional", "update_cycle": "daily",
            "share_condition": "依申请", "classification": "1-01-001",
            "key_items": ["id_number"],
            "items": [
                {"key": "id_number", "name": "公民身份号码", "type": "string", "required": true, "grade": 3},
                {"key": "name", "name": "姓名", "type": "string", "required": true, "grade": 3},
                {"key": "district", "name": "区县", "type": "string", "grade": 1},
                {"key": "children", "name": "子女数", "type": "integer", "grade": 1},
                {"key": "income", "name": "年收入", "type": "decimal", "grade": 4}
            ]
        }))
        .unwrap();
        ResourceSpec::parse(req).unwrap()
    }

    fn input() -> ShareRequestInput {
        ShareRequestInput {
            resource: Some("101001-00001".into()),
            application: Some("社保核验系统".into()),
            items: vec!["id_number".into(), "name".into(), "district".into()],
            purpose: Some("data_verification".into()),
            purpose_text: "核对参保人员身份".into(),
            legal_basis: "《社会保险法》".into(),
            row_scope: vec!["district=武侯区".into()],
            duration_days: Some(365),
            plain_wanted: true,
        }
    }

    #[test]
    fn a_complete_request_parses() {
        let spec = ShareRequestSpec::parse(&input(), &population()).unwrap();
        assert_eq!(spec.items.len(), 3);
        assert_eq!(spec.purpose, Purpose::DataVerification);
        assert_eq!(spec.row_scope.to_strings(), vec!["district=武侯区"]);
        assert!(spec.plain_wanted);
    }

    #[test]
    fn each_mistake_names_its_field() {
        let r = population();
        type Change = fn(&mut ShareRequestInput);
        let cases: Vec<(Change, &str)> = vec![
            (|i| i.resource = None, "resource"),
            (|i| i.application = Some(" ".into()), "application"),
            (|i| i.items = vec![], "items"),
            (|i| i.items = vec!["nosuch".into()], "items"),
            (|i| i.items = vec!["income".into()], "items"),
            (|i| i.items = vec!["name".into(), "name".into()], "items"),
            (|i| i.purpose = Some("curiosity".into()), "purpose"),
            (|i| i.purpose_text = String::new(), "purpose_text"),
            (|i| i.legal_basis = "x".repeat(2001), "legal_basis"),
            (|i| i.row_scope = vec!["district".into()], "row_scope"),
            (|i| i.row_scope = vec!["children=many".into()], "row_scope"),
            (|i| i.row_scope = vec!["income=1".into()], "row_scope"),
            (|i| i.duration_days = Some(0), "duration_days"),
            (|i| i.duration_days = None, "duration_days"),
            (
                |i| {
                    i.items = vec!["district".into()];
                },
                "plain_wanted",
            ),
        ];
        for (change, field) in cases {
            let mut i = input();
            change(&mut i);
            let err = ShareRequestSpec::parse(&i, &r).unwrap_err();
            assert_eq!(err.field(), field, "{err}");
        }
    }

    #[test]
    fn an_approval_narrows_but_never_widens() {
        let r = population();
        let request = ShareRequestSpec::parse(&input(), &r).unwrap();
        let narrowed = Approval {
            items: Some(vec!["name".into(), "district".into()]),
            row_scope: Some(vec!["district=武侯区".into(), "children=2".into()]),
            duration_days: Some(30),
            plain_allowed: Some(false),
            comment: String::new(),
        }
        .narrow(&request, &r)
        .unwrap();
        assert_eq!(narrowed.items.len(), 2);
        assert_eq!(narrowed.row_scope.terms().len(), 2);
        assert_eq!(narrowed.duration_days, 30);
        assert!(!narrowed.plain_allowed);

        let as_asked = Approval::default().narrow(&request, &r).unwrap();
        assert_eq!(as_asked, request.as_asked());

        let wider: Vec<Approval> = vec![
            Approval {
                items: Some(vec!["children".into()]),
                ..Approval::default()
            },
            Approval {
                row_scope: Some(vec![]),
                ..Approval::default()
            },
            Approval {
                row_scope: Some(vec!["district=锦江区".into()]),
                ..Approval::default()
            },
            Approval {
                duration_days: Some(400),
                ..Approval::default()
            },
        ];
        for a in wider {
            let err = a.narrow(&request, &r).unwrap_err();
            assert!(
                matches!(err, ShareRequestError::NotNarrower { .. }),
                "{err}"
            );
        }
        let mut masked_request = request.clone();
        masked_request.plain_wanted = false;
        let err = Approval {
            plain_allowed: Some(true),
            ..Approval::default()
        }
        .narrow(&masked_request, &r)
        .unwrap_err();
        assert_eq!(err.field(), "plain_allowed");
    }
}
