//! Sharing: share requests and their 10-working-day deadline, grants, and the
//! data API enforcing them — the access matrix, masking in every format, and
//! approval with narrowing, rejection and revocation.

use std::fmt::Write as _;

use reqwest::StatusCode;
use rongshu_core::account::Role;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Cast, TestApp, chinese_digits, citizen_id, json_of, population_csv};

on_both_backends!(
    the_access_matrix_holds,
    no_plain_id_or_name_reaches_a_consumer_without_a_plain_grant,
    an_unanswered_request_is_overdue_after_ten_working_days,
    an_approval_narrows_a_rejection_needs_a_reason_and_a_revocation_stops_reads,
    requests_are_refused_to_the_wrong_callers_and_for_bad_input,
    the_console_asks_answers_and_revokes_without_javascript,
);

const ITEMS: [&str; 6] = [
    "id_number",
    "name",
    "birth_date",
    "district",
    "children",
    "income",
];

/// Register an application of the consumer department and return a key for it.
pub(crate) async fn application_key(app: &TestApp, dept_admin: &str, name: &str) -> String {
    let res = app
        .post_json(
            "/api/v1/applications",
            Some(dept_admin),
            &json!({"name": name}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "application {name}");
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

pub(crate) async fn reviewer(app: &TestApp) -> String {
    app.seed_user("gaj", "gaj_reviewer", &[Role::Reviewer])
        .await;
    app.login("gaj_reviewer").await
}

async fn load(app: &TestApp, cast: &Cast, code: &str, n: u32) {
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(n),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "load {code}");
}

pub(crate) fn request_body(
    code: &str,
    application: &str,
    items: &[&str],
    plain: bool,
    days: i64,
) -> Value {
    json!({
        "resource": code,
        "application": application,
        "items": items,
        "purpose": "data_verification",
        "purpose_text": "核对参保人员身份信息",
        "legal_basis": "《社会保险法》第五十八条",
        "duration_days": days,
        "plain_wanted": plain,
    })
}

/// Submit a request as the consumer and return its id.
pub(crate) async fn ask(app: &TestApp, consumer: &str, body: &Value) -> i64 {
    let (status, r, _) = json_of(
        app.post_json("/api/v1/share-requests", Some(consumer), body)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["state"], "submitted");
    r["id"].as_i64().unwrap()
}

/// Approve as the provider's reviewer and return the grant id.
pub(crate) async fn approve(app: &TestApp, reviewer: &str, id: i64, body: &Value) -> i64 {
    let (status, r, _) = json_of(
        app.post_json(
            &format!("/api/v1/share-requests/{id}/approve"),
            Some(reviewer),
            body,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["state"], "approved");
    r["grant_id"].as_i64().unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Provider,
    /// An application key with a grant in force.
    WithGrant,
    /// A person of the consumer department (reads under its grants).
    ConsumerPerson,
    WithoutGrant,
    ExpiredGrant,
    RevokedGrant,
    Anonymous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Records,
    Query,
    Export,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Plain,
    Masked,
    Absent,
}

struct Expect {
    status: StatusCode,
    /// For 200: each of ITEMS, in order.
    items: [Shown; 6],
}

const P: Shown = Shown::Plain;
const M: Shown = Shown::Masked;
const A: Shown = Shown::Absent;
const ALL_PLAIN: [Shown; 6] = [P, P, P, P, P, P];
const NONE: [Shown; 6] = [A, A, A, A, A, A];

/// The expected answer for one cell of the matrix. The unconditional
/// resource's grant allows plain values; the conditional one's does not, and
/// covers id_number, name, district and children (not birth_date).
fn expected(share: &str, caller: Caller) -> Expect {
    let ok = |items| Expect {
        status: StatusCode::OK,
        items,
    };
    let refused = |status| Expect {
        status,
        items: NONE,
    };
    match (share, caller) {
        (_, Caller::Anonymous) => refused(StatusCode::UNAUTHORIZED),
        (_, Caller::Provider) => ok(ALL_PLAIN),
        ("unconditional", Caller::WithGrant | Caller::ConsumerPerson) => ok([P, P, P, P, P, A]),
        ("unconditional", _) => ok([M, M, P, P, P, A]),
        ("conditional", Caller::WithGrant | Caller::ConsumerPerson) => ok([M, M, A, P, P, A]),
        _ => refused(StatusCode::FORBIDDEN),
    }
}

/// The first person of `population_csv`, as loaded.
fn first_person() -> [String; 6] {
    [
        citizen_id("510104", "19800101", 0),
        format!("张{}", chinese_digits(0)),
        "1980-01-01".into(),
        "锦江区".into(),
        "0".into(),
        "10000.50".into(),
    ]
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Call one operation and return the status and, for 200, the first record
/// as item → text.
async fn call(
    app: &TestApp,
    code: &str,
    op: Op,
    token: Option<&str>,
) -> (StatusCode, Option<serde_json::Map<String, Value>>) {
    match op {
        Op::Records | Op::Query => {
            let res = match op {
                Op::Records => {
                    app.get(&format!("/api/v1/resources/{code}/records"), token)
                        .await
                }
                _ => {
                    app.post_json(
                        &format!("/api/v1/resources/{code}/query"),
                        token,
                        &json!({"filters": [{"item": "children", "op": "lte", "value": 2}], "limit": 50}),
                    )
                    .await
                }
            };
            let (status, body, _) = json_of(res).await;
            let first = body["records"][0].as_object().cloned();
            (status, first.filter(|_| status == StatusCode::OK))
        }
        Op::Export => {
            let res = app
                .get(
                    &format!("/api/v1/resources/{code}/export?format=csv"),
                    token,
                )
                .await;
            let status = res.status();
            let text = res.text().await.unwrap();
            if status != StatusCode::OK {
                return (status, None);
            }
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let row: Vec<&str> = lines.next().unwrap().split(',').collect();
            let record = header
                .iter()
                .zip(row)
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.to_owned())))
                .collect();
            (status, Some(record))
        }
    }
}

fn classify(record: &serde_json::Map<String, Value>) -> [Shown; 6] {
    let plain = first_person();
    let mut shown = [A; 6];
    for (i, key) in ITEMS.iter().enumerate() {
        shown[i] = match record.get(*key) {
            None => A,
            Some(v) if text_of(v) == plain[i] => P,
            Some(_) => M,
        };
    }
    shown
}

fn names(items: &[Shown; 6], which: Shown) -> String {
    let list: Vec<&str> = ITEMS
        .iter()
        .zip(items)
        .filter(|(_, s)| **s == which)
        .map(|(k, _)| *k)
        .collect();
    if list.is_empty() {
        "-".into()
    } else {
        list.join(" ")
    }
}

async fn the_access_matrix_holds(app: &TestApp) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let granted = application_key(app, &cast.consumer, "granted").await;
    let without = application_key(app, &cast.consumer, "without").await;
    let expired = application_key(app, &cast.consumer, "expired").await;
    let revoked = application_key(app, &cast.consumer, "revoked").await;

    let mut resources = Vec::new();
    let mut to_revoke = Vec::new();
    for share in ["unconditional", "conditional", "none"] {
        let code = app.population_resource(&cast, share).await;
        load(app, &cast, &code, 6).await;
        if share != "none" {
            let plain = share == "unconditional";
            let items = ["id_number", "name", "district", "children"];
            for (application, days) in [("granted", 365), ("expired", 1), ("revoked", 365)] {
                let id = ask(
                    app,
                    &cast.consumer,
                    &request_body(&code, application, &items, plain, days),
                )
                .await;
                let grant = approve(app, &reviewer, id, &json!({})).await;
                if application == "revoked" {
                    to_revoke.push(grant);
                }
            }
        }
        resources.push((share, code));
    }
    for grant in to_revoke {
        let res = app
            .post_json(
                &format!("/api/v1/grants/{grant}/revoke"),
                Some(&reviewer),
                &json!({"reason": "项目结束"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Two days on, the one-day grants have run out. Sessions have too: sign in again.
    app.clock.advance(chrono::Duration::days(2));
    let cast = app.cast_tokens().await;

    let callers: [(Caller, Option<&str>); 7] = [
        (Caller::Provider, Some(&cast.provider)),
        (Caller::WithGrant, Some(&granted)),
        (Caller::ConsumerPerson, Some(&cast.consumer)),
        (Caller::WithoutGrant, Some(&without)),
        (Caller::ExpiredGrant, Some(&expired)),
        (Caller::RevokedGrant, Some(&revoked)),
        (Caller::Anonymous, None),
    ];
    let mut table = String::new();
    writeln!(
        table,
        "{:<13} {:<15} {:<7} {:>6}  {:<51} {:<18} absent",
        "share", "caller", "op", "status", "plain", "masked"
    )
    .unwrap();
    let mut failures = Vec::new();
    for (share, code) in &resources {
        for (caller, token) in &callers {
            for op in [Op::Records, Op::Query, Op::Export] {
                let want = expected(share, *caller);
                let (status, record) = call(app, code, op, *token).await;
                let got = record.as_ref().map(classify).unwrap_or(NONE);
                writeln!(
                    table,
                    "{:<13} {:<15} {:<7} {:>6}  {:<51} {:<18} {}",
                    share,
                    format!("{caller:?}"),
                    format!("{op:?}").to_lowercase(),
                    status.as_u16(),
                    names(&got, P),
                    names(&got, M),
                    if status == StatusCode::OK {
                        names(&got, A)
                    } else {
                        "(refused)".into()
                    },
                )
                .unwrap();
                if status != want.status || got != want.items {
                    failures.push(format!(
                        "{share} × {caller:?} × {op:?}: got {status} {got:?}, want {} {:?}",
                        want.status, want.items
                    ));
                }
            }
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Reads under a grant say so in the audit: grant id, purpose, items.
    let reads = app
        .store
        .audit_events(Some("data.read"), 500)
        .await
        .unwrap();
    let under_grant = reads
        .iter()
        .find(|e| e.actor == "app:rsj/granted" && e.resource.as_deref() == Some(&resources[1].1))
        .unwrap();
    assert!(
        under_grant.detail["grant"].as_i64().is_some(),
        "{:?}",
        under_grant.detail
    );
    assert_eq!(under_grant.detail["purpose"], "data_verification");
    assert_eq!(
        under_grant.detail["masked"],
        json!(["id_number", "name"]),
        "{:?}",
        under_grant.detail
    );
}

async fn no_plain_id_or_name_reaches_a_consumer_without_a_plain_grant(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    load(app, &cast, &code, 20).await;
    let key = application_key(app, &cast.consumer, "masked_reader").await;
    let plain: Vec<String> = (0..20)
        .flat_map(|i| {
            [
                citizen_id("510104", "19800101", i),
                format!("张{}", chinese_digits(i)),
            ]
        })
        .collect();
    let mut bodies = Vec::new();
    for token in [&cast.consumer, &key] {
        for path in [
            format!("/api/v1/resources/{code}/records"),
            format!("/api/v1/resources/{code}/records?fields=id_number,name&limit=5"),
            format!("/api/v1/resources/{code}/records?name=张三"),
            format!("/api/v1/resources/{code}/records?district.in=锦江区,武侯区&children.gte=0"),
            format!("/api/v1/resources/{code}/export?format=csv"),
            format!("/api/v1/resources/{code}/export?format=json&fields=id_number,name"),
        ] {
            let res = app.get(&path, Some(token)).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            bodies.push((path, res.text().await.unwrap()));
        }
        let res = app
            .post_json(
                &format!("/api/v1/resources/{code}/query"),
                Some(token),
                &json!({"filters": [{"item": "district", "op": "in", "value": ["锦江区", "武侯区"]}],
                        "fields": ["id_number", "name", "district"]}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        bodies.push(("query".into(), res.text().await.unwrap()));
        // Ranges over a masked item would recover it digit by digit: refused.
        let res = app
            .post_json(
                &format!("/api/v1/resources/{code}/query"),
                Some(token),
                &json!({"filters": [{"item": "id_number", "op": "gt", "value": "5"}]}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let mut scanned = 0;
    for (path, body) in &bodies {
        for value in &plain {
            assert!(
                !body.contains(value.as_str()),
                "{path} leaked {value}: {body}"
            );
        }
        scanned += body.len();
    }
    // The bodies did carry the masked records.
    assert!(
        bodies.iter().all(|(_, b)| b.contains("510104********")),
        "{bodies:?}"
    );
    assert!(scanned > 1000);
}

async fn an_unanswered_request_is_overdue_after_ten_working_days(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "conditional").await;
    application_key(app, &cast.consumer, "sla_app").await;
    // The office keeps the calendar; nobody else may.
    let holidays =
        json!({"items": [{"date": "2026-03-05", "kind": "holiday", "name": "测试假日"}]});
    let put = |token: String, body: Value| {
        let client = app.client.clone();
        let url = app.url("/api/v1/holidays");
        async move {
            client
                .put(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = put(cast.consumer.clone(), holidays.clone()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let twice = json!({"items": [{"date": "2026-03-05", "kind": "holiday"}, {"date": "2026-03-05", "kind": "workday"}]});
    let res = put(cast.admin.clone(), twice).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = put(cast.admin.clone(), holidays).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (_, listed, _) = json_of(app.get("/api/v1/holidays", Some(&cast.consumer)).await).await;
    assert_eq!(listed["items"][0]["date"], "2026-03-05");

    // Monday 2 March; Thursday 5 March is off: ten working days end Tuesday 17 March.
    let id = ask(
        app,
        &cast.consumer,
        &request_body(&code, "sla_app", &["name", "district"], false, 90),
    )
    .await;
    let (_, r, _) = json_of(
        app.get(
            &format!("/api/v1/share-requests/{id}"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    assert_eq!(r["due_at"], "2026-03-17", "{r}");
    assert_eq!(r["age_working_days"], 0);
    assert_eq!(r["overdue"], false);
    assert_eq!(r["side"], "consumer");
    assert_eq!(r["events"][0]["kind"], "submitted");

    // Nine working days on (Monday 16 March): due, not overdue.
    app.clock.advance(chrono::Duration::days(14));
    let cast = app.cast_tokens().await;
    let (_, r, _) = json_of(
        app.get(
            &format!("/api/v1/share-requests/{id}"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(r["age_working_days"], 9, "{r}");
    assert_eq!(r["overdue"], false);
    assert_eq!(r["side"], "provider");
    let (_, overdue, _) = json_of(
        app.get("/api/v1/share-requests?overdue=true", Some(&cast.admin))
            .await,
    )
    .await;
    assert_eq!(overdue["total"], 0, "{overdue}");

    // Eleven working days on (Wednesday 18 March): overdue, and the office sees it.
    app.clock.advance(chrono::Duration::days(2));
    let cast = app.cast_tokens().await;
    let (_, list, _) = json_of(
        app.get("/api/v1/share-requests", Some(&cast.consumer))
            .await,
    )
    .await;
    let r = &list["items"][0];
    assert_eq!(r["age_working_days"], 11, "{r}");
    assert_eq!(r["overdue"], true);
    let (_, overdue, _) = json_of(
        app.get("/api/v1/share-requests?overdue=true", Some(&cast.admin))
            .await,
    )
    .await;
    assert_eq!(overdue["total"], 1, "{overdue}");
    assert_eq!(overdue["items"][0]["side"], "office");
    // Another department's people do not see it at all.
    app.seed_user("wsj", "wsj_officer", &[Role::DataOfficer])
        .await;
    let other = app.login("wsj_officer").await;
    let (_, none, _) = json_of(app.get("/api/v1/share-requests", Some(&other)).await).await;
    assert_eq!(none["total"], 0);
    assert_eq!(
        app.get(&format!("/api/v1/share-requests/{id}"), Some(&other))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Answered late: no longer overdue, and the record says it was late.
    let reviewer = reviewer(app).await;
    approve(app, &reviewer, id, &json!({})).await;
    let (_, r, _) = json_of(
        app.get(
            &format!("/api/v1/share-requests/{id}"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    assert_eq!(r["overdue"], false);
    assert_eq!(r["answered_on_time"], false);
    assert_eq!(r["age_working_days"], 11);
}

async fn an_approval_narrows_a_rejection_needs_a_reason_and_a_revocation_stops_reads(
    app: &TestApp,
) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = app.population_resource(&cast, "conditional").await;
    load(app, &cast, &code, 10).await;
    let key = application_key(app, &cast.consumer, "narrow_app").await;
    // Ranges and `in`, typed (decimals compare as numbers on both backends).
    for (query, n) in [
        ("income.gte=10005.50", 5),
        ("income.lt=10002", 2),
        ("birth_date.lte=1980-01-01", 10),
        ("children.in=0,2", 7),
        ("district.in=锦江区&children.gt=0", 3),
    ] {
        let (status, page, _) = json_of(
            app.get(
                &format!("/api/v1/resources/{code}/records?{query}"),
                Some(&cast.provider),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["records"].as_array().unwrap().len(), n, "{query}");
    }
    let res = app
        .get(
            &format!("/api/v1/resources/{code}/records?children.between=1"),
            Some(&cast.provider),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let asked = ["id_number", "name", "birth_date", "district", "children"];
    let mut body = request_body(&code, "narrow_app", &asked, true, 30);
    let id = ask(app, &cast.consumer, &body).await;

    // The consumer cannot answer its own request; the approval cannot widen it.
    let res = app
        .post_json(
            &format!("/api/v1/share-requests/{id}/approve"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    for wider in [
        json!({"items": ["income"]}),
        json!({"duration_days": 31}),
        json!({"row_scope": ["district=锦江区", "district=武侯区"]}),
    ] {
        let res = app
            .post_json(
                &format!("/api/v1/share-requests/{id}/approve"),
                Some(&reviewer),
                &wider,
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{wider}");
    }
    // Both sides talk it over.
    for token in [&cast.consumer, &reviewer] {
        let res = app
            .post_json(
                &format!("/api/v1/share-requests/{id}/comments"),
                Some(token),
                &json!({"text": "请说明用途"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let grant = approve(
        app,
        &reviewer,
        id,
        &json!({"items": ["name", "district", "children"], "row_scope": ["district=锦江区"],
                "plain_allowed": true, "comment": "仅限锦江区"}),
    )
    .await;
    let (_, r, _) = json_of(
        app.get(
            &format!("/api/v1/share-requests/{id}"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    let kinds: Vec<&str> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["submitted", "comment", "comment", "approved"]);

    // The application reads exactly the granted items, plain, in its district.
    let (status, page, _) = json_of(
        app.get(&format!("/api/v1/resources/{code}/records"), Some(&key))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 5, "{page}");
    for r in records {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 3, "{r}");
        assert!(keys.contains(&"name") && keys.contains(&"district") && keys.contains(&"children"));
        assert_eq!(r["district"], "锦江区");
    }
    assert_eq!(records[0]["name"], format!("张{}", chinese_digits(0)));
    assert_eq!(page["access"]["grant"]["id"], grant);
    // Rows outside the scope are invisible, even when asked for by name.
    let (status, page, _) = json_of(
        app.post_json(
            &format!("/api/v1/resources/{code}/query"),
            Some(&key),
            &json!({"filters": [{"item": "district", "value": "武侯区"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["records"], json!([]));
    // An item not granted cannot be filtered on, nor exported.
    let res = app
        .get(
            &format!("/api/v1/resources/{code}/records?id_number=1"),
            Some(&key),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .get(
            &format!("/api/v1/resources/{code}/export?format=csv"),
            Some(&key),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "name,district,children");
    assert_eq!(lines.len(), 6, "{csv}");

    // A rejection needs a reason; an answered request is answered once.
    body["application"] = json!("narrow_app");
    let second = ask(app, &cast.consumer, &body).await;
    let reject = |reason: &'static str| {
        let reviewer = reviewer.clone();
        async move {
            app.post_json(
                &format!("/api/v1/share-requests/{second}/reject"),
                Some(&reviewer),
                &json!({"reason": reason}),
            )
            .await
        }
    };
    assert_eq!(
        reject("  ").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, r, _) = json_of(reject("用途与资源不符").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["state"], "rejected");
    assert_eq!(r["reason"], "用途与资源不符");
    assert_eq!(reject("再次").await.status(), StatusCode::CONFLICT);
    let res = app
        .post_json(
            &format!("/api/v1/share-requests/{second}/withdraw"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Both sides list the grant.
    for token in [&cast.consumer, &reviewer, &key] {
        let (_, list, _) = json_of(app.get("/api/v1/grants", Some(token)).await).await;
        assert_eq!(list["items"][0]["id"], grant, "{list}");
        assert_eq!(list["items"][0]["active"], true);
        assert_eq!(list["items"][0]["row_scope"], json!(["district=锦江区"]));
    }

    // Revocation: the provider's reviewer, with a reason; reads stop at once.
    let revoke = |token: &str, reason: &str| {
        let (token, reason) = (token.to_owned(), reason.to_owned());
        async move {
            app.post_json(
                &format!("/api/v1/grants/{grant}/revoke"),
                Some(&token),
                &json!({"reason": reason}),
            )
            .await
        }
    };
    assert_eq!(
        revoke(&cast.consumer, "不用了").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        revoke(&reviewer, "").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        revoke(&reviewer, "发现超范围使用").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        revoke(&reviewer, "again").await.status(),
        StatusCode::CONFLICT
    );
    let res = app
        .get(&format!("/api/v1/resources/{code}/records"), Some(&key))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Every state change is in the audit log.
    for action in [
        "share_request.submit",
        "share_request.comment",
        "share_request.approve",
        "share_request.reject",
        "grant.revoke",
    ] {
        let events = app.store.audit_events(Some(action), 10).await.unwrap();
        assert!(!events.is_empty(), "{action}");
    }
    let approved = app
        .store
        .audit_events(Some("share_request.approve"), 1)
        .await
        .unwrap();
    assert_eq!(approved[0].detail["grant"], grant);
}

async fn requests_are_refused_to_the_wrong_callers_and_for_bad_input(app: &TestApp) {
    let cast = app.cast().await;
    let conditional = app.population_resource(&cast, "conditional").await;
    let unconditional = app.population_resource(&cast, "unconditional").await;
    let none = app.population_resource(&cast, "none").await;
    let key = application_key(app, &cast.consumer, "refused_app").await;
    app.seed_user("rsj", "rsj_analyst", &[Role::Analyst]).await;
    let analyst = app.login("rsj_analyst").await;
    let good = request_body(&conditional, "refused_app", &["name"], false, 30);

    let post = |token: Option<String>, body: Value| async move {
        json_of(
            app.post_json("/api/v1/share-requests", token.as_deref(), &body)
                .await,
        )
        .await
    };
    assert_eq!(post(None, good.clone()).await.0, StatusCode::UNAUTHORIZED);
    // An application does not ask for itself; a person without the role does not ask.
    assert_eq!(post(Some(key), good.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        post(Some(analyst), good.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    // A resource that is not shared cannot be asked for; an unconditional one
    // only for plain values; the own department's not at all.
    let body = request_body(&none, "refused_app", &["name"], false, 30);
    assert_eq!(
        post(Some(cast.consumer.clone()), body).await.0,
        StatusCode::FORBIDDEN
    );
    let body = request_body(&unconditional, "refused_app", &["name"], false, 30);
    assert_eq!(
        post(Some(cast.consumer.clone()), body).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let body = request_body(&conditional, "refused_app", &["name"], false, 30);
    assert_eq!(
        post(Some(cast.provider.clone()), body).await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a data officer of the provider asks for its own resource"
    );

    // Each mistake is a 422 naming the field.
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut b = good.clone();
    b["legal_basis"] = json!("");
    cases.push((b, "legal_basis"));
    let mut b = good.clone();
    b["items"] = json!(["income"]);
    cases.push((b, "items"));
    let mut b = good.clone();
    b["purpose"] = json!("好奇");
    cases.push((b, "purpose"));
    let mut b = good.clone();
    b["row_scope"] = json!(["children=many"]);
    cases.push((b, "row_scope"));
    let mut b = good.clone();
    b["duration_days"] = json!(-1);
    cases.push((b, "duration_days"));
    let mut b = good.clone();
    b["application"] = json!("nosuch");
    cases.push((b, "application"));
    for (body, field) in cases {
        let (status, problem, ct) = post(Some(cast.consumer.clone()), body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {problem}"
        );
        assert_eq!(ct, "application/problem+json");
        assert!(
            problem["detail"].as_str().unwrap().starts_with(field),
            "{field}: {problem}"
        );
    }
    let (status, _, _) = post(
        Some(cast.consumer.clone()),
        json!({"resource": conditional, "bogus": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Withdrawn by who asked, once.
    let id = ask(app, &cast.consumer, &good).await;
    let res = app
        .post_json(
            &format!("/api/v1/share-requests/{id}/withdraw"),
            Some(&cast.provider),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .post(app.url(&format!("/api/v1/share-requests/{id}/withdraw")))
        .bearer_auth(&cast.consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let events = app
        .store
        .audit_events(Some("share_request.withdraw"), 1)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
}

async fn the_console_asks_answers_and_revokes_without_javascript(app: &TestApp) {
    let cast = app.cast().await;
    reviewer(app).await;
    let code = app.population_resource(&cast, "conditional").await;
    application_key(app, &cast.consumer, "console_app").await;
    let (client, consumer_session, consumer_csrf) =
        crate::web::console_session(app, "rsj_officer").await;
    let form = |csrf: &str, items: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("resource".into(), code.clone()),
            ("application".into(), "console_app".into()),
            ("items".into(), items.to_owned()),
            ("purpose".into(), "business_collaboration".into()),
            ("purpose_text".into(), "就业登记业务协同".into()),
            ("legal_basis".into(), "《就业促进法》".into()),
            ("row_scope".into(), "district=武侯区".into()),
            ("duration_days".into(), "180".into()),
            ("plain_wanted".into(), "1".into()),
        ]
    };
    let post = |path: String, session: String, fields: Vec<(String, String)>| {
        let client = client.clone();
        async move {
            client
                .post(app.url(&path))
                .header("cookie", session)
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    // Without the session's CSRF token the form is refused.
    let res = post(
        "/console/share-requests".into(),
        consumer_session.clone(),
        form("forged", "name"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A mistake comes back on the page, with what was typed kept.
    let res = post(
        "/console/share-requests".into(),
        consumer_session.clone(),
        form(&consumer_csrf, "income"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("core item") && html.contains("就业登记业务协同"),
        "{html}"
    );
    let res = post(
        "/console/share-requests".into(),
        consumer_session.clone(),
        form(&consumer_csrf, "name，district、children"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let detail = res.headers()["location"].to_str().unwrap().to_owned();
    let id: i64 = detail.rsplit('/').next().unwrap().parse().unwrap();

    // The provider's reviewer finds it on the list and approves it, narrowed.
    let (client2, reviewer_session, reviewer_csrf) =
        crate::web::console_session(app, "gaj_reviewer").await;
    let html = client2
        .get(app.url("/console/share-requests"))
        .header("cookie", &reviewer_session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("待答复") && html.contains(&format!("/console/share-requests/{id}")));
    let html = client2
        .get(app.url(&detail))
        .header("cookie", &reviewer_session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("同意共享") && html.contains("不予同意"),
        "{html}"
    );
    let approve = vec![
        ("csrf".to_owned(), reviewer_csrf.clone()),
        ("items".into(), "name,district".into()),
        ("row_scope".into(), "".into()),
        ("duration_days".into(), "90".into()),
        ("plain_offered".into(), "1".into()),
        ("comment".into(), "同意".into()),
    ];
    let res = post(
        format!("{detail}/approve"),
        reviewer_session.clone(),
        approve,
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, r, _) = json_of(
        app.get(
            &format!("/api/v1/share-requests/{id}"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    assert_eq!(r["state"], "approved", "{r}");
    let grant = r["grant_id"].as_i64().unwrap();
    let (_, g, _) = json_of(app.get("/api/v1/grants", Some(&cast.consumer)).await).await;
    assert_eq!(g["items"][0]["items"], json!(["name", "district"]));
    assert_eq!(g["items"][0]["row_scope"], json!(["district=武侯区"]));
    // The box was left unticked: no plain values.
    assert_eq!(g["items"][0]["plain_allowed"], false);

    // The grants page lists it for both sides; the reviewer revokes it there.
    let html = client
        .get(app.url("/console/grants?lang=en"))
        .header("cookie", &consumer_session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("active") && !html.contains("/revoke"),
        "{html}"
    );
    let res = post(
        format!("/console/grants/{grant}/revoke"),
        reviewer_session.clone(),
        vec![
            ("csrf".to_owned(), reviewer_csrf.clone()),
            ("reason".into(), "业务已结束".into()),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = client2
        .get(app.url("/console/grants"))
        .header("cookie", &reviewer_session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("已撤销"), "{html}");
}
