//! The catalog's full-text index in this process: derived from the database,
//! rebuilt at start when missing or stale, and kept current by following the
//! catalog change sequence (so several server processes stay consistent: each
//! follows the same sequence into its own index).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rongshu_search::{CatalogDoc, SearchIndex, SearchQuery, SearchResults};
use rongshu_store::{Resource, Store};
use tokio::sync::Mutex;

use crate::error::ApiError;

/// How far behind the database an index may be before a rebuild is cheaper
/// than replaying the changes one by one.
const REPLAY_LIMIT: i64 = 5_000;
/// Changes read from the database per round of catching up.
const CHANGES_PER_ROUND: i64 = 500;
/// How often a process looks for catalog changes made by other processes.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

pub struct CatalogSearch {
    index: Arc<SearchIndex>,
    store: Store,
    /// Serialises catching up: the index has one writer.
    writer: Mutex<()>,
}

pub fn doc_of(r: &Resource) -> CatalogDoc {
    let spec = &r.spec;
    let mut items: Vec<String> = Vec::with_capacity(spec.items.len() * 2);
    for it in &spec.items {
        items.push(it.name.clone());
        items.push(it.key.to_string());
    }
    CatalogDoc {
        code: r.code.clone(),
        name: spec.name.clone(),
        summary: spec.summary.clone(),
        provider_code: r.provider.code.clone(),
        provider_name: r.provider.name.clone(),
        kind: spec.kind.as_str().into(),
        topics: spec.topics.clone(),
        keywords: spec.keywords.clone(),
        items,
        share_type: spec.share_type.as_str().into(),
        open_type: spec.open_type.as_str().into(),
        format: spec.format.as_str().into(),
        update_cycle: spec.update_cycle.as_str().into(),
        status: r.status.as_str().into(),
        updated_at: r.updated_at.timestamp(),
    }
}

impl CatalogSearch {
    /// Open (or create) the index in `dir` and bring it up to date.
    pub async fn open(dir: &Path, store: Store) -> Result<Arc<Self>, ApiError> {
        let dir = dir.to_path_buf();
        let index = tokio::task::spawn_blocking(move || SearchIndex::open_or_create(&dir))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        let search = Arc::new(Self {
            index: Arc::new(index),
            store,
            writer: Mutex::new(()),
        });
        search.catch_up().await?;
        Ok(search)
    }

    /// An index in memory, rebuilt from the database (for tools and tests).
    pub async fn in_memory(store: Store) -> Result<Arc<Self>, ApiError> {
        let index = SearchIndex::in_memory().map_err(ApiError::internal)?;
        let search = Arc::new(Self {
            index: Arc::new(index),
            store,
            writer: Mutex::new(()),
        });
        search.catch_up().await?;
        Ok(search)
    }

    /// Apply every catalog change the index has not seen; rebuild when it is
    /// far behind or ahead (a restored database).
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        let _writer = self.writer.lock().await;
        let head = self.store.catalog_head().await?;
        let applied = self.index.applied_seq();
        if applied == head {
            return Ok(());
        }
        if applied > head || head - applied > REPLAY_LIMIT {
            return self.rebuild(head).await;
        }
        let mut after = applied;
        while after < head {
            let (last, codes) = self
                .store
                .catalog_changes_since(after, CHANGES_PER_ROUND)
                .await?;
            if last == after {
                break;
            }
            let mut docs = Vec::with_capacity(codes.len());
            for code in &codes {
                docs.push(doc_of(&self.store.resource(code).await?));
            }
            let index = self.index.clone();
            tokio::task::spawn_blocking(move || {
                index.upsert(&docs)?;
                index.commit(last)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
            after = last;
        }
        Ok(())
    }

    async fn rebuild(&self, head: i64) -> Result<(), ApiError> {
        let docs: Vec<CatalogDoc> = self
            .store
            .resources(None)
            .await?
            .iter()
            .map(doc_of)
            .collect();
        let index = self.index.clone();
        let count = tokio::task::spawn_blocking(move || index.rebuild(docs.into_iter(), head))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        tracing::info!(resources = count, seq = head, "search index rebuilt");
        Ok(())
    }

    /// Search after catching up, so a process always finds its own changes.
    pub async fn search(&self, query: SearchQuery) -> Result<SearchResults, ApiError> {
        self.catch_up().await?;
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.search(&query))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    }

    /// Follow changes made by other processes until the server stops.
    pub fn follow(self: &Arc<Self>) {
        let search = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FOLLOW_EVERY).await;
                let Some(search) = search.upgrade() else {
                    break;
                };
                if let Err(e) = search.catch_up().await {
                    tracing::warn!(error = %e, "search index could not catch up; will retry");
                }
            }
        });
    }
}
