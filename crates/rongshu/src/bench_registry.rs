//! `rongshu bench registry`: generate the synthetic city, load every
//! department's extract, build both base registries and verify everything;
//! print the times, and the tickets' precision and recall against the
//! conflicts the generator injected (`truth/faults.csv`).
//!
//! What counts as an injected conflict: a mistyped name (`name_typo`), an
//! address not updated after a move (`stale_address`), a death not reported
//! (`unreported_death`), an active entity under a dead legal representative
//! (`dead_legal_rep`) and a mistyped ID number or USCC (`id_digit`) — each
//! expected as a ticket to the department whose value is wrong, about the
//! subject and element concerned. A missing optional value asserts nothing
//! and a record without an ID is for record linkage: neither is a conflict.
//! A fault on a row the ingest rejected (a mistyped ID number fails its
//! check digit there) or whose key was itself spoiled (the row cannot be tied
//! to its subject) is counted apart, not in the recall.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::time::Instant;

use rongshu_core::value::CellValue;
use rongshu_server::PasswordCost;
use rongshu_store::{Filter, RecordQuery, Store, TicketFilter};

use crate::bench_open::status_kib;
use rongshu_synth::SynthConfig;

use crate::cli::DbArgs;

/// The element a fault's column carries (as the demo maps the extracts).
fn element(department: &str, field: &str) -> Option<&'static str> {
    Some(match (department, field) {
        ("scjgj" | "swj", "legal_rep_name") => "entity.legal_representative_name",
        ("scjgj", "legal_rep_id_number") => "entity.legal_representative_id",
        ("swj", "uscc") => "entity.uscc",
        (_, "id_number") => "person.citizen_id",
        (_, "name") => "person.name",
        (_, "status") => "person.vital_status",
        (_, "address" | "contact_address" | "home_address") => "person.household_address",
        _ => return None,
    })
}

type Expected = (String, String, String);

pub async fn run(people: u64, db: &DbArgs) -> anyhow::Result<ExitCode> {
    let memory_mib = db.registry_memory_mib;
    let scratch = tempfile::tempdir()?;
    let url = match &db.database_url {
        Some(url) => url.clone(),
        None => rongshu_store::sqlite_url_for_dir(scratch.path()),
    };
    let store = Store::open(&url)
        .await?
        .with_registry_memory_mib(memory_mib);
    if store.portal_counts().await?.departments > 0 {
        anyhow::bail!(
            "the database is not empty: give an empty one (or none, for SQLite in a temporary directory)"
        );
    }
    let config = SynthConfig::for_people(people);
    let city = scratch.path().join("city");
    println!(
        "{people} people, {} entities; backend {}",
        config.entities,
        store.backend().name()
    );
    let started = Instant::now();
    crate::demo::load_city(&store, &city, config, PasswordCost::TEST).await?;
    let load = started.elapsed().as_secs_f64();
    println!("generated and loaded the twelve extracts in {load:.1} s");

    let run = store.registry_run(rongshu_server::registry::DUE_WORKING_DAYS);
    // The peak of the build alone: generation and loading came before.
    // (Resetting the peak sets it to the memory resident now, which may
    // still hold what the generator freed: the build's own share is the
    // peak less this.)
    let rss_before = status_kib("self", "VmRSS:").unwrap_or(0);
    let peak_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    println!(
        "resident memory {} MiB when the build starts",
        rss_before / 1024
    );
    let started = Instant::now();
    let stats = store.verify_registry(chrono::Utc::now(), run).await?;
    let build = started.elapsed().as_secs_f64();
    let peak = status_kib("self", "VmHWM:").unwrap_or(0);
    println!(
        "built both registries and verified everything in {build:.1} s: {} subjects, {} golden values, {} tickets; witness values {:?}",
        stats.subjects, stats.golden_written, stats.tickets_opened, stats.classified
    );
    if peak_reset {
        println!(
            "peak resident memory during the build {} MiB, {} MiB above its start (budget {memory_mib} MiB)",
            peak / 1024,
            peak.saturating_sub(rss_before) / 1024
        );
    } else {
        println!(
            "peak resident memory of the whole run {} MiB (budget {memory_mib} MiB for the build)",
            peak / 1024
        );
    }
    let started = Instant::now();
    let again = store.verify_registry(chrono::Utc::now(), run).await?;
    println!(
        "verified again in {:.1} s: {} subjects changed, {} golden values written, {} tickets opened, {} closed",
        started.elapsed().as_secs_f64(),
        again.changed,
        again.golden_written,
        again.tickets_opened,
        again.tickets_closed
    );

    // The tickets, as (subject, element, department).
    let tickets = store
        .tickets(&TicketFilter {
            limit: i64::MAX / 2,
            ..TicketFilter::default()
        })
        .await?
        .items;
    let found: HashSet<Expected> = tickets
        .iter()
        .map(|t| {
            (
                t.subject_key.clone(),
                t.element.clone(),
                t.department.clone(),
            )
        })
        .collect();

    // Each department's resource, to tell which faulty rows were loaded.
    let mut resources = HashMap::new();
    for resource in store.resources(None).await? {
        resources.insert(resource.provider.code.clone(), resource);
    }
    let mut reader = csv::Reader::from_path(city.join("truth/faults.csv"))?;
    let mut spoiled_keys: HashSet<(String, u64)> = HashSet::new();
    let mut faults = Vec::new();
    for record in reader.records() {
        let r = record?;
        let get = |i: usize| r.get(i).unwrap_or_default().to_owned();
        let (department, row, field, kind) =
            (get(0), get(2).parse::<u64>().unwrap_or(0), get(4), get(5));
        if matches!(kind.as_str(), "keyless" | "id_digit")
            && matches!(field.as_str(), "id_number" | "uscc")
        {
            spoiled_keys.insert((department.clone(), row));
        }
        faults.push((department, row, field, kind, get(7), get(8), get(3)));
    }
    let mut expected: HashSet<Expected> = HashSet::new();
    let mut per_kind: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut apart: BTreeMap<&str, u64> = BTreeMap::new();
    for (department, row, field, kind, delivered, subject, record_no) in &faults {
        if !matches!(
            kind.as_str(),
            "name_typo" | "stale_address" | "unreported_death" | "dead_legal_rep" | "id_digit"
        ) {
            continue;
        }
        let loaded = match resources.get(department) {
            Some(resource) => {
                let query = RecordQuery::new(
                    vec![Filter::eq("record_no", CellValue::Text(record_no.clone()))],
                    vec!["record_no".into()],
                    1,
                );
                !store
                    .query_records(resource, &query)
                    .await?
                    .records
                    .is_empty()
            }
            None => false,
        };
        if !loaded {
            *apart
                .entry("row rejected at ingest (quality report)")
                .or_default() += 1;
            continue;
        }
        let is_key = kind == "id_digit";
        if !is_key && spoiled_keys.contains(&(department.clone(), *row)) {
            *apart
                .entry("key of the row spoiled too (linkage's)")
                .or_default() += 1;
            continue;
        }
        let Some(element) = element(department, field) else {
            *apart.entry("column carries no element").or_default() += 1;
            continue;
        };
        let key = if is_key {
            delivered.clone()
        } else {
            subject.clone()
        };
        let e = (key, element.to_owned(), department.clone());
        let hit = found.contains(&e);
        let slot = per_kind.entry(kind.clone()).or_default();
        slot.0 += 1;
        slot.1 += u64::from(hit);
        expected.insert(e);
    }
    let true_positives = found.intersection(&expected).count();
    let precision = true_positives as f64 / found.len().max(1) as f64;
    let recall = true_positives as f64 / expected.len().max(1) as f64;
    // The same at the level of the conflict (subject and element), whoever it went to.
    let conflicts = |set: &HashSet<Expected>| -> HashSet<(String, String)> {
        set.iter().map(|(k, e, _)| (k.clone(), e.clone())).collect()
    };
    let (found_c, expected_c) = (conflicts(&found), conflicts(&expected));
    let tp_c = found_c.intersection(&expected_c).count();
    println!(
        "tickets {} (distinct subject/element/department {}); injected conflicts expected as tickets {}",
        tickets.len(),
        found.len(),
        expected.len()
    );
    println!(
        "precision {precision:.4}, recall {recall:.4} (ticket to the department whose value is wrong)"
    );
    println!(
        "conflicts found regardless of addressee: precision {:.4}, recall {:.4}",
        tp_c as f64 / found_c.len().max(1) as f64,
        tp_c as f64 / expected_c.len().max(1) as f64
    );
    for (kind, (n, hit, _)) in &per_kind {
        println!("  {kind:<18} {hit:>7} of {n:>7} found");
    }
    for (why, n) in &apart {
        println!("  not counted: {n} faults, {why}");
    }
    // What the false positives are, by element and department.
    let mut fp: HashMap<(String, String), u64> = HashMap::new();
    for (_, e, d) in found.difference(&expected) {
        *fp.entry((e.clone(), d.clone())).or_default() += 1;
    }
    let mut fp: Vec<_> = fp.into_iter().collect();
    fp.sort_by_key(|b| std::cmp::Reverse(b.1));
    for ((e, d), n) in fp.iter().take(8) {
        println!("  unexpected ticket: {n} × {e} to {d}");
    }
    Ok(ExitCode::SUCCESS)
}
