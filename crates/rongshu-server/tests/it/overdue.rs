//! The overdue sweep: a request left unanswered past its ten working days
//! (holidays skipped) is escalated to the platform office once and reminded in
//! its discussion once each working day, for both sides to read; a request
//! answered in time is left alone; the office has its list and its page.

use chrono::Duration;
use reqwest::StatusCode;
use rongshu_server::Clock;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::sharing::{application_key, approve, ask, request_body, reviewer};
use crate::support::{TestApp, json_of};

on_both_backends!(an_overdue_request_is_reminded_and_escalated_and_one_answered_in_time_is_not);

async fn request(app: &TestApp, token: &str, id: i64) -> Value {
    let (status, r, _) = json_of(
        app.get(&format!("/api/v1/share-requests/{id}"), Some(token))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r
}

fn count(r: &Value, kind: &str) -> usize {
    r["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .count()
}

/// Wait (in real time) for the background sweep to bring the request to
/// `reminders` reminders.
async fn wait_for_reminders(app: &TestApp, token: &str, id: i64, reminders: usize) -> Value {
    for _ in 0..200 {
        let r = request(app, token, id).await;
        if count(&r, "reminder") >= reminders {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the sweep did not remind request {id} {reminders} times");
}

async fn page(
    client: &reqwest::Client,
    app: &TestApp,
    session: &str,
    path: &str,
) -> (StatusCode, String) {
    let res = client
        .get(app.url(path))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn an_overdue_request_is_reminded_and_escalated_and_one_answered_in_time_is_not(
    app: &TestApp,
) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "conditional").await;
    application_key(app, &cast.consumer, "sla_app").await;
    let holidays =
        json!({"items": [{"date": "2026-03-05", "kind": "holiday", "name": "测试假日"}]});
    let res = app
        .client
        .put(app.url("/api/v1/holidays"))
        .bearer_auth(&cast.admin)
        .json(&holidays)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Both asked on Monday 2 March; Thursday 5 March is off, so both are due
    // Tuesday 17 March.
    let body = request_body(&code, "sla_app", &["name", "district"], false, 90);
    let late = ask(app, &cast.consumer, &body).await;
    let on_time = ask(app, &cast.consumer, &body).await;
    assert_eq!(
        request(app, &cast.consumer, late).await["due_at"],
        "2026-03-17"
    );
    let reviewer = reviewer(app).await;
    app.clock.advance(Duration::days(3));
    approve(app, &reviewer, on_time, &json!({})).await;

    // Eleven working days on: Wednesday 18 March.
    app.clock.advance(Duration::days(13));
    let r = wait_for_reminders(app, &cast.consumer, late, 1).await;
    assert_eq!(r["age_working_days"], 11, "{r}");
    assert_eq!(
        (r["overdue"].as_bool(), r["escalated"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(r["last_reminded_on"], "2026-03-18");
    assert!(r["escalated_at"].is_string());
    assert_eq!(count(&r, "escalated"), 1);
    let reminder = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "reminder")
        .unwrap();
    assert_eq!(reminder["actor"], "system:overdue");
    let text = reminder["text"].as_str().unwrap();
    assert!(
        text.contains("2026-03-17") && text.contains("1 个工作日"),
        "{text}"
    );
    // The provider reads the same discussion.
    let seen = request(app, &cast.provider, late).await;
    assert_eq!(
        (count(&seen, "reminder"), count(&seen, "escalated")),
        (1, 1)
    );
    assert_eq!(seen["side"], "provider");

    // Answered in time: no reminder, not escalated.
    let r = request(app, &cast.consumer, on_time).await;
    assert_eq!(
        (count(&r, "reminder"), r["escalated"].as_bool()),
        (0, Some(false))
    );
    assert!(r["escalated_at"].is_null());

    // The office's list; the two sides see theirs; nobody else anything.
    let (_, escalated, _) = json_of(
        app.get("/api/v1/share-requests?escalated=true", Some(&cast.admin))
            .await,
    )
    .await;
    assert_eq!(escalated["total"], 1, "{escalated}");
    assert_eq!(escalated["items"][0]["id"], late);
    assert_eq!(escalated["items"][0]["side"], "office");
    for token in [&cast.consumer, &cast.provider] {
        let (_, mine, _) = json_of(
            app.get("/api/v1/share-requests?escalated=true", Some(token))
                .await,
        )
        .await;
        assert_eq!(mine["total"], 1, "{mine}");
    }
    app.seed_user(
        "wsj",
        "wsj_officer",
        &[rongshu_core::account::Role::DataOfficer],
    )
    .await;
    let other = app.login("wsj_officer").await;
    let (_, none, _) = json_of(
        app.get("/api/v1/share-requests?escalated=true", Some(&other))
            .await,
    )
    .await;
    assert_eq!(none["total"], 0);

    // At most once a working day: sweeping again today does nothing.
    let again = rongshu_server::overdue::sweep(&app.store, app.clock.now())
        .await
        .unwrap();
    assert_eq!(again, rongshu_server::overdue::SweepReport::default());
    assert_eq!(
        count(&request(app, &cast.consumer, late).await, "reminder"),
        1
    );
    // The next working day, one more reminder; the escalation is not repeated.
    app.clock.advance(Duration::days(1));
    let r = wait_for_reminders(app, &cast.consumer, late, 2).await;
    assert_eq!(count(&r, "escalated"), 1);
    assert!(r["events"].to_string().contains("2 个工作日"), "{r}");
    // None at the weekend (Saturday 21 March)...
    app.clock.advance(Duration::days(2));
    let weekend = rongshu_server::overdue::sweep(&app.store, app.clock.now())
        .await
        .unwrap();
    assert_eq!(weekend.reminded, 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        count(&request(app, &cast.consumer, late).await, "reminder"),
        2
    );
    // ...and the next on Monday.
    app.clock.advance(Duration::days(2));
    wait_for_reminders(app, &cast.consumer, late, 3).await;
    let follow_ups = app
        .store
        .audit_events(Some("share_request.follow_up"), 10)
        .await
        .unwrap();
    assert_eq!(follow_ups.len(), 3);
    assert_eq!(follow_ups[0].actor, "system:overdue");

    // The pages: the office's list of escalations, in both languages; the
    // request's page for either side with the reminders and the flag.
    let public_id = request(app, &cast.consumer, late).await["public_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let on_time_id = request(app, &cast.consumer, on_time).await["public_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (office, office_session, _) = crate::web::console_session(app, "admin").await;
    let (status, html) = page(&office, app, &office_session, "/console/escalations").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&public_id) && !html.contains(&on_time_id) && html.contains("逾期督办"),
        "{html}"
    );
    let (_, html) = page(
        &office,
        app,
        &office_session,
        "/console/escalations?lang=en",
    )
    .await;
    assert!(
        html.contains("Escalated requests") && html.contains(&public_id),
        "{html}"
    );
    let (_, html) = page(&office, app, &office_session, "/console").await;
    assert!(html.contains("/console/escalations"));
    let (consumer, consumer_session, _) = crate::web::console_session(app, "rsj_officer").await;
    let (status, _) = page(&consumer, app, &consumer_session, "/console/escalations").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, html) = page(
        &consumer,
        app,
        &consumer_session,
        &format!("/console/share-requests/{late}"),
    )
    .await;
    assert!(
        html.contains("催办提醒") && html.contains("已提请督办"),
        "{html}"
    );
    let (_, html) = page(
        &consumer,
        app,
        &consumer_session,
        "/console/share-requests?escalated=true&lang=en",
    )
    .await;
    assert!(
        html.contains(&public_id) && !html.contains(&on_time_id) && html.contains("escalated"),
        "{html}"
    );

    // Answered at last: no more reminders, and the office's page keeps it
    // among those answered since.
    approve(app, &reviewer, late, &json!({})).await;
    app.clock.advance(Duration::days(1));
    let after = rongshu_server::overdue::sweep(&app.store, app.clock.now())
        .await
        .unwrap();
    assert_eq!(after, rongshu_server::overdue::SweepReport::default());
    let r = request(app, &cast.consumer, late).await;
    assert_eq!(
        (count(&r, "reminder"), r["escalated"].as_bool()),
        (3, Some(true))
    );
    let (_, office_session, _) = crate::web::console_session(app, "admin").await;
    let (_, html) = page(&office, app, &office_session, "/console/escalations").await;
    assert!(
        html.contains("督办后已答复") && html.contains(&public_id),
        "{html}"
    );
}
