//! An OpenID Connect provider whose discovery document is missing or wrong,
//! configured by its endpoints and keys instead: signing in, live data,
//! refresh, a signing-key rotation and sign-out all work without
//! discovery, and every ID-token check still holds.

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::harness::{Rig, TestApp, browser};
use crate::hostile_idp::{HostileIdp, Script, Signing};
use crate::walk::{error, is_signed_in, live, sign_in, sign_out};

/// The app with the scripted provider described by its endpoints, its
/// discovery document broken (it names another issuer, which discovery
/// would refuse), access tokens due for refresh at first use.
async fn without_discovery(script: Script) -> Rig {
    without_discovery_and(script, &[]).await
}

/// The same, with more settings.
async fn without_discovery_and(script: Script, more: &[(&str, &str)]) -> Rig {
    let idp = HostileIdp::start(Script {
        discovery: |document, _| {
            document.insert("issuer".into(), json!("https://somewhere.else.example"));
            document.remove("jwks_uri");
        },
        access_token_ttl: 1,
        ..script
    })
    .await;
    let base = idp.base();
    let endpoint = |path: &str| format!("{base}{path}");
    let vars = [
        ("HOSTILE_AUTHORIZE_URL", endpoint("/authorize")),
        ("HOSTILE_TOKEN_URL", endpoint("/token")),
        ("HOSTILE_JWKS_URI", endpoint("/jwks")),
        ("HOSTILE_USERINFO_URL", endpoint("/userinfo")),
        ("HOSTILE_END_SESSION_URL", endpoint("/session/end")),
        ("HOSTILE_REVOCATION_URL", endpoint("/revoke")),
        ("BACKGROUND_REFRESH_SECONDS", "0".into()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::with_hostile(idp)
        .vars(&vars)
        .vars(more)
        .spawn()
        .await
}

async fn signed_in(script: Script) -> (Rig, Client) {
    let rig = without_discovery(script).await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    (rig, client)
}

#[tokio::test]
async fn a_provider_with_a_broken_discovery_document_signs_in_refreshes_and_signs_out_by_its_endpoints()
 {
    let (rig, client) = signed_in(Script::default()).await;
    assert!(is_signed_in(&rig, &client).await);

    // Live data: the access token is refreshed first (its lifetime is a
    // second), the refreshed ID token checked with the given keys, and
    // userinfo called at the given endpoint.
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let calls = rig.idp.calls();
    assert_eq!(calls.refreshes, 1);
    assert!(calls.userinfo >= 1);

    // Sign-out revokes at the given endpoint and ends the provider
    // session at the given one.
    let out = sign_out(&client, &rig.url).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let to = out.headers()["location"].to_str().unwrap();
    assert!(
        to.starts_with(&format!("{}/session/end?", rig.idp.base())),
        "{to}"
    );
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_key_the_provider_starts_signing_with_is_fetched_from_the_given_keys() {
    let (rig, client) = signed_in(Script::default()).await;
    let jwks_before = rig.idp.calls().jwks;
    rig.idp.rescript(|script| {
        script.published = vec![Signing::Key1, Signing::Key2];
        script.signing = Signing::Key2;
    });

    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(rig.idp.calls().jwks, jwks_before + 1, "fetched again once");
    assert!(is_signed_in(&rig, &client).await);
    // A new sign-in, signed with the new key, is accepted too.
    assert_eq!(sign_in(&rig, &browser()).await, "/");
}

#[tokio::test]
async fn without_discovery_an_id_token_from_another_issuer_or_unsigned_is_still_refused() {
    let rig = without_discovery(Script {
        claims: |claims, _| {
            claims.insert("iss".into(), json!("https://somewhere.else.example"));
        },
        ..Script::default()
    })
    .await;
    assert_eq!(sign_in(&rig, &browser()).await, error("PC-AUTH-005"));

    for signing in [Signing::AlgNone, Signing::Hs256WithPublicKey] {
        let rig = without_discovery(Script {
            signing,
            ..Script::default()
        })
        .await;
        assert_eq!(sign_in(&rig, &browser()).await, error("PC-AUTH-005"));
    }
}

#[tokio::test]
async fn a_provider_said_to_send_iss_in_its_callbacks_is_refused_without_it() {
    let sends_iss = [("HOSTILE_AUTHORIZATION_RESPONSE_ISS", "true")];
    let rig = without_discovery_and(
        Script {
            announces_iss: true,
            ..Script::default()
        },
        &sends_iss,
    )
    .await;
    assert_eq!(sign_in(&rig, &browser()).await, "/");

    let rig = without_discovery_and(
        Script {
            announces_iss: true,
            callback: |params, _| params.retain(|(name, _)| name != "iss"),
            ..Script::default()
        },
        &sends_iss,
    )
    .await;
    assert_eq!(sign_in(&rig, &browser()).await, error("PC-AUTH-005"));
}
