//! `serve --demo`: on an empty database, departments, users with printed
//! credentials, and resources with data, so the first page is not empty.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use rongshu_core::account::Role;
use rongshu_core::catalog::{NewResourceRequest, ResourceSpec};
use rongshu_core::ident::{citizen_id, uscc};
use rongshu_server::PasswordCost;
use rongshu_server::service::{self, Doer};
use rongshu_store::Store;
use serde_json::json;

const DEPARTMENTS: &[(&str, &str)] = &[
    ("sjj", "成都市大数据中心"),
    ("gaj", "成都市公安局"),
    ("scjgj", "成都市市场监督管理局"),
    ("rsj", "成都市人力资源和社会保障局"),
    ("tjj", "成都市统计局"),
];

/// A tiny deterministic generator: the demo is the same on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() as usize) % items.len()]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "欧阳",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "子涵", "浩然",
];
const DISTRICTS: &[(&str, &str)] = &[
    ("510104", "锦江区"),
    ("510105", "青羊区"),
    ("510106", "金牛区"),
    ("510107", "武侯区"),
    ("510108", "成华区"),
    ("510112", "龙泉驿区"),
    ("510114", "新都区"),
    ("510116", "双流区"),
];
const ROADS: &[&str] = &[
    "人民南路",
    "春熙路",
    "红星路",
    "蜀都大道",
    "天府大道",
    "建设路",
    "玉林路",
    "羊市街",
];

fn person_id(g: &mut Lcg, district: &str) -> String {
    let year = 1950 + g.next() % 55;
    let month = 1 + g.next() % 12;
    let day = 1 + g.next() % 28;
    let seq = g.next() % 1000;
    let first17 = format!("{district}{year:04}{month:02}{day:02}{seq:03}");
    let check = citizen_id::check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

fn company_code(g: &mut Lcg, district: &str) -> String {
    const ORG_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let body: String = (0..8).map(|_| char::from(*g.pick(ORG_CHARS))).collect();
    let org_check = rongshu_core::ident::org_code::check_char(&body).unwrap_or('0');
    let first17 = format!("91{district}{body}{org_check}");
    let check = uscc::check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

fn spec(value: serde_json::Value) -> anyhow::Result<ResourceSpec> {
    let req: NewResourceRequest = serde_json::from_value(value)?;
    ResourceSpec::parse(req).map_err(|e| anyhow!("demo resource: {e}"))
}

/// Load the demo when the database has no departments yet; otherwise do nothing.
pub async fn load_if_empty(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if store.portal_counts().await?.departments > 0 {
        tracing::info!("the database already holds data: --demo loads nothing");
        return Ok(());
    }
    let now = chrono::Utc::now();
    let doer = Doer::cli();
    let e = |e: rongshu_server::ApiError| anyhow!("{e}");
    for (code, name) in DEPARTMENTS {
        service::create_department(store, now, &doer, code, name, None)
            .await
            .map_err(e)?;
    }
    let mut credentials = Vec::new();
    let users: &[(&str, &str, &[Role])] = &[
        ("admin", "sjj", &[Role::PlatformAdmin]),
        ("gaj_officer", "gaj", &[Role::DataOfficer, Role::DeptAdmin]),
        (
            "scjgj_officer",
            "scjgj",
            &[Role::DataOfficer, Role::DeptAdmin],
        ),
        ("rsj_officer", "rsj", &[Role::DataOfficer, Role::DeptAdmin]),
        ("tjj_analyst", "tjj", &[Role::DataOfficer, Role::Analyst]),
    ];
    for (username, dept, roles) in users {
        let password = hex::encode(rand::random::<[u8; 8]>());
        service::create_user(
            store,
            now,
            &doer,
            username,
            dept,
            roles,
            Some(&password),
            PasswordCost::PRODUCTION,
        )
        .await
        .map_err(e)?;
        credentials.push(format!("{username}\t{dept}\t{password}"));
    }

    let mut g = Lcg(2016);
    let mut people = String::from("id_number,name,sex,birth_date,household_address\n");
    let mut ids = Vec::new();
    for _ in 0..400 {
        let (code, district) = *g.pick(DISTRICTS);
        let id = person_id(&mut g, code);
        let sex = if (id.as_bytes()[16] - b'0') % 2 == 1 {
            "男"
        } else {
            "女"
        };
        let birth = format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14]);
        let name = format!("{}{}", g.pick(SURNAMES), g.pick(GIVEN));
        let address = format!(
            "四川省成都市{district}{}{}号",
            g.pick(ROADS),
            1 + g.next() % 300
        );
        people.push_str(&format!("{id},{name},{sex},{birth},{address}\n"));
        ids.push(id);
    }
    let mut companies =
        String::from("uscc,name,legal_representative_id,registered_capital,founded,status\n");
    let mut codes = Vec::new();
    const TRADES: &[&str] = &[
        "科技",
        "商贸",
        "餐饮管理",
        "建筑工程",
        "文化传媒",
        "医药",
        "物流",
        "软件",
    ];
    const WORDS: &[&str] = &[
        "天府", "锦城", "蓉城", "芙蓉", "熊猫", "青城", "岷江", "少城", "金沙", "浣花",
    ];
    for i in 0..120 {
        let (code, _) = *g.pick(DISTRICTS);
        let c = company_code(&mut g, code);
        let name = format!(
            "成都{}{}{}有限公司",
            g.pick(WORDS),
            g.pick(WORDS),
            g.pick(TRADES)
        );
        let rep = g.pick(&ids).clone();
        let capital = format!("{}.{:02}", 10 + g.next() % 5000, g.next() % 100);
        let founded = format!(
            "{}-{:02}-{:02}",
            1995 + g.next() % 29,
            1 + g.next() % 12,
            1 + g.next() % 28
        );
        let status = if i % 9 == 0 { "注销" } else { "存续" };
        companies.push_str(&format!(
            "{c},{name}{i},{rep},{capital},{founded},{status}\n"
        ));
        codes.push(c);
    }
    let mut insured = String::from("id_number,employer_uscc,insured_since,monthly_base\n");
    for id in ids.iter().take(250) {
        let employer = g.pick(&codes);
        let since = format!("{}-{:02}-01", 2005 + g.next() % 19, 1 + g.next() % 12);
        insured.push_str(&format!(
            "{id},{employer},{since},{}.00\n",
            4000 + g.next() % 20000
        ));
    }
    let mut gdp = String::from("district_code,district_name,period,gdp,growth\n");
    for (code, name) in DISTRICTS {
        for (q, quarter) in ["2024Q1", "2024Q2", "2024Q3", "2024Q4"].iter().enumerate() {
            let value = 300 + g.next() % 900;
            gdp.push_str(&format!(
                "{code},{name},{quarter},{value}.{q}0,{}.{}\n",
                3 + g.next() % 6,
                g.next() % 10
            ));
        }
    }

    let resources = [
        (
            "gaj",
            people,
            spec(json!({
            "name": "人口基础信息", "summary": "户籍人口的身份、性别、出生日期与户籍地址。",
            "share_type": "unconditional", "update_cycle": "daily", "key_items": ["id_number"],
            "items": [
                {"key": "id_number", "name": "公民身份号码", "type": "string", "required": true, "grade": 3},
                {"key": "name", "name": "姓名", "type": "string", "required": true, "grade": 3},
                {"key": "sex", "name": "性别", "type": "string", "grade": 2},
                {"key": "birth_date", "name": "出生日期", "type": "date", "grade": 2},
                {"key": "household_address", "name": "户籍地址", "type": "string", "grade": 3}]}))?,
        ),
        (
            "scjgj",
            companies,
            spec(json!({
            "name": "企业登记信息", "summary": "在册企业的统一社会信用代码、名称、法定代表人与状态。",
            "share_type": "unconditional", "update_cycle": "daily", "key_items": ["uscc"],
            "items": [
                {"key": "uscc", "name": "统一社会信用代码", "type": "string", "required": true, "grade": 1},
                {"key": "name", "name": "企业名称", "type": "string", "required": true, "grade": 1},
                {"key": "legal_representative_id", "name": "法定代表人身份证号", "type": "string", "grade": 3},
                {"key": "registered_capital", "name": "注册资本（万元）", "type": "decimal", "grade": 1},
                {"key": "founded", "name": "成立日期", "type": "date", "grade": 1},
                {"key": "status", "name": "登记状态", "type": "string", "grade": 1}]}))?,
        ),
        (
            "rsj",
            insured,
            spec(json!({
            "name": "参保人员信息", "summary": "职工基本养老保险参保人员、单位与缴费基数。",
            "share_type": "conditional", "update_cycle": "monthly", "key_items": ["id_number"],
            "items": [
                {"key": "id_number", "name": "公民身份号码", "type": "string", "required": true, "grade": 3},
                {"key": "employer_uscc", "name": "单位统一社会信用代码", "type": "string", "grade": 2},
                {"key": "insured_since", "name": "参保日期", "type": "date", "grade": 2},
                {"key": "monthly_base", "name": "缴费基数", "type": "decimal", "grade": 4}]}))?,
        ),
        (
            "tjj",
            gdp,
            spec(json!({
            "name": "各区县地区生产总值", "summary": "按季度的地区生产总值（亿元）与同比增速（%）。",
            "share_type": "unconditional", "update_cycle": "quarterly", "key_items": ["district_code", "period"],
            "items": [
                {"key": "district_code", "name": "行政区划代码", "type": "string", "required": true, "grade": 1},
                {"key": "district_name", "name": "区县", "type": "string", "grade": 1},
                {"key": "period", "name": "统计期", "type": "string", "required": true, "grade": 1},
                {"key": "gdp", "name": "地区生产总值", "type": "decimal", "grade": 1},
                {"key": "growth", "name": "同比增速", "type": "decimal", "grade": 1}]}))?,
        ),
    ];
    let staging = data_dir.join("demo-staging");
    std::fs::create_dir_all(&staging)?;
    for (dept, csv, spec) in resources {
        let resource = service::create_resource(store, now, &doer, dept, &spec)
            .await
            .map_err(e)?;
        let path = staging.join(format!("{}.csv", resource.code));
        std::fs::write(&path, csv)?;
        let report = service::ingest_csv_file(store, now, &doer, &resource, &path)
            .await
            .map_err(e)?;
        tracing::info!(resource = %resource.code, rows = report.rows_loaded, "demo data loaded");
    }
    let _ = std::fs::remove_dir_all(&staging);

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

pub fn synth(_out: &Path, _people: u64, _entities: u64, _seed: u64) -> anyhow::Result<ExitCode> {
    Err(anyhow!("the synthetic city generator is not wired in yet"))
}
