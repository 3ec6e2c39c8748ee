//! The one HTTP client for server-to-server calls (discovery, JWKS, token,
//! userinfo): it follows no redirects and gives up on slow peers.

use std::time::Duration;

/// Connect timeout for provider calls.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request timeout for provider calls.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);

/// Builds the provider client. A redirect could carry a code or token to
/// another host, so none is followed (the openidconnect docs ask for this).
pub fn provider_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
}
