//! A headless Chromium for a test: chromedriver (Debian's `chromium-driver`)
//! on a free port, a WebDriver session with downloads going to a temp
//! directory, explicit waits, and a screenshot when a journey fails.
//! Without chromium or chromedriver the tests skip, except under `CI=true`.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long any one wait lasts before the journey fails.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(40);

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The browser and its driver, from `CHROME_BIN` / `CHROMEDRIVER` or the PATH.
fn programs() -> Option<(PathBuf, PathBuf)> {
    let chrome = std::env::var_os("CHROME_BIN")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| on_path(&["chromium", "chromium-browser", "google-chrome"]))?;
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| on_path(&["chromedriver"]))?;
    Some((chrome, driver))
}

/// Where failure screenshots go (kept after the test, printed).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Poll `check` until it answers `Some`, at most `WAIT`.
pub async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// The chromedriver we started, ended when dropped (by its own handle).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Browser {
    pub client: Client,
    pub downloads: tempfile::TempDir,
    _driver: Driver,
}

impl Browser {
    /// A browser, or `None` (the test skips) when there is none to drive.
    pub async fn start(width: u32, height: u32) -> Option<Browser> {
        let Some((chrome, driver_bin)) = programs() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but chromium or chromedriver is missing: install chromium and chromium-driver"
            );
            eprintln!(
                "skipped: chromium or chromedriver is not installed (apt-get install chromium chromium-driver)"
            );
            return None;
        };
        let downloads = tempfile::tempdir().expect("download dir");
        let port = free_port();
        let driver = Driver(
            Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        until("chromedriver to listen", || {
            let http = http.clone();
            let status = format!("{webdriver}/status");
            async move {
                let res = http.get(status).send().await.ok()?;
                res.status().is_success().then_some(())
            }
        })
        .await;
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chrome,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={width},{height}"), "--lang=zh-CN",
                    "--force-device-scale-factor=1",
                ],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                    "intl.accept_languages": "zh-CN,zh",
                },
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .expect("a WebDriver session with headless chromium");
        Some(Browser {
            client,
            downloads,
            _driver: driver,
        })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The element, once it is there.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.expect("text")
    }

    /// Wait until the element's text satisfies `ok` (pages load after clicks).
    pub async fn text_until(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        until(&format!("the text of {css}"), || async {
            let el = self.client.find(Locator::Css(css)).await.ok()?;
            let text = el.text().await.ok()?;
            ok(&text).then_some(text)
        })
        .await
    }

    /// Click the link or button among `css` whose text is `text`.
    pub async fn click_text(&self, css: &str, text: &str) {
        self.element(css).await;
        for el in self.client.find_all(Locator::Css(css)).await.expect("find") {
            if el.text().await.expect("text").trim() == text {
                el.click().await.expect("click");
                return;
            }
        }
        panic!("no {css} reading {text:?}");
    }

    /// A file that finished downloading into the download directory.
    pub async fn downloaded(&self, name: &str) -> Vec<u8> {
        let path = self.downloads.path().join(name);
        let partial = self.downloads.path().join(format!("{name}.crdownload"));
        until(&format!("the download of {name}"), || {
            let (path, partial) = (path.clone(), partial.clone());
            async move {
                (path.is_file() && !partial.exists())
                    .then(|| std::fs::read(&path).ok())
                    .flatten()
            }
        })
        .await
    }

    /// The whole page as a PNG at the window's width.
    pub async fn full_page_png(&self, width: u32) -> Vec<u8> {
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(900)
            .clamp(400, 6000);
        let height = u32::try_from(height).unwrap_or(900);
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize");
        self.client.screenshot().await.expect("screenshot")
    }
}

/// Run one journey in a fresh browser; on failure save a screenshot, print
/// where, and fail with the journey's own message.
pub async fn journey<F, Fut>(name: &str, f: F)
where
    F: FnOnce(std::sync::Arc<Browser>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(browser) = Browser::start(1280, 900).await else {
        return;
    };
    let browser = std::sync::Arc::new(browser);
    let outcome = std::panic::AssertUnwindSafe(f(browser.clone()))
        .catch_unwind()
        .await;
    if let Err(panic) = outcome {
        let dir = screenshot_dir();
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{name}.png"));
        match browser.client.screenshot().await {
            Ok(png) if std::fs::write(&path, &png).is_ok() => {
                eprintln!("screenshot of the failed journey: {}", path.display());
            }
            _ => eprintln!("the failed journey's screenshot could not be taken"),
        }
        if let Ok(url) = browser.client.current_url().await {
            eprintln!("the browser was at {url}");
        }
        let _ = browser.client.clone().close().await;
        std::panic::resume_unwind(panic);
    }
    let _ = browser.client.clone().close().await;
}
