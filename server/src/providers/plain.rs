//! What a plain OAuth 2.0 provider (no OpenID Connect) does its own way,
//! behind one trait: where its endpoints are, who an access token belongs
//! to, what its API shows about the user, and where it revokes tokens.
//! Everything else (the authorization request with PKCE, the code
//! exchange, refresh) is RFC 6749 and shared (`oauth2.rs`). A new plain
//! provider is one file that implements [`PlainProvider`] and its
//! [`Preset`](super::Preset), and one line in the presets' registry
//! (`PRESET_TABLE` in `providers/mod.rs`).

use async_trait::async_trait;

use super::oauth2::{ApiError, Endpoints};
use crate::{http_client::ProviderHttp, secret::Secret, users::Identity};

/// The part of a provider's API that shows the signed-in user: the one
/// path Portcullis calls there with the user's token (SECURITY.md D5), the
/// headers it wants, and which fields to show under which labels.
#[derive(Clone, Copy, Debug)]
pub struct ProfileApi {
    /// Where the data comes from, for people (e.g. "GitHub API").
    pub source: &'static str,
    /// The path under the API base, e.g. `/user`.
    pub path: &'static str,
    /// Request headers the API asks for.
    pub headers: &'static [(&'static str, &'static str)],
    /// `(label, JSON field)` pairs, in display order.
    pub fields: &'static [(&'static str, &'static str)],
}

/// One plain OAuth 2.0 provider's own behaviour.
#[async_trait]
pub trait PlainProvider: Send + Sync + 'static {
    /// Its preset name, e.g. `github`.
    fn name(&self) -> &'static str;

    /// Its endpoints for the site users sign in at (the configured issuer)
    /// and, when configured (`<NAME>_API_URL`), the API base.
    fn endpoints(&self, site: &str, api_url: Option<&str>) -> Endpoints;

    /// Who `access_token` belongs to: the API's stable user id, keyed by
    /// `(site, id)`, with the profile `provider` (the configured id) shows.
    async fn identity(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        site: &str,
        provider: &str,
        access_token: &Secret,
    ) -> Result<Identity, ApiError>;

    /// What its API shows about the signed-in user.
    fn profile_api(&self) -> ProfileApi;

    /// Where it revokes tokens (RFC 7009), if it does.
    fn revocation_endpoint(&self, endpoints: &Endpoints) -> Option<String> {
        let _ = endpoints;
        None
    }
}
