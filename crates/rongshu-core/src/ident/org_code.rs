//! Organisation codes (组织机构代码, GB 11714): an 8-character body and a MOD 11
//! check character, written `60003734-1`; characters 9-17 of a unified social credit
//! code embed one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Outcome;
use super::uscc::{self, Uscc, UsccError};

const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Value of one body character: digits 0-9, letters A-Z as 10-35.
fn char_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        _ => None,
    }
}

/// The check character for the 8-character body of an organisation code.
pub fn check_char(body8: &str) -> Option<char> {
    if body8.chars().count() != 8 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in body8.chars().zip(WEIGHTS) {
        sum += char_value(c)? * w;
    }
    match 11 - sum % 11 {
        11 => Some('0'),
        10 => Some('X'),
        n => char::from_digit(n, 10),
    }
}

/// Why an organisation code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgCodeError {
    /// Nothing but whitespace.
    #[error("the organisation code is empty")]
    Empty,
    /// Not 9 characters (hyphen not counted).
    #[error("an organisation code has 9 characters (8 and a check character), found {found}")]
    BadLength {
        /// Characters found, hyphen not counted.
        found: usize,
    },
    /// A character not allowed at its position.
    #[error("character {position} must be {expected}, found '{found}'")]
    BadCharacter {
        /// 1-based position, hyphen not counted.
        position: usize,
        /// What the position allows.
        expected: &'static str,
        /// What was there.
        found: char,
    },
    /// The check character does not match the body.
    #[error("check character should be {expected}, found {found}")]
    BadCheckCharacter {
        /// The check character the body gives.
        expected: char,
        /// The one written.
        found: char,
    },
}

impl OrgCodeError {
    /// The machine-readable outcome for this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            OrgCodeError::Empty => Outcome::Empty,
            OrgCodeError::BadLength { .. } => Outcome::BadLength,
            OrgCodeError::BadCharacter { .. } => Outcome::BadCharacter,
            OrgCodeError::BadCheckCharacter { .. } => Outcome::BadCheckCharacter,
        }
    }
}

/// A checked organisation code. Displays as `60003734-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgCode {
    /// Body and check character, no hyphen, upper case.
    compact: String,
}

impl OrgCode {
    /// Parse and check a code written with or without the hyphen before the check
    /// character (`60003734-1`, `600037341`); lower case is upper-cased.
    pub fn parse(s: &str) -> Result<OrgCode, OrgCodeError> {
        let chars = decode(s)?;
        Ok(OrgCode {
            compact: chars.iter().map(|&b| char::from(b)).collect(),
        })
    }

    /// The 9 characters without the hyphen, as a USCC embeds them.
    pub fn compact(&self) -> &str {
        &self.compact
    }

    /// The 8-character body.
    pub fn body(&self) -> &str {
        self.compact.get(..8).unwrap_or_default()
    }

    /// The check character.
    pub fn check_char(&self) -> char {
        self.compact.chars().last().unwrap_or('0')
    }

    /// Whether a USCC can embed this code: the USCC alphabet has no I, O, S, V or Z.
    pub fn is_uscc_embeddable(&self) -> bool {
        self.compact.chars().all(|c| uscc::char_value(c).is_some())
    }

    /// The USCC that embeds this code, given the authority and entity type characters
    /// and the 6-character division field; see [`Uscc::from_parts`].
    pub fn to_uscc(
        &self,
        authority: char,
        entity_type: char,
        division: &str,
    ) -> Result<Uscc, UsccError> {
        Uscc::from_parts(authority, entity_type, division, self)
    }

    /// The organisation code a USCC embeds, when it passes the GB 11714 check.
    pub fn from_uscc(code: &Uscc) -> Option<OrgCode> {
        code.org_code()
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.body(), self.check_char())
    }
}

impl Serialize for OrgCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for OrgCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        OrgCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Take a code apart without allocating: body and check, upper case, no hyphen.
pub(crate) fn decode(input: &str) -> Result<[u8; 9], OrgCodeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(OrgCodeError::Empty);
    }
    // One hyphen is allowed, and only between the body and the check character.
    let (body, check) = match s.split_once('-') {
        Some((body, check)) if body.chars().count() == 8 => (body, check),
        Some((body, _)) => {
            return Err(OrgCodeError::BadCharacter {
                position: body.chars().count() + 1,
                expected: "a digit or a capital letter (a hyphen goes only before the check character)",
                found: '-',
            });
        }
        None => s
            .char_indices()
            .nth(8)
            .map_or((s, ""), |(i, _)| s.split_at(i)),
    };
    let len = body.chars().count() + check.chars().count();
    if len != 9 {
        return Err(OrgCodeError::BadLength { found: len });
    }
    let mut out = [0u8; 9];
    for (i, c) in body.chars().chain(check.chars()).enumerate() {
        let upper = c.to_ascii_uppercase();
        let ok = if i < 8 {
            char_value(upper).is_some()
        } else {
            upper.is_ascii_digit() || upper == 'X'
        };
        if !ok {
            return Err(OrgCodeError::BadCharacter {
                position: i + 1,
                expected: if i < 8 {
                    "a digit or a capital letter"
                } else {
                    "a digit or X"
                },
                found: c,
            });
        }
        out[i] = upper as u8;
    }
    let sum: u32 = out[..8]
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| char_value(char::from(b)).unwrap_or(0) * w)
        .sum();
    let expected = match 11 - sum % 11 {
        11 => b'0',
        10 => b'X',
        n => b'0' + n as u8,
    };
    if expected != out[8] {
        return Err(OrgCodeError::BadCheckCharacter {
            expected: expected.into(),
            found: out[8].into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_example() {
        assert_eq!(check_char("60003734"), Some('1'));
    }

    #[test]
    fn hyphen_is_optional() {
        assert_eq!(
            OrgCode::parse("600037341").unwrap().to_string(),
            "60003734-1"
        );
        assert!(OrgCode::parse("6000-37341").is_err());
    }
}
