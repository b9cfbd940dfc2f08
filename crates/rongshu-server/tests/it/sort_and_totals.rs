//! Sorted reads and exact totals on the data API: keyset paging under any
//! sort returns every row once in order; a sort never reveals a masked value;
//! totals agree with the rows, within a grant's row scope, after every kind
//! of batch.

use std::cmp::Ordering;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::sharing::{application_key, approve, ask, request_body, reviewer};
use crate::support::{Cast, TestApp, chinese_digits, citizen_id, json_of, population_csv};

on_both_backends!(
    sorted_pages_return_every_row_once_in_order,
    a_sort_on_a_masked_or_hidden_item_and_a_cursor_of_another_sort_are_refused,
    totals_match_the_rows_after_every_batch_mode,
    totals_stay_within_the_row_scope,
    migration_13_counts_every_resource_table,
);

/// Rows with ties, empty values, decimals of different lengths (which sort
/// differently as text) and dates: `(id_number, birth_date, district,
/// children, income)`.
fn varied_rows() -> Vec<[String; 5]> {
    let districts = ["锦江区", "武侯区", "青羊区"];
    (0..23u32)
        .map(|i| {
            let birth = if i % 6 == 5 {
                String::new()
            } else {
                format!(
                    "{}-{:02}-{:02}",
                    1950 + (i * 13) % 40,
                    1 + i % 12,
                    1 + (i * 3) % 28
                )
            };
            let children = if i % 5 == 4 {
                String::new()
            } else {
                ((i * 7) % 4).to_string()
            };
            let income = if i % 7 == 3 {
                String::new()
            } else {
                format!(
                    "{}.{}",
                    [9, 10, 100, 2, 55][(i % 5) as usize] * (i + 1),
                    i % 10
                )
            };
            [
                citizen_id("510104", "19800101", i),
                birth,
                districts[(i % 3) as usize].to_owned(),
                children,
                income,
            ]
        })
        .collect()
}

async fn load_varied(app: &TestApp, cast: &Cast, code: &str) {
    let mut csv = String::from("id_number,name,birth_date,district,children,income\n");
    for (i, [id, birth, district, children, income]) in varied_rows().iter().enumerate() {
        let name = chinese_digits(i as u32);
        csv.push_str(&format!(
            "{id},张{name},{birth},{district},{children},{income}\n"
        ));
    }
    let report = app.load_batch(code, &cast.provider, csv).await;
    assert_eq!(report["rows_loaded"], 23, "{report}");
}

/// How two rows compare on one item, empty last in both directions.
fn compare(item: &str, descending: bool, a: &Value, b: &Value) -> Ordering {
    let (a, b) = (&a[item], &b[item]);
    match (a.is_null(), b.is_null()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let order = match item {
        "children" => a.as_i64().cmp(&b.as_i64()),
        "income" => {
            let f = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
            f(a).total_cmp(&f(b))
        }
        _ => a.as_str().cmp(&b.as_str()),
    };
    if descending { order.reverse() } else { order }
}

/// Every page of a read, following `next`; the ids in the order they came.
async fn all_pages(app: &TestApp, token: &str, path: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..100 {
        let url = match &next {
            Some(after) => format!("{path}&limit={limit}&after={after}"),
            None => format!("{path}&limit={limit}"),
        };
        let (status, page, _) = json_of(app.get(&url, Some(token)).await).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        let records = page["records"].as_array().unwrap();
        assert!(records.len() <= limit as usize);
        ids.extend(
            records
                .iter()
                .map(|r| r["id_number"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(n) => next = Some(n.to_owned()),
            None => return ids,
        }
    }
    panic!("{path}: paging did not end");
}

async fn sorted_pages_return_every_row_once_in_order(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    load_varied(app, &cast, &code).await;
    // Row order (the tie-breaker), with every item, as the provider sees it.
    let (_, everything, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records?limit=1000"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    let rows = everything["records"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 23);

    for sort in [
        "children",
        "-children",
        "-income",
        "income",
        "birth_date,-children",
        "district,-birth_date,children",
        "-district,income",
    ] {
        let keys: Vec<(&str, bool)> = sort
            .split(',')
            .map(|k| match k.strip_prefix('-') {
                Some(k) => (k, true),
                None => (k, false),
            })
            .collect();
        let mut expected = rows.clone();
        // A stable sort keeps row order among ties, as the row id does.
        expected.sort_by(|a, b| {
            keys.iter()
                .map(|(item, desc)| compare(item, *desc, a, b))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        let expected: Vec<String> = expected
            .iter()
            .map(|r| r["id_number"].as_str().unwrap().to_owned())
            .collect();
        for limit in [1, 4, 7, 1000] {
            let got = all_pages(
                app,
                &cast.provider,
                &format!("/api/v1/resources/{code}/records?sort={sort}"),
                limit,
            )
            .await;
            assert_eq!(got, expected, "sort={sort} limit={limit}");
        }

        // The body spelling pages the same way.
        let sort_list: Vec<&str> = sort.split(',').collect();
        let mut got = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut body = json!({"sort": sort_list, "limit": 5, "fields": ["id_number"]});
            if let Some(a) = &after {
                body["after"] = json!(a);
            }
            let (status, page, _) = json_of(
                app.post_json(
                    &format!("/api/v1/resources/{code}/query"),
                    Some(&cast.provider),
                    &body,
                )
                .await,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for r in page["records"].as_array().unwrap() {
                got.push(r["id_number"].as_str().unwrap().to_owned());
            }
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => break,
            }
        }
        assert_eq!(got, expected, "body sort={sort}");
    }

    // An export follows the sort too, across its pages.
    let (status, exported, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/export?format=json&sort=-income&fields=id_number"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let exported: Vec<String> = exported
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id_number"].as_str().unwrap().to_owned())
        .collect();
    let paged = all_pages(
        app,
        &cast.provider,
        &format!("/api/v1/resources/{code}/records?sort=-income"),
        6,
    )
    .await;
    assert_eq!(exported, paged);
}

async fn a_sort_on_a_masked_or_hidden_item_and_a_cursor_of_another_sort_are_refused(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    load_varied(app, &cast, &code).await;
    let records = format!("/api/v1/resources/{code}/records");
    // The consumer sees names and ID numbers masked and income not at all:
    // an order by them would tell what masking hides.
    for (query, status) in [
        ("sort=name", StatusCode::FORBIDDEN),
        ("sort=-id_number", StatusCode::FORBIDDEN),
        ("sort=district,name", StatusCode::FORBIDDEN),
        ("sort=income", StatusCode::FORBIDDEN),
        ("sort=nosuch", StatusCode::BAD_REQUEST),
        ("sort=children,-children", StatusCode::BAD_REQUEST),
        ("sort=district,-children", StatusCode::OK),
    ] {
        let (got, body, _) = json_of(
            app.get(&format!("{records}?{query}"), Some(&cast.consumer))
                .await,
        )
        .await;
        assert_eq!(got, status, "{query}: {body}");
        if status != StatusCode::OK {
            assert!(body["detail"].as_str().is_some(), "{query}: {body}");
        }
    }
    let res = app
        .post_json(
            &format!("/api/v1/resources/{code}/query"),
            Some(&cast.consumer),
            &json!({"sort": ["-name"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .get(
            &format!("/api/v1/resources/{code}/export?sort=name"),
            Some(&cast.consumer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The provider sees them plain and may sort by them.
    let res = app
        .get(
            &format!("{records}?sort=name,-income"),
            Some(&cast.provider),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // A cursor continues only the sort it came from.
    let (_, page, _) = json_of(
        app.get(
            &format!("{records}?sort=children&limit=2"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    let next = page["next"].as_str().unwrap().to_owned();
    for other in ["sort=-children&", "sort=district&", ""] {
        let (status, body, _) = json_of(
            app.get(
                &format!("{records}?{other}limit=2&after={next}"),
                Some(&cast.consumer),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{other}: {body}");
    }
    let (_, plain, _) = json_of(
        app.get(&format!("{records}?limit=2"), Some(&cast.consumer))
            .await,
    )
    .await;
    let plain_next = plain["next"].as_str().unwrap();
    let res = app
        .get(
            &format!("{records}?sort=children&after={plain_next}"),
            Some(&cast.consumer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .get(
            &format!("{records}?sort=children&limit=2&after={next}"),
            Some(&cast.consumer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Past data has its own order: no sort, no total.
    for query in ["sort=children", "total=true"] {
        let res = app
            .get(
                &format!("{records}?as_of=bnope&{query}"),
                Some(&cast.provider),
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    let res = app
        .get(&format!("{records}?total=maybe"), Some(&cast.provider))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// The `total` of a read, and how many rows paging through it gives.
async fn total_and_rows(app: &TestApp, token: &str, code: &str, filters: &str) -> (i64, usize) {
    let path = format!("/api/v1/resources/{code}/records?total=true&limit=1000{filters}");
    let (status, page, _) = json_of(app.get(&path, Some(token)).await).await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    (
        page["total"].as_i64().unwrap(),
        page["records"].as_array().unwrap().len(),
    )
}

async fn batch(app: &TestApp, cast: &Cast, code: &str, mode: &str, csv: String) {
    let (status, report, _) = json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches?mode={mode}"),
            &cast.provider,
            csv,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{mode}: {report}");
}

async fn totals_match_the_rows_after_every_batch_mode(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    assert_eq!(total_and_rows(app, &cast.provider, &code, "").await, (0, 0));
    batch(app, &cast, &code, "upsert", population_csv(10)).await;
    let id3 = citizen_id("510104", "19800101", 3);
    for (filters, n) in [
        ("", 10),
        ("&district=锦江区", 5),
        (&format!("&id_number={id3}") as &str, 1),
        ("&children.in=0,2", 7),
        ("&income.gte=10005.50", 5),
        ("&district=锦江区&children=1", 1),
    ] {
        assert_eq!(
            total_and_rows(app, &cast.provider, &code, filters).await,
            (n, n as usize),
            "{filters}"
        );
    }
    // Without `total` there is none; the body spelling counts too.
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records?limit=2"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert!(page.get("total").is_none(), "{page}");
    let (_, page, _) = json_of(
        app.post_json(
            &format!("/api/v1/resources/{code}/query"),
            Some(&cast.provider),
            &json!({"filters": [{"item": "district", "value": "武侯区"}], "limit": 1, "total": true}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (
            page["total"].as_i64(),
            page["records"].as_array().map(Vec::len)
        ),
        (Some(5), Some(1))
    );

    // Upsert: 10 known (unchanged or updated) and 4 new.
    batch(app, &cast, &code, "upsert", population_csv(14)).await;
    assert_eq!(
        total_and_rows(app, &cast.provider, &code, "").await,
        (14, 14)
    );
    // The same upsert again changes nothing.
    batch(app, &cast, &code, "upsert", population_csv(14)).await;
    assert_eq!(
        total_and_rows(app, &cast.provider, &code, "").await,
        (14, 14)
    );
    // Replace: a snapshot of 6 removes the other 8.
    batch(app, &cast, &code, "replace", population_csv(6)).await;
    assert_eq!(total_and_rows(app, &cast.provider, &code, "").await, (6, 6));
    assert_eq!(
        total_and_rows(app, &cast.provider, &code, "&district=武侯区").await,
        (3, 3)
    );
    // Delete: two known keys and one the resource never had.
    let mut csv = String::from("id_number,name\n");
    for i in [1, 4, 40] {
        csv.push_str(&format!(
            "{},张{}\n",
            citizen_id("510104", "19800101", i),
            chinese_digits(i)
        ));
    }
    batch(app, &cast, &code, "delete", csv).await;
    assert_eq!(total_and_rows(app, &cast.provider, &code, "").await, (4, 4));
    // The catalog's figure is the same count.
    let (_, shown, _) = json_of(
        app.get(&format!("/api/v1/resources/{code}"), Some(&cast.provider))
            .await,
    )
    .await;
    assert_eq!(shown["row_count"], 4, "{shown}");
}

async fn totals_stay_within_the_row_scope(app: &TestApp) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = app.population_resource(&cast, "conditional").await;
    batch(app, &cast, &code, "upsert", population_csv(10)).await;
    let key = application_key(app, &cast.consumer, "counting_app").await;
    let items = ["id_number", "name", "district", "children"];
    let id = ask(
        app,
        &cast.consumer,
        &request_body(&code, "counting_app", &items, false, 30),
    )
    .await;
    approve(
        app,
        &reviewer,
        id,
        &json!({"row_scope": ["district=锦江区"]}),
    )
    .await;
    for (filters, n) in [("", 5), ("&children=1", 1), ("&district=武侯区", 0)] {
        assert_eq!(
            total_and_rows(app, &key, &code, filters).await,
            (n, n as usize),
            "{filters}"
        );
    }
    // The scope moves with the data.
    batch(app, &cast, &code, "upsert", population_csv(16)).await;
    assert_eq!(total_and_rows(app, &key, &code, "").await, (8, 8));
    assert_eq!(
        total_and_rows(app, &cast.provider, &code, "").await,
        (16, 16)
    );
}

async fn migration_13_counts_every_resource_table(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    batch(app, &cast, &code, "upsert", population_csv(10)).await;
    // A database as it was before the count was kept exactly: a figure that
    // disagrees with the table, and migration 13 not yet applied.
    app.store
        .execute_unchecked_for_tests("UPDATE resources SET row_count = 999")
        .await
        .unwrap();
    app.store
        .execute_unchecked_for_tests("DELETE FROM schema_migrations WHERE version = 13")
        .await
        .unwrap();
    assert_eq!(
        total_and_rows(app, &cast.provider, &code, "").await,
        (999, 10)
    );
    let reopened = rongshu_store::Store::open(&app.store_url().await)
        .await
        .unwrap();
    reopened.close().await;
    assert_eq!(
        total_and_rows(app, &cast.provider, &code, "").await,
        (10, 10)
    );
}
