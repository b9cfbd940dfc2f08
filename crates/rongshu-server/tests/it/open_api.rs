//! The open API end to end: signing up for a key, reading a release with
//! the data API's filters and paging (and nothing beyond the release), the
//! per-key rate limit, revoking keys, the terms-and-approval path of a
//! conditional release, and downloads of a past release version.

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use rongshu_server::ServerConfig;
use serde_json::{Value, json};

use crate::on_both_backends_with;
use crate::opendata::{open_population, publish_release, reviewer};
use crate::support::{Cast, TestApp, json_of, population_csv, population_spec};

on_both_backends_with!(
    small_open_limit;
    keys_read_exactly_the_release_with_filters_and_paging_until_revoked,
    the_rate_limit_answers_429_with_retry_after,
    a_conditional_release_needs_accepted_terms_and_the_providers_approval,
    past_versions_download_as_the_batch_left_them,
    the_signup_page_gives_a_key_once,
    annual_plans_show_progress_against_publication,
    a_later_batch_with_personal_values_suspends_the_release_until_reviewed,
);

const OPEN_LIMIT: u32 = 15;

fn small_open_limit(config: &mut ServerConfig) {
    config.open_rate_limit = rongshu_core::rate::RateLimit::clamped(OPEN_LIMIT);
}

async fn with_key(app: &TestApp, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(key) = key {
        req = req.header("x-api-key", key);
    }
    req.send().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str, key: Option<&str>) -> (StatusCode, Value) {
    let (status, body, _) = json_of(with_key(app, path, key).await).await;
    (status, body)
}

async fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(path))
        .header("x-api-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let (status, body, _) = json_of(res).await;
    (status, body)
}

async fn sign_up(app: &TestApp, email: &str) -> String {
    let (status, body, _) = json_of(
        app.post_json(
            "/api/open/v1/signup",
            None,
            &json!({"email": email, "name": "李研究", "organisation": "某大学",
                    "password": "correct horse battery"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["key"].as_str().unwrap().to_owned()
}

/// The population release of the Jinjiang rows: names masked, IDs dropped.
async fn jinjiang_release(app: &TestApp, name: &str, open_type: &str) -> (Value, String, Cast) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = open_population(app, &cast, 12).await;
    let release = publish_release(
        app,
        &cast,
        &reviewer,
        json!({"resource": code, "name": name, "title": "锦江区人口",
               "open_type": open_type, "open_condition": (open_type == "conditional").then_some("仅限科研用途"),
               "filters": [{"item": "district", "op": "eq", "value": "锦江区"}]}),
    )
    .await;
    (release, code, cast)
}

fn children(records: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["children"].as_i64().unwrap())
        .collect();
    out.sort_unstable();
    out
}

async fn keys_read_exactly_the_release_with_filters_and_paging_until_revoked(app: &TestApp) {
    let (release, _, cast) = jinjiang_release(app, "jinjiang", "open").await;
    let records = "/api/open/v1/datasets/jinjiang/records";

    // No key, or a made-up one: 401 with the way to get one.
    let (status, body) = get_json(app, records, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["detail"].as_str().unwrap().contains("/signup"),
        "{body}"
    );
    let (status, _) = get_json(app, records, Some("rok_0000")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Sign-up checks what it is given, and an address registers once.
    for (bad, field) in [
        (
            json!({"email": "not-an-address", "name": "某", "password": "long enough pw"}),
            "email",
        ),
        (
            json!({"email": "a@b.cn", "name": " ", "password": "long enough pw"}),
            "name",
        ),
        (
            json!({"email": "a@b.cn", "name": "某", "password": "short"}),
            "password",
        ),
    ] {
        let (status, body, _) =
            json_of(app.post_json("/api/open/v1/signup", None, &bad).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["detail"].as_str().unwrap().starts_with(field),
            "{body}"
        );
    }
    let key = sign_up(app, "Li.Yanjiu@Example.cn").await;
    assert!(key.starts_with("rok_"), "{key}");
    let (status, body, _) = json_of(
        app.post_json(
            "/api/open/v1/signup",
            None,
            &json!({"email": "li.yanjiu@example.cn", "name": "冒名", "password": "another password"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The release's rows and items only: Jinjiang, names masked, no IDs.
    let (status, page) = get_json(app, &format!("{records}?total=true"), Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 6);
    assert_eq!(page["masked"], json!(["name"]));
    for r in page["records"].as_array().unwrap() {
        assert_eq!(r["district"], "锦江区");
        assert!(r["name"].as_str().unwrap().starts_with("张*"), "{r}");
        assert!(r.get("id_number").is_none(), "{r}");
    }
    assert_eq!(children(&page["records"]), [0, 0, 1, 1, 2, 2]);

    // The data API's filters, sort and keyset paging.
    let (_, page) = get_json(
        app,
        &format!("{records}?children.gte=1&sort=-children&limit=3&total=true"),
        Some(&key),
    )
    .await;
    assert_eq!(page["total"], 4);
    assert_eq!(children(&page["records"]), [1, 2, 2]);
    let next = page["next"].as_str().unwrap();
    let (_, rest) = get_json(
        app,
        &format!("{records}?children.gte=1&sort=-children&limit=3&after={next}"),
        Some(&key),
    )
    .await;
    assert_eq!(children(&rest["records"]), [1]);
    assert!(rest["next"].is_null());
    // A filter cannot reach past the view: Wuhou rows stay out.
    let (_, none) = get_json(app, &format!("{records}?district=武侯区"), Some(&key)).await;
    assert_eq!(none["records"], json!([]));

    // Masked and dropped items cannot choose rows, not even exactly.
    for (query, status) in [
        ("name=张零", StatusCode::FORBIDDEN),
        ("sort=name", StatusCode::FORBIDDEN),
        ("id_number=510104198001010001", StatusCode::FORBIDDEN),
        ("children=many", StatusCode::BAD_REQUEST),
        ("after=garbage", StatusCode::BAD_REQUEST),
    ] {
        let (got, body) = get_json(app, &format!("{records}?{query}"), Some(&key)).await;
        assert_eq!(got, status, "{query}: {body}");
    }
    let (status, _) = get_json(app, "/api/open/v1/datasets/nothing/records", Some(&key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every call that read rows is counted for the dataset.
    let id = release["id"].as_i64().unwrap();
    let (_, shown) = get_json(app, &format!("/api/v1/releases/{id}"), None).await;
    assert_eq!(shown["api_calls"], 4, "{shown}");
    let page = app
        .get("/datasets/jinjiang", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<dd id=\"api-calls\">4</dd>"),
        "the dataset page shows the calls"
    );

    // A second key needs the password; wrong ones are refused.
    let (status, _, _) = json_of(
        app.post_json(
            "/api/open/v1/keys",
            None,
            &json!({"email": "li.yanjiu@example.cn", "password": "wrong password!"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, second, _) = json_of(
        app.post_json(
            "/api/open/v1/keys",
            None,
            &json!({"email": "LI.YANJIU@example.cn", "password": "correct horse battery", "label": "脚本"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second_key = second["key"].as_str().unwrap().to_owned();

    // The user lists both (no secrets) and revokes the first with the second.
    let (status, mine) = get_json(app, "/api/open/v1/keys", Some(&second_key)).await;
    assert_eq!(status, StatusCode::OK);
    let keys = mine["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(!mine.to_string().contains(&key), "no secret in the list");
    let first_id = keys[0]["id"].as_i64().unwrap();
    let path = format!("/api/open/v1/keys/{first_id}/revoke");
    let (status, revoked) = post_with_key(app, &path, &second_key, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, _) = get_json(app, records, Some(&key)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked key stops at once"
    );
    let (status, _) = post_with_key(app, &path, &second_key, &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Another user's key cannot revoke it; the platform office can.
    let other = sign_up(app, "other@example.cn").await;
    let second_id = second["key_info"]["id"].as_i64().unwrap();
    let (status, _) = post_with_key(
        app,
        &format!("/api/open/v1/keys/{second_id}/revoke"),
        &other,
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = json_of(app.get("/api/v1/open-users", Some(&cast.provider)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, users, _) = json_of(app.get("/api/v1/open-users", Some(&cast.admin)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["items"].as_array().unwrap().len(), 2, "{users}");
    let (status, _, _) = json_of(
        app.post_json(
            &format!("/api/v1/open-keys/{second_id}/revoke"),
            Some(&cast.admin),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get_json(app, records, Some(&second_key)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get_json(app, records, Some(&other)).await;
    assert_eq!(status, StatusCode::OK, "other keys are untouched");
}

async fn the_rate_limit_answers_429_with_retry_after(app: &TestApp) {
    jinjiang_release(app, "limited", "open").await;
    let key = sign_up(app, "busy@example.cn").await;
    let other = sign_up(app, "calm@example.cn").await;
    let path = "/api/open/v1/datasets/limited/records?limit=1";
    for n in 0..OPEN_LIMIT {
        let res = with_key(app, path, Some(&key)).await;
        assert_eq!(res.status(), StatusCode::OK, "call {n}");
    }
    let res = with_key(app, path, Some(&key)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // The limit is per key: another user's calls still pass.
    assert_eq!(
        with_key(app, path, Some(&other)).await.status(),
        StatusCode::OK
    );
    // A minute later (the test clock) the bucket is full again.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(
        with_key(app, path, Some(&key)).await.status(),
        StatusCode::OK
    );
}

async fn a_conditional_release_needs_accepted_terms_and_the_providers_approval(app: &TestApp) {
    let (release, _, cast) = jinjiang_release(app, "research-only", "conditional").await;
    let id = release["id"].as_i64().unwrap();
    let reviewer = app.login("gaj_reviewer").await;
    let key = sign_up(app, "scholar@example.cn").await;
    let records = "/api/open/v1/datasets/research-only/records";
    let download = "/api/v1/releases/research-only/download?format=csv";

    // Without a request: the terms are named, and how to accept them.
    let (status, body) = get_json(app, records, Some(&key)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["detail"].as_str().unwrap().contains("仅限科研用途"),
        "{body}"
    );
    assert_eq!(
        with_key(app, download, Some(&key)).await.status(),
        StatusCode::FORBIDDEN
    );

    let ask = "/api/open/v1/datasets/research-only/access-requests";
    let (status, _) = post_with_key(
        app,
        ask,
        &key,
        &json!({"purpose": "论文", "accept_terms": false}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post_with_key(
        app,
        ask,
        &key,
        &json!({"purpose": " ", "accept_terms": true}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, asked) = post_with_key(
        app,
        ask,
        &key,
        &json!({"purpose": "人口结构研究", "accept_terms": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{asked}");
    assert_eq!(asked["state"], "pending");
    let request = asked["id"].as_i64().unwrap();
    let (status, _) = post_with_key(
        app,
        ask,
        &key,
        &json!({"purpose": "再次", "accept_terms": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "one request at a time");
    let (status, body) = get_json(app, records, Some(&key)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["detail"].as_str().unwrap().contains("waiting"),
        "{body}"
    );

    // The provider sees it; another department does not.
    let list = format!("/api/v1/releases/{id}/access-requests");
    let (status, _, _) = json_of(app.get(&list, Some(&cast.consumer)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, listed, _) = json_of(app.get(&list, Some(&cast.provider)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["items"][0]["purpose"], "人口结构研究");

    // Only a reviewer decides; a rejection says why, and the user may ask again.
    let reject = format!("/api/v1/releases/{id}/access-requests/{request}/reject");
    let (status, _, _) = json_of(
        app.post_json(&reject, Some(&cast.provider), &json!({"reason": "x"}))
            .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a data officer is not a reviewer"
    );
    let (status, _, _) = json_of(app.post_json(&reject, Some(&reviewer), &json!({})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, rejected, _) = json_of(
        app.post_json(&reject, Some(&reviewer), &json!({"reason": "用途不明"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    let (_, mine) = get_json(app, &format!("{ask}/mine"), Some(&key)).await;
    assert_eq!(mine["state"], "rejected");
    assert_eq!(mine["reason"], "用途不明");
    let (status, _) = post_with_key(
        app,
        ask,
        &key,
        &json!({"purpose": "成都市人口结构研究（某大学课题）", "accept_terms": true}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let approve = format!("/api/v1/releases/{id}/access-requests/{request}/approve");
    let (status, approved, _) =
        json_of(app.post_json(&approve, Some(&reviewer), &json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["decided_by"], "user:gaj_reviewer");
    let (status, _, _) = json_of(app.post_json(&approve, Some(&reviewer), &json!({})).await).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Now the key reads and downloads it; nobody else does.
    let (status, page) = get_json(app, records, Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["records"].as_array().unwrap().len(), 6);
    let res = with_key(app, download, Some(&key)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert_eq!(
        with_key(app, download, None).await.status(),
        StatusCode::FORBIDDEN
    );
    let stranger = sign_up(app, "stranger@example.cn").await;
    assert_eq!(
        with_key(app, download, Some(&stranger)).await.status(),
        StatusCode::FORBIDDEN
    );
    let (status, _) = get_json(app, records, Some(&stranger)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn past_versions_download_as_the_batch_left_them(app: &TestApp) {
    let (_, code, cast) = jinjiang_release(app, "jinjiang-history", "open").await;
    let versions = "/api/v1/releases/jinjiang-history/versions";
    let (status, listed) = get_json(app, versions, None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let list = listed["versions"].as_array().unwrap();
    assert_eq!(list.len(), 1, "the batch the release was published over");
    let first = list[0]["version"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["current"], true);

    // A day later a second batch: person 0 now has 9 children, persons 12
    // and 13 arrive.
    app.clock.advance(chrono::Duration::days(1));
    let csv = population_csv(14).replacen(",锦江区,0,", ",锦江区,9,", 1);
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            csv,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, listed) = get_json(app, versions, None).await;
    let list = listed["versions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{listed}");
    assert_eq!(list[1]["version"], first.as_str());
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["current"], false);

    let rows = |csv: &str| -> Vec<String> {
        let mut v: Vec<String> = csv.lines().skip(1).map(str::to_owned).collect();
        v.sort();
        v
    };
    let now = with_key(
        app,
        "/api/v1/releases/jinjiang-history/download?format=csv",
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    let res = with_key(
        app,
        &format!("/api/v1/releases/jinjiang-history/download?format=csv&version={first}"),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"jinjiang-history-{first}.csv\"")
    );
    let then = res.text().await.unwrap();
    assert_eq!(now.lines().next(), then.lines().next(), "the same header");
    let children_of = |rows: &[String]| -> Vec<String> {
        let mut v: Vec<String> = rows
            .iter()
            .map(|r| r.split(',').nth(3).unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    // Then: six Jinjiang rows as they were; now: seven, one changed.
    let (then_rows, now_rows) = (rows(&then), rows(&now));
    assert_eq!(
        children_of(&then_rows),
        ["0", "0", "1", "1", "2", "2"],
        "{then}"
    );
    assert_eq!(
        children_of(&now_rows),
        ["0", "0", "1", "1", "2", "2", "9"],
        "{now}"
    );
    assert!(
        then_rows
            .iter()
            .all(|r| r.contains("锦江区") && r.starts_with("张*"))
    );
    assert!(
        !then.contains("510104"),
        "no ID number in a past version either"
    );

    // JSON of a past version too; an unknown version is a 404.
    let res = with_key(
        app,
        &format!("/api/v1/releases/jinjiang-history/download?format=json&version={first}"),
        None,
    )
    .await;
    let json: Vec<Value> = res.json().await.unwrap();
    assert_eq!(json.len(), 6);
    assert!(json.iter().all(|r| r.get("id_number").is_none()));
    let res = with_key(
        app,
        "/api/v1/releases/jinjiang-history/download?format=csv&version=b00",
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// The value of the form's hidden CSRF field.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

async fn the_signup_page_gives_a_key_once(app: &TestApp) {
    jinjiang_release(app, "from-the-form", "open").await;
    let res = app.client.get(app.url("/signup")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("rongshu_signup_form="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("<label for=\"email\">电子邮箱</label>"),
        "{html}"
    );
    assert!(!html.contains("<script"));
    let csrf = csrf_of(&html);
    let post = |fields: Vec<(&'static str, String)>, cookie: Option<String>| {
        let mut req = app.client.post(app.url("/signup")).form(&fields);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let fields = |email: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("email", email.to_owned()),
            ("name", "王数据".to_owned()),
            ("organisation", String::new()),
            ("password", "a long enough password".to_owned()),
        ]
    };

    // Without the form's cookie: refused.
    let res = post(fields("wang@example.cn"), None).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A bad address: said on the page, what was typed kept, no password echoed.
    let res = post(fields("wang-at-example"), Some(cookie.clone()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("role=\"alert\"") && html.contains("email"),
        "{html}"
    );
    assert!(html.contains("value=\"wang-at-example\""));
    assert!(!html.contains("a long enough password"));

    let res = post(fields("wang@example.cn"), Some(cookie.clone()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let html = res.text().await.unwrap();
    let at = html.find("value=\"rok_").unwrap() + "value=\"".len();
    let key = html[at..].split('"').next().unwrap().to_owned();
    let (status, page) = get_json(
        app,
        "/api/open/v1/datasets/from-the-form/records",
        Some(&key),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["records"].as_array().unwrap().len(), 6);

    // The same address again: told it is taken.
    let res = post(fields("wang@example.cn"), Some(cookie)).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("该邮箱已注册"));
}

async fn annual_plans_show_progress_against_publication(app: &TestApp) {
    // The test clock stands at 2026-03-02; the release is published today.
    let (_, released, cast) = jinjiang_release(app, "planned", "open").await;
    let (status, draft, _) = json_of(
        app.post_json(
            "/api/v1/resources",
            Some(&cast.provider),
            &population_spec("unconditional"),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let unreleased = draft["code"].as_str().unwrap().to_owned();
    let add = |token: String, body: Value| async move {
        let (status, body, _) = json_of(
            app.post_json("/api/v1/open-plans", Some(&token), &body)
                .await,
        )
        .await;
        (status, body)
    };
    let entry = |title: &str, resource: &str, due: &str| json!({"year": 2026, "title": title, "resource": resource, "due": due});
    let (status, on_time) = add(
        cast.provider.clone(),
        entry("锦江区人口统计", &released, "2026-03-31"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{on_time}");
    assert_eq!(on_time["status"], "on_time");
    let (_, overdue) = add(
        cast.provider.clone(),
        entry("人口年龄结构", &unreleased, "2026-02-28"),
    )
    .await;
    assert_eq!(overdue["status"], "overdue");
    let (_, pending) = add(
        cast.provider.clone(),
        entry("人口迁移统计", &unreleased, "2026-12-31"),
    )
    .await;
    assert_eq!(pending["status"], "pending");

    // Only the resource's department plans it, within the year, by role.
    let (status, _) = add(
        cast.consumer.clone(),
        entry("别人的数据", &released, "2026-05-01"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = add(
        cast.provider.clone(),
        entry("跨年", &released, "2027-01-01"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().unwrap().starts_with("due"),
        "{body}"
    );
    let (status, _) = add(
        cast.provider.clone(),
        entry("日期", &released, "31/12/2026"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let reviewer = app.login("gaj_reviewer").await;
    let (status, _) = add(reviewer, entry("审核人", &released, "2026-05-01")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Anyone reads the plans and the progress.
    let (status, plans, _) = json_of(app.get("/api/v1/open-plans?year=2026", None).await).await;
    assert_eq!(status, StatusCode::OK);
    let gaj = &plans["departments"][0];
    assert_eq!(
        gaj["progress"],
        json!({"planned": 3, "done": 1, "on_time": 1, "overdue": 1, "percent_done": 33})
    );
    let statuses: Vec<&str> = gaj["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["overdue", "on_time", "pending"], "by due day");
    let (_, other_year, _) = json_of(app.get("/api/v1/open-plans?year=2025", None).await).await;
    assert_eq!(other_year["departments"], json!([]));

    let html = app
        .get("/plans?year=2026", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<h1>年度数据开放计划 2026</h1>"), "{html}");
    assert!(html.contains("按时完成") && html.contains("已逾期") && html.contains("(33%)"));
    assert!(!html.contains("<script"));
    let html = app
        .get("/plans?year=2026&lang=en", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Annual open data plans") && html.contains("done on time"));

    // An entry taken out no longer counts.
    let id = pending["id"].as_i64().unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/open-plans/{id}")))
        .bearer_auth(&cast.consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/open-plans/{id}")))
        .bearer_auth(&cast.provider)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (_, plans, _) = json_of(app.get("/api/v1/open-plans?year=2026", None).await).await;
    assert_eq!(plans["departments"][0]["progress"]["percent_done"], 50);
}

async fn a_later_batch_with_personal_values_suspends_the_release_until_reviewed(app: &TestApp) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = open_population(app, &cast, 12).await;
    let release = publish_release(
        app,
        &cast,
        &reviewer,
        json!({"resource": code, "name": "kids-by-district", "title": "各区子女数",
               "items": ["district", "children"]}),
    )
    .await;
    let id = release["id"].as_i64().unwrap();
    assert_eq!(release["state"], "published");
    let key = sign_up(app, "watcher@example.cn").await;
    let download = "/api/v1/releases/kids-by-district/download?format=csv";
    assert_eq!(with_key(app, download, None).await.status(), StatusCode::OK);

    // A batch that keeps the data clean changes nothing.
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(12),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, shown, _) = json_of(
        app.get(&format!("/api/v1/releases/{id}"), Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(shown["state"], "published");

    // A mobile number typed into the district: off the portal at once.
    let dirty = population_csv(12).replacen(",锦江区,", ",13912345678,", 1);
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            dirty,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, shown, _) = json_of(
        app.get(&format!("/api/v1/releases/{id}"), Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(shown["state"], "suspended", "{shown}");
    assert_eq!(shown["blocking"], json!(["district"]));
    assert_eq!(
        with_key(app, download, None).await.status(),
        StatusCode::NOT_FOUND
    );
    let (status, _) = get_json(
        app,
        "/api/open/v1/datasets/kids-by-district/records",
        Some(&key),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = json_of(
        app.get("/api/3/action/package_show?id=kids-by-district", None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = json_of(app.get(&format!("/api/v1/releases/{id}"), None).await).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the public does not see a suspended release"
    );

    // Approval waits for the new hit to be dealt with; then it is back, masked.
    let approve = format!("/api/v1/releases/{id}/approve");
    let (status, _, _) = json_of(app.post_json(&approve, Some(&reviewer), &json!({})).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, treated, _) = json_of(
        app.post_json(
            &format!("/api/v1/releases/{id}/treatments"),
            Some(&cast.provider),
            &json!({"treatments": [{"item": "district", "action": "mask"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{treated}");
    let (status, back, _) =
        json_of(app.post_json(&approve, Some(&reviewer), &json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["state"], "published");
    let csv = with_key(app, download, None).await.text().await.unwrap();
    assert_eq!(csv.lines().count(), 13, "{csv}");
    assert!(!csv.contains("13912345678"), "{csv}");
}
