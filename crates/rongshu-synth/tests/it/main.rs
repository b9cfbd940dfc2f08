//! Integration tests of the synthetic city: small cities generated into temp dirs.

// Helpers outside #[test] functions may panic: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod determinism;
mod faults;
mod identifiers;
mod manifest;

use std::collections::HashMap;
use std::path::Path;

use rongshu_synth::{FaultRates, Manifest, SynthConfig};

/// A small city with the given seed and fault rates.
pub fn city(people: u64, seed: u64, faults: FaultRates) -> (tempfile::TempDir, Manifest) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SynthConfig {
        people,
        entities: people / 6,
        seed,
        faults,
    };
    let manifest = rongshu_synth::generate(&config, dir.path()).expect("generates");
    (dir, manifest)
}

/// A CSV file as its header and rows.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(path: &Path) -> Table {
        let mut reader = csv::Reader::from_path(path).expect("opens");
        let header = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_string)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.expect("row").iter().map(str::to_string).collect())
            .collect();
        Table { header, rows }
    }

    pub fn col(&self, key: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == key)
            .unwrap_or_else(|| panic!("no column {key}"))
    }

    /// The row at a file line number (the header is line 1).
    pub fn line(&self, line: usize) -> &[String] {
        &self.rows[line - 2]
    }

    /// Rows keyed by the value of one column.
    pub fn by(&self, key: &str) -> HashMap<String, &[String]> {
        let c = self.col(key);
        self.rows
            .iter()
            .map(|r| (r[c].clone(), r.as_slice()))
            .collect()
    }
}
