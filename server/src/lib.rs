//! Portcullis server: the Axum application that renders the Leptos UI, runs
//! the login flows and keeps everything sensitive on this side.

pub mod assets;
pub mod backend;
pub mod cache;
pub mod canonical_host;
pub mod config;
pub mod db;
pub mod error;
pub mod flow;
pub mod http_client;
pub mod logins;
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
