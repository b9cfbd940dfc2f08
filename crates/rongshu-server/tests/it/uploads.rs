//! Resumable uploads: a file sent in chunks over several requests, resent,
//! out of order, checked against its declared size and digest, and committed
//! once as the same batch a one-shot delivery would load.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::on_both_backends;
use crate::support::{TestApp, citizen_id, json_of, population_csv};

on_both_backends!(
    a_file_sent_in_chunks_is_loaded_once_and_resumes_where_it_stopped,
    a_wrong_size_or_digest_is_refused_and_nothing_is_loaded,
    uploads_belong_to_their_provider_and_go_stale,
);

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn open(app: &TestApp, token: &str, code: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .post_json(
            &format!("/api/v1/resources/{code}/uploads"),
            Some(token),
            &body,
        )
        .await;
    let (status, body, _) = json_of(res).await;
    (status, body)
}

/// Send `bytes` as the chunk at `start` of an upload of `total` bytes (None: `*`).
async fn put(
    app: &TestApp,
    token: &str,
    path: &str,
    start: usize,
    bytes: &[u8],
    total: Option<usize>,
) -> (StatusCode, Value, Option<u64>) {
    let total = total.map_or_else(|| "*".to_owned(), |t| t.to_string());
    let res = app
        .client
        .put(app.url(path))
        .bearer_auth(token)
        .header(
            "content-range",
            format!("bytes {start}-{}/{total}", start + bytes.len() - 1),
        )
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let offset = res
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let (status, body, _) = json_of(res).await;
    (status, body, offset)
}

async fn post(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let res = app.post_json(path, Some(token), &json!({})).await;
    let (status, body, _) = json_of(res).await;
    (status, body)
}

async fn status_of(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let (status, body, _) = json_of(app.get(path, Some(token)).await).await;
    (status, body)
}

/// The ID numbers the provider reads back from a resource.
async fn loaded_ids(app: &TestApp, token: &str, code: &str) -> Vec<String> {
    let (status, page) = status_of(
        app,
        token,
        &format!("/api/v1/resources/{code}/records?limit=1000"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id_number"].as_str().unwrap().to_owned())
        .collect()
}

async fn batch_count(app: &TestApp, token: &str, code: &str) -> usize {
    let (_, batches) = status_of(app, token, &format!("/api/v1/resources/{code}/batches")).await;
    batches["items"].as_array().unwrap().len()
}

async fn a_file_sent_in_chunks_is_loaded_once_and_resumes_where_it_stopped(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let file = population_csv(30).into_bytes();
    let total = file.len();
    let (a, b) = (total / 3, 2 * total / 3);
    let (status, opened) = open(
        app,
        &cast.provider,
        &code,
        json!({"format": "csv", "mode": "upsert", "size": total, "sha256": sha256_hex(&file)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    assert_eq!(opened["received"], 0);
    assert_eq!(opened["state"], "open");
    assert!(opened["expires_at"].as_str().is_some(), "{opened}");
    let id = opened["upload_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with('u'), "{id}");
    let path = format!("/api/v1/resources/{code}/uploads/{id}");

    let (status, body, offset) = put(app, &cast.provider, &path, 0, &file[..a], Some(total)).await;
    assert_eq!(
        (status, body["received"].as_u64()),
        (StatusCode::OK, Some(a as u64))
    );
    assert_eq!(offset, Some(a as u64));
    // The client lost the answer and sends the first chunk again: acknowledged, not doubled.
    let (status, body, _) = put(app, &cast.provider, &path, 0, &file[..a], Some(total)).await;
    assert_eq!(
        (status, body["received"].as_u64()),
        (StatusCode::OK, Some(a as u64))
    );
    // Skipping the second chunk leaves a gap: refused, saying where to resume.
    let (status, body, offset) = put(app, &cast.provider, &path, b, &file[b..], Some(total)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["received"].as_u64(), Some(a as u64), "{body}");
    assert_eq!(offset, Some(a as u64));
    // Overlapping what arrived and running past it is refused the same way.
    let (status, body, _) = put(app, &cast.provider, &path, 1, &file[1..b], Some(total)).await;
    assert_eq!(
        (status, body["received"].as_u64()),
        (StatusCode::CONFLICT, Some(a as u64))
    );

    // A client that lost its connection asks where it got to.
    let (status, progress) = status_of(app, &cast.provider, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(progress["received"].as_u64(), Some(a as u64));
    assert_eq!(progress["size"].as_u64(), Some(total as u64));
    assert_eq!(progress["state"], "open");
    let (status, body, _) = put(app, &cast.provider, &path, a, &file[a..b], Some(total)).await;
    assert_eq!(
        (status, body["received"].as_u64()),
        (StatusCode::OK, Some(b as u64))
    );
    let head = app
        .client
        .head(app.url(&path))
        .bearer_auth(&cast.provider)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()
            .get("upload-offset")
            .unwrap()
            .to_str()
            .unwrap(),
        b.to_string()
    );

    // Committing before the last chunk: the declared size is not there yet.
    let (status, body) = post(app, &cast.provider, &format!("{path}/commit")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(loaded_ids(app, &cast.provider, &code).await.is_empty());

    let (status, body, _) = put(app, &cast.provider, &path, b, &file[b..], Some(total)).await;
    assert_eq!(
        (status, body["received"].as_u64()),
        (StatusCode::OK, Some(total as u64))
    );
    let (status, report) = post(app, &cast.provider, &format!("{path}/commit")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["rows_read"].as_u64(), report["rows_loaded"].as_u64()),
        (Some(30), Some(30)),
        "{report}"
    );
    assert_eq!(report["rows_rejected"], 0);
    assert_eq!(report["mode"], "upsert");
    // The same report a one-shot delivery gives.
    for field in ["batch_id", "resource", "encoding", "changes", "quality"] {
        assert!(report.get(field).is_some(), "{field} in {report}");
    }
    let batch = report["batch_id"].as_str().unwrap().to_owned();
    let expected: BTreeSet<String> = (0..30)
        .map(|i| citizen_id("510104", "19800101", i))
        .collect();
    let ids = loaded_ids(app, &cast.provider, &code).await;
    assert_eq!(ids.len(), 30, "no row twice");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), expected);

    let (status, done) = status_of(app, &cast.provider, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (done["state"].as_str(), done["batch_id"].as_str()),
        (Some("committed"), Some(batch.as_str()))
    );
    // A second commit loads nothing again, and no more chunks are taken.
    let (status, body) = post(app, &cast.provider, &format!("{path}/commit")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains(&batch), "{body}");
    let (status, _, _) = put(app, &cast.provider, &path, 0, &file[..a], Some(total)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(batch_count(app, &cast.provider, &code).await, 1);
    assert_eq!(loaded_ids(app, &cast.provider, &code).await.len(), 30);

    // Abandoning it afterwards forgets it.
    let res = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&cast.provider)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(app, &cast.provider, &path).await.0,
        StatusCode::NOT_FOUND
    );
    // The routes are in the API document.
    let (_, doc, _) = json_of(app.get("/api/v1/openapi.json", None).await).await;
    for route in ["", "/{id}", "/{id}/commit"] {
        let route = format!("/api/v1/resources/{{code}}/uploads{route}");
        assert!(doc["paths"].get(&route).is_some(), "{route}");
    }
}

async fn a_wrong_size_or_digest_is_refused_and_nothing_is_loaded(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let file = population_csv(10).into_bytes();
    let (status, opened) = open(
        app,
        &cast.provider,
        &code,
        json!({"sha256": sha256_hex(b"another file")}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    let path = format!(
        "/api/v1/resources/{code}/uploads/{}",
        opened["upload_id"].as_str().unwrap()
    );
    let (status, _, _) = put(app, &cast.provider, &path, 0, &file, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(app, &cast.provider, &format!("{path}/commit")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&sha256_hex(&file)),
        "{body}"
    );
    assert!(loaded_ids(app, &cast.provider, &code).await.is_empty());
    assert_eq!(batch_count(app, &cast.provider, &code).await, 0);
    // It stays open for the client to put right (here: abandon).
    let (_, progress) = status_of(app, &cast.provider, &path).await;
    assert_eq!(
        (progress["state"].as_str(), progress["received"].as_u64()),
        (Some("open"), Some(file.len() as u64))
    );
    let res = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&cast.provider)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status_of(app, &cast.provider, &path).await.0,
        StatusCode::NOT_FOUND
    );

    // A chunk past the declared size, a declared size past the limit, a bad
    // Content-Range and a format the platform does not read are refused.
    let (_, opened) = open(app, &cast.provider, &code, json!({"size": 10})).await;
    let path = format!(
        "/api/v1/resources/{code}/uploads/{}",
        opened["upload_id"].as_str().unwrap()
    );
    let (status, _, _) = put(app, &cast.provider, &path, 0, &file[..11], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = open(app, &cast.provider, &code, json!({"size": 3 * 1024 * 1024})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    for (content_range, content_type, expected) in [
        (None, "text/csv", StatusCode::BAD_REQUEST),
        (Some("bytes 0-3"), "text/csv", StatusCode::BAD_REQUEST),
        (
            Some("bytes 0-3/*"),
            "image/png",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let mut req = app
            .client
            .put(app.url(&path))
            .bearer_auth(&cast.provider)
            .header("content-type", content_type)
            .body(file[..4].to_vec());
        if let Some(r) = content_range {
            req = req.header("content-range", r);
        }
        assert_eq!(
            req.send().await.unwrap().status(),
            expected,
            "{content_range:?}"
        );
    }
    let (status, body) = open(app, &cast.provider, &code, json!({"mode": "merge"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn uploads_belong_to_their_provider_and_go_stale(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    // Only the provider's data officer opens one, as only they deliver batches.
    let (status, _) = open(app, &cast.consumer, &code, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, opened) = open(app, &cast.provider, &code, json!({"mode": "upsert"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = opened["upload_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/resources/{code}/uploads/{id}");
    // JSON lines, the format named by the first chunk's Content-Type.
    let lines: String = (0..3)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id_number": citizen_id("510104", "19800101", i), "name": "李四"})
            )
        })
        .collect();
    let res = app
        .client
        .put(app.url(&path))
        .bearer_auth(&cast.provider)
        .header("content-type", "application/x-ndjson")
        .header(
            "content-range",
            format!("bytes 0-{}/{}", lines.len() - 1, lines.len()),
        )
        .body(lines.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Another department cannot see, extend, commit or abandon it: it does not exist for them.
    let (status, _) = status_of(app, &cast.consumer, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = put(app, &cast.consumer, &path, lines.len(), b"x", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(app, &cast.consumer, &format!("{path}/commit")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&cast.consumer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Nor is it found under another resource's code, or by a made-up id.
    let (status, _) = status_of(
        app,
        &cast.provider,
        &format!("/api/v1/resources/101001-999999/uploads/{id}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = status_of(
        app,
        &cast.provider,
        &format!("/api/v1/resources/{code}/uploads/..%2F..%2Fetc"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, report) = post(app, &cast.provider, &format!("{path}/commit")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rows_loaded"], 3, "{report}");

    // An upload nobody writes to for a day is gone.
    let (_, opened) = open(app, &cast.provider, &code, json!({})).await;
    let path = format!(
        "/api/v1/resources/{code}/uploads/{}",
        opened["upload_id"].as_str().unwrap()
    );
    let (status, _, _) = put(app, &cast.provider, &path, 0, b"id_number,name\n", None).await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(chrono::Duration::hours(23));
    let provider = app.login("gaj_officer").await;
    assert_eq!(status_of(app, &provider, &path).await.0, StatusCode::OK);
    app.clock.advance(chrono::Duration::hours(2));
    let provider = app.login("gaj_officer").await;
    assert_eq!(
        status_of(app, &provider, &path).await.0,
        StatusCode::NOT_FOUND
    );
}
