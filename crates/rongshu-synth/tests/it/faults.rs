//! Injected faults occur at the configured rates, and the ground truth says exactly what
//! was delivered where.

use std::collections::{HashMap, HashSet};

use rongshu_synth::{FaultKind, FaultRates};

use crate::{Table, city};

fn high_rates() -> FaultRates {
    FaultRates {
        name_typo: 0.05,
        id_digit: 0.03,
        stale_address: 0.1,
        missing_value: 0.04,
        keyless: 0.06,
        unreported_death: 0.4,
        dead_legal_rep: 0.05,
        legacy_pilot_code: 0.02,
    }
}

#[test]
fn injected_rates_match_the_configuration() {
    let rates = high_rates();
    let (dir, manifest) = city(4000, 11, rates.clone());
    let faults = Table::read(&dir.path().join("truth/faults.csv"));
    let kind_col = faults.col("kind");
    for tally in &manifest.faults {
        assert_eq!(tally.rate, rates.rate(tally.kind));
        let listed = faults
            .rows
            .iter()
            .filter(|r| r[kind_col] == tally.kind.as_str())
            .count() as u64;
        assert_eq!(
            listed, tally.injected,
            "{:?}: manifest and faults.csv disagree",
            tally.kind
        );
        assert!(
            tally.opportunities >= 100,
            "{:?}: only {} opportunities",
            tally.kind,
            tally.opportunities
        );
        let n = tally.opportunities as f64;
        let observed = tally.injected as f64 / n;
        // Four standard deviations of a binomial proportion, plus a little slack for the
        // few places where a drawn fault cannot be applied.
        let tolerance = 4.0 * (tally.rate * (1.0 - tally.rate) / n).sqrt() + 0.005;
        assert!(
            (observed - tally.rate).abs() <= tolerance,
            "{:?}: {observed:.4} injected, {:.4} configured",
            tally.kind,
            tally.rate
        );
    }
}

#[test]
fn no_faults_when_rates_are_zero() {
    let (dir, manifest) = city(1500, 3, FaultRates::none());
    assert!(manifest.faults.iter().all(|t| t.injected == 0));
    assert_eq!(
        Table::read(&dir.path().join("truth/faults.csv")).rows.len(),
        0
    );
    assert_eq!(
        Table::read(&dir.path().join("truth/keyless.csv"))
            .rows
            .len(),
        0
    );
}

#[test]
fn ground_truth_matches_the_files() {
    let (dir, manifest) = city(3000, 13, high_rates());
    let people = Table::read(&dir.path().join("people.csv"));
    let by_id = people.by("id_number");
    let entities = Table::read(&dir.path().join("entities.csv"));
    let by_uscc = entities.by("uscc");
    let extracts: HashMap<String, Table> = manifest
        .extracts
        .iter()
        .map(|e| (e.file.clone(), Table::read(&dir.path().join(&e.file))))
        .collect();

    let faults = Table::read(&dir.path().join("truth/faults.csv"));
    let [
        file,
        line,
        record_no,
        field,
        kind,
        true_value,
        delivered,
        subject,
    ] = [
        "file",
        "row",
        "record_no",
        "field",
        "kind",
        "true_value",
        "delivered_value",
        "subject",
    ]
    .map(|k| faults.col(k));
    let mut faulty_cells: HashSet<(String, usize, String)> = HashSet::new();
    for f in &faults.rows {
        let table = &extracts[&f[file]];
        let n: usize = f[line].parse().expect("row number");
        let row = table.line(n);
        assert_eq!(row[table.col("record_no")], f[record_no]);
        assert_eq!(row[table.col(&f[field])], f[delivered], "{f:?}");
        if f[kind] != FaultKind::DeadLegalRep.as_str() {
            assert_ne!(f[true_value], f[delivered], "{f:?}");
        }
        faulty_cells.insert((f[file].clone(), n, f[field].clone()));

        // The true value is what the true city says.
        let person_column = match f[field].as_str() {
            "name" => Some("name"),
            "id_number" => Some("id_number"),
            "phone" => Some("phone"),
            "address" | "contact_address" | "home_address" => Some("address"),
            _ => None,
        };
        if let Some(person) = by_id.get(&f[subject]) {
            if let Some(column) = person_column {
                assert_eq!(person[people.col(column)], f[true_value], "{f:?}");
            }
        } else {
            let entity = by_uscc
                .get(&f[subject])
                .unwrap_or_else(|| panic!("unknown subject {f:?}"));
            if f[field] == "legal_rep_name" {
                assert_eq!(entity[entities.col("legal_rep_name")], f[true_value]);
            }
            if f[field] == "uscc" {
                assert_eq!(entity[entities.col("uscc")], f[true_value]);
            }
            if f[kind] == FaultKind::DeadLegalRep.as_str() {
                let rep = &by_id[&entity[entities.col("legal_rep_id_number")]];
                assert!(
                    !rep[people.col("death_date")].is_empty(),
                    "{f:?}: representative alive"
                );
            }
        }
    }

    // Keyless records: the ID is gone from the extract, and the truth names the person.
    let keyless = Table::read(&dir.path().join("truth/keyless.csv"));
    assert!(!keyless.rows.is_empty());
    for k in &keyless.rows {
        let table = &extracts[&k[keyless.col("file")]];
        let n: usize = k[keyless.col("row")].parse().expect("row number");
        let row = table.line(n);
        assert_eq!(row[table.col("id_number")], "");
        let person = by_id
            .get(&k[keyless.col("true_id_number")])
            .expect("a real person");
        if !faulty_cells.contains(&(k[keyless.col("file")].clone(), n, "name".to_string())) {
            assert_eq!(row[table.col("name")], person[people.col("name")]);
        }
    }

    // Every cell not listed as faulty carries the true name and ID.
    for (path, table) in &extracts {
        let (Some(id), Some(name)) = (
            table.header.iter().position(|h| h == "id_number"),
            table.header.iter().position(|h| h == "name"),
        ) else {
            continue;
        };
        for (i, row) in table.rows.iter().enumerate() {
            let n = i + 2;
            if faulty_cells.contains(&(path.clone(), n, "id_number".to_string())) {
                continue;
            }
            let person = by_id
                .get(&row[id])
                .unwrap_or_else(|| panic!("{path} line {n}: unknown ID {}", row[id]));
            if !faulty_cells.contains(&(path.clone(), n, "name".to_string())) {
                assert_eq!(row[name], person[people.col("name")], "{path} line {n}");
            }
        }
    }
}
