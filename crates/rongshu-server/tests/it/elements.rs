//! The data element registry (一数一源): who may change it, items that name
//! an unknown element, and which department's values are of record.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Cast, TestApp, json_of, population_csv, population_spec};
use crate::web::console_session;

on_both_backends!(
    only_the_office_registers_and_changes_elements,
    an_item_naming_an_unknown_element_is_refused,
    the_authoritys_items_are_of_record_and_others_are_witnesses,
    the_office_registers_an_element_in_the_console,
    items_that_named_elements_before_the_registry_are_indexed_on_upgrade,
    a_catalog_import_naming_an_unknown_element_is_refused_whole,
);

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let res = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let (status, body, _) = json_of(res).await;
    (status, body)
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    send(app, reqwest::Method::POST, path, token, &body).await
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    send(app, reqwest::Method::PUT, path, token, &body).await
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let (status, body, _) = json_of(app.get(path, Some(token)).await).await;
    (status, body)
}

fn element(code: &str, name: &str, authority: &str) -> Value {
    json!({"code": code, "name": name, "authority": authority})
}

async fn register(app: &TestApp, cast: &Cast, code: &str, name: &str, authority: &str) {
    let (status, body) = post(
        app,
        "/api/v1/elements",
        &cast.admin,
        element(code, name, authority),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn only_the_office_registers_and_changes_elements(app: &TestApp) {
    let cast = app.cast().await;
    let (status, body) = post(
        app,
        "/api/v1/elements",
        &cast.admin,
        json!({"code": "person.name", "name": "姓名", "name_en": "Name",
               "description": "户籍登记的姓名", "authority": "gaj"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["code"], "person.name");
    assert_eq!(body["authority"]["code"], "gaj");

    // A provider, a consumer and an anonymous caller may not register or change.
    for token in [&cast.provider, &cast.consumer] {
        let (status, body) = post(
            app,
            "/api/v1/elements",
            token,
            element("person.sex", "性别", "gaj"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = put(
            app,
            "/api/v1/elements/person.name",
            token,
            element("person.name", "姓名", "rsj"),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let res = app
        .post_json(
            "/api/v1/elements",
            None,
            &element("person.sex", "性别", "gaj"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/elements", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Anyone signed in reads the registry.
    let (status, list) = get(app, "/api/v1/elements", &cast.consumer).await;
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the refused ones were not registered");
    assert_eq!(items[0]["code"], "person.name");
    assert_eq!(items[0]["name_en"], "Name");

    // Mistakes are 4xx problems that say what to fix.
    let cases = [
        (element("person.name", "姓名", "gaj"), StatusCode::CONFLICT),
        (
            element("Person.Name", "姓名", "gaj"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            element("person", "姓名", "gaj"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            element("person.sex", "", "gaj"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            element("person.sex", "性别", "nobody"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, expected) in cases {
        let res = app
            .post_json("/api/v1/elements", Some(&cast.admin), &body)
            .await;
        let (status, problem, content_type) = json_of(res).await;
        assert_eq!(status, expected, "{body}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
    let (status, _) = put(
        app,
        "/api/v1/elements/person.name",
        &cast.admin,
        element("person.other", "姓名", "gaj"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a code does not change"
    );
    let (status, _) = put(
        app,
        "/api/v1/elements/person.nope",
        &cast.admin,
        json!({"name": "无", "authority": "gaj"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(app, "/api/v1/elements/person.nope", &cast.consumer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every write is on the audit log.
    let (status, body) = put(
        app,
        "/api/v1/elements/person.name",
        &cast.admin,
        json!({"name": "姓名", "authority": "rsj"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["authority"]["code"], "rsj");
    assert_eq!(
        body["name_en"],
        Value::Null,
        "the whole declaration is replaced"
    );
    let (_, created) = get(
        app,
        "/api/v1/audit/events?action=element.create",
        &cast.admin,
    )
    .await;
    let created = created["items"].as_array().unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["target"], "person.name");
    assert_eq!(created[0]["actor"], "user:admin");
    let (_, updated) = get(
        app,
        "/api/v1/audit/events?action=element.update",
        &cast.admin,
    )
    .await;
    let updated = updated["items"].as_array().unwrap();
    assert_eq!(updated.len(), 1);
    let changes = updated[0]["detail"]["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["field"] == "authority" && c["before"] == "gaj" && c["after"] == "rsj"),
        "{changes:?}"
    );
    let (_, shown) = get(app, "/api/v1/elements/person.name", &cast.consumer).await;
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["action"], "update");
    assert!(matches!(
        app.store.verify_audit().await.unwrap(),
        rongshu_store::VerifyOutcome::Intact { .. }
    ));
}

async fn an_item_naming_an_unknown_element_is_refused(app: &TestApp) {
    let cast = app.cast().await;
    let mut spec = population_spec("unconditional");
    spec["items"][1]["element"] = json!("person.name");
    let res = app
        .post_json("/api/v1/resources", Some(&cast.provider), &spec)
        .await;
    let (status, problem, content_type) = json_of(res).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("items[1].element") && detail.contains("person.name"),
        "{detail}"
    );
    assert!(
        app.store.resources(None).await.unwrap().is_empty(),
        "nothing was created"
    );

    // Once registered, the same declaration is accepted.
    register(app, &cast, "person.name", "姓名", "gaj").await;
    let (status, created) = post(app, "/api/v1/resources", &cast.provider, spec.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let code = created["code"].as_str().unwrap().to_owned();

    // An edit that names an unknown element is refused and changes nothing.
    spec["items"][2]["element"] = json!("person.birthday");
    let (status, problem) = put(
        app,
        &format!("/api/v1/resources/{code}"),
        &cast.provider,
        spec,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("items[2].element")
    );
    let (_, shown) = get(app, &format!("/api/v1/resources/{code}"), &cast.provider).await;
    assert_eq!(shown["items"][2]["element"], Value::Null);
    let (_, history) = get(
        app,
        &format!("/api/v1/resources/{code}/history"),
        &cast.provider,
    )
    .await;
    assert_eq!(
        history["items"].as_array().unwrap().len(),
        1,
        "only the creation"
    );
}

/// The items of a resource's JSON by key: (element, authoritative).
fn marks(resource: &Value) -> Vec<(String, Value, Value)> {
    resource["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap().to_owned(),
                i["element"].clone(),
                i["authoritative"].clone(),
            )
        })
        .collect()
}

fn mark<'a>(marks: &'a [(String, Value, Value)], key: &str) -> (&'a Value, &'a Value) {
    let (_, element, authoritative) = marks.iter().find(|(k, _, _)| k == key).unwrap();
    (element, authoritative)
}

/// `(resource, department, item)` of each source in a list of the element's JSON.
fn sources(shown: &Value, list: &str) -> Vec<(String, String, String)> {
    shown[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["resource"].as_str().unwrap().to_owned(),
                s["department"]["code"].as_str().unwrap().to_owned(),
                s["item"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn the_authoritys_items_are_of_record_and_others_are_witnesses(app: &TestApp) {
    let cast = app.cast().await;
    register(app, &cast, "person.name", "姓名", "gaj").await;
    register(app, &cast, "person.birth_date", "出生日期", "gaj").await;

    // Public security, the authority, registers and publishes its population.
    let mut spec = population_spec("unconditional");
    spec["items"][1]["element"] = json!("person.name");
    spec["items"][2]["element"] = json!("person.birth_date");
    let (status, created) = post(app, "/api/v1/resources", &cast.provider, spec).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let gaj = created["code"].as_str().unwrap().to_owned();
    app.publish(&cast, &gaj).await;

    // Social security delivers names too: a witness.
    let (status, created) = post(
        app,
        "/api/v1/resources",
        &cast.consumer,
        json!({
            "name": "社会保险参保人员", "share_type": "unconditional", "update_cycle": "monthly",
            "key_items": ["id_number"],
            "items": [
                {"key": "id_number", "name": "公民身份号码", "grade": 3},
                {"key": "name", "name": "姓名", "grade": 3, "element": "person.name"},
                {"key": "insurance_type", "name": "险种", "grade": 2}
            ]
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let rsj = created["code"].as_str().unwrap().to_owned();

    // A draft source is known to its own department and the office only.
    let element_path = "/api/v1/elements/person.name";
    let (_, seen_by_gaj) = get(app, element_path, &cast.provider).await;
    assert!(sources(&seen_by_gaj, "witnesses").is_empty());
    let (_, seen_by_rsj) = get(app, element_path, &cast.consumer).await;
    assert_eq!(
        sources(&seen_by_rsj, "witnesses"),
        [(rsj.clone(), "rsj".to_owned(), "name".to_owned())]
    );
    let (status, _) = post(
        app,
        &format!("/api/v1/resources/{rsj}/submit"),
        &cast.consumer,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(
        app,
        &format!("/api/v1/resources/{rsj}/approve"),
        &cast.admin,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The element's sources, split by standing.
    let (status, shown) = get(app, element_path, &cast.provider).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["element"]["code"], "person.name");
    assert_eq!(shown["element"]["authority"]["code"], "gaj");
    assert_eq!(
        sources(&shown, "authoritative"),
        [(gaj.clone(), "gaj".to_owned(), "name".to_owned())]
    );
    assert_eq!(
        sources(&shown, "witnesses"),
        [(rsj.clone(), "rsj".to_owned(), "name".to_owned())]
    );
    let (_, list) = get(app, "/api/v1/elements", &cast.consumer).await;
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "person.name")
        .unwrap()
        .clone();
    assert_eq!(
        listed["sources"],
        json!({"authoritative": 1, "witnesses": 1})
    );

    // The resources' own JSON marks each item.
    let (_, population) = get(app, &format!("/api/v1/resources/{gaj}"), &cast.consumer).await;
    let m = marks(&population);
    assert_eq!(mark(&m, "name"), (&json!("person.name"), &json!(true)));
    assert_eq!(
        mark(&m, "birth_date"),
        (&json!("person.birth_date"), &json!(true))
    );
    assert_eq!(mark(&m, "district"), (&Value::Null, &json!(false)));
    let (_, insured) = get(app, &format!("/api/v1/resources/{rsj}"), &cast.provider).await;
    let m = marks(&insured);
    assert_eq!(mark(&m, "name"), (&json!("person.name"), &json!(false)));
    let (_, version) = get(
        app,
        &format!("/api/v1/resources/{gaj}?version=1"),
        &cast.consumer,
    )
    .await;
    assert_eq!(mark(&marks(&version), "name").1, &json!(true));

    // Records say once, for the page, which items are of record.
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{gaj}/batches"),
            &cast.provider,
            population_csv(4),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, page) = get(
        app,
        &format!("/api/v1/resources/{gaj}/records"),
        &cast.consumer,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["records"].as_array().unwrap().len(), 4);
    assert_eq!(page["authoritative"], json!(["name", "birth_date"]));
    assert_eq!(
        page["elements"],
        json!([{"item": "name", "element": "person.name", "authoritative": true},
               {"item": "birth_date", "element": "person.birth_date", "authoritative": true}])
    );
    assert!(page["records"][0].get("authoritative").is_none());
    let (_, page) = get(
        app,
        &format!("/api/v1/resources/{gaj}/records?fields=id_number,district"),
        &cast.consumer,
    )
    .await;
    assert_eq!(page["authoritative"], json!([]), "only the items returned");

    // The office moves the authority: the marks flip everywhere.
    let (status, body) = put(
        app,
        element_path,
        &cast.admin,
        element("person.name", "姓名", "rsj"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, shown) = get(app, element_path, &cast.consumer).await;
    assert_eq!(shown["element"]["authority"]["code"], "rsj");
    assert_eq!(
        sources(&shown, "authoritative"),
        [(rsj.clone(), "rsj".to_owned(), "name".to_owned())]
    );
    assert_eq!(
        sources(&shown, "witnesses"),
        [(gaj.clone(), "gaj".to_owned(), "name".to_owned())]
    );
    let (_, population) = get(app, &format!("/api/v1/resources/{gaj}"), &cast.consumer).await;
    let m = marks(&population);
    assert_eq!(mark(&m, "name").1, &json!(false));
    assert_eq!(mark(&m, "birth_date").1, &json!(true));
    let (_, insured) = get(app, &format!("/api/v1/resources/{rsj}"), &cast.provider).await;
    assert_eq!(mark(&marks(&insured), "name").1, &json!(true));
    let (_, page) = get(
        app,
        &format!("/api/v1/resources/{gaj}/records"),
        &cast.consumer,
    )
    .await;
    assert_eq!(page["authoritative"], json!(["birth_date"]));
}

async fn the_office_registers_an_element_in_the_console(app: &TestApp) {
    let cast = app.cast().await;
    register(app, &cast, "person.name", "姓名", "gaj").await;

    // Any signed-in user sees the list; only the office gets the form.
    let (client, session, csrf) = console_session(app, "gaj_officer").await;
    let html = client
        .get(app.url("/console/elements"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("person.name") && html.contains("gaj局"));
    assert!(!html.contains("action=\"/console/elements\""));
    let res = client
        .post(app.url("/console/elements"))
        .header("cookie", &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", "person.sex"),
            ("name", "性别"),
            ("authority", "gaj"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (admin, admin_session, admin_csrf) = console_session(app, "admin").await;
    let html = admin
        .get(app.url("/console/elements"))
        .header("cookie", &admin_session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("action=\"/console/elements\""));
    // Without the session's CSRF token the form is refused.
    let res = admin
        .post(app.url("/console/elements"))
        .header("cookie", &admin_session)
        .form(&[
            ("code", "person.sex"),
            ("name", "性别"),
            ("authority", "gaj"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A mistake comes back with the reason and the values kept.
    let res = admin
        .post(app.url("/console/elements"))
        .header("cookie", &admin_session)
        .form(&[
            ("csrf", admin_csrf.as_str()),
            ("code", "Person.Sex"),
            ("name", "性别"),
            ("authority", "gaj"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("value=\"Person.Sex\""));
    let res = admin
        .post(app.url("/console/elements"))
        .header("cookie", &admin_session)
        .form(&[
            ("csrf", admin_csrf.as_str()),
            ("code", "person.sex"),
            ("name", "性别"),
            ("name_en", "Sex"),
            ("authority", "gaj"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let element = app.store.element("person.sex").await.unwrap();
    assert_eq!(element.authority.code, "gaj");
    let html = admin
        .get(app.url("/console/elements?lang=en"))
        .header("cookie", &admin_session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("person.sex") && html.contains("Authoritative department"));
}

async fn items_that_named_elements_before_the_registry_are_indexed_on_upgrade(app: &TestApp) {
    let cast = app.cast().await;
    register(app, &cast, "person.name", "姓名", "gaj").await;
    let mut spec = population_spec("unconditional");
    spec["items"][1]["element"] = json!("person.name");
    let (status, created) = post(app, "/api/v1/resources", &cast.provider, spec).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let code = created["code"].as_str().unwrap().to_owned();
    app.publish(&cast, &code).await;

    // Back to the schema before the registry, when items already named
    // elements in their declarations; then upgrade again.
    let version = app.store.schema_version().await.unwrap();
    for sql in [
        "DROP TABLE resource_item_elements",
        "DROP TABLE data_element_history",
        "DROP TABLE data_elements",
        // Migrations are applied by membership: only this one runs again.
        "DELETE FROM schema_migrations WHERE version = 7",
    ] {
        app.store.execute_unchecked_for_tests(sql).await.unwrap();
    }
    let upgraded = rongshu_store::Store::open(&app.store_url().await)
        .await
        .unwrap();
    assert_eq!(upgraded.schema_version().await.unwrap(), version);
    upgraded.close().await;

    register(app, &cast, "person.name", "姓名", "gaj").await;
    let (_, shown) = get(app, "/api/v1/elements/person.name", &cast.consumer).await;
    assert_eq!(
        sources(&shown, "authoritative"),
        [(code, "gaj".to_owned(), "name".to_owned())]
    );
}

async fn a_catalog_import_naming_an_unknown_element_is_refused_whole(app: &TestApp) {
    let cast = app.cast().await;
    register(app, &cast, "person.name", "姓名", "gaj").await;
    let mut spec = population_spec("unconditional");
    spec["items"][1]["element"] = json!("person.name");
    let (status, created) = post(app, "/api/v1/resources", &cast.provider, spec).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workbook = app
        .client
        .get(app.url("/api/v1/catalog/export?format=xlsx"))
        .bearer_auth(&cast.admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    // Another platform that has not registered person.name refuses the sheet.
    let other = TestApp::sqlite().await;
    other
        .seed_user(
            "sjj",
            "admin",
            &[rongshu_core::account::Role::PlatformAdmin],
        )
        .await;
    let admin = other.login("admin").await;
    let import = || {
        other
            .client
            .post(other.url("/api/v1/catalog/import"))
            .bearer_auth(&admin)
            .body(workbook.to_vec())
            .send()
    };
    let (status, problem, _) = json_of(import().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("人口基础信息") && detail.contains("person.name"),
        "{detail}"
    );
    assert!(other.store.resources(None).await.unwrap().is_empty());
    // Once the office registers the element, the same sheet goes in.
    let (status, _) = post(
        &other,
        "/api/v1/elements",
        &admin,
        element("person.name", "姓名", "gaj"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body, _) = json_of(import().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    other.stop().await;
}
