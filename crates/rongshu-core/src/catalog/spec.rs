//! A resource declaration (items, key, grades, sharing and open attributes, the
//! national core metadata), checked once so an invalid one cannot exist past it.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

use super::CatalogError;
use super::element::{ElementCode, ElementError};
use super::metadata::{Classification, Format, OpenType, ResourceKind, ShareMode};
use super::types::{Grade, ItemKey, ItemType, ResourceCode, ShareType, UpdateCycle};
use crate::kind::ItemKind;

/// One declared item (信息项) of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub key: ItemKey,
    pub name: String,
    #[serde(rename = "type")]
    pub item_type: ItemType,
    /// 数据长度: the longest value, in characters (text) or digits (numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    #[serde(default)]
    pub required: bool,
    pub grade: Grade,
    /// What the item holds; drives checks on arrival and masking on the way out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ItemKind>,
    /// True when `kind` was inferred from the key or name rather than declared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kind_inferred: bool,
    /// The data element (数据元) the item carries, e.g. `person.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element: Option<ElementCode>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A resource declaration as a client sends it, before it is checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NewResourceRequest {
    pub name: Option<String>,
    #[serde(default)]
    pub summary: String,
    pub classification: Option<String>,
    pub kind: Option<String>,
    pub format: Option<String>,
    pub share_type: Option<String>,
    pub share_condition: Option<String>,
    pub share_mode: Option<String>,
    pub open_type: Option<String>,
    pub open_condition: Option<String>,
    pub update_cycle: Option<String>,
    pub grade: Option<i64>,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
    #[serde(default)]
    pub key_items: Vec<String>,
    #[serde(default)]
    pub items: Vec<ItemRequest>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ItemRequest {
    pub key: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub item_type: Option<String>,
    pub length: Option<u32>,
    #[serde(default)]
    pub required: bool,
    pub grade: Option<i64>,
    pub kind: Option<String>,
    pub element: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// A checked resource declaration: the national core metadata plus items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceSpec {
    pub name: String,
    pub summary: String,
    pub classification: Classification,
    pub kind: ResourceKind,
    pub format: Format,
    pub share_type: ShareType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_condition: Option<String>,
    pub share_mode: ShareMode,
    pub open_type: OpenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_condition: Option<String>,
    pub update_cycle: UpdateCycle,
    /// The resource's grade: at least its highest item grade.
    pub grade: Grade,
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub related: Vec<String>,
    pub key_items: Vec<ItemKey>,
    pub items: Vec<Item>,
    /// Core metadata the provider left out and that got a default; the review
    /// page points these out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaulted: Vec<String>,
}

/// Limits that keep one resource's table within what both databases handle well.
pub const MAX_ITEMS: usize = 500;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_SUMMARY_CHARS: usize = 4000;
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 50;
const MAX_CONDITION_CHARS: usize = 2000;

fn err(field: impl Into<String>, message: impl Into<String>) -> CatalogError {
    CatalogError::new(field, message)
}

fn text(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn tags(field: &str, raw: Vec<String>) -> Result<Vec<String>, CatalogError> {
    let mut out: Vec<String> = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let t = t.trim().to_owned();
        if t.is_empty() || out.contains(&t) {
            continue;
        }
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(err(
                format!("{field}[{i}]"),
                format!("at most {MAX_TAG_CHARS} characters"),
            ));
        }
        out.push(t);
    }
    if out.len() > MAX_TAGS {
        return Err(err(field, format!("at most {MAX_TAGS} entries")));
    }
    Ok(out)
}

fn condition(field: &str, raw: Option<String>) -> Result<Option<String>, CatalogError> {
    let value = text(raw);
    if value
        .as_ref()
        .is_some_and(|v| v.chars().count() > MAX_CONDITION_CHARS)
    {
        return Err(err(
            field,
            format!("at most {MAX_CONDITION_CHARS} characters"),
        ));
    }
    Ok(value)
}

/// Parse an optional enumerated field, recording a default when it is absent.
fn choice<T: Copy>(
    field: &str,
    raw: Option<String>,
    parse: impl Fn(&str) -> Option<T>,
    codes: &str,
    default: T,
    defaulted: &mut Vec<String>,
) -> Result<T, CatalogError> {
    match text(raw) {
        Some(v) => parse(&v).ok_or_else(|| err(field, format!("\"{v}\" is not one of {codes}"))),
        None => {
            defaulted.push(field.to_owned());
            Ok(default)
        }
    }
}

impl ResourceSpec {
    pub fn parse(req: NewResourceRequest) -> Result<Self, CatalogError> {
        let mut defaulted = Vec::new();
        let name = text(req.name).ok_or_else(|| err("name", "a resource needs a name"))?;
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(err("name", format!("at most {MAX_NAME_CHARS} characters")));
        }
        if req.summary.chars().count() > MAX_SUMMARY_CHARS {
            return Err(err(
                "summary",
                format!("at most {MAX_SUMMARY_CHARS} characters"),
            ));
        }
        let declared_kind = text(req.kind)
            .map(|k| {
                ResourceKind::parse(&k).ok_or_else(|| {
                    err(
                        "kind",
                        format!("\"{k}\" is not one of base, theme, department"),
                    )
                })
            })
            .transpose()?;
        let classification = match text(req.classification) {
            Some(c) => Classification::parse(&c).map_err(|m| err("classification", m))?,
            None => {
                defaulted.push("classification".into());
                Classification::unclassified(declared_kind.unwrap_or(ResourceKind::Department))
            }
        };
        if declared_kind.is_some_and(|k| k != classification.kind()) {
            return Err(err(
                "kind",
                format!(
                    "the classification {classification} is of kind {}",
                    classification.kind().as_str()
                ),
            ));
        }
        let kind = classification.kind();
        if declared_kind.is_none() && !defaulted.iter().any(|d| d == "classification") {
            // The kind follows from the classification; nothing to point out.
        } else if declared_kind.is_none() {
            defaulted.push("kind".into());
        }
        let format = choice(
            "format",
            req.format,
            Format::parse,
            &Format::codes(),
            Format::Database,
            &mut defaulted,
        )?;
        let share_type = choice(
            "share_type",
            req.share_type,
            ShareType::parse,
            "unconditional, conditional, none",
            ShareType::Unconditional,
            &mut defaulted,
        )?;
        let share_condition = condition("share_condition", req.share_condition)?;
        // Conditional and unshared resources must say on what basis; for a base
        // registry that is the only way to be anything but unconditional.
        if share_type != ShareType::Unconditional && share_condition.is_none() {
            let why = if kind == ResourceKind::Base {
                "a base-registry resource is shared unconditionally unless a legal basis is given here"
            } else {
                "a conditional or unshared resource needs its condition or legal basis"
            };
            return Err(err("share_condition", why));
        }
        let share_mode = choice(
            "share_mode",
            req.share_mode,
            ShareMode::parse,
            &ShareMode::codes(),
            ShareMode::Interface,
            &mut defaulted,
        )?;
        let open_type = choice(
            "open_type",
            req.open_type,
            OpenType::parse,
            &OpenType::codes(),
            OpenType::Closed,
            &mut defaulted,
        )?;
        let open_condition = condition("open_condition", req.open_condition)?;
        if open_type == OpenType::Conditional && open_condition.is_none() {
            return Err(err(
                "open_condition",
                "conditional opening needs its conditions",
            ));
        }
        let update_cycle = choice(
            "update_cycle",
            req.update_cycle,
            UpdateCycle::parse,
            "realtime, daily, weekly, monthly, quarterly, half_yearly, yearly",
            UpdateCycle::Monthly,
            &mut defaulted,
        )?;
        let topics = tags("topics", req.topics)?;
        let keywords = tags("keywords", req.keywords)?;
        let mut related = Vec::new();
        for (i, r) in req.related.iter().enumerate() {
            let code =
                ResourceCode::parse(r.trim()).map_err(|m| err(format!("related[{i}]"), m))?;
            related.push(code.as_str().to_owned());
        }

        if req.items.is_empty() {
            return Err(err("items", "a resource needs at least one item"));
        }
        if req.items.len() > MAX_ITEMS {
            return Err(err("items", format!("at most {MAX_ITEMS} items")));
        }
        let mut items = Vec::with_capacity(req.items.len());
        let mut seen = HashSet::new();
        for (i, raw) in req.items.into_iter().enumerate() {
            let item = parse_item(i, raw)?;
            if !seen.insert(item.key.clone()) {
                return Err(err(
                    format!("items[{i}].key"),
                    format!("\"{}\" is declared twice", item.key),
                ));
            }
            items.push(item);
        }
        if req.key_items.is_empty() {
            return Err(err(
                "key_items",
                "name the item or items that identify a record",
            ));
        }
        let mut key_items = Vec::with_capacity(req.key_items.len());
        for (i, raw) in req.key_items.iter().enumerate() {
            let field = format!("key_items[{i}]");
            let key = ItemKey::parse(raw.trim()).map_err(|m| err(&field, m))?;
            let Some(item) = items.iter_mut().find(|it| it.key == key) else {
                return Err(err(field, format!("\"{key}\" is not one of the items")));
            };
            // A key item without a value could not identify its record.
            item.required = true;
            if key_items.contains(&key) {
                return Err(err(field, format!("\"{key}\" is named twice")));
            }
            key_items.push(key);
        }
        let highest = items
            .iter()
            .map(|it| it.grade)
            .max()
            .unwrap_or(Grade::PUBLIC);
        let grade = match req.grade {
            Some(g) => {
                let g = Grade::new(g).map_err(|m| err("grade", m))?;
                if g < highest {
                    return Err(err(
                        "grade",
                        format!(
                            "the resource's grade ({}) is below its highest item grade ({})",
                            g.value(),
                            highest.value()
                        ),
                    ));
                }
                g
            }
            None => highest,
        };
        Ok(Self {
            name,
            summary: req.summary.trim().to_owned(),
            classification,
            kind,
            format,
            share_type,
            share_condition,
            share_mode,
            open_type,
            open_condition,
            update_cycle,
            grade,
            topics,
            keywords,
            related,
            key_items,
            items,
            defaulted,
        })
    }

    pub fn item(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|it| it.key.as_str() == key)
    }

    /// The resource's grade: at least its highest item grade.
    pub fn grade(&self) -> Grade {
        self.grade
    }

    /// The declaration as a client would send it (for editing and export).
    pub fn to_request(&self) -> NewResourceRequest {
        let defaulted = |f: &str| self.defaulted.iter().any(|d| d == f);
        NewResourceRequest {
            name: Some(self.name.clone()),
            summary: self.summary.clone(),
            classification: (!defaulted("classification")).then(|| self.classification.to_string()),
            kind: (!defaulted("kind")).then(|| self.kind.as_str().to_owned()),
            format: (!defaulted("format")).then(|| self.format.as_str().to_owned()),
            share_type: (!defaulted("share_type")).then(|| self.share_type.as_str().to_owned()),
            share_condition: self.share_condition.clone(),
            share_mode: (!defaulted("share_mode")).then(|| self.share_mode.as_str().to_owned()),
            open_type: (!defaulted("open_type")).then(|| self.open_type.as_str().to_owned()),
            open_condition: self.open_condition.clone(),
            update_cycle: (!defaulted("update_cycle"))
                .then(|| self.update_cycle.as_str().to_owned()),
            grade: Some(i64::from(self.grade.value())),
            topics: self.topics.clone(),
            keywords: self.keywords.clone(),
            related: self.related.clone(),
            key_items: self.key_items.iter().map(|k| k.to_string()).collect(),
            items: self
                .items
                .iter()
                .map(|it| ItemRequest {
                    key: Some(it.key.to_string()),
                    name: Some(it.name.clone()),
                    item_type: Some(it.item_type.as_str().to_owned()),
                    length: it.length,
                    required: it.required,
                    grade: Some(i64::from(it.grade.value())),
                    kind: if it.kind_inferred {
                        None
                    } else {
                        it.kind.map(|k| k.as_str().to_owned())
                    },
                    element: it.element.as_ref().map(ToString::to_string),
                    description: it.description.clone(),
                })
                .collect(),
        }
    }
}

/// An element error without its own field prefix: the item's field names it.
fn element_message(e: ElementError) -> String {
    match e {
        ElementError::BadCode(raw) => {
            format!("\"{raw}\" is not a data element code such as person.name")
        }
        ElementError::CodeTooLong { max } => {
            format!("a data element code has at most {max} characters")
        }
        other => other.to_string(),
    }
}

fn parse_item(index: usize, raw: ItemRequest) -> Result<Item, CatalogError> {
    let field = |name: &str| format!("items[{index}].{name}");
    let key_raw = raw
        .key
        .ok_or_else(|| err(field("key"), "each item needs a key"))?;
    let key = ItemKey::parse(key_raw.trim()).map_err(|m| err(field("key"), m))?;
    let name = text(raw.name).unwrap_or_else(|| key.as_str().to_owned());
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(err(
            field("name"),
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let type_raw = text(raw.item_type).unwrap_or_else(|| "string".into());
    let item_type = ItemType::parse(&type_raw).ok_or_else(|| {
        err(
            field("type"),
            format!(
                "\"{type_raw}\" is not one of string, integer, decimal, date, datetime, boolean"
            ),
        )
    })?;
    let grade = Grade::new(raw.grade.unwrap_or(1)).map_err(|m| err(field("grade"), m))?;
    let (kind, kind_inferred) = match text(raw.kind) {
        Some(k) => {
            let kind: ItemKind = k
                .parse()
                .map_err(|_| err(field("kind"), format!("\"{k}\" is not a known item kind")))?;
            (Some(kind), false)
        }
        None => {
            let inferred = ItemKind::infer(key.as_str(), &name);
            (inferred, inferred.is_some())
        }
    };
    let element = text(raw.element)
        .map(|e| ElementCode::parse(&e).map_err(|m| err(field("element"), element_message(m))))
        .transpose()?;
    if raw.length == Some(0) {
        return Err(err(field("length"), "a length must be at least 1"));
    }
    Ok(Item {
        key,
        name,
        item_type,
        length: raw.length,
        required: raw.required,
        grade,
        kind,
        kind_inferred,
        element,
        description: raw.description.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> NewResourceRequest {
        serde_json::from_value(json).unwrap()
    }

    fn parse(json: serde_json::Value) -> Result<ResourceSpec, CatalogError> {
        ResourceSpec::parse(request(json))
    }

    #[test]
    fn a_valid_declaration_parses_and_key_items_become_required() {
        let spec = parse(serde_json::json!({
            "name": "人口基础信息", "share_type": "unconditional", "update_cycle": "daily",
            "key_items": ["id_number"],
            "items": [{"key": "id_number", "name": "公民身份号码", "type": "string", "grade": 3},
                      {"key": "name", "name": "姓名", "type": "string", "required": true, "grade": 2}]
        }))
        .unwrap();
        assert!(spec.items[0].required);
        assert_eq!(spec.grade(), Grade::SENSITIVE);
        assert_eq!(spec.items[0].kind, Some(ItemKind::CitizenId));
        assert!(spec.items[0].kind_inferred);
        // Omitted core metadata gets defaults that are pointed out.
        assert_eq!(spec.kind, ResourceKind::Department);
        assert_eq!(spec.format, Format::Database);
        assert_eq!(spec.open_type, OpenType::Closed);
        for field in ["classification", "format", "open_type", "share_mode"] {
            assert!(spec.defaulted.iter().any(|d| d == field), "{field}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "items": [{"key": "a"}, {"key": "Bad-Key"}]}),
                "items[1].key",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["b"], "items": [{"key": "a"}]}),
                "key_items[0]",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "items": [{"key": "a", "grade": 5}]}),
                "items[0].grade",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "share_type": "conditional", "items": [{"key": "a"}]}),
                "share_condition",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "classification": "1-01-001", "share_type": "none", "items": [{"key": "a"}]}),
                "share_condition",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "grade": 1, "items": [{"key": "a", "grade": 3}]}),
                "grade",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "format": "pdf", "items": [{"key": "a"}]}),
                "format",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "classification": "9-1", "items": [{"key": "a"}]}),
                "classification",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "kind": "theme", "classification": "1-01-001", "items": [{"key": "a"}]}),
                "kind",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "open_type": "conditional", "items": [{"key": "a"}]}),
                "open_condition",
            ),
            (
                serde_json::json!({"name": "x", "key_items": ["a"], "items": [{"key": "a", "element": "Person Name"}]}),
                "items[0].element",
            ),
        ];
        for (json, field) in cases {
            let e = parse(json.clone()).unwrap_err();
            assert_eq!(e.field, field, "{json}: {e}");
        }
    }

    #[test]
    fn the_request_form_round_trips() {
        let spec = parse(serde_json::json!({
            "name": "企业登记", "classification": "1-02-001", "format": "电子表格", "share_type": "conditional",
            "share_condition": "依申请", "topics": ["市场监管"], "keywords": ["工商", "营业执照"],
            "key_items": ["uscc"],
            "items": [{"key": "uscc", "name": "统一社会信用代码", "grade": 1, "element": "entity.uscc", "length": 18}]
        }))
        .unwrap();
        assert_eq!(spec.kind, ResourceKind::Base);
        let again = ResourceSpec::parse(spec.to_request()).unwrap();
        assert_eq!(again, spec);
    }

    #[test]
    fn item_keys_reject_anything_but_lowercase_identifiers() {
        for bad in ["", "_x", "1a", "a-b", "A", "a b", "名字", &"a".repeat(64)] {
            assert!(ItemKey::parse(bad).is_err(), "{bad}");
        }
        assert!(ItemKey::parse("id_number_2").is_ok());
    }
}
