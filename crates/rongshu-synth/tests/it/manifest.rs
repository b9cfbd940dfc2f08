//! The manifest describes every file, its columns and row counts, and each extract as a
//! catalog resource.

use rongshu_synth::{ExtractSpec, FaultRates};

use crate::{Table, city};

#[test]
fn row_counts_and_columns_match_the_files() {
    let (dir, manifest) = city(2000, 5, FaultRates::default());
    assert_eq!(manifest.files.len(), 2 + 12 + 2);
    let mut total = 0;
    for file in &manifest.files {
        let table = Table::read(&dir.path().join(&file.file));
        assert_eq!(table.rows.len() as u64, file.rows, "{}", file.file);
        assert_eq!(table.header, file.columns, "{}", file.file);
        total += file.rows;
    }
    assert_eq!(total, manifest.rows_written);
    assert_eq!(manifest.files[0].rows, 2000);
    assert_eq!(manifest.files[1].rows, 2000 / 6);

    for extract in &manifest.extracts {
        let file = manifest
            .files
            .iter()
            .find(|f| f.file == extract.file)
            .expect("listed");
        assert_eq!(extract.rows, file.rows);
        assert!(extract.rows > 0, "{} is empty", extract.file);
        let keys: Vec<&str> = extract
            .resource
            .items
            .iter()
            .map(|i| i.key.as_str())
            .collect();
        assert_eq!(
            keys,
            file.columns.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert!(extract.file.starts_with("extracts/") && extract.file.is_ascii());
    }
}

#[test]
fn specs_are_the_manifest_extracts_without_counts() {
    let (_dir, manifest) = city(200, 5, FaultRates::default());
    let from_manifest: Vec<ExtractSpec> = manifest
        .extracts
        .iter()
        .cloned()
        .map(|mut e| {
            e.rows = 0;
            e
        })
        .collect();
    assert_eq!(rongshu_synth::extract_specs(), from_manifest);
}

#[test]
fn manifest_file_has_the_registration_shape() {
    let (dir, manifest) = city(200, 5, FaultRates::default());
    let text = std::fs::read_to_string(dir.path().join("manifest.json")).expect("reads");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let first = &json["extracts"][0];
    assert_eq!(first["file"], "extracts/public_security.csv");
    assert_eq!(first["department"]["code"], "gaj");
    assert_eq!(first["resource"]["key_items"][0], "record_no");
    let item = &first["resource"]["items"][1];
    for key in ["key", "name", "type", "required", "grade"] {
        assert!(!item[key].is_null(), "item lacks {key}");
    }
    let back: rongshu_synth::Manifest = serde_json::from_str(&text).expect("deserialises");
    assert_eq!(back, manifest);
}

#[test]
fn record_numbers_are_unique_within_each_extract() {
    let (dir, manifest) = city(1000, 9, FaultRates::default());
    for extract in &manifest.extracts {
        let table = Table::read(&dir.path().join(&extract.file));
        let c = table.col("record_no");
        let unique: std::collections::HashSet<_> = table.rows.iter().map(|r| &r[c]).collect();
        assert_eq!(unique.len(), table.rows.len(), "{}", extract.file);
    }
}
