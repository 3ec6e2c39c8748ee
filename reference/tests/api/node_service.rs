//! A project script run on a free port (with node: the local identity
//! provider, the fake GitHub; with the project's Python environment: the
//! OAuth 1.0a provider): started for one test, killed when dropped.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// How long a service may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(60);

pub struct NodeService {
    /// What the script printed after its ready prefix.
    pub ready: serde_json::Value,
    _child: Child,
}

impl NodeService {
    /// Runs `script` (relative to the repository root) with `env`; waits
    /// for its `<ready_prefix> {json}` line.
    pub async fn start(script: &str, env: &[(&str, String)], ready_prefix: &str) -> Self {
        Self::run(PathBuf::from("node"), script, env, ready_prefix).await
    }

    /// Runs a Python `script` with the environment `scripts/bootstrap.sh`
    /// made for it, next to it in `.venv/`.
    pub async fn start_python(script: &str, env: &[(&str, String)], ready_prefix: &str) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = root
            .join(script)
            .parent()
            .expect("the script is in a directory")
            .join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/bootstrap.sh test",
            python.display()
        );
        Self::run(python, script, env, ready_prefix).await
    }

    async fn run(
        program: PathBuf,
        script: &str,
        env: &[(&str, String)],
        ready_prefix: &str,
    ) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut command = Command::new(program);
        command
            .arg(root.join(script))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the script runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let prefix = format!("{ready_prefix} ");
        // Generous: the suite starts many of these at once on two cores,
        // and a slow start is not what any test is about.
        let ready = tokio::time::timeout(READY_WITHIN, async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(json) = line.strip_prefix(&prefix) {
                    return serde_json::from_str::<serde_json::Value>(json).expect("ready JSON");
                }
            }
            panic!("{script} exited before it was ready");
        })
        .await
        .unwrap_or_else(|_| panic!("{script} ready within {READY_WITHIN:?}"));
        Self {
            ready,
            _child: child,
        }
    }
}
