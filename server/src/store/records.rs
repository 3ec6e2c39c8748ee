//! The browser sessions' records (tower-sessions' [`SessionStore`]), in
//! whichever backend holds the session data.

use async_trait::async_trait;
use tower_sessions::{
    ExpiredDeletion, SessionStore as Store,
    session::{Id, Record},
    session_store,
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::redis::RedisSessions;

/// Sessions in the configured store.
#[derive(Clone, Debug)]
pub enum SessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
    Redis(RedisSessions),
    Memory(tower_sessions::MemoryStore),
}

#[async_trait]
impl Store for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.create(record).await,
            Self::Postgres(store) => store.create(record).await,
            Self::Redis(store) => store.create(record).await,
            Self::Memory(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.save(record).await,
            Self::Postgres(store) => store.save(record).await,
            Self::Redis(store) => store.save(record).await,
            Self::Memory(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(store) => store.load(id).await,
            Self::Postgres(store) => store.load(id).await,
            Self::Redis(store) => store.load(id).await,
            Self::Memory(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete(id).await,
            Self::Postgres(store) => store.delete(id).await,
            Self::Redis(store) => store.delete(id).await,
            Self::Memory(store) => store.delete(id).await,
        }
    }
}

impl SessionStore {
    /// Deletes expired sessions (and with them abandoned sign-ins in
    /// progress, which live in the session).
    pub async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete_expired().await,
            Self::Postgres(store) => store.delete_expired().await,
            // Redis expires each session by itself; memory checks expiry
            // on load.
            Self::Redis(_) | Self::Memory(_) => Ok(()),
        }
    }
}
