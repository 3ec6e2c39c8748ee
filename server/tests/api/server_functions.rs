//! Server functions called the way the browser calls them.

use axum::body::Body;
use http::{Request, header};

use crate::helpers::{app, send};

fn call(endpoint: &str) -> Request<Body> {
    Request::post(format!("/api/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn status_reports_version_and_provider_availability() {
    let res = send(app().await, call("status")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let status: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["providers_total"], 1);
    // The test provider's issuer does not answer.
    assert_eq!(status["providers_available"], 0);
}

#[tokio::test]
async fn provider_list_carries_view_data_only() {
    let res = send(app().await, call("providers")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let providers: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(
        providers,
        serde_json::json!([{ "id": "local", "label": "Local Test IdP", "available": false }])
    );
}

#[tokio::test]
async fn anonymous_current_user_is_none() {
    let res = send(app().await, call("current_user")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body, "null");
}
