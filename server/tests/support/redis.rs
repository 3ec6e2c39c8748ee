//! A real Redis for the tests: one throwaway server per test process,
//! started by `scripts/services/redis.sh` on a free loopback port (it stops
//! and deletes itself when this process exits), and a key prefix of its
//! own for every test.

use std::{
    process::{Child, Command},
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
};

/// A Redis of one test's own, keeping its data in `dir` across restarts.
pub struct OwnRedis {
    pub url: String,
    child: Child,
}

impl OwnRedis {
    pub fn start(dir: &str) -> Self {
        let (url, child) = super::services::start("redis.sh", "REDIS_READY", &[dir]);
        Self { url, child }
    }

    /// Stops the server the way an operator would (SIGTERM), keeping `dir`.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The shared test Redis, and a key prefix no other test uses.
pub async fn fresh_redis() -> (String, String) {
    static SERVER: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let url = tokio::task::spawn_blocking(|| {
        SERVER
            .get_or_init(|| super::services::start_for_process("redis.sh", "REDIS_READY"))
            .clone()
    })
    .await
    .unwrap();
    let prefix = format!("test-{}", NEXT.fetch_add(1, Ordering::SeqCst));
    (url, prefix)
}
