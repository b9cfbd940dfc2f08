//! `rongshu bench linkage`: the synthetic city's keyless records (each
//! department extract's rows delivered without an ID number) linked to the
//! population by the linkage engine, scored against `truth/keyless.csv`.
//!
//! The population stands in for the population registry: 公安局's extract
//! (name, birth date, household address) with each person's mobile number as
//! the registry's golden record would hold it: from the real-name telecom
//! register (the mobile's authoritative source) where it carries the ID
//! number, else from another department that delivered one with the ID number
//! (a witness).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow};
use rongshu_core::linkage::{Decision, LinkageConfig, LinkageSpec, Table, link};
use rongshu_synth::SynthConfig;
use serde_json::json;

/// The population's columns, as the linkage configurations name them.
const POPULATION: [&str; 4] = ["name", "birth_date", "phone", "address"];

/// A department's extract: which of its columns carries each compared value.
/// Columns about someone else (a guardian's phone) or somewhere else (a
/// purchased flat's address) are left out.
fn mapping(department: &str) -> Option<&'static [(&'static str, &'static str)]> {
    Some(match department {
        "mzj" => &[("name", "name"), ("birth_date", "birth_date")],
        "rsj" => &[
            ("name", "name"),
            ("birth_date", "birth_date"),
            ("phone", "phone"),
            ("address", "contact_address"),
        ],
        "wjw" => &[("name", "name"), ("birth_date", "birth_date")],
        "gjj" => &[("name", "name"), ("phone", "phone")],
        "tel" => &[("name", "name"), ("phone", "phone"), ("address", "address")],
        "jyj" => &[
            ("name", "name"),
            ("birth_date", "birth_date"),
            ("address", "home_address"),
        ],
        "zjj" => &[("name", "name"), ("phone", "phone")],
        "ybj" => &[
            ("name", "name"),
            ("birth_date", "birth_date"),
            ("phone", "phone"),
            ("address", "address"),
        ],
        _ => return None,
    })
}

fn kind(column: &str) -> &'static str {
    match column {
        "name" => "chinese_name",
        "birth_date" => "date",
        "phone" => "phone",
        _ => "address",
    }
}

/// The configuration for the columns an extract has: each compared, each a
/// blocking rule of its own, so a slip in one still meets through the others.
pub(crate) fn config(columns: &[&str]) -> anyhow::Result<LinkageConfig> {
    let spec: LinkageSpec = serde_json::from_value(json!({
        "columns": columns.iter().map(|c| json!({"name": c, "kind": kind(c)})).collect::<Vec<_>>(),
        "blocking": columns.iter().map(|c| json!({"columns": [c]})).collect::<Vec<_>>(),
        "thresholds": {"link": 0.9, "review": 0.2},
        "assignment": "left_unique",
    }))?;
    LinkageConfig::parse(spec).map_err(|e| anyhow!("{e}"))
}

struct Csv {
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Csv {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let mut reader =
            csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
        let header = reader.headers()?.iter().map(str::to_owned).collect();
        let rows = reader.records().collect::<Result<_, _>>()?;
        Ok(Self { header, rows })
    }

    fn col(&self, name: &str) -> anyhow::Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow!("no column {name}"))
    }
}

fn value(row: &csv::StringRecord, i: usize) -> Option<String> {
    row.get(i)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The population table: 公安局's people with their mobiles.
fn population(city: &Path) -> anyhow::Result<Table> {
    let mut phones: HashMap<String, String> = HashMap::new();
    // The authoritative source first; a witness only fills a gap.
    for file in [
        "telecom",
        "social_insurance",
        "housing_fund",
        "medical_insurance",
        "housing",
        "disabled_persons",
    ] {
        let extract = Csv::read(&city.join(format!("extracts/{file}.csv")))?;
        let (id, phone) = (extract.col("id_number")?, extract.col("phone")?);
        for row in &extract.rows {
            if let (Some(id), Some(phone)) = (value(row, id), value(row, phone)) {
                phones.entry(id).or_insert(phone);
            }
        }
    }
    let gaj = Csv::read(&city.join("extracts/public_security.csv"))?;
    let (id, name, birth, address) = (
        gaj.col("id_number")?,
        gaj.col("name")?,
        gaj.col("birth_date")?,
        gaj.col("address")?,
    );
    let mut table = Table::new(POPULATION.iter().map(|c| (*c).to_owned()).collect());
    for row in &gaj.rows {
        let Some(key) = value(row, id) else { continue };
        let phone = phones.get(&key).cloned();
        table
            .push(
                key,
                vec![
                    value(row, name),
                    value(row, birth),
                    phone,
                    value(row, address),
                ],
            )
            .map_err(|e| anyhow!("{e}"))?;
    }
    Ok(table)
}

struct Figures {
    department: String,
    records: usize,
    candidates: usize,
    seconds: f64,
    links: usize,
    correct: usize,
    truth: usize,
    review_records: usize,
    review_true: usize,
    skipped_blocks: usize,
}

pub async fn run(people: u64) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let city = dir.path().to_path_buf();
    let started = Instant::now();
    let manifest = {
        let city = city.clone();
        tokio::task::spawn_blocking(move || {
            rongshu_synth::generate(&SynthConfig::for_people(people), &city)
        })
        .await??
    };
    println!(
        "generated a city of {} people, {} extract rows, in {:.1} s",
        manifest.people,
        manifest.rows_written,
        started.elapsed().as_secs_f64()
    );
    let figures = tokio::task::spawn_blocking(move || link_all(&city)).await??;
    print(&figures);
    drop(dir);
    Ok(ExitCode::SUCCESS)
}

fn link_all(city: &Path) -> anyhow::Result<Vec<Figures>> {
    let started = Instant::now();
    let population = population(city)?;
    println!(
        "population: {} people ({} with a mobile) read in {:.1} s",
        population.len(),
        population
            .rows()
            .iter()
            .filter(|r| r.values.get(2).is_some_and(Option::is_some))
            .count(),
        started.elapsed().as_secs_f64()
    );
    let truth = Csv::read(&city.join("truth/keyless.csv"))?;
    let (t_dept, t_record, t_id) = (
        truth.col("department")?,
        truth.col("record_no")?,
        truth.col("true_id_number")?,
    );
    let mut out = Vec::new();
    for spec in rongshu_synth::extract_specs() {
        let department = spec.department.code.clone();
        let Some(mapping) = mapping(&department) else {
            continue;
        };
        let truth_pairs: HashSet<(String, String)> = truth
            .rows
            .iter()
            .filter(|r| r.get(t_dept) == Some(department.as_str()))
            .filter_map(|r| Some((value(r, t_record)?, value(r, t_id)?)))
            .collect();
        let extract = Csv::read(&city.join(&spec.file))?;
        let (record_no, id_number) = (extract.col("record_no")?, extract.col("id_number")?);
        let columns: Vec<&str> = mapping.iter().map(|(c, _)| *c).collect();
        let sources = mapping
            .iter()
            .map(|(_, source)| extract.col(source))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut left = Table::new(columns.iter().map(|c| (*c).to_owned()).collect());
        for row in &extract.rows {
            if value(row, id_number).is_some() {
                continue;
            }
            let Some(id) = value(row, record_no) else {
                continue;
            };
            left.push(id, sources.iter().map(|&i| value(row, i)).collect())
                .map_err(|e| anyhow!("{e}"))?;
        }
        if left.is_empty() {
            continue;
        }
        let config = config(&columns)?;
        let started = Instant::now();
        let run = link(&config, &left, &population).map_err(|e| anyhow!("{e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let links: Vec<(String, String)> = run
            .pairs
            .iter()
            .filter(|p| p.decision == Decision::Link)
            .map(|p| (p.left_id.clone(), p.right_id.clone()))
            .collect();
        let correct = links.iter().filter(|l| truth_pairs.contains(*l)).count();
        let review: HashSet<&str> = run
            .pairs
            .iter()
            .filter(|p| p.decision == Decision::Review)
            .map(|p| p.left_id.as_str())
            .collect();
        let review_true = run
            .pairs
            .iter()
            .filter(|p| p.decision == Decision::Review)
            .filter(|p| truth_pairs.contains(&(p.left_id.clone(), p.right_id.clone())))
            .count();
        out.push(Figures {
            department,
            records: left.len(),
            candidates: run.blocking.candidate_pairs,
            seconds,
            links: links.len(),
            correct,
            truth: truth_pairs.len(),
            review_records: review.len(),
            review_true,
            skipped_blocks: run.blocking.skipped_blocks(),
        });
    }
    Ok(out)
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn print(figures: &[Figures]) {
    println!(
        "{:<6} {:>8} {:>10} {:>12} {:>7} {:>9} {:>7} {:>7} {:>8} {:>8}",
        "dept",
        "keyless",
        "candidates",
        "pairs/s",
        "links",
        "precision",
        "recall",
        "F1",
        "review",
        "skipped"
    );
    let mut total = Figures {
        department: "all".into(),
        records: 0,
        candidates: 0,
        seconds: 0.0,
        links: 0,
        correct: 0,
        truth: 0,
        review_records: 0,
        review_true: 0,
        skipped_blocks: 0,
    };
    for f in figures.iter() {
        line(f);
        total.records += f.records;
        total.candidates += f.candidates;
        total.seconds += f.seconds;
        total.links += f.links;
        total.correct += f.correct;
        total.truth += f.truth;
        total.review_records += f.review_records;
        total.review_true += f.review_true;
        total.skipped_blocks += f.skipped_blocks;
    }
    line(&total);
    let p = ratio(total.correct, total.links);
    let r = ratio(total.correct, total.truth);
    println!(
        "linkage: precision {p:.4}, recall {r:.4}, F1 {:.4} (goal ≥ 0.99) over {} keyless records; \
         {:.0} candidate pairs/s ({} pairs in {:.2} s); clerical review {:.2}% of records \
         ({} true matches among the review pairs); with review answered right, recall {:.4}",
        f1(p, r),
        total.records,
        ratio(total.candidates, 1) / total.seconds.max(1e-9),
        total.candidates,
        total.seconds,
        100.0 * ratio(total.review_records, total.records),
        total.review_true,
        ratio(total.correct + total.review_true, total.truth),
    );
}

fn line(f: &Figures) {
    let p = ratio(f.correct, f.links);
    let r = ratio(f.correct, f.truth);
    println!(
        "{:<6} {:>8} {:>10} {:>12.0} {:>7} {:>9.4} {:>7.4} {:>7.4} {:>7.2}% {:>8}",
        f.department,
        f.records,
        f.candidates,
        f.candidates as f64 / f.seconds.max(1e-9),
        f.links,
        p,
        r,
        f1(p, r),
        100.0 * ratio(f.review_records, f.records),
        f.skipped_blocks
    );
}
