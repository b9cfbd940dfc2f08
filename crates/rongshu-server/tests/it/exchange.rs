//! Exchange: the change feed, webhook subscriptions delivered to a receiver
//! that fails and recovers, and verification without disclosure.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::on_both_backends;
use crate::support::{Cast, TestApp, citizen_id, json_of, population_csv};

on_both_backends!(
    a_consumer_rebuilds_the_data_from_the_feed_masked_and_the_provider_plain,
    the_feed_is_refused_where_reads_are,
    a_receiver_that_fails_gets_every_change_once_in_order_and_replay_sends_again,
    a_subscriber_that_was_down_catches_up_without_loss_or_duplication,
    subscriptions_are_refused_and_hidden_where_they_should_be,
    claims_are_verified_without_disclosing_anything_else,
    verification_refuses_bad_requests_and_unshared_resources,
    two_servers_deliver_each_change_once_and_one_at_a_time,
    the_console_lists_subscriptions_and_replays_with_a_form,
);

fn id(n: u32) -> String {
    citizen_id("510104", "19800101", n)
}

/// Deliver a batch of `(n, name, children)` rows in a mode.
async fn batch(app: &TestApp, cast: &Cast, code: &str, mode: &str, rows: &[(u32, &str, u32)]) {
    let mut csv = String::from("id_number,name,children\n");
    for (n, name, children) in rows {
        csv.push_str(&format!("{},{name},{children}\n", id(*n)));
    }
    let path = format!("/api/v1/resources/{code}/batches?mode={mode}");
    let (status, report, _) = json_of(app.post_csv(&path, &cast.provider, csv).await).await;
    assert_eq!(status, StatusCode::OK, "{report}");
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let (status, body, _) = json_of(app.get(path, Some(token)).await).await;
    (status, body)
}

/// Upserts, a replacement and a deletion: every kind of change.
async fn a_history_of_batches(app: &TestApp, cast: &Cast, code: &str) {
    let csv = population_csv(8);
    app.load_batch(code, &cast.provider, csv).await;
    batch(
        app,
        cast,
        code,
        "upsert",
        &[(2, "李二", 5), (8, "王八", 1), (9, "赵九", 0)],
    )
    .await;
    // The whole resource: 0 and 1 go, 3 changes.
    let rest: Vec<(u32, &str, u32)> = vec![
        (2, "李二", 5),
        (3, "孙三", 3),
        (4, "张四", 1),
        (5, "张五", 2),
        (6, "张六", 0),
        (7, "张七", 1),
        (8, "王八", 1),
        (9, "赵九", 0),
    ];
    batch(app, cast, code, "replace", &rest).await;
    batch(app, cast, code, "delete", &[(5, "张五", 2)]).await;
}

/// Page through the feed `limit` at a time; returns the changes and checks
/// that `next_after` chains.
async fn read_feed(app: &TestApp, code: &str, token: &str, limit: u32) -> Vec<Value> {
    let mut after = 0;
    let mut all = Vec::new();
    loop {
        let (status, page) = get(
            app,
            &format!("/api/v1/resources/{code}/changes?after={after}&limit={limit}"),
            token,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let changes = page["changes"].as_array().unwrap().clone();
        assert!(changes.len() <= limit as usize);
        let next = page["next_after"].as_i64().unwrap();
        if changes.is_empty() {
            assert_eq!(next, after, "with nothing more, next_after stays");
            return all;
        }
        assert_eq!(next, changes.last().unwrap()["seq"].as_i64().unwrap());
        after = next;
        all.extend(changes);
    }
}

/// Apply changes to a copy, keyed by `ident(change)`.
fn apply(changes: &[Value], ident: impl Fn(&Value) -> String) -> BTreeMap<String, Value> {
    let mut copy = BTreeMap::new();
    for c in changes {
        match c["op"].as_str().unwrap() {
            "insert" | "update" => {
                copy.insert(ident(c), c["record"].clone());
            }
            "delete" => {
                assert!(copy.remove(&ident(c)).is_some(), "deleted unknown row {c}");
            }
            other => panic!("unknown op {other}"),
        }
    }
    copy
}

async fn all_records(app: &TestApp, code: &str, token: &str) -> Vec<Value> {
    let (status, page) = get(
        app,
        &format!("/api/v1/resources/{code}/records?limit=1000"),
        token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["records"].as_array().unwrap().clone()
}

/// Records sorted, without empty items (the change log leaves them out).
fn sorted(v: Vec<Value>) -> Vec<Value> {
    let mut v: Vec<Value> = v
        .into_iter()
        .map(|mut r| {
            if let Some(m) = r.as_object_mut() {
                m.retain(|_, v| !v.is_null());
            }
            r
        })
        .collect();
    v.sort_by_key(|r| r.to_string());
    v
}

async fn a_consumer_rebuilds_the_data_from_the_feed_masked_and_the_provider_plain(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    a_history_of_batches(app, &cast, &code).await;

    // The provider's copy, keyed by the plain key, is the data exactly.
    let changes = read_feed(app, &code, &cast.provider, 3).await;
    let seqs: Vec<i64> = changes.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let ops: Vec<&str> = changes.iter().map(|c| c["op"].as_str().unwrap()).collect();
    for op in ["insert", "update", "delete"] {
        assert!(ops.contains(&op), "{ops:?}");
    }
    assert!(changes.iter().all(|c| c["batch_id"].is_string()));
    let copy = apply(&changes, |c| {
        c["key"]["id_number"].as_str().unwrap().to_owned()
    });
    let current = all_records(app, &code, &cast.provider).await;
    let by_key: BTreeMap<String, Value> = current
        .iter()
        .map(|r| (r["id_number"].as_str().unwrap().to_owned(), r.clone()))
        .collect();
    assert_eq!(
        copy.keys().collect::<Vec<_>>(),
        by_key.keys().collect::<Vec<_>>()
    );
    assert_eq!(copy.len(), 7);
    for (k, record) in &copy {
        for item in ["id_number", "name", "children"] {
            assert_eq!(record[item], by_key[k][item], "{k} {item}");
        }
    }

    // The consumer's copy: keys masked, kept in step by key_ref; records as
    // masked as its reads.
    let changes = read_feed(app, &code, &cast.consumer, 2).await;
    for c in &changes {
        let key = c["key"]["id_number"].as_str().unwrap();
        assert!(key.contains('*'), "a masked key: {c}");
        assert!(!by_key.contains_key(key));
        assert_eq!(c["key_ref"].as_str().unwrap().len(), 32);
        if let Some(r) = c["record"].as_object() {
            assert!(!r.contains_key("income"), "grade 4 never leaves: {c}");
            assert!(r["name"].as_str().unwrap().contains('*'), "{c}");
        }
    }
    let text = serde_json::to_string(&changes).unwrap();
    for k in by_key.keys() {
        assert!(
            !text.contains(k.as_str()),
            "plain ID {k} in the consumer's feed"
        );
    }
    let copy = apply(&changes, |c| c["key_ref"].as_str().unwrap().to_owned());
    let masked_reads = all_records(app, &code, &cast.consumer).await;
    assert_eq!(
        sorted(copy.into_values().collect()),
        sorted(masked_reads),
        "the consumer's copy is what it reads"
    );

    // Each page read is audited as a read, with its row count.
    let reads = app
        .store
        .audit_events(Some("data.read"), 200)
        .await
        .unwrap();
    let feed_reads: Vec<_> = reads
        .iter()
        .filter(|e| e.detail["via"] == "changes")
        .collect();
    assert!(feed_reads.len() >= 2);
    assert!(feed_reads.iter().any(|e| e.rows == Some(2)));
    assert!(
        feed_reads
            .iter()
            .any(|e| e.department.as_deref() == Some("rsj") && e.detail["masked"] == true)
    );
}

async fn the_feed_is_refused_where_reads_are(app: &TestApp) {
    let cast = app.cast().await;
    let closed = app.population_resource(&cast, "none").await;
    batch(app, &cast, &closed, "upsert", &[(1, "张一", 1)]).await;
    let path = format!("/api/v1/resources/{closed}/changes?after=0");
    let (status, body) = get(app, &path, &cast.consumer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = get(app, &path, &cast.provider).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changes"][0]["key"]["id_number"], id(1));
    let res = app.get(&path, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    for bad in ["after=-1", "limit=0", "limit=5001", "after=x"] {
        let (status, body) = get(
            app,
            &format!("/api/v1/resources/{closed}/changes?{bad}"),
            &cast.provider,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = get(app, "/api/v1/resources/nope/changes", &cast.provider).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// What a test receiver saw.
#[derive(Default)]
struct Seen {
    /// Answer 500 to this many more requests.
    fail_next: usize,
    /// Answer 503 to everything while set.
    down: bool,
    requests: usize,
    /// Every request: timestamp, signature, body.
    signed: Vec<(String, String, String)>,
    /// The changes of the requests answered 2xx, in arrival order.
    accepted: Vec<Value>,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: usize,
    most_in_flight: usize,
}

struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
    _task: tokio::task::JoinHandle<()>,
}

async fn receiver(fail_first: usize) -> Receiver {
    slow_receiver(fail_first, Duration::ZERO).await
}

/// A receiver that takes `delay` over each request.
async fn slow_receiver(fail_first: usize, delay: Duration) -> Receiver {
    let seen = Arc::new(Mutex::new(Seen {
        fail_next: fail_first,
        ..Seen::default()
    }));
    let shared = seen.clone();
    let handler = move |headers: HeaderMap, body: Bytes| {
        let seen = shared.clone();
        async move {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let text = String::from_utf8(body.to_vec()).unwrap_or_default();
            {
                let mut seen = seen.lock().unwrap();
                seen.in_flight += 1;
                seen.most_in_flight = seen.most_in_flight.max(seen.in_flight);
            }
            tokio::time::sleep(delay).await;
            let mut seen = seen.lock().unwrap();
            seen.in_flight -= 1;
            seen.requests += 1;
            seen.signed.push((
                header("x-rongshu-timestamp"),
                header("x-rongshu-signature"),
                text.clone(),
            ));
            if seen.down {
                return AxumStatus::SERVICE_UNAVAILABLE;
            }
            if seen.fail_next > 0 {
                seen.fail_next -= 1;
                return AxumStatus::INTERNAL_SERVER_ERROR;
            }
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            for c in body["changes"].as_array().cloned().unwrap_or_default() {
                seen.accepted.push(c);
            }
            AxumStatus::NO_CONTENT
        }
    };
    let router = axum::Router::new().route("/hook", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Receiver {
        url,
        seen,
        _task: task,
    }
}

impl Receiver {
    fn accepted_seqs(&self) -> Vec<i64> {
        let seen = self.seen.lock().unwrap();
        seen.accepted
            .iter()
            .map(|c| c["seq"].as_i64().unwrap())
            .collect()
    }

    /// Every request carried a valid signature over its timestamp and body.
    fn check_signatures(&self, secret: &str) {
        let seen = self.seen.lock().unwrap();
        assert!(!seen.signed.is_empty());
        for (timestamp, signature, body) in &seen.signed {
            assert!(timestamp.parse::<i64>().is_ok(), "timestamp {timestamp}");
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{timestamp}.{body}").as_bytes());
            let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            assert_eq!(signature, &expected, "signature of {body}");
        }
    }
}

/// Wait (moving the manual clock on, so back-offs fall due) until `done`.
async fn wait_for(app: &TestApp, what: &str, done: impl Fn() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        app.clock.advance(chrono::Duration::milliseconds(500));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn subscribe(app: &TestApp, cast: &Cast, code: &str, url: &str) -> (i64, String) {
    let (status, body, _) = json_of(
        app.post_json(
            "/api/v1/subscriptions",
            Some(&cast.consumer),
            &json!({"resource": code, "url": url}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (body["id"].as_i64().unwrap(), secret)
}

async fn last_seq(app: &TestApp, cast: &Cast, code: &str) -> i64 {
    read_feed(app, code, &cast.provider, 5000)
        .await
        .last()
        .map_or(0, |c| c["seq"].as_i64().unwrap())
}

async fn a_receiver_that_fails_gets_every_change_once_in_order_and_replay_sends_again(
    app: &TestApp,
) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    a_history_of_batches(app, &cast, &code).await;
    let total = last_seq(app, &cast, &code).await;
    assert!(total > 8, "several POSTs of 4 changes");

    let hook = receiver(3).await;
    let (sub, secret) = subscribe(app, &cast, &code, &hook.url).await;
    wait_for(app, "every change", || {
        hook.accepted_seqs().len() >= total as usize
    })
    .await;
    assert_eq!(hook.accepted_seqs(), (1..=total).collect::<Vec<_>>());
    hook.check_signatures(&secret);

    // What the consumer receives is masked as its reads are.
    {
        let seen = hook.seen.lock().unwrap();
        assert_eq!(seen.requests, 3 + (total as usize).div_ceil(4));
        let (_, _, body) = &seen.signed[0];
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["subscription"], sub);
        assert_eq!(body["resource"], code.as_str());
        assert_eq!(body["next_after"], 4);
        for (_, _, body) in &seen.signed {
            assert!(!body.contains(&id(3)), "a plain ID was pushed");
            assert!(!body.contains("income"), "a grade-4 item was pushed");
        }
    }

    // The delivery log shows the failures, then the successes. The sender
    // records a delivery after the receiver's answer arrives, so the last
    // one may land a moment after the receiver has the change.
    let mut shown = Value::Null;
    for _ in 0..200 {
        let (status, body) =
            get(app, &format!("/api/v1/subscriptions/{sub}"), &cast.consumer).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        shown = body;
        if shown["subscription"]["delivered_seq"] == total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(shown["subscription"]["delivered_seq"], total);
    assert_eq!(shown["subscription"]["failures"], 0);
    let log: Vec<Value> = shown["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .cloned()
        .collect();
    let failed: Vec<&Value> = log.iter().filter(|d| d["ok"] == false).collect();
    assert_eq!(failed.len(), 3, "{log:?}");
    assert!(
        failed
            .iter()
            .all(|d| d["status"] == 500 && d["from_seq"] == 1 && d["to_seq"] == 4)
    );
    assert!(log[..3].iter().all(|d| d["ok"] == false));
    assert!(
        log[3..]
            .iter()
            .all(|d| d["ok"] == true && d["status"] == 204)
    );
    // Paged.
    let (_, page) = get(
        app,
        &format!("/api/v1/subscriptions/{sub}?limit=2"),
        &cast.consumer,
    )
    .await;
    let before = page["next_before"].as_i64().unwrap();
    let (_, next) = get(
        app,
        &format!("/api/v1/subscriptions/{sub}?limit=2&before={before}"),
        &cast.consumer,
    )
    .await;
    assert!(next["deliveries"][0]["id"].as_i64().unwrap() < before);

    // Replay from 1: everything again, in order.
    let (status, body, _) = json_of(
        app.post_json(
            &format!("/api/v1/subscriptions/{sub}/replay"),
            Some(&cast.consumer),
            &json!({"from_seq": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for(app, "the replay", || {
        hook.accepted_seqs().len() >= 2 * total as usize
    })
    .await;
    let twice: Vec<i64> = (1..=total).chain(1..=total).collect();
    assert_eq!(hook.accepted_seqs(), twice);

    // Every push is audited as a read of the department.
    let reads = app
        .store
        .audit_events(Some("data.read"), 500)
        .await
        .unwrap();
    let pushes = reads
        .iter()
        .filter(|e| e.detail["via"] == "webhook")
        .count();
    let requests = hook.seen.lock().unwrap().requests;
    assert_eq!(pushes, requests);
    let actions: Vec<String> = app
        .store
        .audit_events(None, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in ["subscription.create", "subscription.replay"] {
        assert!(actions.iter().any(|a| a == action), "{action}");
    }

    // Cancelled: a new batch is not delivered.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/subscriptions/{sub}")))
        .bearer_auth(&cast.consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    batch(app, &cast, &code, "upsert", &[(20, "新人", 1)]).await;
    for _ in 0..10 {
        app.clock.advance(chrono::Duration::seconds(1));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hook.accepted_seqs().len(), 2 * total as usize);
    let (_, shown) = get(app, &format!("/api/v1/subscriptions/{sub}"), &cast.consumer).await;
    assert_eq!(shown["subscription"]["state"], "cancelled");
}

async fn a_subscriber_that_was_down_catches_up_without_loss_or_duplication(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    batch(
        app,
        &cast,
        &code,
        "upsert",
        &[(1, "张一", 1), (2, "张二", 2)],
    )
    .await;
    let hook = receiver(0).await;
    let (sub, secret) = subscribe(app, &cast, &code, &hook.url).await;
    wait_for(app, "the first batch", || hook.accepted_seqs().len() == 2).await;

    // Down while two batches load.
    hook.seen.lock().unwrap().down = true;
    batch(
        app,
        &cast,
        &code,
        "upsert",
        &[(3, "张三", 0), (1, "张壹", 1)],
    )
    .await;
    batch(
        app,
        &cast,
        &code,
        "upsert",
        &[(4, "张四", 0), (5, "张五", 1), (6, "张六", 2)],
    )
    .await;
    wait_for(app, "failed attempts", || {
        hook.seen.lock().unwrap().requests >= 4
    })
    .await;
    let (_, shown) = get(app, &format!("/api/v1/subscriptions/{sub}"), &cast.consumer).await;
    assert_eq!(shown["subscription"]["delivered_seq"], 2);
    assert!(shown["subscription"]["failures"].as_i64().unwrap() >= 2);
    assert!(
        shown["subscription"]["last_error"]
            .as_str()
            .unwrap()
            .contains("503")
    );

    // Back up: the rest arrives, once, in order.
    let total = last_seq(app, &cast, &code).await;
    assert_eq!(total, 7);
    hook.seen.lock().unwrap().down = false;
    wait_for(app, "the catch-up", || {
        hook.accepted_seqs().len() >= total as usize
    })
    .await;
    for _ in 0..5 {
        app.clock.advance(chrono::Duration::seconds(1));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hook.accepted_seqs(), (1..=total).collect::<Vec<_>>());
    hook.check_signatures(&secret);
    let (_, shown) = get(app, &format!("/api/v1/subscriptions/{sub}"), &cast.consumer).await;
    assert_eq!(shown["subscription"]["delivered_seq"], total);
}

async fn subscriptions_are_refused_and_hidden_where_they_should_be(app: &TestApp) {
    let cast = app.cast().await;
    let open = app.population_resource(&cast, "unconditional").await;
    let closed = app.population_resource(&cast, "none").await;
    let post = |token: String, body: Value| async move {
        let (status, body, _) = json_of(
            app.post_json("/api/v1/subscriptions", Some(&token), &body)
                .await,
        )
        .await;
        (status, body)
    };
    let url = "http://127.0.0.1:9/hook";
    let (status, body) = post(
        cast.consumer.clone(),
        json!({"resource": closed, "url": url}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    for bad in [
        "https://example.org/hook",
        "ftp://x/y",
        "not a url",
        "http://u:p@h/x",
    ] {
        let (status, body) =
            post(cast.consumer.clone(), json!({"resource": open, "url": bad})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = post(
        cast.consumer.clone(),
        json!({"resource": open, "url": url, "after": -1}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Someone without the role may not subscribe.
    app.seed_user("rsj", "rsj_clerk", &[]).await;
    let clerk = app.login("rsj_clerk").await;
    let (status, _) = post(clerk.clone(), json!({"resource": open, "url": url})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let res = app
        .post_json(
            "/api/v1/subscriptions",
            None,
            &json!({"resource": open, "url": url}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let (status, body) = post(cast.consumer.clone(), json!({"resource": open, "url": url})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sub = body["id"].as_i64().unwrap();
    // The secret is shown once: never in a list or a detail.
    let (_, list) = get(app, "/api/v1/subscriptions", &cast.consumer).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("whsec_"));
    let (_, shown) = get(app, &format!("/api/v1/subscriptions/{sub}"), &clerk).await;
    assert!(!shown.to_string().contains("whsec_"));
    // Another department neither lists nor sees nor cancels it.
    let (_, list) = get(app, "/api/v1/subscriptions", &cast.provider).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (status, _) = get(app, &format!("/api/v1/subscriptions/{sub}"), &cast.provider).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/subscriptions/{sub}")))
        .bearer_auth(&cast.provider)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // The clerk sees it but may not cancel or replay it.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/subscriptions/{sub}")))
        .bearer_auth(&clerk)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (status, _, _) = json_of(
        app.post_json(
            &format!("/api/v1/subscriptions/{sub}/replay"),
            Some(&cast.consumer),
            &json!({"from_seq": 0}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The platform office sees every department's.
    let (_, list) = get(app, "/api/v1/subscriptions", &cast.admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Cancelled once; twice is a conflict; a cancelled one is not replayed.
    let cancel = || async {
        app.client
            .delete(app.url(&format!("/api/v1/subscriptions/{sub}")))
            .bearer_auth(&cast.consumer)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(cancel().await, StatusCode::OK);
    assert_eq!(cancel().await, StatusCode::CONFLICT);
    let (status, _, _) = json_of(
        app.post_json(
            &format!("/api/v1/subscriptions/{sub}/replay"),
            Some(&cast.consumer),
            &json!({"from_seq": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn verify(
    app: &TestApp,
    code: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value, String) {
    let res = app
        .post_json(&format!("/api/v1/verify/{code}"), Some(token), &body)
        .await;
    let status = res.status();
    let text = res.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, json, text)
}

async fn claims_are_verified_without_disclosing_anything_else(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    // Person 1: 张一, 1980-01-01, 武侯区, 1 child, income 10001.50 (grade 4).
    app.load_batch(&code, &cast.provider, population_csv(3))
        .await;
    // Person 7 has no birth date on record.
    let csv = format!("id_number,name,district\n{},张七,锦江区\n", id(7));
    app.load_batch(&code, &cast.provider, csv).await;

    let (status, body, text) = verify(
        app,
        &code,
        &cast.consumer,
        json!({
            "key": {"id_number": id(1)},
            "claims": {
                "name": " 张 一 ",
                "birth_date": "１９８０年１月１日",
                "district": "锦江区",
                "children": "１",
                "income": "10001.5"
            }
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        body,
        json!({"results": {
            "name": "match", "birth_date": "match", "district": "mismatch",
            "children": "match", "income": "match"
        }})
    );
    // Nothing else of the record: not the district on record, nor the ID.
    assert!(!text.contains("武侯区") && !text.contains(&id(1)), "{text}");

    // Only the income claimed (grade 4, wrong): the name and ID stay unsaid.
    let (_, body, text) = verify(
        app,
        &code,
        &cast.consumer,
        json!({"key": {"id_number": id(1).to_lowercase()}, "claims": {"income": 10002}}),
    )
    .await;
    assert_eq!(body, json!({"results": {"income": "mismatch"}}));
    assert!(!text.contains("张一") && !text.contains(&id(1)) && !text.contains("10001"));

    // Unknown: nobody with that key; an empty item.
    let (_, body, _) = verify(
        app,
        &code,
        &cast.consumer,
        json!({"key": {"id_number": id(99)}, "claims": {"name": "张一"}}),
    )
    .await;
    assert_eq!(body, json!({"results": {"name": "unknown"}}));
    let (_, body, _) = verify(
        app,
        &code,
        &cast.consumer,
        json!({"key": {"id_number": id(7)}, "claims": {"birth_date": "1980-01-01", "name": "张七"}}),
    )
    .await;
    assert_eq!(
        body,
        json!({"results": {"birth_date": "unknown", "name": "match"}})
    );

    // Many at once, answered in order.
    let (status, body, _) = verify(
        app,
        &code,
        &cast.consumer,
        json!({"requests": [
            {"key": {"id_number": id(0)}, "claims": {"name": "张零"}},
            {"key": {"id_number": id(2)}, "claims": {"name": "张零"}},
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"results": [{"name": "match"}, {"name": "mismatch"}]})
    );

    // Audited: which items and how they came out, never the values.
    let events = app
        .store
        .audit_events(Some("data.verify"), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 5);
    let first = events.last().unwrap();
    assert_eq!(first.department.as_deref(), Some("rsj"));
    assert_eq!(first.detail["results"], json!({"match": 4, "mismatch": 1}));
    let all = serde_json::to_string(&events.iter().map(|e| &e.detail).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains("张") && !all.contains(&id(1)), "{all}");
}

async fn verification_refuses_bad_requests_and_unshared_resources(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let closed = app.population_resource(&cast, "none").await;
    let key = json!({"id_number": id(1)});
    for body in [
        json!({"key": key, "claims": {"nickname": "x"}}),
        json!({"key": {"name": "张一"}, "claims": {"name": "张一"}}),
        json!({"key": {}, "claims": {"name": "张一"}}),
        json!({"key": {"id_number": id(1), "nope": 1}, "claims": {"name": "张一"}}),
        json!({"key": key, "claims": {}}),
        json!({"key": key, "claims": {"birth_date": "not a date"}}),
        json!({"key": key, "claims": {"name": ["a"]}}),
        json!({"key": key}),
        json!({"requests": []}),
        json!({"key": key, "claims": {"name": "x"}, "extra": 1}),
    ] {
        let (status, _, text) = verify(app, &code, &cast.consumer, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
    }
    let (status, _, _) = verify(
        app,
        &closed,
        &cast.consumer,
        json!({"key": key, "claims": {"name": "张一"}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = verify(
        app,
        &closed,
        &cast.provider,
        json!({"key": key, "claims": {"name": "张一"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let res = app
        .post_json(
            &format!("/api/v1/verify/{code}"),
            None,
            &json!({"key": key, "claims": {"name": "张一"}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn two_servers_deliver_each_change_once_and_one_at_a_time(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    // A second server process on the same database, with its own worker.
    let dir = tempfile::tempdir().unwrap();
    let store = rongshu_store::Store::open(&app.store_url().await)
        .await
        .unwrap();
    let other = rongshu_server::App::build(
        TestApp::config(dir.path()),
        store.clone(),
        app.clock.clone(),
    )
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(other.run_until(async {
        let _ = stopped.await;
    }));

    let hook = slow_receiver(2, Duration::from_millis(40)).await;
    let (_, secret) = subscribe(app, &cast, &code, &hook.url).await;
    a_history_of_batches(app, &cast, &code).await;
    let total = last_seq(app, &cast, &code).await;
    wait_for(app, "every change", || {
        hook.accepted_seqs().len() >= total as usize
    })
    .await;
    for _ in 0..5 {
        app.clock.advance(chrono::Duration::seconds(1));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hook.accepted_seqs(), (1..=total).collect::<Vec<_>>());
    assert_eq!(hook.seen.lock().unwrap().most_in_flight, 1);
    hook.check_signatures(&secret);
    let _ = stop.send(());
    let _ = task.await;
    store.close().await;
}

async fn the_console_lists_subscriptions_and_replays_with_a_form(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    batch(
        app,
        &cast,
        &code,
        "upsert",
        &[(1, "张一", 1), (2, "张二", 2)],
    )
    .await;
    let hook = receiver(1).await;
    let (sub, _) = subscribe(app, &cast, &code, &hook.url).await;
    wait_for(app, "the batch", || hook.accepted_seqs().len() == 2).await;

    let (client, session, csrf) = crate::web::console_session(app, "rsj_officer").await;
    let page = |path: String| {
        let client = client.clone();
        let session = session.clone();
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
    let (status, html) = page("/console/subscriptions".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&code) && html.contains(&hook.url) && html.contains("数据订阅"));
    let (status, html) = page(format!("/console/subscriptions/{sub}?lang=en")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Delivery log") && html.contains("500") && html.contains("204"),
        "{html}"
    );
    assert!(!html.contains("whsec_"));

    // Without the CSRF token the form is refused; with it, the replay happens.
    let replay = format!("/console/subscriptions/{sub}/replay");
    let res = client
        .post(app.url(&replay))
        .header("cookie", &session)
        .form(&[("from_seq", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = client
        .post(app.url(&replay))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str()), ("from_seq", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("role=\"alert\""));
    let res = client
        .post(app.url(&replay))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str()), ("from_seq", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    wait_for(app, "the replay", || hook.accepted_seqs().len() == 3).await;
    assert_eq!(hook.accepted_seqs(), [1, 2, 2]);

    // Another department's subscription is not there for it.
    let (other, other_session, _) = crate::web::console_session(app, "gaj_officer").await;
    let res = other
        .get(app.url(&format!("/console/subscriptions/{sub}")))
        .header("cookie", &other_session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
