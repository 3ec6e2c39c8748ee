//! A SQLite database file of one test's own, removed when the test ends.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
};

/// A SQLite file no other test uses, removed (with its journal) on drop.
pub struct TempDatabase(pub PathBuf);

impl TempDatabase {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Self(std::env::temp_dir().join(format!(
            "portcullis-test-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        )))
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }

    /// A second connection to the database, to look at what was stored.
    pub async fn connect(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&self.url()).await.unwrap()
    }

    /// How many rows `table` holds.
    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.connect().await)
            .await
            .unwrap();
        n
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}
