//! Applications and their keys: a key is shown once and then only by its
//! prefix, rotation keeps the old key working for its grace period and no
//! longer, revocation and disabling stop keys at once, the IP allow-list and
//! the rate limit are enforced when a key authenticates, and the console
//! does all of it with plain forms.

use chrono::Duration;
use reqwest::StatusCode;
use rongshu_core::account::Role;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, json_of};

on_both_backends!(
    a_key_is_shown_once_then_only_by_its_prefix,
    only_the_right_people_see_and_manage_applications,
    a_rotated_key_works_during_its_grace_and_stops_after,
    a_revoked_key_and_a_disabled_application_stop_at_once,
    an_application_outside_its_allow_list_is_refused,
    an_application_over_its_rate_limit_is_told_when_to_return,
    the_console_manages_applications_and_keys_without_javascript,
);

/// Register an application as the consumer's department admin; its id.
pub(crate) async fn register(app: &TestApp, dept_admin: &str, name: &str) -> i64 {
    let (status, body, _) = json_of(
        app.post_json(
            "/api/v1/applications",
            Some(dept_admin),
            &json!({"name": name, "description": "社保待遇资格核验"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "active");
    body["id"].as_i64().unwrap()
}

/// Issue a key; (key id, secret).
async fn new_key(app: &TestApp, dept_admin: &str, id: i64, body: &Value) -> (i64, String) {
    let (status, made, _) = json_of(
        app.post_json(
            &format!("/api/v1/applications/{id}/keys"),
            Some(dept_admin),
            body,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    (
        made["id"].as_i64().unwrap(),
        made["key"].as_str().unwrap().to_owned(),
    )
}

async fn me_status(app: &TestApp, key: &str) -> (StatusCode, Value) {
    let (status, body, _) = json_of(app.get("/api/v1/me", Some(key)).await).await;
    (status, body)
}

async fn show(app: &TestApp, token: &str, id: i64) -> Value {
    let (status, body, _) = json_of(
        app.get(&format!("/api/v1/applications/{id}"), Some(token))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn key_in(app_view: &Value, key_id: i64) -> &Value {
    app_view["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id)
        .unwrap()
}

async fn a_key_is_shown_once_then_only_by_its_prefix(app: &TestApp) {
    let cast = app.cast().await;
    let id = register(app, &cast.consumer, "社保核验系统").await;
    let (status, made, _) = json_of(
        app.post_json(
            &format!("/api/v1/applications/{id}/keys"),
            Some(&cast.consumer),
            &json!({"label": "生产环境", "expires_days": 365}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["key"].as_str().unwrap().to_owned();
    let prefix = made["prefix"].as_str().unwrap().to_owned();
    let key_id = made["id"].as_i64().unwrap();
    assert!(secret.starts_with("rst_") && secret.len() > 40, "{secret}");
    assert!(
        secret.starts_with(&prefix) && prefix.len() == 12,
        "{prefix}"
    );
    assert_eq!(made["label"], "生产环境");

    // The key works, as the application.
    let (status, me) = me_status(app, &secret).await;
    assert_eq!(
        (status, me["kind"].as_str()),
        (StatusCode::OK, Some("application"))
    );

    // From now on only its prefix is shown, anywhere.
    let view = show(app, &cast.consumer, id).await;
    let listed = key_in(&view, key_id);
    assert_eq!(listed["prefix"], prefix.as_str());
    assert_eq!(listed["label"], "生产环境");
    assert_eq!(listed["state"], "active");
    assert!(listed["expires_at"].is_string() && listed["created_at"].is_string());
    let (_, keys, _) = json_of(
        app.get(
            &format!("/api/v1/applications/{id}/keys"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    let (_, all, _) = json_of(app.get("/api/v1/applications", Some(&cast.admin)).await).await;
    let (_, audit, _) = json_of(
        app.get("/api/v1/audit/events?limit=1000", Some(&cast.admin))
            .await,
    )
    .await;
    for body in [&view, &keys, &all, &audit] {
        assert!(
            !body.to_string().contains(&secret),
            "the secret leaked: {body}"
        );
    }
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "token.create" && e["target"] == "app:rsj/社保核验系统"),
        "{audit}"
    );
    // The stored row holds a hash, not the key.
    let stored = app.store.application_keys(id).await.unwrap();
    assert_eq!(stored[0].prefix.as_deref(), Some(prefix.as_str()));

    // When it was last used is noted, off the request's path: soon after.
    let mut last_used = Value::Null;
    for _ in 0..100 {
        let view = show(app, &cast.consumer, id).await;
        last_used = key_in(&view, key_id)["last_used_at"].clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last_used, "2026-03-02T09:00:00Z", "{last_used}");

    // A body may be left out; a bad expiry is refused with what to fix.
    let res = app
        .client
        .post(app.url(&format!("/api/v1/applications/{id}/keys")))
        .bearer_auth(&cast.consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let (status, body, ct) = json_of(
        app.post_json(
            &format!("/api/v1/applications/{id}/keys"),
            Some(&cast.consumer),
            &json!({"expires_days": 0}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ct, "application/problem+json");
    assert!(body["detail"].as_str().unwrap().contains("expires_days"));
}

async fn only_the_right_people_see_and_manage_applications(app: &TestApp) {
    let cast = app.cast().await;
    let id = register(app, &cast.consumer, "就业登记系统").await;
    let (_, key) = new_key(app, &cast.consumer, id, &json!({})).await;
    app.seed_user("rsj", "rsj_analyst", &[Role::Analyst]).await;
    app.seed_user("rsj", "rsj_clerk", &[Role::DataOfficer])
        .await;
    let analyst = app.login("rsj_analyst").await;
    let clerk = app.login("rsj_clerk").await;

    // The department's data officer sees them (to name one in a request)...
    let (status, list, _) = json_of(app.get("/api/v1/applications", Some(&clerk)).await).await;
    assert_eq!((status, list["total"].as_i64()), (StatusCode::OK, Some(1)));
    assert_eq!(show(app, &clerk, id).await["name"], "就业登记系统");
    // ...but changes nothing.
    for (path, body) in [
        (format!("/api/v1/applications/{id}/keys"), json!({})),
        (format!("/api/v1/applications/{id}/disable"), json!({})),
    ] {
        let res = app.post_json(&path, Some(&clerk), &body).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let res = app
        .patch_json(
            &format!("/api/v1/applications/{id}"),
            Some(&clerk),
            &json!({"rate_limit_per_minute": 10}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // An analyst of the department sees none of it; another department's
    // people are told it does not exist.
    assert_eq!(
        app.get("/api/v1/applications", Some(&analyst))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let (status, list, _) =
        json_of(app.get("/api/v1/applications", Some(&cast.provider)).await).await;
    assert_eq!(
        (status, list["total"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{list}"
    );
    assert_eq!(
        app.get(&format!("/api/v1/applications/{id}"), Some(&cast.provider))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // An application's own key manages nothing, not even itself.
    assert_eq!(
        app.get("/api/v1/applications", Some(&key)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_json(
            &format!("/api/v1/applications/{id}/keys"),
            Some(&key),
            &json!({})
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    // Nobody without credentials.
    assert_eq!(
        app.get("/api/v1/applications", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The office sees every department's and may stop one, but issues no
    // secret for another department.
    let (_, all, _) = json_of(app.get("/api/v1/applications", Some(&cast.admin)).await).await;
    assert_eq!(all["items"][0]["department"]["code"], "rsj");
    assert_eq!(
        app.post_json(
            &format!("/api/v1/applications/{id}/keys"),
            Some(&cast.admin),
            &json!({})
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    let (status, disabled, _) = json_of(
        app.post_json(
            &format!("/api/v1/applications/{id}/disable"),
            Some(&cast.admin),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, disabled["state"].as_str()),
        (StatusCode::OK, Some("disabled"))
    );
    let events = app
        .store
        .audit_events(Some("application.disable"), 10)
        .await
        .unwrap();
    assert_eq!(events[0].actor, "user:admin");
}

async fn a_rotated_key_works_during_its_grace_and_stops_after(app: &TestApp) {
    let cast = app.cast().await;
    let id = register(app, &cast.consumer, "医保结算系统").await;
    let (old_id, old_key) = new_key(app, &cast.consumer, id, &json!({"label": "etl"})).await;

    let (status, rotated, _) = json_of(
        app.post_json(
            &format!("/api/v1/applications/{id}/keys/{old_id}/rotate"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    let new_id = rotated["id"].as_i64().unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(
        rotated["label"], "etl",
        "the new key keeps the old one's label"
    );
    // The default grace is 24 hours.
    assert_eq!(rotated["replaces"]["id"], old_id);
    assert_eq!(rotated["replaces"]["works_until"], "2026-03-03T09:00:00Z");

    // Both work during the grace period; the old one shows as rotating.
    assert_eq!(me_status(app, &old_key).await.0, StatusCode::OK);
    assert_eq!(me_status(app, &new_key).await.0, StatusCode::OK);
    let view = show(app, &cast.consumer, id).await;
    assert_eq!(key_in(&view, old_id)["state"], "rotating");
    assert_eq!(key_in(&view, old_id)["replaced_by"], new_id);
    assert_eq!(key_in(&view, new_id)["state"], "active");
    // Only a working key that was not rotated yet is rotated.
    let res = app
        .post_json(
            &format!("/api/v1/applications/{id}/keys/{old_id}/rotate"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    app.clock.advance(Duration::hours(23));
    assert_eq!(me_status(app, &old_key).await.0, StatusCode::OK);
    app.clock.advance(Duration::hours(1));
    let (status, body) = me_status(app, &old_key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    assert_eq!(me_status(app, &new_key).await.0, StatusCode::OK);
    let cast = app.cast_tokens().await;
    let view = show(app, &cast.consumer, id).await;
    assert_eq!(key_in(&view, old_id)["state"], "expired");

    // A grace of nothing stops the old key at once; a week is the most.
    let res = app
        .post_json(
            &format!("/api/v1/applications/{id}/keys/{new_id}/rotate"),
            Some(&cast.consumer),
            &json!({"grace_hours": 169}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (status, third, _) = json_of(
        app.post_json(
            &format!("/api/v1/applications/{id}/keys/{new_id}/rotate"),
            Some(&cast.consumer),
            &json!({"grace_hours": 0, "label": "etl-2026"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(me_status(app, &new_key).await.0, StatusCode::UNAUTHORIZED);
    let third = third["key"].as_str().unwrap();
    assert_eq!(me_status(app, third).await.0, StatusCode::OK);
    let rotations = app
        .store
        .audit_events(Some("token.rotate"), 10)
        .await
        .unwrap();
    assert_eq!(rotations.len(), 2);
}

async fn a_revoked_key_and_a_disabled_application_stop_at_once(app: &TestApp) {
    let cast = app.cast().await;
    let id = register(app, &cast.consumer, "低保审核系统").await;
    let (first_id, first) = new_key(app, &cast.consumer, id, &json!({})).await;
    let (_, second) = new_key(app, &cast.consumer, id, &json!({})).await;
    assert_eq!(me_status(app, &first).await.0, StatusCode::OK);

    let (status, revoked, _) = json_of(
        app.post_json(
            &format!("/api/v1/applications/{id}/keys/{first_id}/revoke"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, revoked["state"].as_str()),
        (StatusCode::OK, Some("revoked"))
    );
    let (status, body) = me_status(app, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("revoked"));
    assert_eq!(me_status(app, &second).await.0, StatusCode::OK);
    let res = app
        .post_json(
            &format!("/api/v1/applications/{id}/keys/{first_id}/revoke"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // A revoked key cannot be rotated back to life.
    let res = app
        .post_json(
            &format!("/api/v1/applications/{id}/keys/{first_id}/rotate"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // Another application's key is not this one's to revoke.
    let other = register(app, &cast.consumer, "另一个系统").await;
    let res = app
        .post_json(
            &format!("/api/v1/applications/{other}/keys/{first_id}/revoke"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Disabling stops every key; enabling restores the ones still good.
    let res = app
        .post_json(
            &format!("/api/v1/applications/{id}/disable"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, body) = me_status(app, &second).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["detail"].as_str().unwrap().contains("disabled"),
        "{body}"
    );
    let res = app
        .post_json(
            &format!("/api/v1/applications/{id}/disable"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = app
        .post_json(
            &format!("/api/v1/applications/{id}/enable"),
            Some(&cast.consumer),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(me_status(app, &second).await.0, StatusCode::OK);
    assert_eq!(me_status(app, &first).await.0, StatusCode::UNAUTHORIZED);
}

async fn set(app: &TestApp, token: &str, id: i64, body: &Value) -> (StatusCode, Value) {
    let (status, body, _) = json_of(
        app.patch_json(&format!("/api/v1/applications/{id}"), Some(token), body)
            .await,
    )
    .await;
    (status, body)
}

async fn an_application_outside_its_allow_list_is_refused(app: &TestApp) {
    let cast = app.cast().await;
    let id = register(app, &cast.consumer, "公积金核验系统").await;
    let (_, key) = new_key(app, &cast.consumer, id, &json!({})).await;

    // Mistakes are refused with what to write instead.
    let (status, body) = set(
        app,
        &cast.consumer,
        id,
        &json!({"allowed_ips": ["10.1.2.3/16"]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"].as_str().unwrap().contains("10.1.0.0/16"),
        "{body}"
    );
    let (status, body) = set(
        app,
        &cast.consumer,
        id,
        &json!({"allowed_ips": ["intranet"]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = set(app, &cast.consumer, id, &json!({"colour": "red"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Outside the list (the tests call from 127.0.0.1): 403, saying why.
    let (status, body) = set(
        app,
        &cast.consumer,
        id,
        &json!({"allowed_ips": ["10.9.0.0/16", "2001:db8::/32"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["allowed_ips"], json!(["10.9.0.0/16", "2001:db8::/32"]));
    let (status, body, ct) = json_of(app.get("/api/v1/me", Some(&key)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(ct, "application/problem+json");
    assert_eq!(body["type"], "/problems/address-not-allowed");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("127.0.0.1") && detail.contains("allow-list"),
        "{detail}"
    );
    // A forwarded address is not believed from a caller that is no trusted proxy.
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&key)
        .header("x-forwarded-for", "10.9.1.1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // People are not held to an application's list.
    assert_eq!(
        app.get("/api/v1/me", Some(&cast.consumer)).await.status(),
        StatusCode::OK
    );

    // Inside the list (a block and a single IPv6 address): allowed.
    let (status, _) = set(
        app,
        &cast.consumer,
        id,
        &json!({"allowed_ips": ["127.0.0.0/8", "::1"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me_status(app, &key).await.0, StatusCode::OK);
    // Emptied, it allows any address again.
    let (_, body) = set(app, &cast.consumer, id, &json!({"allowed_ips": []})).await;
    assert_eq!(body["allowed_ips"], json!([]));
    assert_eq!(me_status(app, &key).await.0, StatusCode::OK);
    let changes = app
        .store
        .audit_events(Some("application.update"), 10)
        .await
        .unwrap();
    assert_eq!(changes.len(), 3, "only saved changes are audited");
}

async fn an_application_over_its_rate_limit_is_told_when_to_return(app: &TestApp) {
    let cast = app.cast().await;
    let id = register(app, &cast.consumer, "不动产查询系统").await;
    let other = register(app, &cast.consumer, "婚姻登记系统").await;
    let (_, key) = new_key(app, &cast.consumer, id, &json!({})).await;
    let (_, other_key) = new_key(app, &cast.consumer, other, &json!({})).await;

    let (status, body) = set(
        app,
        &cast.consumer,
        id,
        &json!({"rate_limit_per_minute": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = set(
        app,
        &cast.consumer,
        id,
        &json!({"rate_limit_per_minute": 3}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rate_limit_per_minute"], 3);
    assert_eq!(body["rate_limit_effective"], 3);

    // Three a minute: three at once, then one every 20 seconds.
    for _ in 0..3 {
        assert_eq!(me_status(app, &key).await.0, StatusCode::OK);
    }
    let res = app.get("/api/v1/me", Some(&key)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "20");
    let (_, body, ct) = json_of(res).await;
    assert_eq!(ct, "application/problem+json");
    assert_eq!(body["type"], "/problems/rate-limited");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("3 requests a minute"),
        "{body}"
    );
    // The data API is held to it too, and other applications are not.
    let res = app.get("/api/v1/resources", Some(&key)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    for _ in 0..5 {
        assert_eq!(me_status(app, &other_key).await.0, StatusCode::OK);
    }
    // Having waited as long as it was told, it gets through (once).
    app.clock.advance(Duration::seconds(19));
    assert_eq!(me_status(app, &key).await.0, StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(me_status(app, &key).await.0, StatusCode::OK);
    assert_eq!(me_status(app, &key).await.0, StatusCode::TOO_MANY_REQUESTS);

    // Back to the platform's default: shown, and far from reached here.
    let (status, body) = set(
        app,
        &cast.consumer,
        id,
        &json!({"rate_limit_per_minute": null}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["rate_limit_per_minute"].is_null());
    assert_eq!(body["rate_limit_effective"], 6000);
    assert_eq!(me_status(app, &key).await.0, StatusCode::OK);
}

async fn the_console_manages_applications_and_keys_without_javascript(app: &TestApp) {
    app.cast().await;
    let (client, session, csrf) = crate::web::console_session(app, "rsj_officer").await;
    let get = |path: String| {
        let client = client.clone();
        let session = session.clone();
        async move {
            client
                .get(app.url(&path))
                .header("cookie", session)
                .send()
                .await
                .unwrap()
        }
    };
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let client = client.clone();
        let session = session.clone();
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
    // The console links to the page, in both languages.
    let html = get("/console".into()).await.text().await.unwrap();
    assert!(html.contains("/console/applications") && html.contains("应用与密钥"));
    let html = get("/console/applications?lang=en".into())
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("No applications yet") && html.contains("Register an application"),
        "{html}"
    );

    // Without the session's CSRF token the form is refused.
    let res = post(
        "/console/applications".into(),
        vec![("csrf", "forged".into()), ("name", "出租车监管系统".into())],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = post(
        "/console/applications".into(),
        vec![
            ("csrf", csrf.clone()),
            ("name", "出租车监管系统".into()),
            ("description", "交通运输局协同".into()),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = res.headers()["location"].to_str().unwrap().to_owned();
    let id: i64 = page.rsplit('/').next().unwrap().parse().unwrap();

    // A new key: the secret is on the answer, once, and not cached.
    let res = post(
        format!("{page}/keys"),
        vec![
            ("csrf", csrf.clone()),
            ("label", "正式环境".into()),
            ("expires_days", "90".into()),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    let secret = html
        .split("<code id=\"new-key\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        secret.starts_with("rst_") && html.contains("只显示这一次"),
        "{html}"
    );
    assert_eq!(me_status(app, &secret).await.0, StatusCode::OK);
    // Seen again, the page shows its prefix only.
    let html = get(page.clone()).await.text().await.unwrap();
    assert!(
        !html.contains(&secret) && html.contains(&secret[..12]),
        "{html}"
    );
    assert!(html.contains("正式环境") && html.contains("有效"));

    // Settings: a mistake comes back with what was typed; then saved.
    let res = post(
        format!("{page}/settings"),
        vec![
            ("csrf", csrf.clone()),
            ("description", "交通运输局协同".into()),
            ("allowed_ips", "127.0.0.1\n10.1.2.3/8".into()),
            ("rate_limit_per_minute", "120".into()),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("10.0.0.0/8") && html.contains("10.1.2.3/8"),
        "{html}"
    );
    let res = post(
        format!("{page}/settings"),
        vec![
            ("csrf", csrf.clone()),
            ("description", "交通运输局协同".into()),
            ("allowed_ips", "127.0.0.1\n10.0.0.0/8, ::1".into()),
            ("rate_limit_per_minute", "120".into()),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let view = show(app, &app.login("rsj_officer").await, id).await;
    assert_eq!(
        view["allowed_ips"],
        json!(["127.0.0.1", "10.0.0.0/8", "::1"])
    );
    assert_eq!(view["rate_limit_per_minute"], 120);
    let key_id = view["keys"][0]["id"].as_i64().unwrap();

    // Rotate from the page: the new secret is shown; the old key is in its grace.
    let res = post(
        format!("{page}/keys/{key_id}/rotate"),
        vec![("csrf", csrf.clone()), ("grace_hours", "2".into())],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let rotated = html
        .split("<code id=\"new-key\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, secret);
    assert!(html.contains("轮换宽限期内"), "{html}");
    assert_eq!(me_status(app, &secret).await.0, StatusCode::OK);
    // Revoke the old key from the page: it stops at once.
    let res = post(
        format!("{page}/keys/{key_id}/revoke"),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_status(app, &secret).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(app, &rotated).await.0, StatusCode::OK);

    // Disable from the page; the English page says so.
    let res = post(format!("{page}/disable"), vec![("csrf", csrf.clone())]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_status(app, &rotated).await.0, StatusCode::UNAUTHORIZED);
    let html = get(format!("{page}?lang=en")).await.text().await.unwrap();
    assert!(
        html.contains("disabled") && html.contains("Enable it again") && html.contains("revoked"),
        "{html}"
    );
    let html = get("/console/applications".into())
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("已停用") && html.contains("出租车监管系统"),
        "{html}"
    );

    // Another department's people are told it does not exist.
    let (client2, other_session, _) = crate::web::console_session(app, "gaj_officer").await;
    let res = client2
        .get(app.url(&page))
        .header("cookie", other_session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// `X-Forwarded-For` counts only from a proxy the configuration trusts.
mod behind_a_trusted_proxy {
    use super::*;

    async fn scenario(app: &TestApp) {
        let cast = app.cast().await;
        let id = register(app, &cast.consumer, "代理后的系统").await;
        let (_, key) = new_key(app, &cast.consumer, id, &json!({})).await;
        let (status, _) = set(
            app,
            &cast.consumer,
            id,
            &json!({"allowed_ips": ["10.9.0.0/16"]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let from = |forwarded: &'static str| {
            app.client
                .get(app.url("/api/v1/me"))
                .bearer_auth(&key)
                .header("x-forwarded-for", forwarded)
                .send()
        };
        // The test client is the proxy (127.0.0.1); the client it names is checked.
        assert_eq!(from("10.9.1.1").await.unwrap().status(), StatusCode::OK);
        let res = from("192.0.2.7").await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let (_, body, _) = json_of(res).await;
        assert!(
            body["detail"].as_str().unwrap().contains("192.0.2.7"),
            "{body}"
        );
        // A client cannot slip an address in front of the proxy's own entry.
        assert_eq!(
            from("10.9.1.1, 192.0.2.7").await.unwrap().status(),
            StatusCode::FORBIDDEN
        );
        // No header: the proxy's own address, which is not on the list.
        assert_eq!(me_status(app, &key).await.0, StatusCode::FORBIDDEN);
    }

    fn trust_loopback(config: &mut rongshu_server::ServerConfig) {
        config.trusted_proxies = vec![rongshu_core::net::IpBlock::parse("127.0.0.1").unwrap()];
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::sqlite_with(trust_loopback).await;
        scenario(&app).await;
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::postgres_with(trust_loopback).await {
            scenario(&app).await;
            app.stop().await;
        }
    }
}
