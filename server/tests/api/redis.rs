//! A real Redis for the tests: one throwaway server per test process,
//! started by `scripts/services/redis.sh` on a free loopback port (it stops
//! and deletes itself when this process exits), and a key prefix of its
//! own for every test.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
};

/// A Redis of one test's own, keeping its data in `dir` across restarts.
pub struct OwnRedis {
    pub url: String,
    child: std::process::Child,
}

impl OwnRedis {
    pub fn start(dir: &str) -> Self {
        let (url, child) = spawn(Some(dir));
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

/// Starts `scripts/services/redis.sh` on a free port; its URL.
pub fn start_redis(dir: Option<&str>) -> String {
    let (url, mut child) = spawn(dir);
    std::thread::spawn(move || child.wait());
    url
}

fn spawn(dir: Option<&str>) -> (String, std::process::Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/services/redis.sh");
    let mut command = Command::new("bash");
    command
        .arg(script)
        .arg(port.to_string())
        .arg(std::process::id().to_string());
    if let Some(dir) = dir {
        command.arg(dir);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bash runs scripts/services/redis.sh");
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("REDIS_READY ") {
            return (url.to_owned(), child);
        }
    }
    let status = child.wait();
    panic!("Redis did not start ({status:?}; see the script's output above)");
}

/// The shared test Redis, and a key prefix no other test uses.
pub async fn fresh_redis() -> (String, String) {
    static SERVER: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let url = tokio::task::spawn_blocking(|| SERVER.get_or_init(|| start_redis(None)).clone())
        .await
        .unwrap();
    let prefix = format!("test-{}", NEXT.fetch_add(1, Ordering::SeqCst));
    (url, prefix)
}
