//! The database, chosen by `DATABASE_URL`: SQLite (the embedded default)
//! or PostgreSQL. It holds users and, unless `SESSION_STORE_URL` says
//! otherwise, the session data (`store/sql.rs`); migrations
//! for the backend in use are applied at start. Queries are written once,
//! with `$1`-style placeholders both backends understand, and run on
//! either pool through [`with_pool!`].

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// A connection pool to the configured database.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of `$db`: the body
/// is compiled once per backend.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Starting a transaction that will write. SQLite takes the write lock at
/// once (`BEGIN IMMEDIATE`): a deferred transaction that reads first and
/// writes later fails with "database is locked" when another writer got
/// there in between, which many sign-ins at once do. PostgreSQL's default
/// is right as it is.
pub trait BeginWrite {
    type Database: sqlx::Database;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;

    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
    }
}

/// Whether `url` names a database we can open.
pub fn is_supported_url(url: &str) -> bool {
    url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Db {
    /// Connects and applies every migration (sessions, token vault, users).
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let db = if url.starts_with("sqlite:") {
            // An in-memory database exists per connection: keep exactly one.
            let in_memory = url.contains(":memory:");
            let mut options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
            if !in_memory {
                // Write-ahead logging: readers never block the writer nor
                // the writer them, and a commit is one append (synced at
                // checkpoints, so a power cut may lose the last commits
                // but never corrupts). The rollback journal SQLite starts
                // with made every signed-in request wait behind sign-ins
                // and failed some writes as "database is locked".
                options = options
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal);
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(if in_memory { 1 } else { 8 })
                .connect_with(options)
                .await?;
            SqliteStore::new(pool.clone()).migrate().await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            Self::Sqlite(pool)
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await?;
            PostgresStore::new(pool.clone()).migrate().await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Self::Postgres(pool)
        };
        Ok(db)
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await.map(drop)
        })
    }

    /// "SQLite" or "PostgreSQL", for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

#[cfg(test)]
impl Db {
    /// The SQLite pool, for tests that look at the tables.
    pub fn sqlite(&self) -> &SqlitePool {
        match self {
            Self::Sqlite(pool) => pool,
            Self::Postgres(_) => panic!("not a SQLite database"),
        }
    }
}

/// A fresh, migrated in-memory database for unit tests.
#[cfg(test)]
pub async fn memory() -> Db {
    Db::open("sqlite::memory:")
        .await
        .expect("in-memory database opens")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_file_is_opened_with_write_ahead_logging() {
        let path = std::env::temp_dir().join(format!("portcullis-wal-{}.db", std::process::id()));
        let db = Db::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(db.sqlite())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let (synchronous,): (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(db.sqlite())
            .await
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        db.sqlite().close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
