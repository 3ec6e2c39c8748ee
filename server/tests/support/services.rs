//! The project's service scripts (`scripts/services/*.sh`) run for the
//! tests: each starts a real server on a free loopback port, prints a
//! ready line with its URL, and stops itself when this process exits.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
};

/// Runs `scripts/services/<script>` on a free port (then `extra` args);
/// waits for its `<ready> <url>` line. The script watches this process.
pub fn start(script: &str, ready: &str, extra: &[&str]) -> (String, Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/services")
        .join(script);
    let mut child = Command::new("bash")
        .arg(path)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|err| panic!("bash runs {script}: {err}"));
    let stdout = child.stdout.take().unwrap();
    let prefix = format!("{ready} ");
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix(&prefix) {
            return (url.to_owned(), child);
        }
    }
    let status = child.wait();
    panic!("{script} did not start ({status:?}; see its output above)");
}

/// Like [`start`], for a server that lives as long as the test process; a
/// thread reaps the script should it end sooner.
pub fn start_for_process(script: &str, ready: &str) -> String {
    let (url, mut child) = start(script, ready, &[]);
    std::thread::spawn(move || child.wait());
    url
}
