//! Portcullis's reference app: the Leptos UI (`app`, `frontend`) served by
//! Axum, with Portcullis mounted through its public API as any app would
//! mount it. [`router`] builds the whole HTTP surface; [`Application`]
//! binds and serves it.

mod assets;
mod backend;

use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use app::{App, error::AppError, ports::Ports, shell};
use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{
    AxumRouteListing, LeptosRoutes, file_and_error_handler_with_context, generate_route_list,
};
use portcullis::{ConfigProblems, Portcullis, Settings, SettingsBuilder, StartupError};
use tokio::net::TcpListener;
use tower_http::compression::{CompressionLayer, Predicate, predicate::DefaultPredicate};

use crate::{assets::CompressedAssets, backend::Backend};

/// The reference app's settings: where to listen and where the compiled
/// site is (cargo-leptos's `LEPTOS_*` variables), and Portcullis's own.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen and where the compiled site lives.
    pub leptos: LeptosOptions,
    /// Portcullis's settings.
    pub portcullis: Settings,
}

/// Output name of the compiled site when the binary was not built by
/// cargo-leptos (tests, `cargo run`).
const DEFAULT_OUTPUT_NAME: &str = "portcullis";

impl Config {
    /// Reads the process environment and the settings file.
    pub fn from_env() -> Result<Self, ConfigProblems> {
        let leptos = leptos::config::get_configuration(None)
            .map(|conf| conf.leptos_options)
            .map_err(|err| ConfigProblems::new([format!("LEPTOS_* settings: {err}")]))?;
        let vars = Self::with_public_url(&leptos, std::env::vars().collect());
        Self::new(leptos, SettingsBuilder::from_vars(vars))
    }

    /// Settings from `vars` alone (tests).
    pub fn from_vars(
        leptos: LeptosOptions,
        vars: &HashMap<String, String>,
    ) -> Result<Self, ConfigProblems> {
        let vars = Self::with_public_url(&leptos, vars.clone());
        let settings = vars
            .iter()
            .fold(Settings::builder(), |settings, (name, value)| {
                settings.var(name, value)
            });
        Self::new(leptos, settings)
    }

    /// Users reach a local server at its own address unless
    /// `APP_PUBLIC_URL` says otherwise.
    fn with_public_url(
        leptos: &LeptosOptions,
        mut vars: HashMap<String, String>,
    ) -> HashMap<String, String> {
        vars.entry("APP_PUBLIC_URL".into())
            .or_insert_with(|| format!("http://{}", leptos.site_addr));
        vars
    }

    fn new(mut leptos: LeptosOptions, settings: SettingsBuilder) -> Result<Self, ConfigProblems> {
        if leptos.output_name.is_empty() {
            leptos.output_name = DEFAULT_OUTPUT_NAME.into();
        }
        // A failed sign-in lands on the UI's own error page.
        let portcullis = settings.error_page("/error").build()?;
        Ok(Self { leptos, portcullis })
    }
}

/// Starts Portcullis and builds the whole HTTP surface: the UI's pages and
/// server functions, the site's assets, and Portcullis's routes and layer
/// around them.
pub async fn router(config: Config) -> Result<Router, StartupError> {
    let portcullis = Portcullis::start(config.portcullis).await?;
    Ok(app_router(&portcullis, config.leptos))
}

fn app_router(portcullis: &Portcullis, leptos: LeptosOptions) -> Router {
    let ports = Ports::new(Arc::new(Backend::new(portcullis.clone())));
    let assets = CompressedAssets::new(leptos.site_root.as_ref());
    assets.prepare_all();
    let context = move || {
        provide_context(ports.clone());
        // A fresh nonce per response, for the inline scripts and the CSP.
        leptos::nonce::provide_nonce();
    };
    let pages = Router::new()
        .leptos_routes_with_context(&leptos, app_routes(), context.clone(), {
            let options = leptos.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<LeptosOptions, _>(
            context, shell,
        ))
        .with_state(leptos)
        .layer(middleware::from_fn(html_is_private))
        .layer(middleware::from_fn_with_state(
            portcullis.public_url().to_owned(),
            server_functions_are_same_origin,
        ))
        .layer(middleware::from_fn_with_state(
            assets,
            assets::serve_compressed,
        ));
    portcullis.mount(pages).layer(compress_static_assets())
}

/// The browser bundle, its glue script and the stylesheet go out brotli-
/// or gzip-compressed when the browser accepts it (the WASM bundle is a
/// third of its size compressed): from the copies `assets.rs` compressed
/// ahead at the best ratio, on the fly until those are ready. Pages and
/// JSON never are: they carry per-user data, and compressing it next to
/// anything an attacker can put in the same response leaks it by size
/// (BREACH).
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
        && !portcullis::is_same_origin(request.headers(), &public_url)
    {
        tracing::warn!(path = %request.uri().path(), "cross-site server-function call refused");
        let error = AppError::CrossSiteRequest;
        return (
            StatusCode::FORBIDDEN,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(serde_json::json!({ "error": error.code(), "message": error.to_string() })),
        )
            .into_response();
    }
    next.run(request).await
}

/// A bound, ready-to-serve server.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    portcullis: Portcullis,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address is taken or not ours.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address from `LEPTOS_SITE_ADDR`.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: io::Error,
    },
    /// Portcullis could not start.
    #[error(transparent)]
    Portcullis(#[from] StartupError),
}

impl Application {
    /// Binds the socket, then starts Portcullis.
    pub async fn build(config: Config) -> Result<Self, Error> {
        let addr = config.leptos.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        Self::build_on(listener, config).await
    }

    /// Like [`Application::build`] on a socket bound already (tests bind
    /// port 0 first, to know the public URL before the provider starts).
    pub async fn build_on(listener: TcpListener, config: Config) -> Result<Self, Error> {
        let portcullis = Portcullis::start(config.portcullis).await?;
        Ok(Self {
            listener,
            router: app_router(&portcullis, config.leptos),
            portcullis,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes open requests.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!("Portcullis is listening on http://{addr}");
        // Stops with the server, however it stops (even when dropped).
        let _background = AbortOnDrop(tokio::spawn(self.portcullis.background()));
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
