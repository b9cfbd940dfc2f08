//! Large batches: on SQLite they are written in short turns beside the
//! resource, so that reads (and their audit events) go on meanwhile; on
//! PostgreSQL their change log is written on a connection of its own beside
//! the rows, and a first load fills a table beside the resource's, indexed
//! once it is full and swapped in. Readers still see the old data or the
//! whole batch, never part of it, in the rows and in the change feed; and the
//! result is exactly what applying the batch in one step gives (a first
//! load's change log may follow its keys rather than its lines). A first load
//! in key order is written as it is read. A batch stopped half way, or failing at its very last commit,
//! leaves nothing behind once it is marked failed.

use reqwest::StatusCode;
use rongshu_core::audit::AuditRecord;
use rongshu_core::catalog::ItemType;
use rongshu_core::quality::RowDigests;
use rongshu_core::value::{CellValue, parse_cell};
use rongshu_server::clock::Clock;
use rongshu_server::service::{self, Doer};
use rongshu_store::{
    Applied, Backend, BatchMode, BatchWriter, Resource, RowCells, StagedRow, Store, StreamStatus,
};
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::records::deliver;
use crate::support::{TestApp, chinese_digits, citizen_id, json_of, population_spec};

on_both_backends!(
    a_large_first_load_is_never_seen_in_part_and_holds_up_no_read,
    a_first_load_stopped_half_way_leaves_nothing_behind,
    a_column_added_during_a_first_load_is_kept_and_the_load_goes_on,
    large_snapshots_and_deletions_in_turns_change_what_one_step_would,
    a_load_refused_at_its_last_commit_leaves_no_log_behind,
    a_checked_first_load_goes_in_as_read_and_reports_what_the_general_way_does,
    a_checked_first_load_is_written_before_its_end_and_a_stopped_one_leaves_nothing,
    a_first_load_logged_by_its_rows_reads_as_one_logged_row_by_row,
    a_first_load_whose_every_key_is_suspected_loads_what_the_general_way_does,
    a_first_load_with_refused_rows_and_no_repeated_key_loads_the_rest_once,
    a_first_load_written_as_read_is_never_counted_apart_from_its_rows,
);

const PEOPLE: u32 = 20_000;

/// Person `i`'s ID: the first thousand are the IDs `records::deliver` writes.
fn person_id(i: u32) -> String {
    citizen_id(&format!("5101{:02}", 4 + i / 1000), "19800101", i % 1000)
}

fn person(i: u32) -> RowCells {
    named(i, "李")
}

fn named(i: u32, surname: &str) -> RowCells {
    vec![
        Some(CellValue::Text(person_id(i))),
        Some(CellValue::Text(format!("{surname}{i}"))),
        None,
        None,
        Some(CellValue::Integer(1)),
        None,
    ]
}

/// A batch of `rows` staged through `store`, ready to finish.
async fn staged(
    app: &TestApp,
    store: &Store,
    resource: &Resource,
    mode: BatchMode,
    rows: impl IntoIterator<Item = RowCells>,
) -> BatchWriter {
    let mut writer = store
        .begin_batch(resource, "user:gaj_officer", mode, app.clock.now())
        .await
        .unwrap();
    for row in rows {
        writer.push(row).await.unwrap();
    }
    writer
}

/// A first load of [`PEOPLE`] people staged through `store`, ready to finish.
async fn staged_first_load(app: &TestApp, store: &Store, resource: &Resource) -> BatchWriter {
    staged(
        app,
        store,
        resource,
        BatchMode::Upsert,
        (0..PEOPLE).map(person),
    )
    .await
}

fn load_event(app: &TestApp, writer: &BatchWriter, code: &str) -> AuditRecord {
    AuditRecord {
        at: app.clock.now().to_rfc3339(),
        actor: "user:gaj_officer".into(),
        department: Some("gaj".into()),
        action: "batch.load".into(),
        target: Some(writer.batch_id().to_owned()),
        resource: Some(code.to_owned()),
        rows: None,
        detail: json!({}),
    }
}

/// Finish a staged batch.
async fn finish(app: &TestApp, writer: BatchWriter, code: &str) -> Applied {
    let audit = load_event(app, &writer, code);
    writer
        .finish(0, 0, &json!({}), app.clock.now(), audit)
        .await
        .unwrap()
}

/// Change-log rows of the resource, published or not.
fn logged_sql(resource: &Resource) -> String {
    format!(
        "SELECT COUNT(*) FROM change_log WHERE resource_id = {}",
        resource.id
    )
}

/// What a load of the resource has written, published or not: its
/// change-log entries, and the rows in the loading batch's table beside the
/// resource's (SQLite), by which a first load logs its inserts.
async fn written(app: &TestApp, resource: &Resource) -> i64 {
    let count = |sql: String| async move { app.store.query_integer_for_tests(&sql).await.unwrap() };
    let logged = count(logged_sql(resource)).await;
    if app.store.backend() != Backend::Sqlite {
        return logged;
    }
    let batch = count(format!(
        "SELECT COALESCE(MAX(id), 0) FROM batches WHERE resource_id = {} AND state = 'loading'",
        resource.id
    ))
    .await;
    let table = format!("{}_b{batch}", resource.table_name);
    let exists = count(format!(
        "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '{table}'"
    ))
    .await;
    if exists == 0 {
        return logged;
    }
    logged + count(format!("SELECT COUNT(*) FROM \"{table}\"")).await
}

/// Wait until a load has written something, for 30 s at most.
async fn until_written(app: &TestApp, resource: &Resource, failure: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while written(app, resource).await == 0 {
        assert!(std::time::Instant::now() < deadline, "{failure}");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Wait until a first load has written some of its turns (SQLite); on
/// PostgreSQL a load is one transaction, and nothing shows until it commits.
async fn until_half_written(app: &TestApp, resource: &Resource) {
    if app.store.backend() != Backend::Sqlite {
        return;
    }
    until_written(app, resource, "the load wrote nothing").await;
}

/// Tables of batches written beside a resource that are still there
/// (SQLite): none once each batch has been swapped in or discarded.
async fn batch_tables_left(app: &TestApp) -> i64 {
    app.store
        .query_integer_for_tests(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name GLOB 'res_*_b[0-9]*'",
        )
        .await
        .unwrap()
}

/// Poll the count `sql` gives until `done` says so, for 30 s at most.
async fn wait_for(app: &TestApp, sql: &str, done: impl Fn(i64) -> bool, failure: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done(app.store.query_integer_for_tests(sql).await.unwrap()) {
        assert!(std::time::Instant::now() < deadline, "{failure}");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        app.get(path, Some(token)),
    )
    .await
    .expect("a read is not held up by a first load");
    let (status, body, _) = json_of(read).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn a_large_first_load_is_never_seen_in_part_and_holds_up_no_read(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let resource = app.store.resource(&code).await.unwrap();
    // Turns of at most 160 rows: the load takes many of them.
    let store = app.store.clone().with_turn_rows(10);
    let writer = staged_first_load(app, &store, &resource).await;
    let audit = load_event(app, &writer, &code);
    let now = app.clock.now();
    let load = tokio::spawn(async move {
        writer
            .finish(i64::from(PEOPLE), 0, &json!({}), now, audit)
            .await
    });

    let records = format!("/api/v1/resources/{code}/records?limit=5&total=true");
    let feed = format!("/api/v1/resources/{code}/changes?after=0&limit=5");
    // Reads made after the load had written some of its rows, and before
    // it was published.
    let mut during = 0;
    while !load.is_finished() {
        let written = written(app, &resource).await;
        // The feed first: once it shows the load, the rows must show too.
        let changes = get_json(app, &feed, &cast.provider).await;
        let seqs: Vec<i64> = changes["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["seq"].as_i64().unwrap())
            .collect();
        assert!(
            seqs.is_empty() || seqs == [1, 2, 3, 4, 5],
            "the feed showed part of a first load: {changes}"
        );
        let page = get_json(app, &records, &cast.provider).await;
        let rows = page["records"].as_array().unwrap().len();
        match rows {
            0 => assert_eq!(page["total"], 0, "{page}"),
            5 => assert_eq!(page["total"], PEOPLE, "{page}"),
            _ => panic!("a read saw part of a first load: {page}"),
        }
        assert!(
            seqs.is_empty() || rows == 5,
            "the feed showed changes the rows did not have yet: {changes} {page}"
        );
        if written > 0 && rows == 0 && seqs.is_empty() {
            during += 1;
        }
    }
    let applied = load.await.unwrap().unwrap();
    assert_eq!(
        (applied.inserted, applied.first_seq, applied.last_seq),
        (i64::from(PEOPLE), Some(1), Some(i64::from(PEOPLE)))
    );
    if app.store.backend() == Backend::Sqlite {
        assert!(
            during > 0,
            "no read was made while the load was written in turns"
        );
        let left = batch_tables_left(app).await;
        assert_eq!(left, 0, "the load's own table became the resource's");
    }

    // Every row, in file order, and the whole change log in order.
    let page = get_json(app, &records, &cast.provider).await;
    assert_eq!(page["total"], PEOPLE);
    let last = get_json(
        app,
        &format!(
            "/api/v1/resources/{code}/changes?after={}&limit=5",
            PEOPLE - 2
        ),
        &cast.provider,
    )
    .await;
    let tail: Vec<(i64, String)> = last["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["seq"].as_i64().unwrap(),
                c["op"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        tail,
        vec![
            (i64::from(PEOPLE) - 1, "insert".to_owned()),
            (i64::from(PEOPLE), "insert".to_owned())
        ]
    );
    let logged = app.store.changes(&resource, 0, 1).await.unwrap();
    assert_eq!(
        logged[0].key,
        json!({ "id_number": citizen_id("510104", "19800101", 0) })
    );

    // The key index came with the table: the next batch matches by key.
    let mut csv = String::from("id_number,name,children\n");
    csv.push_str(&format!("{},王五,1\n", citizen_id("510104", "19800101", 7)));
    csv.push_str(&format!("{},赵六,1\n", citizen_id("510104", "19900101", 7)));
    let (status, report, _) = json_of(
        app.post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            csv,
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (
            report["changes"]["updated"].as_i64(),
            report["changes"]["inserted"].as_i64(),
            report["changes"]["first_seq"].as_i64()
        ),
        (Some(1), Some(1), Some(i64::from(PEOPLE) + 1))
    );
}

async fn a_first_load_stopped_half_way_leaves_nothing_behind(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let resource = app.store.resource(&code).await.unwrap();
    let store = app.store.clone().with_turn_rows(10);
    let writer = staged_first_load(app, &store, &resource).await;
    let batch = writer.batch_id().to_owned();
    let audit = load_event(app, &writer, &code);
    let now = app.clock.now();
    let load = tokio::spawn(async move {
        writer
            .finish(i64::from(PEOPLE), 0, &json!({}), now, audit)
            .await
    });
    until_half_written(app, &resource).await;
    if app.store.backend() == Backend::Sqlite {
        assert!(
            !load.is_finished(),
            "the load finished before it was stopped"
        );
    }
    load.abort();
    // On PostgreSQL the load may have finished first.
    let stopped_half_way = load.await.is_err();
    let sqlite = app.store.backend() == Backend::Sqlite;
    if sqlite {
        assert!(stopped_half_way, "the load was stopped half way");
    }

    // As if an earlier batch's final step had put the resource's table
    // aside and the process had stopped before removing it.
    let put_aside = format!("{}_r1", resource.table_name);
    if sqlite {
        app.store
            .execute_unchecked_for_tests(&format!(
                "CREATE TABLE \"{put_aside}\" AS SELECT 1 AS _row_id UNION ALL SELECT 2"
            ))
            .await
            .unwrap();
    }

    // As after a restart: its heartbeat is long gone.
    let later = now + chrono::Duration::hours(1);
    let failed = app
        .store
        .fail_stale_batches(Some(resource.id), later)
        .await
        .unwrap();
    if stopped_half_way {
        assert_eq!(failed, 1, "batch {batch} is marked failed");
        assert_nothing_left(app, &resource, &cast.provider).await;
    }
    if sqlite {
        let left = app
            .store
            .query_integer_for_tests(&format!(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name GLOB '{}_b*'",
                resource.table_name
            ))
            .await
            .unwrap();
        assert_eq!(left, 0, "the stopped load's table and index went with it");
        let left = app
            .store
            .query_integer_for_tests(&format!(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name = '{put_aside}'"
            ))
            .await
            .unwrap();
        assert_eq!(left, 0, "a table left aside is removed too");

        // One left aside by a process that stopped is removed at start.
        app.store
            .execute_unchecked_for_tests(&format!(
                "CREATE TABLE \"{put_aside}\" AS SELECT 1 AS _row_id"
            ))
            .await
            .unwrap();
        app.store.fail_interrupted_batches(later).await.unwrap();
        wait_for(
            app,
            &format!("SELECT COUNT(*) FROM sqlite_schema WHERE name = '{put_aside}'"),
            |n| n == 0,
            "a table left aside was not removed at start",
        )
        .await;
    }

    // The next load starts the change log at 1, as if nothing had happened.
    let seqs = next_load_logs(app, &cast.provider, &code).await;
    if stopped_half_way {
        assert_eq!(seqs, vec![1, 2, 3]);
    }
}

/// The resource has no rows and no change-log entry, published or not.
async fn assert_nothing_left(app: &TestApp, resource: &Resource, token: &str) {
    assert_eq!(
        app.store
            .query_integer_for_tests(&logged_sql(resource))
            .await
            .unwrap(),
        0,
        "the failed load's change log went with it"
    );
    let code = &resource.code;
    let page = get_json(
        app,
        &format!("/api/v1/resources/{code}/records?limit=5&total=true"),
        token,
    )
    .await;
    assert_eq!(page["total"], 0, "{page}");
}

/// Deliver three rows; the sequence numbers the feed then shows.
async fn next_load_logs(app: &TestApp, token: &str, code: &str) -> Vec<i64> {
    deliver(
        app,
        token,
        code,
        "upsert",
        vec![(0, "王甲"), (1, "王乙"), (2, "王丙")],
    )
    .await;
    let resource = app.store.resource(code).await.unwrap();
    let log = app.store.changes(&resource, 0, 100).await.unwrap();
    log.iter().map(|c| c.seq).collect()
}

async fn a_column_added_during_a_first_load_is_kept_and_the_load_goes_on(app: &TestApp) {
    let cast = app.cast().await;
    // Small turns: the load goes on for a while after its first ones. A
    // load that still finishes before the column is added is published
    // first and gets the column after; that is sound too, and the scenario
    // is tried again, a few times at most, until the column comes first.
    let store = app.store.clone().with_turn_rows(10);
    let sqlite = app.store.backend() == Backend::Sqlite;
    for attempt in 1.. {
        let code = app.population_resource(&cast, "unconditional").await;
        let resource = app.store.resource(&code).await.unwrap();
        let writer = staged_first_load(app, &store, &resource).await;
        let audit = load_event(app, &writer, &code);
        let now = app.clock.now();
        let load = tokio::spawn(async move {
            writer
                .finish(i64::from(PEOPLE), 0, &json!({}), now, audit)
                .await
        });
        until_half_written(app, &resource).await;

        // A new item gets its column at once, while the load goes on.
        let mut next = population_spec("unconditional");
        next["items"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "phone", "name": "联系电话", "grade": 3}));
        let res = app
            .client
            .put(app.url(&format!("/api/v1/resources/{code}")))
            .bearer_auth(&cast.provider)
            .json(&next)
            .send()
            .await
            .unwrap();
        let (status, body, _) = json_of(res).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // On SQLite the column went in between two turns; on PostgreSQL,
        // where the load is one transaction, it waited for the load.
        let came_first = !load.is_finished();

        // The swap kept the column: the load's own table got it too.
        let applied = load.await.unwrap().unwrap();
        assert_eq!(applied.inserted, i64::from(PEOPLE));
        let columns = app
            .store
            .query_integer_for_tests(&match app.store.backend() {
                Backend::Sqlite => format!(
                    "SELECT COUNT(*) FROM pragma_table_info('{}') WHERE name = 'phone'",
                    resource.table_name
                ),
                Backend::Postgres => format!(
                    "SELECT COUNT(*) FROM information_schema.columns
                     WHERE table_name = '{}' AND column_name = 'phone'",
                    resource.table_name
                ),
            })
            .await
            .unwrap();
        assert_eq!(columns, 1, "the new column is kept");
        let page = get_json(
            app,
            &format!("/api/v1/resources/{code}/records?limit=1&total=true"),
            &cast.provider,
        )
        .await;
        assert_eq!(page["total"], PEOPLE, "{page}");
        let logged = app
            .store
            .changes(&resource, 0, i64::from(PEOPLE) + 1)
            .await
            .unwrap();
        assert_eq!(logged.len(), PEOPLE as usize);

        // Every row of the load has the new column, empty (a later version
        // of the catalog, once published, lets batches fill it).
        let empty_phones = app
            .store
            .query_integer_for_tests(&format!(
                "SELECT COUNT(*) FROM {} WHERE phone IS NULL",
                resource.table_name
            ))
            .await
            .unwrap();
        assert_eq!(empty_phones, i64::from(PEOPLE));

        if came_first || !sqlite {
            break;
        }
        assert!(attempt < 5, "the column never came before the final step");
    }
}

/// The same three batches into two resources, one written in turns beside
/// it (on SQLite) and one applied in one step: a first load, a snapshot that
/// changes, keeps, adds and drops rows, and a deletion of many keys. The
/// batches report, log and leave the same; readers of the snapshot see the
/// old rows or the new ones.
async fn large_snapshots_and_deletions_in_turns_change_what_one_step_would(app: &TestApp) {
    let cast = app.cast().await;
    let in_turns = app.store.clone().with_turn_rows(10);
    let mut outcomes = Vec::new();
    for store in [&in_turns, &app.store] {
        let code = app.population_resource(&cast, "unconditional").await;
        let resource = app.store.resource(&code).await.unwrap();
        let first = staged(
            app,
            store,
            &resource,
            BatchMode::Upsert,
            (0..2_000).map(person),
        )
        .await;
        let mut batch_ids = vec![first.batch_id().to_owned()];
        let first = finish(app, first, &code).await;

        // Renamed: 0..1000; kept: 1000..1500; dropped: 1500..2000; new: 2000..2500.
        let snapshot = (0..1_000)
            .map(|i| named(i, "张"))
            .chain((1_000..1_500).map(person))
            .chain((2_000..2_500).map(person));
        let snapshot = staged(app, store, &resource, BatchMode::Replace, snapshot).await;
        batch_ids.push(snapshot.batch_id().to_owned());
        let audit = load_event(app, &snapshot, &code);
        let now = app.clock.now();
        let load = tokio::spawn(async move { snapshot.finish(0, 0, &json!({}), now, audit).await });
        let feed = format!("/api/v1/resources/{code}/changes?after=2000&limit=1");
        let first_person = format!(
            "/api/v1/resources/{code}/records?id_number={}",
            person_id(0)
        );
        // Reads made while the snapshot was written in turns, unpublished.
        let mut during = 0;
        while !load.is_finished() {
            let written = written(app, &resource).await;
            let changes = get_json(app, &feed, &cast.provider).await;
            let published = !changes["changes"].as_array().unwrap().is_empty();
            if written > 2_000 && !published {
                during += 1;
            }
            let page = get_json(app, &first_person, &cast.provider).await;
            let name = page["records"][0]["name"].as_str().unwrap().to_owned();
            assert!(name == "李0" || name == "张0", "{page}");
            assert!(
                !published || name == "张0",
                "the feed showed the snapshot before the rows did: {page}"
            );
        }
        let snapshot = load.await.unwrap().unwrap();
        if std::ptr::eq(store, &in_turns) && app.store.backend() == Backend::Sqlite {
            assert!(
                during > 0,
                "no read was made while the snapshot was written in turns"
            );
        }

        let deletion = staged(
            app,
            store,
            &resource,
            BatchMode::Delete,
            (0..1_300).chain(1_500..1_700).map(person),
        )
        .await;
        batch_ids.push(deletion.batch_id().to_owned());
        let deletion = finish(app, deletion, &code).await;

        // A few changes, applied in one step: rows 1300..1303 are still the
        // first load's as it wrote them, and are renamed; three are new.
        let few = (1_300..1_303)
            .map(|i| named(i, "王"))
            .chain((3_000..3_003).map(person));
        let few = staged(app, store, &resource, BatchMode::Upsert, few).await;
        batch_ids.push(few.batch_id().to_owned());
        let few = finish(app, few, &code).await;

        // The data as of each batch, a page at a time.
        let mut as_of = Vec::new();
        for batch in &batch_ids {
            let (mut rows, mut after) = (Vec::new(), 0);
            loop {
                let page = app
                    .store
                    .records_as_of(&resource, batch, after, 700)
                    .await
                    .unwrap();
                rows.extend(page.records);
                match page.next_after {
                    Some(next) => after = next,
                    None => break,
                }
            }
            as_of.push(rows);
        }

        let log: Vec<(i64, String, Value, Option<Value>)> = app
            .store
            .changes(&resource, 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.seq, c.op, c.key, c.record))
            .collect();
        let page = get_json(
            app,
            &format!("/api/v1/resources/{code}/records?limit=1&total=true"),
            &cast.provider,
        )
        .await;
        outcomes.push((
            resource,
            [first, snapshot, deletion, few],
            log,
            page["total"].clone(),
            as_of,
        ));
    }

    let (turned, one_step) = (&outcomes[0], &outcomes[1]);
    assert_eq!(
        turned.1[1],
        Applied {
            rows: 2_000,
            inserted: 500,
            updated: 1_000,
            deleted: 500,
            unchanged: 500,
            first_seq: Some(2_001),
            last_seq: Some(4_000),
        }
    );
    assert_eq!(
        (turned.1[2].deleted, turned.1[2].unchanged),
        (1_300, 200),
        "the deletion names 1,300 rows still there and 200 already dropped"
    );
    assert_eq!(
        (turned.1[3].updated, turned.1[3].inserted),
        (3, 3),
        "the last batch renames three of the first load's rows and adds three"
    );
    assert_eq!(turned.1, one_step.1, "the batches report the same");
    assert_eq!(turned.2.len(), 5_306);
    assert_eq!(turned.2, one_step.2, "the change logs are the same");
    assert_eq!((&turned.3, &one_step.3), (&json!(703), &json!(703)));
    let sizes: Vec<usize> = turned.4.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2_000, 2_000, 700, 703]);
    assert_eq!(
        turned.4, one_step.4,
        "the data as of each batch is the same"
    );
    let same_rows = app
        .store
        .query_integer_for_tests(&format!(
            "SELECT COUNT(*) FROM {} a JOIN {} b ON a.id_number = b.id_number
             WHERE a.name = b.name AND a.children = b.children",
            turned.0.table_name, one_step.0.table_name
        ))
        .await
        .unwrap();
    assert_eq!(same_rows, 703, "the rows are the same");
    if app.store.backend() == Backend::Sqlite {
        let left = batch_tables_left(app).await;
        assert_eq!(left, 0, "each batch's own table became the resource's");
        // The resource tables each final step put aside are removed after it.
        wait_for(
            app,
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name GLOB 'res_*_r[0-9]*'",
            |n| n == 0,
            "a table put aside was never removed",
        )
        .await;
    }
}

/// The final step refused as late as each backend allows: on PostgreSQL at
/// the final transaction's commit (a deferred trigger), after the change log
/// written beside it has committed; on SQLite when the batch is marked
/// loaded, after its table was written beside the resource's.
async fn a_load_refused_at_its_last_commit_leaves_no_log_behind(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let resource = app.store.resource(&code).await.unwrap();
    let refusal: &[&str] = match app.store.backend() {
        Backend::Postgres => &[
            "CREATE FUNCTION refuse_loaded() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.state = 'loaded' THEN RAISE EXCEPTION 'refused by the test'; END IF;
             RETURN NEW; END $$",
            "CREATE CONSTRAINT TRIGGER refuse_loaded AFTER UPDATE ON batches
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_loaded()",
        ],
        Backend::Sqlite => &["CREATE TRIGGER refuse_loaded BEFORE UPDATE ON batches
             WHEN NEW.state = 'loaded' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
    };
    for statement in refusal {
        app.store
            .execute_unchecked_for_tests(statement)
            .await
            .unwrap();
    }

    let store = app.store.clone().with_turn_rows(10);
    let writer = staged_first_load(app, &store, &resource).await;
    let batch = writer.batch_id().to_owned();
    let audit = load_event(app, &writer, &code);
    let refused = writer
        .finish(i64::from(PEOPLE), 0, &json!({}), app.clock.now(), audit)
        .await;
    assert!(refused.is_err(), "the load was refused: {refused:?}");
    let failed = app
        .store
        .query_integer_for_tests(&format!(
            "SELECT COUNT(*) FROM batches WHERE public_id = '{batch}' AND state = 'failed'"
        ))
        .await
        .unwrap();
    assert_eq!(failed, 1, "batch {batch} is marked failed");
    assert_nothing_left(app, &resource, &cast.provider).await;
    if app.store.backend() == Backend::Postgres {
        // The table it filled beside the resource went with it.
        let beside = app
            .store
            .query_integer_for_tests(&format!(
                "SELECT COUNT(*) FROM pg_tables WHERE tablename LIKE '{}\\_b%'",
                resource.table_name
            ))
            .await
            .unwrap();
        assert_eq!(beside, 0, "no table of the batch is left");
    }

    let lifted = match app.store.backend() {
        Backend::Postgres => "DROP TRIGGER refuse_loaded ON batches",
        Backend::Sqlite => "DROP TRIGGER refuse_loaded",
    };
    app.store.execute_unchecked_for_tests(lifted).await.unwrap();
    assert_eq!(
        next_load_logs(app, &cast.provider, &code).await,
        vec![1, 2, 3]
    );
}

/// How many indexes of a resource's table are named after a batch's table
/// (SQLite): a table made beside the resource and swapped in names its
/// indexes after itself.
async fn indexes_made_beside(app: &TestApp, resource: &Resource) -> i64 {
    app.store
        .query_integer_for_tests(&format!(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = '{}' \
             AND name GLOB '*_b[0-9]*'",
            resource.table_name
        ))
        .await
        .unwrap()
}

/// A file of people with rules and repeats of every kind, in key order:
/// line n + 2 holds row n.
fn people_with_faults() -> Vec<String> {
    let mut lines = Vec::new();
    for n in 0..300_u32 {
        let (person, name, district, children) = match n {
            // Rejected for its range; its key is claimed all the same, and
            // the next row, sound otherwise, repeats it.
            10 => (10, "甲", "锦江区", "12"),
            11 => (10, "乙", "锦江区", "1"),
            // Repeats row 20's key, and is rejected for its range too: the
            // repeat is the one reason given.
            21 => (20, "丙", "锦江区", "11"),
            // Warned, and repeated by the next row, warned too: that one's
            // warning is taken back.
            30 => (30, "丁", "高新区", "1"),
            31 => (30, "戊", "高新区", "1"),
            4 => (3, "己", "武侯区", "1"),
            // No name: refused as it is read, before its key is known, so
            // the next row with the same key is loaded.
            40 => (40, "", "锦江区", "1"),
            41 => (40, "庚", "锦江区", "1"),
            _ => (n, "张", "武侯区", "2"),
        };
        let id = citizen_id("510104", "19850101", person);
        let name = if name.is_empty() {
            String::new()
        } else {
            format!("{name}{}", chinese_digits(n))
        };
        lines.push(format!("{id},{name},{district},{children}\n"));
    }
    lines
}

/// What a load gave: its report and quality (its batch and resource left
/// out), its counts, its change log and the resource's rows.
type Loaded = (Value, Value, Value, Vec<Value>, Vec<Value>);

async fn load_file(
    app: &TestApp,
    store: &Store,
    code: &str,
    file: &std::path::Path,
    token: &str,
) -> Loaded {
    let resource = app.store.resource(code).await.unwrap();
    let outcome = service::ingest_csv_file(
        store,
        app.clock.now(),
        &Doer::cli(),
        &resource,
        file,
        BatchMode::Upsert,
    )
    .await
    .unwrap();
    let mut report = serde_json::to_value(&outcome.report).unwrap();
    report["batch_id"] = json!(null);
    report["resource"] = json!(null);
    let log = app
        .store
        .changes(&resource, 0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|c| json!([c.seq, c.op, c.key, c.record]))
        .collect();
    let page = get_json(
        app,
        &format!("/api/v1/resources/{code}/records?limit=1000"),
        token,
    )
    .await;
    (
        report,
        serde_json::to_value(&outcome.quality).unwrap(),
        serde_json::to_value(outcome.changes).unwrap(),
        log,
        page["records"].as_array().unwrap().clone(),
    )
}

/// A first load large enough to be written beside its resource gives the
/// report, rows and change log that the same file gives in one step: written
/// as it is read when the file is in key order, sorted by key on the way in
/// when it is not (its log then follows the keys, not the lines).
async fn a_checked_first_load_goes_in_as_read_and_reports_what_the_general_way_does(app: &TestApp) {
    let cast = app.cast().await;
    let rules = json!({"rules": [
        {"rule": "range", "item": "children", "min": 0, "max": 10},
        {"rule": "allowed", "item": "district", "values": ["锦江区", "武侯区"], "severity": "warn"}
    ]});
    let mut codes = Vec::new();
    for _ in 0..4 {
        let code = app.population_resource(&cast, "unconditional").await;
        app.put_rules(&code, &cast.provider, &rules).await;
        codes.push(code);
    }
    let header = "id_number,name,district,children\n";
    let sorted = people_with_faults();
    // The same rows in another order: every seventh, round and round.
    let shuffled: Vec<String> = (0..sorted.len())
        .map(|i| sorted[i * 7 % sorted.len()].clone())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (in_order, out_of_order) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    std::fs::write(&in_order, format!("{header}{}", sorted.concat())).unwrap();
    std::fs::write(&out_of_order, format!("{header}{}", shuffled.concat())).unwrap();

    // Which table each resource has before: on PostgreSQL a load beside
    // gives it another.
    let mut tables_before = Vec::new();
    for code in &codes {
        let resource = app.store.resource(code).await.unwrap();
        tables_before.push(table_identity(app, &resource).await);
    }
    // Turns of 10 rows: these loads go beside their resources; the store's
    // own turns take the others in one step.
    let beside = app.store.clone().with_turn_rows(10);
    let token = &cast.provider;
    let as_read = load_file(app, &beside, &codes[0], &in_order, token).await;
    let one_step = load_file(app, &app.store, &codes[1], &in_order, token).await;
    let sorted_in = load_file(app, &beside, &codes[2], &out_of_order, token).await;
    let one_step_shuffled = load_file(app, &app.store, &codes[3], &out_of_order, token).await;

    let (report, quality, changes, log, rows) = &as_read;
    assert_eq!(report["rows_read"], 300);
    assert_eq!(report["rows_rejected"], 6, "{}", report["rejects"]);
    let rejected: Vec<(u64, &str)> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["row"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    let lines: Vec<u64> = rejected.iter().map(|r| r.0).collect();
    assert_eq!(lines, [6, 12, 13, 23, 33, 42], "{rejected:?}");
    for (line, reason) in &rejected {
        if ![12, 42].contains(line) {
            assert!(
                reason.contains("repeats an earlier row"),
                "{line}: {reason}"
            );
        }
    }
    assert_eq!(
        quality["rules"]["type:row"]["rejected"], 4,
        "{}",
        quality["rules"]
    );
    assert_eq!(quality["rules"]["range:children"]["rejected"], 1);
    assert_eq!(quality["rules"]["allowed:district"]["warned"], 1);
    assert_eq!(changes["inserted"], 294, "{changes}");
    assert_eq!((log.len(), rows.len()), (294, 294));
    // The same, line for line, as in one step.
    assert_eq!(as_read, one_step);

    // Out of order: the same report and counts, and the same rows and
    // changes, logged from 1 in the order of the keys.
    assert_eq!(sorted_in.0, one_step_shuffled.0);
    assert_eq!(
        (&sorted_in.1, &sorted_in.2),
        (&one_step_shuffled.1, &one_step_shuffled.2)
    );
    let by_seq =
        |log: &[Value]| -> Vec<i64> { log.iter().map(|c| c[0].as_i64().unwrap()).collect() };
    let logged = one_step_shuffled.3.len() as i64;
    assert_eq!(by_seq(&sorted_in.3), (1..=logged).collect::<Vec<_>>());
    assert_eq!(
        changes_in_any_order(&sorted_in.3),
        changes_in_any_order(&one_step_shuffled.3)
    );
    assert_eq!(rows_by_key(&sorted_in.4), rows_by_key(&one_step_shuffled.4));

    // A large first load goes in the order of its keys on SQLite; on
    // PostgreSQL, which indexes the rows once they are all in, and in one
    // step on either, in the file's.
    let keys = |log: &[Value]| -> Vec<String> {
        log.iter().map(|c| c[2]["id_number"].to_string()).collect()
    };
    let keys_ascend = |keys: Vec<String>| keys.windows(2).all(|w| w[0] < w[1]);
    assert!(
        !keys_ascend(keys(&one_step_shuffled.3)),
        "a small first load is logged in the file's order"
    );
    match app.store.backend() {
        Backend::Sqlite => {
            assert!(keys_ascend(keys(&sorted_in.3)), "logged in key order");
            let mut beside_counts = Vec::new();
            for code in &codes {
                let resource = app.store.resource(code).await.unwrap();
                beside_counts.push(indexes_made_beside(app, &resource).await);
            }
            assert_eq!(beside_counts, [1, 0, 1, 0], "which loads went beside");
        }
        Backend::Postgres => {
            assert_eq!(
                sorted_in, one_step_shuffled,
                "line for line, as in one step"
            );
            let mut replaced = Vec::new();
            for (code, before) in codes.iter().zip(&tables_before) {
                let resource = app.store.resource(code).await.unwrap();
                replaced.push(table_identity(app, &resource).await != *before);
            }
            assert_eq!(
                replaced,
                [true, false, true, false],
                "which loads went beside"
            );
        }
    }
}

/// The filter of seen keys cut to one block suspects nearly every key of a
/// first load written as read. Each suspect is then looked up (SQLite) or
/// held back from the batch's table and checked with the staged rows
/// (PostgreSQL); those that repeat nothing are loaded all the same, once.
async fn a_first_load_whose_every_key_is_suspected_loads_what_the_general_way_does(app: &TestApp) {
    let cast = app.cast().await;
    let mut codes = Vec::new();
    for _ in 0..2 {
        codes.push(app.population_resource(&cast, "unconditional").await);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.csv");
    let header = "id_number,name,district,children\n";
    std::fs::write(&file, format!("{header}{}", people_with_faults().concat())).unwrap();
    let suspicious = app.store.clone().with_turn_rows(10).with_seen_key_blocks(1);
    let token = &cast.provider;
    let suspected = load_file(app, &suspicious, &codes[0], &file, token).await;
    let one_step = load_file(app, &app.store, &codes[1], &file, token).await;

    let (report, quality, changes, log, rows) = &suspected;
    assert_eq!(report["rows_rejected"], 5, "{}", report["rejects"]);
    assert_eq!(changes["inserted"], 295, "{changes}");
    assert_eq!(
        (report, quality, changes),
        (&one_step.0, &one_step.1, &one_step.2)
    );
    // Every row logged once, under the numbers 1 to 295; held back, a row
    // may be numbered after the rows written before it.
    let seqs: std::collections::BTreeSet<i64> =
        log.iter().map(|c| c[0].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=295).collect());
    assert_eq!(changes_in_any_order(log), changes_in_any_order(&one_step.3));
    assert_eq!(rows_by_key(rows), rows_by_key(&one_step.4));
}

/// A change log's entries without their sequence numbers, sorted.
fn changes_in_any_order(log: &[Value]) -> Vec<String> {
    let mut changes: Vec<String> = log
        .iter()
        .map(|c| format!("{} {} {}", c[1], c[2], c[3]))
        .collect();
    changes.sort();
    changes
}

/// Rows sorted by their ID numbers.
fn rows_by_key(rows: &[Value]) -> Vec<Value> {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| r["id_number"].to_string());
    rows
}

/// A large first load whose faults are refused rows but no repeated key
/// needs no comparison of keys: it loads, counts and logs the rest exactly
/// as one step does.
async fn a_first_load_with_refused_rows_and_no_repeated_key_loads_the_rest_once(app: &TestApp) {
    let cast = app.cast().await;
    let rules = json!({"rules": [{"rule": "range", "item": "children", "min": 0, "max": 10}]});
    let mut codes = Vec::new();
    for _ in 0..2 {
        let code = app.population_resource(&cast, "unconditional").await;
        app.put_rules(&code, &cast.provider, &rules).await;
        codes.push(code);
    }
    let lines: String = (0..300_u32)
        .map(|n| {
            let id = citizen_id("510104", "19850101", n);
            // Out of range: refused once its key is known, which it
            // claims all the same; or not a whole number, refused as it is
            // read.
            let children = match n % 97 {
                5 => "12",
                7 => "两个",
                _ => "2",
            };
            format!("{id},张{},武侯区,{children}\n", chinese_digits(n))
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.csv");
    std::fs::write(&file, format!("id_number,name,district,children\n{lines}")).unwrap();
    let beside = app.store.clone().with_turn_rows(10);
    let token = &cast.provider;
    let large = load_file(app, &beside, &codes[0], &file, token).await;
    let one_step = load_file(app, &app.store, &codes[1], &file, token).await;
    let (report, _, changes, log, rows) = &large;
    assert_eq!(report["rows_rejected"], 8, "{}", report["rejects"]);
    assert_eq!(changes["inserted"], 292, "{changes}");
    assert_eq!((log.len(), rows.len()), (292, 292));
    assert_eq!(large, one_step);
}

/// Reads of a page with its total, made over and over while a checked
/// first load is read from its file, written as read and swapped in: each
/// sees the rows and their count together, or neither. On PostgreSQL the
/// rows are committed in the batch's table before the swap, so a read whose
/// snapshot was older than the swap, and who found the table by its name
/// after it, would see them beside the old count of 0.
async fn a_first_load_written_as_read_is_never_counted_apart_from_its_rows(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let people = 5_000_u32;
    let lines: String = (0..people)
        .map(|n| format!("{},张{},武侯区,2\n", person_id(n), chinese_digits(n)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.csv");
    std::fs::write(&file, format!("id_number,name,district,children\n{lines}")).unwrap();
    let store = app.store.clone().with_turn_rows(10);
    let resource = app.store.resource(&code).await.unwrap();
    let now = app.clock.now();
    let load = tokio::spawn(async move {
        service::ingest_csv_file(
            &store,
            now,
            &Doer::cli(),
            &resource,
            &file,
            BatchMode::Upsert,
        )
        .await
    });
    let records = format!("/api/v1/resources/{code}/records?limit=5&total=true");
    let mut reads = 0;
    while !load.is_finished() {
        let page = get_json(app, &records, &cast.provider).await;
        match page["records"].as_array().unwrap().len() {
            0 => assert_eq!(page["total"], 0, "{page}"),
            5 => assert_eq!(page["total"], people, "{page}"),
            _ => panic!("a read saw part of a first load: {page}"),
        }
        reads += 1;
    }
    let loaded = load.await.unwrap().unwrap();
    assert_eq!(loaded.changes.inserted, i64::from(people));
    assert!(reads > 0);
    let page = get_json(app, &records, &cast.provider).await;
    assert_eq!(page["total"], people);
}

/// Which table holds the resource's rows: SQLite's root page, PostgreSQL's
/// object id. A table swapped in has another.
async fn table_identity(app: &TestApp, resource: &Resource) -> i64 {
    let sql = match app.store.backend() {
        Backend::Sqlite => format!(
            "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = '{}'",
            resource.table_name
        ),
        Backend::Postgres => format!(
            "SELECT CAST(CAST(CAST('{}' AS regclass) AS oid) AS BIGINT)",
            resource.table_name
        ),
    };
    app.store.query_integer_for_tests(&sql).await.unwrap()
}

/// Checked rows as the service stages them, with their key digests.
fn checked(line: u64, cells: RowCells) -> StagedRow {
    let key = match cells.first() {
        Some(Some(CellValue::Text(id))) => id.clone(),
        _ => String::new(),
    };
    let mut first = std::hash::DefaultHasher::new();
    let mut second = std::hash::DefaultHasher::new();
    std::hash::Hasher::write_u8(&mut second, 0x5a);
    std::hash::Hasher::write(&mut first, key.as_bytes());
    std::hash::Hasher::write(&mut second, key.as_bytes());
    let digest = (u128::from(std::hash::Hasher::finish(&first)) << 64)
        | u128::from(std::hash::Hasher::finish(&second));
    StagedRow {
        line,
        status: StreamStatus::Clean,
        key: Some(key),
        digests: RowDigests {
            key: digest,
            unique: Vec::new(),
        },
        cells,
    }
}

/// A first load of [`PEOPLE`] people, checked as the service checks rows,
/// pushed through `store` and not finished.
async fn checked_first_load(app: &TestApp, store: &Store, resource: &Resource) -> BatchWriter {
    let mut writer = store
        .begin_checked_batch(
            resource,
            "user:gaj_officer",
            BatchMode::Upsert,
            app.clock.now(),
            0,
        )
        .await
        .unwrap();
    for i in 0..PEOPLE {
        writer
            .push_checked(checked(u64::from(i) + 2, person(i)))
            .await
            .unwrap();
    }
    writer
}

/// A large checked first load is in the database, unpublished, before its
/// last row is read; stopped then, it leaves nothing behind, and the next
/// load logs from 1.
async fn a_checked_first_load_is_written_before_its_end_and_a_stopped_one_leaves_nothing(
    app: &TestApp,
) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let resource = app.store.resource(&code).await.unwrap();
    let store = app.store.clone().with_turn_rows(10);
    let writer = checked_first_load(app, &store, &resource).await;
    if app.store.backend() == Backend::Sqlite {
        // Not finished, yet written, and nobody sees it.
        until_written(app, &resource, "the load wrote nothing as it was read").await;
        let page = get_json(
            app,
            &format!("/api/v1/resources/{code}/records?limit=5&total=true"),
            &cast.provider,
        )
        .await;
        assert_eq!(page["total"], 0, "{page}");
        let feed = get_json(
            app,
            &format!("/api/v1/resources/{code}/changes?after=0&limit=5"),
            &cast.provider,
        )
        .await;
        assert_eq!(feed["changes"], json!([]), "{feed}");
    }
    writer
        .fail("stopped by the test", app.clock.now())
        .await
        .unwrap();
    assert_nothing_left(app, &resource, &cast.provider).await;
    if app.store.backend() == Backend::Sqlite {
        let left = batch_tables_left(app).await;
        assert_eq!(left, 0, "the stopped load's table went with it");
    }

    // The same rows again, to the end: every one of them, logged from 1.
    let mut writer = checked_first_load(app, &store, &resource).await;
    let found = writer.settle_repeats(&[], 10, 10).await.unwrap();
    assert!(!found.changed());
    let applied = finish(app, writer, &code).await;
    assert_eq!(
        (applied.inserted, applied.first_seq, applied.last_seq),
        (i64::from(PEOPLE), Some(1), Some(i64::from(PEOPLE)))
    );
    let page = get_json(
        app,
        &format!("/api/v1/resources/{code}/records?limit=5&total=true"),
        &cast.provider,
    )
    .await;
    assert_eq!(page["total"], PEOPLE, "{page}");
    assert_eq!(page["records"][0]["id_number"], person_id(0), "{page}");
}

/// A resource of people with an item of every type, published.
async fn every_type_resource(app: &TestApp, cast: &crate::support::Cast) -> Resource {
    let mut spec = population_spec("unconditional");
    let items = spec["items"].as_array_mut().unwrap();
    items.push(json!({"key": "alive", "name": "在世", "type": "boolean", "grade": 1}));
    items.push(json!({"key": "seen_at", "name": "登记时间", "type": "datetime", "grade": 1}));
    let res = app
        .post_json("/api/v1/resources", Some(&cast.provider), &spec)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    let code = body["code"].as_str().unwrap().to_owned();
    app.publish(cast, &code).await;
    app.store.resource(&code).await.unwrap()
}

/// Person `i` with every item typed as a checked file gives it; some empty.
fn typed_person(i: u32, name: &str) -> RowCells {
    let raw: [(ItemType, Option<String>); 8] = [
        (ItemType::String, Some(person_id(i))),
        (ItemType::String, Some(format!("{name}\t\"{i}\\"))),
        (
            ItemType::Date,
            Some(format!("19{:02}-0{}-1{}", 50 + i % 40, 1 + i % 9, i % 10)),
        ),
        (
            ItemType::String,
            i.is_multiple_of(2).then(|| "锦江区".to_owned()),
        ),
        (ItemType::Integer, Some(format!("{}", i as i64 - 2))),
        (
            ItemType::Decimal,
            Some(["1234.50", "-0.5", "7", "0.001"][i as usize % 4].to_owned()),
        ),
        (
            ItemType::Boolean,
            (i % 3 != 2).then(|| ["true", "false"][i as usize % 2].to_owned()),
        ),
        (
            ItemType::Datetime,
            (i % 2 == 1).then(|| format!("2024-01-0{} 08:3{}:59", 1 + i % 9, i % 10)),
        ),
    ];
    raw.into_iter()
        .map(|(item_type, text)| text.and_then(|t| parse_cell(item_type, &t).unwrap()))
        .collect()
}

/// A first load logs its inserts by its rows (see the store's `table_log`);
/// read back, they are the records a batch logs row by row, for items of
/// every type, and so are they once a later batch changes some of them.
async fn a_first_load_logged_by_its_rows_reads_as_one_logged_row_by_row(app: &TestApp) {
    let cast = app.cast().await;
    let by_rows = every_type_resource(app, &cast).await;
    let row_by_row = every_type_resource(app, &cast).await;
    // Not a first load: one person there already.
    let before = staged(
        app,
        &app.store,
        &row_by_row,
        BatchMode::Upsert,
        [typed_person(99, "甲")],
    )
    .await;
    finish(app, before, &row_by_row.code).await;
    let mut logs = Vec::new();
    for resource in [&by_rows, &row_by_row] {
        let load = staged(
            app,
            &app.store,
            resource,
            BatchMode::Upsert,
            (0..8).map(|i| typed_person(i, "李")),
        )
        .await;
        finish(app, load, &resource.code).await;
        // Two renamed, one removed: the first load's entries are written
        // out into the log first.
        let renamed = [typed_person(1, "张"), typed_person(6, "王")];
        let rename = staged(app, &app.store, resource, BatchMode::Upsert, renamed).await;
        finish(app, rename, &resource.code).await;
        let removal = staged(
            app,
            &app.store,
            resource,
            BatchMode::Delete,
            [typed_person(3, "李")],
        )
        .await;
        finish(app, removal, &resource.code).await;
        let log: Vec<(String, Value, Option<Value>)> = app
            .store
            .changes(resource, 0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.key["id_number"] != json!(person_id(99)))
            .map(|c| (c.op, c.key, c.record))
            .collect();
        logs.push(log);
    }
    assert_eq!(logs[0].len(), 11, "{:?}", logs[0]);
    assert_eq!(logs[0], logs[1], "the logs read the same");
    let alive: Vec<Value> = logs[0][..8]
        .iter()
        .map(|(_, _, r)| r.clone().unwrap()["alive"].clone())
        .collect();
    assert_eq!(
        alive[..3],
        [json!(true), json!(false), Value::Null],
        "booleans are booleans: {alive:?}"
    );
    let record = logs[0][1].2.clone().unwrap();
    assert_eq!(
        (
            &record["income"],
            &record["children"],
            &record["seen_at"],
            &record["name"]
        ),
        (
            &json!("-0.5"),
            &json!(-1),
            &json!("2024-01-02 08:31:59"),
            &json!("李\t\"1\\")
        ),
        "{record}"
    );
    assert!(
        record.get("district").is_none(),
        "an empty item is left out: {record}"
    );
}
