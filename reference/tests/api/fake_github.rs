//! The project's fake GitHub (end2end/fake-github/server.mjs), started for
//! one test on a free port and stopped when dropped.

use crate::node_service::NodeService;

pub const CLIENT_ID: &str = "portcullis-dev-github";
pub const CLIENT_SECRET: &str = "portcullis-dev-github-secret";

pub struct FakeGitHub {
    /// Its site, e.g. `http://127.0.0.1:40123` (`GITHUB_ISSUER`).
    pub url: String,
    _service: NodeService,
}

impl FakeGitHub {
    /// Starts it with `app_url`'s GitHub callback registered; the "slow"
    /// user's API calls take `slow_ms`.
    pub async fn start(app_url: &str, slow_ms: u64) -> Self {
        let service = NodeService::start(
            "end2end/fake-github/server.mjs",
            &[
                ("FAKE_GITHUB_PORT", "0".into()),
                (
                    "FAKE_GITHUB_REDIRECT_URIS",
                    format!("{app_url}/auth/callback/github"),
                ),
                ("FAKE_GITHUB_SLOW_MS", slow_ms.to_string()),
            ],
            "FAKE_GITHUB_READY",
        )
        .await;
        Self {
            url: service.ready["url"].as_str().expect("url").to_owned(),
            _service: service,
        }
    }

    /// The settings that make it the app's "github" provider.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_CLIENT_ID", CLIENT_ID.into()),
            ("GITHUB_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("GITHUB_ISSUER", self.url.clone()),
            ("GITHUB_API_URL", format!("{}/api/v3", self.url)),
            ("GITHUB_LABEL", "GitHub".into()),
        ]
    }
}
