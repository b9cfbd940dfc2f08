//! On a SQLite file, lookups by key and the audit's group commits take the
//! store's direct connections instead of the pool: what they read and write
//! must be exactly what the pool would. (On PostgreSQL both spellings take
//! the pool, and the same expectations hold.)

use reqwest::StatusCode;
use rongshu_core::audit::{AuditEntry, AuditRecord};
use rongshu_core::people::PersonHash;
use rongshu_core::value::CellValue;
use rongshu_store::{Filter, FilterOp, RecordQuery, SortKey, VerifyOutcome};
use serde_json::json;

use crate::on_both_backends;
use crate::support::{TestApp, citizen_id, json_of, population_csv};

on_both_backends!(
    a_lookup_by_key_reads_what_the_pool_reads,
    direct_and_pooled_audit_appends_make_one_chain,
    a_group_that_fails_leaves_nothing_and_the_next_goes_on,
);

fn id(seq: u32) -> CellValue {
    CellValue::Text(citizen_id("510104", "19800101", seq))
}

async fn a_lookup_by_key_reads_what_the_pool_reads(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    app.load_batch(&code, &cast.provider, population_csv(25))
        .await;
    let resource = app.store.resource(&code).await.unwrap();
    let every: Vec<String> = [
        "id_number",
        "name",
        "birth_date",
        "district",
        "children",
        "income",
    ]
    .map(str::to_owned)
    .to_vec();
    let eq = |item: &str, v: CellValue| Filter::eq(item, v);
    let some_ids = FilterOp::In((0..9).map(id).collect());
    let mut sorted = RecordQuery::new(
        vec![Filter {
            item: "id_number".into(),
            op: some_ids.clone(),
        }],
        every.clone(),
        2,
    );
    sorted.sort = vec![
        SortKey {
            item: "children".into(),
            descending: true,
        },
        SortKey {
            item: "income".into(),
            descending: false,
        },
    ];
    let queries = vec![
        // One person, every item: text, date, integer and decimal columns.
        RecordQuery::new(vec![eq("id_number", id(3))], every.clone(), 100),
        // Some items only, and a second condition besides the key.
        RecordQuery::new(
            vec![
                eq("id_number", id(4)),
                eq("district", CellValue::Text("锦江区".into())),
            ],
            vec!["name".into(), "children".into()],
            100,
        ),
        // The same key in the other district: nothing.
        RecordQuery::new(
            vec![
                eq("id_number", id(4)),
                eq("district", CellValue::Text("武侯区".into())),
            ],
            every.clone(),
            100,
        ),
        // Nobody by that number.
        RecordQuery::new(vec![eq("id_number", id(999))], every.clone(), 100),
        // Several people, sorted, a page of two: the next page's position too.
        sorted.clone(),
        // Not by key: the pool either way.
        RecordQuery::new(vec![eq("children", CellValue::Integer(1))], every, 5),
    ];
    let mut seen_rows = 0;
    for mut query in queries {
        // Each page, then the one after it, read both ways.
        for _ in 0..6 {
            let direct = app.store.query_records(&resource, &query).await.unwrap();
            let pooled = app
                .store
                .query_records_pooled_for_tests(&resource, &query)
                .await
                .unwrap();
            assert_eq!(direct.records, pooled.records, "{query:?}");
            assert_eq!(direct.next_after, pooled.next_after, "{query:?}");
            seen_rows += direct.records.len();
            match direct.next_after {
                Some(position) => query.after = Some(position),
                None => break,
            }
        }
    }
    // One + one + zero + zero + nine + eight (the last two paged).
    assert_eq!(seen_rows, 19);

    // And through the API: the consumer's lookup of one person, masked.
    let person = citizen_id("510104", "19800101", 7);
    let (status, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records?id_number={person}"),
            Some(&cast.consumer),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["district"], json!("武侯区"));
    assert_ne!(records[0]["id_number"], json!(person));
}

fn event(n: usize) -> AuditRecord {
    AuditRecord {
        at: format!("2026-03-02T00:00:{n:02}.000000Z"),
        actor: "cli".into(),
        department: None,
        action: "data.read".into(),
        target: Some(format!("t{n}")),
        resource: None,
        rows: Some(n as i64),
        detail: json!({"n": n}),
    }
}

async fn direct_and_pooled_audit_appends_make_one_chain(app: &TestApp) {
    let before = match app.store.verify_audit().await.unwrap() {
        VerifyOutcome::Intact { events, .. } => events as i64,
        VerifyOutcome::Broken { brk, .. } => panic!("broken before the test: {brk:?}"),
    };
    let person = PersonHash::parse(&"ab".repeat(16)).unwrap();
    let group = |from: usize| -> Vec<AuditEntry> {
        (from..from + 3)
            .map(|n| AuditEntry::new(event(n), vec![person.clone()]))
            .collect()
    };
    let appender = app.store.audit_appender().unwrap();
    let mut seqs = Vec::new();
    match appender {
        Some(mut appender) => {
            // The appender's guess of the head goes stale in between: an
            // event appended through the pool must not be forked off.
            seqs.extend(appender.append_group(&group(0)).unwrap().0);
            seqs.push(app.store.append_audit(&event(10)).await.unwrap());
            seqs.extend(appender.append_group(&group(20)).unwrap().0);
            seqs.extend(appender.append_group(&group(30)).unwrap().0);
        }
        // As the pool's writer appends: after the head it left, which goes
        // stale in between too. Nothing may be written on the stale head (a
        // fork, or a clash with the event in between); the group goes after
        // the real one, and the next after the head it left.
        None => {
            let store = &app.store;
            let (first, head) = store
                .append_audit_group_after(&group(0), None)
                .await
                .unwrap();
            seqs.extend(first);
            seqs.push(store.append_audit(&event(10)).await.unwrap());
            let (second, head) = store
                .append_audit_group_after(&group(20), head.as_ref())
                .await
                .unwrap();
            seqs.extend(second);
            let (third, _) = store
                .append_audit_group_after(&group(30), head.as_ref())
                .await
                .unwrap();
            seqs.extend(third);
        }
    }
    let expected: Vec<i64> = (before + 1..=before + 10).collect();
    assert_eq!(seqs, expected);
    match app.store.verify_audit().await.unwrap() {
        VerifyOutcome::Intact { events, .. } => assert_eq!(events as i64, before + 10),
        VerifyOutcome::Broken { brk, .. } => panic!("chain broken: {brk:?}"),
    }
    // The person is linked to the nine grouped events, newest first.
    let reads = app.store.person_reads(&person, None, 100).await.unwrap();
    let linked: Vec<i64> = reads.iter().map(|r| r.event.seq).collect();
    let mut grouped: Vec<i64> = seqs.iter().copied().filter(|s| *s != seqs[3]).collect();
    grouped.reverse();
    assert_eq!(linked, grouped);
}

async fn a_group_that_fails_leaves_nothing_and_the_next_goes_on(app: &TestApp) {
    let before = match app.store.verify_audit().await.unwrap() {
        VerifyOutcome::Intact { events, .. } => events as i64,
        VerifyOutcome::Broken { brk, .. } => panic!("broken before the test: {brk:?}"),
    };
    // A row where the group's second event must go: the group fails there,
    // after its first event was written.
    app.store
        .execute_unchecked_for_tests(&format!(
            "INSERT INTO audit_events (seq, at, actor, action, prev_hash, hash, canonical)
             VALUES ({}, 'x', 'x', 'x', 'x', 'x', 'x')",
            before + 2
        ))
        .await
        .unwrap();
    let person = PersonHash::parse(&"cd".repeat(16)).unwrap();
    let entries = |n: usize| -> Vec<AuditEntry> {
        (0..n)
            .map(|i| AuditEntry::new(event(i), vec![person.clone()]))
            .collect()
    };
    let mut appender = app.store.audit_appender().unwrap();
    let mut append = async |group: Vec<AuditEntry>| match appender.as_mut() {
        Some(appender) => appender.append_group(&group).map(|(seqs, _)| seqs),
        None => app
            .store
            .append_audit_group(&group)
            .await
            .map(|(seqs, _)| seqs),
    };
    let first = append(entries(3)).await.unwrap_err().to_string();
    // Nothing of the group stayed: not its first event, not its people.
    assert!(
        app.store
            .person_reads(&person, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The connection was left ready: a second try fails the same way, not
    // on a transaction still open from the first.
    let second = append(entries(3)).await.unwrap_err().to_string();
    assert_eq!(first, second);
    // One event fits before the row in the way, and goes in.
    assert_eq!(append(entries(1)).await.unwrap(), vec![before + 1]);
    let reads = app.store.person_reads(&person, None, 10).await.unwrap();
    assert_eq!(reads.len(), 1);
}
