//! The thin path: register, deliver, read back, with the refusals around it.

use reqwest::StatusCode;
use rongshu_core::account::Role;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, citizen_id, json_of, population_csv};

on_both_backends!(
    a_batch_is_loaded_and_read_back_with_filters_and_paging,
    a_bad_row_is_reported_by_line_and_item_and_the_rest_loads,
    sharing_rules_decide_who_reads,
    a_data_officer_registers_only_for_the_own_department,
    decimals_and_upserts_survive_exactly,
    gb18030_files_are_converted,
    upserts_snapshots_and_deletes_are_logged_in_order,
    json_and_xlsx_batches_load_like_csv,
    declared_quality_rules_reject_warn_and_are_reported,
    overdue_resources_are_listed_from_their_update_cycle,
    a_loading_batch_holds_up_no_reader_and_one_batch_loads_at_a_time,
    malformed_files_are_reported_or_refused_and_the_data_stays,
    an_export_as_a_workbook_is_masked_like_a_read,
);

async fn a_batch_is_loaded_and_read_back_with_filters_and_paging(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    assert!(code.starts_with("101001-"), "{code}");
    let report = app
        .load_batch(&code, &cast.provider, population_csv(25))
        .await;
    assert_eq!(
        (report["rows_read"].as_u64(), report["rows_loaded"].as_u64()),
        (Some(25), Some(25))
    );
    assert_eq!(report["rows_rejected"], 0);
    assert!(report["batch_id"].as_str().is_some());

    // The provider reads everything, plain, page by page.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(after) => format!("/api/v1/resources/{code}/records?limit=10&after={after}"),
            None => format!("/api/v1/resources/{code}/records?limit=10"),
        };
        let (status, page, _) = json_of(app.get(&path, Some(&cast.provider)).await).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for r in page["records"].as_array().unwrap() {
            seen.push(r["id_number"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], citizen_id("510104", "19800101", 0));

    // Filters on items, typed; field selection.
    let (_, page, _) = json_of(
        app.get(
            &format!(
                "/api/v1/resources/{code}/records?district=武侯区&children=1&fields=name,children"
            ),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 4, "{page}"); // i odd and i % 3 == 1: 1, 7, 13, 19
    assert_eq!(records[0], json!({"name": "张一", "children": 1}));

    // The consumer reads too, with grade 3 masked and grade 4 withheld.
    let (status, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records?name=张三"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let record = &page["records"][0];
    let id = citizen_id("510104", "19800101", 3);
    assert_eq!(record["id_number"], format!("510104********{}", &id[14..]));
    assert_eq!(record["name"], "张*");
    assert_eq!(record["district"], "武侯区");
    assert!(record.get("income").is_none(), "{record}");

    // Filtering on a core item, an unknown item or with a wrong type is refused.
    for (query, status) in [
        ("income=10003.50", StatusCode::FORBIDDEN),
        ("nosuch=1", StatusCode::BAD_REQUEST),
        ("children=many", StatusCode::BAD_REQUEST),
        ("limit=0", StatusCode::BAD_REQUEST),
        ("after=garbage", StatusCode::BAD_REQUEST),
        ("fields=nosuch", StatusCode::BAD_REQUEST),
    ] {
        let res = app
            .get(
                &format!("/api/v1/resources/{code}/records?{query}"),
                Some(&cast.consumer),
            )
            .await;
        assert_eq!(res.status(), status, "{query}");
    }

    // Every read is an audit event with who, what and how many rows.
    let reads = app
        .store
        .audit_events(Some("data.read"), 100)
        .await
        .unwrap();
    let consumer_read = reads
        .iter()
        .find(|e| e.actor == "user:rsj_officer")
        .unwrap();
    assert_eq!(consumer_read.resource.as_deref(), Some(code.as_str()));
    assert_eq!(consumer_read.rows, Some(1));
    assert_eq!(consumer_read.department.as_deref(), Some("rsj"));
    assert_eq!(consumer_read.detail["filters"], json!(["name"]));
}

async fn a_bad_row_is_reported_by_line_and_item_and_the_rest_loads(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let mut csv = population_csv(10);
    // Line 7 is the sixth data row: give it a birth date that does not exist.
    let lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    let mut broken = lines.clone();
    broken[6] = broken[6].replace("1980-01-01", "1980-02-30");
    csv = broken.join("\n") + "\n";
    let report = app.load_batch(&code, &cast.provider, csv).await;
    assert_eq!(report["rows_loaded"], 9);
    assert_eq!(report["rows_rejected"], 1);
    let reject = &report["rejects"][0];
    assert_eq!(reject["row"], 7);
    assert_eq!(reject["item"], "birth_date");
    assert_eq!(reject["key"], citizen_id("510104", "19800101", 5));
    assert!(
        reject["reason"].as_str().unwrap().contains("19800230")
            || reject["reason"].as_str().unwrap().contains("1980-02-30"),
        "{reject}"
    );
    let (_, resource, _) = json_of(
        app.get(&format!("/api/v1/resources/{code}"), Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(resource["row_count"], 9);
    let (_, batches, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/batches"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(batches["items"][0]["state"], "loaded");

    // The full list of failures, to fix and send back: CSV (streamed) or a workbook.
    let batch = report["batch_id"].as_str().unwrap();
    let failures = format!("/api/v1/resources/{code}/batches/{batch}/failures");
    let res = app.get(&failures, Some(&cast.provider)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], "row,key,item,value,rule,severity,reason");
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].starts_with(&format!(
            "7,{},birth_date,",
            citizen_id("510104", "19800101", 5)
        )),
        "{text}"
    );
    let res = app
        .get(&format!("{failures}?format=xlsx"), Some(&cast.provider))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    assert!(
        res.bytes().await.unwrap().starts_with(b"PK"),
        "a zip, as XLSX is"
    );
    let res = app
        .get(&format!("{failures}?format=pdf"), Some(&cast.provider))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app.get(&failures, Some(&cast.consumer)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn sharing_rules_decide_who_reads(app: &TestApp) {
    let cast = app.cast().await;
    for (share, consumer_status) in [
        ("unconditional", StatusCode::OK),
        ("conditional", StatusCode::FORBIDDEN),
        ("none", StatusCode::FORBIDDEN),
    ] {
        let code = app.population_resource(&cast, share).await;
        let path = format!("/api/v1/resources/{code}/records");
        assert_eq!(
            app.get(&path, Some(&cast.provider)).await.status(),
            StatusCode::OK,
            "{share}"
        );
        let (status, body, ct) = json_of(app.get(&path, Some(&cast.consumer)).await).await;
        assert_eq!(status, consumer_status, "{share}: {body}");
        if status == StatusCode::FORBIDDEN {
            assert_eq!(ct, "application/problem+json");
        }
        assert_eq!(
            app.get(&path, None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        // Only the provider's data officer delivers batches.
        let res = app
            .post_csv(
                &format!("/api/v1/resources/{code}/batches"),
                &cast.consumer,
                population_csv(1),
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}

async fn a_data_officer_registers_only_for_the_own_department(app: &TestApp) {
    let cast = app.cast().await;
    let mut spec = crate::support::population_spec("unconditional");
    spec["provider"] = json!("rsj");
    let (status, body, _) = json_of(
        app.post_json("/api/v1/resources", Some(&cast.provider), &spec)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["detail"].as_str().unwrap().contains("rsj"));
    // Without the data_officer role, not even for the own department.
    app.seed_user("gaj", "gaj_analyst", &[Role::Analyst]).await;
    let analyst = app.login("gaj_analyst").await;
    let spec = crate::support::population_spec("unconditional");
    assert_eq!(
        app.post_json("/api/v1/resources", Some(&analyst), &spec)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // The platform office may register on a department's behalf.
    let mut spec = crate::support::population_spec("unconditional");
    spec["provider"] = json!("rsj");
    let (status, body, _) = json_of(
        app.post_json("/api/v1/resources", Some(&cast.admin), &spec)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["provider"]["code"], "rsj");
}

async fn decimals_and_upserts_survive_exactly(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let id = citizen_id("510104", "19800101", 1);
    let csv = format!("id_number,name,income,children\n{id},李四,12345678901234567890.50,2\n");
    json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            csv,
        )
        .await,
    )
    .await;
    let csv = format!("公民身份号码,姓名,年收入\n{id},李四,0.10\n");
    let (_, report, _) = json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            csv,
        )
        .await,
    )
    .await;
    assert_eq!(report["rows_loaded"], 1, "{report}");
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "an upsert by key replaces the row");
    assert_eq!(records[0]["income"], "0.10");
    assert_eq!(records[0]["children"], Value::Null);
    let csv = format!("id_number,name,income\n{id},李四,12345678901234567890.50\n");
    json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            csv,
        )
        .await,
    )
    .await;
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(page["records"][0]["income"], "12345678901234567890.50");
}

async fn gb18030_files_are_converted(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let text = format!(
        "公民身份号码,姓名,区县\n{},欧阳娜娜,锦江区\n",
        citizen_id("510104", "19900505", 2)
    );
    let (bytes, _, _) = encoding_rs::GB18030.encode(&text);
    let report = app
        .load_batch(&code, &cast.provider, bytes.into_owned())
        .await;
    assert_eq!(report["encoding"], "GB18030");
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(page["records"][0]["name"], "欧阳娜娜");
}

async fn upserts_snapshots_and_deletes_are_logged_in_order(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let id = |n: u32| citizen_id("510104", "19800101", n);
    let r = deliver(
        app,
        &cast.provider,
        &code,
        "upsert",
        vec![(1, "甲"), (2, "乙"), (3, "丙")],
    )
    .await;
    assert_eq!(r["changes"]["inserted"], 3);
    assert_eq!(
        (
            r["changes"]["first_seq"].as_i64(),
            r["changes"]["last_seq"].as_i64()
        ),
        (Some(1), Some(3))
    );
    let r = deliver(
        app,
        &cast.provider,
        &code,
        "upsert",
        vec![(1, "甲"), (2, "乙二"), (4, "丁")],
    )
    .await;
    assert_eq!(
        (
            r["changes"]["inserted"].as_i64(),
            r["changes"]["updated"].as_i64(),
            r["changes"]["unchanged"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let r = deliver(
        app,
        &cast.provider,
        &code,
        "replace",
        vec![(1, "甲"), (4, "丁二")],
    )
    .await;
    assert_eq!(
        (r["mode"].as_str(), r["changes"]["deleted"].as_i64()),
        (Some("replace"), Some(2))
    );
    let r = deliver(
        app,
        &cast.provider,
        &code,
        "delete",
        vec![(4, "丁二"), (9, "无")],
    )
    .await;
    assert_eq!(
        (
            r["changes"]["deleted"].as_i64(),
            r["changes"]["unchanged"].as_i64()
        ),
        (Some(1), Some(1))
    );

    let resource = app.store.resource(&code).await.unwrap();
    let log = app.store.changes(&resource, 0, 100).await.unwrap();
    let summary: Vec<(i64, String, String)> = log
        .iter()
        .map(|c| {
            (
                c.seq,
                c.op.clone(),
                c.key["id_number"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, String, String)> = [
        (1, "insert", 1),
        (2, "insert", 2),
        (3, "insert", 3),
        (4, "update", 2),
        (5, "insert", 4),
        (6, "update", 4),
        (7, "delete", 2),
        (8, "delete", 3),
        (9, "delete", 4),
    ]
    .iter()
    .map(|(s, op, n)| (*s, op.to_string(), id(*n)))
    .collect();
    assert_eq!(summary, expected);
    assert_eq!(log[3].record.as_ref().unwrap()["name"], "乙二");
    assert!(log[6].record.is_none(), "a delete carries only its key");
    // What remains is what the log says remains.
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    let names: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["甲"]);

    // The data as each batch left it, rebuilt from the log, a page at a time.
    let mut batches = app.store.batches(&code, 10).await.unwrap();
    batches.reverse();
    let expected: [&[&str]; 4] = [
        &["丙", "乙", "甲"],
        &["丁", "丙", "乙二", "甲"],
        &["丁二", "甲"],
        &["甲"],
    ];
    assert_eq!(batches.len(), expected.len());
    for (batch, want) in batches.iter().zip(expected) {
        let mut names = Vec::new();
        let mut after = 0;
        loop {
            let page = app
                .store
                .records_as_of(&resource, &batch.batch_id, after, 2)
                .await
                .unwrap();
            for r in &page.records {
                assert!(r.contains_key("birth_date"), "every item is present: {r:?}");
                names.push(r["name"].as_str().unwrap().to_owned());
            }
            match page.next_after {
                Some(n) => after = n,
                None => break,
            }
        }
        names.sort();
        let mut want: Vec<&str> = want.to_vec();
        want.sort();
        assert_eq!(names, want, "as of {}", batch.batch_id);
    }
    let err = app
        .store
        .records_as_of(&resource, "bnope", 0, 10)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");

    let (status, _, _) = json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches?mode=merge"),
            &cast.provider,
            "id_number,name\n",
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Changed rows with unchanged ones between them, then a file whose
    // records span several lines: the log still counts on without a gap.
    let r = deliver(
        app,
        &cast.provider,
        &code,
        "upsert",
        vec![(5, "戊"), (1, "甲"), (6, "己")],
    )
    .await;
    assert_eq!(
        (
            r["changes"]["first_seq"].as_i64(),
            r["changes"]["last_seq"].as_i64()
        ),
        (Some(10), Some(11))
    );
    let quoted = format!(
        "id_number,name,district\n{},庚,\"武侯区\n(两行)\"\n{},辛,锦江区\n",
        id(7),
        id(8)
    );
    let r = app.load_batch(&code, &cast.provider, quoted).await;
    assert_eq!(r["changes"]["inserted"], 2, "{r}");
    let log = app.store.changes(&resource, 9, 100).await.unwrap();
    let tail: Vec<(i64, String)> = log
        .iter()
        .map(|c| (c.seq, c.key["id_number"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(tail, [(10, id(5)), (11, id(6)), (12, id(7)), (13, id(8))]);
    assert_eq!(
        log[2].record.as_ref().unwrap()["district"],
        "武侯区\n(两行)"
    );

    assert_eq!(
        app.staging_files(),
        Vec::<String>::new(),
        "each batch's staged rows went with it"
    );
}

/// Deliver rows `(n, name)` of the people `citizen_id("510104", "19800101", n)`
/// as a CSV batch in `mode`; the batch report.
pub(crate) async fn deliver(
    app: &TestApp,
    token: &str,
    code: &str,
    mode: &str,
    rows: Vec<(u32, &str)>,
) -> Value {
    let mut csv = String::from("id_number,name,children\n");
    for (n, name) in rows {
        csv.push_str(&format!(
            "{},{name},1\n",
            citizen_id("510104", "19800101", n)
        ));
    }
    let path = format!("/api/v1/resources/{code}/batches?mode={mode}");
    let (status, report, _) = json_of(app.post_csv(&path, token, csv).await).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

async fn post_body(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, body, _) = json_of(res).await;
    (status, body)
}

async fn json_and_xlsx_batches_load_like_csv(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let path = format!("/api/v1/resources/{code}/batches");
    let id = |n: u32| citizen_id("510104", "19800101", n);
    // A JSON array, keys or Chinese names; the second element has a wrong type.
    let array = json!([
        {"id_number": id(1), "name": "甲", "children": 2, "income": "100.50"},
        {"公民身份号码": id(2), "姓名": "乙", "children": "two"}
    ]);
    let (status, report) = post_body(
        app,
        &path,
        &cast.provider,
        "application/json",
        array.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (
            report["rows_loaded"].as_u64(),
            report["rows_rejected"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            report["rejects"][0]["row"].as_u64(),
            report["rejects"][0]["item"].as_str()
        ),
        (Some(2), Some("children"))
    );
    // One object per line.
    let ndjson = format!(
        "{}\n{}\n",
        json!({"id_number": id(3), "name": "丙"}),
        json!({"id_number": id(4), "name": "丁"})
    );
    let (status, report) = post_body(
        app,
        &path,
        &cast.provider,
        "application/x-ndjson",
        ndjson.into_bytes(),
    )
    .await;
    assert_eq!(
        (status, report["rows_loaded"].as_u64()),
        (StatusCode::OK, Some(2))
    );
    // An XLSX workbook with a number and a date cell.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["id_number", "name", "children", "birth_date"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, id(5)).unwrap();
    sheet.write_string(1, 1, "戊").unwrap();
    sheet.write_number(1, 2, 3.0).unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(1980, 1, 1).unwrap();
    sheet
        .write_datetime_with_format(
            1,
            3,
            &date,
            &rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
        )
        .unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let (status, report) = post_body(app, &path, &cast.provider, xlsx, bytes).await;
    assert_eq!(
        (status, report["rows_loaded"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{report}"
    );
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records?name=戊"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(page["records"][0]["children"], 3);
    assert_eq!(page["records"][0]["birth_date"], "1980-01-01");
    assert_eq!(page["records"].as_array().map(Vec::len), Some(1));
    // Not a workbook: a clear 422, nothing loaded.
    let (status, _) = post_body(app, &path, &cast.provider, xlsx, b"not a zip".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post_body(app, &path, &cast.provider, "image/png", vec![1, 2, 3]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn declared_quality_rules_reject_warn_and_are_reported(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let rules_path = format!("/api/v1/resources/{code}/rules");
    let put = |token: String, body: Value| {
        let url = app.url(&rules_path);
        let client = app.client.clone();
        async move {
            let res = client
                .put(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            json_of(res).await
        }
    };
    // Rules that do not fit the resource are refused with the rule and item named.
    let (status, body, _) = put(
        cast.provider.clone(),
        json!({"rules": [{"rule": "range", "item": "name", "min": 0}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().contains("name"), "{body}");
    let (status, _, _) = put(
        cast.provider.clone(),
        json!({"rules": [{"rule": "teleport"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = put(cast.consumer.clone(), json!({"rules": []})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let rules = json!({"rules": [
        {"rule": "range", "item": "children", "min": 0, "max": 10},
        {"rule": "allowed", "item": "district", "values": ["锦江区", "武侯区"], "severity": "warn"},
        {"rule": "id_birth_date", "id_item": "id_number", "birth_item": "birth_date"}
    ]});
    let (status, body, _) = put(cast.provider.clone(), rules).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["quality_rules"].as_array().map(Vec::len), Some(3));

    let id = |n: u32| citizen_id("510104", "19800101", n);
    let csv = format!(
        "id_number,name,birth_date,district,children\n{},张一,1980-01-01,锦江区,1\n{},张二,1980-01-01,锦江区,12\n{},张三,1980-01-01,青羊区,2\n{},张四,1981-05-05,武侯区,0\n",
        id(1),
        id(2),
        id(3),
        id(4)
    );
    let report = app.load_batch(&code, &cast.provider, csv).await;
    assert_eq!(
        (
            report["rows_loaded"].as_u64(),
            report["rows_rejected"].as_u64()
        ),
        (Some(2), Some(2))
    );
    let rows: Vec<u64> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [3, 5], "file lines of the two rejected rows");
    assert_eq!(report["rejects"][0]["item"], "children");
    let quality = &report["quality"];
    assert_eq!(quality["rules"]["range:children"]["rejected"], 1);
    assert_eq!(quality["warned_rows"], 1, "青羊区 is loaded but flagged");
    assert_eq!(
        (quality["clean_rows"].as_u64(), quality["rows"].as_u64()),
        (Some(1), Some(4))
    );
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records?district=青羊区"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(page["records"].as_array().map(Vec::len), Some(1));
    // The change is in the resource's history.
    let (_, history, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/history"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(history["items"][0]["action"], "rules");
}

async fn overdue_resources_are_listed_from_their_update_cycle(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await; // daily
    app.post_csv(
        &format!("/api/v1/resources/{code}/batches"),
        &cast.provider,
        population_csv(2),
    )
    .await;
    let (status, list, _) =
        json_of(app.get("/api/v1/timeliness", Some(&cast.provider)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["code"], code.as_str());
    assert_eq!(
        (
            list["items"][0]["overdue"].as_bool(),
            list["items"][0]["update_cycle"].as_str()
        ),
        (Some(false), Some("daily"))
    );
    app.clock.advance(chrono::Duration::hours(24 * 3 + 1));
    let (_, list, _) = json_of(
        app.get("/api/v1/timeliness?overdue=true", Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["days_overdue"], 2);
    // Each department sees its own; the platform office everyone's.
    let (_, theirs, _) = json_of(app.get("/api/v1/timeliness", Some(&cast.consumer)).await).await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0));
    let (_, all, _) = json_of(
        app.get(
            "/api/v1/timeliness?overdue=true&department=gaj",
            Some(&cast.admin),
        )
        .await,
    )
    .await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));
    // A fresh batch puts it back on time.
    app.post_csv(
        &format!("/api/v1/resources/{code}/batches"),
        &cast.provider,
        population_csv(3),
    )
    .await;
    let (_, list, _) = json_of(
        app.get("/api/v1/timeliness?overdue=true", Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
}

async fn a_loading_batch_holds_up_no_reader_and_one_batch_loads_at_a_time(app: &TestApp) {
    use rongshu_core::value::CellValue;
    use rongshu_server::clock::Clock;
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(5),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // A large batch is staging (its rows already sent to the database).
    let resource = app.store.resource(&code).await.unwrap();
    let now = app.clock.now();
    let mut writer = app
        .store
        .begin_batch(
            &resource,
            "user:gaj_officer",
            rongshu_store::BatchMode::Upsert,
            now,
        )
        .await
        .unwrap();
    for i in 0..12_000u32 {
        let id = citizen_id(&format!("5101{:02}", 5 + i / 1000), "19900101", i % 1000);
        writer
            .push(vec![
                Some(CellValue::Text(id)),
                Some(CellValue::Text(format!("李{i}"))),
                None,
                None,
                Some(CellValue::Integer(1)),
                None,
            ])
            .await
            .unwrap();
    }

    // Meanwhile an audited read goes through at once (its audit event is a
    // write), and sees the old rows only.
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        app.get(
            &format!("/api/v1/resources/{code}/records?limit=100"),
            Some(&cast.provider),
        ),
    )
    .await
    .expect("a read is not held up by a batch that is loading");
    let (status, page, _) = json_of(read).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["records"].as_array().unwrap().len(), 5);

    // A second batch for the same resource is refused while the first loads.
    let (status, problem, _) = json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(2),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("another batch is loading"),
        "{problem}"
    );

    let audit = rongshu_core::audit::AuditRecord {
        at: now.to_rfc3339(),
        actor: "user:gaj_officer".into(),
        department: Some("gaj".into()),
        action: "batch.load".into(),
        target: Some(writer.batch_id().to_owned()),
        resource: Some(code.clone()),
        rows: Some(12_000),
        detail: json!({}),
    };
    let applied = writer
        .finish(12_000, 0, &json!({}), now, audit)
        .await
        .unwrap();
    assert_eq!(
        (applied.inserted, applied.first_seq, applied.last_seq),
        (12_000, Some(6), Some(12_005))
    );
    let (_, shown, _) = json_of(
        app.get(&format!("/api/v1/resources/{code}"), Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(shown["row_count"], 12_005);
    // And the next batch is taken again.
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(2),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn malformed_files_are_reported_or_refused_and_the_data_stays(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let batches = format!("/api/v1/resources/{code}/batches");
    let res = app
        .post_csv(&batches, &cast.provider, population_csv(5))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let records_now = || async {
        let (_, page, _) = json_of(
            app.get(
                &format!("/api/v1/resources/{code}/records?limit=100"),
                Some(&cast.provider),
            )
            .await,
        )
        .await;
        page["records"].clone()
    };
    let before = records_now().await;
    let header = "id_number,name,birth_date,district,children,income\n";
    let id = citizen_id("510104", "19800101", 0);
    let cases: Vec<(&str, &str, &str, Vec<u8>)> = vec![
        ("empty file", "upsert", "text/csv", Vec::new()),
        (
            "empty snapshot",
            "replace",
            "text/csv",
            header.as_bytes().to_vec(),
        ),
        (
            "snapshot of bad rows only",
            "replace",
            "text/csv",
            format!("{header}123,张三,1980-01-01,锦江区,1,1.00\n").into_bytes(),
        ),
        (
            "ragged rows",
            "upsert",
            "text/csv",
            format!("{header}{id},改名\n{id},改名,1980-01-01,锦江区,1,1.00,extra\n").into_bytes(),
        ),
        (
            "cut inside a quoted field",
            "upsert",
            "text/csv",
            format!("{header}{id},\"改名,1980-01-01").into_bytes(),
        ),
        (
            "bytes in no encoding",
            "upsert",
            "text/csv",
            [
                header.as_bytes(),
                &[0xff, 0xfe, 0x81, 0x00, 0xc3, 0x28, b'\n'],
            ]
            .concat(),
        ),
        (
            "a workbook that is not a zip",
            "upsert",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK\x03\x04 this is not really a workbook".to_vec(),
        ),
        (
            "a cut JSON array",
            "upsert",
            "application/json",
            format!("[{{\"id_number\": \"{id}\", \"name\": \"改名\"").into_bytes(),
        ),
        (
            "not JSON at all",
            "upsert",
            "application/json",
            b"<html>".to_vec(),
        ),
        (
            "an unknown mode",
            "merge",
            "text/csv",
            population_csv(1).into_bytes(),
        ),
        (
            "a type nobody sends",
            "upsert",
            "image/png",
            vec![0x89, b'P', b'N', b'G'],
        ),
    ];
    for (what, mode, content_type, body) in cases {
        let res = app
            .client
            .post(app.url(&format!("{batches}?mode={mode}")))
            .bearer_auth(&cast.provider)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, answer, _) = json_of(res).await;
        match status.as_u16() {
            200 => assert_eq!(answer["rows_loaded"], 0, "{what}: {answer}"),
            400 | 413 | 415 | 422 => assert!(
                answer["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{what}: a 4xx says why: {answer}"
            ),
            other => panic!("{what}: {other} {answer}"),
        }
        assert_eq!(
            records_now().await,
            before,
            "{what}: the previous data is intact"
        );
        assert_eq!(
            app.staging_files(),
            Vec::<String>::new(),
            "{what}: nothing staged is left behind"
        );
    }
    let (_, shown, _) = json_of(
        app.get(&format!("/api/v1/resources/{code}"), Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(shown["row_count"], 5);
}

async fn an_export_as_a_workbook_is_masked_like_a_read(app: &TestApp) {
    use calamine::{Reader, Xlsx};
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            population_csv(5),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let sheet_of = |bytes: Vec<u8>| {
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("数据").unwrap();
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let export =
        format!("/api/v1/resources/{code}/export?format=xlsx&fields=id_number,name,district");
    let res = app.get(&export, Some(&cast.provider)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    let rows = sheet_of(res.bytes().await.unwrap().to_vec());
    assert_eq!(rows[0], ["id_number", "name", "district"]);
    assert_eq!(rows.len(), 6);
    let plain_id = citizen_id("510104", "19800101", 0);
    assert_eq!(
        rows[1][0], plain_id,
        "the provider reads its own data plain"
    );
    let res = app.get(&export, Some(&cast.consumer)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let rows = sheet_of(res.bytes().await.unwrap().to_vec());
    assert_eq!(rows.len(), 6);
    for row in &rows[1..] {
        assert!(
            row[0].contains("********") && row[1] == "张*",
            "grade-3 items are masked in a workbook too: {rows:?}"
        );
    }
    assert_eq!(rows[1][2], "锦江区", "grade-1 items stay plain");
}
