//! Citizen transparency: a person's access log lists exactly the reads that
//! touched that person (records, query, change feed, verification, export,
//! webhook), sign-in by a one-time code sent to the registered phone, and the
//! citizen's pages without JavaScript.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode as AxumStatus;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use rongshu_core::account::Role;
use rongshu_server::ServerConfig;
use rongshu_store::VerifyOutcome;
use serde_json::{Value, json};

use crate::support::{Cast, TestApp, chinese_digits, citizen_id, json_of, population_csv};
use crate::{on_both_backends, on_both_backends_with};

on_both_backends!(
    a_persons_access_log_lists_exactly_the_reads_that_touched_that_person,
    an_exports_people_are_on_record_past_its_first_page,
    sign_in_takes_a_fresh_code_and_refuses_what_it_should,
    staff_and_citizen_sign_ins_do_not_open_each_others_doors,
    the_citizen_pages_sign_in_and_list_reads_without_javascript,
);

on_both_backends_with!(
    codes_not_shown;
    outside_the_demo_the_answer_never_tells_who_is_registered,
);

fn codes_not_shown(config: &mut ServerConfig) {
    config.citizen.show_codes = false;
}

/// Person `n` of `population_csv`.
fn person(n: u32) -> String {
    citizen_id("510104", "19800101", n)
}

/// A citizen's session: the cookie to send and the CSRF token.
struct CitizenSession {
    cookie: String,
    csrf: String,
}

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

async fn ask_code(app: &TestApp, id: &str) -> (StatusCode, Value) {
    let (status, body, _) = json_of(
        app.post_json("/api/v1/citizen/otp", None, &json!({ "id_number": id }))
            .await,
    )
    .await;
    (status, body)
}

async fn try_login(app: &TestApp, id: &str, code: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/citizen/login",
        None,
        &json!({ "id_number": id, "code": code }),
    )
    .await
}

/// Sign in as the person of `id`, reading the code off the demo's answer.
async fn sign_in(app: &TestApp, id: &str) -> CitizenSession {
    let (status, body) = ask_code(app, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = body["demo_code"].as_str().expect("the demo shows the code");
    let res = try_login(app, id, code).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = set_cookie(&res, "rongshu_citizen").expect("a citizen cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let body: Value = res.json().await.unwrap();
    CitizenSession {
        cookie: cookie.split(';').next().unwrap().to_owned(),
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

async fn log_page(app: &TestApp, session: &CitizenSession, query: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/me/access-log{query}")))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    let (status, body, _) = json_of(res).await;
    (status, body)
}

/// Every entry of a person's log, newest first, following `next_before`.
async fn whole_log(app: &TestApp, session: &CitizenSession) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let (status, page) = log_page(app, session, &query).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["next_before"].as_i64() {
            Some(before) => query = format!("?limit=2&before={before}"),
            None => return entries,
        }
    }
}

/// An entry as `operation by who`, to compare logs with what was done.
fn said(entry: &Value) -> String {
    let who = match (
        entry["application"].as_str(),
        entry["user"].as_str(),
        entry["subscription"].as_i64(),
    ) {
        (Some(app), _, _) => format!("app {app}"),
        (None, Some(user), _) => format!("user {user}"),
        (None, None, Some(_)) => "subscription".to_owned(),
        _ => "nobody".to_owned(),
    };
    format!("{} by {who}", entry["operation"].as_str().unwrap())
}

async fn application_key(app: &TestApp, dept_admin: &str, name: &str) -> String {
    let res = app
        .post_json(
            "/api/v1/applications",
            Some(dept_admin),
            &json!({"name": name}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (status, body, _) = json_of(
        app.post_json(
            &format!("/api/v1/applications/{name}/tokens"),
            Some(dept_admin),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// A grant of plain values to the consumer's application; returns its id.
async fn plain_grant(app: &TestApp, cast: &Cast, code: &str, application: &str) -> i64 {
    let (status, request, _) = json_of(
        app.post_json(
            "/api/v1/share-requests",
            Some(&cast.consumer),
            &json!({
                "resource": code, "application": application,
                "items": ["id_number", "name", "birth_date", "district", "children"],
                "purpose": "data_verification", "purpose_text": "核对参保人员身份信息",
                "legal_basis": "《社会保险法》第五十八条", "duration_days": 90, "plain_wanted": true,
            }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    app.seed_user("gaj", "gaj_reviewer", &[Role::Reviewer])
        .await;
    let reviewer = app.login("gaj_reviewer").await;
    let (status, approved, _) = json_of(
        app.post_json(
            &format!("/api/v1/share-requests/{}/approve", request["id"]),
            Some(&reviewer),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    approved["grant_id"].as_i64().unwrap()
}

async fn load(app: &TestApp, cast: &Cast, code: &str, mode: &str, csv: String) {
    let (status, report, _) = json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches?mode={mode}"),
            &cast.provider,
            csv,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
}

/// A webhook receiver that takes everything.
async fn receiver() -> (String, tokio::task::JoinHandle<()>) {
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(|_: Bytes| async { AxumStatus::NO_CONTENT }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, task)
}

async fn a_persons_access_log_lists_exactly_the_reads_that_touched_that_person(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    // A..F are people 0..5: A, C, E in 锦江区, B, D, F in 武侯区.
    let csv = population_csv(6);
    load(app, &cast, &code, "upsert", csv.clone()).await;
    let lines: Vec<&str> = csv.lines().collect();
    let [a, b, c, d, e, f] = [0, 1, 2, 3, 4, 5].map(person);
    let nobody = person(7);
    let key = application_key(app, &cast.consumer, "社保核验").await;
    let grant = plain_grant(app, &cast, &code, "社保核验").await;
    // Change 7 deletes E, change 8 updates F.
    load(
        app,
        &cast,
        &code,
        "delete",
        format!("{}\n{}\n", lines[0], lines[5]),
    )
    .await;
    let f_updated = lines[6].replace(",武侯区,2,", ",武侯区,4,");
    assert_ne!(f_updated, lines[6]);
    load(
        app,
        &cast,
        &code,
        "upsert",
        format!("{}\n{f_updated}\n", lines[0]),
    )
    .await;

    let records = format!("/api/v1/resources/{code}/records");
    // 1. A person of the consumer reads A by key.
    let (status, body, _) = json_of(
        app.get(&format!("{records}?id_number={a}"), Some(&cast.consumer))
            .await,
    )
    .await;
    assert_eq!(
        (status, body["records"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    // 2. The application queries A and B.
    let (status, body, _) = json_of(
        app.post_json(
            &format!("/api/v1/resources/{code}/query"),
            Some(&key),
            &json!({"filters": [{"item": "id_number", "op": "in", "value": [a, b]}]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["records"].as_array().unwrap().len()),
        (StatusCode::OK, 2)
    );
    // 3. The change feed after the first batch: E's deletion only.
    let (status, body, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/changes?after=6&limit=1"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changes"][0]["op"], "delete", "{body}");
    // 4. The application verifies B's name.
    let (status, body, _) = json_of(
        app.post_json(
            &format!("/api/v1/verify/{code}"),
            Some(&key),
            &json!({"key": {"id_number": b}, "claims": {"name": format!("张{}", chinese_digits(1))}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"]["name"], "match");
    // 5. The consumer exports 武侯区: B, D and F.
    let res = app
        .get(
            &format!("/api/v1/resources/{code}/export?district=武侯区"),
            Some(&cast.consumer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap().lines().count(), 4);
    // 6. Reads that touch no one: an ID number not on record, a district with no one.
    for query in [format!("id_number={nobody}"), "district=高新区".to_owned()] {
        let (status, body, _) =
            json_of(app.get(&format!("{records}?{query}"), Some(&key)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["records"].as_array().unwrap().is_empty());
    }
    // 7. The provider reads D's district only: D is touched though no ID number comes back.
    let (status, body, _) = json_of(
        app.get(
            &format!("{records}?id_number={d}&fields=district"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["records"], json!([{"district": "武侯区"}]), "{body}");
    // 8. A webhook pushes the changes after E's deletion: F's update.
    let (url, _receiver) = receiver().await;
    let (status, sub, _) = json_of(
        app.post_json(
            "/api/v1/subscriptions",
            Some(&cast.consumer),
            &json!({"resource": code, "url": url, "after": 7}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    let mut pushed = false;
    for _ in 0..400 {
        let events = app
            .store
            .audit_events(Some("data.read"), 100)
            .await
            .unwrap();
        if events.iter().any(|e| e.detail["via"] == "webhook") {
            pushed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(pushed, "the webhook delivered");

    let expected: [(&str, &[&str]); 7] = [
        (
            &a,
            &["query by app 社保核验", "records by user rsj_officer"],
        ),
        (
            &b,
            &[
                "export by user rsj_officer",
                "verify by app 社保核验",
                "query by app 社保核验",
            ],
        ),
        (&c, &[]),
        (
            &d,
            &["records by user gaj_officer", "export by user rsj_officer"],
        ),
        (&e, &["changes by user rsj_officer"]),
        (
            &f,
            &["webhook by subscription", "export by user rsj_officer"],
        ),
        (&nobody, &[]),
    ];
    let mut logs = Vec::new();
    for (id, reads) in expected {
        let session = sign_in(app, id).await;
        let log = whole_log(app, &session).await;
        let got: Vec<String> = log.iter().map(said).collect();
        assert_eq!(got, reads, "the log of person {}", &id[14..17]);
        logs.push(log);
    }

    // What the log says of one read: who, which resource and items, under
    // which grant and purpose.
    let query = &logs[0][0];
    assert_eq!(query["department"], json!({"code": "rsj", "name": "rsj局"}));
    assert_eq!(
        query["resource"],
        json!({"code": code, "name": "人口基础信息"})
    );
    assert_eq!(query["grant"], grant);
    assert_eq!(query["purpose"], "data_verification");
    assert!(
        query["items"]
            .as_array()
            .unwrap()
            .contains(&json!({"code": "id_number", "name": "公民身份号码"})),
        "{query}"
    );
    assert!(query["at"].as_str().unwrap().starts_with("2026-03-02T09:"));
    // The department's person reads under the department's grant too.
    assert_eq!(logs[0][1]["grant"], grant);
    // The provider reads its own data under no grant.
    let provider_read = &logs[3][0];
    assert_eq!(provider_read["department"]["code"], "gaj");
    assert_eq!(provider_read["grant"], Value::Null);
    assert_eq!(provider_read["reader"], "provider");
    // Every way of reading names its grant: B's verification and E's feed.
    assert_eq!(logs[1][1]["grant"], grant);
    assert_eq!(
        logs[1][1]["items"],
        json!([{"code": "name", "name": "姓名"}])
    );
    assert_eq!(logs[4][0]["grant"], grant);
    assert_eq!(logs[4][0]["reader"], "consumer");
    assert_eq!(logs[5][0]["purpose"], "data_verification");
    assert_eq!(
        provider_read["items"],
        json!([{"code": "district", "name": "区县"}])
    );

    // No audit event names anyone by ID number, and the chain is whole.
    let everything =
        serde_json::to_string(&app.store.audit_events(None, 10_000).await.unwrap()).unwrap();
    for id in [&a, &b, &c, &d, &e, &f, &nobody] {
        assert!(
            !everything.contains(id.as_str()),
            "an ID number in the audit log"
        );
    }
    assert!(everything.contains("citizen.access_log"));
    // The side table is part of the record: the database refuses to change it.
    for tamper in [
        "DELETE FROM audit_people",
        "UPDATE audit_people SET seq = seq + 1",
    ] {
        assert!(app.store.execute_unchecked_for_tests(tamper).await.is_err());
    }
    assert!(matches!(
        app.store.verify_audit().await.unwrap(),
        VerifyOutcome::Intact { .. }
    ));
}

/// People whose ID numbers differ in birth date too, so there can be more
/// than a thousand of them.
fn many_people(n: u32) -> (String, Vec<String>) {
    let mut csv = String::from("id_number,name,birth_date,district,children,income\n");
    let mut ids = Vec::new();
    for i in 0..n {
        let id = citizen_id("510104", &format!("198001{:02}", 1 + i / 1000), i % 1000);
        csv.push_str(&format!(
            "{id},张{},1980-01-01,锦江区,0,100.00\n",
            chinese_digits(i)
        ));
        ids.push(id);
    }
    (csv, ids)
}

async fn an_exports_people_are_on_record_past_its_first_page(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    // An export reads 1,000 rows a page: three pages.
    let (csv, ids) = many_people(2_100);
    load(app, &cast, &code, "upsert", csv).await;
    for format in ["csv", "xlsx"] {
        let res = app
            .get(
                &format!("/api/v1/resources/{code}/export?format={format}&fields=district"),
                Some(&cast.consumer),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.bytes().await.unwrap();
    }
    for id in [&ids[0], &ids[1_500], &ids[2_099]] {
        let session = sign_in(app, id).await;
        let got: Vec<String> = whole_log(app, &session).await.iter().map(said).collect();
        assert_eq!(
            got,
            ["export by user rsj_officer", "export by user rsj_officer"]
        );
    }
    // The event keeps the query that stands in for the rows.
    let exports = app.store.audit_events(Some("data.read"), 10).await.unwrap();
    let export = exports
        .iter()
        .find(|e| e.detail["operation"] == "export")
        .unwrap();
    assert_eq!(export.detail["query"]["format"], "xlsx");
    assert_eq!(export.detail["query"]["filters"], json!([]));
}

/// The telecoms office's register of mobiles, the authoritative source of
/// `person.mobile`: person 0 has 13800000000.
async fn phone_register(app: &TestApp, cast: &Cast) {
    for (element, name, authority) in [
        ("person.citizen_id", "公民身份号码", "gaj"),
        ("person.mobile", "手机号码", "tel"),
    ] {
        app.seed_user(
            authority,
            &format!("{authority}_steward"),
            &[Role::DataOfficer],
        )
        .await;
        let (status, body, _) = json_of(
            app.post_json(
                "/api/v1/elements",
                Some(&cast.admin),
                &json!({"code": element, "name": name, "description": "", "authority": authority}),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let tel = app.login("tel_steward").await;
    let (status, body, _) = json_of(
        app.post_json(
            "/api/v1/resources",
            Some(&tel),
            &json!({
                "name": "手机用户实名登记信息", "summary": "实名登记", "share_type": "none",
                "share_condition": "涉及个人通信信息，不予共享",
                "update_cycle": "daily", "classification": "3-01-001", "key_items": ["record_no"],
                "items": [
                    {"key": "record_no", "name": "记录编号", "type": "string", "required": true, "grade": 1},
                    {"key": "phone", "name": "手机号码", "type": "string", "required": true, "grade": 3, "element": "person.mobile"},
                    {"key": "id_number", "name": "证件号码", "type": "string", "grade": 3, "element": "person.citizen_id"}
                ]
            }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    let res = app
        .post_json(
            &format!("/api/v1/resources/{code}/submit"),
            Some(&tel),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post_json(
            &format!("/api/v1/resources/{code}/approve"),
            Some(&cast.admin),
            &json!({"comment": "同意"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = format!(
        "record_no,phone,id_number\nTX1,13900000009,{}\nTX2,13800000000,{}\n",
        person(0),
        person(0)
    );
    let res = app
        .post_csv(&format!("/api/v1/resources/{code}/batches"), &tel, csv)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// The code the demo phone got last, waiting for it a little (it is sent
/// after the answer).
async fn code_sent_to(app: &TestApp, phone: &str, not: Option<&str>) -> Option<String> {
    for _ in 0..100 {
        if let Some(code) = app.phones.latest_to(phone)
            && Some(code.as_str()) != not
        {
            return Some(code);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

async fn sign_in_takes_a_fresh_code_and_refuses_what_it_should(app: &TestApp) {
    let cast = app.cast().await;
    phone_register(app, &cast).await;
    let a = person(0);
    let unregistered = person(9);

    // Not an ID number: said so (it tells nothing about anyone).
    let (status, body) = ask_code(app, "51010419800101001").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().starts_with("id_number:"));

    // The code goes to the newest registered mobile; the demo shows it too.
    let (status, asked) = ask_code(app, &a).await;
    assert_eq!(status, StatusCode::OK, "{asked}");
    let shown = asked["demo_code"].as_str().unwrap().to_owned();
    assert_eq!(
        code_sent_to(app, "13800000000", None).await.as_deref(),
        Some(shown.as_str())
    );
    assert_eq!(app.phones.latest_to("13900000009"), None);
    // An unregistered number gets the same answer, and no message goes out.
    let (status, other) = ask_code(app, &unregistered).await;
    assert_eq!(status, StatusCode::OK);
    let without_code = |mut v: Value| {
        v.as_object_mut().unwrap().remove("demo_code");
        v
    };
    assert_eq!(without_code(other.clone()), without_code(asked.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.phones.sent(), 1);
    // Asking again at once is refused, for both alike.
    assert_eq!(ask_code(app, &a).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        ask_code(app, &unregistered).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    // A wrong code is refused; the right one signs in, once.
    let wrong = if shown == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        try_login(app, &a, wrong).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_login(app, &a, "12345").await.status(),
        StatusCode::BAD_REQUEST
    );
    let res = try_login(app, &a, &shown).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookie(&res, "rongshu_citizen").is_some());
    assert_eq!(
        try_login(app, &a, &shown).await.status(),
        StatusCode::UNAUTHORIZED,
        "a code signs in once"
    );

    // An expired code is refused.
    app.clock.advance(chrono::Duration::seconds(61));
    let (_, asked) = ask_code(app, &a).await;
    let code = asked["demo_code"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::minutes(5));
    let res = try_login(app, &a, &code).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (_, problem, _) = json_of(res).await;
    assert!(problem["detail"].as_str().unwrap().contains("expired"));

    // Five wrong tries spend a code: the right one is refused after them.
    app.clock.advance(chrono::Duration::seconds(61));
    let (_, asked) = ask_code(app, &a).await;
    let code = asked["demo_code"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(
            try_login(app, &a, wrong).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        try_login(app, &a, &code).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // A new code starts afresh.
    app.clock.advance(chrono::Duration::seconds(61));
    let session = sign_in(app, &a).await;
    assert_eq!(log_page(app, &session, "").await.0, StatusCode::OK);
    // A session ends on its own after half an hour.
    app.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(
        log_page(app, &session, "").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Every step is on record under the person's hash, never the number.
    let events = app.store.audit_events(None, 1_000).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "citizen.code",
        "citizen.login",
        "citizen.login_failed",
        "citizen.access_log",
    ] {
        assert!(actions.contains(&action), "{action} is audited");
    }
    let citizen_events: Vec<_> = events
        .iter()
        .filter(|e| e.action.starts_with("citizen."))
        .collect();
    assert!(citizen_events.iter().all(|e| {
        e.target
            .as_deref()
            .is_some_and(|t| t.starts_with("person:") && t.len() == 7 + 32)
    }));
    let everything = serde_json::to_string(&events).unwrap();
    assert!(!everything.contains(&a) && !everything.contains(&unregistered));
}

async fn outside_the_demo_the_answer_never_tells_who_is_registered(app: &TestApp) {
    let cast = app.cast().await;
    phone_register(app, &cast).await;
    let a = person(0);
    let (status, registered) = ask_code(app, &a).await;
    let (other_status, unregistered) = ask_code(app, &person(9)).await;
    assert_eq!((status, other_status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(registered, unregistered);
    assert!(registered.get("demo_code").is_none(), "{registered}");
    // The code reached the registered phone only, and signs in.
    let code = code_sent_to(app, "13800000000", None).await.unwrap();
    assert_eq!(app.phones.sent(), 1);
    let res = try_login(app, &a, &code).await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn staff_and_citizen_sign_ins_do_not_open_each_others_doors(app: &TestApp) {
    let cast = app.cast().await;
    // A staff session cookie and a staff token.
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "rsj_officer", "password": crate::support::PASSWORD}),
        )
        .await;
    let staff_cookie = set_cookie(&res, "rongshu_session")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = app
        .client
        .get(app.url("/api/v1/me/access-log"))
        .header("cookie", &staff_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.get("/api/v1/me/access-log", Some(&cast.consumer)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/me/access-log", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A citizen's cookie opens nothing of the staff's.
    let citizen = sign_in(app, &person(0)).await;
    let code = app.population_resource(&cast, "unconditional").await;
    for path in [
        "/api/v1/me".to_owned(),
        format!("/api/v1/resources/{code}/records"),
    ] {
        let res = app
            .client
            .get(app.url(&path))
            .header("cookie", &citizen.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let res = app
        .client
        .get(app.url("/console"))
        .header("cookie", &citizen.cookie)
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("<form class=\"login\""));

    // Signing out needs the session's CSRF token.
    let logout = |csrf: Option<&str>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/citizen/logout"))
            .header("cookie", &citizen.cookie);
        if let Some(csrf) = csrf {
            req = req.header("x-csrf-token", csrf);
        }
        req.send()
    };
    assert_eq!(logout(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        logout(Some("nope")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let res = logout(Some(&citizen.csrf)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        set_cookie(&res, "rongshu_citizen")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        log_page(app, &citizen, "").await.0,
        StatusCode::UNAUTHORIZED
    );
}

fn form_token(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

async fn the_citizen_pages_sign_in_and_list_reads_without_javascript(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    load(app, &cast, &code, "upsert", population_csv(2)).await;
    let a = person(0);
    let res = app
        .get(
            &format!("/api/v1/resources/{code}/records?id_number={a}"),
            Some(&cast.consumer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let html = app.get("/", None).await.text().await.unwrap();
    assert!(html.contains("href=\"/citizen\""), "the portal links to it");

    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/citizen")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let form_cookie = set_cookie(&res, "rongshu_citizen_form")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("action=\"/citizen/otp\"") && !html.contains("<script"));
    let csrf = form_token(&html);

    // Without the form's cookie the form is refused.
    let res = client
        .post(app.url("/citizen/otp"))
        .form(&[("csrf", csrf.as_str()), ("id_number", a.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A bad ID number is said so on the page.
    let res = client
        .post(app.url("/citizen/otp"))
        .header("cookie", &form_cookie)
        .form(&[("csrf", csrf.as_str()), ("id_number", "12345")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("公民身份号码有误"));

    let res = client
        .post(app.url("/citizen/otp"))
        .header("cookie", &form_cookie)
        .form(&[("csrf", csrf.as_str()), ("id_number", a.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let form_cookie = set_cookie(&res, "rongshu_citizen_form")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("演示环境"), "the demo shows the code");
    let shown = html
        .split("<code id=\"demo-code\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let csrf = form_token(&html);

    let wrong = if shown == "000000" {
        "111111"
    } else {
        "000000"
    };
    let res = client
        .post(app.url("/citizen/login"))
        .header("cookie", &form_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("id_number", a.as_str()),
            ("code", wrong),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let html = res.text().await.unwrap();
    assert!(html.contains("验证码错误"));
    let form_cookie_again = form_cookie.clone();
    let res = client
        .post(app.url("/citizen/login"))
        .header("cookie", &form_cookie_again)
        .form(&[
            ("csrf", csrf.as_str()),
            ("id_number", a.as_str()),
            ("code", shown.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/citizen/access-log");
    let session = set_cookie(&res, "rongshu_citizen")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let res = client
        .get(app.url("/citizen/access-log"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("rsj局（rsj）") && html.contains("记录查询"),
        "{html}"
    );
    assert!(html.contains("工作人员：rsj_officer") && html.contains("人口基础信息"));
    assert!(html.contains("2026-03-02 17:00:00"), "Beijing time");
    let csrf = form_token(&html);
    let html = client
        .get(app.url("/citizen/access-log?lang=en"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("records read") && html.contains("Who read my data"));

    let res = client
        .post(app.url("/citizen/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = client
        .get(app.url("/citizen/access-log"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/citizen");
}
