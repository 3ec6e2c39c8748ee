//! Portcullis: "Log in with Google / GitHub / any OAuth 2.0 or OpenID
//! Connect provider" for Axum apps, as a backend-for-frontend
//! (draft-ietf-oauth-browser-based-apps §6.1). The server runs the
//! authorization-code flow (RFC 6749 §4.1 with PKCE, RFC 7636, and OpenID
//! Connect Core §3.1), keeps every token server-side and encrypted,
//! refreshes them without races, and hands the browser only a session
//! cookie.
//!
//! # Mounting it
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use portcullis::{Portcullis, Settings, User};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let portcullis = Portcullis::start(Settings::from_env()?).await?;
//! tokio::spawn(portcullis.background());
//! let app = portcullis.mount(
//!     Router::new().route("/me", get(|user: User| async move { user.name().to_owned() })),
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`Portcullis::mount`] adds [`Portcullis::router`] (`/auth/sign-in`, the
//! sign-in page; `/auth/sign-in/<provider>`, `/auth/callback/<provider>`,
//! `POST /auth/logout`, `/auth/user`, the back-channel logout endpoint...)
//! and [`Portcullis::layer`] (the session cookie and the checks every
//! request passes) to the app's router.
//!
//! # Extractors
//!
//! - [`User`]: the signed-in user. Without one, an API request gets 401
//!   with `{"error": "PC-AUTH-401", "message": ...}`; a `GET` page
//!   navigation (`Sec-Fetch-Mode: navigate`, or an `Accept` asking for
//!   HTML) a 303 to the sign-in page (`/auth/sign-in?return_to=<this
//!   path>`, or the app's own: `APP_SIGN_IN_PAGE`, `off` for the 401
//!   page).
//! - `Option<User>`: the signed-in user or `None`, for pages that show
//!   either.
//! - [`RecentSignIn<SECONDS>`](RecentSignIn): the signed-in user, who
//!   authenticated at their provider at most `SECONDS` ago, for a
//!   sensitive action; otherwise they sign in again at their provider with
//!   `max_age` and come back (a step-up).
//! - [`AccessToken`]: a fresh access token for the session's provider,
//!   refreshed first when it is about to expire (single-flight across
//!   requests and instances), for calling the provider's API. It cannot be
//!   serialised and its `Debug` prints no token.
//! - [`Portcullis`] itself, for the account's identities, sessions and
//!   the provider's profile.
//!
//! In a Leptos app (feature `leptos`), server functions and rendering get
//! the same three from the `leptos` module.
//!
//! # Settings
//!
//! From the environment and `portcullis.toml` ([`Settings::from_env`]), or
//! from code ([`Settings::builder`]); either way every problem is reported
//! at once ([`ConfigProblems`]).
//!
//! # Testing an app
//!
//! With the `testing` feature, `Portcullis::sign_in_for_test` signs a user
//! in within the app's own tests without a provider round trip, and
//! `testing::settings` runs Portcullis on an in-memory store (see the
//! `testing` module).
//!
//! # Stability
//!
//! Before 1.0, minor versions (0.x) may change this API; patch versions
//! do not. Stable codes ([`ErrorCode`]), routes and the settings'
//! variable names change only with a note in the changelog.

#![deny(missing_docs)]

mod account;
mod backend;
mod cache;
mod canonical_host;
mod clock;
mod config;
mod db;
mod error;
mod extract;
mod flow;
mod hooks;
mod http_client;
#[cfg(feature = "leptos")]
pub mod leptos;
mod model;
mod pages;
mod provider_api;
mod providers;
mod rate_limit;
mod refresh;
mod remote_api;
mod routes;
mod same_origin;
mod secret;
mod session;
mod session_rows;
mod signed_in;
mod startup;
mod store;
pub mod telemetry;
// Shared with the reference app's tests, which use more of it.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod test_support;
#[cfg(feature = "testing")]
pub mod testing;
mod users;
mod vault;

pub use async_trait::async_trait;
pub use config::{
    ConfigProblems, ProviderConfig, RemoteApiConfig, Settings, SettingsBuilder, TokenAuthMethod,
    TokenPolicy, UserField,
};
pub use error::ErrorCode;
pub use extract::{AccessToken, RecentSignIn, Rejection};
pub use hooks::{Attempt, HookError, Identity, SignInHooks};
pub use model::{LinkedIdentity, ProviderInfo, ProviderProfile, SessionInfo, User};
pub use providers::ResponseMode;
pub use remote_api::PROXY_ERROR_HEADER;
pub use same_origin::is_same_origin;
pub use startup::{Portcullis, PortcullisBuilder, PortcullisLayer, StartupError};

/// Entry points for the fuzz targets (`fuzz/`); built only by `cargo fuzz`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::flow::return_to::validate as return_to;

    /// Parses a settings file's text, for the parser's fuzz target.
    pub fn settings_file(text: &str) {
        let _ = crate::config::file::parse(text);
    }
}
