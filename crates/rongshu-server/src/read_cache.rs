//! What every data read looks up and what hardly ever changes (the caller's
//! token, the resource, the grants in force, the items' data elements), kept
//! in memory for a moment. Without it a keyed lookup of one person made
//! seven database round trips besides the query itself, and on SQLite each
//! round trip is a hand-off to the connection's thread.
//!
//! When an entry stops being true:
//! - any change made through this server (every request that is not a plain
//!   read) moves the cache's generation on, before and after it runs; entries
//!   fetched under an older generation are not used again, so a revoked grant
//!   or key stops on the next request here;
//! - a change made elsewhere (another server on the same PostgreSQL, the CLI)
//!   is seen within [`FRESH_FOR`];
//! - time itself is never cached: a token's or grant's expiry is compared
//!   with the clock on every use.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use rongshu_store::{Grant, Resource, TokenInfo};

use rongshu_core::catalog::ItemStanding;

/// How long an entry may answer for the database. Short: this is about
/// sparing a burst of reads the same lookups, not about holding state.
pub const FRESH_FOR: Duration = Duration::from_secs(2);

/// Entries per map at most; past it the map is emptied and refills with
/// what is in use (a keyed lookup touches a handful of entries).
const MAX_ENTRIES: usize = 10_000;

struct Entry<V> {
    generation: u64,
    fetched: Instant,
    value: Arc<V>,
}

/// One map of the cache.
struct FreshMap<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
}

impl<K: Eq + Hash, V> FreshMap<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K, generation: u64) -> Option<Arc<V>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        (entry.generation == generation && entry.fetched.elapsed() < FRESH_FOR)
            .then(|| entry.value.clone())
    }

    fn put(&self, key: K, generation: u64, fetched: Instant, value: Arc<V>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    generation,
                    fetched,
                    value,
                },
            );
        }
    }
}

/// The grants in force of one reader for one resource.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrantsKey {
    pub resource: i64,
    pub department: i64,
    pub application: Option<i64>,
}

pub struct ReadCache {
    generation: AtomicU64,
    tokens: FreshMap<String, TokenInfo>,
    resources: FreshMap<String, Resource>,
    grants: FreshMap<GrantsKey, Vec<Grant>>,
    standings: FreshMap<i64, Vec<ItemStanding>>,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            tokens: FreshMap::new(),
            resources: FreshMap::new(),
            grants: FreshMap::new(),
            standings: FreshMap::new(),
        }
    }
}

/// A lookup's place in time: taken before the database is asked, so that a
/// change committed while the answer was on its way makes the answer stale.
pub struct Ticket {
    generation: u64,
    fetched: Instant,
}

impl ReadCache {
    /// Everything fetched so far is stale.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn ticket(&self) -> Ticket {
        Ticket {
            generation: self.generation.load(Ordering::Acquire),
            fetched: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn token(&self, hash: &str) -> Option<Arc<TokenInfo>> {
        self.tokens.get(&hash.to_owned(), self.now())
    }

    pub fn put_token(&self, hash: String, ticket: Ticket, info: TokenInfo) {
        self.tokens
            .put(hash, ticket.generation, ticket.fetched, Arc::new(info));
    }

    pub fn resource(&self, code: &str) -> Option<Arc<Resource>> {
        self.resources.get(&code.to_owned(), self.now())
    }

    pub fn put_resource(&self, ticket: Ticket, resource: Resource) -> Arc<Resource> {
        let resource = Arc::new(resource);
        self.resources.put(
            resource.code.clone(),
            ticket.generation,
            ticket.fetched,
            resource.clone(),
        );
        resource
    }

    pub fn grants(&self, key: &GrantsKey) -> Option<Arc<Vec<Grant>>> {
        self.grants.get(key, self.now())
    }

    pub fn put_grants(
        &self,
        key: GrantsKey,
        ticket: Ticket,
        grants: Vec<Grant>,
    ) -> Arc<Vec<Grant>> {
        let grants = Arc::new(grants);
        self.grants
            .put(key, ticket.generation, ticket.fetched, grants.clone());
        grants
    }

    pub fn standings(&self, resource: i64) -> Option<Arc<Vec<ItemStanding>>> {
        self.standings.get(&resource, self.now())
    }

    pub fn put_standings(
        &self,
        resource: i64,
        ticket: Ticket,
        standings: Vec<ItemStanding>,
    ) -> Arc<Vec<ItemStanding>> {
        let standings = Arc::new(standings);
        self.standings.put(
            resource,
            ticket.generation,
            ticket.fetched,
            standings.clone(),
        );
        standings
    }
}

/// Whether a request may change what the cache holds: anything but a plain
/// read. A query or a verification sent as POST reads only.
pub fn may_change(method: &Method, path: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let reads_only = (*method == Method::POST)
        && (path.starts_with("/api/v1/verify/")
            || (path.starts_with("/api/v1/resources/") && path.ends_with("/query")));
    !reads_only
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_fetched_before_a_change_is_not_used_after_it() {
        let cache = ReadCache::default();
        let ticket = cache.ticket();
        cache.invalidate();
        cache.put_standings(7, ticket, Vec::new());
        assert!(cache.standings(7).is_none());
        let ticket = cache.ticket();
        cache.put_standings(7, ticket, Vec::new());
        assert!(cache.standings(7).is_some());
        cache.invalidate();
        assert!(cache.standings(7).is_none());
    }

    #[test]
    fn reads_sent_as_post_do_not_empty_the_cache() {
        assert!(!may_change(&Method::GET, "/api/v1/grants"));
        assert!(!may_change(&Method::POST, "/api/v1/resources/r1/query"));
        assert!(!may_change(&Method::POST, "/api/v1/verify/r1"));
        assert!(may_change(&Method::POST, "/api/v1/grants/3/revoke"));
        assert!(may_change(&Method::PUT, "/api/v1/resources/r1"));
        assert!(may_change(&Method::DELETE, "/api/v1/tokens/4"));
    }
}
