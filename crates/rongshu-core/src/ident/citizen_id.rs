//! Citizen ID numbers (公民身份号码, GB 11643-1999): division code, birth date,
//! sequence number and an ISO 7064 MOD 11-2 check character.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Outcome;
use crate::division::DivisionCode;

/// ISO 7064 MOD 11-2 weights for the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character by remainder of the weighted sum mod 11.
const CHECK_CHARS: [u8; 11] = *b"10X98765432";
/// Birth years before this are taken as typing errors, not people.
const EARLIEST_BIRTH_YEAR: i32 = 1850;
/// Years a code may be used after GB/T 2260 retires it: the published tables lag the
/// approvals, and registration offices switch codes over months.
const RETIREMENT_GRACE_YEARS: i32 = 1;

/// The check character for the first 17 characters of an ID number, or `None`
/// when they are not 17 ASCII digits.
pub fn check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(check_byte(bytes).into())
}

/// Check character for 17 ASCII digits (the caller has checked them).
fn check_byte(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b.wrapping_sub(b'0')) * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

/// A person's sex as the sequence number records it (odd male, even female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Odd sequence number.
    Male,
    /// Even sequence number.
    Female,
}

impl Sex {
    /// `"male"` or `"female"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// Why a citizen ID number was refused. The message says exactly what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CitizenIdError {
    /// Nothing but whitespace.
    #[error("the citizen ID number is empty")]
    Empty,
    /// Neither 18 nor 15 characters.
    #[error("a citizen ID number has 18 characters (15 in the old form), found {found}")]
    BadLength {
        /// Characters found.
        found: usize,
    },
    /// A character other than a digit (or X at the end).
    #[error("character {position} must be {expected}, found '{found}'")]
    BadCharacter {
        /// 1-based position.
        position: usize,
        /// What the position allows.
        expected: &'static str,
        /// What was there.
        found: char,
    },
    /// The check character does not match the other 17.
    #[error("check character should be {expected}, found {found}")]
    BadCheckCharacter {
        /// The check character the first 17 digits give.
        expected: char,
        /// The one written.
        found: char,
    },
    /// The birth date does not exist.
    #[error("no such date {year:04}{month:02}{day:02}")]
    BadDate {
        /// Year as written.
        year: i32,
        /// Month as written.
        month: u32,
        /// Day as written.
        day: u32,
    },
    /// A birth date before 1850.
    #[error("birth date {0} is before {EARLIEST_BIRTH_YEAR}")]
    ImplausibleDate(NaiveDate),
    /// The birth date is after the day of checking.
    #[error("birth date {date} is in the future (today is {today})")]
    FutureDate {
        /// The birth date.
        date: NaiveDate,
        /// The day of checking.
        today: NaiveDate,
    },
    /// The division code never existed.
    #[error("division code {0:06} never existed")]
    UnknownDivision(u32),
    /// The code existed but was retired before the birth year, so no number issued to
    /// this person can carry it.
    #[error(
        "division code {code:06} ({name}) was retired in {last_year}, before the birth year {birth_year}"
    )]
    DivisionRetired {
        /// The code.
        code: u32,
        /// Its last name.
        name: &'static str,
        /// Its last year in force.
        last_year: u16,
        /// The birth year in the number.
        birth_year: i32,
    },
}

impl CitizenIdError {
    /// The machine-readable outcome for this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            CitizenIdError::Empty => Outcome::Empty,
            CitizenIdError::BadLength { .. } => Outcome::BadLength,
            CitizenIdError::BadCharacter { .. } => Outcome::BadCharacter,
            CitizenIdError::BadCheckCharacter { .. } => Outcome::BadCheckCharacter,
            CitizenIdError::BadDate { .. } | CitizenIdError::ImplausibleDate(_) => Outcome::BadDate,
            CitizenIdError::FutureDate { .. } => Outcome::FutureDate,
            CitizenIdError::UnknownDivision(_) => Outcome::UnknownDivision,
            CitizenIdError::DivisionRetired { .. } => Outcome::DivisionRetired,
        }
    }
}

/// A checked citizen ID number, always in its 18-character form with an upper-case X.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CitizenId {
    number: String,
    division: DivisionCode,
    birth_date: NaiveDate,
    sex: Sex,
    converted_from_15: bool,
}

impl CitizenId {
    /// Parse and check a number: length, characters, check character, birth date and
    /// division code. A 15-digit number is converted to 18 (century 19, check
    /// character computed); a lower-case x is accepted.
    ///
    /// This does not check that the birth date is in the past, because that needs
    /// today's date; use [`CitizenId::parse_on`] where today is known.
    pub fn parse(s: &str) -> Result<CitizenId, CitizenIdError> {
        decode(s, None).map(CitizenId::from)
    }

    /// [`CitizenId::parse`], and also refuse a birth date after `today`.
    pub fn parse_on(s: &str, today: NaiveDate) -> Result<CitizenId, CitizenIdError> {
        decode(s, Some(today)).map(CitizenId::from)
    }

    /// The 18-character number.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The division code in the number (as issued, possibly retired since).
    pub fn division(&self) -> DivisionCode {
        self.division
    }

    /// The birth date.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The sex the sequence number records.
    pub fn sex(&self) -> Sex {
        self.sex
    }

    /// Whether the input was a 15-digit number.
    pub fn converted_from_15(&self) -> bool {
        self.converted_from_15
    }

    /// Age in whole years on `today` (0 before the first birthday or for a future date).
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        today.years_since(self.birth_date).unwrap_or(0)
    }
}

impl From<Decoded> for CitizenId {
    fn from(d: Decoded) -> Self {
        CitizenId {
            number: d.digits.iter().map(|&b| char::from(b)).collect(),
            division: d.division,
            birth_date: d.birth_date,
            sex: d.sex,
            converted_from_15: d.converted_from_15,
        }
    }
}

impl fmt::Debug for CitizenId {
    // The number is personal data: debug output is masked so it cannot leak into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CitizenId({})",
            crate::mask::mask(crate::kind::ItemKind::CitizenId, &self.number)
        )
    }
}

impl fmt::Display for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.number)
    }
}

impl Serialize for CitizenId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.number)
    }
}

impl<'de> Deserialize<'de> for CitizenId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        CitizenId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A number taken apart without allocating: the batch check runs this per row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoded {
    pub digits: [u8; 18],
    pub division: DivisionCode,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub converted_from_15: bool,
}

impl Decoded {
    /// The normalised number as text.
    pub fn as_str(&self) -> &str {
        // Every byte is an ASCII digit or X, so this cannot fail.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }
}

pub(crate) fn decode(input: &str, today: Option<NaiveDate>) -> Result<Decoded, CitizenIdError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(CitizenIdError::Empty);
    }
    let len = s.chars().count();
    if len != 18 && len != 15 {
        return Err(CitizenIdError::BadLength { found: len });
    }
    for (i, c) in s.chars().enumerate() {
        let last_of_18 = len == 18 && i == 17;
        let ok = c.is_ascii_digit() || (last_of_18 && (c == 'X' || c == 'x'));
        if !ok {
            return Err(CitizenIdError::BadCharacter {
                position: i + 1,
                expected: if last_of_18 {
                    "a digit or X"
                } else {
                    "a digit"
                },
                found: c,
            });
        }
    }
    // All ASCII from here on, so bytes are characters.
    let b = s.as_bytes();
    let mut digits = [0u8; 18];
    let converted_from_15 = len == 15;
    if converted_from_15 {
        digits[..6].copy_from_slice(&b[..6]);
        digits[6..8].copy_from_slice(b"19");
        digits[8..17].copy_from_slice(&b[6..15]);
        digits[17] = check_byte(&digits[..17]);
    } else {
        digits.copy_from_slice(b);
        digits[17] = digits[17].to_ascii_uppercase();
        let expected = check_byte(&digits[..17]);
        if expected != digits[17] {
            return Err(CitizenIdError::BadCheckCharacter {
                expected: expected.into(),
                found: b[17].into(),
            });
        }
    }
    let num = |range: std::ops::Range<usize>| -> u32 {
        digits[range]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(6..10) as i32, num(10..12), num(12..14));
    let birth_date = NaiveDate::from_ymd_opt(year, month, day).ok_or(CitizenIdError::BadDate {
        year,
        month,
        day,
    })?;
    if year < EARLIEST_BIRTH_YEAR {
        return Err(CitizenIdError::ImplausibleDate(birth_date));
    }
    if let Some(today) = today
        && birth_date > today
    {
        return Err(CitizenIdError::FutureDate {
            date: birth_date,
            today,
        });
    }
    let code = num(0..6);
    let division =
        DivisionCode::from_u32(code).map_err(|_| CitizenIdError::UnknownDivision(code))?;
    let info = division.division();
    if let Some(last_year) = info.valid_to()
        && i32::from(last_year) + RETIREMENT_GRACE_YEARS < birth_date.year()
    {
        return Err(CitizenIdError::DivisionRetired {
            code,
            name: info.name(),
            last_year,
            birth_year: birth_date.year(),
        });
    }
    let sex = if num(16..17) % 2 == 1 {
        Sex::Male
    } else {
        Sex::Female
    };
    Ok(Decoded {
        digits,
        division,
        birth_date,
        sex,
        converted_from_15,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_example() {
        assert_eq!(check_char("11010519491231002"), Some('X'));
    }

    #[test]
    fn decodes_the_standard_example() {
        let id = CitizenId::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.division().as_str(), "110105");
    }
}
