//! Axum extractors for handlers behind [`Portcullis::layer`]:
//!
//! - [`User`]: the signed-in user. Without one, an API request gets 401
//!   with `{"error": "PC-AUTH-401", "message": ...}`, a page navigation a
//!   303 to the sign-in page (`/auth/sign-in?return_to=<this path>`).
//! - `Option<User>`: the signed-in user or `None`, for pages that show
//!   either.
//! - [`AccessToken`]: a fresh access token for the session's provider,
//!   refreshed first when it is about to expire (single-flight across
//!   requests and instances), for calling the provider's API.
//! - [`RecentSignIn`]: the signed-in user, who authenticated at their
//!   provider recently enough for a sensitive action (a step-up).

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};

use crate::{
    Portcullis, clock,
    error::ErrorCode,
    model::User,
    pages::{error_answer, error_answer_to, is_navigation},
    provider_api::UpstreamError,
    secret::Secret,
    telemetry::cause_chain,
};

/// Why an extractor refused a request: an [`ErrorCode`] answered as JSON
/// (or, for a page navigation, as a page), or a redirect to the sign-in
/// page. `Display` is the sentence for the user.
#[derive(Debug)]
pub struct Rejection(RejectionKind);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.code().fmt(f)
    }
}

impl std::error::Error for Rejection {}

#[derive(Debug)]
enum RejectionKind {
    Error {
        code: ErrorCode,
        json: bool,
    },
    SignIn {
        page: String,
        return_to: String,
    },
    /// A sign-in again at `url`, to which a `GET` navigation goes at once.
    StepUp {
        url: String,
        go: bool,
        json: bool,
    },
}

impl Rejection {
    /// The user-facing code behind this rejection ([`ErrorCode::NotSignedIn`]
    /// for a redirect to the sign-in page).
    pub fn code(&self) -> ErrorCode {
        match &self.0 {
            RejectionKind::Error { code, .. } => *code,
            RejectionKind::SignIn { .. } => ErrorCode::NotSignedIn,
            RejectionKind::StepUp { .. } => ErrorCode::ReauthenticationRequired,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self.0 {
            RejectionKind::Error { code, json } => error_answer(code, code.status(), json),
            RejectionKind::SignIn { page, return_to } => {
                let back: String =
                    url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
                no_store_redirect(&format!("{page}?return_to={back}"))
            }
            RejectionKind::StepUp { url, go: true, .. } => no_store_redirect(&url),
            RejectionKind::StepUp { url, json, .. } => {
                let code = ErrorCode::ReauthenticationRequired;
                error_answer_to(code, code.status(), json, Some(&url))
            }
        }
    }
}

/// A 303 to `url`, never cached.
fn no_store_redirect(url: &str) -> Response {
    let mut response = Redirect::to(url).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// This request's path and query, to come back to.
fn this_page(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned()
}

fn portcullis(parts: &Parts) -> Result<Portcullis, Rejection> {
    parts
        .extensions
        .get::<Portcullis>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("no Portcullis layer in front of this route");
            Rejection(RejectionKind::Error {
                code: ErrorCode::Internal,
                json: !is_navigation(&parts.headers),
            })
        })
}

/// The [`Portcullis`] handle itself, for handlers that ask it about the
/// account ([`Portcullis::identities`], [`Portcullis::provider_profile`]...).
impl<S: Send + Sync> FromRequestParts<S> for Portcullis {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
        portcullis(parts)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for User {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Rejection> {
        let portcullis = portcullis(parts)?;
        portcullis.user(parts).await.map_err(|code| {
            Rejection(RejectionKind::Error {
                code,
                json: !is_navigation(&parts.headers),
            })
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for User {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        match <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await? {
            Some(user) => Ok(user),
            None if is_navigation(&parts.headers) && parts.method == http::Method::GET => {
                let Some(page) = portcullis(parts)?.core.sign_in_page.clone() else {
                    return Err(Rejection(RejectionKind::Error {
                        code: ErrorCode::NotSignedIn,
                        json: false,
                    }));
                };
                Err(Rejection(RejectionKind::SignIn {
                    page,
                    return_to: this_page(parts),
                }))
            }
            None => Err(Rejection(RejectionKind::Error {
                code: ErrorCode::NotSignedIn,
                json: !is_navigation(&parts.headers),
            })),
        }
    }
}

/// A fresh OAuth 2.0 access token (RFC 6749 §1.4) of the signed-in
/// session's provider, for calling that provider's API from the server:
/// `Authorization: Bearer <token>` (RFC 6750 §2.1). It was refreshed first
/// if it expires within `TOKEN_REFRESH_SKEW_SECONDS`.
///
/// It cannot be serialised or printed (its `Debug` says `AccessToken(..)`),
/// so it does not end up in a response or a log by accident; read it with
/// [`expose`](Self::expose) or [`bearer`](Self::bearer) where it is sent.
///
/// Rejections: not signed in as for [`User`]; a session of an OAuth 1.0a
/// provider, whose token credentials are no bearer token
/// ([`ErrorCode::ApiWrongProvider`], 403); the provider ended the grant
/// ([`ErrorCode::SessionEnded`], 401, and the session here is ended); the
/// provider refused the refresh or answered it wrongly
/// ([`ErrorCode::ProviderRejected`] or
/// [`ErrorCode::InvalidProviderResponse`], 400); the provider or the
/// token store unreachable ([`ErrorCode::ProviderUnavailable`], 502, or
/// [`ErrorCode::Unavailable`], 503).
pub struct AccessToken {
    token: Secret,
    user: User,
}

impl AccessToken {
    /// The token itself.
    pub fn expose(&self) -> &str {
        self.token.expose()
    }

    /// An `Authorization` header value, `Bearer <token>` (RFC 6750 §2.1),
    /// marked sensitive (HTTP/2 never indexes it).
    ///
    /// # Errors
    ///
    /// When the provider issued a token that cannot be a header value
    /// (control characters); the error holds nothing of the token.
    pub fn bearer(&self) -> Result<HeaderValue, header::InvalidHeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The user the token acts for.
    pub fn user(&self) -> &User {
        &self.user
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        let user = <User as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let portcullis = portcullis(parts)?;
        // OAuth 1.0a token credentials sign requests; they are no bearer
        // token, and their secret must not travel as one.
        let provider = portcullis.core.registry.get(user.provider());
        if provider.is_some_and(|provider| !provider.issues_bearer_tokens()) {
            return Err(Rejection(RejectionKind::Error {
                code: ErrorCode::ApiWrongProvider,
                json: !is_navigation(&parts.headers),
            }));
        }
        match portcullis.core.refresher.fresh_tokens(&user.0).await {
            Ok(tokens) => Ok(Self {
                token: tokens.access_token,
                user,
            }),
            Err(err) => {
                tracing::warn!(
                    provider = %user.provider(),
                    "no fresh access token: {}",
                    cause_chain(&err)
                );
                let code = UpstreamError::Refresh(err).code();
                Err(Rejection(RejectionKind::Error {
                    code,
                    json: !is_navigation(&parts.headers),
                }))
            }
        }
    }
}

/// The signed-in user, who authenticated at their provider at most
/// `MAX_AGE_SECONDS` ago: ask for it in the handler of a sensitive action
/// (changing an e-mail address, deleting an account, a payment) to have
/// the user prove it is still them (a step-up).
///
/// ```no_run
/// use portcullis::RecentSignIn;
///
/// // Within the last five minutes.
/// async fn delete_account(RecentSignIn(user): RecentSignIn<300>) -> &'static str {
///     let _ = user.account_id();
///     "deleted"
/// }
/// ```
///
/// When the last authentication ([`User::authenticated_at`]) is older, the
/// user signs in again at the session's provider with `max_age` set to
/// `MAX_AGE_SECONDS` (OpenID Connect Core §3.1.2.1), whose ID token must
/// then carry an `auth_time` that recent, and comes back: a `GET` page
/// navigation is sent there at once (303, back to this path); any other
/// request gets 401 [`ErrorCode::ReauthenticationRequired`]
/// (`PC-AUTH-014`) with the sign-in path as `"sign_in"` in the JSON body
/// (and as the page's button), which returns to the page the request came
/// from. `MAX_AGE_SECONDS` is at most a year (checked when compiled).
///
/// How recent is known: an OpenID Connect provider says (`auth_time`,
/// which a sign-in that did not ask for it may lack: then the first
/// sensitive action asks); a plain OAuth 2.0 provider cannot, so the
/// sign-in again through it counts, which a provider that remembers the
/// user (GitHub) may pass without asking anything: it proves a live
/// session there, not a fresh password. X over OAuth 1.0a asks for the
/// password again (`force_login`). Not signed in: as for [`User`].
#[derive(Clone, Debug)]
pub struct RecentSignIn<const MAX_AGE_SECONDS: u64>(pub User);

impl<S: Send + Sync, const MAX_AGE_SECONDS: u64> FromRequestParts<S>
    for RecentSignIn<MAX_AGE_SECONDS>
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Rejection> {
        const { assert!(MAX_AGE_SECONDS <= 366 * 24 * 3600, "at most a year") };
        let user = <User as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        let age = clock::now().saturating_sub(user.authenticated_at());
        if u64::try_from(age).is_ok_and(|age| age <= MAX_AGE_SECONDS) {
            return Ok(Self(user));
        }
        let portcullis = portcullis(parts)?;
        let navigation = is_navigation(&parts.headers);
        let go = navigation && parts.method == http::Method::GET;
        let return_to = if go {
            this_page(parts)
        } else {
            referring_page(parts, &portcullis.core.public_url)
        };
        let back: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
        let provider: String =
            url::form_urlencoded::byte_serialize(user.provider().as_bytes()).collect();
        let url = format!("/auth/sign-in/{provider}?max_age={MAX_AGE_SECONDS}&return_to={back}");
        Err(Rejection(RejectionKind::StepUp {
            url,
            go,
            json: !navigation,
        }))
    }
}

/// The page of this site a request came from (its `Referer`), else `/`.
fn referring_page(parts: &Parts, public_url: &str) -> String {
    let (Some(referer), Ok(site)) = (
        parts
            .headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok()),
        url::Url::parse(public_url),
    ) else {
        return "/".to_owned();
    };
    match url::Url::parse(referer) {
        Ok(page) if page.origin() == site.origin() => {
            let mut path = page.path().to_owned();
            if let Some(query) = page.query() {
                path = format!("{path}?{query}");
            }
            path
        }
        _ => "/".to_owned(),
    }
}
