//! Same-origin checks on state-changing requests (SECURITY.md D3): a
//! request that changes something and carries the session cookie must come
//! from this site's own pages, or a cross-site form could act as the user
//! (cross-site request forgery). Portcullis's own endpoints check this
//! themselves; the layer checks the app's routes.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use crate::{
    error::ErrorCode,
    pages::{error_answer, is_navigation},
    telemetry::escaped,
};

/// A request made by our own pages: its `Origin` (RFC 6454 §7) is ours,
/// or (for browsers that omit it) Fetch Metadata says
/// `Sec-Fetch-Site: same-origin`. Neither: not ours.
pub fn is_same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.as_bytes() == public_url.as_bytes();
    }
    headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"same-origin")
}

/// What the layer's check needs to know.
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    pub(crate) public_url: Arc<str>,
    /// Where a refused page navigation is sent (`?code=PC-SEC-403`).
    pub(crate) error_page: Arc<str>,
    /// The session cookie's name.
    pub(crate) cookie: &'static str,
    /// Path prefixes the app opened to other sites (webhooks, say).
    pub(crate) cross_site: Arc<[String]>,
}

/// Whether `path` is `prefix` or below it (`/hooks` covers `/hooks/x`,
/// not `/hooksx`).
fn is_under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether the request carries the session cookie: only then can a
/// cross-site request act as someone.
fn has_session_cookie(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .any(|pair| pair.trim_start().split('=').next() == Some(name))
}

/// Middleware: refuses a state-changing request (any method but `GET`,
/// `HEAD`, `OPTIONS` and `TRACE`) to the app's routes that carries the
/// session cookie and is not [same-origin](is_same_origin), with 403 and
/// `PC-SEC-403` as JSON, or for a page navigation a 303 to the error page.
/// Portcullis's own `/auth/` endpoints (the back-channel logout endpoint
/// and callbacks, which providers call cross-site, among them) do their
/// own checks.
pub(crate) async fn writes_are_same_origin(
    State(guard): State<Guard>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if safe
        || is_under(path, "/auth")
        || guard.cross_site.iter().any(|prefix| is_under(path, prefix))
        || !has_session_cookie(request.headers(), guard.cookie)
        || is_same_origin(request.headers(), &guard.public_url)
    {
        return next.run(request).await;
    }
    tracing::warn!(
        method = %request.method(),
        path = %escaped(path),
        "cross-site state-changing request refused"
    );
    let code = ErrorCode::CrossSiteRequest;
    if is_navigation(request.headers()) {
        let mut response =
            Redirect::to(&format!("{}?code={}", guard.error_page, code.code())).into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        response
    } else {
        error_answer(code, code.status(), true)
    }
}

#[cfg(test)]
#[cfg(feature = "testing")]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::{
        Router,
        body::Body,
        http::StatusCode,
        routing::{MethodFilter, on, post},
    };
    use tower::ServiceExt;

    use super::*;
    use crate::{
        Portcullis,
        testing::{self, TestUser},
    };

    /// The app, a signed-in session's cookie, and how many writes ran.
    async fn app(cross_site: &[&str]) -> (Router, String, Arc<AtomicUsize>) {
        let mut builder = Portcullis::builder(testing::settings());
        for prefix in cross_site {
            builder = builder.allow_cross_site(prefix);
        }
        let portcullis = builder.start().await.unwrap();
        let writes = Arc::new(AtomicUsize::new(0));
        let counter = writes.clone();
        let write = move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "written"
            }
        };
        let every_write = MethodFilter::POST
            .or(MethodFilter::PUT)
            .or(MethodFilter::PATCH)
            .or(MethodFilter::DELETE);
        let app = portcullis.mount(
            Router::new()
                .route(
                    "/notes",
                    on(every_write, write.clone()).get(|| async { "notes" }),
                )
                .route("/hooks/stripe", post(write.clone()))
                .route("/hooksx", post(write)),
        );
        let session = portcullis
            .sign_in_for_test(TestUser::new("dana"))
            .await
            .unwrap();
        (app, session.cookie().to_owned(), writes)
    }

    async fn send(app: &Router, request: http::request::Builder) -> Response {
        app.clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_cross_site_write_with_the_session_cookie_is_refused_before_the_handler_runs() {
        let (app, cookie, writes) = app(&[]).await;
        for (origin, site) in [
            (Some("https://evil.example"), None),
            (Some("null"), None),
            (None, Some("cross-site")),
            (None, Some("same-site")),
            (None, None),
        ] {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let mut request = Request::builder()
                    .method(method.clone())
                    .uri("/notes")
                    .header(header::COOKIE, &cookie);
                if let Some(origin) = origin {
                    request = request.header(header::ORIGIN, origin);
                }
                if let Some(site) = site {
                    request = request.header("sec-fetch-site", site);
                }
                let response = send(&app, request).await;
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{method} {origin:?} {site:?}"
                );
                let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                    .await
                    .unwrap();
                assert!(
                    String::from_utf8_lossy(&body).contains("PC-SEC-403"),
                    "{body:?}"
                );
            }
        }
        // A form posted from another site is sent to the error page.
        let form = send(
            &app,
            Request::post("/notes")
                .header(header::COOKIE, &cookie)
                .header(header::ORIGIN, "https://evil.example")
                .header("sec-fetch-mode", "navigate"),
        )
        .await;
        assert_eq!(form.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            form.headers()[header::LOCATION],
            "/auth/error?code=PC-SEC-403"
        );
        assert_eq!(writes.load(Ordering::SeqCst), 0, "no handler ran");
    }

    #[tokio::test]
    async fn same_origin_writes_reads_and_cookieless_calls_reach_the_app() {
        let (app, cookie, writes) = app(&[]).await;
        let ours = "http://127.0.0.1:3000";
        for request in [
            Request::post("/notes")
                .header(header::COOKIE, &cookie)
                .header(header::ORIGIN, ours),
            Request::delete("/notes")
                .header(header::COOKIE, &cookie)
                .header("sec-fetch-site", "same-origin"),
            Request::get("/notes")
                .header(header::COOKIE, &cookie)
                .header(header::ORIGIN, "https://evil.example"),
            // No session cookie: nothing to act as.
            Request::post("/notes").header(header::ORIGIN, "https://evil.example"),
        ] {
            let response = send(&app, request).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
        assert_eq!(writes.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn paths_the_app_opened_to_other_sites_take_cross_site_writes_and_only_those() {
        let (app, cookie, _) = app(&["/hooks"]).await;
        let cross = |path: &str| {
            Request::post(path)
                .header(header::COOKIE, &cookie)
                .header(header::ORIGIN, "https://payments.example")
        };
        assert_eq!(
            send(&app, cross("/hooks/stripe")).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            send(&app, cross("/hooksx")).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            send(&app, cross("/notes")).await.status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn a_path_is_under_a_prefix_only_at_a_segment_boundary() {
        assert!(is_under("/hooks", "/hooks"));
        assert!(is_under("/hooks/a", "/hooks/"));
        assert!(is_under("/hooks/a/b", "/hooks"));
        assert!(!is_under("/hooksx", "/hooks"));
        assert!(!is_under("/auth-x", "/auth"));
    }
}
