//! A short-lived read cache for what every signed-in request looks up: the
//! session record and its signed-in session row. Without it each request
//! pays two store round trips; with it, a busy session pays them once per
//! `SESSION_CACHE_SECONDS`.
//!
//! What may be stale, and for how long:
//! - On the instance that ends a session (logout, back-channel logout,
//!   "end this session", timeout), the end is seen at once: the entry is
//!   removed, and a read that started before the removal is not cached.
//! - On another instance sharing the store, an ended session can still
//!   serve pages for at most `SESSION_CACHE_SECONDS` (default 2; 0 turns
//!   the cache off).
//! - Only page and `/auth/user` reads (GET or HEAD) use the cache. Sign-in,
//!   callback, sign-out, linking, server functions and every other request
//!   read the store itself, so a sign-in in progress is never read stale.

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{extract::Request, middleware::Next, response::Response};
use http::Method;

/// Entries kept at most per cache; past this, stale entries go, and if
/// that is not enough, all of them (a cache, not a store).
const CAPACITY: usize = 10_000;

tokio::task_local! {
    static CACHED_READS: bool;
}

/// Whether the request being served may be answered from the cache.
pub fn cached_reads_allowed() -> bool {
    CACHED_READS.try_with(|allowed| *allowed).unwrap_or(false)
}

/// Whether a request may read through the cache: pages and `/auth/user`,
/// never the sign-in and sign-out routes nor anything that changes state.
pub fn may_read_cached(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && (!path.starts_with("/auth/") || path == "/auth/user")
}

/// Runs `work` as part of a request with `method` and `path`: for work the
/// page renderer runs in tasks of its own, outside the middleware's mark.
pub async fn within_request<F: Future>(method: &Method, path: &str, work: F) -> F::Output {
    CACHED_READS
        .scope(may_read_cached(method, path), work)
        .await
}

/// Middleware: marks the request as one that may read through the cache.
pub async fn mark_cacheable_reads(request: Request, next: Next) -> Response {
    let allowed = may_read_cached(request.method(), request.uri().path());
    CACHED_READS.scope(allowed, next.run(request)).await
}

/// Values kept for `ttl` after they were read from the store.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    inner: Mutex<Entries<K, V>>,
}

#[derive(Debug)]
struct Entries<K, V> {
    map: HashMap<K, (V, Instant)>,
    /// When an entry was last removed: a read that started before then
    /// may hold what was removed, so it is not cached.
    last_removal: Option<Instant>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// A cache keeping values for `ttl`; zero keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Entries {
                map: HashMap::new(),
                last_removal: None,
            }),
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries<K, V>> {
        // A panic while holding the lock leaves nothing half-written that
        // matters: every entry is a whole value.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value for `key` if it was read less than `ttl` ago and the
    /// request being served may use the cache.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if self.ttl.is_zero() || !cached_reads_allowed() {
            return None;
        }
        let entries = self.entries();
        let (value, read_at) = entries.map.get(key)?;
        (read_at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Keeps `value`, read from the store starting at `read_started`,
    /// unless an entry was removed since (it may be what was removed).
    pub fn put(&self, key: K, value: V, read_started: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries
            .last_removal
            .is_some_and(|removed| removed >= read_started)
        {
            return;
        }
        if entries.map.len() >= CAPACITY {
            // Down to three quarters at most, so the next sweep is a
            // quarter of the capacity away: a few steps per entry, however
            // many sessions come and go.
            let ttl = self.ttl;
            entries
                .map
                .retain(|_, (_, read_at)| read_at.elapsed() < ttl);
            if entries.map.len() > CAPACITY / 4 * 3 {
                entries.map.clear();
            }
        }
        entries.map.insert(key, (value, read_started));
    }

    /// Forgets `key`: it changed or is gone.
    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let mut entries = self.entries();
        entries.map.remove(key);
        entries.last_removal = Some(Instant::now());
    }

    /// Forgets everything (many entries changed at once).
    pub fn clear(&self) {
        let mut entries = self.entries();
        entries.map.clear();
        entries.last_removal = Some(Instant::now());
    }

    /// How many entries are kept (stale ones included).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries().map.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    async fn allowed<T>(f: impl Future<Output = T>) -> T {
        CACHED_READS.scope(true, f).await
    }

    #[tokio::test]
    async fn a_value_is_served_until_its_time_is_up() {
        let cache = TtlCache::new(Duration::from_millis(200));
        cache.put("a", 1, Instant::now());
        allowed(async {
            assert_eq!(cache.get("a"), Some(1));
            tokio::time::sleep(Duration::from_millis(250)).await;
            assert_eq!(cache.get("a"), None);
        })
        .await;
    }

    #[tokio::test]
    async fn nothing_is_served_outside_a_request_that_may_use_the_cache() {
        let cache = TtlCache::new(Duration::from_secs(60));
        cache.put("a", 1, Instant::now());
        assert_eq!(cache.get("a"), None);
        assert_eq!(
            CACHED_READS.scope(false, async { cache.get("a") }).await,
            None
        );
        assert_eq!(allowed(async { cache.get("a") }).await, Some(1));
    }

    #[tokio::test]
    async fn a_read_that_started_before_a_removal_is_not_kept() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let started = Instant::now();
        cache.remove("a");
        cache.put("a", 1, started);
        assert_eq!(allowed(async { cache.get("a") }).await, None);
        cache.put("a", 2, Instant::now());
        assert_eq!(allowed(async { cache.get("a") }).await, Some(2));
    }

    #[tokio::test]
    async fn a_zero_time_keeps_nothing() {
        let cache = TtlCache::new(Duration::ZERO);
        cache.put("a", 1, Instant::now());
        assert!(cache.is_empty());
        assert_eq!(allowed(async { cache.get("a") }).await, None);
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = TtlCache::new(Duration::from_secs(60));
        for n in 0..CAPACITY + 10 {
            cache.put(n, n, Instant::now());
        }
        assert!(cache.len() <= CAPACITY);
    }

    #[tokio::test]
    async fn work_the_page_renderer_spawns_reads_through_the_cache_as_its_request_may() {
        let cache = Arc::new(TtlCache::new(Duration::from_secs(60)));
        cache.put("a", 1, Instant::now());
        let spawned = tokio::spawn({
            let cache = cache.clone();
            async move {
                (
                    cache.get("a"),
                    within_request(&Method::GET, "/profile", async { cache.get("a") }).await,
                    within_request(&Method::POST, "/api/profile", async { cache.get("a") }).await,
                )
            }
        });
        assert_eq!(spawned.await.unwrap(), (None, Some(1), None));
    }

    #[test]
    fn only_page_and_user_reads_may_be_cached() {
        assert!(may_read_cached(&Method::GET, "/profile"));
        assert!(may_read_cached(&Method::HEAD, "/"));
        assert!(may_read_cached(&Method::GET, "/auth/user"));
        assert!(!may_read_cached(&Method::GET, "/auth/callback/local"));
        assert!(!may_read_cached(&Method::GET, "/auth/login/local"));
        assert!(!may_read_cached(&Method::POST, "/auth/logout"));
        assert!(!may_read_cached(&Method::POST, "/api/profile"));
    }
}
