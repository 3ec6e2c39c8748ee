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

use axum::{
    extract::{FromRequestParts, OptionalFromRequestParts},
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};

use crate::{
    Portcullis,
    error::ErrorCode,
    model::User,
    pages::{error_answer, is_navigation},
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
    Error { code: ErrorCode, json: bool },
    SignIn { page: String, return_to: String },
}

impl Rejection {
    /// The user-facing code behind this rejection ([`ErrorCode::NotSignedIn`]
    /// for a redirect to the sign-in page).
    pub fn code(&self) -> ErrorCode {
        match &self.0 {
            RejectionKind::Error { code, .. } => *code,
            RejectionKind::SignIn { .. } => ErrorCode::NotSignedIn,
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
                let mut response =
                    Redirect::to(&format!("{page}?return_to={back}")).into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
        }
    }
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
                let return_to = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |path| path.as_str())
                    .to_owned();
                Err(Rejection(RejectionKind::SignIn { page, return_to }))
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
/// Rejections: not signed in as for [`User`]; the provider ended the grant
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
