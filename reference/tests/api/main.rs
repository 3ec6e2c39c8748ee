//! Integration tests: the real router, requests without a socket.

// A test binary: panicking on a broken fixture is the right failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_proxy;
mod apple;
mod backchannel;
mod compression;
mod configured_oauth2;
mod embed;
mod fake_github;
mod fake_oauth2;
mod form_post;
mod github;
mod harness;
mod headers;
mod hooks;
mod hostile_clients;
mod hostile_idp;
mod key_rotation;
mod linking;
mod local_idp;
mod log_capture;
mod login;
mod login_security;
mod logout;
mod node_service;
mod notes_api;
mod oauth1;
mod oidc_without_discovery;
mod oneshot;
mod pages;
#[path = "../../../server/tests/support/postgres.rs"]
mod postgres;
mod postgres_store;
mod provider_attacks;
mod provider_quirks;
mod provider_shapes;
mod proxy;
#[path = "../../../server/tests/support/redis.rs"]
mod redis;
mod redis_sessions;
mod refresh;
mod robustness;
mod server_functions;
#[path = "../../../server/tests/support/services.rs"]
mod services;
mod session_cache;
mod sessions;
mod sign_in_params;
mod signins_in_progress;
mod store_faults;
#[path = "../../../server/tests/support/temp_database.rs"]
mod temp_database;
mod token_exposure;
mod walk;
