//! The portal's screenshots in `docs/` (home and a dataset page), taken with
//! the same browser. Not run by default:
//!
//! ```text
//! cargo test -p rongshu-server --test browser -- --ignored docs_screenshots
//! ```
//!
//! With `PORTAL_URL` (e.g. `http://127.0.0.1:8080` of `rongshu serve --demo`)
//! and `PORTAL_DATASET` (a dataset name) it photographs that server instead
//! of a test one.

use std::path::Path;

use crate::harness::Browser;
use crate::portal_fixture::{TRANSPORT, open_portal};
use crate::support::TestApp;

const WIDTH: u32 = 1280;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/portal-*.png; run on purpose"]
async fn docs_screenshots() {
    let (app, base, dataset) = match std::env::var("PORTAL_URL") {
        Ok(url) => (
            None,
            url.trim_end_matches('/').to_owned(),
            std::env::var("PORTAL_DATASET").unwrap_or_else(|_| TRANSPORT.into()),
        ),
        Err(_) => {
            let app = TestApp::sqlite().await;
            open_portal(&app).await;
            let base = app.base.clone();
            (Some(app), base, TRANSPORT.to_owned())
        }
    };
    let Some(b) = Browser::start(WIDTH, 900).await else {
        return;
    };
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    std::fs::create_dir_all(&docs).unwrap();
    for (path, file) in [
        ("/?lang=zh".to_owned(), "portal-home.png"),
        (format!("/datasets/{dataset}"), "portal-dataset.png"),
    ] {
        b.goto(&format!("{base}{path}")).await;
        b.element("h1").await;
        let png = b.full_page_png(WIDTH).await;
        let out = docs.join(file);
        std::fs::write(&out, png).unwrap();
        eprintln!("wrote {}", out.display());
        b.client.set_window_size(WIDTH, 900).await.unwrap();
    }
    if let Some(app) = app {
        app.stop().await;
    }
}
