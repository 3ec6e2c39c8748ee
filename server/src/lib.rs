//! Portcullis: "Log in with Google / GitHub / any OAuth 2.0 or OpenID
//! Connect provider" for Axum apps, as a backend-for-frontend. The server
//! runs the authorization-code flow (RFC 6749 §4.1 with PKCE, RFC 7636),
//! keeps every token server-side and encrypted, refreshes them without
//! races, and hands the browser only a session cookie.
//!
//! Start it with [`Portcullis::start`], mount its routes and layer with
//! [`Portcullis::mount`], spawn [`Portcullis::background`], and read the
//! signed-in [`User`] in handlers.

mod account;
mod backend;
mod cache;
mod canonical_host;
mod config;
mod db;
mod error;
mod extract;
mod flow;
mod http_client;
mod logins;
mod model;
mod pages;
mod provider_api;
mod providers;
mod rate_limit;
mod redis_store;
mod refresh;
mod routes;
mod secret;
mod session;
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

pub use config::{ConfigProblems, ProviderConfig, Settings, SettingsBuilder};
pub use error::ErrorCode;
pub use extract::{AccessToken, Rejection};
pub use model::{LinkedIdentity, ProviderInfo, ProviderProfile, SessionInfo, User};
pub use routes::auth::is_same_origin;
pub use startup::{Portcullis, PortcullisLayer, StartupError};

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
