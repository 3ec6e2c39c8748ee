//! Building and running the application. Tests call [`Application::build`]
//! with port 0 and read [`Application::port`]; [`router`] serves requests
//! without a socket.

use std::{io, net::SocketAddr, sync::Arc};

use app::{App, ports::Ports, shell};
use axum::{Router, extract::FromRef, routing::get};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tokio::net::TcpListener;

use crate::{backend::Portcullis, config::Settings, routes::health};

/// Shared state of every request handler.
#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub backend: Arc<Portcullis>,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let ports = Ports::new(state.backend.clone());
    let context = move || provide_context(ports.clone());
    let routes = generate_route_list(App);
    Router::new()
        .route("/healthz", get(health::healthz))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .with_state(state)
}

/// A bound, ready-to-serve server.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds the listening socket and assembles the state.
    pub async fn build(settings: Settings) -> io::Result<Self> {
        let listener = TcpListener::bind(settings.leptos.site_addr).await?;
        let state = AppState {
            backend: Portcullis::new(&settings),
            leptos: settings.leptos,
        };
        Ok(Self {
            listener,
            router: router(state),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes open requests.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!("Portcullis is listening on http://{addr}");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown_signal())
            .await
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
