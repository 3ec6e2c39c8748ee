//! One request at a time to an app's router, without a socket (the router
//! comes from [`TestAppBuilder::router`](crate::harness::TestAppBuilder::router)).

use axum::{Router, body::Body};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

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
