//! The sign-in at an OAuth 1.0a provider (RFC 5849 §2), behind the same
//! [`CodeFlow`] as the OAuth 2.0 ones: temporary credentials asked for
//! with a callback that carries this sign-in's `state` (§2.1), the user
//! sent to authorize them (§2.2), and on the callback, once its
//! `oauth_token` is this sign-in's own, the token credentials (§2.3),
//! then the user from the provider's API, every request signed
//! ([`super::oauth1`]).
//!
//! The temporary credentials stay server-side with the sign-in in
//! progress (bound to this browser's session, used once); the token
//! credentials (token and shared secret) are sealed in the vault as the
//! session's access token, `oauth_token=…&oauth_token_secret=…`
//! form-encoded. They do not expire and are never refreshed.

use async_trait::async_trait;
use http::{HeaderValue, Method, header};
use openidconnect::CsrfToken;
use url::Url;

use super::{
    Provider, ProviderSettings,
    claims::Object,
    oauth1::{self, Request, Signer},
    oauth2::{ApiError, api_error},
    protocol::{
        Audience, AuthTime, Authorization, Callback, CheckedGrant, CodeFlow, CodeFlowError,
        GrantError, ProfileData, ProfileError, Redeemed, Started,
    },
};
use crate::{
    clock,
    flow::{SignInParams, TemporaryCredentials},
    http_client::ProviderHttp,
    secret::Secret,
    users::Identity,
};

/// Where an OAuth 1.0a provider's steps are (RFC 5849 §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth1Endpoints {
    /// The temporary credential request endpoint (§2.1).
    pub request_token: String,
    /// The resource owner authorization endpoint (§2.2).
    pub authorize: String,
    /// The token request endpoint (§2.3).
    pub access_token: String,
    /// The API that says who the user is.
    pub user: String,
}

/// One OAuth 1.0a provider's own behaviour.
pub trait OAuth1Provider: Send + Sync + 'static {
    /// Its preset name, e.g. `twitter`.
    fn name(&self) -> &'static str;

    /// Its endpoints, at the configured API base when there is one.
    fn endpoints(&self, settings: &ProviderSettings) -> OAuth1Endpoints;

    /// Who the user API's answer is about, keyed by (issuer, its id).
    fn identity(&self, settings: &ProviderSettings, user: &Object) -> Result<Identity, ApiError>;

    /// Where the profile comes from, for people, and the fields it shows.
    fn profile(&self) -> (&'static str, &'static [(&'static str, &'static str)]);

    /// Its own authorization parameters for what the sign-in asks (OAuth
    /// 1.0a has none of OpenID Connect's), or the name of one it cannot
    /// honour.
    fn authorize_params(
        &self,
        params: &SignInParams,
    ) -> Result<Vec<(&'static str, String)>, &'static str>;
}

/// The token credentials as the vault keeps them: one access token,
/// `oauth_token=…&oauth_token_secret=…`.
pub fn seal_token_credentials(token: &str, secret: &str) -> Secret {
    Secret::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("oauth_token", token)
            .append_pair("oauth_token_secret", secret)
            .finish(),
    )
}

/// The token and shared secret in an access token that
/// [`seal_token_credentials`] made.
fn token_credentials(access_token: &Secret) -> Result<(String, String), ApiError> {
    credentials(access_token.expose().as_bytes())
}

fn form_fields(body: &[u8]) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// OAuth 1.0a, for one provider's endpoints and identity.
pub struct OAuth1Flow(pub &'static dyn OAuth1Provider);

impl std::fmt::Debug for OAuth1Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OAuth1Flow({})", self.0.name())
    }
}

fn signer<'a>(settings: &'a ProviderSettings, token: Option<(&'a str, &'a str)>) -> Signer<'a> {
    Signer {
        consumer_key: &settings.client_id,
        consumer_secret: settings.client_secret.expose(),
        token,
        method: settings.signature_method,
    }
}

/// A signed request (the `Authorization` header, RFC 5849 §3.5.1) and its
/// answer's body, or the provider's refusal.
async fn signed(
    http: &ProviderHttp,
    signer: Signer<'_>,
    method: Method,
    url: &str,
    protocol: &[(&str, &str)],
) -> Result<Vec<u8>, ApiError> {
    let url = Url::parse(url).map_err(|_| ApiError::Invalid("an endpoint is not a URL"))?;
    let request = Request {
        method: method.as_str(),
        url: &url,
        form: &[],
        protocol,
    };
    let authorization = signer.authorization(request, &oauth1::nonce(), clock::now());
    let mut value = HeaderValue::from_str(&authorization)
        .map_err(|_| ApiError::Invalid("the signed header is not a header value"))?;
    value.set_sensitive(true);
    let request = http::Request::builder()
        .method(method)
        .uri(url.as_str())
        .header(header::AUTHORIZATION, value)
        .header(
            header::ACCEPT,
            "application/json, application/x-www-form-urlencoded",
        )
        .body(Vec::new())
        .map_err(crate::http_client::HttpError::from)?;
    let response = http.send(request).await?;
    let status = response.status();
    if !status.is_success() {
        return Err(refusal(status, response.headers(), response.body()));
    }
    Ok(response.body().to_vec())
}

/// An OAuth 1.0a provider's refusal (RFC 5849 §3.2: 400 for a request it
/// cannot take, such as an expired timestamp) as a refusal with the
/// reason it gives (OAuth Problem Reporting's `oauth_problem`, or
/// `error`), for the log. A 401 (a signature, token or nonce it does not
/// accept), rate limits and server errors stay what they are.
fn refusal(status: http::StatusCode, headers: &http::HeaderMap, body: &[u8]) -> ApiError {
    match api_error(status, headers, body) {
        ApiError::Status { .. } if status.is_client_error() => {
            let form = form_fields(body);
            let reason = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|name| form.get(*name))
                    .map(|text| text.chars().take(200).collect::<String>())
            };
            ApiError::Refused {
                error: reason(&["oauth_problem", "error"])
                    .unwrap_or_else(|| format!("HTTP {}", status.as_u16())),
                description: reason(&["oauth_problem_advice", "error_description"]),
            }
        }
        other => other,
    }
}

/// A credentials answer (§2.1, §2.3): `oauth_token` and
/// `oauth_token_secret`, form-encoded.
fn credentials(body: &[u8]) -> Result<(String, String), ApiError> {
    let form = form_fields(body);
    match (form.get("oauth_token"), form.get("oauth_token_secret")) {
        (Some(token), Some(secret)) if !token.is_empty() && !secret.is_empty() => {
            Ok((token.clone(), secret.clone()))
        }
        _ => Err(ApiError::Invalid("the answer holds no credentials")),
    }
}

impl OAuth1Flow {
    /// The user the API says the token credentials belong to.
    async fn user(
        &self,
        settings: &ProviderSettings,
        http: &ProviderHttp,
        token: (&str, &str),
    ) -> Result<Object, ApiError> {
        let url = self.0.endpoints(settings).user;
        let body = signed(http, signer(settings, Some(token)), Method::GET, &url, &[]).await?;
        Ok(serde_json::from_slice(&body)?)
    }
}

#[async_trait]
impl CodeFlow for OAuth1Flow {
    async fn authorization_request(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        redirect_uri: &str,
        params: &SignInParams,
    ) -> Result<Authorization, CodeFlowError> {
        let extra = self
            .0
            .authorize_params(params)
            .map_err(CodeFlowError::Unsupported)?;
        let settings = &provider.settings;
        let endpoints = self.0.endpoints(settings);
        // OAuth 1.0a has no `state`: the callback carries ours.
        let state = CsrfToken::new_random().secret().clone();
        let mut callback = Url::parse(redirect_uri).map_err(CodeFlowError::RedirectUri)?;
        callback.query_pairs_mut().append_pair("state", &state);
        let body = signed(
            http,
            signer(settings, None),
            Method::POST,
            &endpoints.request_token,
            &[("oauth_callback", callback.as_str())],
        )
        .await
        .map_err(CodeFlowError::Provider)?;
        // OAuth 1.0a (RFC 5849 §2.1): the callback must be confirmed,
        // else the provider speaks 1.0, whose callbacks can be forged.
        if form_fields(&body)
            .get("oauth_callback_confirmed")
            .map(String::as_str)
            != Some("true")
        {
            return Err(CodeFlowError::Provider(ApiError::Invalid(
                "the provider did not confirm the callback (OAuth 1.0a)",
            )));
        }
        let (token, secret) = credentials(&body).map_err(CodeFlowError::Provider)?;
        let mut url = Url::parse(&endpoints.authorize)
            .map_err(|_| CodeFlowError::Provider(ApiError::Invalid("an endpoint is not a URL")))?;
        url.query_pairs_mut()
            .append_pair("oauth_token", &token)
            .extend_pairs(extra);
        Ok(Authorization {
            url,
            state,
            nonce: String::new(),
            pkce_verifier: String::new(),
            temporary: Some(TemporaryCredentials { token, secret }),
        })
    }

    async fn redeem(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        _redirect_uri: &str,
        started: Started<'_>,
        callback: Callback,
    ) -> Result<Redeemed, CodeFlowError> {
        let settings = &provider.settings;
        // OAuth 1.0a has no error response; X says `denied`.
        if callback.denied.is_some() {
            return Err(CodeFlowError::Provider(ApiError::Refused {
                error: "access_denied".into(),
                description: None,
            }));
        }
        let temporary = started.temporary.ok_or(CodeFlowError::NoCode)?;
        // The callback must name this sign-in's temporary credentials.
        let named = callback.oauth_token.as_deref().unwrap_or_default();
        if !crate::flow::same_secret(named, &temporary.token) {
            return Err(CodeFlowError::OtherTemporaryCredentials);
        }
        let verifier = callback.oauth_verifier.ok_or(CodeFlowError::NoCode)?;
        let body = signed(
            http,
            signer(settings, Some((&temporary.token, &temporary.secret))),
            Method::POST,
            &self.0.endpoints(settings).access_token,
            &[("oauth_verifier", &verifier)],
        )
        .await
        .map_err(CodeFlowError::Provider)?;
        let (token, secret) = credentials(&body).map_err(CodeFlowError::Provider)?;
        let user = self
            .user(settings, http, (&token, &secret))
            .await
            .map_err(CodeFlowError::Provider)?;
        let identity = self
            .0
            .identity(settings, &user)
            .map_err(CodeFlowError::Provider)?;
        Ok(Redeemed {
            identity,
            grant: CheckedGrant {
                access_token: seal_token_credentials(&token, &secret),
                refresh_token: None,
                checked_id_token: None,
                expires_in: None,
                scope: None,
            },
            provider_sid: None,
            auth_time: AuthTime::CannotSay,
            suggested_name: None,
        })
    }

    /// Token credentials do not expire and have no refresh grant.
    async fn refresh(
        &self,
        _provider: &Provider,
        _http: &ProviderHttp,
        _identity: &Identity,
        _refresh_token: &Secret,
        _audience: Option<&Audience>,
    ) -> Result<CheckedGrant, GrantError> {
        Err(GrantError::Invalid(
            "OAuth 1.0a token credentials are never refreshed".into(),
        ))
    }

    async fn profile(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        _identity: &Identity,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError> {
        let (token, secret) = token_credentials(access_token)?;
        let data = self
            .user(&provider.settings, http, (&token, &secret))
            .await?;
        let (source, fields) = self.0.profile();
        Ok(ProfileData {
            source,
            data,
            fields,
        })
    }

    async fn revocation_endpoint(
        &self,
        _provider: &Provider,
        _http: &ProviderHttp,
    ) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_credentials_go_into_the_vault_as_one_token_and_come_back_out() {
        let sealed = seal_token_credentials("t&1", "s=2");
        assert_eq!(
            token_credentials(&sealed).unwrap(),
            ("t&1".to_owned(), "s=2".to_owned())
        );
        assert!(token_credentials(&Secret::new("a-bearer-token")).is_err());
        assert!(!format!("{sealed:?}").contains("s=2"));
        let temporary = TemporaryCredentials {
            token: "t".into(),
            secret: "temporary-secret".into(),
        };
        assert!(!format!("{temporary:?}").contains("temporary-secret"));
    }

    #[test]
    fn a_providers_refusal_keeps_its_reason_and_reads_as_a_refused_sign_in() {
        let headers = http::HeaderMap::new();
        let refused = refusal(
            http::StatusCode::BAD_REQUEST,
            &headers,
            b"oauth_problem=timestamp_refused&oauth_acceptable_timestamps=1-2",
        );
        assert!(
            refused.to_string().contains("timestamp_refused"),
            "{refused}"
        );
        assert_eq!(refused.code(), crate::error::ErrorCode::ProviderRejected);
        let refused = refusal(
            http::StatusCode::BAD_REQUEST,
            &headers,
            b"error=invalid_request&error_description=Expired+timestamp.",
        );
        assert!(
            refused.to_string().contains("Expired timestamp."),
            "{refused}"
        );
        // A signature or token it does not take: as any provider's 401.
        let unauthorized = refusal(http::StatusCode::UNAUTHORIZED, &headers, b"");
        assert!(matches!(unauthorized, ApiError::Unauthorized(_)));
        let down = refusal(http::StatusCode::BAD_GATEWAY, &headers, b"");
        assert_eq!(down.code(), crate::error::ErrorCode::ProviderUnavailable);
        let limited = refusal(http::StatusCode::TOO_MANY_REQUESTS, &headers, b"");
        assert_eq!(limited.code(), crate::error::ErrorCode::ProviderRateLimited);
    }

    #[test]
    fn only_an_answer_with_both_credentials_is_one() {
        assert_eq!(
            credentials(b"oauth_token=a&oauth_token_secret=b&oauth_callback_confirmed=true")
                .unwrap(),
            ("a".to_owned(), "b".to_owned())
        );
        for body in [
            &b"oauth_token=a"[..],
            b"oauth_token=&oauth_token_secret=b",
            b"{}",
        ] {
            assert!(credentials(body).is_err(), "{body:?}");
        }
    }
}
