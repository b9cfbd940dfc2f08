//! How values look in the sheet: enumerations as Chinese labels (codes accepted
//! too), lists joined with a full-width semicolon, yes/no as 是/否.

use rongshu_core::catalog::{ItemType, ShareType, UpdateCycle};

/// Lists are written with this separator; it cannot clash with ASCII codes.
pub(crate) const LIST_SEPARATOR: &str = "；";

const SHARE_TYPES: [ShareType; 3] = [
    ShareType::Unconditional,
    ShareType::Conditional,
    ShareType::None,
];

const UPDATE_CYCLES: [UpdateCycle; 7] = [
    UpdateCycle::Realtime,
    UpdateCycle::Daily,
    UpdateCycle::Weekly,
    UpdateCycle::Monthly,
    UpdateCycle::Quarterly,
    UpdateCycle::HalfYearly,
    UpdateCycle::Yearly,
];

const ITEM_TYPES: [ItemType; 6] = [
    ItemType::String,
    ItemType::Integer,
    ItemType::Decimal,
    ItemType::Date,
    ItemType::Datetime,
    ItemType::Boolean,
];

pub(crate) fn share_type(raw: &str) -> Option<ShareType> {
    let raw = raw.trim();
    ShareType::parse(raw).or_else(|| SHARE_TYPES.into_iter().find(|t| t.label_zh() == raw))
}

pub(crate) fn share_type_labels() -> String {
    labels(SHARE_TYPES.map(|t| (t.label_zh(), t.as_str())))
}

pub(crate) fn update_cycle(raw: &str) -> Option<UpdateCycle> {
    let raw = raw.trim();
    UpdateCycle::parse(raw).or_else(|| UPDATE_CYCLES.into_iter().find(|c| c.label_zh() == raw))
}

pub(crate) fn update_cycle_labels() -> String {
    labels(UPDATE_CYCLES.map(|c| (c.label_zh(), c.as_str())))
}

pub(crate) fn item_type_label(t: ItemType) -> &'static str {
    match t {
        ItemType::String => "字符串",
        ItemType::Integer => "整数",
        ItemType::Decimal => "小数",
        ItemType::Date => "日期",
        ItemType::Datetime => "日期时间",
        ItemType::Boolean => "布尔",
    }
}

pub(crate) fn item_type(raw: &str) -> Option<ItemType> {
    let raw = raw.trim();
    ItemType::parse(raw).or_else(|| ITEM_TYPES.into_iter().find(|t| item_type_label(*t) == raw))
}

pub(crate) fn item_type_labels() -> String {
    labels(ITEM_TYPES.map(|t| (item_type_label(t), t.as_str())))
}

/// `(label, code)` pairs as `字符串 (string), 整数 (integer)`, for messages.
pub(crate) fn labels<'l>(pairs: impl IntoIterator<Item = (&'l str, &'l str)>) -> String {
    pairs
        .into_iter()
        .map(|(zh, code)| format!("{zh} ({code})"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn yes_no(value: bool) -> &'static str {
    if value { "是" } else { "否" }
}

/// 必填: 是/否 as exported, and the spellings people type instead.
pub(crate) fn parse_yes_no(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "是" | "必填" | "y" | "yes" | "true" | "1" | "√" => Some(true),
        "否" | "非必填" | "n" | "no" | "false" | "0" | "" => Some(false),
        _ => None,
    }
}

pub(crate) fn join_list(values: &[String]) -> String {
    values.join(LIST_SEPARATOR)
}

/// Split a list cell on any separator people use: `；`, `;`, `、`, `,` or `，`.
pub(crate) fn split_list(raw: &str) -> Vec<String> {
    raw.split(['；', ';', '、', ',', '，'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A whole number from a cell; a number cell arrives as `2` (see
/// [`number_text`]), a typed one may read `2.0`.
pub(crate) fn parse_whole(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<i64>() {
        return Some(n);
    }
    let f = raw.parse::<f64>().ok()?;
    // Within ±2^53 every whole f64 is exact, so the conversion loses nothing.
    (f.is_finite() && f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f as i64)
}

/// The text of a number cell: whole numbers without a decimal point, so a
/// grade typed as a number reads `2`, not `2.0`.
pub(crate) fn number_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerations_read_from_label_or_code() {
        assert_eq!(share_type("有条件共享"), Some(ShareType::Conditional));
        assert_eq!(share_type("none"), Some(ShareType::None));
        assert_eq!(share_type("有时共享"), None);
        assert_eq!(update_cycle("每半年"), Some(UpdateCycle::HalfYearly));
        assert_eq!(update_cycle("daily"), Some(UpdateCycle::Daily));
        for t in ITEM_TYPES {
            assert_eq!(item_type(item_type_label(t)), Some(t));
            assert_eq!(item_type(t.as_str()), Some(t));
        }
    }

    #[test]
    fn lists_split_on_every_separator() {
        assert_eq!(
            split_list(" 交通；出行;公交、地铁,站点，线路 ；"),
            ["交通", "出行", "公交", "地铁", "站点", "线路"]
        );
        assert!(split_list("").is_empty());
    }

    #[test]
    fn numbers_read_whole_or_not_at_all() {
        assert_eq!(parse_whole("2"), Some(2));
        assert_eq!(parse_whole(" 3.0 "), Some(3));
        assert_eq!(parse_whole("2.5"), None);
        assert_eq!(parse_whole("high"), None);
        assert_eq!(parse_whole("NaN"), None);
        assert_eq!(parse_whole("1e300"), None);
        assert_eq!(number_text(4.0), "4");
        assert_eq!(number_text(0.5), "0.5");
    }
}
