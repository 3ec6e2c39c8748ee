//! Server functions called the way the browser calls them.

use axum::body::Body;
use http::{Request, header};

use crate::harness::TestApp;
use crate::oneshot::send;

fn call(endpoint: &str) -> Request<Body> {
    Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        // What a browser sends with our own pages' calls.
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn status_reports_version_and_provider_availability() {
    let res = send(TestApp::unreachable().router().await, call("status")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let status: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["providers_total"], 1);
    // The test provider's issuer does not answer.
    assert_eq!(status["providers_available"], 0);
}

#[tokio::test]
async fn provider_list_carries_view_data_only() {
    let res = send(TestApp::unreachable().router().await, call("providers")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let providers: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(
        providers,
        serde_json::json!([{
            "id": "local",
            "label": "Local Test IdP",
            "available": false,
            "icon": null
        }])
    );
}

#[tokio::test]
async fn anonymous_current_user_is_none() {
    let res = send(TestApp::unreachable().router().await, call("current_user")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body, "null");
}

#[tokio::test]
async fn a_cross_site_or_originless_call_is_refused_before_the_function_runs() {
    for origin in [Some("https://evil.test"), None] {
        let mut request = Request::post("/api/status")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let res = send(
            TestApp::unreachable().router().await,
            request.body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(res.status, 403, "{origin:?}: {}", res.body);
        assert!(res.body.contains("PC-SEC-403"), "{}", res.body);
        assert!(!res.body.contains("version"), "the function did not run");
    }
    let fetch_metadata = Request::post("/api/status")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(TestApp::unreachable().router().await, fetch_metadata)
            .await
            .status,
        200
    );
}
