//! The quality checks measured against the synthetic city's ground truth: the
//! failures of a delivered extract are exactly the injected faults that one
//! file alone can reveal (precision and recall 1.0), and the faults it cannot
//! reveal (they need another register) flag nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use reqwest::StatusCode;
use rongshu_core::account::Role;
use rongshu_synth::{ExtractSpec, FaultKind, FaultRates, SynthConfig};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Cast, TestApp, json_of};

on_both_backends!(a_batch_flags_exactly_the_faults_its_extract_can_reveal);

/// 医保局's extract: ID numbers mistyped or left out, birth dates left out, and
/// faults only other registers reveal (name typos, stale addresses, deaths not
/// reported, optional values that may be empty by nature).
const DEPARTMENT: &str = "ybj";

/// How a fault shows in a batch's failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Flag {
    /// A required value is empty.
    Required,
    /// The value fails its item's type or kind check (an ID's check character).
    Unreadable,
}

/// The faults one extract alone reveals, the item they are in, and how the
/// platform flags them. Every other (kind, item) pair needs a second source.
const CHECKABLE: [(FaultKind, &str, Flag); 3] = [
    (FaultKind::IdDigit, "id_number", Flag::Unreadable),
    (FaultKind::Keyless, "id_number", Flag::Required),
    (FaultKind::MissingValue, "birth_date", Flag::Required),
];

fn checkable(kind: FaultKind, field: &str) -> Option<Flag> {
    CHECKABLE
        .iter()
        .find(|(k, f, _)| *k == kind && *f == field)
        .map(|(_, _, flag)| *flag)
}

/// One failure as `GET …/failures` lists it.
struct Failure {
    row: u64,
    key: String,
    item: String,
    rule: String,
    reason: String,
}

impl Failure {
    /// How the platform flagged it, when that is a way a checkable fault shows.
    /// The reader lists an empty required value and a value its kind refuses
    /// both under `type:{item}`; the reason tells them apart.
    fn flag(&self) -> Option<Flag> {
        if !self.rule.starts_with("type:") {
            return None;
        }
        Some(if self.reason.ends_with("is required but empty") {
            Flag::Required
        } else {
            Flag::Unreadable
        })
    }
}

/// One injected fault of the extract, from `truth/faults.csv`.
struct Fault {
    line: u64,
    record_no: String,
    field: String,
    kind: FaultKind,
}

fn kind_named(name: &str) -> FaultKind {
    *FaultKind::ALL
        .iter()
        .find(|k| k.as_str() == name)
        .unwrap_or_else(|| panic!("unknown fault kind {name}"))
}

fn read_csv(bytes: &[u8]) -> Vec<BTreeMap<String, String>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn faults_of(dir: &Path, extract: &ExtractSpec) -> Vec<Fault> {
    let bytes = std::fs::read(dir.join("truth/faults.csv")).unwrap();
    read_csv(&bytes)
        .into_iter()
        .filter(|r| r["file"] == extract.file)
        .map(|r| Fault {
            line: r["row"].parse().unwrap(),
            record_no: r["record_no"].clone(),
            field: r["field"].clone(),
            kind: kind_named(&r["kind"]),
        })
        .collect()
}

/// The extract registered as the generator describes it, except that the
/// provider declares what it knows of its own data: every insured person has
/// an ID number and a birth date on record, so both are required. (The
/// generator leaves them optional because other departments' extracts may lack
/// them by nature.)
fn declaration(extract: &ExtractSpec) -> Value {
    let mut declaration = serde_json::to_value(&extract.resource).unwrap();
    declaration["share_condition"] = json!("依申请共享：使用部门须说明用途与法律依据");
    for item in declaration["items"].as_array_mut().unwrap() {
        if matches!(item["key"].as_str(), Some("id_number" | "birth_date")) {
            item["required"] = json!(true);
        }
    }
    declaration
}

fn rate(hit: usize, of: usize) -> f64 {
    if of == 0 { 1.0 } else { hit as f64 / of as f64 }
}

async fn a_batch_flags_exactly_the_faults_its_extract_can_reveal(app: &TestApp) {
    // A small city with more faults than usual, so each kind occurs often.
    let city = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        people: 4_000,
        entities: 600,
        seed: 20_240_630,
        faults: FaultRates {
            id_digit: 0.02,
            keyless: 0.03,
            missing_value: 0.03,
            ..FaultRates::default()
        },
    };
    let manifest = {
        let dir = city.path().to_path_buf();
        tokio::task::spawn_blocking(move || rongshu_synth::generate(&config, &dir))
            .await
            .unwrap()
            .unwrap()
    };
    let extract = manifest
        .extracts
        .iter()
        .find(|e| e.department.code == DEPARTMENT)
        .unwrap()
        .clone();

    app.seed_user("sjj", "admin", &[Role::PlatformAdmin]).await;
    app.seed_user(DEPARTMENT, "ybj_officer", &[Role::DataOfficer])
        .await;
    let cast = Cast {
        admin: app.login("admin").await,
        provider: app.login("ybj_officer").await,
        consumer: String::new(),
    };
    let res = app
        .post_json(
            "/api/v1/resources",
            Some(&cast.provider),
            &declaration(&extract),
        )
        .await;
    let (status, resource, _) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{resource}");
    let code = resource["code"].as_str().unwrap().to_owned();
    // The checks rest on the kinds the platform infers from the items' names.
    let kind_of = |key: &str| {
        resource["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["key"] == key)
            .map(|i| i["kind"].clone())
    };
    assert_eq!(
        kind_of("id_number"),
        Some(json!("citizen_id")),
        "{resource}"
    );
    app.publish(&cast, &code).await;

    // Rules that cross-check items of one row: they find nothing in this
    // extract, and would flag a generator that contradicted itself.
    app.put_rules(
        &code,
        &cast.provider,
        &json!({"rules": [
            {"rule": "id_birth_date", "id_item": "id_number", "birth_item": "birth_date"},
            {"rule": "id_sex", "id_item": "id_number", "sex_item": "sex"},
            {"rule": "date_order", "before": "birth_date", "after": "enrol_date"}
        ]}),
    )
    .await;

    let file = std::fs::read(city.path().join(&extract.file)).unwrap();
    let report = app.load_batch(&code, &cast.provider, file).await;
    assert_eq!(report["rows_read"].as_u64(), Some(extract.rows));
    let batch = report["batch_id"].as_str().unwrap();
    let res = app
        .get(
            &format!("/api/v1/resources/{code}/batches/{batch}/failures"),
            Some(&cast.provider),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let failures: Vec<Failure> = read_csv(&res.bytes().await.unwrap())
        .into_iter()
        .map(|r| Failure {
            row: r["row"].parse().unwrap(),
            key: r["key"].clone(),
            item: r["item"].clone(),
            rule: r["rule"].clone(),
            reason: r["reason"].clone(),
        })
        .collect();

    // What the ground truth says should be flagged. A rejected row is reported
    // by its first unreadable item, so a second checkable fault in the same row
    // is covered by that row's rejection and not listed on its own.
    let faults = faults_of(city.path(), &extract);
    let column = |field: &str| {
        extract
            .resource
            .items
            .iter()
            .position(|i| i.key == field)
            .unwrap()
    };
    let mut by_line: BTreeMap<u64, Vec<&Fault>> = BTreeMap::new();
    let mut uncheckable: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &faults {
        if checkable(f.kind, &f.field).is_some() {
            by_line.entry(f.line).or_default().push(f);
        } else {
            *uncheckable.entry(f.kind.as_str()).or_default() += 1;
        }
    }
    let mut expected: BTreeMap<(u64, String, Flag), &Fault> = BTreeMap::new();
    let mut masked = 0;
    for row in by_line.values_mut() {
        row.sort_by_key(|f| column(&f.field));
        let first = row[0];
        let flag = checkable(first.kind, &first.field).unwrap();
        expected.insert((first.line, first.field.clone(), flag), first);
        masked += row.len() - 1;
    }

    let mut flagged: BTreeSet<(u64, String, Flag)> = BTreeSet::new();
    let mut unexplained = Vec::new();
    for f in &failures {
        match f.flag() {
            Some(flag) => {
                flagged.insert((f.row, f.item.clone(), flag));
            }
            None => unexplained.push(format!(
                "line {} ({}): {} {} — {}",
                f.row, f.key, f.rule, f.item, f.reason
            )),
        }
    }
    let wanted: BTreeSet<(u64, String, Flag)> = expected.keys().cloned().collect();
    let hits = flagged.intersection(&wanted).count();
    let false_positives: Vec<_> = flagged.difference(&wanted).collect();
    let misses: Vec<_> = wanted.difference(&flagged).collect();

    println!(
        "{} rows of {}: {} faults injected, {} checkable on {} rows ({} behind an earlier fault of the same row), {} failures listed",
        extract.rows,
        extract.file,
        faults.len(),
        expected.len() + masked,
        by_line.len(),
        masked,
        failures.len()
    );
    for (kind, field, flag) in CHECKABLE {
        let want = wanted
            .iter()
            .filter(|(_, i, g)| i == field && *g == flag)
            .filter(|k| expected[*k].kind == kind)
            .count();
        let got = flagged
            .iter()
            .filter(|k| wanted.contains(*k) && expected[*k].kind == kind)
            .count();
        println!(
            "  {:<14} {field:<11} expected {want:>4}  flagged {got:>4}",
            kind.as_str()
        );
    }
    println!("  not checkable from this file alone: {uncheckable:?}");
    println!(
        "  precision {:.3}  recall {:.3}  ({hits} true, {} false, {} missed, {} unexplained)",
        rate(hits, flagged.len() + unexplained.len()),
        rate(hits, wanted.len()),
        false_positives.len(),
        misses.len(),
        unexplained.len()
    );

    assert!(
        unexplained.is_empty(),
        "failures no injected fault explains: {:#?}",
        &unexplained[..unexplained.len().min(20)]
    );
    assert!(
        false_positives.is_empty(),
        "flagged without a fault: {:?}",
        &false_positives[..false_positives.len().min(20)]
    );
    assert!(
        misses.is_empty(),
        "faults not flagged: {:?}",
        &misses[..misses.len().min(20)]
    );
    // Each flag names the record the fault is in.
    let record_of: BTreeMap<u64, &str> = faults
        .iter()
        .map(|f| (f.line, f.record_no.as_str()))
        .collect();
    for f in &failures {
        assert_eq!(Some(f.key.as_str()), record_of.get(&f.row).copied());
    }
    // Every checkable row was rejected, and only those.
    assert_eq!(
        report["rows_rejected"].as_u64(),
        Some(by_line.len() as u64),
        "{report}"
    );
    // The measure means something only if every kind occurred, checkable or not.
    for (kind, _, _) in CHECKABLE {
        let n = expected.values().filter(|f| f.kind == kind).count();
        assert!(n >= 10, "only {n} {} faults in the extract", kind.as_str());
    }
    for kind in [
        FaultKind::NameTypo,
        FaultKind::StaleAddress,
        FaultKind::UnreportedDeath,
    ] {
        assert!(
            uncheckable.get(kind.as_str()).is_some_and(|n| *n > 0),
            "no {} faults in the extract: {uncheckable:?}",
            kind.as_str()
        );
    }
}
