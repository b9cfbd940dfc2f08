//! `serve --demo`: on an empty database, departments, users with printed
//! credentials, the standard data elements, and resources with data pointing
//! at them, so the first page is not empty.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use rongshu_core::account::Role;
use rongshu_core::catalog::{
    NewElementRequest, NewResourceRequest, OpenType, ResourceSpec, Transition,
};
use rongshu_server::service::{self, Doer};
use rongshu_server::{PasswordCost, opendata};
use rongshu_store::{BatchMode, Store};
use rongshu_synth::SynthConfig;
use serde_json::json;

/// The demo city's size: big enough to look like a city, small enough to load in seconds.
const DEMO_PEOPLE: u64 = 20_000;
const DEMO_ENTITIES: u64 = 3_000;

fn spec(value: serde_json::Value) -> anyhow::Result<ResourceSpec> {
    let req: NewResourceRequest = serde_json::from_value(value)?;
    ResourceSpec::parse(req).map_err(|e| anyhow!("demo resource: {e}"))
}

/// The statistics bureau's quarterly GDP by district: the demo's one
/// non-personal, openly shareable table.
fn gdp_csv() -> String {
    const DISTRICTS: &[(&str, &str, u32)] = &[
        ("510104", "锦江区", 1510),
        ("510105", "青羊区", 1420),
        ("510106", "金牛区", 1500),
        ("510107", "武侯区", 1530),
        ("510108", "成华区", 1200),
        ("510112", "龙泉驿区", 1450),
        ("510114", "新都区", 1080),
        ("510116", "双流区", 1260),
    ];
    let mut csv = String::from("district_code,district_name,period,gdp,growth\n");
    for (code, name, yearly) in DISTRICTS {
        for (q, share) in [(1u32, 22u32), (2, 24), (3, 25), (4, 29)] {
            let value = yearly * share;
            csv.push_str(&format!(
                "{code},{name},2024Q{q},{}.{:02},{}.{}\n",
                value / 100,
                value % 100,
                4 + (value % 4),
                value % 10
            ));
        }
    }
    csv
}

/// Living residents per county, sex and age band, counted from the city's
/// population file: the statistics bureau's open aggregate of the registry.
fn population_by_county_csv(people: &Path) -> anyhow::Result<String> {
    use std::collections::BTreeMap;
    let mut reader = csv::Reader::from_path(people)?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow!("people.csv has no {name} column"))
    };
    let (county, sex, birth, death) = (
        column("county_code")?,
        column("sex")?,
        column("birth_date")?,
        column("death_date")?,
    );
    let mut counts: BTreeMap<(String, String, &'static str), u64> = BTreeMap::new();
    for record in reader.records() {
        let record = record?;
        if !record.get(death).unwrap_or_default().is_empty() {
            continue;
        }
        let year: i32 = record
            .get(birth)
            .and_then(|b| b.get(..4))
            .and_then(|y| y.parse().ok())
            .unwrap_or(0);
        // The city is observed on 2024-06-30.
        let band = match 2024 - year {
            ..=17 => "0-17",
            18..=59 => "18-59",
            _ => "60+",
        };
        let key = (
            record.get(county).unwrap_or_default().to_owned(),
            record.get(sex).unwrap_or_default().to_owned(),
            band,
        );
        *counts.entry(key).or_default() += 1;
    }
    let mut csv = String::from("county_code,sex,age_band,residents\n");
    for ((county, sex, band), n) in counts {
        csv.push_str(&format!("{county},{sex},{band},{n}\n"));
    }
    Ok(csv)
}

/// The catalog metadata a department would fill in for its extract: the two
/// base registries are classed as such, the rest as department resources, and
/// anything shared on condition says on what basis.
fn catalog_metadata(department: &str, index: usize, declaration: &mut serde_json::Value) {
    let Some(obj) = declaration.as_object_mut() else {
        return;
    };
    let (classification, topics): (String, &[&str]) = match department {
        "gaj" => ("1-01-001".into(), &["公共安全"]),
        "scjgj" => ("1-02-001".into(), &["市场监管"]),
        "wjw" | "ybj" => (format!("3-{:02}-001", index + 1), &["医疗卫生"]),
        "jyj" => (format!("3-{:02}-001", index + 1), &["教育科技"]),
        "zjj" => (format!("3-{:02}-001", index + 1), &["空间地理"]),
        "swj" | "gjj" => (format!("3-{:02}-001", index + 1), &["金融服务"]),
        _ => (format!("3-{:02}-001", index + 1), &[]),
    };
    obj.insert("classification".into(), json!(classification));
    obj.insert("topics".into(), json!(topics));
    obj.insert("format".into(), json!("database"));
    if department == "scjgj" {
        // The entity register is open data once its personal items are left out.
        obj.insert("open_type".into(), json!("open"));
    }
    obj.insert("share_mode".into(), json!("interface"));
    let shared_freely = obj.get("share_type").and_then(|v| v.as_str()) == Some("unconditional");
    if !shared_freely && !obj.contains_key("share_condition") {
        obj.insert(
            "share_condition".into(),
            json!("依申请共享：使用部门须说明用途与法律依据，经提供部门审核同意"),
        );
    }
}

/// The standard data elements (code, name, English name, authoritative
/// department): public security for a person's identity and household, the
/// health commission for deaths (death certificates), the telecoms office for
/// mobile numbers (real-name registration), market regulation for entities.
const ELEMENTS: &[(&str, &str, &str, &str)] = &[
    (
        "person.citizen_id",
        "公民身份号码",
        "Citizen ID number",
        "gaj",
    ),
    ("person.name", "姓名", "Name", "gaj"),
    ("person.sex", "性别", "Sex", "gaj"),
    ("person.birth_date", "出生日期", "Date of birth", "gaj"),
    (
        "person.household_address",
        "户籍地址",
        "Household registration address",
        "gaj",
    ),
    ("person.death_date", "死亡日期", "Date of death", "wjw"),
    (
        "person.vital_status",
        "生存状态",
        "Alive or deceased, from the household register",
        "gaj",
    ),
    (
        "person.employer_uscc",
        "就业单位统一社会信用代码",
        "Employer's unified social credit code",
        "rsj",
    ),
    ("person.mobile", "手机号码", "Mobile phone number", "tel"),
    (
        "entity.uscc",
        "统一社会信用代码",
        "Unified social credit code",
        "scjgj",
    ),
    ("entity.name", "主体名称", "Entity name", "scjgj"),
    (
        "entity.legal_representative_id",
        "法定代表人身份号码",
        "Legal representative's ID number",
        "scjgj",
    ),
    (
        "entity.legal_representative_name",
        "法定代表人姓名",
        "Legal representative's name",
        "scjgj",
    ),
    (
        "entity.registered_address",
        "住所",
        "Registered address",
        "scjgj",
    ),
    ("entity.status", "登记状态", "Registration status", "scjgj"),
];

/// The data element a department's extract column carries, if any. Columns
/// about someone else (a spouse, a mother) carry none: their values are not
/// the record's subject's. A person's employer is the person's own fact. The
/// addresses other departments hold for a person witness the household
/// register's (in this city people live where they are registered, so an old
/// address there is a move not reported); the status words of insurers,
/// funds, carriers and certificates witness whether the person is alive.
fn element_of(department: &str, key: &str) -> Option<&'static str> {
    Some(match (department, key) {
        ("scjgj" | "swj", "uscc") => "entity.uscc",
        ("scjgj", "entity_name") | ("swj", "taxpayer_name") => "entity.name",
        ("scjgj", "legal_rep_id_number") => "entity.legal_representative_id",
        ("scjgj" | "swj", "legal_rep_name") => "entity.legal_representative_name",
        ("scjgj", "address") => "entity.registered_address",
        ("scjgj", "status") => "entity.status",
        ("gaj", "address") => "person.household_address",
        ("rsj", "contact_address")
        | ("tel" | "ybj" | "cl", "address")
        | ("jyj", "home_address") => "person.household_address",
        ("gaj", "hukou_status") | ("rsj" | "gjj" | "tel" | "ybj" | "cl", "status") => {
            "person.vital_status"
        }
        ("rsj" | "gjj", "employer_uscc") => "person.employer_uscc",
        (_, "id_number") => "person.citizen_id",
        (_, "name") => "person.name",
        (_, "sex") => "person.sex",
        (_, "birth_date") => "person.birth_date",
        (_, "phone") => "person.mobile",
        _ => return None,
    })
}

/// Point the items of a department's declaration at their data elements.
fn point_at_elements(department: &str, declaration: &mut serde_json::Value) {
    let Some(items) = declaration.get_mut("items").and_then(|v| v.as_array_mut()) else {
        return;
    };
    for item in items.iter_mut().filter_map(|i| i.as_object_mut()) {
        let key = item.get("key").and_then(|k| k.as_str()).unwrap_or_default();
        if let Some(element) = element_of(department, key) {
            item.insert("element".into(), json!(element));
        }
    }
}

/// Load the demo when the database has no departments yet; otherwise do nothing.
/// The demo is the synthetic city: each department's extract registered as a
/// resource and delivered as a batch through the same path as the API.
pub async fn load_if_empty(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if store.portal_counts().await?.departments > 0 {
        tracing::info!("the database already holds data: --demo loads nothing");
        return Ok(());
    }
    let config = SynthConfig {
        people: DEMO_PEOPLE,
        entities: DEMO_ENTITIES,
        ..SynthConfig::default()
    };
    let credentials = load_city(
        store,
        &data_dir.join("demo-city"),
        config,
        PasswordCost::PRODUCTION,
    )
    .await?;
    // The base registries are built and verified before the server listens,
    // so the demo has golden records and correction tickets to show.
    let started = std::time::Instant::now();
    let stats = store
        .verify_registry(
            chrono::Utc::now(),
            store.registry_run(rongshu_server::registry::DUE_WORKING_DAYS),
        )
        .await?;
    tracing::info!(
        subjects = stats.subjects,
        tickets = stats.tickets_opened,
        seconds = started.elapsed().as_secs_f64(),
        "demo registries built and verified"
    );

    let path = data_dir.join("demo-credentials.txt");
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "# Rongshu demo accounts (user\tdepartment\tpassword)")?;
    println!("Demo accounts (also in {}):", path.display());
    for line in &credentials {
        writeln!(file, "{line}")?;
        println!("  {line}");
    }
    Ok(())
}

/// Generate the synthetic city into `city_dir` and load it: departments and
/// their users (the credentials are returned), the data elements, each
/// extract as a resource with its batch, the catalog approved and the open
/// table released. Used by the demo and by `rongshu bench registry`.
pub async fn load_city(
    store: &Store,
    city_dir: &Path,
    config: SynthConfig,
    password_cost: PasswordCost,
) -> anyhow::Result<Vec<String>> {
    let started = std::time::Instant::now();
    let city_dir = city_dir.to_path_buf();
    let manifest = {
        let dir = city_dir.clone();
        tokio::task::spawn_blocking(move || rongshu_synth::generate(&config, &dir)).await??
    };
    let now = chrono::Utc::now();
    let doer = Doer::cli();
    let e = anyhow::Error::from;
    let mut credentials = Vec::new();
    let mut add_user = async |username: String, dept: &str, roles: &[Role]| -> anyhow::Result<()> {
        let password = hex::encode(rand::random::<[u8; 8]>());
        service::create_user(
            store,
            now,
            &doer,
            service::NewAccount {
                username: &username,
                department: dept,
                roles,
                password: Some(&password),
            },
            password_cost,
        )
        .await
        .map_err(e)?;
        credentials.push(format!("{username}\t{dept}\t{password}"));
        Ok(())
    };
    service::create_department(store, now, &doer, "sjj", "成都市大数据中心", None)
        .await
        .map_err(e)?;
    add_user("admin".into(), "sjj", &[Role::PlatformAdmin]).await?;
    service::create_department(store, now, &doer, "tjj", "成都市统计局", None)
        .await
        .map_err(e)?;
    add_user(
        "tjj_officer".into(),
        "tjj",
        &[Role::DataOfficer, Role::Analyst],
    )
    .await?;
    for extract in &manifest.extracts {
        let dept = &extract.department;
        service::create_department(store, now, &doer, &dept.code, &dept.name, None)
            .await
            .map_err(e)?;
        add_user(
            format!("{}_officer", dept.code),
            &dept.code,
            &[Role::DataOfficer, Role::DeptAdmin],
        )
        .await?;
    }

    for (code, name, name_en, authority) in ELEMENTS {
        service::create_element(
            store,
            now,
            &doer,
            NewElementRequest {
                code: Some((*code).into()),
                name: Some((*name).into()),
                name_en: Some((*name_en).into()),
                description: String::new(),
                authority: Some((*authority).into()),
            },
        )
        .await
        .map_err(e)?;
    }

    let mut resources: Vec<(String, ResourceSpec, std::path::PathBuf)> = Vec::new();
    for (i, extract) in manifest.extracts.iter().enumerate() {
        let mut declaration = serde_json::to_value(&extract.resource)?;
        catalog_metadata(&extract.department.code, i, &mut declaration);
        point_at_elements(&extract.department.code, &mut declaration);
        let spec = spec(declaration)?;
        resources.push((
            extract.department.code.clone(),
            spec,
            city_dir.join(&extract.file),
        ));
    }
    let gdp_path = city_dir.join("gdp.csv");
    std::fs::write(&gdp_path, gdp_csv())?;
    resources.push((
        "tjj".into(),
        spec(json!({
            "name": "各区县地区生产总值", "summary": "按季度的地区生产总值（亿元）与同比增速（%）。",
            "share_type": "unconditional", "open_type": "open", "update_cycle": "quarterly", "key_items": ["district_code", "period"],
            "topics": ["经济发展"], "keywords": ["地区生产总值", "GDP", "经济"],
            "items": [
                {"key": "district_code", "name": "行政区划代码", "type": "string", "required": true, "grade": 1},
                {"key": "district_name", "name": "区县", "type": "string", "grade": 1},
                {"key": "period", "name": "统计期", "type": "string", "required": true, "grade": 1},
                {"key": "gdp", "name": "地区生产总值", "type": "decimal", "grade": 1},
                {"key": "growth", "name": "同比增速", "type": "decimal", "grade": 1}]}))?,
        gdp_path,
    ));
    let population_path = city_dir.join("population_by_county.csv");
    std::fs::write(
        &population_path,
        population_by_county_csv(&city_dir.join("people.csv"))?,
    )?;
    resources.push((
        "tjj".into(),
        spec(json!({
            "name": "各区县常住人口（按性别、年龄段）", "summary": "由人口基础信息汇总的在世人口数，按区县、性别和年龄段。",
            "share_type": "unconditional", "open_type": "open", "update_cycle": "yearly",
            "key_items": ["county_code", "sex", "age_band"],
            "topics": ["公共安全"], "keywords": ["人口", "统计", "年龄结构"],
            "items": [
                {"key": "county_code", "name": "区县代码", "type": "string", "required": true, "grade": 1},
                {"key": "sex", "name": "性别", "type": "string", "required": true, "grade": 1},
                {"key": "age_band", "name": "年龄段", "type": "string", "required": true, "grade": 1},
                {"key": "residents", "name": "人数", "type": "integer", "grade": 1}]}))?,
        population_path,
    ));
    let mut rows = 0;
    let mut opened = Vec::new();
    let mut codes = std::collections::HashMap::new();
    for (dept, spec, path) in resources {
        let open = spec.open_type == OpenType::Open && dept == "tjj";
        let resource = service::create_resource(store, now, &doer, &dept, &spec)
            .await
            .map_err(e)?;
        let report =
            service::ingest_csv_file(store, now, &doer, &resource, &path, BatchMode::Upsert)
                .await
                .map_err(e)?;
        rows += report.report.rows_loaded;
        // The platform office reviews the demo's catalog like any other.
        service::transition_resource(store, now, &doer, &resource.code, Transition::Submit, None)
            .await
            .map_err(e)?;
        service::transition_resource(
            store,
            now,
            &doer,
            &resource.code,
            Transition::Approve,
            Some("演示数据"),
        )
        .await
        .map_err(e)?;
        tracing::info!(resource = %resource.code, loaded = report.report.rows_loaded, rejected = report.report.rows_rejected, "demo batch");
        if open {
            opened.push((dept.clone(), resource.code.clone()));
        }
        codes.insert(dept, resource.code.clone());
    }
    // The open data portal and its CKAN API have content at once: each
    // aggregate the catalog declares open goes through the same release path
    // as any other (the personal-data scan, then a reviewer who is not the
    // proposer).
    for (dept, code) in opened {
        let proposer = Doer {
            label: format!("user:{dept}_officer"),
            department: Some(dept.clone()),
        };
        let release = opendata::releases::propose(
            store,
            now,
            &proposer,
            opendata::releases::Proposal {
                resource: code,
                ..Default::default()
            },
        )
        .await
        .map_err(e)?;
        let reviewer = Doer {
            label: "user:admin".into(),
            department: Some("sjj".into()),
        };
        opendata::releases::approve(store, now, &reviewer, &release)
            .await
            .map_err(e)?;
        tracing::info!(release = %release.name, "demo release published");
    }
    if let Some(code) = codes.get("scjgj") {
        open_entity_register(store, now, code).await?;
    }
    link_keyless(store, &codes).await?;
    tracing::info!(
        rows,
        seconds = started.elapsed().as_secs_f64(),
        "demo city loaded"
    );
    Ok(credentials)
}

/// The market regulator's register of companies and other organisations,
/// opened without its personal items (legal representatives, addresses) and
/// without individual businesses, whose codes and names identify a person.
/// Whatever the scan still flags is masked before the reviewer approves.
async fn open_entity_register(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
    code: &str,
) -> anyhow::Result<()> {
    let e = anyhow::Error::from;
    let proposer = Doer {
        label: "user:scjgj_officer".into(),
        department: Some("scjgj".into()),
    };
    let proposal: opendata::releases::Proposal = serde_json::from_value(json!({
        "resource": code,
        "name": "market-entities",
        "title": "市场主体名录（企业及其他组织）",
        "description": "企业、农民专业合作社、事业单位和社会组织的登记信息；不含个体工商户和法定代表人信息。",
        "items": ["uscc", "entity_name", "entity_type", "registered_capital", "industry_code",
                  "founding_date", "status", "county_code"],
        "filters": [{"item": "entity_type", "op": "in",
                     "value": ["有限责任公司", "农民专业合作社", "事业单位", "社会团体", "民办非企业单位", "基金会"]}],
        "open_type": "open",
    }))?;
    let release = opendata::releases::propose(store, now, &proposer, proposal)
        .await
        .map_err(e)?;
    let flagged: Vec<opendata::releases::TreatmentBody> =
        rongshu_core::opendata::blocking_items(&release.scan, &release.treatments)
            .into_iter()
            .map(|item| opendata::releases::TreatmentBody {
                item,
                action: "mask".into(),
                reason: None,
            })
            .collect();
    let release = if flagged.is_empty() {
        release
    } else {
        opendata::releases::treat(store, now, &proposer, &release, &flagged)
            .await
            .map_err(e)?
    };
    let reviewer = Doer {
        label: "user:admin".into(),
        department: Some("sjj".into()),
    };
    opendata::releases::approve(store, now, &reviewer, &release)
        .await
        .map_err(e)?;
    tracing::info!(release = %release.name, "demo release published");
    Ok(())
}

/// One record-linkage job, so the demo shows linked records and a review
/// queue: 医保局's records delivered without an ID number, matched to 公安局's
/// population by name, birth date and address.
async fn link_keyless(
    store: &Store,
    codes: &std::collections::HashMap<String, String>,
) -> anyhow::Result<()> {
    let (Some(left), Some(right)) = (codes.get("ybj"), codes.get("gaj")) else {
        return Ok(());
    };
    let job = rongshu_server::linkage::run_as_platform(
        store,
        json!({
            "left": {"resource": left, "only_missing": "id_number"},
            "right": {"resource": right},
            "columns": [
                {"name": "name", "kind": "chinese_name"},
                {"name": "birth_date", "kind": "date"},
                {"name": "address", "kind": "address"}
            ],
            "blocking": [{"columns": ["name"]}, {"columns": ["birth_date"]}, {"columns": ["address"]}],
            "thresholds": {"link": 0.9, "review": 0.2},
            "assignment": "left_unique"
        }),
    )
    .await
    .map_err(|e| anyhow!("demo linkage: {e}"))?;
    let figures = job.figures.unwrap_or_default();
    tracing::info!(
        job = job.id,
        state = %job.state,
        records = %figures["left_rows"],
        matches = %figures["matches"],
        review = %figures["review"],
        "demo linkage job"
    );
    Ok(())
}

/// `rongshu synth`: write the synthetic city and say how fast it went.
pub fn synth(
    out: &Path,
    people: u64,
    entities: Option<u64>,
    seed: u64,
) -> anyhow::Result<ExitCode> {
    let mut config = SynthConfig::for_people(people);
    config.seed = seed;
    if let Some(n) = entities {
        config.entities = n;
    }
    let started = std::time::Instant::now();
    let manifest = rongshu_synth::generate(&config, out)?;
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "wrote {} people, {} entities, {} extracts, {} rows to {} in {secs:.1} s ({:.0} people/s, {:.0} rows/s)",
        manifest.people,
        manifest.entities,
        manifest.extracts.len(),
        manifest.rows_written,
        out.display(),
        manifest.people as f64 / secs,
        manifest.rows_written as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}
