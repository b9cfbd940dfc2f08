//! Sign-in, tokens and the refusals every caller without the right credentials meets.

use chrono::Duration;
use reqwest::StatusCode;
use rongshu_core::account::Role;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, json_of};

on_both_backends!(
    sign_in_works_and_failures_are_throttled_and_audited,
    no_credentials_is_401_everywhere_that_needs_them,
    revoked_and_expired_tokens_are_refused,
    only_the_right_roles_may_administer,
    session_cookies_need_the_csrf_header_for_changes,
    application_keys_read_as_their_department,
);

async fn sign_in_works_and_failures_are_throttled_and_audited(app: &TestApp) {
    app.seed_user("gaj", "li", &[Role::DataOfficer]).await;
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "li", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["department"]["code"], "gaj");
    assert_eq!(body["user"]["roles"], json!(["data_officer"]));

    let (status, me, _) = json_of(
        app.get("/api/v1/me", Some(body["token"].as_str().unwrap()))
            .await,
    )
    .await;
    assert_eq!(
        (status, me["user"]["username"].as_str()),
        (StatusCode::OK, Some("li"))
    );

    for _ in 0..5 {
        let res = app
            .post_json(
                "/api/v1/auth/login",
                None,
                &json!({"username": "li", "password": "wrong password"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused until the window passes.
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "li", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(Duration::minutes(16));
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "li", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    let failed = app
        .store
        .audit_events(Some("auth.login_failed"), 100)
        .await
        .unwrap();
    assert_eq!(failed.len(), 5);
    let ok = app
        .store
        .audit_events(Some("auth.login"), 100)
        .await
        .unwrap();
    assert_eq!(ok.len(), 2);
    // Neither the password nor any token is in the audit log.
    let all = app.store.audit_events(None, 1000).await.unwrap();
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains("wrong password"));
    assert!(!text.contains(body["token"].as_str().unwrap()));
}

async fn no_credentials_is_401_everywhere_that_needs_them(app: &TestApp) {
    for path in [
        "/api/v1/me",
        "/api/v1/resources",
        "/api/v1/departments",
        "/api/v1/resources/x-00001/records",
        "/api/v1/audit/events",
    ] {
        let (status, body, ct) = json_of(app.get(path, None).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(body["type"], "/problems/unauthorized");
    }
    let res = app.get("/api/v1/me", Some("rst_not-a-real-token")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn revoked_and_expired_tokens_are_refused(app: &TestApp) {
    app.seed_user("gaj", "li", &[Role::DataOfficer]).await;
    let session_token = app.login("li").await;
    let (status, made, _) = json_of(
        app.post_json(
            "/api/v1/tokens",
            Some(&session_token),
            &json!({"label": "etl", "expires_days": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let token = made["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );

    app.clock.advance(Duration::days(2));
    let (status, body, _) = json_of(app.get("/api/v1/me", Some(&token)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("expired"));

    let (_, made, _) = json_of(
        app.post_json("/api/v1/tokens", Some(&session_token), &json!({}))
            .await,
    )
    .await;
    let token = made["token"].as_str().unwrap().to_owned();
    let id = made["id"].as_i64().unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{id}")))
        .bearer_auth(&session_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, body, _) = json_of(app.get("/api/v1/me", Some(&token)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("revoked"));

    // Someone else's token cannot be revoked by a plain user.
    app.seed_user("rsj", "wang", &[Role::Analyst]).await;
    let other = app.login("wang").await;
    let (_, made, _) = json_of(
        app.post_json("/api/v1/tokens", Some(&session_token), &json!({}))
            .await,
    )
    .await;
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/tokens/{}", made["id"])))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn only_the_right_roles_may_administer(app: &TestApp) {
    let cast = app.cast().await;
    // Departments: the platform office only.
    let body = json!({"code": "wjw", "name": "卫健委"});
    assert_eq!(
        app.post_json("/api/v1/departments", Some(&cast.provider), &body)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_json("/api/v1/departments", Some(&cast.admin), &body)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.post_json("/api/v1/departments", Some(&cast.admin), &body)
            .await
            .status(),
        StatusCode::CONFLICT
    );
    // A district government holding a bureau.
    let (status, child, _) = json_of(
        app.post_json(
            "/api/v1/departments",
            Some(&cast.admin),
            &json!({"code": "wh_wjj", "name": "武侯区卫健局", "parent": "wjw"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, child["parent_code"].as_str()),
        (StatusCode::CREATED, Some("wjw"))
    );

    // Users: the admin anywhere; a department admin only in its own department.
    let user = |dept: &str, name: &str| json!({"username": name, "department": dept, "roles": ["analyst"], "password": PASSWORD});
    assert_eq!(
        app.post_json(
            "/api/v1/users",
            Some(&cast.consumer),
            &user("rsj", "rsj_new")
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.post_json(
            "/api/v1/users",
            Some(&cast.consumer),
            &user("gaj", "gaj_new")
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_json(
            "/api/v1/users",
            Some(&cast.provider),
            &user("gaj", "gaj_new")
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_json("/api/v1/users", Some(&cast.admin), &user("gaj", "gaj_new"))
            .await
            .status(),
        StatusCode::CREATED
    );
    // A weak password is refused with a reason.
    let (status, body, _) = json_of(
        app.post_json(
            "/api/v1/users",
            Some(&cast.admin),
            &json!({"username": "weak", "department": "gaj", "password": "123"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("at least"));
    // The audit log is the platform office's.
    assert_eq!(
        app.get("/api/v1/audit/events", Some(&cast.provider))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

async fn session_cookies_need_the_csrf_header_for_changes(app: &TestApp) {
    app.seed_user("gaj", "li", &[Role::DataOfficer]).await;
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"username": "li", "password": PASSWORD}),
        )
        .await;
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    // Reading with the cookie alone is fine.
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Changing without the header is refused; with it, allowed.
    let spec = crate::support::population_spec("unconditional");
    let res = app
        .client
        .post(app.url("/api/v1/resources"))
        .header("cookie", &cookie)
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client
        .post(app.url("/api/v1/resources"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn application_keys_read_as_their_department(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let (status, _, _) = json_of(
        app.post_json(
            "/api/v1/applications",
            Some(&cast.consumer),
            &json!({"name": "社保核验系统"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, key, _) = json_of(
        app.post_json(
            "/api/v1/applications/社保核验系统/tokens",
            Some(&cast.consumer),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = key["token"].as_str().unwrap().to_owned();
    let (status, me, _) = json_of(app.get("/api/v1/me", Some(&key)).await).await;
    assert_eq!(
        (status, me["kind"].as_str()),
        (StatusCode::OK, Some("application"))
    );
    let res = app
        .get(&format!("/api/v1/resources/{code}/records"), Some(&key))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let reads = app.store.audit_events(Some("data.read"), 10).await.unwrap();
    assert_eq!(reads[0].actor, "app:rsj/社保核验系统");
    // An application cannot deliver batches or register resources.
    let res = app
        .post_json(
            "/api/v1/resources",
            Some(&key),
            &crate::support::population_spec("none"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
