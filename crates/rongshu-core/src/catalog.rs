//! The catalog model: what a resource declares about itself (items, key, grades,
//! share type, update cycle), checked once at the edge so that an invalid
//! declaration cannot exist past it.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

use crate::kind::ItemKind;

/// What went wrong in a resource declaration; `field` names the offending part
/// the way a client wrote it (`items[2].key`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CatalogError {
    pub field: String,
    pub message: String,
}

impl CatalogError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An item's key: an ASCII identifier that also names the database column, so
/// table layouts never depend on Chinese text or on anything a client can
/// smuggle SQL into.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ItemKey(String);

impl ItemKey {
    pub const MAX_LEN: usize = 63;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let bytes = raw.as_bytes();
        let first_ok = bytes.first().is_some_and(u8::is_ascii_lowercase);
        let rest_ok = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !first_ok || !rest_ok {
            return Err(format!(
                "\"{raw}\" is not a valid item key: use 1-63 characters a-z, 0-9 and _, starting with a letter"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ItemKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        ItemKey::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The data type of an item; decides the column type and how a cell is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    String,
    Integer,
    Decimal,
    Date,
    Datetime,
    Boolean,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::String => "string",
            ItemType::Integer => "integer",
            ItemType::Decimal => "decimal",
            ItemType::Date => "date",
            ItemType::Datetime => "datetime",
            ItemType::Boolean => "boolean",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "string" => ItemType::String,
            "integer" => ItemType::Integer,
            "decimal" => ItemType::Decimal,
            "date" => ItemType::Date,
            "datetime" => ItemType::Datetime,
            "boolean" => ItemType::Boolean,
            _ => return None,
        })
    }
}

/// A data grade (分级): 1 public, 2 internal, 3 sensitive, 4 core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Grade(u8);

impl Grade {
    pub const PUBLIC: Grade = Grade(1);
    pub const INTERNAL: Grade = Grade(2);
    pub const SENSITIVE: Grade = Grade(3);
    pub const CORE: Grade = Grade(4);

    pub fn new(value: i64) -> Result<Self, String> {
        match value {
            1..=4 => Ok(Grade(value as u8)),
            _ => Err(format!("grade must be 1 to 4, found {value}")),
        }
    }

    pub fn value(self) -> u8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Grade {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = i64::deserialize(d)?;
        Grade::new(raw).map_err(serde::de::Error::custom)
    }
}

/// 共享类型: who may read a resource without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareType {
    Unconditional,
    Conditional,
    None,
}

impl ShareType {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareType::Unconditional => "unconditional",
            ShareType::Conditional => "conditional",
            ShareType::None => "none",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "unconditional" => ShareType::Unconditional,
            "conditional" => ShareType::Conditional,
            "none" => ShareType::None,
            _ => return None,
        })
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ShareType::Unconditional => "无条件共享",
            ShareType::Conditional => "有条件共享",
            ShareType::None => "不予共享",
        }
    }
}

/// 更新周期: how often the provider promises a new batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateCycle {
    Realtime,
    Daily,
    Weekly,
    Monthly,
    Quarterly,
    HalfYearly,
    Yearly,
}

impl UpdateCycle {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateCycle::Realtime => "realtime",
            UpdateCycle::Daily => "daily",
            UpdateCycle::Weekly => "weekly",
            UpdateCycle::Monthly => "monthly",
            UpdateCycle::Quarterly => "quarterly",
            UpdateCycle::HalfYearly => "half_yearly",
            UpdateCycle::Yearly => "yearly",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "realtime" => UpdateCycle::Realtime,
            "daily" => UpdateCycle::Daily,
            "weekly" => UpdateCycle::Weekly,
            "monthly" => UpdateCycle::Monthly,
            "quarterly" => UpdateCycle::Quarterly,
            "half_yearly" => UpdateCycle::HalfYearly,
            "yearly" => UpdateCycle::Yearly,
            _ => return None,
        })
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            UpdateCycle::Realtime => "实时",
            UpdateCycle::Daily => "每日",
            UpdateCycle::Weekly => "每周",
            UpdateCycle::Monthly => "每月",
            UpdateCycle::Quarterly => "每季度",
            UpdateCycle::HalfYearly => "每半年",
            UpdateCycle::Yearly => "每年",
        }
    }
}

/// A resource code, assigned by the platform; URL-safe so it can stand in a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ResourceCode(String);

impl ResourceCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!("\"{raw}\" is not a resource code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One declared item (信息项) of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub key: ItemKey,
    pub name: String,
    #[serde(rename = "type")]
    pub item_type: ItemType,
    #[serde(default)]
    pub required: bool,
    pub grade: Grade,
    /// What the item holds; drives checks on arrival and masking on the way out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ItemKind>,
    /// True when `kind` was inferred from the key or name rather than declared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kind_inferred: bool,
}

/// A resource declaration as a client sends it, before it is checked.
#[derive(Debug, Clone, Deserialize)]
pub struct NewResourceRequest {
    pub name: Option<String>,
    #[serde(default)]
    pub summary: String,
    pub share_type: Option<String>,
    pub update_cycle: Option<String>,
    #[serde(default)]
    pub key_items: Vec<String>,
    #[serde(default)]
    pub items: Vec<ItemRequest>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ItemRequest {
    pub key: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub item_type: Option<String>,
    #[serde(default)]
    pub required: bool,
    pub grade: Option<i64>,
    pub kind: Option<String>,
}

/// A checked resource declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceSpec {
    pub name: String,
    pub summary: String,
    pub share_type: ShareType,
    pub update_cycle: UpdateCycle,
    pub key_items: Vec<ItemKey>,
    pub items: Vec<Item>,
}

/// Limits that keep one resource's table within what both databases handle well.
pub const MAX_ITEMS: usize = 500;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_SUMMARY_CHARS: usize = 4000;

impl ResourceSpec {
    pub fn parse(req: NewResourceRequest) -> Result<Self, CatalogError> {
        let name = req
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| CatalogError::new("name", "a resource needs a name"))?;
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(CatalogError::new(
                "name",
                format!("at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if req.summary.chars().count() > MAX_SUMMARY_CHARS {
            return Err(CatalogError::new(
                "summary",
                format!("at most {MAX_SUMMARY_CHARS} characters"),
            ));
        }
        let share_raw = req.share_type.unwrap_or_else(|| "unconditional".into());
        let share_type = ShareType::parse(&share_raw).ok_or_else(|| {
            CatalogError::new(
                "share_type",
                format!("\"{share_raw}\" is not one of unconditional, conditional, none"),
            )
        })?;
        let cycle_raw = req.update_cycle.unwrap_or_else(|| "monthly".into());
        let update_cycle = UpdateCycle::parse(&cycle_raw).ok_or_else(|| {
            CatalogError::new(
                "update_cycle",
                format!(
                    "\"{cycle_raw}\" is not one of realtime, daily, weekly, monthly, quarterly, half_yearly, yearly"
                ),
            )
        })?;
        if req.items.is_empty() {
            return Err(CatalogError::new(
                "items",
                "a resource needs at least one item",
            ));
        }
        if req.items.len() > MAX_ITEMS {
            return Err(CatalogError::new(
                "items",
                format!("at most {MAX_ITEMS} items"),
            ));
        }
        let mut items = Vec::with_capacity(req.items.len());
        let mut seen = HashSet::new();
        for (i, raw) in req.items.into_iter().enumerate() {
            let item = parse_item(i, raw)?;
            if !seen.insert(item.key.clone()) {
                return Err(CatalogError::new(
                    format!("items[{i}].key"),
                    format!("\"{}\" is declared twice", item.key),
                ));
            }
            items.push(item);
        }
        if req.key_items.is_empty() {
            return Err(CatalogError::new(
                "key_items",
                "name the item or items that identify a record",
            ));
        }
        let mut key_items = Vec::with_capacity(req.key_items.len());
        for (i, raw) in req.key_items.iter().enumerate() {
            let field = format!("key_items[{i}]");
            let key = ItemKey::parse(raw).map_err(|m| CatalogError::new(&field, m))?;
            let Some(item) = items.iter_mut().find(|it| it.key == key) else {
                return Err(CatalogError::new(
                    field,
                    format!("\"{key}\" is not one of the items"),
                ));
            };
            // A key item without a value could not identify its record.
            item.required = true;
            if key_items.contains(&key) {
                return Err(CatalogError::new(
                    field,
                    format!("\"{key}\" is named twice"),
                ));
            }
            key_items.push(key);
        }
        Ok(Self {
            name,
            summary: req.summary.trim().to_owned(),
            share_type,
            update_cycle,
            key_items,
            items,
        })
    }

    pub fn item(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|it| it.key.as_str() == key)
    }

    /// The resource's grade: at least its highest item grade.
    pub fn grade(&self) -> Grade {
        self.items
            .iter()
            .map(|it| it.grade)
            .max()
            .unwrap_or(Grade::PUBLIC)
    }
}

fn parse_item(index: usize, raw: ItemRequest) -> Result<Item, CatalogError> {
    let field = |name: &str| format!("items[{index}].{name}");
    let key_raw = raw
        .key
        .ok_or_else(|| CatalogError::new(field("key"), "each item needs a key"))?;
    let key = ItemKey::parse(&key_raw).map_err(|m| CatalogError::new(field("key"), m))?;
    let name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| key.as_str().to_owned());
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CatalogError::new(
            field("name"),
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let type_raw = raw.item_type.unwrap_or_else(|| "string".into());
    let item_type = ItemType::parse(&type_raw).ok_or_else(|| {
        CatalogError::new(
            field("type"),
            format!(
                "\"{type_raw}\" is not one of string, integer, decimal, date, datetime, boolean"
            ),
        )
    })?;
    let grade =
        Grade::new(raw.grade.unwrap_or(1)).map_err(|m| CatalogError::new(field("grade"), m))?;
    let (kind, kind_inferred) = match raw.kind {
        Some(k) => {
            let kind: ItemKind = k.parse().map_err(|_| {
                CatalogError::new(field("kind"), format!("\"{k}\" is not a known item kind"))
            })?;
            (Some(kind), false)
        }
        None => {
            let inferred = ItemKind::infer(key.as_str(), &name);
            (inferred, inferred.is_some())
        }
    };
    Ok(Item {
        key,
        name,
        item_type,
        required: raw.required,
        grade,
        kind,
        kind_inferred,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> NewResourceRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_valid_declaration_parses_and_key_items_become_required() {
        let spec = ResourceSpec::parse(request(serde_json::json!({
            "name": "人口基础信息", "share_type": "unconditional", "update_cycle": "daily",
            "key_items": ["id_number"],
            "items": [{"key": "id_number", "name": "公民身份号码", "type": "string", "grade": 3},
                      {"key": "name", "name": "姓名", "type": "string", "required": true, "grade": 2}]
        })))
        .unwrap();
        assert!(spec.items[0].required);
        assert_eq!(spec.grade(), Grade::SENSITIVE);
    }

    #[test]
    fn errors_name_the_field() {
        let err = ResourceSpec::parse(request(serde_json::json!({
            "name": "x", "key_items": ["a"],
            "items": [{"key": "a"}, {"key": "Bad-Key"}]
        })))
        .unwrap_err();
        assert_eq!(err.field, "items[1].key");
        let err = ResourceSpec::parse(request(serde_json::json!({
            "name": "x", "key_items": ["b"], "items": [{"key": "a"}]
        })))
        .unwrap_err();
        assert_eq!(err.field, "key_items[0]");
        let err = ResourceSpec::parse(request(serde_json::json!({
            "name": "x", "key_items": ["a"], "items": [{"key": "a", "grade": 5}]
        })))
        .unwrap_err();
        assert_eq!(err.field, "items[0].grade");
    }

    #[test]
    fn item_keys_reject_anything_but_lowercase_identifiers() {
        for bad in ["", "_x", "1a", "a-b", "A", "a b", "名字", &"a".repeat(64)] {
            assert!(ItemKey::parse(bad).is_err(), "{bad}");
        }
        assert!(ItemKey::parse("id_number_2").is_ok());
    }
}
