//! A release (开放发布): a view of one resource (chosen items, a row filter)
//! that a provider proposes for opening, the treatment of each item the scan
//! flagged, and its review: 谁提供、谁审核、谁负责 — the proposer, and a reviewer
//! of the same department who is someone else, are both named on it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pii::ScanReport;
use crate::catalog::{Grade, OpenType, ResourceSpec};
use crate::value::parse_cell;

/// Why a release, or a step of its review, was refused. The message says
/// what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error(
        "name: \"{0}\" is not a dataset name: use 2-100 characters a-z, 0-9, - and _ (the name appears in URLs)"
    )]
    BadName(String),
    #[error("items: the resource has no item \"{0}\"")]
    UnknownItem(String),
    #[error("items: {0} is graded 4 (core) and is never opened; leave it out of the view")]
    CoreItem(String),
    #[error("items: a release needs at least one item")]
    EmptyView,
    #[error("filters[{index}]: {message}")]
    BadFilter { index: usize, message: String },
    #[error("open_type: {0}")]
    OpenType(String),
    #[error("{item}: {message}")]
    BadTreatment { item: String, message: String },
    #[error("the release is {0}: only a proposed or suspended release can be changed or approved")]
    NotProposed(ReleaseState),
    #[error("the release is already withdrawn")]
    AlreadyWithdrawn,
    #[error(
        "the personal-data scan found values in {0} that are not dealt with: mask, drop or justify each before approval"
    )]
    Blocked(String),
    #[error(
        "the proposer cannot approve the own release: a second person of the department reviews it"
    )]
    SelfReview,
}

/// A released dataset's name: what CKAN clients call it (`package_show?id=`),
/// in URLs, so lower-case ASCII as CKAN requires.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ReleaseName(String);

impl ReleaseName {
    pub fn parse(raw: &str) -> Result<Self, ReleaseError> {
        let ok = (2..=100).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ReleaseError::BadName(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReleaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ReleaseName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        ReleaseName::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Who may use a release: anyone, or registered users who accept its terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseOpenType {
    Open,
    Conditional,
}

impl ReleaseOpenType {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseOpenType::Open => "open",
            ReleaseOpenType::Conditional => "conditional",
        }
    }

    /// The asked open type (default: what the catalog declares), never more
    /// open than the catalog declares for the resource.
    pub fn choose(asked: Option<&str>, declared: OpenType) -> Result<Self, ReleaseError> {
        let declared_as = match declared {
            OpenType::Open => ReleaseOpenType::Open,
            OpenType::Conditional => ReleaseOpenType::Conditional,
            OpenType::Closed => {
                return Err(ReleaseError::OpenType(
                    "the catalog declares the resource closed (不予开放): change its declaration first".into(),
                ));
            }
        };
        let asked = match asked.map(str::trim) {
            None | Some("") => return Ok(declared_as),
            Some("open") | Some("无条件开放") => ReleaseOpenType::Open,
            Some("conditional") | Some("有条件开放") => ReleaseOpenType::Conditional,
            Some(other) => {
                return Err(ReleaseError::OpenType(format!(
                    "\"{other}\" is not open or conditional"
                )));
            }
        };
        if asked == ReleaseOpenType::Open && declared_as == ReleaseOpenType::Conditional {
            return Err(ReleaseError::OpenType(
                "the catalog declares the resource open on conditions (有条件开放): release it as conditional".into(),
            ));
        }
        Ok(asked)
    }
}

/// Where a release stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// Scanned, waiting for treatments and the reviewer.
    Proposed,
    /// Approved and public.
    Published,
    /// Taken off the portal because a later batch brought personal values
    /// the treatments do not cover; back once they are dealt with and a
    /// reviewer approves again.
    Suspended,
    /// Taken back (before or after publication); kept for the record.
    Withdrawn,
}

impl ReleaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Proposed => "proposed",
            ReleaseState::Published => "published",
            ReleaseState::Suspended => "suspended",
            ReleaseState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            ReleaseState::Proposed,
            ReleaseState::Published,
            ReleaseState::Suspended,
            ReleaseState::Withdrawn,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Treatments change, and approval happens, only before publication or
    /// while suspended.
    pub fn check_proposed(self) -> Result<(), ReleaseError> {
        match self {
            ReleaseState::Proposed | ReleaseState::Suspended => Ok(()),
            other => Err(ReleaseError::NotProposed(other)),
        }
    }

    /// What a fresh scan of the data makes of a published release: hits
    /// that no treatment covers suspend it; anything else stays as it is.
    pub fn after_rescan(self, blocking: &[String]) -> ReleaseState {
        match self {
            ReleaseState::Published if !blocking.is_empty() => ReleaseState::Suspended,
            other => other,
        }
    }

    /// Approve: every hit dealt with, and a reviewer other than the proposer.
    pub fn approve(
        self,
        blocking: &[String],
        proposer: &str,
        reviewer: &str,
    ) -> Result<ReleaseState, ReleaseError> {
        self.check_proposed()?;
        if proposer == reviewer {
            return Err(ReleaseError::SelfReview);
        }
        if !blocking.is_empty() {
            return Err(ReleaseError::Blocked(blocking.join(", ")));
        }
        Ok(ReleaseState::Published)
    }

    pub fn withdraw(self) -> Result<ReleaseState, ReleaseError> {
        match self {
            ReleaseState::Withdrawn => Err(ReleaseError::AlreadyWithdrawn),
            _ => Ok(ReleaseState::Withdrawn),
        }
    }
}

impl fmt::Display for ReleaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One condition of the view's row filter, as the data API writes it:
/// `{"item": "district", "op": "eq", "value": "锦江区"}`; `in` takes an array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewFilter {
    pub item: String,
    #[serde(default = "default_op")]
    pub op: String,
    pub value: Value,
}

fn default_op() -> String {
    "eq".into()
}

const FILTER_OPS: [&str; 6] = ["eq", "lt", "lte", "gt", "gte", "in"];

impl ViewFilter {
    /// The filter's values as text, one for each op but `in`.
    pub fn values(&self) -> Vec<String> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match &self.value {
            Value::Array(values) => values.iter().map(text).collect(),
            one => vec![text(one)],
        }
    }
}

/// What a release opens of its resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseView {
    /// Item keys, in the resource's order.
    pub items: Vec<String>,
    #[serde(default)]
    pub filters: Vec<ViewFilter>,
}

/// Check a proposed view against the resource: known items, none graded 4
/// (an empty list means every item below grade 4), filters on known items
/// with values of their type. Items come back in the resource's order.
pub fn check_view(spec: &ResourceSpec, view: ReleaseView) -> Result<ReleaseView, ReleaseError> {
    for key in &view.items {
        let item = spec
            .item(key)
            .ok_or_else(|| ReleaseError::UnknownItem(key.clone()))?;
        if item.grade >= Grade::CORE {
            return Err(ReleaseError::CoreItem(key.clone()));
        }
    }
    let items: Vec<String> = spec
        .items
        .iter()
        .filter(|i| i.grade < Grade::CORE)
        .filter(|i| view.items.is_empty() || view.items.iter().any(|k| k == i.key.as_str()))
        .map(|i| i.key.to_string())
        .collect();
    if items.is_empty() {
        return Err(ReleaseError::EmptyView);
    }
    for (index, filter) in view.filters.iter().enumerate() {
        let bad = |message: String| ReleaseError::BadFilter { index, message };
        let item = spec
            .item(&filter.item)
            .ok_or_else(|| bad(format!("the resource has no item \"{}\"", filter.item)))?;
        if !FILTER_OPS.contains(&filter.op.as_str()) {
            return Err(bad(format!(
                "op \"{}\" is not one of {}",
                filter.op,
                FILTER_OPS.join(", ")
            )));
        }
        if (filter.op == "in") != filter.value.is_array() {
            return Err(bad(
                "in takes an array of values; the other ops one value".into()
            ));
        }
        for value in filter.values() {
            match parse_cell(item.item_type, &value) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(bad("the value is empty".into())),
                Err(e) => return Err(bad(format!("{}: {e}", filter.item))),
            }
        }
    }
    Ok(ReleaseView {
        items,
        filters: view.filters,
    })
}

/// What is done about an item the scan flagged (or any item of the view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Treatment {
    /// Released masked by its kind's rule.
    Mask,
    /// Left out of the release.
    Drop,
    /// Released as it is, for a recorded reason (a public register by law).
    Justify { reason: String },
}

impl Treatment {
    /// From a client's action word and reason.
    pub fn parse(item: &str, action: &str, reason: Option<&str>) -> Result<Self, ReleaseError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let bad = |message: &str| ReleaseError::BadTreatment {
            item: item.to_owned(),
            message: message.to_owned(),
        };
        match action {
            "mask" => Ok(Treatment::Mask),
            "drop" => Ok(Treatment::Drop),
            "justify" => match reason {
                Some(r) if r.chars().count() <= 1000 => Ok(Treatment::Justify {
                    reason: r.to_owned(),
                }),
                Some(_) => Err(bad("reason: at most 1000 characters")),
                None => Err(bad(
                    "justify needs a reason (e.g. the law that makes the register public)",
                )),
            },
            other => Err(bad(&format!(
                "action \"{other}\" is not mask, drop or justify"
            ))),
        }
    }
}

/// Items the scan flagged that have no treatment yet: these block approval.
pub fn blocking_items(scan: &ScanReport, treatments: &BTreeMap<String, Treatment>) -> Vec<String> {
    scan.findings
        .iter()
        .filter(|f| !treatments.contains_key(&f.item))
        .map(|f| f.item.clone())
        .collect()
}

/// An item as a release publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleasedItem {
    pub key: String,
    pub masked: bool,
}

/// The view's items as they go out: dropped ones left out, masked ones marked.
pub fn released_items(
    view: &ReleaseView,
    treatments: &BTreeMap<String, Treatment>,
) -> Vec<ReleasedItem> {
    view.items
        .iter()
        .filter_map(|key| match treatments.get(key) {
            Some(Treatment::Drop) => None,
            Some(Treatment::Mask) => Some(ReleasedItem {
                key: key.clone(),
                masked: true,
            }),
            _ => Some(ReleasedItem {
                key: key.clone(),
                masked: false,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::NewResourceRequest;
    use crate::opendata::{PiiFinding, PiiKind};

    fn spec() -> ResourceSpec {
        let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
            "name": "人口", "key_items": ["id_number"],
            "items": [
                {"key": "id_number", "name": "公民身份号码", "type": "string", "grade": 3},
                {"key": "district", "name": "区县", "type": "string", "grade": 1},
                {"key": "children", "name": "子女数", "type": "integer", "grade": 1},
                {"key": "income", "name": "年收入", "type": "decimal", "grade": 4}
            ]
        }))
        .unwrap();
        ResourceSpec::parse(req).unwrap()
    }

    #[test]
    fn a_rescan_suspends_only_a_published_release_with_uncovered_hits() {
        let hit = vec!["name".to_owned()];
        use ReleaseState::*;
        assert_eq!(Published.after_rescan(&hit), Suspended);
        assert_eq!(Published.after_rescan(&[]), Published);
        assert_eq!(
            Suspended.after_rescan(&[]),
            Suspended,
            "back only by review"
        );
        assert_eq!(Withdrawn.after_rescan(&hit), Withdrawn);
        assert_eq!(Proposed.after_rescan(&hit), Proposed);
        // A suspended release is treated and approved like a proposed one.
        assert_eq!(Suspended.approve(&[], "user:a", "user:b"), Ok(Published));
        assert!(Suspended.approve(&hit, "user:a", "user:b").is_err());
        assert_eq!(ReleaseState::parse("suspended"), Some(Suspended));
    }

    #[test]
    fn names_are_url_safe() {
        assert!(ReleaseName::parse("101001-000001").is_ok());
        assert!(ReleaseName::parse("gdp_by_district").is_ok());
        for bad in ["", "a", "GDP", "人口", "a b", &"a".repeat(101)] {
            assert!(ReleaseName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_view_leaves_core_items_out_and_checks_its_filters() {
        let all = check_view(&spec(), ReleaseView::default()).unwrap();
        assert_eq!(all.items, ["id_number", "district", "children"]);
        let chosen = ReleaseView {
            items: vec!["children".into(), "district".into()],
            filters: vec![ViewFilter {
                item: "children".into(),
                op: "gte".into(),
                value: serde_json::json!(1),
            }],
        };
        assert_eq!(
            check_view(&spec(), chosen).unwrap().items,
            ["district", "children"]
        );
        let core = ReleaseView {
            items: vec!["income".into()],
            filters: vec![],
        };
        assert!(matches!(
            check_view(&spec(), core),
            Err(ReleaseError::CoreItem(_))
        ));
        let bad_value = ReleaseView {
            items: vec![],
            filters: vec![ViewFilter {
                item: "children".into(),
                op: "eq".into(),
                value: serde_json::json!("many"),
            }],
        };
        assert!(matches!(
            check_view(&spec(), bad_value),
            Err(ReleaseError::BadFilter { index: 0, .. })
        ));
        let bad_op = ReleaseView {
            items: vec![],
            filters: vec![ViewFilter {
                item: "district".into(),
                op: "like".into(),
                value: serde_json::json!("锦江区"),
            }],
        };
        assert!(check_view(&spec(), bad_op).is_err());
    }

    #[test]
    fn open_type_is_never_more_open_than_the_catalog() {
        use ReleaseOpenType::*;
        assert_eq!(ReleaseOpenType::choose(None, OpenType::Open), Ok(Open));
        assert_eq!(
            ReleaseOpenType::choose(Some("conditional"), OpenType::Open),
            Ok(Conditional)
        );
        assert!(ReleaseOpenType::choose(Some("open"), OpenType::Conditional).is_err());
        assert!(ReleaseOpenType::choose(None, OpenType::Closed).is_err());
        assert!(ReleaseOpenType::choose(Some("public"), OpenType::Open).is_err());
    }

    fn scan_with(items: &[&str]) -> ScanReport {
        ScanReport {
            rows_scanned: 10,
            complete: true,
            findings: items
                .iter()
                .map(|i| PiiFinding {
                    item: (*i).into(),
                    counts: [(PiiKind::CitizenId, 10)].into_iter().collect(),
                    example: None,
                })
                .collect(),
        }
    }

    #[test]
    fn every_hit_must_be_masked_dropped_or_justified_before_a_second_person_approves() {
        let scan = scan_with(&["id_number", "name", "phone"]);
        let mut treatments = BTreeMap::new();
        let state = ReleaseState::Proposed;
        assert_eq!(
            blocking_items(&scan, &treatments),
            ["id_number", "name", "phone"]
        );
        assert!(matches!(
            state.approve(&blocking_items(&scan, &treatments), "a", "b"),
            Err(ReleaseError::Blocked(_))
        ));
        treatments.insert("id_number".into(), Treatment::Drop);
        treatments.insert("name".into(), Treatment::Mask);
        assert!(Treatment::parse("phone", "justify", Some("  ")).is_err());
        treatments.insert(
            "phone".into(),
            Treatment::parse("phone", "justify", Some("单位办公电话，依法公开")).unwrap(),
        );
        let blocking = blocking_items(&scan, &treatments);
        assert!(blocking.is_empty());
        assert_eq!(
            state.approve(&blocking, "a", "a"),
            Err(ReleaseError::SelfReview)
        );
        assert_eq!(
            state.approve(&blocking, "a", "b"),
            Ok(ReleaseState::Published)
        );
        assert!(
            ReleaseState::Published
                .approve(&blocking, "a", "b")
                .is_err()
        );
        assert_eq!(
            ReleaseState::Published.withdraw(),
            Ok(ReleaseState::Withdrawn)
        );
        assert!(ReleaseState::Withdrawn.withdraw().is_err());

        let view = ReleaseView {
            items: vec!["id_number".into(), "name".into(), "phone".into()],
            filters: vec![],
        };
        let out = released_items(&view, &treatments);
        assert_eq!(
            out,
            [
                ReleasedItem {
                    key: "name".into(),
                    masked: true
                },
                ReleasedItem {
                    key: "phone".into(),
                    masked: false
                }
            ]
        );
    }
}
