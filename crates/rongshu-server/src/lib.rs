//! Rongshu's HTTP server: the JSON API under `/api/v1`, health and metrics,
//! and the server-rendered portal and console. `App::build` binds and wires
//! everything; `main` (in the `rongshu` binary) only parses arguments.

mod access;
pub mod audit_writer;
mod auth;
mod catalog_query;
pub mod catalog_search;
mod citizen;
pub mod clock;
pub mod config;
mod data_query;
mod disclosure;
mod error;
mod exchange;
mod extract;
pub mod linkage;
mod metrics;
pub mod opendata;
pub mod overdue;
mod page_cursor;
mod people;
mod read_cache;
pub mod registry;
mod repeats;
mod routes;
pub mod service;
mod state;
mod table_stream;
mod uploads;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tracing::Instrument;

pub use citizen::{DemoOtpSender, OtpSendError, OtpSender, SendResult};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CitizenConfig, PasswordCost, ServerConfig, WebhookConfig};
pub use error::ApiError;
pub use routes::ApiDoc;
pub use state::AppState;

use catalog_search::CatalogSearch;
use rongshu_store::Store;

/// A bound, ready-to-run server.
pub struct App {
    listener: TcpListener,
    router: Router,
    local_addr: SocketAddr,
    state: AppState,
}

impl App {
    /// Bind the listener (port 0 picks a free port) and build the router.
    pub async fn build(
        config: ServerConfig,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<App> {
        std::fs::create_dir_all(&config.data_dir)?;
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let search = open_search(&config, &store).await?;
        search.follow();
        sweep_stale_batches(store.clone(), clock.clone());
        let state = AppState::new(store, search, config, clock);
        sweep_uploads(&state).await;
        exchange::delivery::start(state.clone());
        overdue::start(state.clone());
        opendata::rescan::start(state.clone());
        linkage::recover(&state).await;
        let router = router(state.clone());
        Ok(App {
            listener,
            router,
            local_addr,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` completes, then finish the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The peer's address is what an application's allow-list is checked against.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Mark batches whose loader died as failed, now and then, so that a batch
/// killed with its process does not stay `loading` (and block its resource)
/// until this server restarts.
fn sweep_stale_batches(store: Store, clock: Arc<dyn Clock>) {
    let every = (rongshu_store::batch_lease() / 2).max(std::time::Duration::from_secs(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            match store.fail_stale_batches(None, clock.now()).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::warn!(batches = n, "marked batches whose loader stopped as failed")
                }
                Err(e) => tracing::warn!(error = %e, "could not check for stale batches"),
            }
        }
    });
}

/// The process's search index under the data directory; when another process
/// holds that directory's index, this one keeps its own in memory.
async fn open_search(config: &ServerConfig, store: &Store) -> std::io::Result<Arc<CatalogSearch>> {
    let dir = config.data_dir.join("search-index");
    match CatalogSearch::open(&dir, store.clone()).await {
        Ok(s) => Ok(s),
        Err(e) => {
            tracing::warn!(error = %e, "search index directory unavailable; using an index in memory");
            CatalogSearch::in_memory(store.clone())
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
        }
    }
}

/// Uploads left stale while the server was down are removed, and commits it
/// was in the middle of are opened again. A failure here is logged, not fatal:
/// it costs disk space, not correctness.
async fn sweep_uploads(state: &AppState) {
    match state.uploads.sweep(state.clock.now()).await {
        Ok(s) if s.removed + s.reopened > 0 => {
            tracing::info!(removed = s.removed, reopened = s.reopened, "swept uploads");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not sweep the uploads folder"),
    }
}

pub fn router(state: AppState) -> Router {
    routes::api_routes(&state)
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(format!("there is nothing at {}", req.uri().path()))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.uri().path()
    ))
}

const REQUEST_ID: &str = "x-request-id";

fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 8]>()))
}

/// Every request gets an id (echoed in `X-Request-Id` and on every log line of
/// its span), a latency sample, and a log line with its outcome.
async fn request_context(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    // A change made here makes what the read cache holds stale, both for
    // reads inside this request after its change and for those after it.
    let changes = read_cache::may_change(req.method(), req.uri().path());
    if changes {
        state.read_cache.invalidate();
    }
    let mut response = next.run(req).instrument(span.clone()).await;
    if changes {
        state.read_cache.invalidate();
    }
    let elapsed = started.elapsed();
    let status = response.status();
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    state
        .metrics
        .record(&method, &route, status.as_u16(), elapsed);
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(status = status.as_u16(), elapsed_ms = ms, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), elapsed_ms = ms, "request");
        }
    });
    response
}

/// A problem+json answer for errors raised outside handlers.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    error::problem_response(
        status,
        "error",
        status.canonical_reason().unwrap_or("Error"),
        detail.to_owned(),
    )
    .into_response()
}
