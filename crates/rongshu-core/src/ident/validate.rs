//! One identifier checked and explained: the report behind the `validate` command and
//! endpoint, serialised as one flat JSON object.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Outcome;
use super::citizen_id::CitizenId;
use super::org_code::OrgCode;
use super::uscc::Uscc;

/// Which identifier a value is checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentKind {
    /// 公民身份号码 (GB 11643).
    CitizenId,
    /// 统一社会信用代码 (GB 32100).
    Uscc,
    /// 组织机构代码 (GB 11714).
    OrgCode,
}

impl IdentKind {
    /// `"citizen_id"`, `"uscc"` or `"org_code"`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentKind::CitizenId => "citizen_id",
            IdentKind::Uscc => "uscc",
            IdentKind::OrgCode => "org_code",
        }
    }
}

impl fmt::Display for IdentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An identifier kind name that is not one we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identifier kind '{0}' (expected citizen-id, uscc or org-code)")]
pub struct UnknownIdentKind(pub String);

impl FromStr for IdentKind {
    type Err = UnknownIdentKind;

    /// Accepts `citizen-id`/`citizen_id`, `uscc`, `org-code`/`org_code`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "citizen_id" => Ok(IdentKind::CitizenId),
            "uscc" => Ok(IdentKind::Uscc),
            "org_code" => Ok(IdentKind::OrgCode),
            _ => Err(UnknownIdentKind(s.to_string())),
        }
    }
}

/// What checking one value found. Serialises to one JSON object:
/// `{"value", "kind", "valid", "outcome", "reason", …decoded fields}`; decoded fields
/// are present only when the value could be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    /// The value as given.
    pub value: String,
    /// What it was checked as.
    pub kind: IdentKind,
    /// Whether it is a valid identifier (a legacy-checksum USCC is not).
    pub valid: bool,
    /// The machine-readable outcome.
    pub outcome: Outcome,
    /// What is wrong, for people; `null` when valid.
    pub reason: Option<String>,
    /// Decoded fields, flattened into the object.
    #[serde(flatten)]
    pub decoded: Option<Decoded>,
}

/// Fields decoded from a value, per kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Decoded {
    /// A citizen ID number.
    CitizenId(CitizenIdFields),
    /// A unified social credit code.
    Uscc(UsccFields),
    /// An organisation code.
    OrgCode(OrgCodeFields),
}

/// What a citizen ID number says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CitizenIdFields {
    /// The 18-character number.
    pub normalized: String,
    /// The division code in the number.
    pub division_code: String,
    /// Its name in the birth year (the nearest year the code existed).
    pub division_name: String,
    /// Its province.
    pub province: String,
    /// First year the code was in force (`null`: already in 1980).
    pub division_valid_from: Option<u16>,
    /// Last year the code was in force (`null`: still is).
    pub division_valid_to: Option<u16>,
    /// The division in force today, when the code was retired and has an heir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_division_code: Option<String>,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_division_name: Option<String>,
    /// Birth date, ISO 8601.
    pub birth_date: NaiveDate,
    /// `"male"` or `"female"`.
    pub sex: super::Sex,
    /// Whether the value was a 15-digit number.
    pub converted_from_15: bool,
}

/// What a unified social credit code says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsccFields {
    /// The code, upper case.
    pub normalized: String,
    /// Registration authority character.
    pub authority_code: char,
    /// Its name.
    pub authority_name: &'static str,
    /// Entity type character.
    pub entity_type_code: char,
    /// Its name.
    pub entity_type_name: &'static str,
    /// Characters 3-8.
    pub division_code: String,
    /// The division's name (`全国` for national registrations).
    pub division_name: String,
    /// Its province, when not national.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// Characters 9-17 as `XXXXXXXX-X`.
    pub org_code: String,
    /// Whether they pass the GB 11714 check.
    pub org_code_valid: bool,
    /// The right check character, for a legacy-checksum code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_check_character: Option<char>,
}

/// What an organisation code says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgCodeFields {
    /// The code as `XXXXXXXX-X`.
    pub normalized: String,
    /// Whether a USCC can embed it (its characters are all in the USCC alphabet).
    pub uscc_embeddable: bool,
}

/// Check `value` as `kind` on the day `today` (birth dates after it are refused).
pub fn validate(kind: IdentKind, value: &str, today: NaiveDate) -> ValidationReport {
    let (outcome, reason, decoded) = match kind {
        IdentKind::CitizenId => match CitizenId::parse_on(value, today) {
            Ok(id) => (
                Outcome::Valid,
                None,
                Some(Decoded::CitizenId(citizen_fields(&id))),
            ),
            Err(e) => (e.outcome(), Some(e.to_string()), None),
        },
        IdentKind::Uscc => match Uscc::parse_allowing_legacy(value) {
            Ok(code) => {
                let fields = Some(Decoded::Uscc(uscc_fields(&code)));
                match Uscc::parse(value) {
                    Ok(_) => (Outcome::Valid, None, fields),
                    Err(e) => (e.outcome(), Some(e.to_string()), fields),
                }
            }
            Err(e) => (e.outcome(), Some(e.to_string()), None),
        },
        IdentKind::OrgCode => match OrgCode::parse(value) {
            Ok(code) => (
                Outcome::Valid,
                None,
                Some(Decoded::OrgCode(OrgCodeFields {
                    normalized: code.to_string(),
                    uscc_embeddable: code.is_uscc_embeddable(),
                })),
            ),
            Err(e) => (e.outcome(), Some(e.to_string()), None),
        },
    };
    ValidationReport {
        value: value.to_string(),
        kind,
        valid: outcome == Outcome::Valid,
        outcome,
        reason,
        decoded,
    }
}

fn citizen_fields(id: &CitizenId) -> CitizenIdFields {
    let division = id.division().division();
    use chrono::Datelike;
    let current = (!division.is_current())
        .then(|| division.successor())
        .flatten();
    CitizenIdFields {
        normalized: id.as_str().to_string(),
        division_code: division.code_str().to_string(),
        division_name: division.name_in(id.birth_date().year()).to_string(),
        province: division.province().to_string(),
        division_valid_from: division.valid_from(),
        division_valid_to: division.valid_to(),
        current_division_code: current.map(|c| c.as_str().to_string()),
        current_division_name: current.map(|c| c.division().name().to_string()),
        birth_date: id.birth_date(),
        sex: id.sex(),
        converted_from_15: id.converted_from_15(),
    }
}

fn uscc_fields(code: &Uscc) -> UsccFields {
    let raw_org = code.org_code_str();
    let org_display = match (raw_org.get(..8), raw_org.get(8..)) {
        (Some(body), Some(check)) => format!("{body}-{check}"),
        _ => raw_org.to_string(),
    };
    let division = code.division().map(|d| d.division());
    UsccFields {
        normalized: code.as_str().to_string(),
        authority_code: code.authority().code,
        authority_name: code.authority().name,
        entity_type_code: code.entity_type().code,
        entity_type_name: code.entity_type().name,
        division_code: code.division_str().to_string(),
        division_name: division.map_or_else(|| "全国".to_string(), |d| d.name().to_string()),
        province: division.map(|d| d.province().to_string()),
        org_code: org_display,
        org_code_valid: code.org_code().is_some(),
        expected_check_character: code.expected_check_char(),
    }
}
