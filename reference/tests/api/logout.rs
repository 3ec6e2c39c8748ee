//! Signing out (SECURITY.md C4–C6): the local session and its tokens go
//! first, whatever the provider does; then the refresh token is revoked
//! and the browser is sent to end the provider session too.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};

use crate::harness::{TestApp, browser};
use crate::walk::{is_signed_in, sign_in, sign_out};
use crate::{
    hostile_idp::{Calls, HostileIdp, Revocation, Script},
    login::url_encode,
};

/// Waits until the provider has seen what `done` looks for.
async fn eventually(idp: &HostileIdp, done: impl Fn(&Calls) -> bool) -> Calls {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let calls = idp.calls();
        if done(&calls) || Instant::now() > deadline {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn logout_ends_the_local_session_first_then_the_provider_session_with_id_token_hint_and_state()
 {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert_eq!(
        (
            rig.database.count("logins").await,
            rig.database.count("token_vault").await
        ),
        (1, 1)
    );

    let out = sign_out(&client, &rig.url).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    // Before the browser even reaches the provider, it is signed out here.
    assert!(!is_signed_in(&rig, &client).await);
    assert_eq!(
        (
            rig.database.count("logins").await,
            rig.database.count("token_vault").await
        ),
        (0, 0)
    );

    let end_session = out.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(end_session.starts_with(&format!("{}/session/end?", rig.idp.issuer)));
    let back = client.get(&end_session).send().await.unwrap();
    let calls = rig.idp.calls();
    let request = &calls.end_session[0];
    let id_token = calls.issued_tokens.last().unwrap();
    assert_eq!(request.get("id_token_hint"), Some(id_token));
    assert_eq!(
        request.get("post_logout_redirect_uri").cloned(),
        Some(format!("{}/auth/logged-out", rig.url))
    );
    let state = request.get("state").cloned().unwrap_or_default();
    assert!(state.len() >= 16, "a random state");
    assert_eq!(
        back.headers()[header::LOCATION].to_str().unwrap(),
        format!("{}/auth/logged-out?state={}", rig.url, url_encode(&state))
    );
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    sign_in(&rig, &client).await;
    sign_out(&client, &rig.url).await;
    let calls = eventually(&rig.idp, |c| !c.revoked.is_empty()).await;
    let refresh = calls
        .issued_tokens
        .iter()
        .find(|t| t.starts_with("hostile-rt-"))
        .unwrap();
    assert_eq!(
        calls.revoked,
        [(refresh.clone(), "refresh_token".to_owned())]
    );
}

#[tokio::test]
async fn a_failing_revocation_still_leaves_the_user_signed_out() {
    let rig = TestApp::hostile(Script {
        revocation: Revocation::Fail,
        ..Script::default()
    })
    .spawn()
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    sign_out(&client, &rig.url).await;
    let calls = eventually(&rig.idp, |c| !c.revoked.is_empty()).await;
    assert_eq!(calls.revoked.len(), 1, "revocation was tried");
    assert!(!is_signed_in(&rig, &client).await);
    assert_eq!(rig.database.count("token_vault").await, 0);
}

#[tokio::test]
async fn a_provider_hanging_at_logout_neither_delays_nor_undoes_it() {
    let rig = TestApp::hostile(Script {
        revocation: Revocation::Slow(Duration::from_secs(30)),
        ..Script::default()
    })
    .vars(&[("PROVIDER_TIMEOUT_SECONDS", "2")])
    .spawn()
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    let started = Instant::now();
    let out = sign_out(&client, &rig.url).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(started.elapsed() < Duration::from_secs(2), "not held up");
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn logout_by_get_or_from_another_site_leaves_the_user_signed_in() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    sign_in(&rig, &client).await;
    let by_get = client
        .get(format!("{}/auth/logout", rig.url))
        .send()
        .await
        .unwrap();
    assert_eq!(by_get.status(), StatusCode::METHOD_NOT_ALLOWED);
    let cross_site = client
        .post(format!("{}/auth/logout", rig.url))
        .header(header::ORIGIN, "https://evil.test")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cross_site.headers()[header::LOCATION],
        "/error?code=PC-SEC-403"
    );
    assert!(is_signed_in(&rig, &client).await);
    assert!(rig.idp.calls().revoked.is_empty());
}

#[tokio::test]
async fn only_our_exact_origin_or_same_origin_fetch_metadata_may_sign_out() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    sign_in(&rig, &client).await;
    let post = |origin: Option<String>, fetch_site: Option<&'static str>| {
        let mut request = client.post(format!("{}/auth/logout", rig.url));
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    let refused = [
        // Our origin as a prefix of another host's, or with a path.
        (Some(format!("{}.evil.test", rig.url)), None),
        (Some(format!("{}/", rig.url)), None),
        (Some(format!("{}0", rig.url)), None),
        (Some("null".to_owned()), Some("same-origin")),
        // No Origin: only Fetch Metadata's "same-origin" will do.
        (None, Some("cross-site")),
        (None, Some("same-site")),
        (None, Some("none")),
        (None, Some("same-origin, cross-site")),
        (None, None),
    ];
    for (origin, fetch_site) in refused {
        let answer = post(origin.clone(), fetch_site).await.unwrap();
        assert_eq!(
            answer.headers()[header::LOCATION],
            "/error?code=PC-SEC-403",
            "{origin:?} / {fetch_site:?}"
        );
        assert!(
            is_signed_in(&rig, &client).await,
            "{origin:?} / {fetch_site:?}"
        );
    }
    // A browser that omits Origin but says same-origin signs out.
    let ours = post(None, Some("same-origin")).await.unwrap();
    assert_eq!(ours.status(), StatusCode::SEE_OTHER);
    assert_ne!(ours.headers()[header::LOCATION], "/error?code=PC-SEC-403");
    assert!(!is_signed_in(&rig, &client).await);
}
