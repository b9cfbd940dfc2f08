//! Unified social credit codes (统一社会信用代码, GB 32100-2015): registration
//! authority, entity type, division, the embedded organisation code and a MOD 31
//! check character.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Outcome;
use super::org_code::OrgCode;
use crate::division::DivisionCode;

/// The 31 characters a code is written in (no I, O, S, V, Z).
pub const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights 3^(i-1) mod 31 for the first 17 positions.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// Division field of codes issued by national (central) registration authorities.
pub const NATIONAL_DIVISION: &str = "100000";

/// Marks an ASCII byte outside [`ALPHABET`] in [`VALUES`].
const NOT_IN_ALPHABET: u8 = u8::MAX;

/// Each ASCII byte's value in [`ALPHABET`], looked up rather than searched
/// for: a code's 18 characters are valued for every code a batch carries.
const VALUES: [u8; 128] = {
    let mut values = [NOT_IN_ALPHABET; 128];
    let alphabet = ALPHABET.as_bytes();
    let mut i = 0;
    while i < alphabet.len() {
        values[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    values
};

/// The value (0..31) of one code character.
pub fn char_value(c: char) -> Option<u32> {
    let value = *VALUES.get(c as usize)?;
    (value != NOT_IN_ALPHABET).then_some(u32::from(value))
}

/// The check character for the first 17 characters of a code, or `None` when
/// one of them is outside the alphabet.
pub fn check_char(first17: &str) -> Option<char> {
    if first17.chars().count() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += char_value(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    ALPHABET.chars().nth(check as usize)
}

/// Value of an ASCII byte already known to be in the alphabet.
fn byte_value(b: u8) -> u32 {
    char_value(char::from(b)).unwrap_or(0)
}

/// A registration authority (登记管理部门), the code's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Authority {
    /// The code character.
    pub code: char,
    /// The authority's name.
    pub name: &'static str,
}

/// An entity type (机构类别), the code's second character, defined per authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EntityType {
    /// The code character.
    pub code: char,
    /// The type's name.
    pub name: &'static str,
}

/// One authority: its character, its name, and the entity types it assigns.
type AuthorityRow = (char, &'static str, &'static [(char, &'static str)]);

/// GB 32100 authorities and the entity types each assigns.
const AUTHORITIES: &[AuthorityRow] = &[
    (
        '1',
        "机构编制",
        &[
            ('1', "机关"),
            ('2', "事业单位"),
            ('3', "群团组织"),
            ('9', "其他"),
        ],
    ),
    ('2', "外交", &[('1', "外国常驻新闻机构"), ('9', "其他")]),
    (
        '3',
        "司法行政",
        &[
            ('1', "律师执业机构"),
            ('2', "公证处"),
            ('3', "基层法律服务所"),
            ('4', "司法鉴定机构"),
            ('5', "仲裁委员会"),
            ('9', "其他"),
        ],
    ),
    ('4', "文化", &[('1', "外国在华文化中心"), ('9', "其他")]),
    (
        '5',
        "民政",
        &[
            ('1', "社会团体"),
            ('2', "民办非企业单位"),
            ('3', "基金会"),
            ('9', "其他"),
        ],
    ),
    (
        '6',
        "旅游",
        &[
            ('1', "外国旅游部门常驻代表机构"),
            ('2', "港澳台地区旅游部门常驻内地代表机构"),
            ('9', "其他"),
        ],
    ),
    (
        '7',
        "宗教",
        &[('1', "宗教活动场所"), ('2', "宗教院校"), ('9', "其他")],
    ),
    ('8', "工会", &[('1', "基层工会"), ('9', "其他")]),
    (
        '9',
        "工商",
        &[('1', "企业"), ('2', "个体工商户"), ('3', "农民专业合作社")],
    ),
    (
        'A',
        "中央军委改革和编制办公室",
        &[('1', "军队事业单位"), ('9', "其他")],
    ),
    (
        'N',
        "农业",
        &[
            ('1', "组级集体经济组织"),
            ('2', "村级集体经济组织"),
            ('3', "乡镇级集体经济组织"),
            ('9', "其他"),
        ],
    ),
    ('Y', "其他", &[('1', "其他")]),
];

/// The authority a code character stands for.
pub fn authority(code: char) -> Option<Authority> {
    AUTHORITIES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(code, name, _)| Authority { code, name })
}

/// The entity type `code` under authority `authority`.
pub fn entity_type(authority: char, code: char) -> Option<EntityType> {
    let (_, _, types) = AUTHORITIES.iter().find(|(c, _, _)| *c == authority)?;
    types
        .iter()
        .find(|(c, _)| *c == code)
        .map(|&(code, name)| EntityType { code, name })
}

/// Why a unified social credit code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Nothing but whitespace.
    #[error("the unified social credit code is empty")]
    Empty,
    /// Not 18 characters.
    #[error("a unified social credit code has 18 characters, found {found}")]
    BadLength {
        /// Characters found.
        found: usize,
    },
    /// A character outside the code alphabet.
    #[error(
        "character {position} must be a digit or one of ABCDEFGHJKLMNPQRTUWXY, found '{found}'"
    )]
    BadCharacter {
        /// 1-based position.
        position: usize,
        /// What was there.
        found: char,
    },
    /// First character is not a registration authority.
    #[error("'{0}' is not a registration authority code")]
    UnknownAuthority(char),
    /// Second character is not a type that authority assigns.
    #[error("'{found}' is not an entity type of authority {authority} ({authority_name})")]
    UnknownEntityType {
        /// The authority character.
        authority: char,
        /// The authority's name.
        authority_name: &'static str,
        /// The type character found.
        found: char,
    },
    /// Characters 3-8 are not a division code that ever existed.
    #[error("division code {0} never existed")]
    UnknownDivision(String),
    /// Well formed, but the check character does not match: some early pilot codes
    /// are like this, so callers may accept it with a warning.
    #[error(
        "check character should be {expected}, found {found} (otherwise well formed: possibly an early pilot code)"
    )]
    LegacyChecksum {
        /// The check character the first 17 give.
        expected: char,
        /// The one written.
        found: char,
    },
}

impl UsccError {
    /// The machine-readable outcome for this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            UsccError::Empty => Outcome::Empty,
            UsccError::BadLength { .. } => Outcome::BadLength,
            UsccError::BadCharacter { .. } => Outcome::BadCharacter,
            UsccError::UnknownAuthority(_) => Outcome::UnknownAuthority,
            UsccError::UnknownEntityType { .. } => Outcome::UnknownEntityType,
            UsccError::UnknownDivision(_) => Outcome::UnknownDivision,
            UsccError::LegacyChecksum { .. } => Outcome::LegacyChecksum,
        }
    }
}

/// A checked unified social credit code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uscc {
    code: String,
    authority: Authority,
    entity_type: EntityType,
    division: Option<DivisionCode>,
    /// The right check character when the written one is wrong (a legacy code).
    expected_check: Option<char>,
}

impl Uscc {
    /// Parse and check a code strictly: a code whose check character does not match is
    /// refused with [`UsccError::LegacyChecksum`] when otherwise well formed.
    /// Lower-case letters are accepted and upper-cased.
    pub fn parse(s: &str) -> Result<Uscc, UsccError> {
        let code = Uscc::parse_allowing_legacy(s)?;
        match code.expected_check {
            Some(expected) => Err(UsccError::LegacyChecksum {
                expected,
                found: code.check_char(),
            }),
            None => Ok(code),
        }
    }

    /// Parse a code, accepting a well-formed code whose check character is wrong (an
    /// early pilot code already on the register); [`Uscc::has_legacy_checksum`]
    /// tells which it was.
    pub fn parse_allowing_legacy(s: &str) -> Result<Uscc, UsccError> {
        let d = decode(s)?;
        Ok(Uscc {
            code: d.as_str().to_string(),
            authority: d.authority,
            entity_type: d.entity_type,
            division: d.division,
            expected_check: d.expected_check,
        })
    }

    /// The 18-character code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The registration authority (character 1).
    pub fn authority(&self) -> Authority {
        self.authority
    }

    /// The entity type (character 2).
    pub fn entity_type(&self) -> EntityType {
        self.entity_type
    }

    /// Characters 3-8 as written.
    pub fn division_str(&self) -> &str {
        self.code.get(2..8).unwrap_or_default()
    }

    /// The registering division; `None` for national registrations (`100000`).
    pub fn division(&self) -> Option<DivisionCode> {
        self.division
    }

    /// Characters 9-17: the organisation code body and check as embedded.
    pub fn org_code_str(&self) -> &str {
        self.code.get(8..17).unwrap_or_default()
    }

    /// The embedded organisation code, when it passes the GB 11714 check (codes of
    /// individual businesses, for one, often embed no real organisation code).
    pub fn org_code(&self) -> Option<OrgCode> {
        OrgCode::parse(self.org_code_str()).ok()
    }

    /// The check character written (character 18).
    pub fn check_char(&self) -> char {
        self.code.chars().last().unwrap_or('0')
    }

    /// Whether the check character is wrong (accepted by
    /// [`Uscc::parse_allowing_legacy`] only).
    pub fn has_legacy_checksum(&self) -> bool {
        self.expected_check.is_some()
    }

    /// The check character the first 17 characters give, when the written one differs.
    pub fn expected_check_char(&self) -> Option<char> {
        self.expected_check
    }

    /// Whether the code belongs to an individual business (个体工商户, `92`), which
    /// identifies a person and so is personal data.
    pub fn is_individual_business(&self) -> bool {
        self.authority.code == '9' && self.entity_type.code == '2'
    }

    /// Build the code that embeds `org_code`, from an authority, an entity type and a
    /// division field (6 digits, or `100000`), computing the check character.
    pub fn from_parts(
        authority: char,
        entity_type: char,
        division: &str,
        org_code: &OrgCode,
    ) -> Result<Uscc, UsccError> {
        let mut first17 = String::with_capacity(18);
        first17.push(authority);
        first17.push(entity_type);
        first17.push_str(division);
        first17.push_str(org_code.compact());
        let n = first17.chars().count();
        if n != 17 {
            return Err(UsccError::BadLength { found: n + 1 });
        }
        let bad = first17
            .chars()
            .enumerate()
            .find(|(_, c)| char_value(*c).is_none());
        if let Some((i, found)) = bad {
            return Err(UsccError::BadCharacter {
                position: i + 1,
                found,
            });
        }
        let Some(check) = check_char(&first17) else {
            return Err(UsccError::BadLength { found: n + 1 });
        };
        first17.push(check);
        Uscc::parse(&first17)
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

impl Serialize for Uscc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.code)
    }
}

impl<'de> Deserialize<'de> for Uscc {
    // Stored codes include early pilot codes, so deserialising accepts them.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Uscc::parse_allowing_legacy(&s).map_err(serde::de::Error::custom)
    }
}

/// A code taken apart without allocating: the batch check runs this per row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoded {
    pub chars: [u8; 18],
    pub authority: Authority,
    pub entity_type: EntityType,
    pub division: Option<DivisionCode>,
    pub expected_check: Option<char>,
}

impl Decoded {
    /// The normalised (upper-case) code.
    pub fn as_str(&self) -> &str {
        // Every byte is from the ASCII alphabet, so this cannot fail.
        std::str::from_utf8(&self.chars).unwrap_or_default()
    }
}

pub(crate) fn decode(input: &str) -> Result<Decoded, UsccError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(UsccError::Empty);
    }
    let len = s.chars().count();
    if len != 18 {
        return Err(UsccError::BadLength { found: len });
    }
    let mut chars = [0u8; 18];
    for (i, c) in s.chars().enumerate() {
        let upper = c.to_ascii_uppercase();
        if !c.is_ascii() || char_value(upper).is_none() {
            return Err(UsccError::BadCharacter {
                position: i + 1,
                found: c,
            });
        }
        chars[i] = upper as u8;
    }
    let a = char::from(chars[0]);
    let authority = authority(a).ok_or(UsccError::UnknownAuthority(a))?;
    let t = char::from(chars[1]);
    let entity_type = entity_type(a, t).ok_or(UsccError::UnknownEntityType {
        authority: a,
        authority_name: authority.name,
        found: t,
    })?;
    let division_field = std::str::from_utf8(&chars[2..8]).unwrap_or_default();
    let division = if division_field == NATIONAL_DIVISION {
        None
    } else {
        Some(
            DivisionCode::parse(division_field)
                .map_err(|_| UsccError::UnknownDivision(division_field.to_string()))?,
        )
    };
    let sum: u32 = chars[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| byte_value(b) * w)
        .sum();
    let expected = ALPHABET
        .as_bytes()
        .get(((31 - sum % 31) % 31) as usize)
        .copied()
        .unwrap_or(b'0');
    let expected_check = (expected != chars[17]).then_some(char::from(expected));
    Ok(Decoded {
        chars,
        authority,
        entity_type,
        division,
        expected_check,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_example() {
        assert_eq!(check_char("91110000600037341"), Some('L'));
    }

    #[test]
    fn a_characters_value_is_its_place_in_the_alphabet_and_no_other_has_one() {
        for c in (0..0x3100).filter_map(char::from_u32) {
            assert_eq!(char_value(c), ALPHABET.find(c).map(|i| i as u32), "{c:?}");
        }
    }

    #[test]
    fn decodes_the_standard_example() {
        let code = Uscc::parse("91110000600037341l").unwrap();
        assert_eq!(code.as_str(), "91110000600037341L");
        assert_eq!(code.authority().name, "工商");
        assert_eq!(code.entity_type().name, "企业");
        assert_eq!(code.org_code().unwrap().to_string(), "60003734-1");
    }
}
