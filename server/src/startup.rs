//! Mounting Portcullis in an app: [`Portcullis::start`] opens the stores
//! and discovers the providers; [`Portcullis::router`] answers the
//! sign-in, callback, sign-out and back-channel endpoints;
//! [`Portcullis::layer`] carries the session cookie and the checks every
//! request passes; [`Portcullis::background`] refreshes tokens ahead and
//! ends expired sessions.

use std::{convert::Infallible, future::Future, sync::Arc, time::Duration};

use axum::{
    Extension, Router,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::Response,
    routing::{Route, any, get, post},
};
use tower::{
    Layer, ServiceBuilder,
    util::{BoxCloneSyncService, BoxCloneSyncServiceLayer},
};

use crate::{
    backend::Core,
    cache,
    canonical_host::{self, PublicOrigin},
    config::Settings,
    db::Db,
    error::ErrorCode,
    hooks::{Hooks, SignInHooks},
    http_client,
    pages::{self, error_answer},
    providers::{Registry, jws},
    rate_limit::{self, ClientLimits},
    remote_api::{Proxied, RemoteApi},
    routes::{auth, health},
    same_origin::{self, Guard},
    secret::Secret,
    session::{self, CachedSessions},
    store::Store,
    telemetry::cause_chain,
};

/// The cause behind a [`StartupError`]: the driver's own error, kept for
/// the log (its type is not part of the API).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How often [`Portcullis::background`] tries again to discover providers
/// that could not be reached.
const DISCOVERY_RETRY_EVERY: Duration = Duration::from_secs(10);

/// Why Portcullis could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The users' database (`DATABASE_URL`) could not be opened or
    /// migrated.
    #[error("cannot open the database")]
    Database(#[source] BoxError),
    /// The session store (`SESSION_STORE_URL`) could not be opened.
    #[error("cannot open the session store")]
    Store(#[source] BoxError),
    /// The HTTP client for provider calls could not be built (no TLS
    /// roots).
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] BoxError),
}

/// Portcullis, started: a cheap handle (clone it freely) on the stores,
/// the providers and the token vault.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use axum::{Router, routing::get};
/// use portcullis::{Portcullis, Settings, User};
///
/// let auth = Portcullis::start(Settings::from_env()?).await?;
/// tokio::spawn(auth.background());
/// let app = Router::new().route("/me", get(|user: User| async move { user.name().to_owned() }));
/// let app = auth.mount(app);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Portcullis {
    pub(crate) core: Arc<Core>,
    pub(crate) sessions: CachedSessions,
    limits: Arc<ClientLimits>,
    /// Path prefixes open to cross-site writes.
    cross_site: Arc<[String]>,
    background_refresh: Option<Duration>,
    /// The upstream APIs the browser reaches through the router.
    pub(crate) remote_apis: Arc<[Arc<RemoteApi>]>,
}

impl Portcullis {
    /// Opens the users' database and the session store (running their
    /// migrations) and starts discovering the OpenID Connect providers
    /// (OpenID Connect Discovery 1.0; a provider that cannot be reached yet
    /// is retried in the background and shown as unavailable meanwhile).
    ///
    /// # Errors
    ///
    /// [`StartupError`] when a store cannot be opened or the HTTP client
    /// cannot be built.
    pub async fn start(settings: Settings) -> Result<Self, StartupError> {
        Self::builder(settings).start().await
    }

    /// Portcullis with more than settings: the app's [`SignInHooks`].
    pub fn builder(settings: Settings) -> PortcullisBuilder {
        PortcullisBuilder {
            settings,
            hooks: Hooks::default(),
            cross_site: Vec::new(),
        }
    }
}

/// Settings and the app's own parts, for [`Portcullis::builder`].
#[derive(Debug)]
#[must_use]
pub struct PortcullisBuilder {
    settings: Settings,
    hooks: Hooks,
    cross_site: Vec<String>,
}

impl PortcullisBuilder {
    /// The app's say in every sign-in ([`SignInHooks`]); by default
    /// everyone a provider vouches for may sign in.
    pub fn sign_in_hooks(mut self, hooks: impl SignInHooks) -> Self {
        self.hooks = Hooks(Arc::new(hooks));
        self
    }

    /// Lets other sites make state-changing requests under the path
    /// `prefix` (e.g. `/webhooks` for `/webhooks/...`), which
    /// [`Portcullis::layer`] otherwise refuses when they carry the session
    /// cookie. Only for endpoints that authenticate their callers some
    /// other way (a webhook's signature, say).
    pub fn allow_cross_site(mut self, prefix: &str) -> Self {
        self.cross_site.push(prefix.to_owned());
        self
    }

    /// Starts Portcullis, as [`Portcullis::start`] describes.
    ///
    /// # Errors
    ///
    /// [`StartupError`] when a store cannot be opened or the HTTP client
    /// cannot be built.
    pub async fn start(self) -> Result<Portcullis, StartupError> {
        let Self {
            settings,
            hooks,
            cross_site,
        } = self;
        let db = Db::open(settings.database_url.expose())
            .await
            .map_err(|err| StartupError::Database(Box::new(err)))?;
        tracing::info!("database: {}", db.kind());
        let store = Store::open(
            settings.session_store_url.as_ref().map(Secret::expose),
            &settings.session_store_prefix,
            &db,
        )
        .await
        .map_err(|err| StartupError::Store(Box::new(err)))?;
        tracing::info!("session store: {}", store.kind());
        let http = http_client::ProviderHttp::new(settings.provider_limits)
            .map_err(|err| StartupError::HttpClient(Box::new(err)))?;
        let registry = Registry::discover_all(&settings.providers, &http).await;
        let sessions = CachedSessions::new(store.session_store(), settings.session_cache);
        let core = Core::new(&settings, registry, http, db, store, hooks);
        let remote_apis = (settings.remote_apis.iter())
            .map(|api| RemoteApi::new(api.clone(), core.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| StartupError::HttpClient(Box::new(err)))?;
        let limits = Arc::new(ClientLimits::new(
            core.sign_in_per_minute,
            core.backchannel_per_minute,
            core.client_ip_header.clone(),
        ));
        Ok(Portcullis {
            core,
            sessions,
            limits,
            cross_site: cross_site.into(),
            background_refresh: settings.background_refresh,
            remote_apis: remote_apis.into(),
        })
    }
}

impl Portcullis {
    /// The origin users reach the app at (`APP_PUBLIC_URL`), e.g.
    /// `https://app.example.com`.
    pub fn public_url(&self) -> &str {
        &self.core.public_url
    }

    /// Portcullis's endpoints, to merge into the app's router (they need
    /// [`layer`](Self::layer) around them; [`mount`](Self::mount) does
    /// both):
    ///
    /// - `GET /auth/sign-in/{provider}?return_to=/path` (also at its first
    ///   name, `/auth/login/{provider}`): starts the
    ///   authorization request (RFC 6749 §4.1, PKCE per RFC 7636);
    /// - `GET /auth/callback/{provider}`: the redirection endpoint, where
    ///   the code exchange happens, and `POST` for providers that answer
    ///   with `response_mode=form_post`;
    /// - `POST /auth/logout`, `POST /auth/link/{provider}`,
    ///   `POST /auth/unlink`, `POST /auth/sessions/end`: same-origin
    ///   form posts, each going back to its `return_to` (a path on this
    ///   site; default `/`);
    /// - `POST /auth/backchannel/{provider}`: OpenID Connect Back-Channel
    ///   Logout 1.0;
    /// - `GET /auth/user`: the signed-in [`User`](crate::User) as JSON, or
    ///   401 with `{"error": "PC-AUTH-401", ...}`;
    /// - `GET /auth/error?code=...`: a plain page for a failed sign-in,
    ///   unless the settings name the app's own (`error_page`);
    /// - `GET /healthz` and `GET /readyz`: liveness and readiness.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let router = Router::new()
            .route("/healthz", get(health::healthz))
            .route("/readyz", get(health::readyz))
            .route("/auth/sign-in/{provider}", get(auth::start_sign_in))
            // Its first name, kept working for links made before.
            .route("/auth/login/{provider}", get(auth::start_sign_in))
            .route(
                "/auth/callback/{provider}",
                // A form_post answer is a few short fields.
                get(auth::callback)
                    .post(auth::callback_form)
                    .layer(DefaultBodyLimit::max(64 * 1024)),
            )
            .route("/auth/logout", post(auth::logout))
            .route("/auth/link/{provider}", post(auth::link))
            .route("/auth/unlink", post(auth::unlink))
            .route("/auth/sessions/end", post(auth::end_session))
            .route(
                "/auth/backchannel/{provider}",
                // A logout token is small; anything much larger is refused unread.
                post(auth::backchannel).layer(DefaultBodyLimit::max(2 * jws::MAX_TOKEN_LEN)),
            )
            .route("/auth/user", get(auth::user))
            .route(auth::ERROR_PAGE, get(pages::error_page))
            .route(pages::SIGN_IN_PAGE, get(pages::sign_in_page))
            .route("/auth/icons/{file}", get(pages::provider_icon));
        let router = self.remote_apis.iter().fold(router, |router, api| {
            let prefix = &api.settings.prefix;
            let serve = {
                let api = api.clone();
                move |request: Request| api.clone().serve(request)
            };
            router
                .route(prefix, any(serve.clone()))
                .route(&format!("{prefix}/{{*rest}}"), any(serve))
        });
        let router = match &self.core.error_page {
            Some(page) => router.layer(middleware::from_fn_with_state(
                Arc::<str>::from(page.as_str()),
                auth::to_error_page,
            )),
            None => router,
        };
        router.with_state(self.core.clone())
    }

    /// What every request of the app passes through, outermost first:
    /// security headers (SECURITY.md D8), error answers that are never bare
    /// (a JSON body or a page with a stable code), the redirect to the
    /// public origin, per-client rate limits on the sign-in and
    /// back-channel endpoints, the same-origin check on the app's
    /// state-changing requests (a cross-site `POST`, `PUT`, `PATCH` or
    /// `DELETE` carrying the session cookie gets 403 `PC-SEC-403`; see
    /// [`PortcullisBuilder::allow_cross_site`]), and the session cookie (`HttpOnly`,
    /// `SameSite=Lax`, `__Host-` and `Secure` over https). It also makes
    /// this handle available to the extractors ([`User`](crate::User),
    /// [`AccessToken`](crate::AccessToken)).
    pub fn layer(&self) -> PortcullisLayer {
        let https = self.core.public_url.starts_with("https://");
        let stack = ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(https, security_headers))
            .layer(middleware::from_fn(no_bare_errors))
            .layer(middleware::from_fn(cache::mark_cacheable_reads))
            .layer(middleware::from_fn_with_state(
                PublicOrigin::new(&self.core.public_url),
                canonical_host::to_public_origin,
            ))
            .layer(middleware::from_fn_with_state(
                self.limits.clone(),
                rate_limit::limit,
            ))
            .layer(middleware::from_fn_with_state(
                Guard {
                    public_url: self.core.public_url.as_str().into(),
                    error_page: self
                        .core
                        .error_page
                        .as_deref()
                        .unwrap_or(auth::ERROR_PAGE)
                        .into(),
                    cookie: session::cookie_name(https),
                    cross_site: self.cross_site.clone(),
                },
                same_origin::writes_are_same_origin,
            ))
            .layer(middleware::from_fn_with_state(
                https,
                session::removals_are_secure,
            ))
            .layer(session::layer(
                self.sessions.clone(),
                https,
                self.core.session_idle,
            ))
            .layer(Extension(self.clone()));
        PortcullisLayer(BoxCloneSyncServiceLayer::new(stack))
    }

    /// `app` with Portcullis's [`router`](Self::router) merged in and its
    /// [`layer`](Self::layer) around everything. Give `app` its state
    /// first (`Router<()>`), and add its routes before mounting: a route
    /// added afterwards is outside the layer, and the [`User`](crate::User)
    /// extractor there answers 500 `PC-SRV-500` (use [`layer`](Self::layer)
    /// yourself for such arrangements).
    pub fn mount(&self, app: Router) -> Router {
        app.merge(self.router()).layer(self.layer())
    }

    /// The work Portcullis does while the app serves, as one future to
    /// spawn: refreshing the tokens of sessions in use before they expire
    /// (every `BACKGROUND_REFRESH_SECONDS`, 30 s by default; `0` turns it
    /// off), retrying the discovery of providers that could not be reached
    /// yet, and, every five
    /// minutes, ending expired sessions with their tokens. It runs until
    /// dropped or aborted.
    pub fn background(&self) -> impl Future<Output = ()> + Send + 'static {
        housekeeping(self.core.clone(), self.background_refresh)
    }
}

/// The layer [`Portcullis::layer`] returns, for `Router::layer`.
#[derive(Clone)]
pub struct PortcullisLayer(BoxCloneSyncServiceLayer<Route, Request, Response, Infallible>);

impl Layer<Route> for PortcullisLayer {
    type Service = BoxCloneSyncService<Request, Response, Infallible>;

    fn layer(&self, inner: Route) -> Self::Service {
        self.0.layer(inner)
    }
}

impl std::fmt::Debug for PortcullisLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortcullisLayer")
    }
}

/// Headers on every response (SECURITY.md D8): no MIME sniffing, no
/// framing (also in CSP), no referrer beyond our origin, and over https,
/// HSTS. The page's script policy, with its nonce, is in the HTML.
async fn security_headers(
    axum::extract::State(https): axum::extract::State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut http::HeaderMap, name, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
    set(
        headers,
        header::REFERRER_POLICY,
        "strict-origin-when-cross-origin",
    );
    if https {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        );
    }
    response
}

/// No bare error answers. The session layer answers an empty 500 when its
/// store fails (it could not load or save the session): the user gets the
/// "temporarily unavailable" page instead, with its code and a way
/// forward; the store's error is in the log. Axum answers a request it
/// cannot read (a query parameter given twice, invalid percent-encoding,
/// a body of the wrong kind or size, a method the route does not take)
/// with plain text or nothing: the user gets PC-WEB-400 with the same
/// status, as a page, or as JSON for API callers.
async fn no_bare_errors(request: Request, next: Next) -> Response {
    let json = wants_json(&request);
    let response = next.run(request).await;
    // An upstream API's answer goes back as it came.
    if response.extensions().get::<Proxied>().is_some() {
        return response;
    }
    let status = response.status();
    let typed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| kind.starts_with("text/html") || kind.starts_with("application/json"));
    if status == StatusCode::INTERNAL_SERVER_ERROR
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        tracing::error!("the session store failed under a request: answering 503");
        let mut page = error_answer(
            ErrorCode::Unavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            json,
        );
        page.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return page;
    }
    if status.is_client_error() && !typed {
        tracing::info!(status = status.as_u16(), "a request that could not be read");
        let allow = response.headers().get(header::ALLOW).cloned();
        let mut answer = error_answer(ErrorCode::BadRequest, status, json);
        // RFC 9110 §15.5.6: a 405 says which methods the address takes.
        if let Some(allow) = allow {
            answer.headers_mut().insert(header::ALLOW, allow);
        }
        return answer;
    }
    response
}

/// Whether the caller is a program rather than a page: the server
/// functions, the back-channel and user endpoints, or an `Accept` that
/// asks for JSON and not HTML.
fn wants_json(request: &Request) -> bool {
    let path = request.uri().path();
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    path.starts_with("/api/")
        || path.starts_with("/auth/backchannel/")
        || path == "/auth/user"
        || (accept.contains("application/json") && !accept.contains("text/html"))
}

/// Work in the background while serving: refreshing the tokens of sessions
/// in use before they expire (every `refresh_every`, when on), and every
/// five minutes ending expired sessions with their tokens.
async fn housekeeping(core: Arc<Core>, refresh_every: Option<Duration>) {
    const SWEEP_EVERY: Duration = Duration::from_secs(300);
    let tick = refresh_every
        .unwrap_or(SWEEP_EVERY)
        .min(SWEEP_EVERY)
        .min(DISCOVERY_RETRY_EVERY);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep = tokio::time::Instant::now();
    let mut last_refresh: Option<tokio::time::Instant> = None;
    loop {
        interval.tick().await;
        // A provider that was down at start (or since) becomes usable
        // without a restart.
        core.registry.retry_discovery(&core.http).await;
        if let Some(every) = refresh_every
            && last_refresh.is_none_or(|last| last.elapsed() >= every)
        {
            last_refresh = Some(tokio::time::Instant::now());
            if let Err(err) = core.refresher.refresh_ahead().await {
                tracing::warn!("refreshing ahead of time failed: {}", cause_chain(&err));
            }
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = tokio::time::Instant::now();
            match core.sessions.sweep().await {
                Ok(0) => {}
                Ok(ended) => tracing::info!(ended, "expired sessions ended"),
                Err(err) => tracing::warn!("ending expired sessions failed: {}", cause_chain(&err)),
            }
        }
    }
}

#[cfg(test)]
#[cfg(feature = "testing")]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::{Json, extract::State};
    use serde_json::json;

    use super::*;
    use crate::{ProviderConfig, testing};

    /// A provider whose discovery document answers 503 until `up` is set.
    async fn provider_coming_up(up: Arc<AtomicBool>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let document = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(
                    |State((up, document)): State<(Arc<AtomicBool>, serde_json::Value)>| async move {
                        if up.load(Ordering::SeqCst) {
                            Ok(Json(document))
                        } else {
                            Err(StatusCode::SERVICE_UNAVAILABLE)
                        }
                    },
                ),
            )
            .route("/jwks", get(|| async { Json(json!({ "keys": [] })) }))
            .with_state((up, document));
        tokio::spawn(async move { axum::serve(listener, app).await });
        issuer
    }

    #[tokio::test]
    async fn a_provider_down_at_start_becomes_available_without_a_restart() {
        let up = Arc::new(AtomicBool::new(false));
        let issuer = provider_coming_up(up.clone()).await;
        let settings = testing::settings_builder()
            .provider(
                ProviderConfig::new("corp")
                    .issuer(&issuer)
                    .client("id", "secret"),
            )
            .build()
            .unwrap();
        let portcullis = Portcullis::start(settings).await.unwrap();
        let corp_available = || async {
            let providers = portcullis.providers().await;
            providers.iter().any(|p| p.id == "corp" && p.available)
        };
        assert!(!corp_available().await, "down at start");

        up.store(true, Ordering::SeqCst);
        let background = tokio::spawn(portcullis.background());
        let deadline = tokio::time::Instant::now() + DISCOVERY_RETRY_EVERY * 3;
        while !corp_available().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "still unavailable after {:?}",
                DISCOVERY_RETRY_EVERY * 3
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        background.abort();
    }
}
