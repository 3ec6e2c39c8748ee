//! A real PostgreSQL for the tests: one throwaway cluster per test process,
//! started by `scripts/services/postgres.sh` on a free loopback port (it
//! stops and deletes itself when this process exits), and a fresh database
//! for every test.

use std::sync::{
    OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use sqlx::{Connection, PgConnection};

/// The cluster's admin URL (database `postgres`).
fn cluster() -> &'static str {
    static CLUSTER: OnceLock<String> = OnceLock::new();
    CLUSTER.get_or_init(|| super::services::start_for_process("postgres.sh", "POSTGRES_READY"))
}

/// A new, empty database in the test cluster; its URL.
pub async fn fresh_database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let admin = tokio::task::spawn_blocking(cluster).await.unwrap();
    let name = format!("portcullis_test_{}", NEXT.fetch_add(1, Ordering::SeqCst));
    let mut connection = PgConnection::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .unwrap();
    admin.replace("/postgres", &format!("/{name}"))
}
