//! Mainland mobile numbers: 11 digits with an allocated prefix, written with or
//! without +86/0086, spaces and hyphens.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a mobile number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MobileError {
    /// Nothing but whitespace and separators.
    #[error("the mobile number is empty")]
    Empty,
    /// A character that is not a digit, space or hyphen (after an optional +86).
    #[error("a mobile number has only digits, spaces and hyphens, found '{0}'")]
    BadCharacter(char),
    /// Not 11 digits once the country code is removed.
    #[error("a mobile number has 11 digits, found {0}")]
    BadLength(usize),
    /// 11 digits, but not a prefix allocated to mobile networks.
    #[error("{0} is not a mobile number prefix")]
    BadPrefix(String),
}

/// A checked mainland mobile number, normalised to 11 digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mobile(String);

impl Mobile {
    /// Parse `13812345678`, `+86 138 1234 5678`, `0086-138-1234-5678` and the like.
    pub fn parse(s: &str) -> Result<Mobile, MobileError> {
        let digits = decode(s)?;
        Ok(Mobile(digits.iter().map(|&b| char::from(b)).collect()))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Mobile {
    // Personal data: masked so it cannot leak into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Mobile({})",
            crate::mask::mask(crate::kind::ItemKind::Mobile, &self.0)
        )
    }
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Mobile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Mobile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Mobile::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Whether the first three digits are allocated to mobile networks.
fn valid_prefix(second: u8, third: u8) -> bool {
    match second {
        b'3' | b'8' => true,
        b'4' => matches!(third, b'5'..=b'9'),
        b'5' => third != b'4',
        b'6' => matches!(third, b'2' | b'5' | b'6' | b'7'),
        b'7' => third != b'9',
        b'9' => third != b'4',
        _ => false,
    }
}

/// The 11 digits of a number, without allocating.
pub(crate) fn decode(input: &str) -> Result<[u8; 11], MobileError> {
    let s = input.trim();
    let s = s
        .strip_prefix("+86")
        .or_else(|| s.strip_prefix("0086"))
        .unwrap_or(s);
    let mut out = [0u8; 11];
    let mut n = 0usize;
    for c in s.chars() {
        match c {
            ' ' | '-' => {}
            '0'..='9' => {
                if let Some(slot) = out.get_mut(n) {
                    *slot = c as u8;
                }
                n += 1;
            }
            _ => return Err(MobileError::BadCharacter(c)),
        }
    }
    match n {
        0 => Err(MobileError::Empty),
        11 if out[0] == b'1' && valid_prefix(out[1], out[2]) => Ok(out),
        11 => Err(MobileError::BadPrefix(
            out[..3].iter().map(|&b| char::from(b)).collect(),
        )),
        n => Err(MobileError::BadLength(n)),
    }
}

/// The normalised digits as text (all ASCII digits, so this cannot fail).
pub(crate) fn as_str(digits: &[u8; 11]) -> &str {
    std::str::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_normalise() {
        for s in ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678"] {
            assert_eq!(Mobile::parse(s).unwrap().as_str(), "13812345678");
        }
        assert_eq!(
            Mobile::parse("15412345678").unwrap_err().to_string(),
            "154 is not a mobile number prefix"
        );
    }
}
