//! RFC 6749 as every provider uses it: the authorization URL of plain
//! OAuth 2.0 providers (the presets, and those described by configuration),
//! token requests (the code exchange and refresh, for OpenID Connect too),
//! token responses read in the shapes providers send, and calls to a
//! provider's API with the access token. Without OpenID Connect there is
//! no ID token: who signed in is what the API answers to the access token,
//! so everything here is strict about shapes and errors. Each provider's
//! own endpoints and profile mapping live in its file.

use base64::{Engine, engine::general_purpose::STANDARD};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::{
    claims::{self, Object},
    protocol::Audience,
};
use crate::{
    error::ErrorCode,
    http_client::{HttpError, ProviderHttp},
    providers::{ProviderSettings, ResponseMode},
    secret::Secret,
};

/// Where a plain OAuth 2.0 provider lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    /// Base URL of the profile API.
    pub api: String,
}

/// What the token endpoint granted (RFC 6749 §5.1).
#[derive(Debug)]
pub struct Grant {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// The ID token as sent (OpenID Connect only), not yet checked.
    pub id_token: Option<Secret>,
    /// Seconds; `None` when the provider did not say, or said it in a
    /// shape that is not a number of seconds.
    pub expires_in: Option<u64>,
    /// The scopes granted, when the answer says (RFC 6749 §5.1), in any
    /// of the shapes [`claims::scopes`] reads.
    pub scope: Option<Vec<String>>,
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    Post,
}

impl ClientAuth {
    /// Its name (RFC 7591 §2 `token_endpoint_auth_method`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Basic => "client_secret_basic",
            Self::Post => "client_secret_post",
        }
    }

    /// The method called `name`, if it is one of these.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Basic, Self::Post]
            .into_iter()
            .find(|method| method.name() == name)
    }
}

/// Why a code exchange or an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The provider answered with an OAuth error (`bad_verification_code`,
    /// `invalid_grant`, …), on a 4xx or, as GitHub does, on a 200.
    #[error("the provider refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("the provider did not accept the access token (HTTP {0})")]
    Unauthorized(StatusCode),
    #[error("the provider is rate-limiting us (HTTP {0})")]
    RateLimited(StatusCode),
    #[error("the provider answered HTTP {status}: {message}")]
    Status { status: StatusCode, message: String },
    #[error("the provider could not be reached")]
    Http(#[from] HttpError),
    #[error("the provider's answer has an unexpected shape")]
    Shape(#[from] serde_json::Error),
    #[error("the provider's answer is invalid: {0}")]
    Invalid(&'static str),
    #[error("the account has no verified primary e-mail address")]
    NoVerifiedEmail,
}

impl ApiError {
    /// Whether the provider answered this one call with a 4xx refusal (not
    /// a rate limit): the call is not allowed, the provider is not down.
    pub fn is_refusal_of_the_call(&self) -> bool {
        match self {
            Self::Unauthorized(_) => true,
            Self::Status { status, .. } => status.is_client_error(),
            _ => false,
        }
    }

    /// What the user is told about this failure, wherever the call was: the
    /// code exchange, a refresh, userinfo or another provider API.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Refused { error, .. } if error == "access_denied" => ErrorCode::SignInCancelled,
            Self::Refused { .. } | Self::Unauthorized(_) => ErrorCode::ProviderRejected,
            Self::RateLimited(_) => ErrorCode::ProviderRateLimited,
            Self::Http(_) => ErrorCode::ProviderUnavailable,
            Self::Status { status, .. } if status.is_server_error() => {
                ErrorCode::ProviderUnavailable
            }
            Self::NoVerifiedEmail => ErrorCode::NoVerifiedEmail,
            Self::Status { .. } | Self::Shape(_) | Self::Invalid(_) => {
                ErrorCode::InvalidProviderResponse
            }
        }
    }
}

/// The URL that asks the user to authorize us: code flow with PKCE S256
/// and `state`, no nonce (there is no ID token to carry one).
pub fn authorize_url(
    endpoints: &Endpoints,
    settings: &ProviderSettings,
    extra: &[(String, String)],
    redirect_uri: &str,
    state: &str,
    pkce_challenge: &str,
) -> Result<Url, url::ParseError> {
    let mut url = Url::parse(&endpoints.authorize)?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &settings.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge", pkce_challenge)
        .append_pair("code_challenge_method", "S256");
    // Some providers refuse an empty scope; none is the provider's default.
    if !settings.scopes.is_empty() {
        url.query_pairs_mut()
            .append_pair("scope", &settings.scopes.join(" "));
    }
    for resource in &settings.resources {
        url.query_pairs_mut().append_pair("resource", resource);
    }
    if settings.response_mode != ResponseMode::Query {
        url.query_pairs_mut()
            .append_pair("response_mode", settings.response_mode.name());
    }
    url.query_pairs_mut().extend_pairs(extra);
    Ok(url)
}

/// Where and how token requests (RFC 6749 §3.2) go: the token endpoint,
/// the client (its credentials, authenticated as `auth` says) and the
/// provider's own extra parameters, added to every request.
#[derive(Clone, Copy, Debug)]
pub struct TokenClient<'a> {
    pub url: &'a str,
    pub settings: &'a ProviderSettings,
    pub auth: ClientAuth,
    pub params: &'a [(String, String)],
}

/// Exchanges the code on the server (RFC 6749 §4.1.3) with the PKCE
/// verifier (RFC 7636 §4.5).
pub async fn exchange_code(
    http: &ProviderHttp,
    client: &TokenClient<'_>,
    redirect_uri: &str,
    code: &str,
    pkce_verifier: &str,
) -> Result<Grant, ApiError> {
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", pkce_verifier),
    ];
    token_request(http, client, &params).await
}

/// Renews the access token with `refresh_token` (RFC 6749 §6), for
/// `audience` when one is given (RFC 8707 §2.2).
pub async fn refresh(
    http: &ProviderHttp,
    client: &TokenClient<'_>,
    refresh_token: &Secret,
    audience: Option<&Audience>,
) -> Result<Grant, ApiError> {
    let narrowing = audience.map(Audience::params).unwrap_or_default();
    let mut params = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
    ];
    params.extend(
        narrowing
            .iter()
            .map(|(name, value)| (*name, value.as_str())),
    );
    token_request(http, client, &params).await
}

/// A token request to `client`'s endpoint with `params` (then the
/// client's own), the client authenticated as it says; its answer read
/// as [`parse_token_response`] does. `Accept: application/json` makes
/// GitHub answer JSON. Errors: the provider's refusal
/// ([`ApiError::Refused`]), an unreadable answer, or a failed call.
pub async fn token_request(
    http: &ProviderHttp,
    client: &TokenClient<'_>,
    params: &[(&str, &str)],
) -> Result<Grant, ApiError> {
    let request = token_http_request(client, params)?;
    let response = http.send(request).await?;
    parse_token_response(response.status(), response.body())
}

fn token_http_request(
    client: &TokenClient<'_>,
    params: &[(&str, &str)],
) -> Result<http::Request<Vec<u8>>, ApiError> {
    let (token_url, settings, auth) = (client.url, client.settings, client.auth);
    let client_secret = settings.current_client_secret();
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(params);
    form.extend_pairs(client.params);
    let mut request = http::Request::builder()
        .method(Method::POST)
        .uri(token_url)
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    match auth {
        ClientAuth::Post => {
            form.append_pair("client_id", &settings.client_id)
                .append_pair("client_secret", client_secret.expose());
        }
        ClientAuth::Basic => {
            let encode = |value: &str| {
                url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            };
            let credentials = format!(
                "{}:{}",
                encode(&settings.client_id),
                encode(client_secret.expose())
            );
            let value =
                HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))
                    .map_err(|_| ApiError::Invalid("client credentials are not a header value"))?;
            request = request.header(header::AUTHORIZATION, value);
        }
    }
    Ok(request
        .body(form.finish().into_bytes())
        .map_err(HttpError::from)?)
}

/// Reads a token endpoint's answer (RFC 6749 §5.1, §5.2) in the shapes
/// providers really use: an error on a 200 (GitHub), `expires_in` as a
/// string (Azure AD), `token_type` in any case. Fields we do not use
/// (`scope`, `ext_expires_in`, …) are never read.
pub fn parse_token_response(status: StatusCode, body: &[u8]) -> Result<Grant, ApiError> {
    let response: Object = match serde_json::from_slice(body) {
        Ok(response) => response,
        Err(err) if status.is_success() => return Err(err.into()),
        Err(_) => {
            return Err(ApiError::Status {
                status,
                message: "no JSON error body".into(),
            });
        }
    };
    if let Some(error) = claims::text(&response, "error") {
        return Err(ApiError::Refused {
            error,
            description: claims::text(&response, "error_description"),
        });
    }
    if !status.is_success() {
        return Err(ApiError::Status {
            status,
            message: "no error code".into(),
        });
    }
    let access_token =
        claims::text(&response, "access_token").ok_or(ApiError::Invalid("no access_token"))?;
    // RFC 6749 §5.1: the type is case-insensitive; only bearer is usable.
    if !claims::text(&response, "token_type").is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(ApiError::Invalid("token_type is not bearer"));
    }
    Ok(Grant {
        access_token: Secret::new(access_token),
        refresh_token: claims::text(&response, "refresh_token").map(Secret::new),
        id_token: claims::text(&response, "id_token").map(Secret::new),
        expires_in: claims::seconds(&response, "expires_in"),
        scope: claims::scopes(&response, "scope"),
    })
}

/// `GET url` with the access token in the Authorization header (never in
/// the URL), read as JSON. `extra` adds provider-specific headers.
pub async fn get_json<T: DeserializeOwned>(
    http: &ProviderHttp,
    url: &str,
    access_token: &Secret,
    extra: &[(&'static str, &'static str)],
) -> Result<T, ApiError> {
    let mut builder = http::Request::builder()
        .method(Method::GET)
        .uri(url)
        .header(header::ACCEPT, "application/json");
    let bearer = HeaderValue::from_str(&format!("Bearer {}", access_token.expose()))
        .map_err(|_| ApiError::Invalid("access token is not a header value"))?;
    builder = builder.header(header::AUTHORIZATION, bearer);
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Vec::new()).map_err(HttpError::from)?;
    let response = http.send(request).await?;
    let status = response.status();
    if status.is_success() {
        return Ok(serde_json::from_slice(response.body())?);
    }
    Err(api_error(status, response.headers(), response.body()))
}

/// Classifies an API error answer. Rate limits come as 429, or as 403 with
/// `x-ratelimit-remaining: 0` or `retry-after` (GitHub).
pub fn api_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let exhausted = headers
        .get("x-ratelimit-remaining")
        .is_some_and(|v| v.as_bytes() == b"0");
    match status {
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized(status),
        StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited(status),
        StatusCode::FORBIDDEN if exhausted || headers.contains_key(header::RETRY_AFTER) => {
            ApiError::RateLimited(status)
        }
        _ => {
            #[derive(Deserialize)]
            struct Message {
                message: Option<String>,
            }
            let message = serde_json::from_slice::<Message>(body)
                .ok()
                .and_then(|m| m.message)
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            ApiError::Status { status, message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_request_names_every_resource_its_apis_need() {
        let settings = ProviderSettings {
            scopes: vec!["read".into(), "api:write".into()],
            resources: vec!["https://api.example/".into(), "urn:work:files".into()],
            ..ProviderSettings::for_tests("work", "https://idp.example")
        };
        let endpoints = Endpoints {
            authorize: "https://idp.example/authorize".into(),
            token: "https://idp.example/token".into(),
            api: "https://api.example".into(),
        };
        let extra = [("prompt".to_owned(), "consent".to_owned())];
        let url =
            authorize_url(&endpoints, &settings, &extra, "https://app/cb", "st", "ch").unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let values = |name: &str| -> Vec<String> {
            let named = pairs.iter().filter(|(key, _)| key == name);
            named.map(|(_, value)| value.clone()).collect()
        };
        assert_eq!(
            values("resource"),
            ["https://api.example/", "urn:work:files"]
        );
        assert_eq!(values("scope"), ["read api:write"]);
        assert_eq!(values("prompt"), ["consent"]);
        let none = ProviderSettings {
            scopes: Vec::new(),
            ..settings
        };
        let url = authorize_url(&endpoints, &none, &[], "https://app/cb", "st", "ch").unwrap();
        assert!(!url.query_pairs().any(|(key, _)| key == "scope"), "{url}");
    }

    #[test]
    fn a_refresh_for_an_api_names_its_resource_and_only_its_scopes() {
        let audience = Audience {
            resource: Some("https://api.example/".into()),
            scopes: vec!["write".into(), "read".into()],
        };
        let params = audience.params();
        assert_eq!(
            params,
            [
                ("resource", "https://api.example/".to_owned()),
                ("scope", "write read".to_owned())
            ]
        );
        let same = Audience {
            scopes: vec!["read".into(), "write".into()],
            ..audience.clone()
        };
        assert_eq!(
            audience.key(),
            same.key(),
            "one token for the same audience"
        );
        assert_eq!(audience.key(), "https://api.example/\nread write");
        let scopes_only = Audience {
            resource: None,
            ..audience.clone()
        };
        assert_eq!(scopes_only.params(), [("scope", "write read".to_owned())]);
        assert_ne!(scopes_only.key(), audience.key());

        let granted = |body: &str| parse_token_response(StatusCode::OK, body.as_bytes()).unwrap();
        let shapes = [
            (r#""scope":"read""#, vec!["write"]),
            (r#""scope":"read,write""#, vec![]),
            (r#""scope":["write"]"#, vec!["read"]),
            (r#""scope":"write  read""#, vec![]),
            (r#""scope":null"#, vec![]),
            (r#""other":1"#, vec![]),
            // A shape no provider uses grants nothing.
            (r#""scope":7"#, vec!["write", "read"]),
            (r#""scope":["read",1]"#, vec!["write", "read"]),
        ];
        for (scope, missing) in shapes {
            let body = format!(r#"{{"access_token":"at","token_type":"Bearer",{scope}}}"#);
            let grant = granted(&body);
            assert_eq!(
                audience.missing_scopes(grant.scope.as_deref()),
                missing,
                "{scope}"
            );
        }
    }

    #[test]
    fn a_token_type_in_any_case_and_no_expiry_is_a_grant() {
        let grant = parse_token_response(
            StatusCode::OK,
            br#"{"access_token":"at","token_type":"bEARER","scope":"read:user"}"#,
        )
        .unwrap();
        assert_eq!(grant.access_token.expose(), "at");
        assert_eq!(grant.expires_in, None);
    }

    #[test]
    fn token_responses_in_the_shapes_providers_send_are_grants() {
        for (body, expires_in) in [
            // Azure AD v1: numbers as strings, and more fields we ignore.
            (
                r#"{"token_type":"Bearer","expires_in":"3599","ext_expires_in":"3599",
                    "expires_on":"1766491147","access_token":"at","refresh_token":"rt"}"#,
                Some(3599),
            ),
            (
                r#"{"token_type":"bearer","expires_in":3599.0,"access_token":"at"}"#,
                Some(3599),
            ),
            // A scope as a list, a lifetime we cannot read: unknown.
            (
                r#"{"token_type":"Bearer","expires_in":"soon","scope":["a","b"],"access_token":"at"}"#,
                None,
            ),
            (
                r#"{"token_type":"Bearer","expires_in":null,"access_token":"at"}"#,
                None,
            ),
        ] {
            let grant = parse_token_response(StatusCode::OK, body.as_bytes()).unwrap();
            assert_eq!(grant.access_token.expose(), "at", "{body}");
            assert_eq!(grant.expires_in, expires_in, "{body}");
        }
    }

    #[test]
    fn an_error_on_a_200_is_a_refusal() {
        let err = parse_token_response(
            StatusCode::OK,
            br#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&err, ApiError::Refused { error, .. } if error == "bad_verification_code"),
            "{err:?}"
        );
    }

    #[test]
    fn a_token_that_is_not_bearer_or_missing_is_invalid() {
        for body in [
            br#"{"access_token":"at","token_type":"mac"}"#.as_slice(),
            br#"{"access_token":"at"}"#,
            br#"{"token_type":"bearer"}"#,
            br#"{"access_token":"","token_type":"bearer"}"#,
        ] {
            assert!(
                matches!(
                    parse_token_response(StatusCode::OK, body),
                    Err(ApiError::Invalid(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn an_html_error_page_is_a_status_error_not_a_parse_panic() {
        let err =
            parse_token_response(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>").unwrap_err();
        assert!(matches!(err, ApiError::Status { .. }), "{err:?}");
    }

    #[test]
    fn each_failure_of_a_provider_call_tells_the_user_one_code() {
        let refused = |error: &str| ApiError::Refused {
            error: error.into(),
            description: None,
        };
        let status =
            |code: u16| api_error(StatusCode::from_u16(code).unwrap(), &HeaderMap::new(), b"");
        for (err, code) in [
            (refused("access_denied"), ErrorCode::SignInCancelled),
            (refused("invalid_grant"), ErrorCode::ProviderRejected),
            (status(401), ErrorCode::ProviderRejected),
            (status(429), ErrorCode::ProviderRateLimited),
            (status(503), ErrorCode::ProviderUnavailable),
            (status(404), ErrorCode::InvalidProviderResponse),
            (
                ApiError::Invalid("no access token"),
                ErrorCode::InvalidProviderResponse,
            ),
            (ApiError::NoVerifiedEmail, ErrorCode::NoVerifiedEmail),
        ] {
            assert_eq!(err.code(), code, "{err:?}");
        }
    }

    #[test]
    fn rate_limits_are_told_apart_from_other_refusals() {
        let mut headers = HeaderMap::new();
        assert!(matches!(
            api_error(StatusCode::FORBIDDEN, &headers, b"{}"),
            ApiError::Status { .. }
        ));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert!(matches!(
            api_error(StatusCode::FORBIDDEN, &headers, b"{}"),
            ApiError::RateLimited(_)
        ));
        assert!(matches!(
            api_error(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), b""),
            ApiError::RateLimited(_)
        ));
        assert!(matches!(
            api_error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b""),
            ApiError::Unauthorized(_)
        ));
    }
}
