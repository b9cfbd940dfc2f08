//! The base registries and multi-source verification end to end: each kind
//! of conflict on a small hand-made city, the tickets' lifecycle (corrected
//! by a later batch, confirmed, disputed), the provenance of every golden
//! value, and verification that changes nothing when nothing changed.

use reqwest::StatusCode;
use rongshu_core::account::Role;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, citizen_id, json_of};
use crate::web::console_session;

on_both_backends!(
    each_conflict_kind_becomes_a_ticket_to_the_department_that_must_act,
    tickets_are_corrected_by_a_later_batch_confirmed_or_disputed,
    golden_values_name_their_batch_and_verifying_again_changes_nothing,
    a_snapshot_without_a_row_takes_its_values_and_tickets_away,
    registry_reads_follow_the_sharing_rules_and_refuse_bad_keys,
    a_citizen_sees_the_record_with_its_sources_and_disputes_a_value,
    the_console_shows_records_and_worklists_and_takes_answers,
);

fn uscc(first17: &str) -> String {
    let check = rongshu_core::ident::uscc::check_char(first17).expect("17 characters");
    format!("{first17}{check}")
}

/// The hand-made city: who is who, and the tokens of each department.
struct City {
    admin: String,
    tokens: std::collections::HashMap<&'static str, String>,
    resources: std::collections::HashMap<&'static str, String>,
    /// P1 ybj mistypes the name; P2 公安局 mistypes it; P3 ybj a birth date;
    /// P4 died (卫健委) unknown to 公安局; P5 died, 人社局 still insures;
    /// P6 an ID with a wrong check digit at ybj; P7 an unregistered employer.
    p: Vec<String>,
    bad_id: String,
    /// E1 trades under the dead P5; E2's representative ID is invalid.
    e1: String,
    e2: String,
    unknown_employer: String,
    gaj_batch: String,
}

impl City {
    fn token(&self, dept: &str) -> &str {
        self.tokens
            .get(dept)
            .map(String::as_str)
            .expect("department")
    }
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let (s, b, _) = json_of(app.post_json(path, Some(token), &body).await).await;
    (s, b)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let (s, b, _) = json_of(app.get(path, Some(token)).await).await;
    (s, b)
}

async fn load(app: &TestApp, city: &City, dept: &str, csv: String) -> Value {
    let code = city.resources.get(dept).expect("resource");
    let report = app.load_batch(code, city.token(dept), csv).await;
    assert_eq!(report["rows_rejected"], 0, "{report}");
    report
}

fn item(key: &str, name: &str, ty: &str, element: Option<&str>) -> Value {
    let mut v = json!({"key": key, "name": name, "type": ty, "grade": 2});
    if key == "name" || key == "id_number" {
        v["grade"] = json!(3);
    }
    if let Some(e) = element {
        v["element"] = json!(e);
    }
    v
}

async fn resource(app: &TestApp, token: &str, name: &str, key: &str, items: Vec<Value>) -> String {
    let (status, body) = post(
        app,
        "/api/v1/resources",
        token,
        json!({"name": name, "summary": name, "share_type": "unconditional", "update_cycle": "daily",
               "classification": "1-01-001", "topics": ["公共安全"], "keywords": [name],
               "key_items": [key], "items": items}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["code"].as_str().expect("code").to_owned()
}

async fn city(app: &TestApp) -> City {
    for (dept, user) in [
        ("gaj", "gaj_officer"),
        ("ybj", "ybj_officer"),
        ("rsj", "rsj_officer"),
        ("wjw", "wjw_officer"),
        ("scjgj", "scjgj_officer"),
    ] {
        app.seed_user(dept, user, &[Role::DataOfficer]).await;
    }
    app.seed_user("sjj", "admin", &[Role::PlatformAdmin]).await;
    let admin = app.login("admin").await;
    let mut tokens = std::collections::HashMap::new();
    for dept in ["gaj", "ybj", "rsj", "wjw", "scjgj"] {
        tokens.insert(dept, app.login(&format!("{dept}_officer")).await);
    }
    for (code, name, authority) in [
        ("person.citizen_id", "公民身份号码", "gaj"),
        ("person.name", "姓名", "gaj"),
        ("person.birth_date", "出生日期", "gaj"),
        ("person.household_address", "户籍地址", "gaj"),
        ("person.vital_status", "生存状态", "gaj"),
        ("person.death_date", "死亡日期", "gaj"),
        ("person.employer_uscc", "就业单位", "rsj"),
        ("entity.uscc", "统一社会信用代码", "scjgj"),
        ("entity.name", "主体名称", "scjgj"),
        ("entity.status", "登记状态", "scjgj"),
        (
            "entity.legal_representative_id",
            "法定代表人身份号码",
            "scjgj",
        ),
    ] {
        let (status, body) = post(
            app,
            "/api/v1/elements",
            &admin,
            json!({"code": code, "name": name, "authority": authority}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut resources = std::collections::HashMap::new();
    let id = || {
        item(
            "id_number",
            "公民身份号码",
            "string",
            Some("person.citizen_id"),
        )
    };
    let name = || item("name", "姓名", "string", Some("person.name"));
    let rec = || item("record_no", "记录编号", "string", None);
    resources.insert(
        "gaj",
        resource(
            app,
            &tokens["gaj"],
            "人口基础信息",
            "id_number",
            vec![
                id(),
                name(),
                item("birth_date", "出生日期", "date", Some("person.birth_date")),
                item(
                    "address",
                    "户籍地址",
                    "string",
                    Some("person.household_address"),
                ),
                item("status", "户籍状态", "string", Some("person.vital_status")),
            ],
        )
        .await,
    );
    resources.insert(
        "ybj",
        // "证件号码" names no kind, so a mistyped number loads and is found here.
        resource(
            app,
            &tokens["ybj"],
            "医保参保人员",
            "record_no",
            vec![
                rec(),
                item("cert_no", "证件号码", "string", Some("person.citizen_id")),
                name(),
                item(
                    "birth_date",
                    "出生日期",
                    "string",
                    Some("person.birth_date"),
                ),
                item(
                    "address",
                    "居住地址",
                    "string",
                    Some("person.household_address"),
                ),
            ],
        )
        .await,
    );
    resources.insert(
        "rsj",
        resource(
            app,
            &tokens["rsj"],
            "社保参保人员",
            "record_no",
            vec![
                rec(),
                id(),
                name(),
                item(
                    "employer_uscc",
                    "单位统一社会信用代码",
                    "string",
                    Some("person.employer_uscc"),
                ),
                item("status", "参保状态", "string", Some("person.vital_status")),
            ],
        )
        .await,
    );
    resources.insert(
        "wjw",
        resource(
            app,
            &tokens["wjw"],
            "死亡医学证明",
            "record_no",
            vec![
                rec(),
                id(),
                item("death_date", "死亡日期", "date", Some("person.death_date")),
            ],
        )
        .await,
    );
    resources.insert(
        "scjgj",
        resource(
            app,
            &tokens["scjgj"],
            "市场主体登记",
            "uscc",
            vec![
                item("uscc", "统一社会信用代码", "string", Some("entity.uscc")),
                item("entity_name", "主体名称", "string", Some("entity.name")),
                item("status", "登记状态", "string", Some("entity.status")),
                item(
                    "rep_id",
                    "法定代表人证件号",
                    "string",
                    Some("entity.legal_representative_id"),
                ),
            ],
        )
        .await,
    );
    let p: Vec<String> = (1..=7)
        .map(|i| citizen_id("510104", "19800102", i))
        .collect();
    let mut bad_id = p[5].clone();
    let last = bad_id.pop().expect("char");
    bad_id.push(if last == '0' { '1' } else { '0' });
    let e1 = uscc("91510104MA6C12345");
    // E2 embeds a real organisation code, so it can be found by it.
    let org = {
        let body = "MA6C1234";
        let check = rongshu_core::ident::org_code::check_char(body).expect("8 characters");
        rongshu_core::ident::OrgCode::parse(&format!("{body}{check}")).expect("valid")
    };
    let e2 = rongshu_core::ident::Uscc::from_parts('9', '1', "510104", &org)
        .expect("valid")
        .as_str()
        .to_owned();
    let unknown_employer = uscc("91510104MA6C12347");
    let mut city = City {
        admin,
        tokens,
        resources,
        p,
        bad_id,
        e1,
        e2,
        unknown_employer,
        gaj_batch: String::new(),
    };
    let p = city.p.clone();
    let addr = "四川省成都市锦江区红星路二段12号3幢2单元501室";
    let mut gaj = String::from("id_number,name,birth_date,address,status\n");
    for (i, id) in p.iter().enumerate() {
        let name = match i {
            1 => "黄丽",
            _ => "王丽",
        };
        let status = if i == 4 { "死亡注销" } else { "正常" };
        gaj.push_str(&format!("{id},{name},1980-01-02,{addr},{status}\n"));
    }
    let report = load(app, &city, "gaj", gaj).await;
    city.gaj_batch = report["batch_id"].as_str().expect("batch").to_owned();
    let mut ybj = String::from("record_no,cert_no,name,birth_date,address\n");
    for (i, id) in p.iter().enumerate() {
        let (id, name, birth) = match i {
            0 => (id.as_str(), "汪丽", "1980-01-02"),
            2 => (id.as_str(), "王丽", "1980年2月1日"),
            5 => (city.bad_id.as_str(), "王丽", "19800102"),
            _ => (id.as_str(), "王丽", "19800102"),
        };
        ybj.push_str(&format!(
            "YB{i},{id},{name},{birth},成都市锦江区红星路二段12号3栋2单元501\n"
        ));
    }
    load(app, &city, "ybj", ybj).await;
    let mut rsj = String::from("record_no,id_number,name,employer_uscc,status\n");
    for (i, id) in p.iter().enumerate() {
        let employer = if i == 6 {
            city.unknown_employer.as_str()
        } else {
            city.e1.as_str()
        };
        rsj.push_str(&format!("RS{i},{id},王丽,{employer},参保缴费\n"));
    }
    load(app, &city, "rsj", rsj).await;
    load(
        app,
        &city,
        "wjw",
        format!(
            "record_no,id_number,death_date\nWJ1,{},2024-03-01\nWJ2,{},2023-05-06\n",
            p[3], p[4]
        ),
    )
    .await;
    load(
        app,
        &city,
        "scjgj",
        format!(
            "uscc,entity_name,status,rep_id\n{},成都立天百货有限公司,存续,{}\n{},成都远博医药有限责任公司,在业,510104198001020019\n",
            city.e1, p[4], city.e2
        ),
    )
    .await;
    city
}

async fn verify(app: &TestApp, city: &City) -> Value {
    let (status, body) = post(app, "/api/v1/registry/verify", &city.admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["stats"].clone()
}

async fn tickets(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = get(app, &format!("/api/v1/tickets?limit=1000{query}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["total"].as_u64(),
        Some(body["items"].as_array().expect("items").len() as u64)
    );
    body["items"].as_array().cloned().unwrap_or_default()
}

/// (subject key, element, kind, department, state) of every ticket, sorted.
fn summary(items: &[Value]) -> Vec<(String, String, String, String, String)> {
    let mut out: Vec<_> = items
        .iter()
        .map(|t| {
            (
                t["subject"]["key"].as_str().unwrap_or_default().to_owned(),
                t["element"].as_str().unwrap_or_default().to_owned(),
                t["kind"].as_str().unwrap_or_default().to_owned(),
                t["department"].as_str().unwrap_or_default().to_owned(),
                t["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn find<'a>(items: &'a [Value], key: &str, element: &str) -> &'a Value {
    items
        .iter()
        .find(|t| t["subject"]["key"] == key && t["element"] == element)
        .unwrap_or_else(|| panic!("no ticket on {key} {element}: {items:?}"))
}

async fn each_conflict_kind_becomes_a_ticket_to_the_department_that_must_act(app: &TestApp) {
    let city = city(app).await;
    // Tickets are due in working days: Thursday 5 March is made a holiday.
    let holidays =
        json!({"items": [{"date": "2026-03-05", "kind": "holiday", "name": "测试假日"}]});
    let res = app
        .client
        .put(app.url("/api/v1/holidays"))
        .bearer_auth(&city.admin)
        .json(&holidays)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let stats = verify(app, &city).await;
    assert!(stats["tickets_opened"].as_u64().unwrap_or(0) > 0, "{stats}");
    let all = tickets(app, &city.admin, "").await;
    let p = &city.p;
    let t = |key: &str, element: &str, kind: &str, dept: &str| {
        (
            key.to_owned(),
            element.to_owned(),
            kind.to_owned(),
            dept.to_owned(),
            "open".to_owned(),
        )
    };
    let mut expected = vec![
        // A witness outvoted by the record and another witness.
        t(&p[0], "person.name", "differs", "ybj"),
        // The record contradicted by both witnesses.
        t(&p[1], "person.name", "differs", "gaj"),
        // Two birth dates across sources: the ID number backs the record.
        t(&p[2], "person.birth_date", "differs", "ybj"),
        // A death the record does not know yet.
        t(&p[3], "person.death_date", "witness_newer", "gaj"),
        // A witness that still shows the dead alive.
        t(&p[4], "person.vital_status", "witness_stale", "rsj"),
        // An invalid ID number goes back to its sender.
        t(&city.bad_id, "person.citizen_id", "invalid_value", "ybj"),
        // An employer that is not a registered entity.
        t(&p[6], "person.employer_uscc", "unknown_employer", "rsj"),
        // An active entity whose legal representative is dead.
        t(
            &city.e1,
            "entity.legal_representative_id",
            "deceased_legal_representative",
            "scjgj",
        ),
        // An entity whose representative's ID is invalid.
        t(
            &city.e2,
            "entity.legal_representative_id",
            "invalid_value",
            "scjgj",
        ),
    ];
    expected.sort();
    assert_eq!(summary(&all), expected);
    // The evidence names each source's value, batch and date.
    let t1 = find(&all, &p[0], "person.name");
    let evidence = t1["evidence"].as_array().expect("evidence");
    assert!(evidence.iter().any(|e| e["department"] == "gaj"
        && e["value"] == "王丽"
        && e["classification"] == "record"));
    assert!(evidence.iter().any(|e| e["department"] == "ybj"
        && e["value"] == "汪丽"
        && e["classification"] == "differs"));
    assert!(
        evidence
            .iter()
            .all(|e| !e["batch"].as_str().unwrap_or_default().is_empty()
                && !e["date"].as_str().unwrap_or_default().is_empty())
    );
    // Opened on Monday 2 March (17:00 in Chengdu): ten working days on,
    // weekends and the 5th skipped, is Tuesday 17 March, until midnight there.
    assert_eq!(t1["due"], "2026-03-17T15:59:59.000000Z");
    // One worklist per department: 医保局 sees its three and no other's.
    let mine = tickets(app, city.token("ybj"), "").await;
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|t| t["department"] == "ybj"));
    let (status, _) = get(app, "/api/v1/tickets?department=gaj", city.token("ybj")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Filters: element and state.
    assert_eq!(
        tickets(app, &city.admin, "&element=person.name")
            .await
            .len(),
        2
    );
    assert_eq!(tickets(app, &city.admin, "&state=confirmed").await.len(), 0);
    // A ticket about someone else's value is not another department's to read.
    let id = find(&all, &p[6], "person.employer_uscc")["id"]
        .as_i64()
        .expect("id");
    let (status, _) = get(app, &format!("/api/v1/tickets/{id}"), city.token("wjw")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, one) = get(app, &format!("/api/v1/tickets/{id}"), city.token("rsj")).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["subject"]["key"], p[6].as_str());
    // Every read of tickets about people is audited with the people touched.
    let audited = app
        .store
        .audit_events(Some("tickets.read"), 100)
        .await
        .expect("events");
    assert!(!audited.is_empty());
}

async fn a_snapshot_without_a_row_takes_its_values_and_tickets_away(app: &TestApp) {
    let city = city(app).await;
    verify(app, &city).await;
    let p = &city.p;
    let all = tickets(app, &city.admin, "").await;
    let invalid = find(&all, &city.bad_id, "person.citizen_id")["id"]
        .as_i64()
        .expect("id");
    let birth = find(&all, &p[2], "person.birth_date")["id"]
        .as_i64()
        .expect("id");
    // 医保局 sends its whole register again without YB5 (the mistyped ID);
    // YB2's birth date is still wrong.
    let mut snapshot = String::from("record_no,cert_no,name,birth_date,address\n");
    for (i, id) in p.iter().enumerate() {
        let (name, birth) = match i {
            0 => ("汪丽", "1980-01-02"),
            2 => ("王丽", "1980年2月1日"),
            5 => continue,
            _ => ("王丽", "19800102"),
        };
        snapshot.push_str(&format!(
            "YB{i},{id},{name},{birth},成都市锦江区红星路二段12号3栋2单元501\n"
        ));
    }
    let code = city.resources.get("ybj").expect("resource");
    let (status, report, _) = json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches?mode=replace"),
            city.token("ybj"),
            snapshot,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    // The batch's own verification closed the ticket of the row that left
    // and kept the one whose value is still delivered.
    let (_, gone) = get(app, &format!("/api/v1/tickets/{invalid}"), &city.admin).await;
    assert_eq!(gone["state"], "corrected", "{gone}");
    let (_, kept) = get(app, &format!("/api/v1/tickets/{birth}"), &city.admin).await;
    assert_eq!(kept["state"], "open", "{kept}");
    // A full run after it finds nothing more to do.
    let stats = verify(app, &city).await;
    assert_eq!(stats["changed"], 0, "{stats}");
    assert_eq!(stats["tickets_opened"], 0, "{stats}");
    assert_eq!(stats["tickets_closed"], 0, "{stats}");
}

async fn tickets_are_corrected_by_a_later_batch_confirmed_or_disputed(app: &TestApp) {
    let city = city(app).await;
    verify(app, &city).await;
    let p = &city.p;
    let all = tickets(app, &city.admin, "").await;

    // Corrected: 医保局 sends the right name in its next batch.
    let typo = find(&all, &p[0], "person.name")["id"].as_i64().expect("id");
    let (status, body) = post(
        app,
        &format!("/api/v1/tickets/{typo}/correct"),
        city.token("ybj"),
        json!({"note": "下批更正"}),
    )
    .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("correcting")),
        "{body}"
    );
    load(app, &city, "ybj", format!("record_no,cert_no,name,birth_date,address\nYB0,{},王丽,1980-01-02,成都市锦江区红星路二段12号3栋2单元501\n", p[0])).await;
    let (_, after) = get(app, &format!("/api/v1/tickets/{typo}"), &city.admin).await;
    assert_eq!(after["state"], "corrected", "{after}");
    assert!(after["closed_at"].as_str().is_some());

    // Confirmed: 公安局 says its record stands; the witnesses get tickets.
    let doubted = find(&all, &p[1], "person.name")["id"].as_i64().expect("id");
    let (status, _) = post(
        app,
        &format!("/api/v1/tickets/{doubted}/confirm"),
        city.token("ybj"),
        json!({}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only the department the ticket is at answers it"
    );
    let (status, body) = post(
        app,
        &format!("/api/v1/tickets/{doubted}/confirm"),
        city.token("gaj"),
        json!({"note": "经核实户籍登记无误"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "confirmed");
    assert_eq!(body["opened"].as_array().map(Vec::len), Some(2), "{body}");
    let now_open = tickets(app, &city.admin, "&element=person.name&state=open").await;
    let departments: Vec<&str> = now_open
        .iter()
        .filter(|t| t["subject"]["key"] == p[1].as_str())
        .map(|t| t["department"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(departments, vec!["rsj", "ybj"]);
    let (status, body) = post(
        app,
        &format!("/api/v1/tickets/{doubted}/dispute"),
        city.token("gaj"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Verifying again neither reopens the confirmed ticket nor closes the new ones.
    let stats = verify(app, &city).await;
    assert_eq!(stats["tickets_opened"], 0, "{stats}");
    assert_eq!(stats["tickets_closed"], 0, "{stats}");

    // Disputed: 医保局 disputes; the office decides.
    let birth = find(&all, &p[2], "person.birth_date")["id"]
        .as_i64()
        .expect("id");
    let (status, body) = post(
        app,
        &format!("/api/v1/tickets/{birth}/dispute"),
        city.token("ybj"),
        json!({"note": "本局登记有出生证明"}),
    )
    .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("disputed")),
        "{body}"
    );
    let (status, _) = post(
        app,
        &format!("/api/v1/tickets/{birth}/confirm"),
        city.token("ybj"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let disputed = tickets(app, &city.admin, "&state=disputed").await;
    assert_eq!(disputed.len(), 1);
    let (status, body) = post(
        app,
        &format!("/api/v1/tickets/{birth}/correct"),
        &city.admin,
        json!({"note": "以身份号码为准，医保局更正"}),
    )
    .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("correcting")),
        "{body}"
    );

    // The worklist as a sheet (also a workbook), answered in bulk.
    let res = app
        .get(
            "/api/v1/tickets/export?format=xlsx",
            Some(city.token("rsj")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.bytes().await.unwrap().starts_with(b"PK"));
    let res = app
        .get("/api/v1/tickets/export", Some(city.token("rsj")))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let sheet = res.text().await.expect("csv");
    let mut lines: Vec<String> = sheet.lines().map(str::to_owned).collect();
    assert!(lines[0].starts_with("ticket,subject_kind,subject,element"));
    assert_eq!(lines.len(), 1 + 3, "{sheet}");
    for line in lines.iter_mut().skip(1) {
        *line = format!("{},确认,已核实", line.trim_end_matches(",,"));
    }
    let res = app
        .post_csv(
            "/api/v1/tickets/answers",
            city.token("rsj"),
            lines.join("\n"),
        )
        .await;
    let (status, body, _) = json_of(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["answered"].as_u64(), body["refused"].as_u64()),
        (Some(3), Some(0)),
        "{body}"
    );
    assert!(
        tickets(app, city.token("rsj"), "&state=open")
            .await
            .is_empty()
    );
    // The workbook comes back filled in just as well: 医保局 disputes its open ones.
    let res = app
        .get(
            "/api/v1/tickets/export?format=xlsx&state=open",
            Some(city.token("ybj")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let workbook = res.bytes().await.expect("xlsx");
    let rows = rongshu_ingest::table_sheet::read_table(&workbook).expect("the export reads back");
    let header: Vec<&str> = rows[0].iter().map(String::as_str).collect();
    let answer_at = header.iter().position(|h| *h == "answer").expect("answer");
    let open_ones = rows.len() - 1;
    assert!(open_ones >= 1, "{rows:?}");
    let mut filled =
        rongshu_ingest::table_sheet::TableSheet::new("tickets", &header).expect("sheet");
    for row in &rows[1..] {
        let mut row: Vec<&str> = row.iter().map(String::as_str).collect();
        row[answer_at] = "异议";
        filled.push(&row).expect("row");
    }
    let res = app
        .post_csv(
            "/api/v1/tickets/answers",
            city.token("ybj"),
            filled.finish().expect("workbook"),
        )
        .await;
    let (status, body, _) = json_of(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["answered"].as_u64(), Some(open_ones as u64), "{body}");
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] == "disputed"),
        "{body}"
    );
    // Neither CSV nor a workbook: a 400 that says so.
    let res = app
        .post_csv(
            "/api/v1/tickets/answers",
            city.token("ybj"),
            vec![0xffu8, 0xfe, 0x00],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Every answer is on the audit record, with the state it led to.
    let answers = app
        .store
        .audit_events(Some("ticket.answer"), 100)
        .await
        .expect("events");
    assert!(answers.len() >= 3 + 3, "{}", answers.len());
    assert!(answers.iter().any(|e| e.detail["state"] == "confirmed"));
    // Figures per department, for the evaluation: 人社局 sees its own three.
    let (status, figures) = get(app, "/api/v1/tickets/figures", city.token("rsj")).await;
    assert_eq!(status, StatusCode::OK, "{figures}");
    let rows = figures["departments"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{figures}");
    assert_eq!(rows[0]["states"]["confirmed"], 3, "{figures}");
    assert!(
        rows[0]["mean_days_to_close"].as_f64().is_some(),
        "{figures}"
    );
    let (_, all) = get(app, "/api/v1/tickets/figures", &city.admin).await;
    assert!(all["departments"].as_array().unwrap().len() >= 3, "{all}");
}

async fn golden_values_name_their_batch_and_verifying_again_changes_nothing(app: &TestApp) {
    let city = city(app).await;
    let first = verify(app, &city).await;
    assert!(
        first["golden_written"].as_u64().unwrap_or(0) >= 7 * 5,
        "{first}"
    );
    let before = summary(&tickets(app, &city.admin, "").await);
    let again = verify(app, &city).await;
    assert_eq!(again["changed"], 0, "{again}");
    assert_eq!(again["golden_written"], 0, "{again}");
    assert_eq!(again["tickets_opened"], 0, "{again}");
    assert_eq!(again["tickets_closed"], 0, "{again}");
    assert_eq!(summary(&tickets(app, &city.admin, "").await), before);
    // Every golden value names its source: department, resource, row, batch, date.
    let gaj_code = &city.resources["gaj"];
    for id in &city.p {
        let (status, record) = get(
            app,
            &format!("/api/v1/registry/persons/{id}"),
            city.token("gaj"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{record}");
        let values = record["values"].as_array().expect("values");
        assert!(values.len() >= 4, "{record}");
        for v in values {
            let prov = &v["provenance"];
            assert!(
                !prov["batch"].as_str().unwrap_or_default().is_empty(),
                "{v}"
            );
            assert!(!prov["date"].as_str().unwrap_or_default().is_empty(), "{v}");
            // Each value comes from its element's authority: 公安局's batch,
            // 人社局's for the employer.
            if prov["department"] == "gaj" {
                assert_eq!(prov["resource"], gaj_code.as_str(), "{v}");
                assert_eq!(prov["batch"], city.gaj_batch.as_str(), "{v}");
            } else {
                assert_eq!(
                    (v["element"].as_str(), prov["department"].as_str()),
                    (Some("person.employer_uscc"), Some("rsj")),
                    "{v}"
                );
            }
        }
        assert_eq!(record["derived"]["birth_date"], "1980-01-02");
    }
    // A correction by the authority becomes history with its period.
    let p = &city.p;
    load(app, &city, "gaj", format!("id_number,name,birth_date,address,status\n{},王丽,1980-01-02,成都市锦江区红星路二段12号3栋2单元501,正常\n", p[1])).await;
    let (_, record) = get(
        app,
        &format!("/api/v1/registry/persons/{}?history=true", p[1]),
        city.token("gaj"),
    )
    .await;
    let name = record["values"]
        .as_array()
        .expect("values")
        .iter()
        .find(|v| v["element"] == "person.name")
        .cloned()
        .expect("name");
    assert_eq!(name["value"], "王丽");
    let history = record["history"].as_array().expect("history");
    let past = history
        .iter()
        .find(|h| h["element"] == "person.name")
        .expect("past name");
    assert_eq!(past["value"], "黄丽");
    assert!(past["valid_to"].as_str().is_some() && past["valid_from"].as_str().is_some());
    // …and the ticket to 公安局 about it is corrected.
    let all = tickets(app, &city.admin, "&element=person.name").await;
    assert_eq!(find(&all, &p[1], "person.name")["state"], "corrected");
}

async fn registry_reads_follow_the_sharing_rules_and_refuse_bad_keys(app: &TestApp) {
    let city = city(app).await;
    verify(app, &city).await;
    let p = &city.p;
    // 公安局 reads its own values plain; 卫健委 reads grade-3 names masked.
    let (_, own) = get(
        app,
        &format!("/api/v1/registry/persons/{}", p[0]),
        city.token("gaj"),
    )
    .await;
    let name = |r: &Value| {
        r["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["element"] == "person.name")
            .cloned()
            .unwrap()
    };
    assert_eq!(name(&own)["value"], "王丽");
    let (_, other) = get(
        app,
        &format!("/api/v1/registry/persons/{}", p[0]),
        city.token("wjw"),
    )
    .await;
    assert_eq!(name(&other)["masked"], true, "{other}");
    assert_ne!(name(&other)["value"], "王丽");
    // An invalid key is a 400 that says why.
    let (status, body) = get(
        app,
        &format!("/api/v1/registry/persons/{}", city.bad_id),
        &city.admin,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("check character"),
        "{body}"
    );
    let (status, body) = get(
        app,
        "/api/v1/registry/entities/91510104MA6C1234",
        &city.admin,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // An entity by USCC, with facts derived from the code.
    let (status, body) = get(
        app,
        &format!("/api/v1/registry/entities/{}", city.e1),
        &city.admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["derived"]["division"], "510104");
    // During the transition an organisation code finds the USCC that embeds it.
    let org = &city.e2[8..17];
    let (status, body) = get(
        app,
        &format!("/api/v1/registry/entities/{org}"),
        &city.admin,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"], city.e2.as_str());
    assert_eq!(body["derived"]["org_code"], org);
    // Only the office verifies the whole registry.
    let (status, _) = post(app, "/api/v1/registry/verify", city.token("gaj"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Reads of a person's registry record are audited with the person.
    let audited = app
        .store
        .audit_events(Some("registry.read"), 100)
        .await
        .expect("events");
    assert!(audited.len() >= 3);
}

async fn a_citizen_sees_the_record_with_its_sources_and_disputes_a_value(app: &TestApp) {
    let city = city(app).await;
    // The telecoms register, where the sign-in code goes.
    app.seed_user("tel", "tel_officer", &[Role::DataOfficer])
        .await;
    let tel = app.login("tel_officer").await;
    let (status, body) = post(
        app,
        "/api/v1/elements",
        &city.admin,
        json!({"code": "person.mobile", "name": "手机号码", "authority": "tel"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = resource(
        app,
        &tel,
        "手机用户实名登记",
        "record_no",
        vec![
            item("record_no", "记录编号", "string", None),
            item("phone", "手机号码", "string", Some("person.mobile")),
            item("holder", "证件号码", "string", Some("person.citizen_id")),
        ],
    )
    .await;
    let me = city.p[2].clone();
    app.load_batch(
        &code,
        &tel,
        format!("record_no,phone,holder\nTX1,13800000002,{me}\n"),
    )
    .await;
    verify(app, &city).await;

    let (status, otp, _) = json_of(
        app.post_json("/api/v1/citizen/otp", None, &json!({"id_number": me}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{otp}");
    let code = otp["demo_code"]
        .as_str()
        .expect("the demo shows the code")
        .to_owned();
    let res = app
        .post_json(
            "/api/v1/citizen/login",
            None,
            &json!({"id_number": me, "code": code}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("rongshu_citizen="))
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_owned();
    let csrf = res.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The own record, every value with its source, and all the sources.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/me/registry?id_number={me}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (status, record, _) = json_of(res).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    let birth = record["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["element"] == "person.birth_date")
        .cloned()
        .expect("birth date");
    assert_eq!(
        (birth["value"].as_str(), birth["department"].as_str()),
        (Some("1980-01-02"), Some("gaj"))
    );
    assert!(!birth["batch"].as_str().unwrap_or_default().is_empty());
    let sources = record["sources"].as_array().unwrap();
    assert!(
        sources
            .iter()
            .any(|s| s["department"] == "ybj" && s["element"] == "person.birth_date"),
        "{record}"
    );
    // Someone else's record is not the citizen's to read.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/me/registry?id_number={}", city.p[0])))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A dispute opens a ticket to the authoritative department.
    let res = app
        .client
        .post(app.url("/api/v1/me/registry/disputes"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"id_number": me, "element": "person.name", "value": "王莉", "reason": "户口本上是莉"}))
        .send()
        .await
        .unwrap();
    let (status, ticket, _) = json_of(res).await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(
        (ticket["department"].as_str(), ticket["state"].as_str()),
        (Some("gaj"), Some("open"))
    );
    let id = ticket["id"].as_i64().unwrap();
    let (_, seen) = get(app, &format!("/api/v1/tickets/{id}"), city.token("gaj")).await;
    assert_eq!(seen["kind"], "citizen_dispute");
    assert!(
        seen["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["value"] == "王莉" && e["resource"] == "citizen"),
        "{seen}"
    );
    // Verifying again leaves the citizen's ticket alone.
    verify(app, &city).await;
    let (_, seen) = get(app, &format!("/api/v1/tickets/{id}"), city.token("gaj")).await;
    assert_eq!(seen["state"], "open");
    let res = app
        .client
        .get(app.url(&format!("/api/v1/me/registry?id_number={me}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let (_, record, _) = json_of(res).await;
    assert_eq!(record["tickets"][0]["id"], id);
}

async fn the_console_shows_records_and_worklists_and_takes_answers(app: &TestApp) {
    let city = city(app).await;
    let (client, session, csrf) = console_session(app, "admin").await;
    let page = |path: String| {
        let (client, session) = (client.clone(), session.clone());
        async move {
            let res = client
                .get(app.url(&path))
                .header("cookie", &session)
                .send()
                .await
                .unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    // The office verifies from the registry page.
    let res = client
        .post(app.url("/console/registry/verify"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (status, html) = page(format!("/console/registry?q={}&history=1", city.p[1])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("person.name") && html.contains(&city.gaj_batch),
        "{html}"
    );
    let (_, html) = page(format!("/console/registry?q={}", city.e1)).await;
    assert!(html.contains("entity.legal_representative_id"), "{html}");
    let (_, html) = page("/console/registry?q=12345".into()).await;
    assert!(html.contains("role=\"alert\""), "{html}");

    // 人社局's worklist, answered from the page and from a pasted sheet.
    let (rsj_client, rsj_session, rsj_csrf) = console_session(app, "rsj_officer").await;
    let res = rsj_client
        .get(app.url("/console/tickets?state=open"))
        .header("cookie", &rsj_session)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("person.vital_status") && html.contains("person.employer_uscc"),
        "{html}"
    );
    assert!(
        !html.contains("person.birth_date"),
        "another department's ticket is not on this worklist"
    );
    let mine = tickets(app, city.token("rsj"), "").await;
    let first = mine[0]["id"].as_i64().unwrap();
    let res = rsj_client
        .post(app.url(&format!("/console/tickets/{first}/confirm")))
        .header("cookie", &rsj_session)
        .form(&[("csrf", rsj_csrf.as_str()), ("note", "核实无误")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, t) = get(app, &format!("/api/v1/tickets/{first}"), city.token("rsj")).await;
    assert_eq!(t["state"], "confirmed");
    let second = mine[1]["id"].as_i64().unwrap();
    let sheet = format!("ticket,answer,note\n{second},更正,下月批次更正\n");
    let res = rsj_client
        .post(app.url("/console/tickets/answers"))
        .header("cookie", &rsj_session)
        .form(&[("csrf", rsj_csrf.as_str()), ("sheet", sheet.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("answered=1")
    );
    let (_, t) = get(app, &format!("/api/v1/tickets/{second}"), city.token("rsj")).await;
    assert_eq!(t["state"], "correcting");
}
