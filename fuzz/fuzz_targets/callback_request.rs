//! The whole router against arbitrary callback query strings and cookies:
//! every bad input gets a clear answer below 500 (a redirect to the error
//! page, or 4xx), never a panic.
#![no_main]

use std::sync::OnceLock;

use axum::{Router, body::Body};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fn app() -> &'static Router {
    static APP: OnceLock<Router> = OnceLock::new();
    APP.get_or_init(|| {
        runtime().block_on(async {
            let vars = [
                ("AUTH_PROVIDERS", "local"),
                ("LOCAL_CLIENT_ID", "client"),
                ("LOCAL_CLIENT_SECRET", "secret"),
                ("LOCAL_ISSUER", "http://127.0.0.1:1"),
                ("DATABASE_URL", "sqlite::memory:"),
                ("PROVIDER_TIMEOUT_SECONDS", "1"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            let settings = portcullis::Settings::from_vars(&vars).expect("settings");
            let portcullis = portcullis::Portcullis::start(settings).await.expect("app");
            portcullis.mount(Router::new())
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (query, cookie) = text.split_once('\n').unwrap_or((&text, ""));
    let Ok(request) = http::Request::get(format!("/auth/callback/local?{query}"))
        .header(http::header::COOKIE, cookie)
        .body(Body::empty())
    else {
        return; // not even a valid HTTP request: the server never sees it
    };
    let response = runtime()
        .block_on(app().clone().oneshot(request))
        .expect("infallible router");
    assert!(
        response.status().as_u16() < 500,
        "{query:?} / {cookie:?} answered {}",
        response.status()
    );
});
