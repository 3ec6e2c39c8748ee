//! Building and running the application. Tests call [`Application::build`]
//! with port 0 and read [`Application::local_addr`]; [`router`] serves
//! requests without a socket.

use std::{
    io,
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use crate::error::ErrorCode;
use app::{App, ports::Ports, shell};
use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRef, Request},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{
    AxumRouteListing, LeptosRoutes, file_and_error_handler_with_context, generate_route_list,
};
use tokio::net::TcpListener;
use tower_http::compression::{CompressionLayer, Predicate, predicate::DefaultPredicate};

use crate::{
    assets::{self, CompressedAssets},
    backend::Portcullis,
    cache,
    canonical_host::{self, PublicOrigin},
    config::Settings,
    db::Db,
    http_client,
    providers::{Registry, jws},
    rate_limit::{self, ClientLimits},
    routes::{auth, health},
    secret::Secret,
    session::{self, CachedSessions},
    store::{Store, StoreFailure},
    telemetry::cause_chain,
};

/// Shared state of every request handler.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub core: Arc<Portcullis>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot open the database")]
    Database(#[source] sqlx::Error),
    #[error("cannot open the session store")]
    Store(#[source] StoreFailure),
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

/// Opens the database, discovers the providers and builds the state.
pub async fn assemble(settings: Settings) -> Result<(AppState, CachedSessions), StartupError> {
    let db = Db::open(settings.database_url.expose())
        .await
        .map_err(StartupError::Database)?;
    tracing::info!("database: {}", db.kind());
    let store = Store::open(
        settings.session_store_url.as_ref().map(Secret::expose),
        &settings.session_store_prefix,
        &db,
    )
    .await
    .map_err(StartupError::Store)?;
    tracing::info!("session store: {}", store.kind());
    let http = http_client::ProviderHttp::new(settings.provider_limits)
        .map_err(StartupError::HttpClient)?;
    let registry = Registry::discover_all(&settings.providers, &http).await;
    let state = AppState {
        core: Portcullis::new(&settings, registry, http, db.clone(), store.clone()),
        leptos: settings.leptos,
    };
    let sessions = CachedSessions::new(store.session_store(), settings.session_cache);
    Ok((state, sessions))
}

/// The whole HTTP surface.
pub fn router(state: AppState, store: CachedSessions) -> Router {
    let https = state.core.public_url.starts_with("https://");
    let ports = Ports::new(state.core.clone());
    let assets = CompressedAssets::new(state.leptos.site_root.as_ref());
    assets.prepare_all();
    let context = move || {
        provide_context(ports.clone());
        // A fresh nonce per response, for the inline scripts and the CSP.
        leptos::nonce::provide_nonce();
    };
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/auth/login/{provider}", get(auth::login))
        .route("/auth/callback/{provider}", get(auth::callback))
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
        .leptos_routes_with_context(&state, app_routes(), context.clone(), {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .layer(middleware::from_fn(html_is_private))
        .layer(middleware::from_fn_with_state(
            state.core.public_url.clone(),
            server_functions_are_same_origin,
        ))
        .layer(middleware::from_fn_with_state(
            assets,
            assets::serve_compressed,
        ))
        .layer(session::layer(store, https, state.core.session_idle))
        .layer(middleware::from_fn_with_state(
            https,
            session::removals_are_secure,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::new(ClientLimits::new(
                state.core.sign_in_per_minute,
                state.core.backchannel_per_minute,
                state.core.client_ip_header.clone(),
            )),
            rate_limit::limit,
        ))
        .layer(middleware::from_fn_with_state(
            PublicOrigin::new(&state.core.public_url),
            canonical_host::to_public_origin,
        ))
        .layer(middleware::from_fn(cache::mark_cacheable_reads))
        .layer(middleware::from_fn(no_bare_errors))
        .layer(compress_static_assets())
        // Outermost: every answer carries them, the ones the layers above
        // make (redirects to the public origin, 429s, error pages) too.
        .layer(middleware::from_fn_with_state(https, security_headers))
        .with_state(state)
}

/// The browser bundle, its glue script and the stylesheet go out brotli-
/// or gzip-compressed when the browser accepts it (the WASM bundle is a
/// third of its size compressed): from the copies `assets.rs` compressed
/// ahead at the best ratio, on the fly until those are ready. Pages and JSON never are: they carry
/// per-user data, and compressing it next to anything an attacker can put
/// in the same response leaks it by size (BREACH).
fn compress_static_assets() -> CompressionLayer<impl Predicate> {
    let static_asset =
        |_: StatusCode, _: http::Version, headers: &http::HeaderMap, _: &http::Extensions| {
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(assets::is_asset_type)
        };
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .compress_when(DefaultPredicate::new().and(static_asset))
}

/// The Leptos routes, generated once per process. Generating renders the
/// app with resource loading switched off process-wide, so it must never
/// overlap with serving a page (several routers in one test process would).
fn app_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Pages show who is signed in: no browser or proxy may keep a copy (the
/// back button after logout must not show the profile again).
async fn html_is_private(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Server functions (`/api/*`) answer only our own pages (SECURITY.md
/// D3): a request whose `Origin` is not ours, or that has neither an
/// `Origin` nor `Sec-Fetch-Site: same-origin`, is refused with 403 and the
/// error code, before the function runs. There is no CORS.
async fn server_functions_are_same_origin(
    axum::extract::State(public_url): axum::extract::State<String>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/api/")
        && !auth::is_same_origin(request.headers(), &public_url)
    {
        tracing::warn!(path = %request.uri().path(), "cross-site server-function call refused");
        let error = ErrorCode::CrossSiteRequest;
        return (
            StatusCode::FORBIDDEN,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(serde_json::json!({ "error": error.code(), "message": error.to_string() })),
        )
            .into_response();
    }
    next.run(request).await
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

/// `error` with `status`: the project's JSON error body, or a
/// self-contained page (it must not need the store to render).
pub(crate) fn error_answer(error: ErrorCode, status: StatusCode, json: bool) -> Response {
    let mut response = if json {
        (
            status,
            axum::Json(serde_json::json!({ "error": error.code(), "message": error.to_string() })),
        )
            .into_response()
    } else {
        let html = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · Portcullis</title><link rel=\"stylesheet\" href=\"/pkg/portcullis.css\"></head>\
             <body><main id=\"main\" class=\"main\"><section class=\"card error\" role=\"alert\">\
             <h1>{title}</h1><p class=\"lead\">{message}</p>\
             <p class=\"muted\">Error code: <code data-testid=\"error-code\">{code}</code></p>\
             <div class=\"actions\"><a class=\"button\" href=\"/\">Try again</a></div>\
             </section></main></body></html>",
            title = error.title(),
            message = error,
            code = error.code(),
        );
        (status, Html(html)).into_response()
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A bound, ready-to-serve server.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    core: Arc<Portcullis>,
    background_refresh: Option<std::time::Duration>,
}

impl Application {
    /// Binds the socket, opens the store, discovers the providers.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let addr = settings.leptos.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        Self::build_on(listener, settings).await
    }

    /// Like [`Application::build`] on a socket bound already (tests bind
    /// port 0 first, to know the public URL before the provider starts).
    pub async fn build_on(listener: TcpListener, settings: Settings) -> Result<Self, StartupError> {
        let background_refresh = settings.background_refresh;
        let (state, store) = assemble(settings).await?;
        Ok(Self {
            listener,
            core: state.core.clone(),
            router: router(state, store),
            background_refresh,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes open requests.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!("Portcullis is listening on http://{addr}");
        // Stops with the server, however it stops (even when dropped).
        let _housekeeping = AbortOnDrop(tokio::spawn(housekeeping(
            self.core.clone(),
            self.background_refresh,
        )));
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Work in the background while serving: refreshing the tokens of sessions
/// in use before they expire (every `refresh_every`, when on), and every
/// five minutes ending expired sessions with their tokens.
async fn housekeeping(core: Arc<Portcullis>, refresh_every: Option<std::time::Duration>) {
    const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(300);
    let tick = refresh_every.unwrap_or(SWEEP_EVERY).min(SWEEP_EVERY);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        interval.tick().await;
        if refresh_every.is_some()
            && let Err(err) = core.refresh_ahead().await
        {
            tracing::warn!("refreshing ahead of time failed: {}", cause_chain(&err));
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = tokio::time::Instant::now();
            match core.sweep().await {
                Ok(0) => {}
                Ok(ended) => tracing::info!(ended, "expired sessions ended"),
                Err(err) => tracing::warn!("ending expired sessions failed: {}", cause_chain(&err)),
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
