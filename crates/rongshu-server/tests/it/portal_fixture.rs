//! Open data for the portal's tests (HTTP and browser alike): two published
//! datasets of the provider gaj, made through the API as any provider would:
//! people by district (names masked, ID numbers dropped) under 公共安全, and
//! passenger numbers by district and month under 交通服务; and one proposal
//! that is never published.

use reqwest::StatusCode;
use rongshu_core::account::Role;
use serde_json::{Value, json};

use crate::support::{Cast, TestApp, json_of, population_csv, population_spec};

pub const PEOPLE: &str = "people-by-district";
pub const PEOPLE_TITLE: &str = "各区户籍人口子女数";
pub const TRANSPORT: &str = "bus-passengers";
pub const TRANSPORT_TITLE: &str = "各区县公交客运量";
pub const DRAFT: &str = "people-draft";

pub struct Portal {
    pub cast: Cast,
    /// The people dataset's release id.
    pub people_id: i64,
}

fn transport_csv() -> String {
    let mut csv = String::from("district_code,district,period,passengers\n");
    for (code, name, base) in [
        ("510104", "锦江区", 1200),
        ("510105", "青羊区", 900),
        ("510107", "武侯区", 1500),
    ] {
        for (i, month) in ["2024-01", "2024-02", "2024-03"].iter().enumerate() {
            csv.push_str(&format!("{code},{name},{month},{}\n", base + 100 * i));
        }
    }
    csv
}

async fn register(app: &TestApp, cast: &Cast, spec: &Value, csv: String) -> String {
    let (status, body, _) = json_of(
        app.post_json("/api/v1/resources", Some(&cast.provider), spec)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    app.publish(cast, &code).await;
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            csv,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    code
}

async fn call(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let (status, body, _) = json_of(app.post_json(path, Some(token), &body).await).await;
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// Propose with explicit treatments, and approve as the reviewer.
async fn release(app: &TestApp, p: (&Cast, &str), body: Value, treatments: Value) -> i64 {
    let (cast, reviewer) = p;
    let release = call(app, "/api/v1/releases", &cast.provider, body).await;
    let id = release["id"].as_i64().unwrap();
    if treatments.as_array().is_some_and(|t| !t.is_empty()) {
        call(
            app,
            &format!("/api/v1/releases/{id}/treatments"),
            &cast.provider,
            json!({ "treatments": treatments }),
        )
        .await;
    }
    call(
        app,
        &format!("/api/v1/releases/{id}/approve"),
        reviewer,
        json!({}),
    )
    .await;
    id
}

pub async fn open_portal(app: &TestApp) -> Portal {
    let cast = app.cast().await;
    app.seed_user("gaj", "gaj_reviewer", &[Role::Reviewer])
        .await;
    let reviewer = app.login("gaj_reviewer").await;
    let mut spec = population_spec("unconditional");
    spec["open_type"] = json!("open");
    let people = register(app, &cast, &spec, population_csv(30)).await;
    let transport = register(
        app,
        &cast,
        &json!({
            "name": "公交客运量", "summary": "各区县每月公交客运量（万人次）", "share_type": "unconditional",
            "open_type": "open", "update_cycle": "monthly", "classification": "3-01-001",
            "topics": ["交通服务"], "keywords": ["公交", "客运"],
            "key_items": ["district_code", "period"],
            "items": [
                {"key": "district_code", "name": "行政区划代码", "type": "string", "required": true, "grade": 1},
                {"key": "district", "name": "区县", "type": "string", "grade": 1},
                {"key": "period", "name": "统计期", "type": "string", "required": true, "grade": 1},
                {"key": "passengers", "name": "客运量", "type": "integer", "grade": 1}
            ]
        }),
        transport_csv(),
    )
    .await;
    let people_id = release(
        app,
        (&cast, &reviewer),
        json!({"resource": people, "name": PEOPLE, "title": PEOPLE_TITLE,
               "description": "按区县的户籍人口与子女数，姓名已脱敏。",
               "items": ["id_number", "name", "district", "children"]}),
        json!([{"item": "id_number", "action": "drop"}, {"item": "name", "action": "mask"}]),
    )
    .await;
    release(
        app,
        (&cast, &reviewer),
        json!({"resource": transport, "name": TRANSPORT, "title": TRANSPORT_TITLE,
               "description": "成都市各区县每月公交客运量。"}),
        json!([]),
    )
    .await;
    // Proposed and never approved: the portal must not know it.
    call(
        app,
        "/api/v1/releases",
        &cast.provider,
        json!({"resource": people, "name": DRAFT, "title": "未发布的人口草稿"}),
    )
    .await;
    Portal { cast, people_id }
}
