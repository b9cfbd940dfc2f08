//! Typed cell values: one CSV cell checked against its item's declared type, and
//! the canonical text a typed value is stored and printed as on every backend.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::catalog::ItemType;

/// A cell that passed its type check, in the form the store writes.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue {
    Text(String),
    Integer(i64),
    /// Exact decimal in canonical text (`-12.50`, never `1.25e1`), so both
    /// backends print it the same way.
    Decimal(String),
    Date(NaiveDate),
    Datetime(NaiveDateTime),
    Boolean(bool),
}

impl CellValue {
    /// The text a value is stored as where the backend keeps it as text, and
    /// how a CAST to text reads back.
    pub fn canonical_text(&self) -> String {
        match self {
            CellValue::Text(s) | CellValue::Decimal(s) => s.clone(),
            CellValue::Integer(i) => i.to_string(),
            CellValue::Date(d) => date_text(d),
            CellValue::Datetime(t) => {
                let mut text = date_text(&t.date());
                let time = t.time();
                text.push(' ');
                push_two_digits(&mut text, time.hour());
                text.push(':');
                push_two_digits(&mut text, time.minute());
                text.push(':');
                push_two_digits(&mut text, time.second());
                text
            }
            CellValue::Boolean(b) => b.to_string(),
        }
    }
}

/// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` writes it, written directly: a load
/// writes every date twice (its column and its change-log record), and
/// chrono reads its format string anew each time, a sixth of the staging
/// thread's time on a file of people.
fn date_text(date: &NaiveDate) -> String {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return date.format("%Y-%m-%d").to_string();
    }
    let mut text = String::with_capacity(19);
    push_two_digits(&mut text, year as u32 / 100);
    push_two_digits(&mut text, year as u32 % 100);
    text.push('-');
    push_two_digits(&mut text, date.month());
    text.push('-');
    push_two_digits(&mut text, date.day());
    text
}

fn push_two_digits(text: &mut String, n: u32) {
    text.push(char::from(b'0' + (n / 10 % 10) as u8));
    text.push(char::from(b'0' + (n % 10) as u8));
}

/// Why a cell does not fit its type, in words a provider can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CellError(pub String);

/// Longest text a single cell may hold; longer ones are refused, not truncated.
pub const MAX_CELL_CHARS: usize = 65_536;

/// Check one raw cell against a type. Empty (after trimming) is `Ok(None)`: a
/// missing value, which the required-check judges.
pub fn parse_cell(item_type: ItemType, raw: &str) -> Result<Option<CellValue>, CellError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    // No text column can hold a NUL (PostgreSQL refuses it outright); in a
    // delivered file it means binary data or a broken export.
    if trimmed.contains('\0') {
        return Err(CellError(
            "the value contains a NUL character (byte 0): binary data, not text".into(),
        ));
    }
    let value = match item_type {
        ItemType::String => {
            if raw.chars().count() > MAX_CELL_CHARS {
                return Err(CellError(format!(
                    "text longer than {MAX_CELL_CHARS} characters"
                )));
            }
            CellValue::Text(trimmed.to_owned())
        }
        ItemType::Integer => CellValue::Integer(
            trimmed
                .parse::<i64>()
                .map_err(|_| CellError(format!("\"{trimmed}\" is not a whole number")))?,
        ),
        ItemType::Decimal => CellValue::Decimal(parse_decimal(trimmed)?),
        ItemType::Date => CellValue::Date(parse_date(trimmed)?),
        ItemType::Datetime => CellValue::Datetime(parse_datetime(trimmed)?),
        ItemType::Boolean => CellValue::Boolean(parse_boolean(trimmed)?),
    };
    Ok(Some(value))
}

/// Digits either side of the point that both backends keep exactly
/// (PostgreSQL NUMERIC keeps far more; this is the platform's promise).
const MAX_DECIMAL_DIGITS: usize = 38;

fn parse_decimal(s: &str) -> Result<String, CellError> {
    let bad = || CellError(format!("\"{s}\" is not a decimal number"));
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(int_part) || !frac_part.is_none_or(digits_ok) {
        return Err(bad());
    }
    if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
        return Err(bad());
    }
    let int_part = int_part.trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    if int_part.len() + frac_part.map_or(0, str::len) > MAX_DECIMAL_DIGITS {
        return Err(CellError(format!(
            "\"{s}\" has more than {MAX_DECIMAL_DIGITS} digits"
        )));
    }
    let mut out = String::with_capacity(s.len() + 1);
    let is_zero = int_part == "0" && frac_part.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    if negative && !is_zero {
        out.push('-');
    }
    out.push_str(int_part);
    // The fraction keeps its written scale (12.50 stays 12.50), as NUMERIC does.
    if let Some(f) = frac_part.filter(|f| !f.is_empty()) {
        out.push('.');
        out.push_str(f);
    }
    Ok(out)
}

/// Dates in the forms departments write them: 2024-01-05, 20240105, 2024/1/5,
/// 2024.1.5, 2024年1月5日.
pub fn parse_date(s: &str) -> Result<NaiveDate, CellError> {
    crate::ident::parse_date(s).map_err(|e| CellError(e.to_string()))
}

fn parse_datetime(s: &str) -> Result<NaiveDateTime, CellError> {
    const FORMS: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y%m%d%H%M%S",
    ];
    // Fractions of a second are dropped: departments' systems disagree on them.
    let without_fraction = s.split('.').next().unwrap_or(s);
    let without_zone = without_fraction.trim_end_matches('Z');
    FORMS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(without_zone, f).ok())
        .ok_or_else(|| {
            CellError(format!(
                "\"{s}\" is not a date and time (write 2024-01-05 08:30:00)"
            ))
        })
}

fn parse_boolean(s: &str) -> Result<bool, CellError> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "是" => Ok(true),
        "false" | "f" | "0" | "no" | "n" | "否" => Ok(false),
        _ => Err(CellError(format!(
            "\"{s}\" is not a yes/no value (write true or false, 是 or 否)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Dates and times read as chrono writes them, every year included.
        #[test]
        fn canonical_dates_and_times_are_chronos(
            days in -800_000i32..4_000_000,
            seconds in 0u32..86_400,
        ) {
            if let Some(date) = NaiveDate::from_num_days_from_ce_opt(days) {
                prop_assert_eq!(
                    CellValue::Date(date).canonical_text(),
                    date.format("%Y-%m-%d").to_string()
                );
                let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0)
                    .unwrap_or_default();
                let at = date.and_time(time);
                prop_assert_eq!(
                    CellValue::Datetime(at).canonical_text(),
                    at.format("%Y-%m-%d %H:%M:%S").to_string()
                );
            }
        }
    }

    #[test]
    fn decimals_keep_their_exact_written_value() {
        assert_eq!(parse_decimal("12.50").unwrap(), "12.50");
        assert_eq!(parse_decimal("007.1").unwrap(), "7.1");
        assert_eq!(parse_decimal("-0.00").unwrap(), "0.00");
        assert_eq!(parse_decimal("+3").unwrap(), "3");
        assert_eq!(parse_decimal(".5").unwrap(), "0.5");
        for bad in ["", ".", "1e5", "1.2.3", "abc", "--1", "1,000"] {
            assert!(parse_decimal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cells_are_checked_against_their_type() {
        assert_eq!(
            parse_cell(ItemType::Integer, " 42 ").unwrap(),
            Some(CellValue::Integer(42))
        );
        assert_eq!(parse_cell(ItemType::Integer, "").unwrap(), None);
        assert!(parse_cell(ItemType::Integer, "4.2").is_err());
        assert_eq!(
            parse_cell(ItemType::Boolean, "是").unwrap(),
            Some(CellValue::Boolean(true))
        );
        assert!(
            parse_cell(ItemType::Datetime, "2024-01-05 08:30:00")
                .unwrap()
                .is_some()
        );
        assert!(parse_cell(ItemType::Date, "2024-02-30").is_err());
    }

    #[test]
    fn a_nul_character_is_refused_in_any_type() {
        for t in [ItemType::String, ItemType::Integer, ItemType::Date] {
            assert!(parse_cell(t, "12\u{0}3").is_err());
        }
    }

    #[test]
    fn dates_are_read_in_the_forms_departments_write() {
        for written in [
            "2024-06-30",
            "20240630",
            "2024/6/30",
            "2024.6.30",
            "2024年6月30日",
        ] {
            assert_eq!(
                parse_cell(ItemType::Date, written).unwrap(),
                Some(CellValue::Date(
                    NaiveDate::from_ymd_opt(2024, 6, 30).unwrap()
                )),
                "{written}"
            );
        }
    }
}
