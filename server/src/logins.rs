//! Signed-in sessions as the server tracks them: one row per browser
//! session that signed in. The session cookie only points here; a session
//! whose row is gone (logout, back-channel logout, ended from another
//! device, timed out) is signed out on its next request.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use time::OffsetDateTime;

use crate::{
    cache::TtlCache,
    db::with_pool,
    store::{Store, StoreFailure},
};

/// One signed-in browser session.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginRecord {
    /// Random id, kept in the session (never the cookie's own id).
    pub id: String,
    pub user_id: i64,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// The provider's session id (`sid` claim), for back-channel logout.
    pub provider_sid: Option<String>,
    /// Where the session's tokens are in the vault.
    pub grant_id: String,
    /// The browser's User-Agent, for the profile's session list.
    pub user_agent: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// Which sessions a back-channel logout ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector<'a> {
    /// The provider session `sid` at `issuer`.
    Sid { issuer: &'a str, sid: &'a str },
    /// Every session of `subject` at `issuer`.
    Subject { issuer: &'a str, subject: &'a str },
}

/// Sessions in use (seen after `$2`) whose access token expires before
/// `$1`; asked every `BACKGROUND_REFRESH_SECONDS`, so it reads indexes
/// (`token_vault_by_expiry`, `logins_by_grant`), not every session.
const DUE_FOR_REFRESH: &str =
    "SELECT l.* FROM logins l JOIN token_vault v ON v.grant_id = l.grant_id
     WHERE v.expires_at < $1 AND l.last_seen_at > $2";

/// Sessions idle since before `$1` or created before `$2`; the sweep asks
/// every five minutes, through `logins_by_last_seen` and `logins_by_created`.
const END_EXPIRED: &str =
    "DELETE FROM logins WHERE last_seen_at < $1 OR created_at < $2 RETURNING grant_id";

#[derive(Clone, Debug)]
pub struct LoginStore {
    store: Store,
    /// Rows recently read, for the check every signed-in request makes.
    cache: Arc<TtlCache<String, LoginRecord>>,
}

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
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

impl LoginStore {
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

    pub async fn create(&self, login: &LoginRecord) -> Result<(), StoreFailure> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => return Ok(redis.login_create(login).await?),
        };
        Ok(with_pool!(db, |pool| {
            sqlx::query(
                "INSERT INTO logins (id, user_id, provider, issuer, subject, provider_sid,
                     grant_id, user_agent, created_at, last_seen_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&login.id)
            .bind(login.user_id)
            .bind(&login.provider)
            .bind(&login.issuer)
            .bind(&login.subject)
            .bind(&login.provider_sid)
            .bind(&login.grant_id)
            .bind(&login.user_agent)
            .bind(login.created_at)
            .bind(login.last_seen_at)
            .execute(pool)
            .await
            .map(drop)
        })?)
    }

    pub async fn get(&self, id: &str) -> Result<Option<LoginRecord>, StoreFailure> {
        if let Some(login) = self.cache.get(id) {
            return Ok(Some(login));
        }
        let started = Instant::now();
        let login = self.read(id).await?;
        if let Some(login) = &login {
            self.cache.put(id.to_owned(), login.clone(), started);
        }
        Ok(login)
    }

    async fn read(&self, id: &str) -> Result<Option<LoginRecord>, StoreFailure> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => return Ok(redis.login_get(id).await?),
        };
        Ok(with_pool!(db, |pool| {
            sqlx::query_as("SELECT * FROM logins WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Records that the session was used at `at`.
    pub async fn touch(&self, id: &str, at: i64) -> Result<(), StoreFailure> {
        let touched = self.write_last_seen(id, at).await;
        self.cache.remove(id);
        touched
    }

    async fn write_last_seen(&self, id: &str, at: i64) -> Result<(), StoreFailure> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => return Ok(redis.login_touch(id, at).await?),
        };
        Ok(with_pool!(db, |pool| {
            sqlx::query("UPDATE logins SET last_seen_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(pool)
                .await
                .map(drop)
        })?)
    }

    /// The account's signed-in sessions, most recently seen first.
    pub async fn for_user(&self, user_id: i64) -> Result<Vec<LoginRecord>, StoreFailure> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => return Ok(redis.logins_for_user(user_id).await?),
        };
        Ok(with_pool!(db, |pool| {
            sqlx::query_as("SELECT * FROM logins WHERE user_id = $1 ORDER BY last_seen_at DESC, id")
                .bind(user_id)
                .fetch_all(pool)
                .await
        })?)
    }

    /// Ends one session; its grant, if it existed.
    pub async fn end(&self, id: &str) -> Result<Option<String>, StoreFailure> {
        let ended = self.delete(id).await;
        self.cache.remove(id);
        ended
    }

    async fn delete(&self, id: &str) -> Result<Option<String>, StoreFailure> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => return Ok(redis.login_end(id).await?),
        };
        let grant: Option<(String,)> = with_pool!(db, |pool| {
            sqlx::query_as("DELETE FROM logins WHERE id = $1 RETURNING grant_id")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(grant.map(|(grant,)| grant))
    }

    /// Ends every session `selector` names; their grants.
    pub async fn end_matching(&self, selector: &Selector<'_>) -> Result<Vec<String>, StoreFailure> {
        let ended = self.delete_matching(selector).await;
        self.cache.clear();
        ended
    }

    async fn delete_matching(&self, selector: &Selector<'_>) -> Result<Vec<String>, StoreFailure> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => return Ok(redis.logins_end_matching(selector).await?),
        };
        let (sql, issuer, value) = match selector {
            Selector::Sid { issuer, sid } => (
                "DELETE FROM logins WHERE issuer = $1 AND provider_sid = $2 RETURNING grant_id",
                issuer,
                sid,
            ),
            Selector::Subject { issuer, subject } => (
                "DELETE FROM logins WHERE issuer = $1 AND subject = $2 RETURNING grant_id",
                issuer,
                subject,
            ),
        };
        let grants: Vec<(String,)> = with_pool!(db, |pool| {
            sqlx::query_as(sql)
                .bind(*issuer)
                .bind(*value)
                .fetch_all(pool)
                .await
        })?;
        Ok(grants.into_iter().map(|(grant,)| grant).collect())
    }

    /// Ends every session last seen before `idle_before` or created before
    /// `created_before`; their grants.
    pub async fn end_expired(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<Vec<String>, StoreFailure> {
        let ended = self.delete_expired(idle_before, created_before).await;
        self.cache.clear();
        ended
    }

    async fn delete_expired(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<Vec<String>, StoreFailure> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => {
                return Ok(redis
                    .logins_end_expired(idle_before, created_before)
                    .await?);
            }
        };
        let grants: Vec<(String,)> = with_pool!(db, |pool| {
            sqlx::query_as(END_EXPIRED)
                .bind(idle_before)
                .bind(created_before)
                .fetch_all(pool)
                .await
        })?;
        Ok(grants.into_iter().map(|(grant,)| grant).collect())
    }

    /// Remembers a back-channel logout token's `jti`; `false` if it was
    /// seen before (a replay).
    pub async fn first_use_of_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        remember_until: i64,
    ) -> Result<bool, StoreFailure> {
        let db = match &self.store {
            Store::Sql(db) => db,
            Store::Redis(redis) => {
                return Ok(redis
                    .first_use_of_logout_token(issuer, jti, remember_until)
                    .await?);
            }
        };
        let inserted = with_pool!(db, |pool| {
            sqlx::query(
                "INSERT INTO logout_tokens_seen (issuer, jti, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (issuer, jti) DO NOTHING",
            )
            .bind(issuer)
            .bind(jti)
            .bind(remember_until)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(inserted == 1)
    }

    /// Forgets logout tokens too old to be accepted anyway.
    pub async fn forget_old_logout_tokens(&self, now: i64) -> Result<(), StoreFailure> {
        // Redis forgets them by itself (each key expires).
        let Store::Sql(db) = &self.store else {
            return Ok(());
        };
        Ok(with_pool!(db, |pool| {
            sqlx::query("DELETE FROM logout_tokens_seen WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await
                .map(drop)
        })?)
    }

    /// Sessions seen since `seen_after` whose access token expires before
    /// `expiring_before`, with the identity they signed in as.
    pub async fn due_for_refresh(
        &self,
        expiring_before: i64,
        seen_after: i64,
    ) -> Result<Vec<(LoginRecord, crate::users::Identity)>, StoreFailure> {
        let due: Vec<LoginRecord> = match &self.store {
            Store::Redis(redis) => {
                redis
                    .logins_due_for_refresh(expiring_before, seen_after)
                    .await?
            }
            Store::Sql(db) => with_pool!(db, |pool| {
                sqlx::query_as(DUE_FOR_REFRESH)
                    .bind(expiring_before)
                    .bind(seen_after)
                    .fetch_all(pool)
                    .await
            })?,
        };
        Ok(due
            .into_iter()
            .map(|login| {
                let identity = crate::users::Identity {
                    issuer: login.issuer.clone(),
                    subject: login.subject.clone(),
                    provider: login.provider.clone(),
                    name: String::new(),
                    email: None,
                    email_verified: false,
                    picture: None,
                };
                (login, identity)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
