//! Where session data lives: the browser sessions' records (with the
//! sign-ins in progress in them), the sealed tokens, the signed-in
//! sessions' rows, refresh locks and seen logout tokens. One small
//! trait, [`SessionData`], and one implementation per backend: the SQL
//! database (`sql.rs`: SQLite or PostgreSQL, `DATABASE_URL` by default),
//! Redis (`redis.rs`) and memory (`memory.rs`, for tests and throwaway
//! runs), chosen at run time by `SESSION_STORE_URL`. Users always stay in
//! the SQL database. Every backend passes the same contract suite
//! (`contract_tests.rs`).

mod memory;
mod records;
pub(crate) mod redis;
pub(crate) mod sql;

use std::{fmt, ops::Deref, sync::Arc};

use async_trait::async_trait;

pub(crate) use self::{
    memory::MemoryStore, records::SessionStore, redis::RedisStore, sql::SqlStore,
};
use crate::db::Db;

/// The URL that keeps session data in this process's memory.
pub(crate) const MEMORY_URL: &str = "memory:";

/// One signed-in browser session.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
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

/// A sealed token set as stored: the provider it belongs to and the
/// sealing's output (`vault/cipher.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealedRow {
    pub provider: String,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// How a vault write treats the entry that is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VaultWrite {
    /// Written whether or not there is one; where the backend can expire
    /// entries, this one expires `keep_for` seconds from now.
    Upsert { keep_for: Option<u64> },
    /// Written only over an entry that is there (a session ended meanwhile
    /// must not get tokens back).
    ReplaceOnly,
}

/// What one backend does with session data. Each method is one atomic
/// step; the logic around them (sealing, caching, locking loops) is the
/// callers'.
#[async_trait]
pub(crate) trait SessionData: fmt::Debug + Send + Sync + 'static {
    /// "SQLite", "PostgreSQL", "Redis" or "memory", for the log.
    fn kind(&self) -> &'static str;
    /// Whether the backend answers.
    async fn ping(&self) -> Result<(), StoreFailure>;
    /// The browser sessions' records, for tower-sessions.
    fn session_store(&self) -> SessionStore;

    /// Writes the sealed tokens of `grant`, expiring at `expires_at` (unix
    /// time, for refresh ahead); whether it wrote.
    async fn vault_write(
        &self,
        grant: &str,
        row: &SealedRow,
        expires_at: Option<i64>,
        how: VaultWrite,
    ) -> Result<bool, StoreFailure>;
    /// The sealed tokens of `grant`, if any.
    async fn vault_get(&self, grant: &str) -> Result<Option<SealedRow>, StoreFailure>;
    /// Deletes the sealed tokens of `grant`; deleting nothing is no error.
    async fn vault_delete(&self, grant: &str) -> Result<(), StoreFailure>;
    /// Deletes sealed tokens no signed-in session points to, written before
    /// `before` (unix time); how many. Backends that expire entries by
    /// themselves delete nothing here.
    async fn vault_delete_orphans(&self, before: i64) -> Result<u64, StoreFailure>;

    /// Keeps a new signed-in session.
    async fn session_row_create(&self, row: &SessionRow) -> Result<(), StoreFailure>;
    /// The signed-in session `id`, if it is there.
    async fn session_row_get(&self, id: &str) -> Result<Option<SessionRow>, StoreFailure>;
    /// Records that session `id` was used at `at` (unix time).
    async fn session_row_touch(&self, id: &str, at: i64) -> Result<(), StoreFailure>;
    /// The account's sessions, most recently seen first (then by id).
    async fn session_rows_of_user(&self, user_id: i64) -> Result<Vec<SessionRow>, StoreFailure>;
    /// Ends session `id`; its grant, if it was there.
    async fn session_row_end(&self, id: &str) -> Result<Option<String>, StoreFailure>;
    /// Ends every session `selector` names; their grants.
    async fn session_rows_end_matching(
        &self,
        selector: &Selector<'_>,
    ) -> Result<Vec<String>, StoreFailure>;
    /// Ends every session last seen before `idle_before` or created before
    /// `created_before`; their grants.
    async fn session_rows_end_expired(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> Result<Vec<String>, StoreFailure>;
    /// Sessions seen after `seen_after` whose access token expires before
    /// `expiring_before`.
    async fn session_rows_due_for_refresh(
        &self,
        expiring_before: i64,
        seen_after: i64,
    ) -> Result<Vec<SessionRow>, StoreFailure>;

    /// Remembers a logout token's `jti` until `remember_until`; `false` if
    /// it was seen before (a replay).
    async fn first_use_of_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        remember_until: i64,
    ) -> Result<bool, StoreFailure>;
    /// Forgets logout tokens remembered until before `now`.
    async fn forget_old_logout_tokens(&self, now: i64) -> Result<(), StoreFailure>;

    /// Takes the refresh lock of `grant` for `holder` for `lease_secs`, if
    /// it is free or its lease ran out.
    async fn try_lock(
        &self,
        grant: &str,
        holder: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure>;
    /// Extends the lock of `grant` to `lease_secs` from `now` if `holder`
    /// still holds it; whether it did.
    async fn renew_lock(
        &self,
        grant: &str,
        holder: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreFailure>;
    /// Releases the lock of `grant` if `holder` still holds it.
    async fn unlock(&self, grant: &str, holder: &str) -> Result<(), StoreFailure>;
}

/// The configured session-data store; a cheap handle.
#[derive(Clone, Debug)]
pub(crate) struct Store(Arc<dyn SessionData>);

impl Deref for Store {
    type Target = dyn SessionData;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// A failure of a backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreFailure {
    #[error("the database failed")]
    Sql(#[from] sqlx::Error),
    #[error("Redis failed")]
    Redis(#[from] ::redis::RedisError),
}

/// Whether `url` names a store we can open.
pub fn is_supported_url(url: &str) -> bool {
    crate::db::is_supported_url(url)
        || url.starts_with("redis://")
        || url.starts_with("rediss://")
        || url == MEMORY_URL
}

impl Store {
    /// `backend` as the store.
    pub(crate) fn new(backend: impl SessionData) -> Self {
        Self(Arc::new(backend))
    }

    /// Opens the store at `url`, or uses `db` when there is none.
    pub async fn open(url: Option<&str>, prefix: &str, db: &Db) -> Result<Self, StoreFailure> {
        Ok(match url {
            None => Self::new(SqlStore::new(db.clone())),
            Some(MEMORY_URL) => Self::new(MemoryStore::default()),
            Some(url) if url.starts_with("redis") => {
                Self::new(RedisStore::open(url, prefix).await?)
            }
            Some(url) => Self::new(SqlStore::new(Db::open(url).await?)),
        })
    }
}

#[cfg(test)]
mod contract_tests;
