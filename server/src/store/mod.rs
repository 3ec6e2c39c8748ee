//! Where session data lives: the sessions themselves (with the login
//! transactions in them), the token vault, the signed-in sessions
//! (`logins`), refresh locks and seen logout tokens. By default the SQL
//! database (`DATABASE_URL`); `SESSION_STORE_URL` may name another SQLite
//! or PostgreSQL database, or Redis. Users always stay in the SQL database.

use crate::{
    db::{Db, SessionStore, with_pool},
    redis_store::RedisStore,
};

/// The configured session-data store.
#[derive(Clone, Debug)]
pub enum Store {
    Sql(Db),
    Redis(RedisStore),
}

/// A failure of either kind of store.
#[derive(Debug, thiserror::Error)]
pub enum StoreFailure {
    #[error("the database failed")]
    Sql(#[from] sqlx::Error),
    #[error("Redis failed")]
    Redis(#[from] redis::RedisError),
}

/// Whether `url` names a store we can open.
pub fn is_supported_url(url: &str) -> bool {
    crate::db::is_supported_url(url) || url.starts_with("redis://") || url.starts_with("rediss://")
}

impl Store {
    /// Opens the store at `url`, or uses `db` when there is none.
    pub async fn open(url: Option<&str>, prefix: &str, db: &Db) -> Result<Self, StoreFailure> {
        match url {
            None => Ok(Self::Sql(db.clone())),
            Some(url) if url.starts_with("redis") => {
                Ok(Self::Redis(RedisStore::open(url, prefix).await?))
            }
            Some(url) => Ok(Self::Sql(Db::open(url).await?)),
        }
    }

    pub fn session_store(&self) -> SessionStore {
        match self {
            Self::Sql(db) => db.session_store(),
            Self::Redis(redis) => SessionStore::Redis(redis.sessions()),
        }
    }

    pub async fn ping(&self) -> Result<(), StoreFailure> {
        match self {
            Self::Sql(db) => Ok(db.ping().await?),
            Self::Redis(redis) => Ok(redis.ping().await?),
        }
    }

    /// Takes the refresh lock of `grant` for `holder` for `lease_secs`, if
    /// it is free or its lease ran out.
    pub async fn try_lock(
        &self,
        grant: &str,
        holder: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure> {
        let db = match self {
            Self::Sql(db) => db,
            Self::Redis(redis) => {
                return Ok(redis
                    .try_lock(grant, holder, lease_secs.unsigned_abs())
                    .await?);
            }
        };
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

    /// Extends the lock of `grant` to `lease_secs` from `now` if `holder`
    /// still holds it; whether it did.
    pub async fn renew_lock(
        &self,
        grant: &str,
        holder: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure> {
        let db = match self {
            Self::Sql(db) => db,
            Self::Redis(redis) => {
                return Ok(redis
                    .renew_lock(grant, holder, lease_secs.unsigned_abs())
                    .await?);
            }
        };
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

    /// Releases the lock of `grant` if `holder` still holds it.
    pub async fn unlock(&self, grant: &str, holder: &str) -> Result<(), StoreFailure> {
        let db = match self {
            Self::Sql(db) => db,
            Self::Redis(redis) => return Ok(redis.unlock(grant, holder).await?),
        };
        Ok(with_pool!(db, |pool| {
            sqlx::query("DELETE FROM refresh_locks WHERE grant_id = $1 AND holder = $2")
                .bind(grant)
                .bind(holder)
                .execute(pool)
                .await
                .map(drop)
        })?)
    }

    /// "SQLite", "PostgreSQL" or "Redis", for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sql(db) => db.kind(),
            Self::Redis(_) => "Redis",
        }
    }
}

#[cfg(test)]
mod contract_tests;
