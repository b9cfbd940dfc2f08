//! Open data end to end: a release is scanned for personal values and held
//! until each flagged item is dealt with and a second person approves; then
//! it, and only it, is what the CKAN Action API, DCAT and datapackage show.

use reqwest::StatusCode;
use rongshu_core::account::Role;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{Cast, TestApp, json_of, population_csv, population_spec};

on_both_backends!(
    the_pii_gate_holds_a_release_until_every_hit_is_dealt_with,
    ckan_actions_show_only_published_releases_with_search_and_paging,
    dcat_and_datapackage_describe_every_published_dataset,
);

/// The population resource, open in the catalog, with `n` people loaded.
pub(crate) async fn open_population(app: &TestApp, cast: &Cast, n: u32) -> String {
    let mut spec = population_spec("unconditional");
    spec["open_type"] = json!("open");
    let (status, body, _) = json_of(
        app.post_json("/api/v1/resources", Some(&cast.provider), &spec)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    app.publish(cast, &code).await;
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(n),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    code
}

async fn propose(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let (status, body, _) =
        json_of(app.post_json("/api/v1/releases", Some(token), &body).await).await;
    (status, body)
}

pub(crate) async fn ckan(app: &TestApp, action: &str, query: &str) -> (StatusCode, Value) {
    let (status, body, _) = json_of(
        app.get(&format!("/api/3/action/{action}?{query}"), None)
            .await,
    )
    .await;
    (status, body)
}

async fn ckan_post(app: &TestApp, action: &str, body: Value) -> (StatusCode, Value) {
    let (status, body, _) = json_of(
        app.post_json(&format!("/api/action/{action}"), None, &body)
            .await,
    )
    .await;
    (status, body)
}

/// Propose, mask or drop what was flagged, approve as the reviewer.
pub(crate) async fn publish_release(
    app: &TestApp,
    cast: &Cast,
    reviewer: &str,
    body: Value,
) -> Value {
    let (status, release) = propose(app, &cast.provider, body).await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    let id = release["id"].as_i64().unwrap();
    let treatments: Vec<Value> = release["blocking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let action = if item == "id_number" { "drop" } else { "mask" };
            json!({"item": item, "action": action})
        })
        .collect();
    if !treatments.is_empty() {
        let (status, body, _) = json_of(
            app.post_json(
                &format!("/api/v1/releases/{id}/treatments"),
                Some(&cast.provider),
                &json!({ "treatments": treatments }),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body, _) = json_of(
        app.post_json(
            &format!("/api/v1/releases/{id}/approve"),
            Some(reviewer),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub(crate) async fn reviewer(app: &TestApp) -> String {
    app.seed_user("gaj", "gaj_reviewer", &[Role::Reviewer])
        .await;
    app.login("gaj_reviewer").await
}

async fn the_pii_gate_holds_a_release_until_every_hit_is_dealt_with(app: &TestApp) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = open_population(app, &cast, 12).await;

    // Only the provider proposes, and a grade-4 item is never opened.
    let (status, _) = propose(app, &cast.consumer, json!({"resource": code})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = propose(
        app,
        &cast.provider,
        json!({"resource": code, "items": ["district", "income"]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, release) = propose(
        app,
        &cast.provider,
        json!({"resource": code, "name": "population-open", "title": "人口开放测试"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    let id = release["id"].as_i64().unwrap();
    assert_eq!(release["state"], "proposed");
    assert_eq!(release["scan"]["rows_scanned"], 12);
    let id_hit = release["scan"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["item"] == "id_number")
        .expect("ID numbers are found")
        .clone();
    assert_eq!(id_hit["counts"]["citizen_id"], 12);
    // The example is masked: the report is no leak of its own.
    assert!(id_hit["example"].as_str().unwrap().contains("****"));
    assert_eq!(release["blocking"], json!(["id_number", "name"]));
    assert_eq!(release["releasable"], false);

    // Blocked: nothing approves it while hits are open, and nothing shows.
    let approve = format!("/api/v1/releases/{id}/approve");
    let (status, body, _) =
        json_of(app.post_json(&approve, Some(&reviewer), &json!({})).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, list) = ckan(app, "package_list", "").await;
    assert_eq!(list["result"], json!([]));

    // A justification needs a reason; then one item is masked, one justified.
    let treat = format!("/api/v1/releases/{id}/treatments");
    let (status, _, _) = json_of(
        app.post_json(
            &treat,
            Some(&cast.provider),
            &json!({"treatments": [{"item": "id_number", "action": "justify"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body, _) = json_of(
        app.post_json(
            &treat,
            Some(&cast.provider),
            &json!({"treatments": [{"item": "id_number", "action": "mask"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["blocking"], json!(["name"]));
    let (status, body, _) = json_of(
        app.post_json(
            &treat,
            Some(&cast.provider),
            &json!({"treatments": [{"item": "name", "action": "justify", "reason": "测试：公示名单依法公开"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["releasable"], true);

    // The proposer cannot approve the own release; the reviewer can.
    let (status, _, _) = json_of(
        app.post_json(&approve, Some(&cast.provider), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) =
        json_of(app.post_json(&approve, Some(&reviewer), &json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "published");
    assert_eq!(body["reviewed_by"], "user:gaj_reviewer");

    // Published: the ID number comes out masked, the name as justified.
    let (status, rows) = ckan(
        app,
        "datastore_search",
        "resource_id=population-open-data&limit=3",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let first = &rows["result"]["records"][0];
    let shown = first["id_number"].as_str().unwrap();
    assert!(shown.contains('*') && shown.len() == 18, "{shown}");
    assert!(first["name"].as_str().unwrap().starts_with('张'));
    assert!(first.get("income").is_none(), "grade 4 never goes out");
    // A masked item cannot be filtered on: that would tell its values.
    let (status, body) = ckan_post(
        app,
        "datastore_search",
        json!({"resource_id": "population-open-data", "filters": {"id_number": shown}}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["__type"], "Validation Error");

    // Every step is on the audit record.
    let (_, events, _) = json_of(
        app.get("/api/v1/audit/events?limit=200", Some(&cast.admin))
            .await,
    )
    .await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .or_else(|| events["events"].as_array())
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    for wanted in ["release.propose", "release.treat", "release.approve"] {
        assert!(actions.contains(&wanted), "{wanted} in {actions:?}");
    }

    // Withdrawn: gone from every action at once.
    let (status, _, _) = json_of(
        app.post_json(
            &format!("/api/v1/releases/{id}/withdraw"),
            Some(&cast.provider),
            &json!({"reason": "测试"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = ckan(app, "package_show", "id=population-open").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["__type"], "Not Found Error");
    let (_, search) = ckan(app, "package_search", "q=*:*").await;
    assert_eq!(search["result"]["count"], 0);
}

async fn ckan_actions_show_only_published_releases_with_search_and_paging(app: &TestApp) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = open_population(app, &cast, 30).await;
    // Published: a district view without personal items.
    publish_release(
        app,
        &cast,
        &reviewer,
        json!({"resource": code, "name": "children-by-person", "title": "锦江区家庭子女数",
               "items": ["district", "children", "birth_date"],
               "filters": [{"item": "district", "op": "eq", "value": "锦江区"}]}),
    )
    .await;
    // Proposed only: must never show.
    let (status, _) = propose(
        app,
        &cast.provider,
        json!({"resource": code, "name": "hidden-draft", "title": "未发布的人口视图"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, body) = ckan(app, "site_read", "").await;
    assert_eq!((status, &body["result"]), (StatusCode::OK, &json!(true)));
    assert!(
        body["help"]
            .as_str()
            .unwrap()
            .contains("help_show?name=site_read")
    );
    let (_, status_show) = ckan(app, "status_show", "").await;
    assert!(status_show["result"]["ckan_version"].is_string());
    let (_, list) = ckan(app, "package_list", "").await;
    assert_eq!(list["result"], json!(["children-by-person"]));
    for (action, query) in [
        ("package_show", "id=hidden-draft"),
        ("resource_show", "id=hidden-draft-data"),
        ("datastore_search", "resource_id=hidden-draft-data"),
        ("organization_show", "id=rsj"),
    ] {
        let (status, body) = ckan(app, action, query).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}: {body}");
        assert_eq!(body["error"]["__type"], "Not Found Error");
    }

    // Chinese search, fq, facets, both spellings of a call.
    let (status, found) = ckan(
        app,
        "package_search",
        "q=%E5%AD%90%E5%A5%B3&fq=organization:gaj&facet.field=[%22organization%22,%22tags%22,%22groups%22,%22res_format%22]",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let result = &found["result"];
    assert_eq!(result["count"], 1);
    assert_eq!(result["results"][0]["name"], "children-by-person");
    assert_eq!(result["facets"]["organization"]["gaj"], 1);
    assert_eq!(result["facets"]["tags"]["户籍"], 1);
    assert_eq!(result["facets"]["res_format"]["JSON"], 1);
    assert_eq!(
        result["search_facets"]["groups"]["items"][0]["name"],
        "公共安全"
    );
    assert_eq!(
        result["search_facets"]["organization"]["items"][0]["display_name"],
        "gaj局"
    );
    let package = &result["results"][0];
    let names: Vec<&str> = package["resources"][0]["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["birth_date", "district", "children"]);
    let (_, none) = ckan(
        app,
        "package_search",
        "q=%E4%BA%A4%E9%80%9A%E6%8B%A5%E5%A0%B5",
    )
    .await;
    assert_eq!(none["result"]["count"], 0);
    let (_, none) = ckan(app, "package_search", "fq=tags:%E4%B8%8D%E5%AD%98%E5%9C%A8").await;
    assert_eq!(none["result"]["count"], 0);
    let (_, none) = ckan(app, "package_search", "fq=res_format:PDF").await;
    assert_eq!(none["result"]["count"], 0);
    let (status, all) = ckan_post(
        app,
        "package_search",
        json!({"q": "*:*", "rows": 1, "start": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["result"]["count"], 1);
    let (_, past) = ckan_post(
        app,
        "package_search",
        json!({"q": "*:*", "rows": 1, "start": 1}),
    )
    .await;
    assert_eq!(past["result"]["results"], json!([]));
    let (status, bad) = ckan(app, "package_search", "rows=many").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(bad["error"]["__type"], "Validation Error");
    let (status, bad) = ckan(app, "package_search", "fq=secret:1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{bad}");

    let (_, orgs) = ckan(app, "organization_list", "all_fields=true").await;
    assert_eq!(orgs["result"][0]["name"], "gaj");
    assert_eq!(orgs["result"][0]["package_count"], 1);
    let (_, org) = ckan_post(
        app,
        "organization_show",
        json!({"id": "gaj", "include_datasets": true}),
    )
    .await;
    assert_eq!(org["result"]["packages"][0]["name"], "children-by-person");
    let (_, groups) = ckan(app, "group_list", "").await;
    assert_eq!(groups["result"], json!(["公共安全"]));
    let (_, tags) = ckan(app, "tag_list", "").await;
    assert_eq!(tags["result"], json!(["人口", "户籍"]));

    // The datastore: only the view's rows, with filters, sort, paging, total.
    let rid = "children-by-person-data";
    let (status, page) = ckan(
        app,
        "datastore_search",
        &format!("resource_id={rid}&limit=4&offset=2&sort=children%20desc"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let r = &page["result"];
    assert_eq!(r["total"], 15, "the view holds 锦江区 only");
    assert_eq!(r["records"].as_array().unwrap().len(), 4);
    let children: Vec<i64> = r["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["children"].as_i64().unwrap())
        .collect();
    assert!(children.windows(2).all(|w| w[0] >= w[1]), "{children:?}");
    assert!(r["records"][0].get("id_number").is_none());
    assert!(r["records"][0]["_id"].is_i64());
    let (_, filtered) = ckan_post(
        app,
        "datastore_search",
        json!({"resource_id": rid, "filters": {"children": [0, 2]}, "fields": ["children"], "include_total": true}),
    )
    .await;
    let rows = filtered["result"]["records"].as_array().unwrap();
    assert!(
        rows.iter()
            .all(|x| x["children"] != 1 && x.get("district").is_none())
    );
    assert_eq!(
        filtered["result"]["total"].as_i64().unwrap() as usize,
        rows.len()
    );
    let (_, text) = ckan(
        app,
        "datastore_search",
        &format!("resource_id={rid}&q=%E9%94%A6%E6%B1%9F&include_total=false"),
    )
    .await;
    assert!(text["result"].get("total").is_none());
    assert_eq!(text["result"]["records"].as_array().unwrap().len(), 15);
    let (_, nothing) = ckan(
        app,
        "datastore_search",
        &format!(
            "resource_id={rid}&filters=%7B%22district%22%3A%22%E6%AD%A6%E4%BE%AF%E5%8C%BA%22%7D"
        ),
    )
    .await;
    assert_eq!(
        nothing["result"]["total"], 0,
        "rows outside the view never show"
    );
    let (status, bad) = ckan(
        app,
        "datastore_search",
        &format!("resource_id={rid}&fields=income"),
    )
    .await;
    assert_eq!(
        (status, &bad["error"]["__type"]),
        (StatusCode::CONFLICT, &json!("Validation Error"))
    );
    let (status, bad) = ckan(app, "datastore_search", "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{bad}");
    let (status, bad) = ckan(app, "no_such_action", "").await;
    assert_eq!(
        (status, bad["success"].clone()),
        (StatusCode::BAD_REQUEST, json!(false))
    );

    // A conditional release lists, but its rows need the terms: 403.
    publish_release(
        app,
        &cast,
        &reviewer,
        json!({"resource": code, "name": "conditional-view", "items": ["district"],
               "open_type": "conditional", "open_condition": "注册用户同意使用协议"}),
    )
    .await;
    let (status, denied) = ckan(app, "datastore_search", "resource_id=conditional-view-data").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{denied}");
    assert_eq!(denied["error"]["__type"], "Authorization Error");
}

async fn dcat_and_datapackage_describe_every_published_dataset(app: &TestApp) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = open_population(app, &cast, 6).await;
    let release = publish_release(
        app,
        &cast,
        &reviewer,
        json!({"resource": code, "name": "people-masked", "title": "人口（脱敏）"}),
    )
    .await;
    let id = release["id"].as_i64().unwrap();

    let res = app.get("/catalog.jsonld", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).expect("JSON-LD is JSON");
    let datasets: Vec<&Value> = doc["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["@type"] == "dcat:Dataset")
        .collect();
    assert_eq!(datasets.len(), 1);
    for d in datasets {
        for mandatory in [
            "dct:title",
            "dct:description",
            "dct:publisher",
            "dcat:distribution",
        ] {
            assert!(!d[mandatory].is_null(), "{mandatory} in {d}");
        }
        assert!(
            d["dcat:distribution"][0]["dcat:accessURL"]["@id"]
                .as_str()
                .unwrap()
                .starts_with("http://")
        );
        for recommended in [
            "dcat:keyword",
            "dcat:theme",
            "dct:accrualPeriodicity",
            "dct:modified",
            "dct:license",
            "dcat:contactPoint",
        ] {
            assert!(!d[recommended].is_null(), "{recommended}");
        }
    }
    let res = app.get("/catalog.ttl", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let ttl = res.text().await.unwrap();
    assert!(ttl.contains("@prefix dcat: <http://www.w3.org/ns/dcat#> ."));
    assert!(ttl.contains("/dataset/people-masked> a dcat:Dataset ;"));
    assert!(ttl.contains("dct:title \"人口（脱敏）\"@zh ;"));
    assert!(ttl.contains("dcat:accessURL <http://"));
    let (status, _, _) = json_of(app.get("/catalog.jsonld?page=9", None).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, package, _) = json_of(
        app.get(&format!("/api/v1/releases/{id}/datapackage.json"), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{package}");
    assert_eq!(package["name"], "people-masked");
    let fields = package["resources"][0]["schema"]["fields"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(
        !names.contains(&"id_number") && !names.contains(&"income"),
        "{names:?}"
    );
    let name = fields.iter().find(|f| f["name"] == "name").unwrap();
    assert_eq!(
        (name["type"].as_str(), name["rongshu:masked"].as_bool()),
        (Some("string"), Some(true))
    );
}
