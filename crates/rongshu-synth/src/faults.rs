//! Department extracts with injected faults, and the ground truth that lists them.
//!
//! A department's row builder hands over the true values; this module decides, with the
//! department's own seeded stream, which of them to spoil, writes the row, and records
//! every change in `truth/faults.csv` (and every blanked ID in `truth/keyless.csv`).

use std::path::Path;

use chrono::NaiveDate;
use rongshu_core::ident::uscc;

use crate::config::{FaultKind, FaultRates};
use crate::csvfile::CsvFile;
use crate::dice::{Dice, Stream};
use crate::divisions::Divisions;
use crate::names::confusable;
use crate::people::previous_address;
use crate::spec::{DEPARTMENTS, Department, Role};
use crate::{FaultTally, SynthError};

/// Whom a row is about.
pub(crate) enum Subject<'a> {
    Person {
        index: u64,
        id_number: &'a str,
        dead: bool,
    },
    Entity {
        uscc: &'a str,
        /// Set when the legal representative chosen for this entity has died.
        rep_death: Option<NaiveDate>,
    },
}

impl Subject<'_> {
    fn key(&self) -> &str {
        match self {
            Subject::Person { id_number, .. } => id_number,
            Subject::Entity { uscc, .. } => uscc,
        }
    }
}

/// A row as the department would deliver it without faults. `values[0]` is filled in
/// with the record number.
pub(crate) struct Row<'a> {
    pub values: Vec<String>,
    pub subject: Subject<'a>,
    /// The status the department would still show had it not been told of the death.
    pub alive_status: Option<&'static str>,
}

pub(crate) const FAULT_COLUMNS: [&str; 10] = [
    "department",
    "file",
    "row",
    "record_no",
    "field",
    "kind",
    "true_value",
    "delivered_value",
    "subject",
    "note",
];
pub(crate) const KEYLESS_COLUMNS: [&str; 5] =
    ["department", "file", "row", "record_no", "true_id_number"];

/// The ground-truth files and the running tally of faults.
pub(crate) struct Truth {
    pub faults: CsvFile,
    pub keyless: CsvFile,
    tally: [(u64, u64); FaultKind::ALL.len()],
}

impl Truth {
    pub(crate) fn create(out_dir: &Path) -> Result<Self, SynthError> {
        Ok(Self {
            faults: CsvFile::create(out_dir, "truth/faults.csv", &FAULT_COLUMNS)?,
            keyless: CsvFile::create(out_dir, "truth/keyless.csv", &KEYLESS_COLUMNS)?,
            tally: [(0, 0); FaultKind::ALL.len()],
        })
    }

    fn slot(kind: FaultKind) -> usize {
        FaultKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
    }

    /// One more place where a fault of `kind` could have been injected.
    pub(crate) fn opportunity(&mut self, kind: FaultKind) {
        self.tally[Self::slot(kind)].0 += 1;
    }

    pub(crate) fn tallies(&self, rates: &FaultRates) -> Vec<FaultTally> {
        FaultKind::ALL
            .iter()
            .map(|&kind| {
                let (opportunities, injected) = self.tally[Self::slot(kind)];
                FaultTally {
                    kind,
                    rate: rates.rate(kind),
                    opportunities,
                    injected,
                }
            })
            .collect()
    }
}

/// A value spoiled in a row: where, how, and what was there before.
struct Spoiled {
    column: usize,
    kind: FaultKind,
    true_value: String,
    delivered: String,
    note: String,
}

/// One department's extract being written.
pub(crate) struct Extract {
    pub dept: &'static Department,
    pub file: CsvFile,
    dice: Dice,
}

impl Extract {
    pub(crate) fn create(out_dir: &Path, seed: u64, index: usize) -> Result<Self, SynthError> {
        let dept = DEPARTMENTS
            .get(index)
            .ok_or_else(|| SynthError::Config(format!("no department {index}")))?;
        let columns: Vec<&str> = dept.columns.iter().map(|c| c.key).collect();
        Ok(Self {
            dept,
            file: CsvFile::create(out_dir, dept.file, &columns)?,
            dice: Dice::new(seed, Stream::Faults(index as u64)),
        })
    }

    /// Spoils some values of `row` as `rates` say, writes it, and records what changed.
    pub(crate) fn write(
        &mut self,
        mut row: Row<'_>,
        rates: &FaultRates,
        truth: &mut Truth,
        ctx: (&Divisions, u64),
    ) -> Result<(), SynthError> {
        let line = self.file.next_line();
        let record_no = format!("{}{:09}", self.dept.record_prefix, line - 1);
        if let Some(first) = row.values.first_mut() {
            *first = record_no.clone();
        }
        let mut spoiled = Vec::new();
        for (i, column) in self.dept.columns.iter().enumerate() {
            let Some(value) = row.values.get(i).filter(|v| !v.is_empty()) else {
                continue;
            };
            if let Some((kind, delivered, note)) =
                self.spoil(column.role, value, &row, rates, truth, ctx)
            {
                spoiled.push(Spoiled {
                    column: i,
                    kind,
                    true_value: value.clone(),
                    delivered,
                    note: note.to_string(),
                });
            }
        }
        for s in &spoiled {
            if let Some(slot) = row.values.get_mut(s.column) {
                slot.clone_from(&s.delivered);
            }
        }
        // The register is right about who the representative is; the fault is that the
        // entity still trades under a dead person, which only other registers reveal.
        if let Subject::Entity {
            rep_death: Some(death),
            ..
        } = row.subject
            && let Some(i) = self.dept.column("legal_rep_id_number")
        {
            let id = row.values.get(i).cloned().unwrap_or_default();
            spoiled.push(Spoiled {
                column: i,
                kind: FaultKind::DeadLegalRep,
                true_value: id.clone(),
                delivered: id,
                note: format!("legal representative died {death}"),
            });
        }

        self.file.write(&row.values)?;
        for s in &spoiled {
            self.record(truth, line, &record_no, row.subject.key(), s)?;
        }
        Ok(())
    }

    /// Decides whether one value is spoiled, counting the opportunity: the fault, the
    /// value delivered instead, and a note for the ground truth.
    fn spoil(
        &mut self,
        role: Role,
        value: &str,
        row: &Row<'_>,
        rates: &FaultRates,
        truth: &mut Truth,
        (divisions, seed): (&Divisions, u64),
    ) -> Option<(FaultKind, String, &'static str)> {
        match role {
            Role::IdNumber => {
                truth.opportunity(FaultKind::Keyless);
                if self.dice.chance(rates.keyless) {
                    return Some((FaultKind::Keyless, String::new(), ""));
                }
                truth.opportunity(FaultKind::IdDigit);
                self.dice.chance(rates.id_digit).then(|| {
                    let typo = mistype_code(value, "0123456789", &mut self.dice);
                    (FaultKind::IdDigit, typo, "")
                })
            }
            Role::UsccTypo => {
                truth.opportunity(FaultKind::IdDigit);
                self.dice.chance(rates.id_digit).then(|| {
                    let typo = mistype_code(value, uscc::ALPHABET, &mut self.dice);
                    (FaultKind::IdDigit, typo, "")
                })
            }
            Role::Name => {
                let positions: Vec<(usize, char)> = value
                    .chars()
                    .enumerate()
                    .filter_map(|(i, c)| confusable(c).map(|d| (i, d)))
                    .collect();
                if positions.is_empty() {
                    return None;
                }
                truth.opportunity(FaultKind::NameTypo);
                if !self.dice.chance(rates.name_typo) {
                    return None;
                }
                let (at, with) = positions.get(self.dice.index(positions.len())).copied()?;
                let typo = value
                    .chars()
                    .enumerate()
                    .map(|(i, c)| if i == at { with } else { c })
                    .collect();
                Some((FaultKind::NameTypo, typo, ""))
            }
            Role::Address => {
                let Subject::Person { index, .. } = row.subject else {
                    return None;
                };
                truth.opportunity(FaultKind::StaleAddress);
                if !self.dice.chance(rates.stale_address) {
                    return None;
                }
                let old = previous_address(divisions, seed, index);
                // Drawing the same address again is no move; mark it rather than skip, so
                // the rate holds.
                let old = if old == value {
                    format!("{old}（旧址）")
                } else {
                    old
                };
                Some((FaultKind::StaleAddress, old, ""))
            }
            Role::Optional => {
                truth.opportunity(FaultKind::MissingValue);
                self.dice
                    .chance(rates.missing_value)
                    .then(|| (FaultKind::MissingValue, String::new(), ""))
            }
            Role::Status => {
                let (Subject::Person { dead: true, .. }, Some(alive)) =
                    (&row.subject, row.alive_status)
                else {
                    return None;
                };
                truth.opportunity(FaultKind::UnreportedDeath);
                self.dice.chance(rates.unreported_death).then(|| {
                    (
                        FaultKind::UnreportedDeath,
                        alive.to_string(),
                        "death not reported to this department",
                    )
                })
            }
            Role::RecordNo | Role::Fixed => None,
        }
    }

    fn record(
        &self,
        truth: &mut Truth,
        line: u64,
        record_no: &str,
        subject: &str,
        fault: &Spoiled,
    ) -> Result<(), SynthError> {
        truth.tally[Truth::slot(fault.kind)].1 += 1;
        let line = line.to_string();
        let field = self.dept.columns.get(fault.column).map_or("", |c| c.key);
        truth.faults.write([
            self.dept.code,
            self.dept.file,
            &line,
            record_no,
            field,
            fault.kind.as_str(),
            &fault.true_value,
            &fault.delivered,
            subject,
            &fault.note,
        ])?;
        if fault.kind == FaultKind::Keyless {
            truth.keyless.write([
                self.dept.code,
                self.dept.file,
                &line,
                record_no,
                &fault.true_value,
            ])?;
        }
        Ok(())
    }
}

/// A code with two adjacent characters swapped or one character mistyped, never equal
/// to the original (the check character then no longer matches).
fn mistype_code(code: &str, alphabet: &str, dice: &mut Dice) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    let body = chars.len().saturating_sub(1);
    let swaps: Vec<usize> = (0..body.saturating_sub(1))
        .filter(|&i| chars.get(i) != chars.get(i + 1))
        .collect();
    if dice.chance(0.5) && !swaps.is_empty() {
        let i = swaps.get(dice.index(swaps.len())).copied().unwrap_or(0);
        chars.swap(i, i + 1);
    } else if body > 0 {
        let i = dice.index(body);
        let alphabet: Vec<char> = alphabet
            .chars()
            .filter(|c| Some(c) != chars.get(i))
            .collect();
        if let (Some(slot), Some(c)) = (chars.get_mut(i), dice.pick(&alphabet)) {
            *slot = *c;
        }
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistyped_codes_fail_their_check() {
        let mut dice = Dice::new(1, Stream::People);
        let id = "11010519491231002X";
        for _ in 0..200 {
            let bad = mistype_code(id, "0123456789", &mut dice);
            assert_ne!(bad, id);
            assert_ne!(
                rongshu_core::ident::citizen_id::check_char(&bad[..17]),
                bad.chars().nth(17)
            );
        }
    }
}
