//! Back-channel logout (SECURITY.md C1–C3): the provider posts a signed
//! logout token; a valid one ends the matching sessions here with their
//! tokens (200), anything else changes nothing (400). Never cached.

use reqwest::{Client, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::harness::{Rig, TestApp, browser};
use crate::hostile_idp::{CLIENT_ID, SUBJECT, Script, Signing, sign};
use crate::walk::{is_signed_in, sign_in};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A logout token's claims for the session `sid`, as the provider sends it.
fn claims(rig: &Rig, sid: &str) -> Map<String, Value> {
    let Value::Object(claims) = json!({
        "iss": rig.idp.issuer,
        "aud": CLIENT_ID,
        "iat": now(),
        "exp": now() + 120,
        "jti": format!("jti-{}", rand_suffix()),
        "sid": sid,
        "sub": SUBJECT,
        "events": { EVENT: {} },
    }) else {
        unreachable!()
    };
    claims
}

fn rand_suffix() -> String {
    openidconnect::CsrfToken::new_random().secret().clone()
}

async fn post(rig: &Rig, token: &str) -> reqwest::Response {
    browser()
        .post(format!("{}/auth/backchannel/hostile", rig.url))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
}

/// A signed-in browser, and the provider's `sid` for its session.
async fn signed_in(rig: &Rig) -> (Client, String) {
    let client = browser();
    assert_eq!(sign_in(rig, &client).await, "/");
    let sid = rig.idp.calls().sids.last().unwrap().clone();
    (client, sid)
}

/// Posts the token `tamper` makes of a valid one; asserts 400, no-store,
/// and that the session is still signed in.
async fn refused(tamper: impl FnOnce(&mut Map<String, Value>) -> Signing) {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (client, sid) = signed_in(&rig).await;
    let mut claims = claims(&rig, &sid);
    let signing = tamper(&mut claims);
    let response = post(&rig, &sign(&Value::Object(claims), signing)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert!(is_signed_in(&rig, &client).await, "nothing changed");
    assert_eq!(rig.database.count("token_vault").await, 1);
}

#[tokio::test]
async fn a_valid_logout_token_ends_that_session_and_its_tokens_only() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (first, sid) = signed_in(&rig).await;
    let (second, _) = signed_in(&rig).await;
    let response = post(
        &rig,
        &sign(&Value::Object(claims(&rig, &sid)), Signing::Key1),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert!(
        !is_signed_in(&rig, &first).await,
        "the old cookie is anonymous"
    );
    assert!(
        is_signed_in(&rig, &second).await,
        "another session of the same user stays"
    );
    assert_eq!(
        rig.database.count("token_vault").await,
        1,
        "only that session's tokens went"
    );
}

#[tokio::test]
async fn a_logout_token_with_only_sub_ends_every_session_of_the_subject() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (first, sid) = signed_in(&rig).await;
    let (second, _) = signed_in(&rig).await;
    let mut claims = claims(&rig, &sid);
    claims.remove("sid");
    let response = post(&rig, &sign(&Value::Object(claims), Signing::Key1)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!is_signed_in(&rig, &first).await);
    assert!(!is_signed_in(&rig, &second).await);
    assert_eq!(rig.database.count("token_vault").await, 0);
}

#[tokio::test]
async fn a_logout_token_typed_logout_jwt_is_accepted() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (client, sid) = signed_in(&rig).await;
    let token = sign(
        &Value::Object(claims(&rig, &sid)),
        Signing::Key1WithTyp("logout+jwt"),
    );
    assert_eq!(post(&rig, &token).await.status(), StatusCode::OK);
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_logout_token_typed_as_an_access_token_is_refused() {
    refused(|_| Signing::Key1WithTyp("at+jwt")).await;
}

#[tokio::test]
async fn a_replayed_logout_token_is_refused() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (_, sid) = signed_in(&rig).await;
    let token = sign(&Value::Object(claims(&rig, &sid)), Signing::Key1);
    assert_eq!(post(&rig, &token).await.status(), StatusCode::OK);
    let (again, _) = signed_in(&rig).await;
    assert_eq!(post(&rig, &token).await.status(), StatusCode::BAD_REQUEST);
    assert!(is_signed_in(&rig, &again).await);
}

#[tokio::test]
async fn a_logout_token_with_alg_none_is_refused() {
    refused(|_| Signing::AlgNone).await;
}

#[tokio::test]
async fn a_logout_token_hs256_keyed_with_the_public_key_is_refused() {
    refused(|_| Signing::Hs256WithPublicKey).await;
}

#[tokio::test]
async fn a_logout_token_with_a_flipped_signature_is_refused() {
    refused(|_| Signing::FlippedSignature).await;
}

#[tokio::test]
async fn a_logout_token_signed_by_its_own_embedded_jwk_is_refused() {
    refused(|_| Signing::EmbeddedAttackerJwk).await;
}

#[tokio::test]
async fn a_logout_token_without_events_is_refused() {
    refused(|claims| {
        claims.remove("events");
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn a_logout_token_with_the_wrong_event_is_refused() {
    refused(|claims| {
        claims.insert(
            "events".into(),
            json!({ "http://schemas.openid.net/event/other": {} }),
        );
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn a_logout_token_with_a_nonce_is_refused() {
    refused(|claims| {
        claims.insert("nonce".into(), json!("n"));
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn a_logout_token_for_another_audience_is_refused() {
    refused(|claims| {
        claims.insert("aud".into(), json!("another-client"));
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn a_logout_token_from_another_issuer_is_refused() {
    refused(|claims| {
        let iss = claims["iss"].as_str().unwrap().to_owned();
        claims.insert("iss".into(), json!(format!("{iss}1")));
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn a_logout_token_without_sub_or_sid_is_refused() {
    refused(|claims| {
        claims.remove("sub");
        claims.remove("sid");
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn a_logout_token_without_jti_is_refused() {
    refused(|claims| {
        claims.remove("jti");
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn an_expired_logout_token_is_refused() {
    refused(|claims| {
        claims.insert("exp".into(), json!(now() - 10));
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn a_logout_token_issued_an_hour_ago_is_refused() {
    refused(|claims| {
        claims.insert("iat".into(), json!(now() - 3600));
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn a_logout_token_with_iat_as_a_string_is_refused() {
    refused(|claims| {
        claims.insert("iat".into(), json!(now().to_string()));
        Signing::Key1
    })
    .await;
}

#[tokio::test]
async fn an_id_token_is_not_accepted_as_a_logout_token() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (client, _) = signed_in(&rig).await;
    let id_token = rig.idp.calls().issued_tokens.last().unwrap().clone();
    assert!(id_token.starts_with("ey"), "the ID token");
    let response = post(&rig, &id_token).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_logout_token_is_not_accepted_as_an_id_token() {
    let rig = TestApp::hostile(Script {
        claims: |claims, _| {
            claims.remove("nonce");
            claims.insert(
                "events".into(),
                json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
            );
            claims.insert("jti".into(), json!("a-logout-token"));
        },
        ..Script::default()
    })
    .spawn()
    .await;
    let client = browser();
    assert_eq!(
        sign_in(&rig, &client).await,
        "/error?code=PC-AUTH-005&provider=hostile"
    );
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_request_without_a_logout_token_or_for_an_unknown_provider_is_refused() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let empty = browser()
        .post(format!("{}/auth/backchannel/hostile", rig.url))
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let unknown = browser()
        .post(format!("{}/auth/backchannel/nobody", rig.url))
        .form(&[("logout_token", "x.y.z")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(unknown.headers()[header::CACHE_CONTROL], "no-store");
}
