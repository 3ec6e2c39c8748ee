//! Signed-in sessions as the server tracks them: one row per browser
//! session that signed in. The session cookie only points here; a session
//! whose row is gone (logout, back-channel logout, ended from another
//! device, timed out) is signed out on its next request.

use time::OffsetDateTime;

use crate::db::{Db, with_pool};

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

#[derive(Clone, Debug)]
pub struct LoginStore {
    db: Db,
}

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

impl LoginStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn create(&self, login: &LoginRecord) -> Result<(), sqlx::Error> {
        with_pool!(&self.db, |pool| {
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
        })
    }

    pub async fn get(&self, id: &str) -> Result<Option<LoginRecord>, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query_as("SELECT * FROM logins WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        })
    }

    /// Records that the session was used at `at`.
    pub async fn touch(&self, id: &str, at: i64) -> Result<(), sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query("UPDATE logins SET last_seen_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(pool)
                .await
                .map(drop)
        })
    }

    /// The account's signed-in sessions, most recently seen first.
    pub async fn for_user(&self, user_id: i64) -> Result<Vec<LoginRecord>, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query_as("SELECT * FROM logins WHERE user_id = $1 ORDER BY last_seen_at DESC, id")
                .bind(user_id)
                .fetch_all(pool)
                .await
        })
    }

    /// Ends one session; its grant, if it existed.
    pub async fn end(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        let grant: Option<(String,)> = with_pool!(&self.db, |pool| {
            sqlx::query_as("DELETE FROM logins WHERE id = $1 RETURNING grant_id")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(grant.map(|(grant,)| grant))
    }

    /// Ends every session `selector` names; their grants.
    pub async fn end_matching(&self, selector: &Selector<'_>) -> Result<Vec<String>, sqlx::Error> {
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
        let grants: Vec<(String,)> = with_pool!(&self.db, |pool| {
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
    ) -> Result<Vec<String>, sqlx::Error> {
        let grants: Vec<(String,)> = with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "DELETE FROM logins WHERE last_seen_at < $1 OR created_at < $2 RETURNING grant_id",
            )
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
    ) -> Result<bool, sqlx::Error> {
        let inserted = with_pool!(&self.db, |pool| {
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
    pub async fn forget_old_logout_tokens(&self, now: i64) -> Result<(), sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query("DELETE FROM logout_tokens_seen WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await
                .map(drop)
        })
    }
}
