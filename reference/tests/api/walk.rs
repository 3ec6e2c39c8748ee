//! A browser's walk through a sign-in with the scripted provider, one
//! redirect at a time, with what it receives recorded for the canary hunt
//! ([`saw`]).

use reqwest::{Client, StatusCode, header};

use crate::harness::{Rig, saw};

/// The absolute URL a redirect from `base` points at.
pub fn location(base: &str, response: &reqwest::Response) -> String {
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    reqwest::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// What `/auth/user` at `base` answers the browser.
pub async fn user_status(client: &Client, base: &str) -> StatusCode {
    client
        .get(format!("{base}/auth/user"))
        .send()
        .await
        .unwrap()
        .status()
}

pub fn error(code: &str) -> String {
    format!("/error?code={code}&provider=hostile")
}

/// Starts a sign-in; returns the provider's authorization URL.
pub async fn start(rig: &Rig, client: &Client) -> String {
    let url = format!("{}/auth/sign-in/hostile", rig.url);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let authorize = location(&url, &response);
    saw(&authorize);
    // At the provider (whose issuer may add a path to where it is).
    assert!(authorize.starts_with(&rig.idp.base()), "{authorize}");
    authorize
}

/// The `state` of an authorization request URL.
pub fn state_of(authorize: &str) -> String {
    reqwest::Url::parse(authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// Lets the provider answer; returns the callback URL it sends back.
pub async fn authorize(rig: &Rig, client: &Client, authorize: &str) -> String {
    let response = client.get(authorize).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = location(authorize, &response);
    saw(&callback);
    assert!(callback.starts_with(&rig.url), "{callback}");
    callback
}

/// Delivers the callback; returns where Portcullis sends the browser.
pub async fn finish(client: &Client, callback: &str) -> String {
    let response = client.get(callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{callback}");
    saw(&format!("{:?}", response.headers()));
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A whole sign-in; returns where it ends.
pub async fn sign_in(rig: &Rig, client: &Client) -> String {
    let authorize_url = start(rig, client).await;
    let callback = authorize(rig, client, &authorize_url).await;
    finish(client, &callback).await
}

pub async fn is_signed_in(rig: &Rig, client: &Client) -> bool {
    let response = client
        .get(format!("{}/auth/user", rig.url))
        .send()
        .await
        .unwrap();
    let status = response.status();
    saw(&response.text().await.unwrap_or_default());
    match status {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("/auth/user answered {other}"),
    }
}

/// `POST /api/live_profile` at `base`: the server fetches the provider's
/// data with a fresh token. Returns the status and JSON answer.
pub async fn live(client: &Client, base: &str) -> (StatusCode, serde_json::Value) {
    let response = client
        .post(format!("{base}/api/live_profile"))
        .header(header::ORIGIN, base)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    saw(&body);
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// `count` live-data requests at once, spread over `bases` in turn; asserts
/// every one succeeded.
pub async fn live_everywhere(client: &Client, bases: &[String], count: usize) {
    let calls = (0..count).map(|i| live(client, &bases[i % bases.len()]));
    for (status, answer) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

/// The ID token the provider issued first (at sign-in).
pub fn first_id_token(rig: &Rig) -> String {
    rig.idp
        .calls()
        .issued_tokens
        .into_iter()
        .find(|t| t.matches('.').count() == 2)
        .unwrap()
}

/// Signs out at `base` the way the app's own page does: a same-origin
/// `POST /auth/logout`.
pub async fn sign_out(client: &Client, base: &str) -> reqwest::Response {
    client
        .post(format!("{base}/auth/logout"))
        .header(header::ORIGIN, base)
        .send()
        .await
        .unwrap()
}

/// The `id_token_hint` sign-out sends the browser to the provider with:
/// the ID token the vault holds.
pub async fn id_token_hint(rig: &Rig, client: &Client) -> String {
    let out = sign_out(client, &rig.url).await;
    let end_session = out.headers()[header::LOCATION].to_str().unwrap();
    reqwest::Url::parse(end_session)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "id_token_hint")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}
