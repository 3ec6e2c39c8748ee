//! What a plain OAuth 2.0 provider (no OpenID Connect) does its own way,
//! behind one trait: where its endpoints are, who an access token belongs
//! to, what its API shows about the user, and where it revokes tokens.
//! Everything else (the authorization request with PKCE, the code
//! exchange, refresh) is RFC 6749 and shared: [`PlainFlow`] is the
//! [`CodeFlow`] of every plain provider. A new plain provider is one file
//! that implements [`PlainProvider`] and its [`Preset`](super::Preset),
//! and one line in the presets' registry (`PRESET_TABLE` in
//! `providers/mod.rs`).

use std::fmt;

use async_trait::async_trait;
use openidconnect::{CsrfToken, PkceCodeChallenge};
use url::Url;

use super::{
    Provider, ProviderSettings,
    oauth2::{self, ApiError, ClientAuth, Endpoints},
    protocol::{
        Audience, AuthTime, Authorization, Callback, CheckedGrant, CodeFlow, CodeFlowError,
        GrantError, ProfileData, ProfileError, Redeemed, Started,
    },
};
use crate::{flow::SignInParams, http_client::ProviderHttp, secret::Secret, users::Identity};

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

/// One plain OAuth 2.0 provider's own behaviour, given the provider's
/// settings (its issuer is the site users sign in at, which keys their
/// accounts).
#[async_trait]
pub trait PlainProvider: Send + Sync + 'static {
    /// Its preset name, e.g. `github`.
    fn name(&self) -> &'static str;

    /// Its endpoints: for a preset, at the configured site (the issuer)
    /// and, when configured (`<NAME>_API_URL`), the API base.
    fn endpoints(&self, settings: &ProviderSettings) -> Endpoints;

    /// How the client authenticates at the token endpoint (RFC 6749
    /// §2.3.1): `client_secret_post` unless said otherwise (GitHub
    /// requires it, Discord accepts it).
    fn client_auth(&self, settings: &ProviderSettings) -> ClientAuth {
        let _ = settings;
        ClientAuth::Post
    }

    /// Parameters added to the authorization request (RFC 6749 §4.1.1).
    fn authorize_params<'a>(&self, settings: &'a ProviderSettings) -> &'a [(String, String)] {
        let _ = settings;
        &[]
    }

    /// Parameters added to every token request: the code exchange and
    /// refresh (RFC 6749 §4.1.3, §6).
    fn token_params<'a>(&self, settings: &'a ProviderSettings) -> &'a [(String, String)] {
        let _ = settings;
        &[]
    }

    /// Who `access_token` belongs to: the API's stable user id, keyed by
    /// `(issuer, id)`, with the profile the provider (its configured id)
    /// shows.
    async fn identity(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<Identity, ApiError>;

    /// What its API shows about the signed-in user (for a preset, through
    /// [`profile_at`] its one allowed path).
    async fn profile(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError>;

    /// Where it revokes tokens (RFC 7009), if it does.
    fn revocation_endpoint(&self, endpoints: &Endpoints) -> Option<String> {
        let _ = endpoints;
        None
    }
}

/// The code flow at a plain OAuth 2.0 provider: no nonce and no ID token;
/// after the code exchange, the provider's API says whose token it is.
pub struct PlainFlow(pub &'static dyn PlainProvider);

impl fmt::Debug for PlainFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlainFlow({})", self.0.name())
    }
}

impl PlainFlow {
    fn endpoints(&self, provider: &Provider) -> Endpoints {
        self.0.endpoints(&provider.settings)
    }
}

/// What a preset's API shows at its one allowed path `api.path` under the
/// API base (SECURITY.md D5).
pub async fn profile_at(
    http: &ProviderHttp,
    endpoints: &Endpoints,
    api: ProfileApi,
    access_token: &Secret,
) -> Result<ProfileData, ProfileError> {
    let url = upstream_url(&endpoints.api, api.path, &[api.path])?;
    let data = oauth2::get_json(http, url.as_str(), access_token, api.headers).await?;
    Ok(ProfileData {
        source: api.source,
        data,
        fields: api.fields,
    })
}

#[async_trait]
impl CodeFlow for PlainFlow {
    async fn authorization_request(
        &self,
        provider: &Provider,
        _http: &ProviderHttp,
        redirect_uri: &str,
        params: &SignInParams,
    ) -> Result<Authorization, CodeFlowError> {
        // Without an ID token nothing could check the context class.
        if !params.acr_values.is_empty() {
            return Err(CodeFlowError::Unsupported("acr_values"));
        }
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let settings = &provider.settings;
        // The sign-in's own parameters plain OAuth 2.0 providers may know
        // (others ignore them, RFC 6749 §3.1); `max_age` is OpenID
        // Connect's, and the sign-in's own time counts instead.
        let extra = params.merged(self.0.authorize_params(settings), &["max_age"]);
        let url = oauth2::authorize_url(
            &self.endpoints(provider),
            settings,
            &extra,
            redirect_uri,
            state.secret(),
            challenge.as_str(),
        )
        .map_err(CodeFlowError::RedirectUri)?;
        Ok(Authorization {
            url,
            state: state.secret().clone(),
            nonce: String::new(),
            pkce_verifier: verifier.secret().clone(),
            temporary: None,
        })
    }

    async fn redeem(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        redirect_uri: &str,
        started: Started<'_>,
        callback: Callback,
    ) -> Result<Redeemed, CodeFlowError> {
        let settings = &provider.settings;
        // These providers do not send RFC 9207 `iss`; one that names
        // another issuer is a mix-up.
        if let Some(iss) = callback.iss
            && iss != settings.issuer
        {
            return Err(CodeFlowError::WrongIssuer {
                got: iss,
                expected: settings.issuer.clone(),
            });
        }
        let code = callback.code.ok_or(CodeFlowError::NoCode)?;
        let endpoints = self.endpoints(provider);
        let client = oauth2::TokenClient {
            url: &endpoints.token,
            settings,
            auth: self.0.client_auth(settings),
            params: self.0.token_params(settings),
        };
        let grant =
            oauth2::exchange_code(http, &client, redirect_uri, &code, started.pkce_verifier)
                .await
                .map_err(CodeFlowError::Provider)?;
        let identity = self
            .0
            .identity(http, &endpoints, settings, &grant.access_token)
            .await
            .map_err(CodeFlowError::Provider)?;
        // Nothing here checks an ID token: none is kept.
        Ok(Redeemed {
            identity,
            grant: CheckedGrant::new(grant, None),
            provider_sid: None,
            auth_time: AuthTime::CannotSay,
            suggested_name: None,
        })
    }

    async fn refresh(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        _identity: &Identity,
        refresh_token: &Secret,
        audience: Option<&Audience>,
    ) -> Result<CheckedGrant, GrantError> {
        let settings = &provider.settings;
        let client = oauth2::TokenClient {
            url: &self.endpoints(provider).token,
            settings,
            auth: self.0.client_auth(settings),
            params: self.0.token_params(settings),
        };
        let grant = oauth2::refresh(http, &client, refresh_token, audience).await?;
        Ok(CheckedGrant::new(grant, None))
    }

    async fn profile(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        _identity: &Identity,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError> {
        let endpoints = self.endpoints(provider);
        (self.0)
            .profile(http, &endpoints, &provider.settings, access_token)
            .await
    }

    async fn revocation_endpoint(
        &self,
        provider: &Provider,
        _http: &ProviderHttp,
    ) -> Option<String> {
        self.0.revocation_endpoint(&self.endpoints(provider))
    }
}

/// `base` + `path`, if `path` is on the allow-list and the result stays
/// under `base` (same scheme, host, port, and path prefix): neither a path
/// trick nor an absolute URL nor a changed host can send the user's token
/// anywhere else (SECURITY.md D5).
fn upstream_url(base: &str, path: &str, allowed: &[&str]) -> Result<Url, ProfileError> {
    let refuse = || ProfileError::NotAllowed(path.to_owned());
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
                    Err(ProfileError::NotAllowed(_))
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
                    Err(ProfileError::NotAllowed(_))
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
