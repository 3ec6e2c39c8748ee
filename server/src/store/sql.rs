//! Session data in the SQL database (SQLite or PostgreSQL): the tables
//! `token_vault`, `logins` (the signed-in sessions' rows), `refresh_locks` and `logout_tokens_seen` (see
//! `migrations/`), and tower-sessions' own table for the records.

use async_trait::async_trait;
use time::OffsetDateTime;

use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::{SealedRow, Selector, SessionData, SessionRow, SessionStore, StoreFailure, VaultWrite};
use crate::db::{Db, with_pool};

/// Sessions in use (seen after `$2`) whose access token expires before
/// `$1`; asked every `BACKGROUND_REFRESH_SECONDS`, so it reads indexes
/// (`token_vault_by_expiry`, `logins_by_grant`), not every session.
pub(crate) const DUE_FOR_REFRESH: &str =
    "SELECT l.* FROM logins l JOIN token_vault v ON v.grant_id = l.grant_id
     WHERE v.expires_at < $1 AND l.last_seen_at > $2";

/// Sessions idle since before `$1` or created before `$2`; the sweep asks
/// every five minutes, through `logins_by_last_seen` and `logins_by_created`.
pub(crate) const END_EXPIRED: &str =
    "DELETE FROM logins WHERE last_seen_at < $1 OR created_at < $2 RETURNING grant_id";

/// The SQL database as the session-data store.
#[derive(Clone, Debug)]
pub(crate) struct SqlStore(Db);

impl SqlStore {
    pub(crate) fn new(db: Db) -> Self {
        Self(db)
    }
}

#[async_trait]
impl SessionData for SqlStore {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }

    async fn ping(&self) -> Result<(), StoreFailure> {
        Ok(self.0.ping().await?)
    }

    fn session_store(&self) -> SessionStore {
        match &self.0 {
            Db::Sqlite(pool) => SessionStore::Sqlite(SqliteStore::new(pool.clone())),
            Db::Postgres(pool) => SessionStore::Postgres(PostgresStore::new(pool.clone())),
        }
    }

    async fn vault_write(
        &self,
        grant: &str,
        row: &SealedRow,
        expires_at: Option<i64>,
        how: VaultWrite,
    ) -> Result<bool, StoreFailure> {
        let db = &self.0;
        let updated_at = OffsetDateTime::now_utc().unix_timestamp();
        let sql = match how {
            VaultWrite::Upsert { .. } => {
                "INSERT INTO token_vault
                     (grant_id, provider, key_id, nonce, ciphertext, updated_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (grant_id) DO UPDATE SET provider = $2, key_id = $3, nonce = $4,
                     ciphertext = $5, updated_at = $6, expires_at = $7"
            }
            VaultWrite::ReplaceOnly => {
                "UPDATE token_vault SET provider = $2, key_id = $3, nonce = $4,
                     ciphertext = $5, updated_at = $6, expires_at = $7
                 WHERE grant_id = $1"
            }
        };
        let written = with_pool!(db, |pool| {
            sqlx::query(sql)
                .bind(grant)
                .bind(&row.provider)
                .bind(&row.key_id)
                .bind(&row.nonce)
                .bind(&row.ciphertext)
                .bind(updated_at)
                .bind(expires_at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(written == 1)
    }

    async fn vault_get(&self, grant: &str) -> Result<Option<SealedRow>, StoreFailure> {
        let db = &self.0;
        let row: Option<(String, String, Vec<u8>, Vec<u8>)> = with_pool!(db, |pool| {
            sqlx::query_as(
                "SELECT provider, key_id, nonce, ciphertext FROM token_vault WHERE grant_id = $1",
            )
            .bind(grant)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(|(provider, key_id, nonce, ciphertext)| SealedRow {
            provider,
            key_id,
            nonce,
            ciphertext,
        }))
    }

    async fn vault_delete(&self, grant: &str) -> Result<(), StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query("DELETE FROM token_vault WHERE grant_id = $1")
                .bind(grant)
                .execute(pool)
                .await
                .map(drop)
        })?)
    }

    async fn vault_delete_orphans(&self, before: i64) -> Result<u64, StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query(
                "DELETE FROM token_vault WHERE updated_at < $1
                 AND grant_id NOT IN (SELECT grant_id FROM logins)",
            )
            .bind(before)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?)
    }

    async fn session_row_create(&self, row: &SessionRow) -> Result<(), StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query(
                "INSERT INTO logins (id, user_id, provider, issuer, subject, provider_sid,
                     grant_id, user_agent, created_at, last_seen_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&row.id)
            .bind(row.user_id)
            .bind(&row.provider)
            .bind(&row.issuer)
            .bind(&row.subject)
            .bind(&row.provider_sid)
            .bind(&row.grant_id)
            .bind(&row.user_agent)
            .bind(row.created_at)
            .bind(row.last_seen_at)
            .execute(pool)
            .await
            .map(drop)
        })?)
    }

    async fn session_row_get(&self, id: &str) -> Result<Option<SessionRow>, StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query_as("SELECT * FROM logins WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?)
    }

    async fn session_row_touch(&self, id: &str, at: i64) -> Result<(), StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query("UPDATE logins SET last_seen_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(pool)
                .await
                .map(drop)
        })?)
    }

    async fn session_rows_of_user(&self, user_id: i64) -> Result<Vec<SessionRow>, StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query_as("SELECT * FROM logins WHERE user_id = $1 ORDER BY last_seen_at DESC, id")
                .bind(user_id)
                .fetch_all(pool)
                .await
        })?)
    }

    async fn session_row_end(&self, id: &str) -> Result<Option<String>, StoreFailure> {
        let db = &self.0;
        let grant: Option<(String,)> = with_pool!(db, |pool| {
            sqlx::query_as("DELETE FROM logins WHERE id = $1 RETURNING grant_id")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(grant.map(|(grant,)| grant))
    }

    async fn session_rows_end_matching(
        &self,
        selector: &Selector<'_>,
    ) -> Result<Vec<String>, StoreFailure> {
        let db = &self.0;
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

    async fn session_rows_end_expired(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<Vec<String>, StoreFailure> {
        let db = &self.0;
        let grants: Vec<(String,)> = with_pool!(db, |pool| {
            sqlx::query_as(END_EXPIRED)
                .bind(idle_before)
                .bind(created_before)
                .fetch_all(pool)
                .await
        })?;
        Ok(grants.into_iter().map(|(grant,)| grant).collect())
    }

    async fn session_rows_due_for_refresh(
        &self,
        expiring_before: i64,
        seen_after: i64,
    ) -> Result<Vec<SessionRow>, StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query_as(DUE_FOR_REFRESH)
                .bind(expiring_before)
                .bind(seen_after)
                .fetch_all(pool)
                .await
        })?)
    }

    async fn first_use_of_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        remember_until: i64,
    ) -> Result<bool, StoreFailure> {
        let db = &self.0;
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

    async fn forget_old_logout_tokens(&self, now: i64) -> Result<(), StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query("DELETE FROM logout_tokens_seen WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await
                .map(drop)
        })?)
    }

    async fn try_lock(
        &self,
        grant: &str,
        holder: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure> {
        let db = &self.0;
        let taken = with_pool!(db, |pool| {
            sqlx::query(
                "INSERT INTO refresh_locks (grant_id, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (grant_id) DO UPDATE SET holder = $2, expires_at = $3
                 WHERE refresh_locks.expires_at < $4",
            )
            .bind(grant)
            .bind(holder)
            .bind(now + lease_secs)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(taken == 1)
    }

    async fn renew_lock(
        &self,
        grant: &str,
        holder: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure> {
        let db = &self.0;
        let renewed = with_pool!(db, |pool| {
            sqlx::query(
                "UPDATE refresh_locks SET expires_at = $3 WHERE grant_id = $1 AND holder = $2",
            )
            .bind(grant)
            .bind(holder)
            .bind(now + lease_secs)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(renewed == 1)
    }

    async fn unlock(&self, grant: &str, holder: &str) -> Result<(), StoreFailure> {
        let db = &self.0;
        Ok(with_pool!(db, |pool| {
            sqlx::query("DELETE FROM refresh_locks WHERE grant_id = $1 AND holder = $2")
                .bind(grant)
                .bind(holder)
                .execute(pool)
                .await
                .map(drop)
        })?)
    }
}
