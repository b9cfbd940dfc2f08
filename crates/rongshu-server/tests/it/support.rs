//! Starting a fresh server per test, and the calls every test makes.

use std::sync::Arc;

use chrono::TimeZone;
use reqwest::{Client, Response, StatusCode};
use rongshu_core::account::Role;
use rongshu_server::service::{self, Doer};
use rongshu_server::{App, DemoOtpSender, ManualClock, PasswordCost, ServerConfig};
use rongshu_store::Store;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";

/// Run a scenario once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::support::TestApp::sqlite().await;
                    super::$name(&app).await;
                    app.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::support::TestApp::postgres().await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            }
        )*
    };
}

/// Run a scenario once on SQLite and once on PostgreSQL, with the server's
/// configuration changed by `$tweak` first.
#[macro_export]
macro_rules! on_both_backends_with {
    ($tweak:ident; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::support::TestApp::sqlite_with(super::$tweak).await;
                    super::$name(&app).await;
                    app.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::support::TestApp::postgres_with(super::$tweak).await {
                        super::$name(&app).await;
                        app.stop().await;
                    }
                }
            }
        )*
    };
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    /// Where citizens' sign-in codes go: the demo's phone.
    pub phones: Arc<DemoOtpSender>,
    pub _dir: tempfile::TempDir,
    db_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Where PostgreSQL test databases are created, if anywhere. Under `CI=true`
/// its absence is a failure, not a skip.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("RONGSHU_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "CI=true but RONGSHU_TEST_DATABASE_URL is not set: the PostgreSQL tests cannot run"
                );
            }
            eprintln!("skipped: RONGSHU_TEST_DATABASE_URL is not set, PostgreSQL variant not run");
            None
        }
    }
}

/// A fresh, empty database under the admin URL, named by a random id.
pub async fn fresh_postgres_url() -> Option<String> {
    let admin = postgres_admin_url()?;
    let name = format!("rongshu_test_{}", hex_id());
    let admin_store = Store::connect(&admin)
        .await
        .expect("connect to the PostgreSQL test server");
    admin_store
        .execute_unchecked_for_tests(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    admin_store.close().await;
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let cut = base.rfind('/').expect("a database URL has a path");
    Some(format!("{}/{name}{query}", &base[..cut]))
}

fn hex_id() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:04x}", nanos, std::process::id() & 0xffff)
}

impl TestApp {
    /// Files in the data directory that hold a batch's staged rows (SQLite
    /// stages each batch in a scratch file beside the database).
    pub fn staging_files(&self) -> Vec<String> {
        std::fs::read_dir(self._dir.path())
            .expect("the data directory")
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains("-stage-"))
            .collect()
    }

    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(|_| {}).await
    }

    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_with(|_| {}).await
    }

    /// A server on SQLite whose configuration the test adjusts first.
    pub async fn sqlite_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = rongshu_store::sqlite_url_for_dir(dir.path());
        Self::start(dir, &url, tweak).await
    }

    pub async fn postgres_with(tweak: impl FnOnce(&mut ServerConfig)) -> Option<TestApp> {
        let url = fresh_postgres_url().await?;
        Some(Self::start(tempfile::tempdir().expect("temp dir"), &url, tweak).await)
    }

    pub fn config(dir: &std::path::Path) -> ServerConfig {
        let mut config =
            ServerConfig::new("127.0.0.1:0".parse().expect("address"), dir.to_path_buf());
        config.password_cost = PasswordCost::TEST;
        config.upload_limit = 2 * 1024 * 1024;
        config.json_body_limit = 256 * 1024;
        // Webhook retries wait in clock time: tests move the manual clock on.
        config.webhooks.retry_base = std::time::Duration::from_millis(500);
        config.webhooks.retry_cap = std::time::Duration::from_secs(2);
        config.webhooks.poll_every = std::time::Duration::from_millis(20);
        config.webhooks.batch_size = 4;
        // Overdue share requests are followed up in clock time: tests move the
        // manual clock on and the sweep notices soon after.
        config.overdue_sweep_every = std::time::Duration::from_millis(100);
        // Citizens sign in as in the demo: the code is in the answer too.
        config.citizen.show_codes = true;
        config.citizen.sender = Some(Arc::new(DemoOtpSender::default()));
        config
    }

    async fn start(
        dir: tempfile::TempDir,
        url: &str,
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestApp {
        let store = Store::open(url).await.expect("open the store");
        let clock = Arc::new(ManualClock::new(
            chrono::Utc
                .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                .single()
                .expect("time"),
        ));
        let phones = Arc::new(DemoOtpSender::default());
        let mut config = Self::config(dir.path());
        config.citizen.sender = Some(phones.clone());
        tweak(&mut config);
        let app = App::build(config, store.clone(), clock.clone())
            .await
            .expect("build the app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = app
                .run_until(async {
                    let _ = rx.await;
                })
                .await;
        });
        TestApp {
            base,
            client: Client::builder().build().expect("client"),
            store,
            clock,
            phones,
            _dir: dir,
            db_url: url.to_owned(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.store.close().await;
    }

    pub async fn store_url(&self) -> String {
        self.db_url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn patch_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.patch(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn post_csv(
        &self,
        path: &str,
        token: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// Declare a resource's quality rules as `token`: they must be taken.
    pub async fn put_rules(&self, code: &str, token: &str, rules: &Value) {
        let res = self
            .client
            .put(self.url(&format!("/api/v1/resources/{code}/rules")))
            .bearer_auth(token)
            .json(rules)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// Deliver a CSV batch (the default mode, upsert) as `token`: it must
    /// load; returns its report.
    pub async fn load_batch(
        &self,
        code: &str,
        token: &str,
        csv: impl Into<reqwest::Body>,
    ) -> Value {
        let path = format!("/api/v1/resources/{code}/batches");
        let (status, report, _) = json_of(self.post_csv(&path, token, csv).await).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        report
    }

    /// A department and a user with roles in it, made directly (not over HTTP).
    pub async fn seed_user(&self, dept: &str, username: &str, roles: &[Role]) {
        let now = chrono::Utc::now();
        if self.store.department(dept).await.is_err() {
            service::create_department(
                &self.store,
                now,
                &Doer::cli(),
                dept,
                &format!("{dept}局"),
                None,
            )
            .await
            .expect("department");
        }
        service::create_user(
            &self.store,
            now,
            &Doer::cli(),
            service::NewAccount {
                username,
                department: dept,
                roles,
                password: Some(PASSWORD),
            },
            PasswordCost::TEST,
        )
        .await
        .expect("user");
    }

    /// Sign in over HTTP and return the bearer token.
    pub async fn login(&self, username: &str) -> String {
        let res = self
            .post_json(
                "/api/v1/auth/login",
                None,
                &json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "login of {username}");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// The usual cast: a platform admin, a provider (gaj) and a consumer (rsj).
    pub async fn cast(&self) -> Cast {
        self.seed_user("sjj", "admin", &[Role::PlatformAdmin]).await;
        self.seed_user("gaj", "gaj_officer", &[Role::DataOfficer])
            .await;
        self.seed_user("rsj", "rsj_officer", &[Role::DataOfficer, Role::DeptAdmin])
            .await;
        self.cast_tokens().await
    }

    /// Sign the usual cast in again (after the clock moved past their sessions).
    pub async fn cast_tokens(&self) -> Cast {
        Cast {
            admin: self.login("admin").await,
            provider: self.login("gaj_officer").await,
            consumer: self.login("rsj_officer").await,
        }
    }

    /// Register the population resource as the provider, submit it and have
    /// the platform office approve it; returns its code.
    pub async fn population_resource(&self, cast: &Cast, share_type: &str) -> String {
        let res = self
            .post_json(
                "/api/v1/resources",
                Some(&cast.provider),
                &population_spec(share_type),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.expect("json");
        let code = body["code"].as_str().expect("code").to_owned();
        self.publish(cast, &code).await;
        code
    }

    /// Submit (as the provider) and approve (as the platform office).
    pub async fn publish(&self, cast: &Cast, code: &str) {
        let res = self
            .post_json(
                &format!("/api/v1/resources/{code}/submit"),
                Some(&cast.provider),
                &json!({}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "submit {code}");
        let res = self
            .post_json(
                &format!("/api/v1/resources/{code}/approve"),
                Some(&cast.admin),
                &json!({"comment": "同意"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "approve {code}");
    }
}

pub struct Cast {
    pub admin: String,
    pub provider: String,
    pub consumer: String,
}

pub fn population_spec(share_type: &str) -> Value {
    let condition =
        (share_type != "unconditional").then_some("依据《政务信息资源共享管理暂行办法》依申请共享");
    json!({
        "name": "人口基础信息", "summary": "户籍人口", "share_type": share_type, "update_cycle": "daily",
        "share_condition": condition, "classification": "1-01-001", "topics": ["公共安全"], "keywords": ["户籍", "人口"],
        "key_items": ["id_number"],
        "items": [
            {"key": "id_number", "name": "公民身份号码", "type": "string", "required": true, "grade": 3},
            {"key": "name", "name": "姓名", "type": "string", "required": true, "grade": 3},
            {"key": "birth_date", "name": "出生日期", "type": "date", "grade": 2},
            {"key": "district", "name": "区县", "type": "string", "grade": 1},
            {"key": "children", "name": "子女数", "type": "integer", "grade": 1},
            {"key": "income", "name": "年收入", "type": "decimal", "grade": 4}
        ]
    })
}

/// A valid citizen ID for a district, birth date and sequence.
pub fn citizen_id(district: &str, birth: &str, seq: u32) -> String {
    let first17 = format!("{district}{birth}{seq:03}");
    let check = rongshu_core::ident::citizen_id::check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// The population CSV used by most tests: `n` people in two districts.
pub fn population_csv(n: u32) -> String {
    let mut csv = String::from("id_number,name,birth_date,district,children,income\n");
    for i in 0..n {
        let district = if i % 2 == 0 { "锦江区" } else { "武侯区" };
        let id = citizen_id("510104", "19800101", i);
        csv.push_str(&format!(
            "{id},张{},1980-01-01,{district},{},{}.50\n",
            chinese_digits(i),
            i % 3,
            10000 + i
        ));
    }
    csv
}

pub async fn json_of(res: Response) -> (StatusCode, Value, String) {
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body, content_type)
}

/// 12 → 一二: given names for test people (a name's kind allows no digits).
pub fn chinese_digits(n: u32) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    n.to_string()
        .bytes()
        .map(|b| DIGITS[usize::from(b - b'0')])
        .collect()
}
