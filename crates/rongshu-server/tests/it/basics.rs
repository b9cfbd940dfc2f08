//! Health, metrics, the OpenAPI document, and errors as problem+json.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{TestApp, json_of};

on_both_backends!(
    health_metrics_and_openapi_answer,
    unknown_things_are_problem_json_404s,
    bad_bodies_are_4xx_that_say_what_is_wrong,
    migrations_are_idempotent_and_a_newer_schema_is_refused,
);

async fn health_metrics_and_openapi_answer(app: &TestApp) {
    let res = app.get("/healthz", None).await;
    assert!(res.headers().contains_key("x-request-id"));
    let (status, body, _) = json_of(res).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));

    let res = app.get("/metrics", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert!(text.contains(
        "rongshu_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
    ));
    assert!(text.contains("rongshu_http_request_duration_seconds_bucket"));
    assert!(text.contains("rongshu_db_pool_connections{state=\"open\"}"));

    let (status, doc, _) = json_of(app.get("/api/v1/openapi.json", None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/resources",
        "/api/v1/resources/{code}/records",
        "/api/v1/auth/login",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }

    // A request id sent by the caller comes back.
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-42");
}

async fn unknown_things_are_problem_json_404s(app: &TestApp) {
    let cast = app.cast().await;
    let (status, body, ct) = json_of(
        app.get("/api/v1/resources/nope-00001", Some(&cast.consumer))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ct, "application/problem+json");
    assert_eq!(body["type"], "/problems/not-found");
    assert!(body["detail"].as_str().unwrap().contains("nope-00001"));

    let (status, _, ct) = json_of(app.get("/no/such/page", None).await).await;
    assert_eq!(
        (status, ct.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );

    let res = app
        .client
        .delete(app.url("/api/v1/resources"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn bad_bodies_are_4xx_that_say_what_is_wrong(app: &TestApp) {
    let cast = app.cast().await;
    let res = app
        .client
        .post(app.url("/api/v1/resources"))
        .bearer_auth(&cast.provider)
        .header("content-type", "application/json")
        .body("{\"name\": \"人口\", ")
        .send()
        .await
        .unwrap();
    let (status, body, ct) = json_of(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ct, "application/problem+json");
    assert!(body["detail"].as_str().unwrap().contains("JSON"), "{body}");

    // A declaration that parses but is not valid names the field.
    let (status, body, _) = json_of(
        app.post_json(
            "/api/v1/resources",
            Some(&cast.provider),
            &json!({"name": "x", "key_items": ["id"], "items": [{"key": "id", "type": "money"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"].as_str().unwrap().contains("items[0].type"),
        "{body}"
    );

    // Over the JSON limit (256 KiB in tests).
    let big = json!({"name": "x".repeat(300 * 1024)});
    let res = app
        .post_json("/api/v1/resources", Some(&cast.provider), &big)
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Over the upload limit (2 MiB in tests).
    let code = app.population_resource(&cast, "unconditional").await;
    let huge = "a".repeat(3 * 1024 * 1024);
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            huge,
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A batch of a media type that is no batch format.
    let res = app
        .client
        .post(app.url(&format!("/api/v1/resources/{code}/batches")))
        .bearer_auth(&cast.provider)
        .header("content-type", "application/pdf")
        .body("%PDF-1.7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // An empty file and a file without the required columns: 422, nothing loaded.
    for bad in ["", "district\n锦江区\n"] {
        let (status, body, _) = json_of(
            app.post_csv(
                &format!("/api/v1/resources/{code}/batches"),
                &cast.provider,
                bad,
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (_, resource, _) = json_of(
        app.get(&format!("/api/v1/resources/{code}"), Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(resource["row_count"], 0);
}

async fn migrations_are_idempotent_and_a_newer_schema_is_refused(app: &TestApp) {
    let url = app.store_url().await;
    let version = app.store.schema_version().await.unwrap();
    assert!(version >= 1);
    // Opening again applies nothing and changes nothing.
    let again = rongshu_store::Store::open(&url).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), version);
    again
        .execute_unchecked_for_tests(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')",
        )
        .await
        .unwrap();
    let err = rongshu_store::Store::open(&url).await.unwrap_err();
    assert!(err.to_string().contains("newer than this program"), "{err}");
    again.close().await;
}
