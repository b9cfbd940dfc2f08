//! The synthetic city: a Chengdu-like population, its legal entities and the extracts a
//! dozen departments deliver, each with realistic faults, plus the ground truth of every
//! fault. Deterministic per seed; written in one streaming pass.
//!
//! Layout under the output directory: `people.csv` and `entities.csv` (the true city),
//! `extracts/<department>.csv`, `truth/faults.csv`, `truth/keyless.csv`, `manifest.json`.
//!
//! The extracts (department code, file): 公安局 `gaj` public_security, 民政局 `mzj`
//! civil_affairs, 人社局 `rsj` social_insurance, 卫健委 `wjw` health, 市场监管局 `scjgj`
//! market_regulation, 税务局 `swj` tax, 公积金中心 `gjj` housing_fund, 电信运营商 `tel`
//! telecom, 教育局 `jyj` education, 住建局 `zjj` housing, 医保局 `ybj`
//! medical_insurance, 残联 `cl` disabled_persons. Each has a `record_no` key of its own;
//! `extract_specs()` describes their columns as catalog resources.
//!
//! The city is observed on a fixed day (2024-06-30); nothing in the output depends on
//! the time of the run or on the output directory.

mod config;
mod csvfile;
mod dice;
mod divisions;
mod entities;
mod error;
mod faults;
mod generate;
mod names;
mod people;
mod rows;
mod spec;

use serde::{Deserialize, Serialize};

pub use config::{FaultKind, FaultRates, SynthConfig};
pub use error::SynthError;
pub use generate::generate;
pub use spec::{
    DepartmentSpec, ExtractSpec, ItemSpec, ItemType, ResourceSpec, ShareType, UpdateCycle,
    extract_specs,
};

/// Columns of `truth/faults.csv`.
pub const FAULT_COLUMNS: [&str; 10] = faults::FAULT_COLUMNS;
/// Columns of `truth/keyless.csv`.
pub const KEYLESS_COLUMNS: [&str; 5] = faults::KEYLESS_COLUMNS;
/// Columns of `people.csv`.
pub const PEOPLE_COLUMNS: [&str; 15] = generate::PEOPLE_COLUMNS;
/// Columns of `entities.csv`.
pub const ENTITY_COLUMNS: [&str; 16] = generate::ENTITY_COLUMNS;

/// What was written: `manifest.json` holds the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub generator: String,
    pub seed: u64,
    pub people: u64,
    pub entities: u64,
    /// The day the city is observed (fixed, not the day of the run).
    pub snapshot_date: String,
    pub fault_rates: FaultRates,
    /// Every CSV file with its columns and data rows.
    pub files: Vec<FileInfo>,
    /// Each department extract as the catalog resource it registers as.
    pub extracts: Vec<ExtractSpec>,
    /// Per kind of fault: how often it could have occurred and how often it was injected.
    pub faults: Vec<FaultTally>,
    /// Data rows over all files (headers not counted).
    pub rows_written: u64,
}

/// A CSV file of the output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Path relative to the output directory, with `/` separators.
    pub file: String,
    pub rows: u64,
    pub columns: Vec<String>,
}

/// How many faults of one kind were injected out of how many opportunities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultTally {
    pub kind: FaultKind,
    pub rate: f64,
    pub opportunities: u64,
    pub injected: u64,
}
