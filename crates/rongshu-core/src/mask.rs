//! Masking (脱敏) of personal values by item kind: pure functions from a value to
//! what may be shown without a grant for plain values.

use serde::{Deserialize, Serialize};

use crate::division;
use crate::ident::{mobile, uscc};
use crate::kind::ItemKind;

/// The character that replaces each hidden character.
pub const MASK_CHAR: char = '*';

/// Compound surnames (复姓), kept whole when a name is masked.
pub const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "西门", "南宫", "独孤", "万俟", "闻人", "赫连", "澹台", "公冶",
    "宗政", "濮阳", "太史", "申屠", "钟离", "百里", "东郭", "呼延", "淳于", "单于", "司空", "司寇",
    "拓跋", "第五", "仲孙", "叔孙", "左丘", "公羊", "谷梁", "乐正", "壤驷", "公良", "漆雕", "巫马",
    "羊舌", "微生", "梁丘", "东门", "鲜于", "段干", "亓官", "颛孙", "子车", "夹谷", "宰父",
];

/// How an item's values are masked, configured per item; serialises as
/// `{"rule": "by_kind"}`, `{"rule": "keep", "first": 3, "last": 4}`,
/// `{"rule": "full"}` or `{"rule": "none"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum MaskRule {
    /// The kind's own rule ([`mask`]).
    #[default]
    ByKind,
    /// Keep the first `first` and last `last` characters.
    Keep {
        /// Characters kept at the start.
        first: usize,
        /// Characters kept at the end.
        last: usize,
    },
    /// Hide every character.
    Full,
    /// Show the value as it is.
    None,
}

impl MaskRule {
    /// Mask `value`, an item of kind `kind`, by this rule.
    pub fn apply(&self, kind: ItemKind, value: &str) -> String {
        match *self {
            MaskRule::ByKind => mask(kind, value),
            MaskRule::Keep { first, last } => keep(value, first, last),
            MaskRule::Full => value.chars().map(|_| MASK_CHAR).collect(),
            MaskRule::None => value.to_string(),
        }
    }
}

/// Mask a value by its kind's rule:
/// - citizen ID: first 6 and last 4 (`510104********0019`);
/// - mobile: first 3 and last 4 (`138****5678`);
/// - phone: like a mobile, or area code and last 4 digits for a landline;
/// - person's name: the surname, compound surnames whole (`张*`, `欧阳**`);
/// - address: up to and including the district or county;
/// - e-mail: the first character of the name and the domain;
/// - USCC: an individual business's code (it identifies a person) is masked in the
///   middle; other organisations' codes are public and shown as they are, as are
///   organisation, division, township and postal codes, entity names and dates;
/// - text: the first and last character.
///
/// A value that is not of its kind's shape falls back to keeping the first and last
/// character, so a malformed value never shows more than a well-formed one.
pub fn mask(kind: ItemKind, value: &str) -> String {
    match kind {
        ItemKind::CitizenId => mask_citizen_id(value),
        ItemKind::Mobile => mask_mobile(value),
        ItemKind::Phone => mask_phone(value),
        ItemKind::PersonName => mask_person_name(value),
        ItemKind::Address => mask_address(value),
        ItemKind::Email => mask_email(value),
        ItemKind::Uscc => mask_uscc(value),
        ItemKind::OrgCode
        | ItemKind::DivisionCode
        | ItemKind::TownshipCode
        | ItemKind::EntityName
        | ItemKind::Date
        | ItemKind::PostalCode => value.to_string(),
        ItemKind::Text => generic(value),
    }
}

/// The fallback: keep the first and last character.
pub fn generic(value: &str) -> String {
    keep(value, 1, 1)
}

/// Keep `first` and `last` characters and hide the rest; when that would hide nothing,
/// fewer are kept so at least one character is hidden.
pub fn keep(value: &str, first: usize, last: usize) -> String {
    let n = value.chars().count();
    let (first, last) = if first + last >= n {
        let shown = n.saturating_sub(1);
        let first = first.min(shown);
        (first, (shown - first).min(last))
    } else {
        (first, last)
    };
    value
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < first || i >= n - last {
                c
            } else {
                MASK_CHAR
            }
        })
        .collect()
}

fn mask_citizen_id(value: &str) -> String {
    let v = value.trim();
    if matches!(v.len(), 15 | 18) && v.is_ascii() {
        keep(v, 6, 4)
    } else {
        generic(v)
    }
}

fn mask_mobile(value: &str) -> String {
    match mobile::decode(value) {
        Ok(d) => keep(mobile::as_str(&d), 3, 4),
        Err(_) => generic(value.trim()),
    }
}

fn mask_phone(value: &str) -> String {
    if let Ok(d) = mobile::decode(value) {
        return keep(mobile::as_str(&d), 3, 4);
    }
    let v = value.trim();
    // Landline with an area code: keep the area code and the last four digits.
    match v.split_once('-') {
        Some((area, local)) if area.starts_with('0') && local.chars().count() > 4 => {
            format!("{area}-{}", keep(local, 0, 4))
        }
        _ => keep(v, 3, 4),
    }
}

fn mask_person_name(value: &str) -> String {
    let v = value.trim();
    let surname = COMPOUND_SURNAMES
        .iter()
        .find(|s| v.starts_with(*s) && v.chars().count() > 2)
        .map_or(1, |_| 2);
    keep(v, surname, 0)
}

fn mask_email(value: &str) -> String {
    let v = value.trim();
    match v.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            format!("{}@{domain}", keep(local, 1, 0))
        }
        _ => generic(v),
    }
}

fn mask_uscc(value: &str) -> String {
    let v = value.trim();
    match uscc::decode(v) {
        Ok(d) if d.authority.code == '9' && d.entity_type.code == '2' => keep(d.as_str(), 8, 2),
        Ok(_) => v.to_string(),
        Err(_) => generic(v),
    }
}

/// Keep the address up to and including its county-level division: known province,
/// prefecture and county names are matched first; failing a known county, the first
/// 区/县/市/旗 within a few characters after the city.
fn mask_address(value: &str) -> String {
    let v = value.trim();
    let chars: Vec<char> = v.chars().collect();
    let kept = address_prefix_len(&chars);
    if kept == 0 {
        return generic(v);
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < kept { c } else { MASK_CHAR })
        .collect()
}

/// How many characters of an address name places down to the county; 0 when none is
/// recognised.
fn address_prefix_len(chars: &[char]) -> usize {
    let names = division::name_sets();
    let longest_at = |start: usize, set: &std::collections::HashSet<&'static str>| -> usize {
        let max = names.longest.min(chars.len().saturating_sub(start));
        (2..=max)
            .rev()
            .find(|&len| {
                let candidate: String = chars[start..start + len].iter().collect();
                set.contains(candidate.as_str())
            })
            .unwrap_or(0)
    };
    let mut pos = 0;
    pos += longest_at(pos, &names.provinces);
    pos += longest_at(pos, &names.prefectures);
    let county = longest_at(pos, &names.counties);
    if county > 0 {
        return pos + county;
    }
    // Not a known county: take a short run ending in a county-level unit, but not a
    // street, road or housing estate (小区).
    const UNITS: &[char] = &['区', '县', '市', '旗'];
    const NOT_A_COUNTY: &[char] = &[
        '路', '街', '道', '号', '巷', '村', '镇', '乡', '小', '楼', '栋',
    ];
    for (i, &c) in chars.iter().enumerate().skip(pos).take(8) {
        if NOT_A_COUNTY.contains(&c) {
            break;
        }
        if UNITS.contains(&c) && i > pos {
            return i + 1;
        }
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        assert_eq!(
            mask(ItemKind::CitizenId, "510104199001010019"),
            "510104********0019"
        );
        assert_eq!(mask(ItemKind::Mobile, "13812345678"), "138****5678");
        assert_eq!(mask(ItemKind::PersonName, "张三"), "张*");
        assert_eq!(mask(ItemKind::PersonName, "欧阳娜娜"), "欧阳**");
    }
}
