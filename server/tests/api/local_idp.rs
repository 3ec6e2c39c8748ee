//! The real local identity provider (node-oidc-provider, the project's own
//! script under end2end/), started for one test on a free port and stopped
//! when dropped.

use std::{path::PathBuf, process::Stdio};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

pub struct LocalIdp {
    pub issuer: String,
    _child: Child,
}

pub const CLIENT_ID: &str = "portcullis-dev";
pub const CLIENT_SECRET: &str = "portcullis-dev-secret";

impl LocalIdp {
    /// Starts the provider with `app_url`'s callback registered.
    pub async fn start(app_url: &str) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let script = root.join("end2end/identity-provider/server.mjs");
        assert!(
            root.join("end2end/node_modules/oidc-provider").exists(),
            "end2end/node_modules is missing: run `make bootstrap` first"
        );
        let mut child = Command::new("node")
            .arg(&script)
            .env("IDP_PORT", "0")
            .env("IDP_CLIENT_ID", CLIENT_ID)
            .env("IDP_CLIENT_SECRET", CLIENT_SECRET)
            .env(
                "IDP_REDIRECT_URIS",
                format!("{app_url}/auth/callback/local"),
            )
            .env(
                "IDP_POST_LOGOUT_REDIRECT_URIS",
                format!("{app_url}/auth/logged-out"),
            )
            .env(
                "IDP_BACKCHANNEL_LOGOUT_URI",
                format!("{app_url}/auth/backchannel/local"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the identity provider");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(json) = line.strip_prefix("IDP_READY ") {
                    return serde_json::from_str::<serde_json::Value>(json).expect("ready JSON");
                }
            }
            panic!("identity provider exited before it was ready");
        })
        .await
        .expect("identity provider ready within 20 s");
        Self {
            issuer: ready["issuer"].as_str().expect("issuer").to_owned(),
            _child: child,
        }
    }
}
