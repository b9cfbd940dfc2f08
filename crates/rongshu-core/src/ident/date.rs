//! Dates in the forms departments write them: `2024-01-05`, `20240105`, `2024/1/5`,
//! `2024.1.5`, `2024年1月5日`.

use chrono::NaiveDate;

/// Why a date was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Nothing but whitespace.
    #[error("the date is empty")]
    Empty,
    /// Not one of the forms we read.
    #[error(
        "'{0}' is not a date in a known form (2024-01-05, 20240105, 2024/1/5, 2024.1.5, 2024年1月5日)"
    )]
    UnknownForm(String),
    /// The form is right but the calendar has no such day.
    #[error("no such date {year:04}{month:02}{day:02}")]
    NoSuchDate {
        /// Year as written.
        year: i32,
        /// Month as written.
        month: u32,
        /// Day as written.
        day: u32,
    },
}

/// Parse a date in any of the forms departments use. Surrounding whitespace is ignored;
/// the year has four digits, month and day one or two (eight digits together when
/// there are no separators).
pub fn parse_date(input: &str) -> Result<NaiveDate, DateError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DateError::Empty);
    }
    let unknown = || DateError::UnknownForm(s.to_string());
    let (year, month, day) = if let Some(rest) = s.strip_suffix('日') {
        let (y, rest) = rest.split_once('年').ok_or_else(unknown)?;
        let (m, d) = rest.split_once('月').ok_or_else(unknown)?;
        (y, m, d)
    } else if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        // Byte slicing is safe: all eight bytes are ASCII digits.
        (&s[..4], &s[4..6], &s[6..])
    } else {
        let sep = s
            .chars()
            .find(|c| matches!(c, '-' | '/' | '.'))
            .ok_or_else(unknown)?;
        let mut parts = s.split(sep);
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(y), Some(m), Some(d), None) => (y, m, d),
            _ => return Err(unknown()),
        }
    };
    let field = |text: &str, min: usize, max: usize| -> Option<u32> {
        let ok = (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        if ok { text.parse().ok() } else { None }
    };
    let year = field(year, 4, 4).ok_or_else(unknown)?;
    let month = field(month, 1, 2).ok_or_else(unknown)?;
    let day = field(day, 1, 2).ok_or_else(unknown)?;
    let year = year as i32;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DateError::NoSuchDate { year, month, day })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 5).unwrap();
        for s in [
            "2024-01-05",
            "20240105",
            "2024/1/5",
            "2024年1月5日",
            "2024.1.5",
        ] {
            assert_eq!(parse_date(s), Ok(d), "{s}");
        }
        assert_eq!(
            parse_date("19910230").unwrap_err().to_string(),
            "no such date 19910230"
        );
    }
}
