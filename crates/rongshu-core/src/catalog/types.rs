//! The small value types a catalog entry is made of, each checked at its edge.

use serde::{Deserialize, Serialize};
use std::fmt;

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

    /// When the next batch is due after one delivered at `last`. Real-time
    /// resources are expected to deliver at least daily.
    pub fn next_due(self, last: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        let months = |n: u32| {
            last.checked_add_months(chrono::Months::new(n))
                .unwrap_or(last)
        };
        match self {
            UpdateCycle::Realtime | UpdateCycle::Daily => last + chrono::Duration::days(1),
            UpdateCycle::Weekly => last + chrono::Duration::days(7),
            UpdateCycle::Monthly => months(1),
            UpdateCycle::Quarterly => months(3),
            UpdateCycle::HalfYearly => months(6),
            UpdateCycle::Yearly => months(12),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_next_batch_is_due_one_cycle_after_the_last() {
        let last = chrono::Utc.with_ymd_and_hms(2024, 1, 31, 8, 0, 0).unwrap();
        assert_eq!(
            UpdateCycle::Daily.next_due(last).to_string(),
            "2024-02-01 08:00:00 UTC"
        );
        assert_eq!(
            UpdateCycle::Monthly.next_due(last).to_string(),
            "2024-02-29 08:00:00 UTC"
        );
        assert_eq!(
            UpdateCycle::Quarterly.next_due(last).to_string(),
            "2024-04-30 08:00:00 UTC"
        );
        assert_eq!(
            UpdateCycle::Yearly.next_due(last).to_string(),
            "2025-01-31 08:00:00 UTC"
        );
    }
}
