//! What every handler shares: the store, the configuration, the clock, metrics,
//! and what application keys are held to.

use std::ops::Deref;
use std::sync::Arc;

use rongshu_store::Store;

use crate::audit_writer::AuditWriter;
use crate::auth::app_guard::AppGuards;
use crate::auth::key_use::KeyUse;
use crate::catalog_search::CatalogSearch;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::uploads::UploadStore;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub search: Arc<CatalogSearch>,
    pub config: ServerConfig,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    /// Batch files arriving in chunks, under the data directory.
    pub uploads: UploadStore,
    /// Reads' audit events, group-committed.
    pub audit: AuditWriter,
    /// Verified against when a user name is unknown, to keep timing uniform.
    pub decoy_hash: String,
    /// Wakes the webhook worker when a batch has loaded or a subscription changed.
    pub deliveries: Arc<tokio::sync::Notify>,
    /// Applications' allow-lists and rate limits, as enforced in memory.
    pub app_guards: AppGuards,
    /// Open API keys' rate limits, in memory.
    pub open_limits: crate::opendata::open_keys::OpenKeyLimits,
    /// When application keys were last used, written sparingly.
    pub key_use: KeyUse,
    /// The key of person hashes, read from the store on first use (see `people`).
    pub person_key: tokio::sync::OnceCell<rongshu_core::people::PersonKey>,
    /// Tokens, resources, grants and element standings for a moment (see
    /// `read_cache`): what every read looks up and hardly ever changes.
    pub read_cache: crate::read_cache::ReadCache,
    /// Published datasets' search index, built on first use.
    pub open_index: tokio::sync::OnceCell<Arc<crate::opendata::index::OpenIndex>>,
}

impl AppState {
    pub fn new(
        store: Store,
        search: Arc<CatalogSearch>,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let decoy_hash = crate::auth::password::decoy_hash(config.password_cost);
        let uploads = UploadStore::new(config.data_dir.join("uploads"));
        let audit = AuditWriter::start(store.clone(), Some(config.data_dir.clone()));
        Self(Arc::new(Inner {
            store,
            search,
            clock,
            metrics: Metrics::default(),
            uploads,
            audit,
            decoy_hash,
            deliveries: Arc::new(tokio::sync::Notify::new()),
            app_guards: AppGuards::new(config.app_rate_limit),
            open_limits: crate::opendata::open_keys::OpenKeyLimits::new(config.open_rate_limit),
            key_use: KeyUse::default(),
            config,
            person_key: tokio::sync::OnceCell::new(),
            read_cache: crate::read_cache::ReadCache::default(),
            open_index: tokio::sync::OnceCell::new(),
        }))
    }

    pub async fn open_index(
        &self,
    ) -> Result<&Arc<crate::opendata::index::OpenIndex>, crate::error::ApiError> {
        self.open_index
            .get_or_try_init(|| async { crate::opendata::index::OpenIndex::new().map(Arc::new) })
            .await
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
