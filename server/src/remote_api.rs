//! The backend-for-frontend API proxy (OAuth 2.0 for Browser-Based
//! Applications §6.1): the browser calls `<prefix>/<rest>` on this site,
//! and the request goes on to the configured upstream with the user's fresh
//! access token as `Authorization: Bearer` (RFC 6750 §2.1). The token never
//! reaches the browser. An API that names its resource (RFC 8707) or
//! scopes gets a token of its own, meant for it alone
//! ([`Refresher::access_token`](crate::refresh::Refresher::access_token)); one
//! the provider will not issue is `PC-API-001`, and nothing is sent.
//!
//! What the browser may send: the usual methods (not `TRACE` or
//! `CONNECT`), with an anti-forgery proof whatever the method (an `Origin`,
//! if sent, must be ours; without one, `Sec-Fetch-Site: same-origin` or
//! `X-CSRF: 1`, a header a cross-site form cannot send), and a path that
//! stays under the API's base. Its cookies, its `Authorization`, the
//! hop-by-hop headers (RFC 9110 §7.6.1) and the headers servers read as
//! who the client is or where a request goes are not forwarded.
//!
//! What comes back: the upstream's status, body (streamed, capped where
//! configured) and headers, less those that would act on this site as a
//! whole (cookies, `Clear-Site-Data`, HSTS, its own CSP...); a proxied
//! answer is sandboxed (`Content-Security-Policy: sandbox`), and one made
//! with the user's token is never stored by a shared cache. A redirect is
//! not followed: one under the API's base comes back as a path under the
//! prefix, one elsewhere as the absolute URL, and one to this site is
//! refused (the browser would follow it with our origin and the proof).
//!
//! An upstream 401 gets one refresh of the token (single-flight, at most
//! once a minute per grant) and, for an idempotent request without a
//! body, one retry. A token that cannot be renewed is not refreshed, and
//! an upstream's 401 never ends the session by itself.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    response::Response,
};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header, request::Parts};
use tower_sessions::Session;
use url::Url;

use crate::{
    backend::Core,
    config::{RemoteApiSettings, TokenPolicy},
    error::ErrorCode,
    pages::error_answer,
    refresh::RefreshError,
    secret::Secret,
    session::SessionUser,
    telemetry::{cause_chain, escaped},
};

/// The header a page's script sets to prove the call is its own.
pub(crate) const CSRF_HEADER: &str = "x-csrf";

/// On the proxy's own error answers (never on an upstream's), with their
/// code, so a page tells "Portcullis refused" from "the API answered".
pub const PROXY_ERROR_HEADER: &str = "x-portcullis-error";

/// After an upstream refused a token and it was refreshed, another
/// refusal of the same grant is not refreshed again for this long: an
/// upstream that refuses everything cannot make the provider refresh on
/// every call.
const REJECTION_REFRESH_EVERY: Duration = Duration::from_secs(60);

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
    /// When each grant was last refreshed after a refusal here.
    refreshed_after_refusal: Mutex<HashMap<String, Instant>>,
}

/// Why a proxied call failed; each tells the browser one code.
#[derive(Debug, thiserror::Error)]
enum ProxyError {
    #[error("the method {0} is not proxied")]
    Method(Method),
    #[error("no anti-forgery proof (our Origin, Sec-Fetch-Site: same-origin, or X-CSRF: 1)")]
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
    #[error("the upstream redirects to this site ({0:?})")]
    RedirectHere(String),
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
            Self::Method(_) | Self::BadPath(_) => ErrorCode::BadRequest,
            Self::CrossSite => ErrorCode::CrossSiteRequest,
            Self::NotSignedIn => ErrorCode::NotSignedIn,
            Self::WrongProvider { .. } => ErrorCode::ApiWrongProvider,
            Self::Session(_) => ErrorCode::Unavailable,
            Self::Token(err) => err.code(),
            Self::RequestTooLarge(_) => ErrorCode::ApiRequestTooLarge,
            Self::TokenRefused => ErrorCode::ApiTokenRefused,
            Self::Timeout(_) => ErrorCode::ApiTimeout,
            Self::AnswerTooLarge(_) | Self::RedirectHere(_) | Self::Unreachable(_) => {
                ErrorCode::ApiUnreachable
            }
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            other => other.code().status(),
        }
    }
}

/// The methods proxied (RFC 9110 §9.3, and `PATCH`).
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

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

/// Request headers the browser does not choose for the upstream: its
/// cookies and credentials, the host, and what servers read as the
/// client's address, the request's real target or method.
const NOT_FORWARDED: [&str; 14] = [
    "cookie",
    "authorization",
    "host",
    "expect",
    CSRF_HEADER,
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-http-method-override",
    "x-method-override",
];

/// Answer headers an upstream may not set for this site as a whole.
const NOT_PASSED_BACK: [&str; 9] = [
    "set-cookie",
    "clear-site-data",
    "strict-transport-security",
    "content-security-policy",
    "content-security-policy-report-only",
    "x-frame-options",
    "alt-svc",
    "refresh",
    PROXY_ERROR_HEADER,
];

impl RemoteApi {
    /// The API and its client: no redirects followed, connecting within
    /// 5 s (or the whole timeout if shorter), the whole exchange within the
    /// configured timeout.
    pub(crate) fn new(settings: RemoteApiSettings, core: Arc<Core>) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .timeout(settings.timeout)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            settings,
            client,
            core,
            refreshed_after_refusal: Mutex::default(),
        })
    }

    /// Serves one request to `<prefix>/...`.
    pub(crate) async fn serve(self: Arc<Self>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            tracing::error!("no Portcullis layer in front of the API proxy");
            return own_error(ErrorCode::Internal, StatusCode::INTERNAL_SERVER_ERROR);
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
                let mut answer = own_error(code, err.status());
                if let ProxyError::Method(_) = err {
                    let allow = METHODS.map(|m| m.to_string()).join(", ");
                    if let Ok(allow) = HeaderValue::from_str(&allow) {
                        answer.headers_mut().insert(header::ALLOW, allow);
                    }
                }
                answer
            }
        }
    }

    async fn proxy(
        &self,
        session: &Session,
        parts: &Parts,
        body: Body,
    ) -> Result<Response, ProxyError> {
        if !METHODS.contains(&parts.method) {
            return Err(ProxyError::Method(parts.method.clone()));
        }
        if !has_proof(&parts.headers, &self.core.public_url) {
            return Err(ProxyError::CrossSite);
        }
        let url = self.upstream_url(parts)?;
        let user = self.user(session).await?;
        let (token, renewable) = match &user {
            Some(user) => {
                let (token, renewable) = self.token(user).await?;
                (Some(token), renewable)
            }
            None => (None, false),
        };
        let headers = forwarded_headers(&parts.headers);
        if let (Some(max), Some(length)) = (self.settings.max_body, body.size_hint().exact())
            && length > max
        {
            return Err(ProxyError::RequestTooLarge(max));
        }
        let bodiless = body.is_end_stream() || body.size_hint().exact() == Some(0);
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
                let max = self.settings.max_body.unwrap_or(0);
                return Err(ProxyError::RequestTooLarge(max));
            }
            Err(err) => return Err(failed(err)),
            Ok(answer) => answer,
        };
        let answer = match (answer.status(), &user, &token) {
            (StatusCode::UNAUTHORIZED, Some(user), Some(token)) if renewable => {
                let renewed = self.after_refusal(user, token).await?;
                // One retry, where sending the request again is safe.
                if !(bodiless && is_idempotent(&parts.method)) {
                    return Err(ProxyError::TokenRefused);
                }
                let again = self
                    .send(
                        &parts.method,
                        &url,
                        &headers,
                        Some(&renewed),
                        reqwest::Body::from(Bytes::new()),
                    )
                    .await
                    .map_err(failed)?;
                if again.status() == StatusCode::UNAUTHORIZED {
                    return Err(ProxyError::TokenRefused);
                }
                again
            }
            (StatusCode::UNAUTHORIZED, Some(_), Some(_)) => return Err(ProxyError::TokenRefused),
            _ => answer,
        };
        self.answer(answer, &url, token.is_some())
    }

    /// The user whose token goes along, as the API's token policy says:
    /// `None` for an anonymous call.
    async fn user(&self, session: &Session) -> Result<Option<SessionUser>, ProxyError> {
        if self.settings.token == TokenPolicy::None {
            return Ok(None);
        }
        let signed_in =
            (self.core.sessions.signed_in(session).await).map_err(ProxyError::Session)?;
        let wanted = self.settings.provider.as_deref();
        match (signed_in, self.settings.token) {
            (Some(user), _) if wanted.is_none_or(|id| id == user.identity.provider) => {
                Ok(Some(user))
            }
            (Some(user), TokenPolicy::User) => Err(ProxyError::WrongProvider {
                signed_in: user.identity.provider,
                wanted: wanted.unwrap_or_default().to_owned(),
            }),
            (None, TokenPolicy::User) => Err(ProxyError::NotSignedIn),
            _ => Ok(None),
        }
    }

    /// The fresh access token `user`'s requests carry here (the API's own
    /// when it names a resource or scopes, the session's otherwise), and
    /// whether a refused one can be renewed.
    async fn token(&self, user: &SessionUser) -> Result<(Secret, bool), ProxyError> {
        let audience = self.settings.audience.as_ref();
        (self.core.refresher.access_token(user, audience).await).map_err(ProxyError::Token)
    }

    /// After the upstream refused the renewable access token `rejected`:
    /// the token once renewed (single-flight), unless this grant was
    /// renewed after a refusal here less than a minute ago; then the
    /// refusal stands and the session stays.
    async fn after_refusal(
        &self,
        user: &SessionUser,
        rejected: &Secret,
    ) -> Result<Secret, ProxyError> {
        {
            let now = Instant::now();
            let mut recent = self
                .refreshed_after_refusal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            recent.retain(|_, at| now.duration_since(*at) < REJECTION_REFRESH_EVERY);
            if recent.contains_key(&user.grant) {
                return Err(ProxyError::TokenRefused);
            }
            recent.insert(user.grant.clone(), now);
        }
        let audience = self.settings.audience.as_ref();
        let refresher = &self.core.refresher;
        (refresher
            .access_token_after_rejection(user, audience, rejected)
            .await)
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
        // Nothing that a server, or one behind it that decodes again, may
        // read as a way out of the base path.
        let lowered = rest.to_ascii_lowercase();
        let escapes = rest
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
            || rest.contains(['\\', ';'])
            || ["%2e", "%2f", "%5c", "%25", "%3b"]
                .iter()
                .any(|encoded| lowered.contains(encoded));
        if escapes {
            return Err(ProxyError::BadPath(path.to_owned()));
        }
        let base = &self.settings.upstream;
        let mut url = base.clone();
        url.set_path(&format!("{}{rest}", base.path().trim_end_matches('/')));
        url.set_query(parts.uri.query());
        Ok(url)
    }

    /// The upstream's answer as the browser gets it: its status, its body
    /// streamed (capped where configured), its headers less the hop-by-hop
    /// ones and those that would act on this whole site, sandboxed, and
    /// kept out of shared caches when made with the user's `token`.
    fn answer(
        &self,
        answer: reqwest::Response,
        sent_to: &Url,
        token: bool,
    ) -> Result<Response, ProxyError> {
        let max = self.settings.max_body;
        if let (Some(max), Some(length)) = (max, answer.content_length())
            && length > max
        {
            return Err(ProxyError::AnswerTooLarge(max));
        }
        let status = answer.status();
        let mut headers = answer.headers().clone();
        strip_hop_by_hop(&mut headers);
        for name in NOT_PASSED_BACK {
            headers.remove(name);
        }
        // A login prompt on this site's origin, or the upstream's own
        // scheme, is not the browser's business.
        let bearer = |value: &HeaderValue| value.as_bytes().starts_with(b"Bearer");
        if !headers.get_all(header::WWW_AUTHENTICATE).iter().all(bearer) {
            headers.remove(header::WWW_AUTHENTICATE);
        }
        if status.is_redirection() {
            self.relocate(&mut headers, sent_to)?;
        }
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'; frame-ancestors 'none'"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if token {
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
        }
        let stream = capped(answer.bytes_stream(), max, Arc::new(AtomicBool::new(false)));
        let mut response = Response::new(Body::from_stream(stream));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response.extensions_mut().insert(Proxied);
        Ok(response)
    }

    /// A redirect's `Location`, for the browser: under the API's base, the
    /// same path under the prefix; elsewhere, the absolute URL; on this
    /// site, refused (the browser would follow it here with our origin).
    fn relocate(&self, headers: &mut HeaderMap, sent_to: &Url) -> Result<(), ProxyError> {
        let Some(location) = headers.get(header::LOCATION) else {
            return Ok(());
        };
        let raw = String::from_utf8_lossy(location.as_bytes()).into_owned();
        let target = sent_to
            .join(&raw)
            .map_err(|_| ProxyError::RedirectHere(raw.clone()))?;
        let base = &self.settings.upstream;
        let base_path = base.path().trim_end_matches('/');
        let under_base = target.origin() == base.origin()
            && target
                .path()
                .strip_prefix(base_path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let ours = Url::parse(&self.core.public_url)
            .is_ok_and(|public| public.origin() == target.origin());
        let location = if under_base {
            let rest = &target.path()[base_path.len()..];
            let query = target.query().map(|q| format!("?{q}")).unwrap_or_default();
            format!("{}{rest}{query}", self.settings.prefix)
        } else if ours {
            return Err(ProxyError::RedirectHere(raw));
        } else {
            target.to_string()
        };
        let location =
            HeaderValue::from_str(&location).map_err(|_| ProxyError::RedirectHere(raw))?;
        headers.insert(header::LOCATION, location);
        Ok(())
    }
}

/// The proxy's own error answer: the JSON error body, marked as ours.
fn own_error(code: ErrorCode, status: StatusCode) -> Response {
    let mut answer = error_answer(code, status, true);
    answer.headers_mut().insert(
        HeaderName::from_static(PROXY_ERROR_HEADER),
        HeaderValue::from_static(code.code()),
    );
    answer
}

/// The anti-forgery proof: an `Origin`, when sent, must be ours; without
/// one, `Sec-Fetch-Site: same-origin` or `X-CSRF: 1`.
fn has_proof(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.as_bytes() == public_url.as_bytes();
    }
    let same_origin = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"same-origin");
    let csrf = headers
        .get(CSRF_HEADER)
        .is_some_and(|value| value.as_bytes() == b"1");
    same_origin || csrf
}

/// Connect and DNS failures are "unreachable", a timeout is a timeout; the
/// URL (with the browser's query) stays out of the log.
fn failed(err: reqwest::Error) -> ProxyError {
    let err = err.without_url();
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

/// The browser's headers the upstream gets.
fn forwarded_headers(from: &HeaderMap) -> HeaderMap {
    let mut headers = from.clone();
    strip_hop_by_hop(&mut headers);
    for name in NOT_FORWARDED {
        headers.remove(name);
    }
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
