//! The backend-for-frontend API proxy (OAuth 2.0 for Browser-Based
//! Applications §6.1): the browser calls `<prefix>/<rest>` on this site,
//! and the request goes on to the configured upstream with the user's fresh
//! access token as `Authorization: Bearer` (RFC 6750 §2.1). The token never
//! reaches the browser.
//!
//! A request must carry an anti-forgery proof, whatever its method: our
//! own `Origin`, `Sec-Fetch-Site: same-origin`, or `X-CSRF: 1`, a header a
//! cross-site form cannot send. The browser's cookies, its `Authorization`
//! and the hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded; neither
//! is an upstream's `Set-Cookie`. Bodies stream both ways, capped where
//! configured; redirects are not followed (a 3xx goes back as it came).
//! An upstream 401 gets one refresh of the token (single-flight) and, for
//! an idempotent request without a body, one retry.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    response::{IntoResponse, Response},
};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, Method, StatusCode, header, request::Parts};
use url::Url;

use tower_sessions::Session;

use crate::{
    backend::Core,
    config::{RemoteApiSettings, TokenPolicy},
    error::ErrorCode,
    pages::error_answer,
    refresh::RefreshError,
    same_origin::is_same_origin,
    secret::Secret,
    session::SessionUser,
    telemetry::{cause_chain, escaped},
    vault::TokenSet,
};

/// The header a page's script sets to prove the call is its own.
pub(crate) const CSRF_HEADER: &str = "x-csrf";

/// A proxied answer, which the layer passes through as the upstream gave
/// it (no error page in place of an upstream's bare 404).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Proxied;

/// One configured upstream API and the client that calls it.
#[derive(Debug)]
pub(crate) struct RemoteApi {
    pub(crate) settings: RemoteApiSettings,
    client: reqwest::Client,
    core: Arc<Core>,
}

/// Why a proxied call failed; each tells the browser one code.
#[derive(Debug, thiserror::Error)]
enum ProxyError {
    #[error("no anti-forgery proof (same-origin Origin or Sec-Fetch-Site, or X-CSRF: 1)")]
    CrossSite,
    #[error("not signed in")]
    NotSignedIn,
    #[error("the session signed in with {signed_in:?}, the API takes {wanted:?}'s tokens")]
    WrongProvider { signed_in: String, wanted: String },
    #[error("the session lookup failed")]
    Session(#[source] crate::signed_in::SessionError),
    #[error("no fresh access token")]
    Token(#[source] RefreshError),
    #[error("the path {0:?} would leave the API's base")]
    BadPath(String),
    #[error("the request body is larger than {0} bytes")]
    RequestTooLarge(u64),
    #[error("the upstream's answer is larger than {0} bytes")]
    AnswerTooLarge(u64),
    #[error("the upstream refused the user's access token")]
    TokenRefused,
    #[error("the upstream did not answer in time")]
    Timeout(#[source] reqwest::Error),
    #[error("the upstream could not be reached")]
    Unreachable(#[source] reqwest::Error),
}

impl ProxyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::CrossSite => ErrorCode::CrossSiteRequest,
            Self::NotSignedIn => ErrorCode::NotSignedIn,
            Self::WrongProvider { .. } => ErrorCode::ApiWrongProvider,
            Self::Session(_) => ErrorCode::Unavailable,
            Self::Token(err) => err.code(),
            Self::BadPath(_) => ErrorCode::BadRequest,
            Self::RequestTooLarge(_) => ErrorCode::ApiRequestTooLarge,
            Self::TokenRefused => ErrorCode::ApiTokenRefused,
            Self::Timeout(_) => ErrorCode::ApiTimeout,
            Self::AnswerTooLarge(_) | Self::Unreachable(_) => ErrorCode::ApiUnreachable,
        }
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), which end at this hop.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

impl RemoteApi {
    /// The API and its client: no redirects followed, connecting within
    /// 5 s (or the whole timeout if shorter), the whole exchange within the
    /// configured timeout.
    pub(crate) fn new(settings: RemoteApiSettings, core: Arc<Core>) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.timeout.min(std::time::Duration::from_secs(5)))
            .timeout(settings.timeout)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            settings,
            client,
            core,
        })
    }

    /// Serves one request to `<prefix>/...`.
    pub(crate) async fn serve(self: Arc<Self>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let json = true;
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            tracing::error!("no Portcullis layer in front of the API proxy");
            return error_answer(ErrorCode::Internal, StatusCode::INTERNAL_SERVER_ERROR, json);
        };
        match self.proxy(&session, &parts, body).await {
            Ok(response) => response,
            Err(err) => {
                let code = err.code();
                tracing::warn!(
                    api = %self.settings.name,
                    method = %parts.method,
                    path = %escaped(parts.uri.path()),
                    code = code.code(),
                    "proxied call failed: {}",
                    cause_chain(&err)
                );
                error_answer(code, code.status(), json)
            }
        }
    }

    async fn proxy(
        &self,
        session: &Session,
        parts: &Parts,
        body: Body,
    ) -> Result<Response, ProxyError> {
        let proof = parts
            .headers
            .get(CSRF_HEADER)
            .is_some_and(|value| value.as_bytes() == b"1");
        if !proof && !is_same_origin(&parts.headers, &self.core.public_url) {
            return Err(ProxyError::CrossSite);
        }
        let url = self.upstream_url(parts)?;
        let user = match self.settings.token {
            TokenPolicy::None => None,
            TokenPolicy::User | TokenPolicy::UserIfSignedIn => self
                .core
                .sessions
                .signed_in(session)
                .await
                .map_err(ProxyError::Session)?,
        };
        let user = match (user, self.settings.token) {
            (None, TokenPolicy::User) => return Err(ProxyError::NotSignedIn),
            (Some(user), _) => match &self.settings.provider {
                Some(wanted) if *wanted != user.identity.provider => {
                    if self.settings.token == TokenPolicy::User {
                        return Err(ProxyError::WrongProvider {
                            signed_in: user.identity.provider.clone(),
                            wanted: wanted.clone(),
                        });
                    }
                    None
                }
                _ => Some(user),
            },
            (None, _) => None,
        };
        let tokens = match &user {
            Some(user) => Some(self.fresh_tokens(user).await?),
            None => None,
        };
        let token = tokens.as_ref().map(|tokens| tokens.access_token.clone());
        // Whether a refusal can be answered with a refresh: an API refusing
        // a token that cannot be renewed says nothing about the grant, so
        // the session stays.
        let renewable = tokens.is_some_and(|tokens| tokens.refresh_token.is_some());
        let headers = forwarded_headers(&parts.headers);
        let declared = declared_length(&parts.headers);
        if let (Some(max), Some(length)) = (self.settings.max_body, declared)
            && length > max
        {
            return Err(ProxyError::RequestTooLarge(max));
        }
        let bodiless = declared == Some(0)
            || (declared.is_none() && !parts.headers.contains_key(header::TRANSFER_ENCODING));
        let retryable = bodiless && is_idempotent(&parts.method);
        let over_limit = Arc::new(AtomicBool::new(false));
        let body = match bodiless {
            true => reqwest::Body::from(Bytes::new()),
            false => reqwest::Body::wrap_stream(capped(
                body.into_data_stream(),
                self.settings.max_body,
                over_limit.clone(),
            )),
        };
        let sent = self
            .send(&parts.method, &url, &headers, token.as_ref(), body)
            .await;
        let answer = match sent {
            Err(_) if over_limit.load(Ordering::Relaxed) => {
                return Err(ProxyError::RequestTooLarge(
                    self.settings.max_body.unwrap_or(0),
                ));
            }
            Err(err) => return Err(failed(err)),
            Ok(answer) => answer,
        };
        let answer = match (answer.status(), &user, &token) {
            (StatusCode::UNAUTHORIZED, Some(_), Some(_)) if !renewable => {
                return Err(ProxyError::TokenRefused);
            }
            (StatusCode::UNAUTHORIZED, Some(user), Some(token)) => {
                // The upstream refused a token we took to be valid: one
                // refresh (single-flight), and one retry where that is safe.
                let renewed = self
                    .core
                    .refresher
                    .tokens_after_rejection(user, token)
                    .await
                    .map_err(ProxyError::Token)?;
                if !retryable {
                    return Err(ProxyError::TokenRefused);
                }
                let again = self
                    .send(
                        &parts.method,
                        &url,
                        &headers,
                        Some(&renewed.access_token),
                        reqwest::Body::from(Bytes::new()),
                    )
                    .await
                    .map_err(failed)?;
                if again.status() == StatusCode::UNAUTHORIZED {
                    return Err(ProxyError::TokenRefused);
                }
                again
            }
            _ => answer,
        };
        self.answer(answer)
    }

    /// The session's tokens, the access token refreshed first if it
    /// expires soon.
    async fn fresh_tokens(&self, user: &SessionUser) -> Result<TokenSet, ProxyError> {
        self.core
            .refresher
            .fresh_tokens(user)
            .await
            .map_err(ProxyError::Token)
    }

    async fn send(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        token: Option<&Secret>,
        body: reqwest::Body,
    ) -> reqwest::Result<reqwest::Response> {
        let mut request = self
            .client
            .request(method.clone(), url.clone())
            .headers(headers.clone())
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        request.send().await
    }

    /// The upstream URL for this request: the base's path, then the rest
    /// of the request's path after the prefix, then its query as sent.
    fn upstream_url(&self, parts: &Parts) -> Result<Url, ProxyError> {
        let path = parts.uri.path();
        let rest = path
            .strip_prefix(&self.settings.prefix)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .ok_or_else(|| ProxyError::BadPath(path.to_owned()))?;
        // Nothing that a server may read as a way out of the base path.
        let lowered = rest.to_ascii_lowercase();
        let escapes = rest
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
            || rest.contains('\\')
            || ["%2e", "%2f", "%5c"]
                .iter()
                .any(|enc| lowered.contains(enc));
        if escapes {
            return Err(ProxyError::BadPath(path.to_owned()));
        }
        let base = &self.settings.upstream;
        let mut url = base.clone();
        url.set_path(&format!("{}{rest}", base.path().trim_end_matches('/')));
        url.set_query(parts.uri.query());
        Ok(url)
    }

    /// The upstream's answer as the browser gets it: its status and
    /// headers (less the hop-by-hop ones and `Set-Cookie`), its body
    /// streamed, capped where configured.
    fn answer(&self, answer: reqwest::Response) -> Result<Response, ProxyError> {
        let max = self.settings.max_body;
        if let (Some(max), Some(length)) = (max, answer.content_length())
            && length > max
        {
            return Err(ProxyError::AnswerTooLarge(max));
        }
        let status = answer.status();
        let mut headers = answer.headers().clone();
        strip_hop_by_hop(&mut headers);
        headers.remove(header::SET_COOKIE);
        let stream = capped(answer.bytes_stream(), max, Arc::new(AtomicBool::new(false)));
        let mut response = Response::new(Body::from_stream(stream));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response.extensions_mut().insert(Proxied);
        Ok(response.into_response())
    }
}

/// Connect and DNS failures are "unreachable", a timeout is a timeout.
fn failed(err: reqwest::Error) -> ProxyError {
    if err.is_timeout() {
        ProxyError::Timeout(err)
    } else {
        ProxyError::Unreachable(err)
    }
}

/// RFC 9110 §9.2.2.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The browser's headers the upstream gets: not its cookies, its
/// `Authorization`, the anti-forgery header, `Host` or the hop-by-hop
/// ones.
fn forwarded_headers(from: &HeaderMap) -> HeaderMap {
    let mut headers = from.clone();
    strip_hop_by_hop(&mut headers);
    for name in [header::COOKIE, header::AUTHORIZATION, header::HOST] {
        headers.remove(name);
    }
    headers.remove(CSRF_HEADER);
    headers
}

/// Removes the hop-by-hop headers, and those `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

/// `stream`, ending in an error once more than `max` bytes went through
/// (and `over` set), so a body is never held whole, nor passed on past
/// its cap.
fn capped<E>(
    stream: impl Stream<Item = Result<Bytes, E>> + Send + 'static,
    max: Option<u64>,
    over: Arc<AtomicBool>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut seen: u64 = 0;
    stream.map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen = seen.saturating_add(chunk.len() as u64);
        match max {
            Some(max) if seen > max => {
                over.store(true, Ordering::Relaxed);
                Err(std::io::Error::other(format!("body over {max} bytes")))
            }
            _ => Ok(chunk),
        }
    })
}
