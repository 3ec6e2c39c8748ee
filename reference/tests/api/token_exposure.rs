//! Tokens stay on the server: after a whole sign-in, page views, the JSON
//! and server-function endpoints and a sign-out, none of the tokens the
//! provider issued appears in anything the browser received (status,
//! headers, redirect URLs, HTML with its hydration data, JSON) or in any
//! log line. The one exception is by the RP-Initiated Logout spec's
//! design: the redirect that ends the provider session carries the ID
//! token as `id_token_hint` (never the access or refresh token).

use reqwest::{Client, RequestBuilder, header};

use crate::harness::TestApp;
use crate::walk::{authorize, start};
use crate::{hostile_idp::Script, log_capture};

/// Sends `request`; returns everything the browser gets to see of it.
async fn seen(request: RequestBuilder) -> String {
    let response = request.send().await.unwrap();
    let mut text = format!("{} {}\n", response.status(), response.url());
    for (name, value) in response.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            value.to_str().unwrap_or("<bytes>")
        ));
    }
    text.push_str(&response.text().await.unwrap());
    text
}

fn server_fn(client: &Client, base: &str, endpoint: &str) -> RequestBuilder {
    client
        .post(format!("{base}/api/{endpoint}"))
        .header(header::ORIGIN, base)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("")
}

#[tokio::test]
async fn tokens_never_reach_the_browser_the_urls_or_the_log() {
    log_capture::start();
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = crate::harness::browser();
    let base = rig.url.as_str();

    let mut browser_saw = String::new();
    let authorize_url = start(&rig, &client).await;
    browser_saw.push_str(&authorize_url);
    let callback = authorize(&rig, &client, &authorize_url).await;
    browser_saw.push_str(&callback);
    browser_saw.push_str(&seen(client.get(&callback)).await);
    for path in ["/", "/profile", "/auth/user", "/error?code=PC-AUTH-005"] {
        browser_saw.push_str(&seen(client.get(format!("{base}{path}"))).await);
    }
    for endpoint in ["current_user", "providers", "status"] {
        browser_saw.push_str(&seen(server_fn(&client, base, endpoint)).await);
    }
    let out = client
        .post(format!("{base}/auth/logout"))
        .header(header::ORIGIN, base)
        .send()
        .await
        .unwrap();
    let end_session = out.headers()[header::LOCATION].to_str().unwrap().to_owned();
    browser_saw.push_str(&out.text().await.unwrap());
    browser_saw.push_str(&seen(client.get(format!("{base}/auth/logged-out"))).await);

    // The walk really was signed in, and the log really is captured.
    assert!(browser_saw.contains("Harriet Hostile"), "{browser_saw}");
    let log = log_capture::text();
    assert!(log.contains("user signed in"), "log capture works");

    let issued = rig.idp.calls().issued_tokens;
    assert_eq!(issued.len(), 3, "access, refresh and ID token");
    for token in &issued {
        assert!(
            !browser_saw.contains(token.as_str()),
            "token reached the browser: {token}"
        );
        assert!(!log.contains(token.as_str()), "token in the log: {token}");
    }
    let (access, refresh, id) = (&issued[0], &issued[1], &issued[2]);
    let hint = reqwest::Url::parse(&end_session)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "id_token_hint")
        .map(|(_, v)| v.into_owned());
    assert_eq!(hint.as_ref(), Some(id), "the ID token, as id_token_hint");
    for token in [access, refresh] {
        assert!(!end_session.contains(token.as_str()));
    }
}
