//! Calls to provider APIs on the user's behalf (SECURITY.md D5): only to
//! allow-listed upstreams. Each provider has a fixed list of API paths;
//! a request is built from its API base and one of those paths, and the
//! result must stay on the base's origin and under its path, so neither a
//! path trick nor an absolute URL nor a changed host can send the user's
//! token anywhere else. The access token is made fresh first.

use std::sync::Arc;

use serde_json::{Map, Value};
use url::Url;

use crate::{
    clock,
    error::ErrorCode,
    http_client::ProviderHttp,
    model::ProviderProfile,
    providers::{
        DiscoveryError, Protocol, Registry,
        oauth2::{self, ApiError},
        userinfo::UserinfoError,
    },
    refresh::{RefreshError, Refresher},
    secret::Secret,
    session::SessionUser,
};

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{0:?} is not an allowed upstream path")]
    NotAllowed(String),
    #[error("the provider has no such API")]
    NoApi,
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Userinfo(#[from] UserinfoError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

impl UpstreamError {
    /// Whether the provider refused the access token (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Self::Api(ApiError::Unauthorized(_))
                | Self::Userinfo(UserinfoError::Api(ApiError::Unauthorized(_)))
        )
    }
}

/// `base` + `path`, if `path` is on the allow-list and the result stays
/// under `base` (same scheme, host, port, and path prefix).
pub fn upstream_url(base: &str, path: &str, allowed: &[&str]) -> Result<Url, UpstreamError> {
    let refuse = || UpstreamError::NotAllowed(path.to_owned());
    let plain = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains("..")
        && !path.contains(['\\', '%', '?', '#', ':']);
    if !plain || !allowed.contains(&path) {
        return Err(refuse());
    }
    let base_url = Url::parse(base).map_err(|_| refuse())?;
    let base_path = base_url.path().trim_end_matches('/');
    let url = Url::parse(&format!("{}{path}", base.trim_end_matches('/'))).map_err(|_| refuse())?;
    let same_origin = url.scheme() == base_url.scheme()
        && url.host_str() == base_url.host_str()
        && url.port_or_known_default() == base_url.port_or_known_default();
    // Nothing was normalised away: the path is exactly base path + path.
    let exact = url.path() == format!("{base_path}{path}");
    if same_origin && exact && url.query().is_none() && url.username().is_empty() {
        Ok(url)
    } else {
        Err(refuse())
    }
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_owned()),
        _ => None,
    }
}

fn entries(map: &Map<String, Value>, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter_map(|(label, key)| text(map, key).map(|value| ((*label).to_owned(), value)))
        .collect()
}

/// The providers' own APIs, called server-side with the session's fresh
/// access token; a cheap handle.
#[derive(Clone, Debug)]
pub struct ProviderApi {
    registry: Arc<Registry>,
    http: ProviderHttp,
    refresher: Refresher,
}

impl ProviderApi {
    pub fn new(registry: Arc<Registry>, http: ProviderHttp, refresher: Refresher) -> Self {
        Self {
            registry,
            http,
            refresher,
        }
    }

    /// Fresh data about the signed-in user from their provider's API. An
    /// access token the provider refuses (HTTP 401) before its stated
    /// expiry is refreshed once (single-flight) and the call made once
    /// more.
    pub async fn live_profile(&self, user: &SessionUser) -> Result<ProviderProfile, UpstreamError> {
        let tokens = self.refresher.fresh_tokens(user).await?;
        match self.fetch_live_profile(user, &tokens.access_token).await {
            Err(err) if err.is_unauthorized() && tokens.refresh_token.is_some() => {
                tracing::info!(
                    provider = %user.identity.provider,
                    "the provider refused an access token before its expiry; refreshing"
                );
                let renewed = self
                    .refresher
                    .tokens_after_rejection(user, &tokens.access_token)
                    .await?;
                self.fetch_live_profile(user, &renewed.access_token).await
            }
            other => other,
        }
    }

    async fn fetch_live_profile(
        &self,
        user: &SessionUser,
        token: &Secret,
    ) -> Result<ProviderProfile, UpstreamError> {
        let provider = self
            .registry
            .get(&user.identity.provider)
            .ok_or(UpstreamError::NoApi)?;
        let (source, data, fields): (&str, Map<String, Value>, &[(&str, &str)]) =
            match provider.settings.protocol {
                Protocol::Oidc | Protocol::OidcMultiTenant => {
                    let discovered = provider.discovered(&self.http).await?;
                    // The one upstream: the userinfo endpoint discovery
                    // named; its answer must be about this user (B6).
                    let data = provider
                        .userinfo(
                            &self.http,
                            &discovered,
                            token,
                            &user.identity.issuer,
                            &user.identity.subject,
                        )
                        .await?;
                    (
                        "userinfo",
                        data,
                        &[
                            ("Name", "name"),
                            ("E-mail", "email"),
                            ("E-mail verified", "email_verified"),
                            ("Account ID", "sub"),
                        ],
                    )
                }
                Protocol::Plain(plain) => {
                    let api = plain.profile_api();
                    let base = provider.endpoints().ok_or(UpstreamError::NoApi)?.api;
                    // The one path this provider's API is called at.
                    let url = upstream_url(&base, api.path, &[api.path])?;
                    let data =
                        oauth2::get_json(&self.http, url.as_str(), token, api.headers).await?;
                    (api.source, data, api.fields)
                }
            };
        Ok(ProviderProfile {
            source: format!("{source} at {}", provider.settings.label),
            entries: entries(&data, fields),
            fetched_at: clock::now(),
        })
    }
}

impl UpstreamError {
    /// What the user is told about this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            UpstreamError::Refresh(err) => err.code(),
            UpstreamError::Api(err) => err.code(),
            UpstreamError::Userinfo(err) => err.code(),
            UpstreamError::Discovery(err) => err.code(),
            UpstreamError::NotAllowed(_) | UpstreamError::NoApi => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "https://api.github.com";
    /// GitHub's one profile path.
    const GITHUB_PATHS: [&str; 1] = ["/user"];

    #[test]
    fn an_allowed_path_stays_on_the_api() {
        let url = upstream_url(API, "/user", &GITHUB_PATHS).unwrap();
        assert_eq!(url.as_str(), "https://api.github.com/user");
        let ghe = upstream_url("https://ghe.example/api/v3", "/user", &GITHUB_PATHS).unwrap();
        assert_eq!(ghe.as_str(), "https://ghe.example/api/v3/user");
    }

    #[test]
    fn a_plain_path_that_is_not_on_the_list_is_refused() {
        for path in ["/admin", "/user/repos", "/users/octocat", "/user/", "/User"] {
            assert!(
                matches!(
                    upstream_url(API, path, &GITHUB_PATHS),
                    Err(UpstreamError::NotAllowed(_))
                ),
                "{path}"
            );
        }
    }

    #[test]
    fn traversal_absolute_urls_and_host_changes_are_refused() {
        let attempts = [
            "/user/../admin",
            "/../user",
            "//evil.test/user",
            "https://evil.test/user",
            "@evil.test/user",
            "/user?redirect=https://evil.test",
            "/%2e%2e/user",
            "/user#x",
            "\\evil.test",
            "",
        ];
        for path in attempts {
            assert!(
                matches!(
                    upstream_url(API, path, &GITHUB_PATHS),
                    Err(UpstreamError::NotAllowed(_))
                ),
                "{path:?}"
            );
        }
        // Even a path on the list cannot leave the API's origin or path.
        let tricky = [
            "@evil.test/user",
            ".evil.test/user",
            ":8443/user",
            "/../admin",
        ];
        for path in tricky {
            assert!(
                upstream_url("https://api.github.com/v3", path, &tricky).is_err(),
                "{path}"
            );
        }
    }
}
