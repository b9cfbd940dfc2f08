//! Catalog search over HTTP, and the catalog's spreadsheet round trip.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Cast, TestApp, json_of, population_spec};

on_both_backends!(
    search_finds_chinese_words_with_facets_and_respects_drafts,
    the_catalog_round_trips_through_a_workbook,
    a_bad_workbook_is_refused_whole_with_row_and_column,
);

async fn register(app: &TestApp, cast: &Cast, spec: Value, publish: bool) -> String {
    let (status, body, _) = json_of(
        app.post_json("/api/v1/resources", Some(&cast.provider), &spec)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    if publish {
        app.publish(cast, &code).await;
    }
    code
}

fn spec(name: &str, summary: &str, keywords: &[&str], share: &str) -> Value {
    json!({
        "name": name, "summary": summary, "share_type": share, "update_cycle": "monthly",
        "share_condition": (share != "unconditional").then_some("依申请"),
        "keywords": keywords, "topics": ["公共安全"], "key_items": ["id"],
        "items": [{"key": "id", "name": "编号", "grade": 1}, {"key": "note", "name": "备注", "grade": 1}]
    })
}

async fn search(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    let (status, body, _) = json_of(
        app.get(&format!("/api/v1/resources?{query}"), Some(token))
            .await,
    )
    .await;
    (status, body)
}

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_finds_chinese_words_with_facets_and_respects_drafts(app: &TestApp) {
    let cast = app.cast().await;
    let population = register(app, &cast, population_spec("unconditional"), true).await;
    let insurance = register(
        app,
        &cast,
        spec(
            "社会保险参保信息",
            "职工养老保险参保与缴费",
            &["社保"],
            "conditional",
        ),
        true,
    )
    .await;
    let vehicles = register(
        app,
        &cast,
        spec(
            "机动车登记信息",
            "机动车注册、转移、注销登记",
            &["车辆"],
            "unconditional",
        ),
        true,
    )
    .await;
    let draft = register(
        app,
        &cast,
        spec("暂住人口登记", "未发布的草稿", &[], "unconditional"),
        false,
    )
    .await;

    let (status, page) = search(app, &cast.consumer, "q=人口").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        codes(&page),
        vec![population.clone()],
        "the draft is not found by others"
    );
    let (_, page) = search(app, &cast.consumer, "q=社保").await;
    assert_eq!(codes(&page), vec![insurance.clone()]);
    let (_, page) = search(app, &cast.consumer, "q=车辆").await;
    assert_eq!(codes(&page), vec![vehicles.clone()]);
    let (_, page) = search(app, &cast.consumer, "q=不动产").await;
    assert_eq!(page["total"], 0);

    // Facets count the matches, with labels.
    let (_, page) = search(app, &cast.consumer, "").await;
    assert_eq!(page["total"], 3);
    let shares = page["facets"]["share_type"].as_array().unwrap();
    let unconditional = shares
        .iter()
        .find(|f| f["value"] == "unconditional")
        .unwrap();
    assert_eq!(
        (
            unconditional["count"].as_u64(),
            unconditional["label"].as_str()
        ),
        (Some(2), Some("无条件共享"))
    );
    let provider = &page["facets"]["provider"][0];
    assert_eq!(
        (provider["value"].as_str(), provider["count"].as_u64()),
        (Some("gaj"), Some(3))
    );
    let (_, page) = search(app, &cast.consumer, "share_type=conditional").await;
    assert_eq!(codes(&page), vec![insurance.clone()]);

    // Paging is stable: two pages of two make the whole.
    let (_, first) = search(app, &cast.consumer, "sort=name&limit=2").await;
    let (_, second) = search(app, &cast.consumer, "sort=name&limit=2&offset=2").await;
    let mut all = codes(&first);
    all.extend(codes(&second));
    all.sort();
    let mut expected = vec![population, insurance, vehicles];
    expected.sort();
    assert_eq!(all, expected);

    // The provider sees its draft when it asks for its own; others may not ask for drafts.
    let (_, page) = search(app, &cast.provider, "provider=gaj&status=draft").await;
    assert_eq!(codes(&page), vec![draft]);
    let (status, _) = search(app, &cast.consumer, "status=draft").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for bad in ["sort=random", "limit=0", "colour=red"] {
        assert_eq!(
            search(app, &cast.consumer, bad).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // Strange queries are just words.
    for odd in ["q=*:*", "q=%22%E4%BA%BA%E5%8F%A3", "q=a:b(c)[d]"] {
        assert_eq!(
            search(app, &cast.consumer, odd).await.0,
            StatusCode::OK,
            "{odd}"
        );
    }
}

async fn export(app: &TestApp, token: &str, format: &str) -> reqwest::Response {
    app.get(
        &format!("/api/v1/catalog/export?format={format}"),
        Some(token),
    )
    .await
}

async fn the_catalog_round_trips_through_a_workbook(app: &TestApp) {
    let cast = app.cast().await;
    register(app, &cast, population_spec("unconditional"), true).await;
    register(
        app,
        &cast,
        spec(
            "社会保险参保信息",
            "职工养老保险",
            &["社保", "养老"],
            "conditional",
        ),
        true,
    )
    .await;
    let res = export(app, &cast.admin, "xlsx").await;
    assert_eq!(res.status(), StatusCode::OK);
    let workbook = res.bytes().await.unwrap();
    let csv = export(app, &cast.admin, "csv").await.bytes().await.unwrap();
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "CSV for spreadsheets carries a BOM"
    );
    let (_, before, _) = json_of(export(app, &cast.admin, "json").await).await;

    // Into an empty platform: only its platform office exists.
    let other = TestApp::sqlite().await;
    other
        .seed_user(
            "sjj",
            "admin",
            &[rongshu_core::account::Role::PlatformAdmin],
        )
        .await;
    let admin = other.login("admin").await;
    let res = other
        .client
        .post(other.url("/api/v1/catalog/import"))
        .bearer_auth(&admin)
        .body(workbook.to_vec())
        .send()
        .await
        .unwrap();
    let (status, body, _) = json_of(res).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created"].as_array().unwrap().len(), 2);
    let (_, after, _) = json_of(export(&other, &admin, "json").await).await;
    let strip = |v: &Value| -> Vec<Value> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(
                |e| json!({ "code": e["code"], "provider": e["provider_code"], "spec": e["spec"] }),
            )
            .collect()
    };
    assert_eq!(
        strip(&after),
        strip(&before),
        "the same catalog, code for code"
    );
    other.stop().await;
}

async fn a_bad_workbook_is_refused_whole_with_row_and_column(app: &TestApp) {
    let cast = app.cast().await;
    register(app, &cast, population_spec("unconditional"), true).await;
    let workbook = export(app, &cast.admin, "xlsx")
        .await
        .bytes()
        .await
        .unwrap();
    // Not a workbook at all.
    let res = app
        .client
        .post(app.url("/api/v1/catalog/import"))
        .bearer_auth(&cast.provider)
        .body(b"id,name\n1,2\n".to_vec())
        .send()
        .await
        .unwrap();
    let (status, body, ct) = json_of(res).await;
    assert_eq!(
        (status, ct.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "application/problem+json")
    );
    assert_eq!(body["problems"][0]["row"], 0);
    // A data officer may not import another department's rows.
    let res = app
        .client
        .post(app.url("/api/v1/catalog/import"))
        .bearer_auth(&cast.consumer)
        .body(workbook.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Its own, but with codes that exist already: refused, nothing half-made.
    let before = app.store.resources(None).await.unwrap().len();
    let res = app
        .client
        .post(app.url("/api/v1/catalog/import"))
        .bearer_auth(&cast.provider)
        .body(workbook.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(app.store.resources(None).await.unwrap().len(), before);
}
