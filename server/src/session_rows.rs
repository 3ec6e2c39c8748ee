//! Signed-in sessions as the server tracks them: one row per browser
//! session that signed in. The session cookie only points here; a session
//! whose row is gone (logout, back-channel logout, ended from another
//! device, timed out) is signed out on its next request.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

pub use crate::store::{Selector, SessionRow};
use crate::{
    cache::TtlCache,
    store::{Store, StoreFailure},
};

#[derive(Clone, Debug)]
pub struct SessionRows {
    store: Store,
    /// Rows recently read, for the check every signed-in request makes.
    cache: Arc<TtlCache<String, SessionRow>>,
}

/// "Firefox on Linux", from a User-Agent header; good enough to tell one's
/// own devices apart, never used for a decision.
pub fn describe_user_agent(ua: &str) -> String {
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else {
        return if ua.trim().is_empty() {
            "Unknown browser".to_owned()
        } else {
            ua.split('/')
                .next()
                .unwrap_or("Unknown")
                .chars()
                .take(40)
                .collect()
        };
    };
    let system = if ua.contains("Android") {
        "Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") || ua.contains("X11") {
        "Linux"
    } else {
        return browser.to_owned();
    };
    format!("{browser} on {system}")
}

impl SessionRows {
    /// The store itself, every read going to it.
    #[cfg(test)]
    pub fn new(store: Store) -> Self {
        Self::with_cache(store, Duration::ZERO)
    }

    /// The store with rows read through a cache for `ttl` (`cache.rs`).
    pub fn with_cache(store: Store, ttl: Duration) -> Self {
        Self {
            store,
            cache: Arc::new(TtlCache::new(ttl)),
        }
    }

    pub async fn create(&self, row: &SessionRow) -> Result<(), StoreFailure> {
        self.store.session_row_create(row).await
    }

    pub async fn get(&self, id: &str) -> Result<Option<SessionRow>, StoreFailure> {
        if let Some(row) = self.cache.get(id) {
            return Ok(Some(row));
        }
        let started = Instant::now();
        let row = self.store.session_row_get(id).await?;
        if let Some(row) = &row {
            self.cache.put(id.to_owned(), row.clone(), started);
        }
        Ok(row)
    }

    /// Records that the session was used at `at`.
    pub async fn touch(&self, id: &str, at: i64) -> Result<(), StoreFailure> {
        let touched = self.store.session_row_touch(id, at).await;
        self.cache.remove(id);
        touched
    }

    /// The account's signed-in sessions, most recently seen first.
    pub async fn for_user(&self, user_id: i64) -> Result<Vec<SessionRow>, StoreFailure> {
        self.store.session_rows_of_user(user_id).await
    }

    /// Ends one session; its grant, if it existed.
    pub async fn end(&self, id: &str) -> Result<Option<String>, StoreFailure> {
        let ended = self.store.session_row_end(id).await;
        self.cache.remove(id);
        ended
    }

    /// Ends every session `selector` names; their grants.
    pub async fn end_matching(&self, selector: &Selector<'_>) -> Result<Vec<String>, StoreFailure> {
        let ended = self.store.session_rows_end_matching(selector).await;
        self.cache.clear();
        ended
    }

    /// Ends every session last seen before `idle_before` or created before
    /// `created_before`; their grants.
    pub async fn end_expired(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<Vec<String>, StoreFailure> {
        let ended = self
            .store
            .session_rows_end_expired(idle_before, created_before)
            .await;
        self.cache.clear();
        ended
    }

    /// Remembers a back-channel logout token's `jti`; `false` if it was
    /// seen before (a replay).
    pub async fn first_use_of_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        remember_until: i64,
    ) -> Result<bool, StoreFailure> {
        self.store
            .first_use_of_logout_token(issuer, jti, remember_until)
            .await
    }

    /// Forgets logout tokens too old to be accepted anyway.
    pub async fn forget_old_logout_tokens(&self, now: i64) -> Result<(), StoreFailure> {
        self.store.forget_old_logout_tokens(now).await
    }

    /// Sessions seen since `seen_after` whose access token expires before
    /// `expiring_before`, with the identity they signed in as.
    pub async fn due_for_refresh(
        &self,
        expiring_before: i64,
        seen_after: i64,
    ) -> Result<Vec<(SessionRow, crate::users::Identity)>, StoreFailure> {
        let due = self
            .store
            .session_rows_due_for_refresh(expiring_before, seen_after)
            .await?;
        Ok(due
            .into_iter()
            .map(|row| {
                let identity = crate::users::Identity {
                    issuer: row.issuer.clone(),
                    subject: row.subject.clone(),
                    provider: row.provider.clone(),
                    name: String::new(),
                    email: None,
                    email_verified: false,
                    picture: None,
                };
                (row, identity)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sql::{DUE_FOR_REFRESH, END_EXPIRED};

    /// SQLite's plan for `sql`, one line per step.
    async fn plan(sql: &str) -> Vec<String> {
        let db = crate::db::memory().await;
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(1_i64)
                .bind(2_i64)
                .fetch_all(db.sqlite())
                .await
                .unwrap();
        rows.into_iter().map(|row| row.3).collect()
    }

    #[tokio::test]
    async fn finding_tokens_to_refresh_ahead_reads_indexes_not_every_session() {
        let steps = plan(DUE_FOR_REFRESH).await;
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
    }

    #[tokio::test]
    async fn the_sweep_of_expired_sessions_reads_indexes_not_every_session() {
        let steps = plan(END_EXPIRED).await;
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
    }

    #[test]
    fn user_agents_read_as_browser_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("", "Unknown browser"),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe_user_agent(ua), expected, "{ua}");
        }
    }
}
