//! `rongshu bench api`: single-person lookups through the audited, masked data
//! API beside a bare endpoint of the same server, with the load generated in
//! this process over loopback; then every lookup's audit event is counted.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use rongshu_core::account::Role;
use rongshu_core::catalog::{NewResourceRequest, ResourceSpec, Transition};
use rongshu_core::ident::citizen_id;
use rongshu_server::service::{self, Doer, NewAccount};
use rongshu_server::{App, PasswordCost, ServerConfig, SystemClock};
use rongshu_store::{BatchMode, Store, TokenOwner};

use crate::bench::{RowOrder, spec, write_csv};
use crate::cli::DbArgs;

/// Latencies and counts of one endpoint under load.
struct Load {
    ok: u64,
    failed: u64,
    seconds: f64,
    /// Processor seconds this process spent meanwhile (server, load
    /// generator and audit writer together), when the system says.
    cpu_seconds: Option<f64>,
    /// In microseconds; sorted once [`Load::finish`] has run.
    latencies: Vec<u64>,
}

impl Load {
    fn empty() -> Self {
        Load {
            ok: 0,
            failed: 0,
            seconds: 0.0,
            cpu_seconds: Some(0.0),
            latencies: Vec::new(),
        }
    }

    /// Another slice of the same endpoint's load; the latencies are sorted
    /// again by [`Load::finish`], once the last slice is in.
    fn absorb(&mut self, slice: Load) {
        self.ok += slice.ok;
        self.failed += slice.failed;
        self.seconds += slice.seconds;
        self.cpu_seconds = self.cpu_seconds.zip(slice.cpu_seconds).map(|(a, b)| a + b);
        self.latencies.extend(slice.latencies);
    }

    fn finish(mut self) -> Self {
        self.latencies.sort_unstable();
        self
    }

    fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    /// Processor time per answered request, in microseconds.
    fn cpu_per_request(&self) -> Option<f64> {
        self.cpu_seconds
            .map(|cpu| cpu * 1e6 / self.ok.max(1) as f64)
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let at = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[at.min(self.latencies.len() - 1)] as f64 / 1000.0
    }
}

/// Seconds of load on one endpoint before the other takes its turn.
const SLICE: u64 = 1;

/// Processor seconds this process has used so far (user and system), from
/// `/proc/self/stat`, whose times are in the kernel's fixed 100 ticks a
/// second; `None` where there is no such file.
fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds_of_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// User and system time from the text of a `/proc/PID/stat`.
fn cpu_seconds_of_stat(stat: &str) -> Option<f64> {
    // The command name, in parentheses, may hold spaces and parentheses; the
    // fields after its last `)` are plain: state is the 3rd field of the
    // line, utime the 14th and stime the 15th.
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// The same ID numbers `write_csv` writes, by row.
fn id_of(row: u64) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
        + chrono::Duration::days((row / 1000) as i64);
    let first17 = format!("510104{}{:03}", birth.format("%Y%m%d"), row % 1000);
    let check = citizen_id::check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The registry as the data API serves it: ID numbers, names and phones are
/// grade 3, so another department reads them masked.
fn registry_spec() -> anyhow::Result<ResourceSpec> {
    let mut request = serde_json::to_value(spec()?.to_request())?;
    request["share_type"] = serde_json::json!("unconditional");
    request["grade"] = serde_json::json!(3);
    if let Some(items) = request["items"].as_array_mut() {
        for item in items {
            if matches!(item["key"].as_str(), Some("id_number" | "name" | "phone")) {
                item["grade"] = serde_json::json!(3);
            }
        }
    }
    let request: NewResourceRequest = serde_json::from_value(request)?;
    ResourceSpec::parse(request).map_err(|e| anyhow!("{e}"))
}

/// Sends requests for `urls`, picked at random, from `connections` workers.
/// The addresses are made and parsed before the clock starts: the load
/// generator shares the machine's cores with the server, and whatever it
/// spends per request is taken from the server being measured.
async fn hammer(
    client: &reqwest::Client,
    urls: Arc<Vec<reqwest::Url>>,
    token: &str,
    seconds: u64,
    connections: usize,
) -> anyhow::Result<Load> {
    let mut authorization = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?;
    authorization.set_sensitive(true);
    let started = Instant::now();
    let cpu_before = process_cpu_seconds();
    let until = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (client, urls) = (client.clone(), urls.clone());
            let authorization = authorization.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut ok, mut failed) = (0u64, 0u64);
                let mut n = worker as u64 * 7919;
                while Instant::now() < until {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let sent = Instant::now();
                    let url = urls[(n >> 20) as usize % urls.len()].clone();
                    let answer = client
                        .get(url)
                        .header(reqwest::header::AUTHORIZATION, authorization.clone())
                        .send()
                        .await;
                    match answer {
                        Ok(r) if r.status().is_success() => {
                            // Read the whole body: the work a real client waits for.
                            if r.bytes().await.is_ok() {
                                ok += 1;
                                latencies.push(sent.elapsed().as_micros() as u64);
                            } else {
                                failed += 1;
                            }
                        }
                        _ => failed += 1,
                    }
                }
                (ok, failed, latencies)
            })
        })
        .collect();
    let mut load = Load {
        ok: 0,
        failed: 0,
        seconds: 0.0,
        cpu_seconds: None,
        latencies: Vec::new(),
    };
    for worker in workers {
        if let Ok((ok, failed, latencies)) = worker.await {
            load.ok += ok;
            load.failed += failed;
            load.latencies.extend(latencies);
        }
    }
    load.seconds = started.elapsed().as_secs_f64();
    load.cpu_seconds = cpu_before
        .zip(process_cpu_seconds())
        .map(|(before, after)| after - before);
    Ok(load)
}

fn print_load(what: &str, load: &Load) {
    let cpu = load
        .cpu_per_request()
        .map(|us| format!("   {us:>5.1} µs CPU/req"))
        .unwrap_or_default();
    println!(
        "{what:<34} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms{cpu}   ({} ok, {} failed)",
        load.rate(),
        load.percentile(0.50),
        load.percentile(0.99),
        load.ok,
        load.failed
    );
}

pub async fn run(
    people: u64,
    seconds: u64,
    connections: usize,
    db: &DbArgs,
) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let url = match db.database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => u.to_owned(),
        _ => rongshu_store::sqlite_url_for_dir(dir.path()),
    };
    let store = Store::open(&url).await?;
    let now = chrono::Utc::now();
    let cli = Doer::cli();
    let e = anyhow::Error::from;
    let suffix = std::process::id();
    let (provider, consumer) = (format!("bp{suffix}"), format!("bc{suffix}"));
    service::create_department(&store, now, &cli, &provider, "基准测试提供部门", None)
        .await
        .map_err(e)?;
    service::create_department(&store, now, &cli, &consumer, "基准测试使用部门", None)
        .await
        .map_err(e)?;
    let resource = service::create_resource(&store, now, &cli, &provider, &registry_spec()?)
        .await
        .map_err(e)?;
    for step in [Transition::Submit, Transition::Approve] {
        service::transition_resource(&store, now, &cli, &resource.code, step, None)
            .await
            .map_err(e)?;
    }
    let resource = store.resource(&resource.code).await?;
    let csv = dir.path().join("people.csv");
    write_csv(&csv, people, RowOrder::ByKey)?;
    let loaded = service::ingest_csv_file(&store, now, &cli, &resource, &csv, BatchMode::Upsert)
        .await
        .map_err(e)?;
    if loaded.report.rows_loaded != people {
        bail!("loaded {} of {people} people", loaded.report.rows_loaded);
    }
    let user = service::create_user(
        &store,
        now,
        &cli,
        NewAccount {
            username: &format!("reader{suffix}"),
            department: &consumer,
            roles: &[Role::DataOfficer],
            password: None,
        },
        PasswordCost::TEST,
    )
    .await
    .map_err(e)?;
    let (_, token, _) =
        service::create_token(&store, now, &cli, &TokenOwner::User(user), "bench", Some(1))
            .await
            .map_err(e)?;

    let mut config = ServerConfig::new("127.0.0.1:0".parse()?, dir.path().join("server"));
    config.password_cost = PasswordCost::TEST;
    let app = App::build(config, store.clone(), Arc::new(SystemClock)).await?;
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    println!(
        "{people} people; {connections} requests in flight; {seconds} s per endpoint in turns of {SLICE} s; backend {}",
        store.backend().name()
    );

    let reads_before = store.audit_events(Some("data.read"), i64::MAX).await?.len();
    let bare_urls = vec![reqwest::Url::parse(&format!("{base}/api/v1/ping"))?];
    let code = &resource.code;
    let lookup_urls = (0..people)
        .map(|row| {
            reqwest::Url::parse(&format!(
                "{base}/api/v1/resources/{code}/records?id_number={}",
                id_of(row)
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (bare_urls, lookup_urls) = (Arc::new(bare_urls), Arc::new(lookup_urls));
    let database = dir.path().join("rongshu.db");
    let size = |suffix: &str| {
        std::fs::metadata(database.with_extension(suffix))
            .map(|m| m.len())
            .ok()
    };
    let db_before = size("db");
    // The endpoints take turns, a slice each: a shared machine's speed can
    // drift by tens of percent within a minute, and a drift then weighs on
    // both sides of the ratio alike instead of on whichever ran during it.
    let (mut bare, mut lookups) = (Load::empty(), Load::empty());
    for _ in 0..seconds.div_ceil(SLICE) {
        bare.absorb(hammer(&client, bare_urls.clone(), &token, SLICE, connections).await?);
        lookups.absorb(hammer(&client, lookup_urls.clone(), &token, SLICE, connections).await?);
    }
    let (bare, lookups) = (bare.finish(), lookups.finish());
    // The log's size as it stood under load; the file's once the log's last
    // pages are copied into it.
    let log_after = size("db-wal");
    store.copy_log_into_file().await?;
    let db_after = size("db");
    let _ = stop.send(());
    let _ = server.await;
    let reads_after = store.audit_events(Some("data.read"), i64::MAX).await?.len();
    let audited = (reads_after - reads_before) as u64;

    print_load("bare endpoint (fixed JSON)", &bare);
    print_load("audited, masked person lookup", &lookups);
    println!(
        "ratio {:.2} (lookups per second / bare per second); audit events {audited} for {} answered lookups{}",
        lookups.rate() / bare.rate().max(f64::MIN_POSITIVE),
        lookups.ok,
        if audited >= lookups.ok {
            ""
        } else {
            "  EVENTS MISSING"
        }
    );
    if let (Some(bare_cpu), Some(lookup_cpu)) = (bare.cpu_per_request(), lookups.cpu_per_request())
    {
        // Throughput mixes what a request costs with how much of the machine
        // was free to run it (lookups leave cores idle while they wait for
        // their audit group's commit); this is the cost alone.
        let outside = if store.backend() == rongshu_store::Backend::Postgres {
            " (PostgreSQL's own processes not counted)"
        } else {
            ""
        };
        println!(
            "processor time per request, server and load generator together{outside}: lookup {lookup_cpu:.1} µs, bare {bare_cpu:.1} µs; ratio {:.2}; {:.2} and {:.2} cores busy",
            bare_cpu / lookup_cpu.max(f64::MIN_POSITIVE),
            lookups.cpu_seconds.unwrap_or(0.0) / lookups.seconds.max(f64::MIN_POSITIVE),
            bare.cpu_seconds.unwrap_or(0.0) / bare.seconds.max(f64::MIN_POSITIVE),
        );
    }
    if let (Some(before), Some(after), Some(log)) = (db_before, db_after, log_after) {
        let mib = |bytes: u64| bytes as f64 / 1048576.0;
        println!(
            "sqlite file grew {:.1} MiB during the lookups ({:.0} bytes per answered lookup); write-ahead log {:.1} MiB",
            mib(after.saturating_sub(before)),
            after.saturating_sub(before) as f64 / lookups.ok.max(1) as f64,
            mib(log)
        );
    }
    store.close().await;
    Ok(if audited >= lookups.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processor_time_is_read_after_the_command_name_whatever_it_holds() {
        let stat =
            "4242 (rongshu (x) y) S 1 4242 4242 0 -1 4194560 2890 0 0 0 1234 56 0 0 20 0 9 0";
        assert_eq!(cpu_seconds_of_stat(stat), Some(12.90));
        assert_eq!(cpu_seconds_of_stat("4242 (rongshu) S 1 2"), None);
        assert_eq!(cpu_seconds_of_stat("no name at all"), None);
        // This process's own figure is there on Linux, and only grows.
        if let Some(first) = process_cpu_seconds() {
            let spin: u64 = (0..2_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
            assert!(spin > 0);
            assert!(process_cpu_seconds().is_some_and(|then| then >= first));
        }
    }
}
