//! The index itself: one writer per process, readers that see each commit, and the
//! catalog change sequence the committed state reflects.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyError, Term};

use crate::collect::{Order, PageCollector};
use crate::schema::{Fields, SCHEMA_VERSION, register_tokenizers};
use crate::{
    CatalogDoc, FacetCount, SearchError, SearchQuery, SearchResults, SortOrder, text_query,
};

/// Indexing memory per writer thread for an on-disk index.
const DISK_BUDGET_PER_THREAD: usize = 64 << 20;
/// Indexing memory for an in-memory (test) index: tantivy's minimum.
const RAM_BUDGET: usize = 15 << 20;
/// Writer threads at most; the machine is shared with the server's own work.
const MAX_WRITER_THREADS: usize = 4;

/// What each commit records beside the documents.
#[derive(Debug, Serialize, Deserialize)]
struct CommitPayload {
    schema_version: u32,
    applied_seq: i64,
}

/// The catalog's search index, in a directory or in memory.
///
/// It is the only writer of its directory (tantivy's lock file makes a second one fail
/// with [`SearchError::Locked`]); changes become visible to searches at [`SearchIndex::commit`].
/// `Send + Sync`: searches run concurrently with each other and with writes.
pub struct SearchIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    applied_seq: AtomicI64,
    /// Facet counts of the whole catalog for one committed state (the catalog's landing
    /// page asks for them on every visit and counting all resources is the costliest search).
    all_facets: Mutex<Option<CachedFacets>>,
}

struct CachedFacets {
    generation: u64,
    facets: BTreeMap<String, Vec<FacetCount>>,
}

impl SearchIndex {
    /// Opens the index kept in `dir`, creating it when missing. An index written with
    /// another layout, or one that cannot be read, is discarded and started afresh
    /// (with [`SearchIndex::applied_seq`] 0, so the caller rebuilds it): it is derived data.
    pub fn open_or_create(dir: &Path) -> Result<Self, SearchError> {
        // Each layout version lives in its own subdirectory, so a discard never touches
        // anything but what this crate wrote.
        let current = format!("v{SCHEMA_VERSION}");
        fs::create_dir_all(dir)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_layout_dir = name.len() > 1
                && name.starts_with('v')
                && name[1..].chars().all(|c| c.is_ascii_digit());
            if is_layout_dir && name != current && entry.file_type()?.is_dir() {
                fs::remove_dir_all(entry.path())?;
            }
        }
        let path = dir.join(&current);
        fs::create_dir_all(&path)?;
        match Self::open_dir(&path) {
            Ok(index) => Ok(index),
            Err(SearchError::Locked(msg)) => Err(SearchError::Locked(msg)),
            Err(_) => {
                fs::remove_dir_all(&path)?;
                fs::create_dir_all(&path)?;
                Self::open_dir(&path)
            }
        }
    }

    /// A fresh index in memory, for tests and tools.
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = Fields::build();
        let index = Index::create_in_ram(schema);
        Self::with_index(index, fields, 1, RAM_BUDGET)
    }

    fn open_dir(path: &Path) -> Result<Self, SearchError> {
        let (schema, fields) = Fields::build();
        let directory =
            MmapDirectory::open(path).map_err(|e| SearchError::Directory(e.to_string()))?;
        let index = Index::open_or_create(directory, schema)?;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_WRITER_THREADS);
        let opened = Self::with_index(index, fields, threads, threads * DISK_BUDGET_PER_THREAD)?;
        let payload = opened.index.load_metas()?.payload;
        match payload
            .as_deref()
            .map(serde_json::from_str::<CommitPayload>)
        {
            // Never committed by us yet.
            None => Ok(opened),
            Some(Ok(p)) if p.schema_version == SCHEMA_VERSION => {
                opened.applied_seq.store(p.applied_seq, Ordering::SeqCst);
                Ok(opened)
            }
            Some(_) => Err(SearchError::Directory(
                "index from another layout".to_owned(),
            )),
        }
    }

    fn with_index(
        index: Index,
        fields: Fields,
        threads: usize,
        budget: usize,
    ) -> Result<Self, SearchError> {
        register_tokenizers(&index);
        let writer = index
            .writer_with_num_threads(threads, budget)
            .map_err(|e| match e {
                TantivyError::LockFailure(err, msg) => {
                    SearchError::Locked(msg.unwrap_or_else(|| err.to_string()))
                }
                other => SearchError::Index(other),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            fields,
            reader,
            writer: Mutex::new(writer),
            applied_seq: AtomicI64::new(0),
            all_facets: Mutex::new(None),
        })
    }

    fn writer(&self) -> Result<MutexGuard<'_, IndexWriter>, SearchError> {
        self.writer.lock().map_err(|_| SearchError::Poisoned)
    }

    /// Adds the resources, replacing any with the same code. Visible after [`SearchIndex::commit`].
    pub fn upsert(&self, docs: &[CatalogDoc]) -> Result<(), SearchError> {
        let writer = self.writer()?;
        for doc in docs {
            writer.delete_term(Term::from_field_text(self.fields.code, &doc.code));
            writer.add_document(self.fields.document(doc))?;
        }
        Ok(())
    }

    /// Removes the resource with this code, if any. Visible after [`SearchIndex::commit`].
    pub fn delete(&self, code: &str) -> Result<(), SearchError> {
        let writer = self.writer()?;
        writer.delete_term(Term::from_field_text(self.fields.code, code));
        Ok(())
    }

    /// Makes the changes so far durable and visible, recording that the index now reflects
    /// the catalog up to change `applied_seq`.
    pub fn commit(&self, applied_seq: i64) -> Result<(), SearchError> {
        let mut writer = self.writer()?;
        self.commit_locked(&mut writer, applied_seq)
    }

    fn commit_locked(&self, writer: &mut IndexWriter, applied_seq: i64) -> Result<(), SearchError> {
        let payload = serde_json::to_string(&CommitPayload {
            schema_version: SCHEMA_VERSION,
            applied_seq,
        })
        .map_err(|e| SearchError::Directory(e.to_string()))?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.applied_seq.store(applied_seq, Ordering::SeqCst);
        self.reader.reload()?;
        Ok(())
    }

    /// The catalog change sequence the committed index reflects; 0 for a new index.
    pub fn applied_seq(&self) -> i64 {
        self.applied_seq.load(Ordering::SeqCst)
    }

    /// Replaces the whole content with `docs` and commits it as reflecting change `seq`.
    /// Searches see the old content until the new one is complete. Returns the count indexed.
    pub fn rebuild(
        &self,
        docs: impl Iterator<Item = CatalogDoc>,
        seq: i64,
    ) -> Result<u64, SearchError> {
        let mut writer = self.writer()?;
        let outcome = (|| {
            writer.delete_all_documents()?;
            let mut count = 0u64;
            for doc in docs {
                writer.add_document(self.fields.document(&doc))?;
                count += 1;
            }
            Ok::<u64, SearchError>(count)
        })();
        match outcome {
            Ok(count) => {
                self.commit_locked(&mut writer, seq)?;
                // One segment searches fastest; the merge keeps the commit's payload.
                let segments = self.index.searchable_segment_ids()?;
                if segments.len() > 1 {
                    writer.merge(&segments).wait()?;
                    self.reader.reload()?;
                }
                Ok(count)
            }
            Err(err) => {
                // Leave the committed index as it was rather than half rebuilt.
                writer.rollback()?;
                Err(err)
            }
        }
    }

    /// Number of resources in the committed index.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Runs one search over the committed index.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        let (query, has_text) = text_query::build(&self.fields, q.q.as_deref(), &q.filters);
        let order = match q.sort {
            SortOrder::Relevance if has_text => Order::ScoreDesc,
            SortOrder::Relevance | SortOrder::Updated => Order::UpdatedDesc,
            SortOrder::Name => Order::NameAsc,
        };
        let limit = q.limit.min(SearchQuery::MAX_LIMIT);
        let searcher = self.reader.searcher();
        let generation = searcher.generation().generation_id();
        let matches_all = !has_text && q.filters.is_empty();
        let cached = if matches_all {
            self.cached_facets(generation)
        } else {
            None
        };
        let collector = PageCollector {
            order,
            keep: q.offset.saturating_add(limit),
            count_facets: cached.is_none(),
        };
        let page = searcher.search(&*query, &collector)?;
        let facets = match cached {
            Some(facets) => facets,
            None => {
                if matches_all {
                    self.cache_facets(generation, &page.facets);
                }
                page.facets
            }
        };
        Ok(SearchResults {
            total: page.total,
            hits: page.best.into_iter().skip(q.offset).take(limit).collect(),
            facets,
        })
    }

    fn cached_facets(&self, generation: u64) -> Option<BTreeMap<String, Vec<FacetCount>>> {
        // A poisoned cache is only a missed shortcut: count afresh.
        let cache = self.all_facets.lock().ok()?;
        cache
            .as_ref()
            .filter(|c| c.generation == generation)
            .map(|c| c.facets.clone())
    }

    fn cache_facets(&self, generation: u64, facets: &BTreeMap<String, Vec<FacetCount>>) {
        if let Ok(mut cache) = self.all_facets.lock() {
            *cache = Some(CachedFacets {
                generation,
                facets: facets.clone(),
            });
        }
    }
}
