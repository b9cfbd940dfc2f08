//! The search index of published datasets in this process, for CKAN's
//! `package_search`: rebuilt from the database whenever the release change
//! sequence moved, so every process answers from what is published now.
//! (Releases are few beside the catalog; an incremental follow like the
//! catalog's can replace the rebuild when they are not.)

use std::sync::Arc;

use rongshu_search::{CatalogDoc, SearchIndex, SearchQuery, SearchResults};
use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::opendata::package::{self, Dataset};
use crate::state::AppState;

pub struct OpenIndex {
    index: Arc<SearchIndex>,
    writer: Mutex<()>,
}

fn doc_of(d: &Dataset) -> CatalogDoc {
    let spec = &d.resource.spec;
    let mut items = Vec::with_capacity(d.items.len() * 2);
    for (item, _) in &d.items {
        items.push(item.name.clone());
        items.push(item.key.to_string());
    }
    CatalogDoc {
        code: d.name().to_owned(),
        name: d.release.title.clone(),
        summary: d.release.description.clone(),
        provider_code: d.resource.provider.code.clone(),
        provider_name: d.resource.provider.name.clone(),
        kind: spec.kind.as_str().into(),
        topics: spec.topics.clone(),
        keywords: spec.keywords.clone(),
        items,
        share_type: String::new(),
        open_type: d.release.open_type.as_str().into(),
        format: "JSON".into(),
        update_cycle: spec.update_cycle.as_str().into(),
        status: "published".into(),
        updated_at: d.modified().timestamp(),
    }
}

impl OpenIndex {
    pub fn new() -> Result<Self, ApiError> {
        Ok(Self {
            index: Arc::new(SearchIndex::in_memory().map_err(ApiError::internal)?),
            writer: Mutex::new(()),
        })
    }

    async fn catch_up(&self, state: &AppState) -> Result<(), ApiError> {
        let _writer = self.writer.lock().await;
        let head = state.store.release_head().await?;
        if self.index.applied_seq() == head {
            return Ok(());
        }
        let docs: Vec<CatalogDoc> = package::published(state)
            .await?
            .iter()
            .map(doc_of)
            .collect();
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.rebuild(docs.into_iter(), head))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        Ok(())
    }

    pub async fn search(
        &self,
        state: &AppState,
        query: SearchQuery,
    ) -> Result<SearchResults, ApiError> {
        self.catch_up(state).await?;
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.search(&query))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::BadRequest(e.to_string()))
    }
}
