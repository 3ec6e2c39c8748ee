//! Builds the application for a test and sends it requests.

use std::collections::HashMap;

use axum::{Router, body::Body};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use reference::Config;
use tower::ServiceExt;

/// A test application with the given environment variables and its own
/// in-memory session store.
pub async fn app_with(vars: &[(&str, &str)]) -> Router {
    let mut vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.entry("DATABASE_URL".into())
        .or_insert_with(|| "sqlite::memory:".into());
    let leptos = LeptosOptions::builder().output_name("portcullis").build();
    let config = Config::from_vars(leptos, &vars).expect("valid test settings");
    reference::router(config).await.unwrap()
}

/// A test application with one provider, "local", whose issuer is down.
pub async fn app() -> Router {
    app_with(&[
        ("AUTH_PROVIDERS", "local"),
        ("LOCAL_CLIENT_ID", "client"),
        ("LOCAL_CLIENT_SECRET", "secret-never-shown"),
        ("LOCAL_ISSUER", "http://127.0.0.1:1"),
        ("LOCAL_LABEL", "Local Test IdP"),
    ])
    .await
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

pub async fn send(app: Router, request: Request<Body>) -> TestResponse {
    let response: Response<Body> = app.oneshot(request).await.expect("infallible router");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    TestResponse {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    }
}

pub async fn get(app: Router, path: &str) -> TestResponse {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}
