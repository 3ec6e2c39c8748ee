//! Security properties of the sign-in, checked against the real local
//! identity provider (SECURITY.md A2, A7, D1, D2).

use std::collections::HashSet;

use reqwest::{StatusCode, Url, header};

use crate::harness::{TestApp, browser};
use crate::login::{complete_at_provider, sign_in_at_provider};
use crate::walk::location;

fn query(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

/// The session cookie's value from a response's Set-Cookie, if it sets one.
fn session_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// A Set-Cookie value's attributes, lower-cased ("httponly", "path=/", …).
fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn every_login_gets_a_fresh_s256_challenge_state_and_nonce() {
    let app = TestApp::local().spawn().await;
    let (mut challenges, mut states, mut nonces) = (HashSet::new(), HashSet::new(), HashSet::new());
    for _ in 0..5 {
        let start = browser()
            .get(format!("{}/auth/sign-in/local", app.url))
            .send()
            .await
            .unwrap();
        let authorize = query(&location(&app.url, &start));
        assert_eq!(param(&authorize, "response_type"), "code");
        assert_eq!(param(&authorize, "code_challenge_method"), "S256");
        let challenge = param(&authorize, "code_challenge");
        assert_eq!(challenge.len(), 43, "SHA-256 in base64url");
        assert!(param(&authorize, "scope").split(' ').any(|s| s == "openid"));
        challenges.insert(challenge);
        states.insert(param(&authorize, "state"));
        nonces.insert(param(&authorize, "nonce"));
    }
    assert_eq!((challenges.len(), states.len(), nonces.len()), (5, 5, 5));
}

#[tokio::test]
async fn the_redirect_uri_comes_from_configuration_not_the_host_header() {
    let app = TestApp::local().spawn().await;
    // Another host: sent to the configured origin, nothing started.
    let elsewhere = browser()
        .get(format!("{}/auth/sign-in/local", app.url))
        .header(header::HOST, "evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        elsewhere.headers()[header::LOCATION],
        format!("{}/auth/sign-in/local", app.url).as_str()
    );
    assert!(elsewhere.headers().get(header::SET_COOKIE).is_none());
    // Behind a proxy that names the configured host, whatever `Host` says.
    let public_host = app.url.trim_start_matches("http://").to_owned();
    let start = browser()
        .get(format!("{}/auth/sign-in/local", app.url))
        .header(header::HOST, "evil.test")
        .header("x-forwarded-host", public_host)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = query(&location(&app.url, &start));
    assert_eq!(
        param(&authorize, "redirect_uri"),
        format!("{}/auth/callback/local", app.url)
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_host_wide_and_the_id_changes_at_sign_in() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let start = client
        .get(format!("{}/auth/sign-in/local", app.url))
        .send()
        .await
        .unwrap();
    let before = session_cookie(&start, "portcullis").expect("login sets the session cookie");
    let attributes = cookie_attributes(&before);
    assert!(attributes.contains(&"httponly".into()), "{before}");
    assert!(attributes.contains(&"samesite=lax".into()), "{before}");
    assert!(attributes.contains(&"path=/".into()), "{before}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{before}"
    );
    assert!(
        !attributes.contains(&"secure".into()),
        "plain http in tests: {before}"
    );

    // Finish that sign-in: the id the browser held before must not be the
    // authenticated one (session fixation, SECURITY.md D2).
    let planted = before.split(';').next().unwrap().to_owned();
    let callback = complete_at_provider(&client, &app, location(&app.url, &start), "demo").await;
    let back = client.get(&callback).send().await.unwrap();
    let after = session_cookie(&back, "portcullis").expect("sign-in renews the session cookie");
    assert_ne!(after.split(';').next().unwrap(), planted);

    let signed_in = client
        .get(format!("{}/auth/user", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let stranger = reqwest::Client::new()
        .get(format!("{}/auth/user", app.url))
        .header(header::COOKIE, &planted)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stranger.status(),
        StatusCode::UNAUTHORIZED,
        "the planted id is not signed in"
    );
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_with_the_host_prefix() {
    let app = TestApp::local()
        .public_url("https://app.portcullis.test")
        .spawn()
        .await;
    // The server listens on plain http behind an imagined TLS proxy.
    let socket = app.url.clone();
    let start = browser()
        .get(format!("{socket}/auth/sign-in/local"))
        .header("x-forwarded-host", "app.portcullis.test")
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&start, "__Host-portcullis").expect("__Host- cookie over https");
    let attributes = cookie_attributes(&cookie);
    assert!(attributes.contains(&"secure".into()), "{cookie}");
    assert!(attributes.contains(&"path=/".into()), "{cookie}");
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{cookie}"
    );
    let authorize = query(&location(&socket, &start));
    assert_eq!(
        param(&authorize, "redirect_uri"),
        "https://app.portcullis.test/auth/callback/local"
    );
}

#[tokio::test]
async fn over_https_signing_out_removes_the_host_prefixed_cookie() {
    let app = TestApp::local()
        .public_url("https://app.portcullis.test")
        .spawn()
        .await;
    let socket = app.url.clone();
    let start = browser()
        .get(format!("{socket}/auth/sign-in/local"))
        .header("x-forwarded-host", "app.portcullis.test")
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&start, "__Host-portcullis").unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let out = browser()
        .post(format!("{socket}/auth/logout"))
        .header("x-forwarded-host", "app.portcullis.test")
        .header(header::ORIGIN, "https://app.portcullis.test")
        .header(header::COOKIE, pair)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let removal = session_cookie(&out, "__Host-portcullis").expect("a removal cookie");
    let attributes = cookie_attributes(&removal);
    // Browsers ignore a `__Host-` cookie without `Secure`, removals too.
    assert!(attributes.contains(&"secure".into()), "{removal}");
    assert!(attributes.contains(&"path=/".into()), "{removal}");
    assert!(
        attributes
            .iter()
            .any(|a| a.starts_with("max-age=0") || a.starts_with("expires=")),
        "{removal}"
    );
}

#[tokio::test]
async fn a_page_or_sign_in_at_another_host_name_goes_to_the_configured_origin_first() {
    let app = TestApp::local().spawn().await;
    let port = app.url.rsplit(':').next().unwrap().to_owned();
    for path in [
        "/",
        "/profile?tab=1",
        "/auth/sign-in/local?return_to=%2Fprofile",
    ] {
        let response = browser()
            .get(format!("{}{path}", app.url))
            .header(header::HOST, format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(
            response.headers()[header::LOCATION],
            format!("{}{path}", app.url).as_str()
        );
        assert!(
            response.headers().get(header::SET_COOKIE).is_none(),
            "no session state made at the other host"
        );
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
}

#[tokio::test]
async fn health_probes_and_the_back_channel_answer_at_any_host_name() {
    let app = TestApp::local().spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = browser()
            .get(format!("{}{path}", app.url))
            .header(header::HOST, "10.0.0.7:8080")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let backchannel = browser()
        .post(format!("{}/auth/backchannel/local", app.url))
        .header(header::HOST, "internal.example")
        .form(&[("logout_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        backchannel.status(),
        StatusCode::BAD_REQUEST,
        "answered, not sent away"
    );
}

#[tokio::test]
async fn the_user_endpoint_is_401_when_anonymous_and_view_data_only_when_signed_in() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let anonymous = client
        .get(format!("{}/auth/user", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()[header::CACHE_CONTROL], "no-store");
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], "PC-AUTH-401", "a stable code: {body}");

    let callback = sign_in_at_provider(&client, &app, "demo", "/").await;
    client.get(&callback).send().await.unwrap();
    let response = client
        .get(format!("{}/auth/user", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let user: serde_json::Value = response.json().await.unwrap();
    let issuer = user["issuer"].as_str().unwrap().to_owned();
    let subject = user["subject"].as_str().unwrap().to_owned();
    assert!(!subject.is_empty(), "{user}");
    assert_eq!(
        user,
        serde_json::json!({
            "account": user["account"],
            "provider": "local",
            "issuer": issuer,
            "subject": subject,
            "name": "Dana Demo",
            "email": "demo@portcullis.test",
            "email_verified": true,
            "picture": null,
        }),
        "the user's identity and profile, nothing that points at a token"
    );
}
