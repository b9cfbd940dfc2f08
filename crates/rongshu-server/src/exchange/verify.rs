//! Verification without disclosure (核验): is a claimed value the one on
//! record? Claims and stored values go through the same normalisation, then
//! are compared as typed values of the item, so `２０２４年６月３０日` matches
//! `2024-06-30` and `１２３` matches `123`; the answer is only
//! `match` / `mismatch` / `unknown`.

use rongshu_core::catalog::{Item, ItemType};
use rongshu_core::value::{CellValue, parse_cell};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Match,
    Mismatch,
    /// No record with that key, or the record holds no value for the item.
    Unknown,
}

/// Why a claimed or key value cannot be checked at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("give the value as a string or number")]
    NotAValue,
    #[error("{0}")]
    Type(String),
}

/// Full-width forms to half-width (digits, letters, punctuation, the ideographic
/// space), then whitespace trimmed, runs of it made one space, and a space next
/// to a CJK character dropped (`张 三` is `张三`; `Li Ming` keeps its space).
pub fn normalise(raw: &str) -> String {
    let half: Vec<char> = raw
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < half.len() {
        let c = half[i];
        if c.is_whitespace() {
            let mut j = i;
            while j < half.len() && half[j].is_whitespace() {
                j += 1;
            }
            let before = out.chars().last();
            let after = half.get(j).copied();
            let keep = match (before, after) {
                (Some(b), Some(a)) => b.is_ascii() && a.is_ascii(),
                _ => false,
            };
            if keep {
                out.push(' ');
            }
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The text of a JSON claim or key value.
pub fn claim_text(value: &Value) -> Result<String, ClaimError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ClaimError::NotAValue),
    }
}

/// A value as the item's type holds it, after normalisation and the item
/// kind's own (e.g. an ID number's final `x` made `X`). `None` when empty.
pub fn typed(item: &Item, raw: &str) -> Result<Option<CellValue>, ClaimError> {
    let text = normalise(raw);
    let text = match item.kind {
        Some(kind) => kind
            .check(&text)
            .map(|n| n.value.into_owned())
            .unwrap_or(text),
        None => text,
    };
    parse_cell(item.item_type, &text).map_err(|e| ClaimError::Type(e.to_string()))
}

/// Decimals compare by value: `12.50` is `12.5`.
fn comparable(item_type: ItemType, cell: &CellValue) -> CellValue {
    match (item_type, cell) {
        (ItemType::Decimal, CellValue::Decimal(d)) if d.contains('.') => {
            let trimmed = d.trim_end_matches('0').trim_end_matches('.');
            CellValue::Decimal(if trimmed == "-0" {
                "0".into()
            } else {
                trimmed.into()
            })
        }
        (_, cell) => cell.clone(),
    }
}

/// Compare a (checked) claim with the stored value of a found record.
pub fn judge(item: &Item, claim: &CellValue, stored: Option<&Value>) -> Verdict {
    let stored = match stored {
        None | Some(Value::Null) => return Verdict::Unknown,
        Some(v) => v,
    };
    let Ok(text) = claim_text(stored) else {
        return Verdict::Unknown;
    };
    match typed(item, &text) {
        Ok(Some(value))
            if comparable(item.item_type, &value) == comparable(item.item_type, claim) =>
        {
            Verdict::Match
        }
        Ok(Some(_)) => Verdict::Mismatch,
        // A stored value that no longer reads as its type says nothing either way.
        Ok(None) | Err(_) => Verdict::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_spaces_are_normalised() {
        assert_eq!(normalise("  张　三 "), "张三");
        assert_eq!(normalise("５１０１０４ＡＢ"), "510104AB");
        assert_eq!(normalise("Li   Ming"), "Li Ming");
        assert_eq!(normalise("张 Ming"), "张Ming");
    }

    fn item(item_type: &str) -> Item {
        serde_json::from_value(serde_json::json!({
            "key": "x", "name": "x", "type": item_type, "grade": 1
        }))
        .unwrap()
    }

    #[test]
    fn values_compare_as_their_type() {
        let date = item("date");
        let claim = typed(&date, "２０２４年６月３０日").unwrap().unwrap();
        assert_eq!(
            judge(&date, &claim, Some(&Value::from("2024-06-30"))),
            Verdict::Match
        );
        assert_eq!(
            judge(&date, &claim, Some(&Value::from("2024-06-29"))),
            Verdict::Mismatch
        );
        assert_eq!(judge(&date, &claim, Some(&Value::Null)), Verdict::Unknown);
        let dec = item("decimal");
        let claim = typed(&dec, "10000.5").unwrap().unwrap();
        assert_eq!(
            judge(&dec, &claim, Some(&Value::from("10000.50"))),
            Verdict::Match
        );
        assert!(matches!(typed(&dec, "abc"), Err(ClaimError::Type(_))));
        assert_eq!(typed(&dec, "  ").unwrap(), None);
    }
}
