//! Anonymous callers who send what no browser would: every refusal is the
//! project's page or JSON with a stable code, never bare text, never
//! internal detail, and nothing they send can forge a log line.

use axum::body::Body;
use http::{Request, StatusCode, header};
use serde_json::Value;

use crate::harness::{TestApp, browser};
use crate::{
    hostile_idp::{Script, Signing, sign},
    oneshot::{get, send},
};

/// The answer is the project's page with `code`, not plain text.
fn is_error_page(response: &crate::oneshot::TestResponse, code: &str) -> bool {
    response.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html")
        && response.body.contains(code)
}

#[tokio::test]
async fn a_query_string_the_router_cannot_read_gets_the_error_page_with_a_code() {
    for path in [
        "/auth/callback/local?state=a&state=b",
        "/auth/callback/local?code=a&code=b&state=x",
        "/auth/sign-in/local?return_to=%2F&return_to=%2Fprofile",
    ] {
        let answer = get(TestApp::unreachable().router().await, path).await;
        assert!(answer.status.is_client_error(), "{path}: {}", answer.status);
        assert!(
            is_error_page(&answer, "PC-WEB-400"),
            "{path}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn a_method_or_body_a_route_does_not_take_gets_a_page_or_json_with_a_code() {
    let not_allowed = send(
        TestApp::unreachable().router().await,
        Request::delete("/auth/logout").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(not_allowed.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(not_allowed.headers[header::ALLOW], "POST");
    assert!(
        is_error_page(&not_allowed, "PC-WEB-400"),
        "{}",
        not_allowed.body
    );

    let wrong_kind = send(
        TestApp::unreachable().router().await,
        Request::post("/auth/backchannel/local")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(wrong_kind.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = serde_json::from_str(&wrong_kind.body).unwrap();
    assert_eq!(body["error"], "PC-WEB-400", "{body}");
}

#[tokio::test]
async fn a_refused_logout_token_gets_a_fixed_answer_without_internal_detail() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let forged = sign(
        &serde_json::json!({ "iss": "https://evil.test", "aud": "x", "iat": 0 }),
        Signing::UnknownKid,
    );
    for token in [forged.as_str(), "not.a.jwt", "eyJhbGciOiJub25lIn0.e30."] {
        let answer = browser()
            .post(format!("{}/auth/backchannel/hostile", rig.url))
            .form(&[("logout_token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "error": "invalid_request",
                "error_description": "The logout token was not accepted.",
            })
        );
    }
}

#[tokio::test]
async fn a_callback_error_parameter_cannot_forge_a_log_line() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let forged = "access_denied\n2026-11-30T00:00:00.000000Z  INFO user signed in FORGED-LINE";
    let encoded: String = url::form_urlencoded::byte_serialize(forged.as_bytes()).collect();
    let client = browser();
    let authorize = crate::walk::start(&rig, &client).await;
    let state = crate::walk::state_of(&authorize);
    let answer = client
        .get(format!(
            "{}/auth/callback/hostile?error={encoded}&state={state}",
            rig.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let log = crate::log_capture::text();
    assert!(log.contains("FORGED-LINE"), "the refusal was logged");
    assert!(
        !log.lines()
            .any(|line| line.contains("FORGED-LINE") && line.starts_with("2026-11-30T00")),
        "no log line of the caller's making"
    );
}

#[tokio::test]
async fn a_provider_that_never_answers_stalls_no_page_while_people_try_to_sign_in_with_it() {
    // An issuer that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::without_provider()
        .vars(&[
            ("AUTH_PROVIDERS", "silent"),
            ("SILENT_ISSUER", issuer.as_str()),
            ("SILENT_CLIENT_ID", "client"),
            ("SILENT_CLIENT_SECRET", "secret"),
            ("PROVIDER_TIMEOUT_SECONDS", "3"),
        ])
        .spawn()
        .await;
    let url = app.url.clone();
    // Past the backoff of the failed discovery at start: the next sign-in
    // tries again, and hangs with the issuer.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                browser()
                    .get(format!("{url}/auth/sign-in/silent"))
                    .send()
                    .await
                    .map(|answer| answer.headers().get(header::LOCATION).cloned())
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for path in ["/", "/profile", "/readyz"] {
        let started = std::time::Instant::now();
        let answer = browser()
            .get(format!("{url}{path}"))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert!(
            !answer.status().is_server_error() || path == "/readyz",
            "{path}"
        );
        assert!(
            took < std::time::Duration::from_secs(1),
            "{path} took {took:?} while a discovery hung"
        );
    }
    for attempt in attempts {
        let location = attempt.await.unwrap().unwrap().unwrap();
        assert_eq!(location, "/error?code=PC-AUTH-004&provider=silent");
    }
}

#[tokio::test]
async fn past_its_limit_a_client_gets_429_with_retry_after_and_the_error_page() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[
            ("RATE_LIMIT_SIGN_IN_PER_MINUTE", "3"),
            ("CLIENT_IP_HEADER", "X-Forwarded-For"),
        ])
        .spawn()
        .await;
    let attempt = |client_ip: &'static str| {
        let url = format!("{}/auth/sign-in/hostile", rig.url);
        async move {
            browser()
                .get(url)
                .header("x-forwarded-for", format!("198.51.100.9, {client_ip}"))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt("203.0.113.1").await.status(), StatusCode::SEE_OTHER);
    }
    let limited = attempt("203.0.113.1").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&retry_after), "{retry_after}");
    assert!(
        limited.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(limited.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(limited.text().await.unwrap().contains("PC-SEC-429"));
    // Another client is not held back by the first.
    assert_eq!(attempt("203.0.113.2").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(rig.idp.calls().authorize, 0, "no provider call for anyone");
}

#[tokio::test]
async fn the_back_channel_endpoint_answers_429_in_json_past_its_limit() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[("RATE_LIMIT_BACKCHANNEL_PER_MINUTE", "2")])
        .spawn()
        .await;
    let post = || {
        browser()
            .post(format!("{}/auth/backchannel/hostile", rig.url))
            .form(&[("logout_token", "x.y.z")])
            .send()
    };
    for _ in 0..2 {
        assert_eq!(post().await.unwrap().status(), StatusCode::BAD_REQUEST);
    }
    let limited = post().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "PC-SEC-429", "{body}");
}
