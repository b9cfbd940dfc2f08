//! Comparison of two values of a column: normalisation into a canonical form, then
//! the first configured level whose predicate holds. Every predicate is symmetric,
//! so the outcome does not depend on which table a value came from.

use std::collections::HashSet;

use pinyin::ToPinyinMulti;
use serde::{Deserialize, Serialize};

use super::config::{ComparisonKind, Level};

/// What a comparison found for one column of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The first (closest) configured level that holds.
    Level(Level),
    /// None of the configured levels holds.
    Different,
    /// Either side is null or blank: no evidence either way, weight 0.
    Missing,
}

/// Code of [`Outcome::Missing`] in the compact per-pair patterns; a level's code is
/// its index in the column's levels and `levels.len()` stands for "different".
pub(crate) const MISSING: u8 = u8::MAX;

/// Two-character surnames: without them 欧阳娜娜 and 欧文 would share a surname.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "申屠", "太史", "闻人", "呼延", "澹台",
    "公冶", "宗政", "濮阳", "淳于", "单于", "拓跋", "百里", "东郭", "万俟", "钟离", "赫连", "司空",
    "第五", "左丘", "梁丘", "公羊",
];

/// Address bigram overlap at or above which two addresses count as similar.
const BIGRAM_OVERLAP: f64 = 0.6;

/// Folds full-width ASCII and the ideographic space to half-width, so that values
/// typed on a Chinese input method compare equal to the same values typed in ASCII.
fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn folded_without_whitespace(value: &str) -> String {
    value
        .chars()
        .map(fold_width)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The canonical form of a value for a kind, used both by blocking and comparison;
/// `None` when nothing is left (a blank value is missing, not a value).
pub fn canonical(kind: ComparisonKind, value: &str) -> Option<String> {
    let folded = folded_without_whitespace(value);
    let out = match kind {
        ComparisonKind::ChineseName | ComparisonKind::Exact => folded,
        ComparisonKind::Date => canonical_date(&folded),
        ComparisonKind::Phone => canonical_phone(&folded),
        ComparisonKind::Address => folded
            .chars()
            .filter(|c| !c.is_ascii_punctuation() && !is_cjk_punctuation(*c))
            .collect(),
    };
    (!out.is_empty()).then_some(out)
}

fn is_cjk_punctuation(c: char) -> bool {
    matches!(c, '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '·' | '—' | '－')
}

/// `YYYYMMDD` from the usual written forms (1990-01-02, 1990/1/2, 1990.01.02,
/// 1990年1月2日, 19900102); any other text is kept as folded so it still compares.
fn canonical_date(folded: &str) -> String {
    let groups: Vec<&str> = folded
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    match groups.as_slice() {
        [y, m, d] if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len()) => {
            format!("{y}{m:0>2}{d:0>2}")
        }
        [ymd] if ymd.len() == 8 && folded.len() == 8 => (*ymd).to_owned(),
        _ => folded.to_owned(),
    }
}

/// Digits only, without a leading 86/0086 country code on a longer number.
fn canonical_phone(folded: &str) -> String {
    let digits: String = folded.chars().filter(char::is_ascii_digit).collect();
    for prefix in ["0086", "86"] {
        if let Some(rest) = digits.strip_prefix(prefix)
            && rest.len() == 11
        {
            return rest.to_owned();
        }
    }
    digits
}

/// A name's surname: a known compound surname, else its first character.
pub fn surname(name: &str) -> &str {
    if let Some(compound) = COMPOUND_SURNAMES.iter().find(|s| name.starts_with(**s)) {
        return compound;
    }
    name.char_indices()
        .nth(1)
        .map_or(name, |(end, _)| &name[..end])
}

/// Compares two raw values of a column with its ordered levels.
pub fn compare(
    kind: ComparisonKind,
    levels: &[Level],
    a: Option<&str>,
    b: Option<&str>,
) -> Outcome {
    let a = a.and_then(|v| canonical(kind, v));
    let b = b.and_then(|v| canonical(kind, v));
    match outcome_code(levels, a.as_deref(), b.as_deref()) {
        MISSING => Outcome::Missing,
        code => levels
            .get(usize::from(code))
            .map_or(Outcome::Different, |l| Outcome::Level(*l)),
    }
}

/// The outcome code of two canonical values (see [`MISSING`]).
pub(crate) fn outcome_code(levels: &[Level], a: Option<&str>, b: Option<&str>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return MISSING;
    };
    levels
        .iter()
        .position(|level| holds(*level, a, b))
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or_else(|| u8::try_from(levels.len()).unwrap_or(MISSING - 1))
}

/// Whether a level's predicate holds for two canonical values.
fn holds(level: Level, a: &str, b: &str) -> bool {
    match level {
        Level::Exact => a == b,
        Level::SamePinyin => same_pinyin(a, b),
        Level::SameCharacters => same_characters(a, b),
        Level::OneCharOff => within_one_edit(a, b),
        Level::SurnameOnly => surname(a) == surname(b),
        Level::MonthDaySwapped => a == b || month_day_swapped(a, b),
        Level::OneDigitOff => differing_positions(a, b).is_some_and(|n| n <= 1),
        Level::LastEightDigits => last_eight(a).is_some_and(|x| Some(x) == last_eight(b)),
        Level::Contains => a.contains(b) || b.contains(a),
        Level::BigramOverlap => bigram_jaccard(a, b) >= BIGRAM_OVERLAP,
    }
}

/// Equal length and, position by position, the same character or two that
/// share a reading. A character without a reading (a letter, a digit, a rare
/// character the table lacks) matches only itself.
fn same_pinyin(a: &str, b: &str) -> bool {
    a.chars().count() == b.chars().count()
        && a.chars().zip(b.chars()).all(|(x, y)| {
            if x == y {
                return true;
            }
            match (x.to_pinyin_multi(), y.to_pinyin_multi()) {
                (Some(rx), Some(ry)) => rx
                    .into_iter()
                    .any(|p| ry.into_iter().any(|q| q.plain() == p.plain())),
                _ => false,
            }
        })
}

fn same_characters(a: &str, b: &str) -> bool {
    let mut x: Vec<char> = a.chars().collect();
    let mut y: Vec<char> = b.chars().collect();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

/// Levenshtein distance ≤ 1 on characters, without the full matrix.
fn within_one_edit(a: &str, b: &str) -> bool {
    let x: Vec<char> = a.chars().collect();
    let y: Vec<char> = b.chars().collect();
    let (short, long) = if x.len() <= y.len() {
        (&x, &y)
    } else {
        (&y, &x)
    };
    match long.len() - short.len() {
        0 => {
            short
                .iter()
                .zip(long.iter())
                .filter(|(p, q)| p != q)
                .count()
                <= 1
        }
        1 => {
            // Skip the first mismatch in the longer one; the rest must line up.
            let i = short
                .iter()
                .zip(long.iter())
                .take_while(|(p, q)| p == q)
                .count();
            short.get(i..) == long.get(i + 1..)
        }
        _ => false,
    }
}

fn month_day_swapped(a: &str, b: &str) -> bool {
    let (Some(x), Some(y)) = (date_parts(a), date_parts(b)) else {
        return false;
    };
    x.0 == y.0 && x.1 == y.2 && x.2 == y.1
}

fn date_parts(canonical: &str) -> Option<(&str, &str, &str)> {
    if canonical.len() != 8 || !canonical.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((&canonical[..4], &canonical[4..6], &canonical[6..]))
}

/// The number of differing characters of two strings of the same length.
fn differing_positions(a: &str, b: &str) -> Option<usize> {
    let x: Vec<char> = a.chars().collect();
    let y: Vec<char> = b.chars().collect();
    (x.len() == y.len()).then(|| x.iter().zip(&y).filter(|(p, q)| p != q).count())
}

fn last_eight(digits: &str) -> Option<&str> {
    (digits.len() >= 8 && digits.is_ascii()).then(|| &digits[digits.len() - 8..])
}

fn bigrams(s: &str) -> HashSet<(char, char)> {
    let chars: Vec<char> = s.chars().collect();
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Jaccard overlap of character bigrams; a one-character value is its own bigram
/// set so that it still has an overlap with itself.
fn bigram_jaccard(a: &str, b: &str) -> f64 {
    let (x, y) = (bigrams(a), bigrams(b));
    if x.is_empty() || y.is_empty() {
        return if a == b { 1.0 } else { 0.0 };
    }
    let shared = x.intersection(&y).count();
    let all = x.union(&y).count();
    shared as f64 / all as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(a: &str, b: &str) -> Outcome {
        let k = ComparisonKind::ChineseName;
        compare(k, k.levels(), Some(a), Some(b))
    }
    fn date(a: &str, b: &str) -> Outcome {
        let k = ComparisonKind::Date;
        compare(k, k.levels(), Some(a), Some(b))
    }
    fn phone(a: &str, b: &str) -> Outcome {
        let k = ComparisonKind::Phone;
        compare(k, k.levels(), Some(a), Some(b))
    }
    fn address(a: &str, b: &str) -> Outcome {
        let k = ComparisonKind::Address;
        compare(k, k.levels(), Some(a), Some(b))
    }
    const fn at(level: Level) -> Outcome {
        Outcome::Level(level)
    }

    #[test]
    fn name_levels() {
        assert_eq!(name("王小明", "王小明"), at(Level::Exact));
        assert_eq!(name("王 小明", "王小明"), at(Level::Exact));
        assert_eq!(name("王小明", "王明小"), at(Level::SameCharacters));
        assert_eq!(name("王小明", "王晓明"), at(Level::SamePinyin));
        assert_eq!(
            name("曾小明", "层小明"),
            at(Level::SamePinyin),
            "曾 reads ceng too"
        );
        assert_eq!(name("王小明", "王大明"), at(Level::OneCharOff));
        assert_eq!(name("王小明", "王小"), at(Level::OneCharOff));
        assert_eq!(name("王小明", "王大伟"), at(Level::SurnameOnly));
        assert_eq!(name("欧阳娜娜", "欧阳修"), at(Level::SurnameOnly));
        assert_eq!(name("欧阳娜娜", "欧文"), Outcome::Different);
        assert_eq!(name("王小明", "李大伟"), Outcome::Different);
    }

    #[test]
    fn surnames_know_compounds() {
        assert_eq!(surname("诸葛亮"), "诸葛");
        assert_eq!(surname("司马光"), "司马");
        assert_eq!(surname("张三"), "张");
        assert_eq!(surname(""), "");
    }

    #[test]
    fn date_levels() {
        assert_eq!(date("1990-03-07", "1990/3/7"), at(Level::Exact));
        assert_eq!(date("1990年3月7日", "19900307"), at(Level::Exact));
        assert_eq!(date("1990-03-07", "1990-07-03"), at(Level::MonthDaySwapped));
        assert_eq!(date("1990-03-07", "1990-03-08"), at(Level::OneDigitOff));
        assert_eq!(date("1990-03-07", "1980-03-07"), at(Level::OneDigitOff));
        assert_eq!(date("1990-03-07", "1991-07-03"), Outcome::Different);
        assert_eq!(date("1990-03-07", "2001-12-25"), Outcome::Different);
    }

    #[test]
    fn phone_levels() {
        assert_eq!(phone("138 0013 8000", "13800138000"), at(Level::Exact));
        assert_eq!(phone("+86 138-0013-8000", "13800138000"), at(Level::Exact));
        assert_eq!(
            phone("１３８００１３８０００", "13800138000"),
            at(Level::Exact)
        );
        assert_eq!(
            phone("13900138000", "13800138000"),
            at(Level::LastEightDigits)
        );
        assert_eq!(
            phone("028-85123456", "85123456"),
            at(Level::LastEightDigits)
        );
        assert_eq!(phone("13800138000", "13800138001"), Outcome::Different);
        assert_eq!(phone("1234", "1234"), at(Level::Exact));
        assert_eq!(phone("1234", "5678"), Outcome::Different);
    }

    #[test]
    fn address_levels() {
        assert_eq!(
            address(
                "成都市 武侯区 人民南路四段１号",
                "成都市武侯区人民南路四段1号"
            ),
            at(Level::Exact)
        );
        assert_eq!(
            address("武侯区人民南路四段1号", "成都市武侯区人民南路四段1号"),
            at(Level::Contains)
        );
        assert_eq!(
            address("成都市武侯区人民南路四段1号", "成都市武侯区人民南路四段3号"),
            at(Level::BigramOverlap)
        );
        assert_eq!(
            address("成都市武侯区人民南路四段1号", "成都市锦江区春熙路8号"),
            Outcome::Different
        );
    }

    #[test]
    fn null_or_blank_on_either_side_is_missing() {
        let k = ComparisonKind::ChineseName;
        assert_eq!(compare(k, k.levels(), None, Some("王")), Outcome::Missing);
        assert_eq!(compare(k, k.levels(), Some("王"), None), Outcome::Missing);
        assert_eq!(
            compare(k, k.levels(), Some(" \u{3000}"), Some("王")),
            Outcome::Missing
        );
        let p = ComparisonKind::Phone;
        assert_eq!(
            compare(p, p.levels(), Some("--"), Some("138")),
            Outcome::Missing
        );
    }

    #[test]
    fn exact_kind_and_trimmed_levels() {
        let k = ComparisonKind::Exact;
        assert_eq!(
            compare(k, k.levels(), Some("男"), Some("男")),
            at(Level::Exact)
        );
        assert_eq!(
            compare(k, k.levels(), Some("男"), Some("女")),
            Outcome::Different
        );
        // Without Exact, an equal pair still meets the looser level.
        let levels = [Level::OneCharOff];
        assert_eq!(
            compare(
                ComparisonKind::ChineseName,
                &levels,
                Some("王五"),
                Some("王五")
            ),
            at(Level::OneCharOff)
        );
    }

    const KINDS: [ComparisonKind; 5] = [
        ComparisonKind::ChineseName,
        ComparisonKind::Date,
        ComparisonKind::Phone,
        ComparisonKind::Address,
        ComparisonKind::Exact,
    ];

    proptest! {
        #[test]
        fn comparisons_are_symmetric_and_total(a in any::<Option<String>>(), b in any::<Option<String>>(), k in 0..KINDS.len()) {
            let kind = KINDS[k];
            let ab = compare(kind, kind.levels(), a.as_deref(), b.as_deref());
            let ba = compare(kind, kind.levels(), b.as_deref(), a.as_deref());
            prop_assert_eq!(ab, ba);
            if let Some(a) = a.as_deref() {
                let aa = compare(kind, kind.levels(), Some(a), Some(a));
                prop_assert!(matches!(aa, Outcome::Level(Level::Exact) | Outcome::Missing));
            }
        }

        #[test]
        fn near_chinese_values_are_symmetric(a in "[王李张欧阳司马小明大伟 ０-９0-9年月日/-]{0,12}", b in "[王李张欧阳司马小明大伟 ０-９0-9年月日/-]{0,12}", k in 0..KINDS.len()) {
            let kind = KINDS[k];
            prop_assert_eq!(
                compare(kind, kind.levels(), Some(&a), Some(&b)),
                compare(kind, kind.levels(), Some(&b), Some(&a))
            );
        }
    }
}
