//! `rongshu bench open`: the open-data portal's two load figures, each beside
//! a baseline measured in the same run.
//!
//! 1. CKAN `package_search` over many published datasets with Chinese queries
//!    (some with a facet filter): p50/p99 through HTTP, beside the bare
//!    endpoint of the same server under the same load (the floor of any
//!    request).
//! 2. A download of a large release as CSV: throughput and the server
//!    process's peak memory during it, beside `cat` of a file of the same size.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rongshu_core::catalog::{NewResourceRequest, ResourceSpec, Transition};
use rongshu_server::opendata::releases::{self, Proposal, TreatmentBody};
use rongshu_server::service::{self, Doer};
use rongshu_server::{App, PasswordCost, ServerConfig, SystemClock};
use rongshu_store::{BatchMode, Store};

use crate::bench::{RowOrder, spec, write_csv};
use crate::cli::DbArgs;

/// (department code, name, topic, subjects).
#[rustfmt::skip]
const DEPARTMENTS: &[(&str, &str, &str, &[&str])] = &[
    ("jtj", "交通运输局", "交通服务", &["公交线路", "公交站点", "出租汽车运营", "公共停车场", "充电桩分布", "道路客运班线"]),
    ("jyj", "教育局", "教育科技", &["中小学校名录", "幼儿园名录", "招生计划", "校外培训机构", "高新技术企业名单"]),
    ("wjw", "卫生健康委员会", "医疗卫生", &["医疗机构名录", "药店分布", "疫苗接种点", "医疗床位统计", "卫生监督抽检结果"]),
    ("ghj", "规划和自然资源局", "空间地理", &["地名地址", "行政区划", "土地供应计划", "建设用地规划许可", "地质灾害隐患点"]),
    ("gaj", "公安局", "公共安全", &["交通事故统计", "户籍人口统计", "派出所名录", "消防站分布", "治安案件统计"]),
    ("jrj", "地方金融监管局", "金融服务", &["小额贷款公司名录", "融资担保机构", "银行网点分布", "上市公司名单"]),
    ("scj", "市场监督管理局", "市场监管", &["市场主体登记统计", "食品经营许可", "特种设备检验", "产品质量抽查", "行政处罚公示"]),
    ("sthj", "生态环境局", "能源环境", &["空气质量日报", "地表水水质", "重点排污单位", "噪声监测", "用电量统计"]),
    ("wgj", "文化广电旅游局", "文化娱乐", &["景区名录", "博物馆名录", "公共图书馆", "演出场所", "旅游接待统计"]),
];

#[rustfmt::skip]
const DISTRICTS: &[&str] = &[
    "锦江区", "青羊区", "金牛区", "武侯区", "成华区", "龙泉驿区", "青白江区", "新都区", "温江区", "双流区",
    "郫都区", "新津区", "简阳市", "都江堰市", "彭州市", "邛崃市", "崇州市", "金堂县", "大邑县", "蒲江县",
];

/// Queries as people type them: a subject, a district and a subject, a
/// department's short name, some with a facet filter.
#[rustfmt::skip]
const QUERIES: &[(&str, &str)] = &[
    ("公交线路", ""), ("武侯区 学校", ""), ("医疗机构", ""), ("幼儿园", "groups:教育科技"),
    ("空气质量", ""), ("停车场 锦江区", ""), ("景区", "groups:文化娱乐"), ("食品经营许可", ""),
    ("充电桩", ""), ("行政处罚", "organization:scj"), ("博物馆 青羊区", ""), ("人口统计", ""),
    ("药店", "groups:医疗卫生"), ("地名地址", ""), ("银行网点", ""), ("2023年 用电量", ""),
];

/// Everything opened: one resource per department, many releases of each.
fn resource_spec(topic: &str) -> anyhow::Result<ResourceSpec> {
    let request: NewResourceRequest = serde_json::from_value(serde_json::json!({
        "name": "开放数据基准", "summary": "基准测试用的开放资源", "share_type": "unconditional",
        "open_type": "open", "topics": [topic],
        "key_items": ["code"],
        "items": [
            {"key": "code", "name": "编码", "type": "string", "grade": 1, "kind": "text"},
            {"key": "value", "name": "数值", "type": "decimal", "grade": 1, "kind": "text"},
        ],
    }))?;
    ResourceSpec::parse(request).map_err(|e| anyhow!("{e}"))
}

fn officer(dept: &str) -> Doer {
    Doer {
        label: format!("user:{dept}_officer"),
        department: Some(dept.to_owned()),
    }
}

fn reviewer(dept: &str) -> Doer {
    Doer {
        label: format!("user:{dept}_reviewer"),
        department: Some(dept.to_owned()),
    }
}

/// Publish `count` datasets spread over the departments, districts and years.
async fn publish_many(store: &Store, count: u64) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let cli = Doer::cli();
    let e = anyhow::Error::from;
    let mut resources = Vec::new();
    for (code, name, topic, _) in DEPARTMENTS {
        service::create_department(store, now, &cli, code, &format!("成都市{name}"), None)
            .await
            .map_err(e)?;
        let r = service::create_resource(store, now, &cli, code, &resource_spec(topic)?)
            .await
            .map_err(e)?;
        for step in [Transition::Submit, Transition::Approve] {
            service::transition_resource(store, now, &cli, &r.code, step, None)
                .await
                .map_err(e)?;
        }
        resources.push(r.code);
    }
    let started = Instant::now();
    for n in 0..count {
        let d = (n % DEPARTMENTS.len() as u64) as usize;
        let (dept, dept_name, _, subjects) = DEPARTMENTS[d];
        let k = n / DEPARTMENTS.len() as u64;
        let subject = subjects[(k % subjects.len() as u64) as usize];
        let district = DISTRICTS[((k / subjects.len() as u64) % DISTRICTS.len() as u64) as usize];
        let year = 2015 + (n % 10);
        let proposal = Proposal {
            resource: resources[d].clone(),
            name: Some(format!("ds-{n}")),
            title: Some(format!("{year}年{district}{subject}")),
            description: Some(format!(
                "{dept_name}发布的{district}{subject}数据，按月更新，第{n}号数据集。"
            )),
            ..Default::default()
        };
        let release = releases::propose(store, now, &officer(dept), proposal)
            .await
            .map_err(e)?;
        releases::approve(store, now, &reviewer(dept), &release)
            .await
            .map_err(e)?;
        if (n + 1) % 10_000 == 0 {
            println!(
                "  published {} datasets ({:.0} a second)",
                n + 1,
                (n + 1) as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Latencies (ms, sorted) of `requests` GETs over `connections` at once.
async fn load(
    client: &reqwest::Client,
    urls: Arc<Vec<String>>,
    requests: usize,
    connections: usize,
) -> anyhow::Result<Vec<f64>> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (client, urls, next) = (client.clone(), urls.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                let sent = Instant::now();
                let res = client.get(&urls[n % urls.len()]).send().await?;
                if !res.status().is_success() {
                    bail!("{} answered {}", urls[n % urls.len()], res.status());
                }
                res.bytes().await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for w in workers {
        all.extend(w.await??);
    }
    all.sort_by(f64::total_cmp);
    Ok(all)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn print_latencies(what: &str, sorted: &[f64]) {
    println!(
        "{what:<40} p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests)",
        percentile(sorted, 0.5),
        percentile(sorted, 0.99),
        sorted.len()
    );
}

/// A field of this process's `/proc/self/status`, in KiB.
pub(crate) fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `cat` of a file: seconds, and its peak memory (KiB) polled while it runs.
fn cat_file(path: &Path) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let mut child = Command::new("cat")
        .arg(path)
        .stdout(Stdio::null())
        .spawn()
        .context("could not run cat")?;
    let pid = child.id().to_string();
    let mut peak = 0;
    loop {
        if let Some(kib) = status_kib(&pid, "VmHWM:") {
            peak = peak.max(kib);
        }
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok((started.elapsed().as_secs_f64(), peak))
}

pub async fn run(
    datasets: u64,
    rows: u64,
    queries: usize,
    connections: usize,
    db: &DbArgs,
) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let url = match db.database_url.as_deref() {
        Some(u) if u.starts_with("postgres") => u.to_owned(),
        _ => rongshu_store::sqlite_url_for_dir(dir.path()),
    };
    let store = Store::open(&url).await?;
    println!("backend {}", store.backend().name());

    let started = Instant::now();
    publish_many(&store, datasets).await?;
    println!(
        "{datasets} datasets published in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The large release: the ingest benchmark's file, its personal items
    // dropped or masked as the gate asks.
    let now = chrono::Utc::now();
    let e = anyhow::Error::from;
    let big = {
        let mut request = serde_json::to_value(spec()?.to_request())?;
        request["open_type"] = serde_json::json!("open");
        request["share_type"] = serde_json::json!("unconditional");
        let request: NewResourceRequest = serde_json::from_value(request)?;
        ResourceSpec::parse(request).map_err(|e| anyhow!("{e}"))?
    };
    let resource = service::create_resource(&store, now, &Doer::cli(), "jtj", &big)
        .await
        .map_err(e)?;
    for step in [Transition::Submit, Transition::Approve] {
        service::transition_resource(&store, now, &Doer::cli(), &resource.code, step, None)
            .await
            .map_err(e)?;
    }
    let resource = store.resource(&resource.code).await?;
    let csv = dir.path().join("rows.csv");
    write_csv(&csv, rows, RowOrder::ByKey)?;
    let started = Instant::now();
    let loaded = service::ingest_csv_file(
        &store,
        now,
        &Doer::cli(),
        &resource,
        &csv,
        BatchMode::Upsert,
    )
    .await
    .map_err(e)?;
    if loaded.report.rows_loaded != rows {
        bail!("loaded {} of {rows} rows", loaded.report.rows_loaded);
    }
    println!(
        "{rows} rows loaded for the download in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_file(&csv)?;
    let proposal = Proposal {
        resource: resource.code.clone(),
        name: Some("big-download".into()),
        title: Some("大表下载基准".into()),
        ..Default::default()
    };
    let release = releases::propose(&store, now, &officer("jtj"), proposal)
        .await
        .map_err(e)?;
    let flagged: Vec<TreatmentBody> =
        rongshu_core::opendata::blocking_items(&release.scan, &release.treatments)
            .into_iter()
            .map(|item| TreatmentBody {
                action: if item == "id_number" { "drop" } else { "mask" }.into(),
                item,
                reason: None,
            })
            .collect();
    let release = if flagged.is_empty() {
        release
    } else {
        releases::treat(&store, now, &officer("jtj"), &release, &flagged)
            .await
            .map_err(e)?
    };
    releases::approve(&store, now, &reviewer("jtj"), &release)
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

    // The first search builds the index of every published dataset.
    let started = Instant::now();
    let first = client
        .get(format!("{base}/api/3/action/package_search?rows=0"))
        .send()
        .await?;
    let first: serde_json::Value = first.json().await?;
    println!(
        "index of {} datasets built by the first search in {:.1} s",
        first["result"]["count"],
        started.elapsed().as_secs_f64()
    );
    let search_urls: Vec<String> = QUERIES
        .iter()
        .map(|(q, fq)| {
            let mut url = reqwest::Url::parse(&format!("{base}/api/3/action/package_search"))
                .map_err(|e| anyhow!("{e}"))?;
            url.query_pairs_mut()
                .append_pair("q", q)
                .append_pair("rows", "10");
            if !fq.is_empty() {
                url.query_pairs_mut().append_pair("fq", fq);
            }
            Ok(url.to_string())
        })
        .collect::<anyhow::Result<_>>()?;
    let bare = load(
        &client,
        Arc::new(vec![format!("{base}/api/v1/ping")]),
        queries,
        connections,
    )
    .await?;
    let searches = load(&client, Arc::new(search_urls), queries, connections).await?;
    println!(
        "package_search over {datasets} datasets, {} Chinese queries, {connections} in flight:",
        QUERIES.len()
    );
    print_latencies("  bare endpoint (fixed JSON)", &bare);
    print_latencies("  package_search (rows=10)", &searches);

    // The download: bytes and time through HTTP; the process's peak memory
    // from the moment it starts (Linux resets the peak on request).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = status_kib("self", "VmRSS:").unwrap_or(0);
    let saved = dir.path().join("download.csv");
    let mut file = tokio::io::BufWriter::new(tokio::fs::File::create(&saved).await?);
    let started = Instant::now();
    let res = client
        .get(format!(
            "{base}/api/v1/releases/big-download/download?format=csv"
        ))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("the download answered {}", res.status());
    }
    let mut res = res;
    let mut bytes = 0u64;
    let mut lines = 0u64;
    while let Some(chunk) = res.chunk().await? {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kib("self", "VmHWM:").unwrap_or(0);
    let _ = stop.send(());
    let _ = server.await;
    store.close().await;
    if lines != rows + 1 {
        bail!("the download had {lines} lines for {rows} rows and a header");
    }
    let (cat_seconds, cat_peak) = cat_file(&saved)?;
    let mib = bytes as f64 / 1_048_576.0;
    println!("CSV download of {rows} rows ({mib:.0} MiB):");
    println!(
        "  rongshu download (HTTP, saved to a file) {:>8.1} MiB/s {:>10.0} rows/s   peak RSS {:.0} MiB (was {:.0} MiB before it)",
        mib / seconds,
        rows as f64 / seconds,
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!(
        "  cat of the same file                    {:>8.1} MiB/s {:>10.0} rows/s   peak RSS {:.1} MiB",
        mib / cat_seconds,
        rows as f64 / cat_seconds,
        cat_peak as f64 / 1024.0
    );
    println!(
        "  ratio {:.3} (download rate / cat rate)",
        cat_seconds / seconds
    );
    Ok(ExitCode::SUCCESS)
}
