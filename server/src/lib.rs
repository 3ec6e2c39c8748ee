//! Portcullis: "Log in with Google / GitHub / any OAuth 2.0 or OpenID
//! Connect provider" for Axum apps, as a backend-for-frontend. The server
//! runs the authorization-code flow (RFC 6749 §4.1 with PKCE, RFC 7636),
//! keeps every token server-side and encrypted, refreshes them without
//! races, and hands the browser only a session cookie.
//!
//! Start it with [`Portcullis::start`], mount its routes and layer with
//! [`Portcullis::mount`], spawn [`Portcullis::background`], and read the
//! signed-in [`User`] in handlers.

pub mod account;
pub mod backend;
pub mod cache;
pub mod canonical_host;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod flow;
pub mod http_client;
pub mod logins;
pub mod model;
pub mod pages;
pub mod provider_api;
pub mod providers;
pub mod rate_limit;
pub mod redis_store;
pub mod refresh;
pub mod routes;
pub mod secret;
pub mod session;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod users;
pub mod vault;

pub use config::{ConfigProblems, Settings};
pub use error::ErrorCode;
pub use extract::{AccessToken, Rejection};
pub use model::{LinkedIdentity, ProviderInfo, ProviderProfile, SessionInfo, User};
pub use routes::auth::is_same_origin;
pub use startup::{Portcullis, PortcullisLayer, StartupError};
