//! The catalog's lifecycle, versions, history and share demands.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, json_of, population_csv, population_spec};

on_both_backends!(
    each_transition_needs_its_role_and_versions_stay_readable,
    a_draft_is_the_providers_alone,
    demands_are_routed_answered_and_closed,
);

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let (status, body, _) = json_of(app.post_json(path, Some(token), &body).await).await;
    (status, body)
}

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let res = app
        .client
        .put(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let (status, body, _) = json_of(res).await;
    (status, body)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let (status, body, _) = json_of(app.get(path, Some(token)).await).await;
    (status, body)
}

async fn each_transition_needs_its_role_and_versions_stay_readable(app: &TestApp) {
    let cast = app.cast().await;
    let (status, created) = post(
        app,
        "/api/v1/resources",
        &cast.provider,
        population_spec("unconditional"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["status"], "draft");
    assert_eq!(created["classification"], "1-01-001");
    assert_eq!(created["kind"], "base");
    let code = created["code"].as_str().unwrap().to_owned();
    let r = |t: &str| format!("/api/v1/resources/{code}/{t}");

    // submit: the provider's data officer only (to others a draft does not exist).
    assert_eq!(
        post(app, &r("submit"), &cast.consumer, json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(app, &r("submit"), &cast.admin, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(app, &r("approve"), &cast.admin, json!({})).await.0,
        StatusCode::CONFLICT,
        "not submitted yet"
    );
    let (status, body) = post(app, &r("submit"), &cast.provider, json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("submitted"))
    );
    // approve: the platform office only.
    assert_eq!(
        post(app, &r("approve"), &cast.provider, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(app, &r("approve"), &cast.consumer, json!({})).await.0,
        StatusCode::NOT_FOUND,
        "still unpublished"
    );
    let (status, body) = post(
        app,
        &r("approve"),
        &cast.admin,
        json!({"comment": "元数据完整"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("published"))
    );
    assert_eq!(body["version"], 1);
    assert!(body["publish_date"].is_string());

    // A change to a published resource is a new version; readers keep the old one.
    let mut v2 = population_spec("unconditional");
    v2["summary"] = json!("户籍人口（含迁入迁出）");
    v2["items"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "phone", "name": "联系电话", "grade": 3}));
    let (status, body) = put(
        app,
        &format!("/api/v1/resources/{code}"),
        &cast.provider,
        &v2,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["working"], json!({"version": 2, "state": "draft"}));
    assert_eq!(body["summary"], "户籍人口");
    let (_, seen) = get(app, &format!("/api/v1/resources/{code}"), &cast.consumer).await;
    assert_eq!(seen["summary"], "户籍人口");
    let (status, v) = get(
        app,
        &format!("/api/v1/resources/{code}?version=2"),
        &cast.provider,
    )
    .await;
    assert_eq!(
        (status, v["summary"].as_str()),
        (StatusCode::OK, Some("户籍人口（含迁入迁出）"))
    );
    let (status, _) = get(
        app,
        &format!("/api/v1/resources/{code}?version=2"),
        &cast.consumer,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a draft version is the provider's"
    );
    // Readers see published data under the published items only.
    app.post_csv(
        &format!("/api/v1/resources/{code}/batches"),
        &cast.provider,
        population_csv(3),
    )
    .await;
    let (_, page) = get(
        app,
        &format!("/api/v1/resources/{code}/records"),
        &cast.consumer,
    )
    .await;
    assert!(page["records"][0].get("phone").is_none());

    // An item's type cannot change; the key cannot either.
    let mut bad = v2.clone();
    bad["items"][4]["type"] = json!("string");
    let (status, body) = put(
        app,
        &format!("/api/v1/resources/{code}"),
        &cast.provider,
        &bad,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("children"));
    assert_eq!(
        put(
            app,
            &format!("/api/v1/resources/{code}"),
            &cast.consumer,
            &v2
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // Under review, no edits; a rejection sends the version back with its reason.
    assert_eq!(
        post(app, &r("submit"), &cast.provider, json!({})).await.0,
        StatusCode::OK
    );
    assert_eq!(
        put(
            app,
            &format!("/api/v1/resources/{code}"),
            &cast.provider,
            &v2
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    let (status, body) = post(
        app,
        &r("reject"),
        &cast.admin,
        json!({"comment": "联系电话须注明来源"}),
    )
    .await;
    assert_eq!(
        (status, body["working"]["state"].as_str()),
        (StatusCode::OK, Some("draft"))
    );
    assert_eq!(
        post(app, &r("submit"), &cast.provider, json!({})).await.0,
        StatusCode::OK
    );
    let (_, body) = post(app, &r("approve"), &cast.admin, json!({})).await;
    assert_eq!(
        (body["version"].as_i64(), body["summary"].as_str()),
        (Some(2), Some("户籍人口（含迁入迁出）"))
    );
    assert!(body["working"].is_null());
    let (_, v1) = get(
        app,
        &format!("/api/v1/resources/{code}?version=1"),
        &cast.consumer,
    )
    .await;
    assert_eq!(v1["summary"], "户籍人口", "the old version stays readable");

    // retire: the platform office or the provider's department admin.
    assert_eq!(
        post(app, &r("retire"), &cast.consumer, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(app, &r("retire"), &cast.provider, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = post(
        app,
        &r("retire"),
        &cast.admin,
        json!({"comment": "并入新资源"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("retired"))
    );
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(1),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        get(
            app,
            &format!("/api/v1/resources/{code}/records"),
            &cast.consumer
        )
        .await
        .0,
        StatusCode::OK
    );

    // The history has every move and every field change, newest first.
    let (_, history) = get(
        app,
        &format!("/api/v1/resources/{code}/history"),
        &cast.provider,
    )
    .await;
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "retire", "approve", "submit", "reject", "submit", "update", "approve", "submit",
            "create"
        ]
    );
    let update = &history["items"][5];
    assert_eq!(update["actor"], "user:gaj_officer");
    let summary = update["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "summary")
        .unwrap();
    assert_eq!(
        (summary["before"].as_str(), summary["after"].as_str()),
        (Some("户籍人口"), Some("户籍人口（含迁入迁出）"))
    );
    assert!(
        update["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "items.phone")
    );
    assert_eq!(history["items"][3]["comment"], "联系电话须注明来源");
    // Others see the published record only.
    let (_, public) = get(
        app,
        &format!("/api/v1/resources/{code}/history"),
        &cast.consumer,
    )
    .await;
    let public: Vec<&str> = public["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(public, ["retire", "approve", "approve", "create"]);
    // And each move is in the audit log.
    let approvals = app
        .store
        .audit_events(Some("resource.approve"), 10)
        .await
        .unwrap();
    assert_eq!(approvals.len(), 2);
    assert_eq!(approvals[0].resource.as_deref(), Some(code.as_str()));
}

async fn a_draft_is_the_providers_alone(app: &TestApp) {
    let cast = app.cast().await;
    let (_, created) = post(
        app,
        "/api/v1/resources",
        &cast.provider,
        population_spec("unconditional"),
    )
    .await;
    let code = created["code"].as_str().unwrap().to_owned();
    // Its provider can already test it with a batch.
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(4),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, page) = get(
        app,
        &format!("/api/v1/resources/{code}/records"),
        &cast.provider,
    )
    .await;
    assert_eq!(
        (status, page["records"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(4))
    );
    // Nobody else knows of it.
    for path in [
        format!("/api/v1/resources/{code}"),
        format!("/api/v1/resources/{code}/records"),
    ] {
        assert_eq!(
            get(app, &path, &cast.consumer).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (_, list) = get(app, "/api/v1/resources", &cast.consumer).await;
    assert_eq!(list["total"], 0);
    // The provider finds it among its own resources.
    let (_, list) = get(app, "/api/v1/resources", &cast.provider).await;
    assert_eq!(
        list["total"], 0,
        "the public catalog lists published resources"
    );
    let (_, list) = get(app, "/api/v1/resources?provider=gaj", &cast.provider).await;
    assert_eq!(list["total"], 1);
    // The defaults the provider left are pointed out.
    let defaulted: Vec<&str> = created["defaulted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        defaulted.contains(&"format") && defaulted.contains(&"open_type"),
        "{defaulted:?}"
    );
}

async fn demands_are_routed_answered_and_closed(app: &TestApp) {
    let cast = app.cast().await;
    let (status, demand) = post(
        app,
        "/api/v1/demands",
        &cast.consumer,
        json!({"title": "流动人口居住登记", "description": "核定社保待遇需要居住地", "items": ["居住地址", "登记日期"], "reason": "社保待遇核定"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{demand}");
    assert_eq!(
        (demand["state"].as_str(), demand["age_days"].as_i64()),
        (Some("open"), Some(0))
    );
    let id = demand["id"].as_i64().unwrap();
    let d = |t: &str| format!("/api/v1/demands/{id}/{t}");
    // Not yet the provider's business.
    assert_eq!(
        get(app, &format!("/api/v1/demands/{id}"), &cast.provider)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(
            app,
            &d("route"),
            &cast.consumer,
            json!({"department": "gaj"})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, routed) = post(app, &d("route"), &cast.admin, json!({"department": "gaj"})).await;
    assert_eq!(
        (status, routed["state"].as_str()),
        (StatusCode::OK, Some("routed"))
    );
    let (_, mine) = get(app, "/api/v1/demands?state=routed", &cast.provider).await;
    assert_eq!(mine["total"], 1);
    assert_eq!(
        post(
            app,
            &d("answer"),
            &cast.consumer,
            json!({"decision": "cannot", "reason": "x"})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = post(
        app,
        &d("answer"),
        &cast.provider,
        json!({"decision": "maybe"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, answered) = post(
        app,
        &d("answer"),
        &cast.provider,
        json!({"decision": "will_provide", "by_date": "2026-06-30", "reason": "纳入下季度目录"}),
    )
    .await;
    assert_eq!(
        (status, answered["state"].as_str()),
        (StatusCode::OK, Some("will_provide"))
    );
    assert_eq!(answered["promised_date"], "2026-06-30");
    assert_eq!(
        post(
            app,
            &d("answer"),
            &cast.provider,
            json!({"decision": "cannot", "reason": "x"})
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    app.clock.advance(chrono::Duration::days(3));
    let (_, shown) = get(app, &format!("/api/v1/demands/{id}"), &cast.consumer).await;
    assert_eq!(shown["age_days"], 3);
    let events: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["create", "routed", "will_provide"]);
    assert_eq!(
        post(app, &d("close"), &cast.provider, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, closed) = post(app, &d("close"), &cast.consumer, json!({})).await;
    assert_eq!(closed["state"], "closed");
}
