//! The audit chain over a real run: intact after a session of work, and a
//! changed byte is found at its event.

use reqwest::StatusCode;
use rongshu_store::VerifyOutcome;

use crate::on_both_backends;
use crate::support::{TestApp, population_csv};

on_both_backends!(
    the_chain_is_intact_and_a_changed_byte_is_found,
    concurrent_reads_are_each_audited_once_in_one_chain,
);

async fn the_chain_is_intact_and_a_changed_byte_is_found(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    app.post_csv(
        &format!("/api/v1/resources/{code}/batches"),
        &cast.provider,
        population_csv(5),
    )
    .await;
    let res = app
        .get(
            &format!("/api/v1/resources/{code}/records"),
            Some(&cast.consumer),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let VerifyOutcome::Intact { events, .. } = app.store.verify_audit().await.unwrap() else {
        panic!("the chain should be intact");
    };
    assert!(events >= 10, "{events}");

    // The database refuses to change an event…
    let refused = app
        .store
        .execute_unchecked_for_tests("UPDATE audit_events SET actor = 'x' WHERE seq = 3")
        .await;
    assert!(refused.is_err());
    // …but someone with the database's keys can drop the guard; the chain still tells.
    drop_guard(app).await;
    app.store
        .execute_unchecked_for_tests(
            "UPDATE audit_events SET canonical = canonical || ' ' WHERE seq = 3",
        )
        .await
        .unwrap();
    match app.store.verify_audit().await.unwrap() {
        VerifyOutcome::Broken { checked, brk } => {
            assert_eq!(checked, 2);
            assert!(brk.to_string().starts_with("event 3"), "{brk}");
        }
        VerifyOutcome::Intact { .. } => panic!("a changed event must be found"),
    }
}

pub async fn drop_guard(app: &TestApp) {
    let statements: &[&str] = match app.store.backend() {
        rongshu_store::Backend::Sqlite => &["DROP TRIGGER audit_events_no_update"],
        rongshu_store::Backend::Postgres => {
            &["DROP TRIGGER audit_events_no_change ON audit_events"]
        }
    };
    for s in statements {
        app.store.execute_unchecked_for_tests(s).await.unwrap();
    }
}

async fn concurrent_reads_are_each_audited_once_in_one_chain(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    app.post_csv(
        &format!("/api/v1/resources/{code}/batches"),
        &cast.provider,
        population_csv(5),
    )
    .await;
    let before = app
        .store
        .audit_events(Some("data.read"), 1_000)
        .await
        .unwrap()
        .len();
    // Many reads at once: their events are committed in groups, and each read
    // answers only once its own event is on record.
    let reads = (0..60).map(|_| {
        let path = format!("/api/v1/resources/{code}/records?limit=1");
        let token = cast.consumer.clone();
        async move { app.get(&path, Some(&token)).await.status() }
    });
    let statuses = futures_util::future::join_all(reads).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let after = app
        .store
        .audit_events(Some("data.read"), 1_000)
        .await
        .unwrap();
    assert_eq!(after.len() - before, 60, "one event per read, none lost");
    let mut seqs: Vec<i64> = after.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        after.len(),
        "each event has its own place in the chain"
    );
    assert!(matches!(
        app.store.verify_audit().await.unwrap(),
        VerifyOutcome::Intact { .. }
    ));
    // The head written outside the database is in the chain.
    let checkpoint = rongshu_server::audit_writer::read_checkpoint(app._dir.path())
        .unwrap()
        .expect("a checkpoint after audited reads");
    assert_eq!(
        app.store
            .audit_hash_at(checkpoint.seq)
            .await
            .unwrap()
            .as_deref(),
        Some(checkpoint.hash.as_str())
    );
}
