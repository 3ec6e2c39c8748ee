//! A real PostgreSQL for the tests: one throwaway cluster per test process,
//! started by `scripts/services/postgres.sh` on a free loopback port (it
//! stops and deletes itself when this process exits), and a fresh database
//! for every test.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
};

use sqlx::{Connection, PgConnection};

/// The cluster's admin URL (database `postgres`).
fn cluster() -> &'static str {
    static CLUSTER: OnceLock<String> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/services/postgres.sh");
        let mut child = Command::new("bash")
            .arg(script)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bash runs scripts/services/postgres.sh");
        let stdout = child.stdout.take().unwrap();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(url) = line.strip_prefix("POSTGRES_READY ") {
                // The script runs until this process exits (it watches our
                // pid); a thread reaps it should it end sooner.
                std::thread::spawn(move || child.wait());
                return url.to_owned();
            }
        }
        let status = child.wait();
        panic!("PostgreSQL did not start ({status:?}; see the script's output above)");
    })
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
