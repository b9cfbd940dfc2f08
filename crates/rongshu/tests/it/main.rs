//! The `rongshu` command as an operator uses it: admin steps, import, audit
//! verification, validation, and `serve` started, stopped and started again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rongshu");

/// Where a test's data lives: a temp dir, and a PostgreSQL URL when testing that backend.
struct Place {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Place {
    fn sqlite() -> Place {
        Place {
            dir: tempfile::tempdir().unwrap(),
            database_url: None,
        }
    }

    async fn postgres() -> Option<Place> {
        let admin = match std::env::var("RONGSHU_TEST_DATABASE_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                assert!(
                    std::env::var("CI").map_or(true, |v| v != "true"),
                    "CI=true but RONGSHU_TEST_DATABASE_URL is not set"
                );
                eprintln!(
                    "skipped: RONGSHU_TEST_DATABASE_URL is not set, PostgreSQL variant not run"
                );
                return None;
            }
        };
        let name = format!(
            "rongshu_cli_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let store = rongshu_store::Store::connect(&admin).await.unwrap();
        store
            .execute_unchecked_for_tests(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        store.close().await;
        let cut = admin.rfind('/').unwrap();
        Some(Place {
            dir: tempfile::tempdir().unwrap(),
            database_url: Some(format!("{}/{name}", &admin[..cut])),
        })
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir").arg(self.dir.path());
        c.env_remove("RONGSHU_DATABASE_URL");
        if let Some(url) = &self.database_url {
            c.arg("--database-url").arg(url);
        }
        c.env("RUST_LOG", "warn,sqlx=error");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    async fn url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => rongshu_store::sqlite_url_for_dir(self.dir.path()),
        }
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(super::Place::sqlite()).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if let Some(place) = super::Place::postgres().await {
                        super::$name(place).await;
                    }
                }
            }
        )*
    };
}

on_both_backends!(
    admin_steps_import_and_a_tampered_audit_log,
    serve_starts_stops_and_starts_again_with_the_demo,
    a_server_killed_mid_batch_keeps_the_old_data,
);

fn citizen_id(seq: u32) -> String {
    let first17 = format!("51010419800101{seq:03}");
    let c = rongshu_core::ident::citizen_id::check_char(&first17).unwrap();
    format!("{first17}{c}")
}

async fn admin_steps_import_and_a_tampered_audit_log(place: Place) {
    place.run_ok(&[
        "admin",
        "create-department",
        "--code",
        "gaj",
        "--name",
        "成都市公安局",
    ]);
    place.run_ok(&[
        "admin",
        "create-department",
        "--code",
        "gaj_wh",
        "--name",
        "武侯分局",
        "--parent",
        "gaj",
    ]);
    let out = place.run(&[
        "admin",
        "create-department",
        "--code",
        "gaj",
        "--name",
        "again",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let mut child = place
        .command()
        .args([
            "admin",
            "create-user",
            "--username",
            "li",
            "--department",
            "gaj",
            "--role",
            "data_officer",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let out = place.run(&[
        "admin",
        "create-user",
        "--username",
        "x",
        "--department",
        "gaj",
        "--role",
        "wizard",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a role"));

    let token = place.run_ok(&[
        "admin",
        "create-token",
        "--username",
        "li",
        "--expires-days",
        "30",
    ]);
    let token = token.trim();
    assert!(
        token.starts_with("rst_") && !token.contains(' '),
        "the token alone: {token}"
    );

    // A resource made through the service, then a file imported by the command.
    let store = rongshu_store::Store::open(&place.url().await)
        .await
        .unwrap();
    let req: rongshu_core::catalog::NewResourceRequest = serde_json::from_value(serde_json::json!({
        "name": "人口", "key_items": ["id_number"],
        "items": [{"key": "id_number", "type": "string", "grade": 3}, {"key": "age", "type": "integer"}]
    }))
    .unwrap();
    let spec = rongshu_core::catalog::ResourceSpec::parse(req).unwrap();
    let resource = rongshu_server::service::create_resource(
        &store,
        chrono::Utc::now(),
        &rongshu_server::service::Doer::cli(),
        "gaj",
        &spec,
    )
    .await
    .unwrap();
    let file = place.dir.path().join("batch.csv");
    std::fs::write(
        &file,
        format!(
            "id_number,age\n{},40\n{},forty\n",
            citizen_id(1),
            citizen_id(2)
        ),
    )
    .unwrap();
    let report = place.run_ok(&[
        "import",
        "--resource",
        &resource.code,
        file.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        (
            report["rows_loaded"].as_u64(),
            report["rows_rejected"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(report["rejects"][0]["row"], 3);

    // A large first load through the command: on SQLite it is written beside
    // the resource in turns and swapped in, and nothing of it is left beside
    // the resource or put aside once the command has ended.
    let large = rongshu_server::service::create_resource(
        &store,
        chrono::Utc::now(),
        &rongshu_server::service::Doer::cli(),
        "gaj",
        &spec,
    )
    .await
    .unwrap();
    let mut text = String::from("id_number,age\n");
    for n in 0..25_000 {
        text.push_str(&format!("{},{}\n", nth_citizen_id(n), 20 + n % 60));
    }
    let file = place.dir.path().join("large.csv");
    std::fs::write(&file, text).unwrap();
    let report = place.run_ok(&["import", "--resource", &large.code, file.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["changes"]["inserted"], 25_000, "{report}");
    if store.backend() == rongshu_store::Backend::Sqlite {
        let left = store.query_integer_for_tests(TABLES_BESIDE).await.unwrap();
        assert_eq!(left, 0, "no table of the load is left beside or aside");
    }

    let ok = place.run_ok(&["audit", "verify"]);
    assert!(ok.starts_with("audit log intact"), "{ok}");

    // Change one byte of one stored event, as someone with database access could.
    let guard = match store.backend() {
        rongshu_store::Backend::Sqlite => "DROP TRIGGER audit_events_no_update",
        rongshu_store::Backend::Postgres => "DROP TRIGGER audit_events_no_change ON audit_events",
    };
    store.execute_unchecked_for_tests(guard).await.unwrap();
    store
        .execute_unchecked_for_tests("UPDATE audit_events SET canonical = replace(canonical, '成都市公安局', '成都市公安厅') WHERE seq = 1")
        .await
        .unwrap();
    store.close().await;
    let out = place.run(&["audit", "verify"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("BROKEN") && said.contains("event 1:"),
        "{said}"
    );
}

fn wait_for_address(stdout: impl std::io::Read) -> (String, BufReader<impl std::io::Read>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve stopped before listening"
        );
        if let Some(rest) = line.trim().strip_prefix("Rongshu is listening on ") {
            return (rest.trim_end_matches('/').to_owned(), reader);
        }
    }
}

fn terminate(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn serve_starts_stops_and_starts_again_with_the_demo(place: Place) {
    for round in 0..2 {
        let mut child = place
            .command()
            .args(["serve", "--listen", "127.0.0.1:0", "--demo"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (base, _rest) = wait_for_address(child.stdout.take().unwrap());
        let health: serde_json::Value = reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
        let portal = reqwest::get(format!("{base}/"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            portal.contains("各区县地区生产总值"),
            "round {round}: the demo's open data is on the portal"
        );
        // An open dataset was released before the server listened, and the
        // CKAN API lists it (once: the second start releases nothing again).
        let packages: serde_json::Value = reqwest::get(format!("{base}/api/3/action/package_list"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(packages["success"], true);
        // The GDP and population aggregates, and the register of entities
        // without individual businesses or personal items.
        let mut names: Vec<String> = packages["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3, "round {round}: {packages}");
        assert!(names.contains(&"market-entities".to_owned()), "{names:?}");
        let register: serde_json::Value = reqwest::get(format!(
            "{base}/api/3/action/datastore_search?resource_id=market-entities-data&limit=1000"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let rows = register["result"]["records"].as_array().unwrap();
        assert!(!rows.is_empty(), "{register}");
        for row in rows {
            assert_ne!(row["entity_type"], "个体工商户", "{row}");
            assert!(row.get("legal_rep_name").is_none() && row.get("address").is_none());
        }
        terminate(child.id());
        let status = child.wait().unwrap();
        assert!(status.success(), "graceful stop on SIGTERM, round {round}");
    }
    let credentials =
        std::fs::read_to_string(place.dir.path().join("demo-credentials.txt")).unwrap();
    assert!(credentials.contains("admin\tsjj\t"));
    // The second start loaded nothing again: one set of departments, one of each resource.
    let store = rongshu_store::Store::open(&place.url().await)
        .await
        .unwrap();
    let departments = store.departments().await.unwrap().len();
    let resources = store.resources(None).await.unwrap();
    assert_eq!(
        departments, 14,
        "the platform office, the statistics bureau and twelve extract providers"
    );
    // Twelve extracts and the statistics bureau's two aggregates.
    assert_eq!(resources.len(), 14);
    let population = resources.iter().find(|r| r.provider.code == "gaj").unwrap();
    assert!(population.row_count > 15_000, "{}", population.row_count);
    // One data, one source: public security's names are of record, the other
    // departments' are witnesses.
    let sources = store.element_sources("person.name").await.unwrap();
    let of_record: Vec<&str> = sources
        .iter()
        .filter(|s| s.authoritative)
        .map(|s| s.department.code.as_str())
        .collect();
    assert_eq!(of_record, ["gaj"]);
    assert!(sources.iter().filter(|s| !s.authoritative).count() >= 5);
    let entity_names = store.element_sources("entity.name").await.unwrap();
    assert!(
        entity_names
            .iter()
            .any(|s| s.department.code == "scjgj" && s.authoritative)
    );
    assert!(
        entity_names
            .iter()
            .any(|s| s.department.code == "swj" && !s.authoritative)
    );
    // One linkage job ran on the demo's keyless records (once): links, and
    // pairs for clerical review.
    let jobs = store.linkage_jobs(None).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, "done", "{:?}", jobs[0].error);
    let counts = store.linkage_counts(jobs[0].id).await.unwrap();
    assert!(counts.matches > 50, "{counts:?}");
    assert!(counts.review > 0, "{counts:?}");
    store.close().await;
}

/// A valid citizen ID for any `n` below 36.5 million: a birth day counted
/// from 1950-01-01 and a three-digit sequence number.
fn nth_citizen_id(n: u32) -> String {
    let day = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
        + chrono::Duration::days(i64::from(n / 1000));
    let first17 = format!("510104{}{:03}", day.format("%Y%m%d"), n % 1000);
    let c = rongshu_core::ident::citizen_id::check_char(&first17).unwrap();
    format!("{first17}{c}")
}

/// A server started by a test, killed when dropped: a test that fails half
/// way leaves no server running.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(place: &Place) -> (Server, String) {
    let mut child = place
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        // A dead loader's batch is recognised after two seconds without a heartbeat.
        .env("RONGSHU_BATCH_LEASE_SECONDS", "2")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (base, rest) = wait_for_address(child.stdout.take().unwrap());
    // Keep reading what the server prints, so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut rest.into_inner(), &mut std::io::sink()));
    (Server(child), base)
}

async fn batches(
    client: &reqwest::Client,
    base: &str,
    code: &str,
    token: &str,
) -> Vec<serde_json::Value> {
    let listed: serde_json::Value = client
        .get(format!("{base}/api/v1/resources/{code}/batches"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["items"].as_array().cloned().unwrap_or_default()
}

/// The scratch files of batches' staged rows in the data directory.
fn scratch_files(place: &Place) -> Vec<String> {
    std::fs::read_dir(place.dir.path())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("-stage-"))
        .collect()
}

async fn a_server_killed_mid_batch_keeps_the_old_data(place: Place) {
    killed_mid_batch(place, KillWhile::Staging).await;
}

/// On SQLite a batch this large is written beside the resource's table in
/// turns (PostgreSQL has no such phase); the process dies between two turns.
#[tokio::test]
async fn a_server_killed_while_a_batch_is_written_beside_keeps_the_old_data() {
    killed_mid_batch(Place::sqlite(), KillWhile::WritingBeside).await;
}

/// On SQLite a large first load is written beside the resource as the file
/// is read, with no staging first; the process dies while it is.
#[tokio::test]
async fn a_server_killed_while_a_first_load_is_written_as_read_leaves_nothing() {
    killed_mid_batch(Place::sqlite(), KillWhile::FirstLoadWrittenAsRead).await;
}

/// Where in a batch the server is stopped.
#[derive(Clone, Copy, PartialEq)]
enum KillWhile {
    /// While the file's rows are read, checked and staged.
    Staging,
    /// Once a table of the batch's own stands beside the resource's, with
    /// rows and change-log entries written that nobody may see.
    WritingBeside,
    /// A first load into a resource with no rows, once it has written rows
    /// beside the resource as the file is read.
    FirstLoadWrittenAsRead,
}

/// Counts the tables of unfinished or replaced batches beside a resource's
/// (see the store's `beside` module): `{table}_b{batch}` and `{table}_r{batch}`.
const TABLES_BESIDE: &str =
    "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name GLOB 'res_*_[br][0-9]*'";

/// Counts change-log entries beyond their resource's published sequence:
/// what a batch that stopped before its final step logged.
const UNPUBLISHED_ENTRIES: &str = "SELECT COUNT(*) FROM change_log c \
     WHERE c.seq > (SELECT r.change_seq FROM resources r WHERE r.id = c.resource_id)";

/// Rows in the table of the loading batch beside its resource's (SQLite):
/// `res_{resource}_b{batch}`, 0 while there is none.
async fn rows_beside(place: &Place) -> i64 {
    let loading = "FROM batches WHERE state = 'loading'";
    let batch = count_in(place, &format!("SELECT COALESCE(MAX(id), 0) {loading}")).await;
    let resource = count_in(
        place,
        &format!("SELECT COALESCE(MAX(resource_id), 0) {loading}"),
    )
    .await;
    let table = format!("res_{resource}_b{batch}");
    let exists = count_in(
        place,
        &format!("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '{table}'"),
    )
    .await;
    if exists == 0 {
        return 0;
    }
    count_in(place, &format!("SELECT COUNT(*) FROM \"{table}\"")).await
}

/// A count read from the place's database on a connection of its own, while
/// a server may be using it.
async fn count_in(place: &Place, sql: &str) -> i64 {
    let store = rongshu_store::Store::connect(&place.url().await)
        .await
        .unwrap();
    let n = store.query_integer_for_tests(sql).await.unwrap();
    store.close().await;
    n
}

async fn killed_mid_batch(place: Place, when: KillWhile) {
    place.run_ok(&[
        "admin",
        "create-department",
        "--code",
        "gaj",
        "--name",
        "成都市公安局",
    ]);
    let mut child = place
        .command()
        .args([
            "admin",
            "create-user",
            "--username",
            "li",
            "--department",
            "gaj",
            "--role",
            "data_officer",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let token = place.run_ok(&[
        "admin",
        "create-token",
        "--username",
        "li",
        "--expires-days",
        "1",
    ]);
    let token = token.trim().to_owned();
    let store = rongshu_store::Store::open(&place.url().await)
        .await
        .unwrap();
    let req: rongshu_core::catalog::NewResourceRequest = serde_json::from_value(serde_json::json!({
        "name": "人口", "key_items": ["id_number"],
        "items": [{"key": "id_number", "type": "string", "grade": 3}, {"key": "age", "type": "integer"}]
    }))
    .unwrap();
    let spec = rongshu_core::catalog::ResourceSpec::parse(req).unwrap();
    let resource = rongshu_server::service::create_resource(
        &store,
        chrono::Utc::now(),
        &rongshu_server::service::Doer::cli(),
        "gaj",
        &spec,
    )
    .await
    .unwrap();
    store.close().await;
    let code = resource.code.clone();

    // The old data: three people (none for a first load).
    let old_rows: i64 = if when == KillWhile::FirstLoadWrittenAsRead {
        0
    } else {
        3
    };
    if old_rows > 0 {
        let old = place.dir.path().join("old.csv");
        let mut text = String::from("id_number,age\n");
        for n in 0..old_rows {
            text.push_str(&format!("{},{}\n", nth_citizen_id(n as u32), 30 + n));
        }
        std::fs::write(&old, text).unwrap();
        place.run_ok(&["import", "--resource", &code, old.to_str().unwrap()]);
    }

    // A batch large enough to be caught loading: it changes the three and adds many.
    let mut big = String::from("id_number,age\n");
    for n in 0..600_000 {
        big.push_str(&format!("{},{}\n", nth_citizen_id(n), 60 + n % 30));
    }

    let (mut server, base) = start_server(&place);
    let client = reqwest::Client::new();
    let upload = {
        let (client, base, code, token) =
            (client.clone(), base.clone(), code.clone(), token.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/api/v1/resources/{code}/batches"))
                .bearer_auth(&token)
                .header("content-type", "text/csv")
                .body(big)
                .send()
                .await
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let loading = loop {
        let listed = batches(&client, &base, &code, &token).await;
        if let Some(b) = listed.iter().find(|b| b["state"] == "loading") {
            break b["batch_id"].as_str().unwrap().to_owned();
        }
        assert!(
            listed
                .iter()
                .all(|b| b["state"] != "failed" && listed.len() < 3),
            "the big batch finished or failed before it could be interrupted: {listed:?}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the big batch never started loading"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    match when {
        // Let it get well into the file.
        KillWhile::Staging => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        KillWhile::WritingBeside | KillWhile::FirstLoadWrittenAsRead => {
            while count_in(&place, TABLES_BESIDE).await == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the big batch was never written beside the resource"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            // Some turns in: rows and log entries are written, unpublished.
            // A first load logs its inserts by its rows (see the store's
            // `table_log`): its rows are what is counted.
            let written = || async {
                match when {
                    KillWhile::FirstLoadWrittenAsRead => rows_beside(&place).await,
                    _ => count_in(&place, UNPUBLISHED_ENTRIES).await,
                }
            };
            while written().await <= 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the batch never wrote its changes beside the resource"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
    // Then stop the process without warning.
    if when == KillWhile::Staging && place.database_url.is_none() {
        assert_eq!(
            scratch_files(&place).len(),
            1,
            "a SQLite batch stages its rows in a scratch file beside the database"
        );
    }
    if when == KillWhile::FirstLoadWrittenAsRead {
        assert_eq!(
            scratch_files(&place),
            Vec::<String>::new(),
            "a first load written as read stages nothing"
        );
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    assert!(
        upload.await.unwrap().is_err(),
        "the upload's connection died with the server"
    );

    let (mut server, base) = start_server(&place);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let listed = batches(&client, &base, &code, &token).await;
        let state = listed
            .iter()
            .find(|b| b["batch_id"] == loading.as_str())
            .map(|b| b["state"].clone());
        if state == Some(serde_json::json!("failed")) {
            break;
        }
        assert_eq!(state, Some(serde_json::json!("loading")), "{listed:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "the interrupted batch was never marked failed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        scratch_files(&place),
        Vec::<String>::new(),
        "the stopped batch's staged rows went when it was marked failed"
    );
    // The old data, whole and unchanged, and nothing of the big batch.
    let shown: serde_json::Value = client
        .get(format!("{base}/api/v1/resources/{code}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["row_count"], old_rows, "{shown}");
    let records: serde_json::Value = client
        .get(format!("{base}/api/v1/resources/{code}/records?limit=10"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ages: Vec<i64> = records["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["age"].as_i64().unwrap())
        .collect();
    assert_eq!(ages, (30..30 + old_rows).collect::<Vec<_>>(), "{records}");
    // And the resource takes the next batch.
    let next = client
        .post(format!("{base}/api/v1/resources/{code}/batches"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(format!("id_number,age\n{},44\n", nth_citizen_id(0)))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    let report: serde_json::Value = next.json().await.unwrap();
    let changed = if old_rows > 0 { "updated" } else { "inserted" };
    assert_eq!(report["changes"][changed], 1, "{report}");
    assert_eq!(
        report["changes"]["first_seq"],
        old_rows + 1,
        "the failed batch took no sequence numbers"
    );
    // What the stopped batch wrote beside the old data goes, once it is
    // marked failed: possibly after the next batch, which logged over it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count_in(&place, UNPUBLISHED_ENTRIES).await > 0
        || (place.database_url.is_none() && count_in(&place, TABLES_BESIDE).await > 0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the stopped batch's table and log entries were never removed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count_in(&place, UNPUBLISHED_ENTRIES).await, 0);
    terminate(server.0.id());
    server.0.wait().unwrap();

    // The reads above were audited, and the server kept the chain's head in a
    // checkpoint outside the database.
    let said = place.run_ok(&["audit", "verify"]);
    assert!(
        said.contains("checkpoint at event") && said.contains("matches"),
        "{said}"
    );
    // Someone with database access cuts the log's tail and moves the head back:
    // the chain alone still links up; the checkpoint does not.
    let store = rongshu_store::Store::connect(&place.url().await)
        .await
        .unwrap();
    let unguard = match store.backend() {
        rongshu_store::Backend::Sqlite => "DROP TRIGGER audit_events_no_delete",
        rongshu_store::Backend::Postgres => "DROP TRIGGER audit_events_no_change ON audit_events",
    };
    store.execute_unchecked_for_tests(unguard).await.unwrap();
    store
        .execute_unchecked_for_tests("DELETE FROM audit_events WHERE seq > 3")
        .await
        .unwrap();
    store
        .execute_unchecked_for_tests(
            "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_events WHERE seq = 3) WHERE id = 1",
        )
        .await
        .unwrap();
    store.close().await;
    let out = place.run(&["audit", "verify"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("BROKEN") && said.contains("checkpoint"),
        "{said}"
    );
}

#[test]
fn validate_prints_one_object_per_value_and_fails_on_an_invalid_one() {
    let out = Command::new(BIN)
        .args(["validate", "citizen-id", "11010519491231002x"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["normalized"], "11010519491231002X");
    let mut child = Command::new(BIN)
        .args(["validate", "uscc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"91110000600037341L\n911100006000373417\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[1]["outcome"], "legacy_checksum");
}

#[test]
fn a_registry_memory_budget_below_the_floor_is_refused_by_name() {
    let out = Command::new(BIN)
        .args(["validate", "uscc", "91110000600037341L"])
        .args(["--registry-memory-mib", "8"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--registry-memory-mib"), "{said}");
    let out = Command::new(BIN)
        .args(["validate", "uscc", "91110000600037341L"])
        .env("RONGSHU_REGISTRY_MEMORY_MIB", "64")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The benchmarks are how performance is claimed: each runs end to end on a
/// small load, and says what it measured.
/// Run `rongshu bench …`, which must succeed; what it printed.
fn bench(args: &[&str]) -> String {
    let out = Command::new(BIN).arg("bench").args(args).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    said
}

#[test]
fn the_benchmarks_run_and_account_for_every_audit_event() {
    let said = bench(&["api", "--people", "300", "--seconds", "1"]);
    let events = said
        .lines()
        .find(|l| l.starts_with("ratio"))
        .unwrap_or_else(|| panic!("no ratio in {said}"));
    assert!(!events.contains("MISSING"), "{events}");
    assert!(said.contains("bytes per answered lookup"), "{said}");
    // Each endpoint's processor time per request, on Linux where the
    // process's times can be read.
    if cfg!(target_os = "linux") {
        assert_eq!(said.matches("µs CPU/req").count(), 2, "{said}");
        assert!(said.contains("processor time per request"), "{said}");
    }

    let said = bench(&["ingest", "--rows", "500", "--again"]);
    assert!(said.contains("rongshu ingest:"), "{said}");
    assert!(said.contains("ratio with the copy"), "{said}");
    assert!(said.contains("every row changed"), "{said}");
    let waits: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("audit events written during the batch"))
        .collect();
    assert_eq!(waits.len(), 2, "{said}");
    assert!(waits.iter().all(|w| !w.contains(": 0;")), "{said}");
}
