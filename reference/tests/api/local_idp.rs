//! The real local identity provider (node-oidc-provider, the project's own
//! script under end2end/), started for one test on a free port and stopped
//! when dropped.

use std::path::PathBuf;

use crate::node_service::NodeService;

pub struct LocalIdp {
    pub issuer: String,
    _service: NodeService,
}

pub const CLIENT_ID: &str = "portcullis-dev";
pub const CLIENT_SECRET: &str = "portcullis-dev-secret";
/// The notes API's resource indicator (RFC 8707) at the local provider.
pub const NOTES_RESOURCE: &str = "https://notes-api.portcullis.test";

/// The discovery document (OpenID Connect Discovery 1.0) of the provider
/// at `issuer`.
pub async fn discovery(issuer: &str) -> serde_json::Value {
    reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

impl LocalIdp {
    /// Starts the provider with `app_url`'s callback registered, and
    /// `more` of its settings (`IDP_ACCESS_TOKEN_TTL`, say).
    pub async fn start(app_url: &str, more: &[(&'static str, String)]) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(
            root.join("end2end/node_modules/oidc-provider").exists(),
            "end2end/node_modules is missing: run `make bootstrap` first"
        );
        let mut env = vec![
            ("IDP_PORT", "0".into()),
            ("IDP_CLIENT_ID", CLIENT_ID.into()),
            ("IDP_CLIENT_SECRET", CLIENT_SECRET.into()),
            (
                "IDP_REDIRECT_URIS",
                format!("{app_url}/auth/callback/local"),
            ),
            (
                "IDP_POST_LOGOUT_REDIRECT_URIS",
                format!("{app_url}/auth/logged-out"),
            ),
            (
                "IDP_BACKCHANNEL_LOGOUT_URI",
                format!("{app_url}/auth/backchannel/local"),
            ),
        ];
        env.extend_from_slice(more);
        let service =
            NodeService::start("end2end/identity-provider/server.mjs", &env, "IDP_READY").await;
        Self {
            issuer: service.ready["issuer"].as_str().expect("issuer").to_owned(),
            _service: service,
        }
    }
}
