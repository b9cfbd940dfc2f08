//! What to generate: sizes, seed and the rates of injected faults.

use serde::{Deserialize, Serialize};

use crate::SynthError;

/// How large a city to generate and how faulty its department extracts are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Number of people (Chengdu has about 21 million).
    pub people: u64,
    /// Number of legal entities (Chengdu has about 3.5 million: one per six people).
    pub entities: u64,
    /// The seed: the same seed gives the same bytes in every file.
    pub seed: u64,
    pub faults: FaultRates,
}

impl SynthConfig {
    /// A city of `people` with the usual one entity per six people and default faults.
    pub fn for_people(people: u64) -> Self {
        Self {
            people,
            entities: people / 6,
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SynthError> {
        if self.people > 99_000_000 || self.entities > 99_000_000 {
            return Err(SynthError::Config(
                "at most 99,000,000 people and entities (numbers would repeat)".into(),
            ));
        }
        for (name, rate) in self.faults.named() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SynthError::Config(format!(
                    "fault rate {name} must be between 0 and 1, got {rate}"
                )));
            }
        }
        Ok(())
    }
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            people: 20_000,
            entities: 3_333,
            seed: 2016,
            faults: FaultRates::default(),
        }
    }
}

/// Probabilities of each kind of fault, per opportunity (a record or field where the
/// fault can occur; see `FaultKind`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRates {
    /// A character of a person's name replaced by a look-alike or sound-alike.
    pub name_typo: f64,
    /// Two adjacent characters of an ID number or USCC swapped, or one mistyped.
    pub id_digit: f64,
    /// A person's previous address still on record after a move.
    pub stale_address: f64,
    /// An optional value left empty.
    pub missing_value: f64,
    /// A record delivered without its ID number (to be matched by name, birth date, phone).
    pub keyless: f64,
    /// A dead person still active in a department that was not told of the death.
    pub unreported_death: f64,
    /// An active entity whose legal representative has died.
    pub dead_legal_rep: f64,
    /// Pre-2015 USCCs from the pilot period whose check character is wrong (not a fault of
    /// the extract: the register itself holds them).
    pub legacy_pilot_code: f64,
}

impl Default for FaultRates {
    fn default() -> Self {
        Self {
            name_typo: 0.01,
            id_digit: 0.005,
            stale_address: 0.05,
            missing_value: 0.01,
            keyless: 0.02,
            unreported_death: 0.3,
            dead_legal_rep: 0.003,
            legacy_pilot_code: 0.001,
        }
    }
}

impl FaultRates {
    /// No faults at all: extracts agree with the true city.
    pub fn none() -> Self {
        Self {
            name_typo: 0.0,
            id_digit: 0.0,
            stale_address: 0.0,
            missing_value: 0.0,
            keyless: 0.0,
            unreported_death: 0.0,
            dead_legal_rep: 0.0,
            legacy_pilot_code: 0.0,
        }
    }

    pub(crate) fn named(&self) -> [(&'static str, f64); 8] {
        [
            ("name_typo", self.name_typo),
            ("id_digit", self.id_digit),
            ("stale_address", self.stale_address),
            ("missing_value", self.missing_value),
            ("keyless", self.keyless),
            ("unreported_death", self.unreported_death),
            ("dead_legal_rep", self.dead_legal_rep),
            ("legacy_pilot_code", self.legacy_pilot_code),
        ]
    }

    /// The rate of one kind of fault.
    pub fn rate(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::NameTypo => self.name_typo,
            FaultKind::IdDigit => self.id_digit,
            FaultKind::StaleAddress => self.stale_address,
            FaultKind::MissingValue => self.missing_value,
            FaultKind::Keyless => self.keyless,
            FaultKind::UnreportedDeath => self.unreported_death,
            FaultKind::DeadLegalRep => self.dead_legal_rep,
        }
    }
}

/// The kinds of fault injected into department extracts, as named in `truth/faults.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    NameTypo,
    IdDigit,
    StaleAddress,
    MissingValue,
    Keyless,
    UnreportedDeath,
    DeadLegalRep,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::NameTypo,
        FaultKind::IdDigit,
        FaultKind::StaleAddress,
        FaultKind::MissingValue,
        FaultKind::Keyless,
        FaultKind::UnreportedDeath,
        FaultKind::DeadLegalRep,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::NameTypo => "name_typo",
            FaultKind::IdDigit => "id_digit",
            FaultKind::StaleAddress => "stale_address",
            FaultKind::MissingValue => "missing_value",
            FaultKind::Keyless => "keyless",
            FaultKind::UnreportedDeath => "unreported_death",
            FaultKind::DeadLegalRep => "dead_legal_rep",
        }
    }
}
