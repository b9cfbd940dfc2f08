//! National identifiers: citizen ID numbers (GB 11643), unified social credit codes
//! (GB 32100) and organisation codes (GB 11714), with mobile numbers and dates as
//! departments write them, and a validation report for one value.

pub mod citizen_id;
pub mod date;
pub mod mobile;
pub mod org_code;
pub mod uscc;
pub mod validate;

pub use citizen_id::{CitizenId, CitizenIdError, Sex};
pub use date::{DateError, parse_date};
pub use mobile::{Mobile, MobileError};
pub use org_code::{OrgCode, OrgCodeError};
pub use uscc::{Authority, EntityType, Uscc, UsccError};
pub use validate::{IdentKind, ValidationReport, validate};

use serde::Serialize;

/// What checking an identifier found, as a stable machine-readable word (the
/// `outcome` field of a [`ValidationReport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything checks.
    Valid,
    /// A USCC that is well formed but whose check character is wrong, as some early
    /// pilot codes are: a warning, not a rejection, for data already registered.
    LegacyChecksum,
    /// Nothing but whitespace.
    Empty,
    /// Wrong number of characters.
    BadLength,
    /// A character not allowed at its position.
    BadCharacter,
    /// The check character does not match.
    BadCheckCharacter,
    /// The birth date does not exist (or is implausibly early).
    BadDate,
    /// The birth date is after the day of checking.
    FutureDate,
    /// The division code never existed.
    UnknownDivision,
    /// The division code was retired before the person was born.
    DivisionRetired,
    /// A USCC registration authority not in GB 32100.
    UnknownAuthority,
    /// A USCC entity type the authority does not assign.
    UnknownEntityType,
}

impl Outcome {
    /// The word as serialised (`"bad_check_character"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::LegacyChecksum => "legacy_checksum",
            Outcome::Empty => "empty",
            Outcome::BadLength => "bad_length",
            Outcome::BadCharacter => "bad_character",
            Outcome::BadCheckCharacter => "bad_check_character",
            Outcome::BadDate => "bad_date",
            Outcome::FutureDate => "future_date",
            Outcome::UnknownDivision => "unknown_division",
            Outcome::DivisionRetired => "division_retired",
            Outcome::UnknownAuthority => "unknown_authority",
            Outcome::UnknownEntityType => "unknown_entity_type",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
