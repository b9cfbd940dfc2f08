//! `rongshu bench ...`: figures printed beside a baseline measured in the same run.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Datelike;

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use rongshu_core::audit::AuditRecord;
use rongshu_core::catalog::{NewResourceRequest, ResourceSpec};
use rongshu_core::ident::{citizen_id, org_code, uscc};
use rongshu_server::audit_writer::AuditWriter;
use rongshu_server::service::{self, Doer};
use rongshu_store::{BatchMode, Resource, Store};

use crate::cli::DbArgs;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingest a generated 10-column CSV through the batch path (typed, checked,
    /// upserted by key) beside the database's own bulk import of the same file
    /// into a table with the same columns and key index: `sqlite3 .import`, and
    /// `psql \copy` when --database-url names a PostgreSQL database.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Write the rows in an order unrelated to their keys, as a
        /// department's export often is, instead of sorted by ID number: both
        /// loads then add to their key index at random places.
        #[arg(long)]
        shuffled: bool,
        /// Then deliver the same people again as a snapshot in which every
        /// row has changed, and time that too (SQLite).
        #[arg(long)]
        again: bool,
        /// Apply each batch in one final step, to compare: on SQLite as
        /// before large batches were written beside their resource in turns,
        /// on PostgreSQL with the change log written in the same
        /// transaction as the rows, not beside them.
        #[arg(long)]
        in_one_step: bool,
    },
    /// Keyed lookups of single persons through the audited, masked data API
    /// beside an endpoint of the same server that only returns a fixed JSON
    /// (`/api/v1/ping`), on loopback with a load generator in this process;
    /// then counts the audit events the lookups left.
    Api {
        /// People in the registry looked up.
        #[arg(long, default_value_t = 100_000)]
        people: u64,
        /// Seconds of load on each endpoint.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Requests in flight at once (each on its own connection).
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
    /// The open-data portal: CKAN `package_search` latency over many
    /// published datasets with Chinese queries (beside a bare endpoint under
    /// the same load), then a large release downloaded as CSV: throughput and
    /// peak memory beside `cat` of a file of the same size.
    Open {
        /// Published datasets searched.
        #[arg(long, default_value_t = 100_000)]
        datasets: u64,
        /// Rows of the downloaded release.
        #[arg(long, default_value_t = 10_000_000)]
        rows: u64,
        /// Searches made (and bare requests beside them).
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
        #[arg(long, default_value_t = 4)]
        connections: usize,
    },
    /// Record linkage on the synthetic city: every extract's keyless records
    /// linked to the population, with precision, recall and F1 against the
    /// ground truth, candidate pairs per second and the clerical-review share.
    Linkage {
        /// People in the generated city.
        #[arg(long, default_value_t = 100_000)]
        people: u64,
    },
    /// Generate the synthetic city, load every extract, build both base
    /// registries and verify everything; print the times and the tickets'
    /// precision and recall against the injected conflicts.
    /// The build's memory budget is `--registry-memory-mib`.
    Registry {
        #[arg(long, default_value_t = 100_000)]
        people: u64,
    },
}

pub async fn run(command: BenchCommand, db: &DbArgs) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Open {
            datasets,
            rows,
            queries,
            connections,
        } => crate::bench_open::run(datasets, rows, queries, connections, db).await,
        BenchCommand::Ingest {
            rows,
            shuffled,
            again,
            in_one_step,
        } => {
            let order = if shuffled {
                RowOrder::Shuffled
            } else {
                RowOrder::ByKey
            };
            ingest(rows, order, Runs { again, in_one_step }, db).await
        }
        BenchCommand::Api {
            people,
            seconds,
            connections,
        } => crate::bench_api::run(people, seconds, connections, db).await,
        BenchCommand::Linkage { people } => crate::bench_linkage::run(people).await,
        BenchCommand::Registry { people } => crate::bench_registry::run(people, db).await,
    }
}

const COLUMNS: [(&str, &str, &str); 10] = [
    ("id_number", "string", "TEXT"),
    ("name", "string", "TEXT"),
    ("sex", "string", "TEXT"),
    ("birth_date", "date", "DATE"),
    ("phone", "string", "TEXT"),
    ("address", "string", "TEXT"),
    ("employer_uscc", "string", "TEXT"),
    ("monthly_base", "decimal", "NUMERIC"),
    ("visits", "integer", "BIGINT"),
    ("updated", "date", "DATE"),
];

/// The order of the people in a generated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowOrder {
    /// Sorted by ID number (by birth date, then sequence).
    ByKey,
    /// Each person once, in an order unrelated to the ID numbers.
    Shuffled,
}

impl RowOrder {
    /// The people of a file of `rows`, by line (0-based, header aside).
    /// Shuffled: line `n` holds person `n * stride mod rows`, with a stride
    /// near `rows` / φ that shares no factor with `rows`; that visits every
    /// person once, and neighbouring lines hold people far apart.
    fn people(self, rows: u64) -> impl Iterator<Item = u64> {
        let stride = match self {
            RowOrder::ByKey => 1,
            RowOrder::Shuffled => ((rows as f64 * 0.618_034) as u64..rows)
                .find(|s| *s > 1 && gcd(*s, rows) == 1)
                .unwrap_or(1),
        };
        let modulus = u128::from(rows.max(1));
        (0..u128::from(rows)).map(move |n| ((n * u128::from(stride)) % modulus) as u64)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A deterministic CSV of `rows` people with valid ID numbers and USCCs.
pub(crate) fn write_csv(path: &Path, rows: u64, order: RowOrder) -> anyhow::Result<u64> {
    write_csv_seeded(path, rows, order, 0x2016)
}

/// The same people, their other values drawn from `seed`: files of two
/// seeds differ in every row.
fn write_csv_seeded(path: &Path, rows: u64, order: RowOrder, seed: u64) -> anyhow::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    writeln!(out, "{}", header.join(","))?;
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let employers: Vec<String> = (0..1000)
        .map(|i| {
            let body = format!("{:08}", 10_000_000 + i * 7919);
            let org = format!("{body}{}", org_code::check_char(&body).unwrap_or('0'));
            let first17 = format!("91510100{org}");
            format!("{first17}{}", uscc::check_char(&first17).unwrap_or('0'))
        })
        .collect();
    for i in order.people(rows) {
        // A thousand sequence numbers per birth date keep every ID unique.
        let birth = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
            + chrono::Duration::days((i / 1000) as i64);
        let (year, month, dom) = (birth.year(), birth.month(), birth.day());
        let first17 = format!("510104{year:04}{month:02}{dom:02}{:03}", i % 1000);
        let id = format!(
            "{first17}{}",
            citizen_id::check_char(&first17).unwrap_or('0')
        );
        let sex = if (i % 1000) % 2 == 1 { "男" } else { "女" };
        writeln!(
            out,
            "{id},张{},{sex},{year:04}-{month:02}-{dom:02},138{:08},成都市武侯区人民南路{}号,{},{}.{:02},{},2024-{:02}-{:02}",
            i % 997,
            next() % 100_000_000,
            next() % 500,
            employers[(next() % 1000) as usize],
            3000 + next() % 30000,
            next() % 100,
            next() % 50,
            1 + next() % 12,
            1 + next() % 28,
        )?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

pub(crate) fn spec() -> anyhow::Result<ResourceSpec> {
    let items: Vec<serde_json::Value> = COLUMNS
        .iter()
        .map(|(k, t, _)| serde_json::json!({"key": k, "type": t, "grade": 2, "kind": "text"}))
        .collect();
    let mut items = items;
    items[0]["kind"] = serde_json::json!("citizen_id");
    items[6]["kind"] = serde_json::json!("uscc");
    let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
        "name": "基准测试", "key_items": ["id_number"], "items": items
    }))?;
    ResourceSpec::parse(req).map_err(|e| anyhow!("{e}"))
}

/// What the ingest benchmark runs beside the first load.
#[derive(Debug, Clone, Copy)]
struct Runs {
    again: bool,
    in_one_step: bool,
}

/// What one of our batches took.
struct Timed {
    /// Until the batch's report came back.
    answered_secs: f64,
    /// How long each audit event written during the batch waited for its
    /// commit, sorted.
    audit_waits: Vec<Duration>,
}

/// What our ingest took.
struct Ours {
    load: Timed,
    /// SQLite: copying the load's pages from the write-ahead log into the
    /// database file afterwards. No commit copies them (the store's own
    /// thread does, in the background), so the answer comes first; the copy
    /// is timed on its own to show the whole work.
    copy_secs: f64,
    /// The same people again, every row changed, as a snapshot.
    again: Option<Timed>,
}

/// The gap between audit events written during a load, as audited reads
/// would write them.
const PROBE_EVERY: Duration = Duration::from_millis(10);

/// Write an audit event every [`PROBE_EVERY`] until `done` (one at least),
/// through the server's own group-committing writer: each one's wait for
/// its commit is how long an audited read would have waited for its answer.
/// Each event is sent on the clock's beat, not a gap after the last one's
/// commit: audited reads come when they come, and a probe that waited for
/// the last commit would fall into step with the batch's turns and meet
/// each one at its start.
async fn probe_audit(writer: AuditWriter, done: Arc<AtomicBool>) -> anyhow::Result<Vec<Duration>> {
    let mut beat = tokio::time::interval(PROBE_EVERY);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probes = Vec::new();
    loop {
        beat.tick().await;
        let writer = writer.clone();
        probes.push(tokio::spawn(async move {
            let began = Instant::now();
            writer
                .record(AuditRecord {
                    at: chrono::Utc::now().to_rfc3339(),
                    actor: "bench:probe".into(),
                    department: None,
                    action: "bench.probe".into(),
                    target: None,
                    resource: None,
                    rows: None,
                    detail: serde_json::json!({}),
                })
                .await
                .map(|_| began.elapsed())
        }));
        if done.load(Ordering::Relaxed) {
            break;
        }
    }
    let mut waits = Vec::with_capacity(probes.len());
    for probe in probes {
        let wait = probe
            .await?
            .map_err(|e| anyhow!("an audit event was not written during the load: {e:?}"))?;
        waits.push(wait);
    }
    waits.sort_unstable();
    Ok(waits)
}

/// Deliver `csv` as one batch, with audit events written meanwhile; every
/// one of its `rows` must load.
async fn timed_batch(
    store: &Store,
    resource: &Resource,
    csv: &Path,
    rows: u64,
    mode: BatchMode,
) -> anyhow::Result<Timed> {
    let done = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn(probe_audit(
        AuditWriter::start(store.clone(), None),
        done.clone(),
    ));
    let started = Instant::now();
    let now = chrono::Utc::now();
    let report = service::ingest_csv_file(store, now, &Doer::cli(), resource, csv, mode)
        .await
        .map_err(anyhow::Error::from);
    let answered_secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let audit_waits = probe.await??;
    let report = report?;
    if report.report.rows_loaded != rows {
        bail!(
            "loaded {} of {rows} rows: {:?}",
            report.report.rows_loaded,
            report.report.rejects.first()
        );
    }
    Ok(Timed {
        answered_secs,
        audit_waits,
    })
}

async fn ours(url: &str, csv: &Path, rows: u64, runs: Runs) -> anyhow::Result<Ours> {
    let mut store = Store::open(url).await?;
    if runs.in_one_step {
        store = store.with_turn_rows(i64::MAX);
    }
    let dept = format!("bench{}", std::process::id());
    let now = chrono::Utc::now();
    let e = anyhow::Error::from;
    service::create_department(&store, now, &Doer::cli(), &dept, "基准测试部门", None)
        .await
        .map_err(e)?;
    let resource = service::create_resource(&store, now, &Doer::cli(), &dept, &spec()?)
        .await
        .map_err(e)?;
    let load = timed_batch(&store, &resource, csv, rows, BatchMode::Upsert).await?;
    let copy_started = Instant::now();
    store.copy_log_into_file().await?;
    let copy_secs = copy_started.elapsed().as_secs_f64();
    let again = if runs.again {
        let changed = csv.with_extension("again.csv");
        write_csv_seeded(&changed, rows, RowOrder::ByKey, 0x2017)?;
        let timed = timed_batch(&store, &resource, &changed, rows, BatchMode::Replace).await?;
        std::fs::remove_file(&changed)?;
        Some(timed)
    } else {
        None
    };
    store.close().await;
    Ok(Ours {
        load,
        copy_secs,
        again,
    })
}

/// The audit events' waits during a load, one line.
fn print_audit_waits(waits: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        let i = ((waits.len() as f64 * q).ceil() as usize).clamp(1, waits.len().max(1)) - 1;
        waits.get(i).copied().map_or(0.0, ms)
    };
    println!(
        "{:<10} audit events written during the batch (one per {} ms): {}; wait p50 {:.1} ms, p99 {:.1} ms, longest {:.1} ms",
        "",
        PROBE_EVERY.as_millis(),
        waits.len(),
        at(0.50),
        at(0.99),
        waits.last().copied().map_or(0.0, ms)
    );
}

fn timed(mut command: Command, what: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = command
        .output()
        .with_context(|| format!("could not run {what}"))?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(secs)
}

fn table_ddl(table: &str, sqlite: bool) -> String {
    let cols: Vec<String> = COLUMNS
        .iter()
        .map(|(k, _, t)| format!("{k} {}", if sqlite && *t != "BIGINT" { "TEXT" } else { t }))
        .collect();
    format!(
        "CREATE TABLE {table} ({}); CREATE UNIQUE INDEX {table}_key ON {table} (id_number);",
        cols.join(", ")
    )
}

fn print_line(backend: &str, rows: u64, ours: f64, baseline_name: &str, baseline: f64) {
    let r = rows as f64;
    println!(
        "{backend:<10} rongshu ingest: {:>10.0} rows/s ({ours:.2} s)   {baseline_name}: {:>10.0} rows/s ({baseline:.2} s)   ratio {:.2}",
        r / ours,
        r / baseline,
        baseline / ours
    );
}

async fn ingest(rows: u64, order: RowOrder, runs: Runs, db: &DbArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("bench.csv");
    let bytes = write_csv(&csv, rows, order)?;
    let ordered = match order {
        RowOrder::ByKey => "sorted by key",
        RowOrder::Shuffled => "shuffled",
    };
    println!(
        "file: {rows} rows, 10 columns, {:.1} MiB, {ordered}; ratio = baseline time / rongshu time (>1 means rongshu is faster)",
        bytes as f64 / 1048576.0
    );

    let sqlite_dir = dir.path().join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    let sqlite = ours(
        &rongshu_store::sqlite_url_for_dir(&sqlite_dir),
        &csv,
        rows,
        runs,
    )
    .await?;
    let (our_secs, copy_secs) = (sqlite.load.answered_secs, sqlite.copy_secs);
    let mut sqlite3 = Command::new("sqlite3");
    sqlite3
        .arg(dir.path().join("baseline.db"))
        .arg(table_ddl("t", true))
        .arg(".mode csv")
        .arg(format!(".import --skip 1 {} t", csv.display()));
    let base_secs = timed(sqlite3, "sqlite3 .import (install the sqlite3 package)")?;
    print_line("sqlite", rows, our_secs, "sqlite3 .import", base_secs);
    println!(
        "{:<10} then the log copied into the database file: {copy_secs:.2} s; ratio with the copy {:.2}",
        "",
        base_secs / (our_secs + copy_secs)
    );
    print_audit_waits(&sqlite.load.audit_waits);
    if let Some(again) = &sqlite.again {
        println!(
            "{:<10} the same people again as a snapshot, every row changed: {:>10.0} rows/s ({:.2} s)",
            "",
            rows as f64 / again.answered_secs,
            again.answered_secs
        );
        print_audit_waits(&again.audit_waits);
    }

    if let Some(url) = db
        .database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres"))
    {
        let once = Runs {
            again: false,
            ..runs
        };
        let postgres = ours(url, &csv, rows, once).await?;
        let our_secs = postgres.load.answered_secs;
        let table = format!("bench_copy_{}", std::process::id());
        let mut psql = Command::new("psql");
        psql.arg(url)
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-q")
            .arg("-c")
            .arg(table_ddl(&table, false))
            .arg("-c")
            .arg(format!(
                "\\copy {table} FROM '{}' WITH (FORMAT csv, HEADER true)",
                csv.display()
            ));
        let base_secs = timed(psql, "psql \\copy")?;
        let mut drop = Command::new("psql");
        drop.arg(url)
            .arg("-q")
            .arg("-c")
            .arg(format!("DROP TABLE {table}"));
        let _ = drop.output();
        print_line("postgres", rows, our_secs, "psql \\copy", base_secs);
        print_audit_waits(&postgres.load.audit_waits);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shuffled_file_has_every_person_once_out_of_key_order() {
        for rows in [1u64, 2, 10, 997, 1000, 4096] {
            let people: Vec<u64> = RowOrder::Shuffled.people(rows).collect();
            let mut sorted = people.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..rows).collect::<Vec<_>>(), "{rows} rows");
            if rows >= 10 {
                assert_ne!(people, sorted, "{rows} rows stayed in key order");
            }
        }
        let sorted: Vec<u64> = RowOrder::ByKey.people(5).collect();
        assert_eq!(sorted, [0, 1, 2, 3, 4]);
        assert_eq!(RowOrder::Shuffled.people(0).count(), 0);
    }
}
