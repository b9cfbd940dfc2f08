//! Record linkage over HTTP: a department's keyless records linked to the
//! population resource by a background job; known matches found, namesakes
//! left apart, an uncertain pair in the review queue and decided there, in the
//! API and the console; configurations that do not fit refused with 400s, and
//! callers without the right to read refused with 403s.

use std::time::Duration;

use reqwest::StatusCode;
use rongshu_core::account::Role;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Cast, TestApp, citizen_id, json_of};

on_both_backends!(
    a_job_links_keyless_records_and_review_decides_the_uncertain,
    configurations_that_do_not_fit_are_refused,
    only_who_may_read_both_sides_runs_a_job,
    the_console_shows_the_evidence_and_records_a_decision,
    the_office_links_against_the_person_registry,
);

const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
];
const GIVEN: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "霞", "平", "刚",
];
const DISTRICTS: [&str; 4] = ["锦江区", "青羊区", "金牛区", "武侯区"];
const ROADS: [&str; 5] = ["人民南路", "蜀都大道", "春熙路", "府河路", "羊西线"];

/// People in the population resource (the registry stand-in).
const PEOPLE: usize = 240;

struct Person {
    id: String,
    name: String,
    birth: (u32, u32, u32),
    address: String,
}

fn person(i: usize) -> Person {
    let birth = (
        1950 + ((i * 7) % 50) as u32,
        1 + (i % 12) as u32,
        1 + ((i * 11) % 28) as u32,
    );
    let ymd = format!("{:04}{:02}{:02}", birth.0, birth.1, birth.2);
    Person {
        id: citizen_id("510104", &ymd, (i % 1000) as u32),
        name: format!(
            "{}{}{}",
            SURNAMES[i % 12],
            GIVEN[(i / 12) % 20],
            GIVEN[(i * 3) % 20]
        ),
        birth,
        address: format!(
            "成都市{}{}{}号{}栋",
            DISTRICTS[i % 4],
            ROADS[(i / 4) % 5],
            1 + i * 3,
            1 + i % 9
        ),
    }
}

fn date(b: (u32, u32, u32)) -> String {
    format!("{:04}-{:02}-{:02}", b.0, b.1, b.2)
}

/// 240 people, and 10 namesakes of the first ten (other birth dates, other
/// addresses); person 30's namesake `NAMESAKE` is born the same year.
fn population_csv() -> String {
    let mut csv = String::from("id_number,name,birth_date,address\n");
    for i in 0..PEOPLE {
        let p = person(i);
        csv.push_str(&format!(
            "{},{},{},{}\n",
            p.id,
            p.name,
            date(p.birth),
            p.address
        ));
    }
    for i in 0..10 {
        let p = person(i);
        let other = person(i + 100);
        let id = citizen_id("510105", "19991231", i as u32);
        csv.push_str(&format!(
            "{id},{},{},{}\n",
            p.name,
            date(other.birth),
            other.address
        ));
    }
    csv
}

/// The extract: 60 keyless records of people 0..60 (every fourth without the
/// city in its address), 20 keyed ones (not linked: they have their key), a
/// transposed birth date, a stranger named like person 5, and an uncertain one.
fn extract_csv() -> String {
    let mut csv = String::from("record_no,id_number,name,birth_date,address\n");
    for i in 0..60 {
        let p = person(i);
        let address = if i % 4 == 0 {
            p.address.replace("成都市", "")
        } else {
            p.address.clone()
        };
        csv.push_str(&format!(
            "RS{i:04},,{},{},{address}\n",
            p.name,
            date(p.birth)
        ));
    }
    for i in 60..80 {
        let p = person(i);
        csv.push_str(&format!(
            "RS{i:04},{},{},{},{}\n",
            p.id,
            p.name,
            date(p.birth),
            p.address
        ));
    }
    // Person 121 (born 1950-02-24 → day > 12, so use 133: 2006-02-08): month
    // and day swapped, nothing else different.
    let p = person(SWAPPED);
    let (y, m, d) = p.birth;
    csv.push_str(&format!(
        "RS-SWAP,,{},{},{}\n",
        p.name,
        date((y, d, m)),
        p.address
    ));
    // Someone the registry does not know, with person 5's name.
    let p = person(5);
    csv.push_str(&format!(
        "RS-STRANGER,,{},1988-08-18,成都市成华区建设路9号1栋\n",
        p.name
    ));
    // Person 200 after a move, with the birth date one digit off: the name
    // agrees, the rest is weak evidence.
    let p = person(UNCERTAIN);
    let (y, m, d) = p.birth;
    csv.push_str(&format!(
        "RS-UNSURE,,{},{},成都市双流区东升街道{}号\n",
        p.name,
        date((y + 1, m, d)),
        7
    ));
    csv
}

const SWAPPED: usize = 133;
const UNCERTAIN: usize = 200;

fn population_spec() -> Value {
    json!({
        "name": "人口基础信息", "summary": "户籍人口", "share_type": "unconditional", "update_cycle": "daily",
        "classification": "1-01-001", "key_items": ["id_number"],
        "items": [
            {"key": "id_number", "name": "公民身份号码", "type": "string", "required": true, "grade": 3},
            {"key": "name", "name": "姓名", "type": "string", "required": true, "grade": 3},
            {"key": "birth_date", "name": "出生日期", "type": "date", "grade": 3},
            {"key": "address", "name": "户籍地址", "type": "string", "grade": 3}
        ]
    })
}

fn extract_spec() -> Value {
    json!({
        "name": "社会保险参保人员信息", "summary": "参保人员", "share_type": "conditional", "update_cycle": "monthly",
        "share_condition": "依申请共享", "classification": "3-03-001", "key_items": ["record_no"],
        "items": [
            {"key": "record_no", "name": "记录编号", "type": "string", "required": true, "grade": 1},
            {"key": "id_number", "name": "公民身份号码", "type": "string", "grade": 3},
            {"key": "name", "name": "姓名", "type": "string", "required": true, "grade": 3},
            {"key": "birth_date", "name": "出生日期", "type": "date", "grade": 3},
            {"key": "address", "name": "联系地址", "type": "string", "grade": 3}
        ]
    })
}

/// Register, publish and load a resource as `provider`; returns its code.
async fn resource(app: &TestApp, cast: &Cast, provider: &str, spec: &Value, csv: String) -> String {
    let (status, body, _) = json_of(
        app.post_json("/api/v1/resources", Some(provider), spec)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    let res = app
        .post_json(
            &format!("/api/v1/resources/{code}/submit"),
            Some(provider),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "submit {code}");
    let res = app
        .post_json(
            &format!("/api/v1/resources/{code}/approve"),
            Some(&cast.admin),
            &json!({"comment": "同意"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "approve {code}");
    let (status, body, _) = json_of(
        app.post_csv(&format!("/api/v1/resources/{code}/batches"), provider, csv)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "load {code}: {body}");
    code
}

struct World {
    cast: Cast,
    population: String,
    extract: String,
}

async fn world(app: &TestApp) -> World {
    let cast = app.cast().await;
    let population = resource(
        app,
        &cast,
        &cast.provider,
        &population_spec(),
        population_csv(),
    )
    .await;
    let extract = resource(app, &cast, &cast.consumer, &extract_spec(), extract_csv()).await;
    World {
        cast,
        population,
        extract,
    }
}

fn job_body(w: &World) -> Value {
    json!({
        "left": {"resource": w.extract, "only_missing": "id_number"},
        "right": {"resource": w.population},
        "columns": [
            {"name": "name", "kind": "chinese_name"},
            {"name": "birth_date", "kind": "date"},
            {"name": "address", "kind": "address"}
        ],
        "blocking": [{"columns": ["name"]}, {"columns": ["birth_date"]}, {"columns": ["address"]}],
        "thresholds": {"link": 0.95, "review": 0.05}
    })
}

/// Submit a job and wait until it is done; returns the finished job.
async fn run_job(app: &TestApp, token: &str, body: &Value) -> Value {
    let (status, job, _) = json_of(
        app.post_json("/api/v1/linkage/jobs", Some(token), body)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["state"], "queued");
    let id = job["id"].as_i64().unwrap();
    for _ in 0..300 {
        let (status, job, _) = json_of(
            app.get(&format!("/api/v1/linkage/jobs/{id}"), Some(token))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{job}");
        match job["state"].as_str() {
            Some("done") => return job,
            Some("failed") => panic!("the job failed: {job}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("the job did not finish");
}

async fn pairs(app: &TestApp, token: &str, id: i64, class: &str) -> Vec<Value> {
    let (status, body, _) = json_of(
        app.get(
            &format!("/api/v1/linkage/jobs/{id}/results?class={class}&limit=500"),
            Some(token),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["total"].as_u64(),
        Some(body["items"].as_array().unwrap().len() as u64)
    );
    body["items"].as_array().unwrap().clone()
}

/// Every plain keyless record is linked to its person, the transposed birth
/// date still links, and the stranger (a namesake) links to no one.
fn the_plain_records_and_the_swap_link_and_the_stranger_does_not(matches: &[(String, String)]) {
    for i in 0..60 {
        let want = (format!("RS{i:04}"), person(i).id);
        assert!(matches.contains(&want), "RS{i:04} not linked: {matches:?}");
    }
    assert!(
        matches.contains(&("RS-SWAP".into(), person(SWAPPED).id)),
        "{matches:?}"
    );
    assert!(
        !matches.iter().any(|(l, _)| l == "RS-STRANGER"),
        "{matches:?}"
    );
}

fn ids(pairs: &[Value]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|p| {
            (
                p["left_id"].as_str().unwrap().to_owned(),
                p["right_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_job_links_keyless_records_and_review_decides_the_uncertain(app: &TestApp) {
    let w = world(app).await;
    let job = run_job(app, &w.cast.admin, &job_body(&w)).await;
    let id = job["id"].as_i64().unwrap();
    let figures = &job["figures"];
    // Only the keyless records are read on the left: 60 + 3.
    assert_eq!(figures["left_rows"], 63, "{figures}");
    assert_eq!(figures["right_rows"], PEOPLE + 10);
    assert!(figures["candidate_pairs"].as_u64().unwrap() >= 63);
    // Of the non-matches, each record's three best are kept for the clerk.
    let kept = figures["non_matches_kept"].as_u64().unwrap();
    assert!(kept <= 3 * 63, "{figures}");
    assert!(figures["non_matches"].as_u64().unwrap() >= kept);
    assert!(figures["pairs_per_second"].as_f64().unwrap() > 0.0);
    let name_levels = figures["em"]["columns"][0]["levels"].as_array().unwrap();
    assert_eq!(name_levels[0]["level"], "exact");
    assert!(name_levels[0]["m"].as_f64().unwrap() > name_levels[0]["u"].as_f64().unwrap());

    let matches = ids(&pairs(app, &w.cast.admin, id, "match").await);
    the_plain_records_and_the_swap_link_and_the_stranger_does_not(&matches);
    // No link to the namesakes either.
    assert!(
        !matches.iter().any(|(_, r)| r.starts_with("510105")),
        "{matches:?}"
    );
    assert!(
        !matches.iter().any(|(l, _)| l == "RS-UNSURE"),
        "{matches:?}"
    );
    assert_eq!(matches.len(), 61);
    assert_eq!(job["counts"]["matches"], 61);
    assert_eq!(job["counts"]["non_matches"], figures["non_matches_kept"]);

    // The uncertain record waits for a clerk, with its evidence side by side.
    let review = pairs(app, &w.cast.admin, id, "review").await;
    let unsure = review
        .iter()
        .find(|p| p["left_id"] == "RS-UNSURE")
        .unwrap_or_else(|| panic!("RS-UNSURE not in review: {review:?}"));
    assert_eq!(unsure["right_id"], person(UNCERTAIN).id);
    let evidence = unsure["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 3);
    assert_eq!(evidence[0]["column"], "name");
    assert_eq!(evidence[0]["left"], person(UNCERTAIN).name);
    assert_eq!(evidence[0]["right"], person(UNCERTAIN).name);
    assert_eq!(evidence[0]["level"], "exact");
    assert_eq!(evidence[1]["level"], "one_digit_off");
    assert!(unsure["decision"].is_null());
    assert_eq!(unsure["linked"], false);

    // Non-matches are listed too (the stranger's pair with person 5, at least).
    let non = ids(&pairs(app, &w.cast.admin, id, "non_match").await);
    assert!(
        non.contains(&("RS-STRANGER".into(), person(5).id)),
        "{non:?}"
    );

    // A decision: recorded with the reviewer and time; the pair becomes a link.
    let pair = unsure["pair"].as_i64().unwrap();
    let path = format!("/api/v1/linkage/jobs/{id}/results/{pair}/decision");
    let (status, body, _) = json_of(
        app.post_json(&path, Some(&w.cast.admin), &json!({"decision": "maybe"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Deciding is a reviewer's (or the office's) work: an officer of the
    // job's own department may look, not decide.
    app.seed_user("sjj", "sjj_clerk", &[Role::DataOfficer])
        .await;
    let clerk = app.login("sjj_clerk").await;
    let (status, body, _) = json_of(
        app.post_json(&path, Some(&clerk), &json!({"decision": "accept"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, decided, _) = json_of(
        app.post_json(
            &path,
            Some(&w.cast.admin),
            &json!({"decision": "accept", "note": "电话核实"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["decision"], "accepted");
    assert_eq!(decided["reviewer"], "user:admin");
    assert_eq!(decided["note"], "电话核实");
    assert!(decided["decided_at"].as_str().is_some());
    assert_eq!(decided["linked"], true);
    // Once only.
    let (status, _, _) = json_of(
        app.post_json(&path, Some(&w.cast.admin), &json!({"decision": "reject"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // A matched pair is not for review.
    let first_match = pairs(app, &w.cast.admin, id, "match").await[0]["pair"]
        .as_i64()
        .unwrap();
    let (status, _, _) = json_of(
        app.post_json(
            &format!("/api/v1/linkage/jobs/{id}/results/{first_match}/decision"),
            Some(&w.cast.admin),
            &json!({"decision": "reject"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let links = ids(&pairs(app, &w.cast.admin, id, "link").await);
    assert_eq!(links.len(), 62);
    assert!(links.contains(&("RS-UNSURE".into(), person(UNCERTAIN).id)));
    let (_, job, _) = json_of(
        app.get(&format!("/api/v1/linkage/jobs/{id}"), Some(&w.cast.admin))
            .await,
    )
    .await;
    assert_eq!(job["counts"]["accepted"], 1);
    assert_eq!(job["counts"]["links"], 62);

    // The reads are on the audit chain, with the people they touched.
    let (status, events, _) = json_of(
        app.get(
            "/api/v1/audit/events?action=data.read&limit=100",
            Some(&w.cast.admin),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let text = events.to_string();
    assert!(text.contains("\"operation\":\"linkage\""), "{text}");
    // Every person of the population was read, paired or not: the last one
    // meets no keyless record, and the read is in that person's log.
    let secret = app
        .store
        .platform_secret("audit.person_hash", chrono::Utc::now())
        .await
        .unwrap();
    let last = rongshu_core::ident::CitizenId::parse(&person(PEOPLE - 1).id).unwrap();
    let reads = app
        .store
        .person_reads(
            &rongshu_core::people::PersonKey::new(secret).of(&last),
            None,
            10,
        )
        .await
        .unwrap();
    assert!(
        reads
            .iter()
            .any(|r| r.event.detail["operation"] == "linkage" && r.event.detail["job"] == id),
        "{:?}",
        reads.iter().map(|r| &r.event.detail).collect::<Vec<_>>()
    );
    assert!(figures["right_rows_kept"].as_u64().unwrap() < (PEOPLE + 10) as u64);
    let (_, events, _) = json_of(
        app.get(
            "/api/v1/audit/events?action=linkage.review.decide",
            Some(&w.cast.admin),
        )
        .await,
    )
    .await;
    assert!(
        events.to_string().contains("linkage.review.decide"),
        "{events}"
    );

    // The job list shows it; the other departments do not see it.
    let (_, list, _) = json_of(app.get("/api/v1/linkage/jobs", Some(&w.cast.admin)).await).await;
    assert_eq!(list["total"], 1);
    let (_, list, _) = json_of(
        app.get("/api/v1/linkage/jobs", Some(&w.cast.provider))
            .await,
    )
    .await;
    assert_eq!(list["total"], 0);
    let res = app
        .get(
            &format!("/api/v1/linkage/jobs/{id}"),
            Some(&w.cast.provider),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn configurations_that_do_not_fit_are_refused(app: &TestApp) {
    let w = world(app).await;
    let good = job_body(&w);
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut b = good.clone();
                b.as_object_mut().unwrap().remove("columns");
                b
            },
            "columns",
        ),
        (
            {
                let mut b = good.clone();
                b["columns"] = json!([]);
                b
            },
            "at least one compared column",
        ),
        (
            {
                let mut b = good.clone();
                b["columns"][0]["name"] = json!("hukou");
                b
            },
            "no item hukou",
        ),
        (
            {
                let mut b = good.clone();
                b["columns"][0]["kind"] = json!("fingerprint");
                b
            },
            "fingerprint",
        ),
        (
            {
                let mut b = good.clone();
                b["columns"][1]["levels"] = json!(["surname_only"]);
                b
            },
            "does not apply",
        ),
        (
            {
                let mut b = good.clone();
                b["blocking"] = json!([]);
                b
            },
            "blocking rule",
        ),
        (
            {
                let mut b = good.clone();
                b["blocking"] = json!([{"columns": ["district"]}]);
                b
            },
            "no item district",
        ),
        (
            {
                let mut b = good.clone();
                b["thresholds"] = json!({"link": 0.4, "review": 0.6});
                b
            },
            "thresholds",
        ),
        (
            {
                let mut b = good.clone();
                b["max_block_size"] = json!(0);
                b
            },
            "max_block_size",
        ),
        (
            {
                let mut b = good.clone();
                b["right"]["resource"] = json!("999999-99999");
                b
            },
            "no resource",
        ),
        (
            {
                let mut b = good.clone();
                b["left"]["only_missing"] = json!("passport");
                b
            },
            "no item passport",
        ),
        (
            {
                let mut b = good.clone();
                b["left"]["colour"] = json!("blue");
                b
            },
            "colour",
        ),
    ];
    for (body, says) in cases {
        let (status, problem, _) = json_of(
            app.post_json("/api/v1/linkage/jobs", Some(&w.cast.admin), &body)
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{detail} should say {says}");
    }
    let (_, list, _) = json_of(app.get("/api/v1/linkage/jobs", Some(&w.cast.admin)).await).await;
    assert_eq!(list["total"], 0, "no refused job was queued");
    let res = app
        .get(
            "/api/v1/linkage/jobs/1/results?class=maybe",
            Some(&w.cast.admin),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.post_json("/api/v1/linkage/jobs", None, &good).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn only_who_may_read_both_sides_runs_a_job(app: &TestApp) {
    let w = world(app).await;
    let body = job_body(&w);
    // 人社局 links its own extract, but reads the population's names and
    // birth dates only masked: no grant with plain values.
    let (status, problem, _) = json_of(
        app.post_json("/api/v1/linkage/jobs", Some(&w.cast.consumer), &body)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("plain"),
        "{problem}"
    );
    // 公安局 may not link another department's records.
    let (status, problem, _) = json_of(
        app.post_json("/api/v1/linkage/jobs", Some(&w.cast.provider), &body)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    // A third department reads neither.
    app.seed_user("mzj", "mzj_officer", &[Role::DataOfficer])
        .await;
    let token = app.login("mzj_officer").await;
    let (status, _, _) = json_of(
        app.post_json("/api/v1/linkage/jobs", Some(&token), &body)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The provider of the population links its own table against itself.
    let mut own = body.clone();
    own["left"] = json!({"resource": w.population});
    let job = run_job(app, &w.cast.provider, &own).await;
    assert_eq!(job["department"], "gaj");
    assert!(job["counts"]["matches"].as_i64().unwrap() >= PEOPLE as i64);
    // Its results are its own: 人社局 does not see them.
    let id = job["id"].as_i64().unwrap();
    let res = app
        .get(
            &format!("/api/v1/linkage/jobs/{id}/results"),
            Some(&w.cast.consumer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

async fn the_console_shows_the_evidence_and_records_a_decision(app: &TestApp) {
    let w = world(app).await;
    let job = run_job(app, &w.cast.admin, &job_body(&w)).await;
    let id = job["id"].as_i64().unwrap();
    let (client, cookie, csrf) = crate::web::console_session(app, "admin").await;
    let page = |path: String| {
        let cookie = cookie.clone();
        let client = client.clone();
        async move {
            let res = client
                .get(app.url(&path))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    let (status, html) = page("/console/linkage".into()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(&format!("/console/linkage/{id}")), "{html}");
    let (status, html) = page(format!("/console/linkage/{id}?lang=en")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Candidate pairs"), "{html}");
    let (status, html) = page(format!("/console/linkage/{id}/review")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let unsure = person(UNCERTAIN);
    assert!(html.contains(&unsure.name), "{html}");
    assert!(html.contains("成都市双流区东升街道7号"), "{html}");
    assert!(html.contains(&unsure.address), "{html}");
    assert!(!html.contains("<script"), "no JavaScript");
    // The pair's number, from its accept form.
    let marker = format!("/console/linkage/{id}/review/");
    let at = html.find(&marker).expect("a decision form");
    let pair: i64 = html[at + marker.len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Without the CSRF token the form is refused.
    let res = client
        .post(app.url(&format!("/console/linkage/{id}/review/{pair}/accept")))
        .header("cookie", cookie.clone())
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client
        .post(app.url(&format!("/console/linkage/{id}/review/{pair}/reject")))
        .header("cookie", cookie.clone())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_redirection() || res.status() == StatusCode::OK,
        "{}",
        res.status()
    );
    let (_, decided, _) = json_of(
        app.get(&format!("/api/v1/linkage/jobs/{id}"), Some(&w.cast.admin))
            .await,
    )
    .await;
    assert_eq!(decided["counts"]["rejected"], 1, "{decided}");
}

/// The same keyless records linked against the population registry itself:
/// its golden values, named by element, its records by ID number.
async fn the_office_links_against_the_person_registry(app: &TestApp) {
    let cast = app.cast().await;
    for (code, name) in [
        ("person.citizen_id", "公民身份号码"),
        ("person.name", "姓名"),
        ("person.birth_date", "出生日期"),
        ("person.household_address", "户籍地址"),
    ] {
        let (status, body, _) = json_of(
            app.post_json(
                "/api/v1/elements",
                Some(&cast.admin),
                &json!({"code": code, "name": name, "authority": "gaj"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut spec = population_spec();
    for (i, element) in [
        "person.citizen_id",
        "person.name",
        "person.birth_date",
        "person.household_address",
    ]
    .iter()
    .enumerate()
    {
        spec["items"][i]["element"] = json!(element);
    }
    resource(app, &cast, &cast.provider, &spec, population_csv()).await;
    let extract = resource(app, &cast, &cast.consumer, &extract_spec(), extract_csv()).await;
    let (status, body, _) = json_of(
        app.post_json("/api/v1/registry/verify", Some(&cast.admin), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let body = json!({
        "left": {"resource": extract, "only_missing": "id_number"},
        "right": {"registry": "person"},
        "columns": [
            {"name": "name", "right_name": "person.name", "kind": "chinese_name"},
            {"name": "birth_date", "right_name": "person.birth_date", "kind": "date"},
            {"name": "address", "right_name": "person.household_address", "kind": "address"}
        ],
        "blocking": [{"columns": ["name"]}, {"columns": ["birth_date"]}, {"columns": ["address"]}],
        "thresholds": {"link": 0.95, "review": 0.05}
    });
    // A department links against resources it may read, not the registry.
    let (status, refused, _) = json_of(
        app.post_json("/api/v1/linkage/jobs", Some(&cast.consumer), &body)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    // What does not fit a registry is a 400 that says why.
    for (tweak, why) in [
        (json!({"right": {"registry": "car"}}), "is not a registry"),
        (
            json!({"left": {"registry": "person"}}),
            "can only be the right side",
        ),
        (
            json!({"right": {"registry": "person", "id": "x"}}),
            "named by their keys",
        ),
    ] {
        let mut bad = body.clone();
        for (k, v) in tweak.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let (status, answer, _) = json_of(
            app.post_json("/api/v1/linkage/jobs", Some(&cast.admin), &bad)
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer.to_string().contains(why), "{answer}");
    }
    let mut foreign = body.clone();
    foreign["columns"][2]["right_name"] = json!("entity.name");
    let (status, answer, _) = json_of(
        app.post_json("/api/v1/linkage/jobs", Some(&cast.admin), &foreign)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer.to_string().contains("holds no element entity.name"),
        "{answer}"
    );

    let job = run_job(app, &cast.admin, &body).await;
    assert_eq!(job["right_resource"], "registry:person", "{job}");
    assert_eq!(job["figures"]["right_rows"], PEOPLE + 10, "{job}");
    let id = job["id"].as_i64().unwrap();
    let matches = ids(&pairs(app, &cast.admin, id, "match").await);
    the_plain_records_and_the_swap_link_and_the_stranger_does_not(&matches);
}
