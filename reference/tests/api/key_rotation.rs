//! Signing-key rotation on every path that checks a provider's signature
//! (sign-in, refresh, back-channel logout, signed userinfo): a key the
//! provider starts using is looked up at once, keys are fetched again when
//! their cache lifetime ends (so a withdrawn key stops being trusted), and
//! keys that cannot be fetched are a temporary failure that signs nobody
//! out.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::harness::{Rig, TestApp, browser};
use crate::hostile_idp::{CLIENT_ID, SUBJECT, Script, Signing, sign};
use crate::walk::{error, first_id_token, id_token_hint, is_signed_in, live, sign_in};

const UNAVAILABLE: &str = "PC-AUTH-004";
const INVALID: &str = "PC-AUTH-005";

/// A signed-in browser against `script`, background refresh off, access
/// tokens due for refresh at their first use.
async fn signed_in(script: Script) -> (Rig, Client) {
    let rig = TestApp::hostile(Script {
        access_token_ttl: 1,
        ..script
    })
    .vars(&[("BACKGROUND_REFRESH_SECONDS", "0")])
    .spawn()
    .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    (rig, client)
}

/// The provider publishes key 2 beside key 1 and signs with it from now on.
fn rotate(rig: &Rig) {
    rig.idp.rescript(|script| {
        script.published = vec![Signing::Key1, Signing::Key2];
        script.signing = Signing::Key2;
    });
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A logout token for the last session the provider issued, signed so.
fn logout_token(rig: &Rig, signing: Signing, jti: &str) -> String {
    let sid = rig.idp.calls().sids.last().unwrap().clone();
    let claims = json!({
        "iss": rig.idp.issuer,
        "aud": CLIENT_ID,
        "iat": now(),
        "exp": now() + 120,
        "jti": jti,
        "sid": sid,
        "sub": SUBJECT,
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    sign(&claims, signing)
}

async fn post_logout(rig: &Rig, token: &str) -> StatusCode {
    browser()
        .post(format!("{}/auth/backchannel/hostile", rig.url))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_refreshed_id_token_signed_with_a_newly_published_key_keeps_the_user_signed_in() {
    let (rig, client) = signed_in(Script::default()).await;
    let jwks_before = rig.idp.calls().jwks;
    rotate(&rig);

    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(is_signed_in(&rig, &client).await);
    let calls = rig.idp.calls();
    assert_eq!(calls.refreshes, 1);
    assert_eq!(
        calls.jwks,
        jwks_before + 1,
        "the keys were fetched once more"
    );
}

#[tokio::test]
async fn a_logout_token_signed_with_a_newly_published_key_signs_the_user_out() {
    let (rig, client) = signed_in(Script::default()).await;
    rotate(&rig);
    let token = logout_token(&rig, Signing::Key2, "rotated-1");
    assert_eq!(post_logout(&rig, &token).await, StatusCode::OK);
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_signed_userinfo_answer_with_a_newly_published_key_still_loads() {
    let (rig, client) = signed_in(Script {
        userinfo_signed: Some(Signing::Key1),
        access_token_ttl: 3600,
        ..Script::default()
    })
    .await;
    rig.idp.rescript(|script| {
        script.published = vec![Signing::Key1, Signing::Key2];
        script.userinfo_signed = Some(Signing::Key2);
    });
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn a_rotation_right_after_a_forged_key_id_still_signs_users_in() {
    let rig = TestApp::hostile(Script {
        signing: Signing::UnknownKid,
        ..Script::default()
    })
    .spawn()
    .await;
    // A forged key id: looked up once, refused.
    assert_eq!(sign_in(&rig, &browser()).await, error(INVALID));
    // Seconds later the provider really rotates: every sign-in works.
    rotate(&rig);
    for _ in 0..8 {
        let client = browser();
        assert_eq!(sign_in(&rig, &client).await, "/");
        assert!(is_signed_in(&rig, &client).await);
    }
    assert_eq!(rig.idp.calls().jwks, 3, "discovery, the forged kid, key 2");
}

#[tokio::test]
async fn every_new_forged_key_id_is_looked_up_once_and_at_most_one_fetch_a_second() {
    let (rig, client) = signed_in(Script::default()).await;
    let jwks_before = rig.idp.calls().jwks;
    let started = Instant::now();
    for n in 0..3 {
        let token = logout_token(&rig, Signing::ForgedKid(n), &format!("forged-{n}"));
        assert_eq!(post_logout(&rig, &token).await, StatusCode::BAD_REQUEST);
    }
    // The same forged key ids again: not looked up again so soon.
    for n in 0..3 {
        let token = logout_token(&rig, Signing::ForgedKid(n), &format!("again-{n}"));
        assert_eq!(post_logout(&rig, &token).await, StatusCode::BAD_REQUEST);
    }
    let fetches = rig.idp.calls().jwks - jwks_before;
    assert_eq!(fetches, 3, "each new key id looked up once");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "three fetches at least a second apart"
    );
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_logout_token_with_a_huge_key_id_or_size_is_refused_without_a_key_fetch() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let (rig, client) = signed_in(Script::default()).await;
    let jwks_before = rig.idp.calls().jwks;
    let token = |kid_len: usize| {
        let header = json!({ "alg": "RS256", "kid": "k".repeat(kid_len) });
        format!(
            "{}.{}.AAAA",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(b"{}")
        )
    };
    // A key id longer than any real one: refused, not looked up.
    assert_eq!(
        post_logout(&rig, &token(300)).await,
        StatusCode::BAD_REQUEST
    );
    // A body far larger than any logout token: refused unread.
    assert_eq!(
        post_logout(&rig, &token(200_000)).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(rig.idp.calls().jwks, jwks_before, "no key fetch");
    assert!(is_signed_in(&rig, &client).await);
    // The log keeps at most a short excerpt of what the sender chose.
    assert!(!crate::log_capture::text().contains(&"k".repeat(1_000)));
}

#[tokio::test]
async fn keys_past_their_cache_lifetime_are_fetched_again_and_a_withdrawn_key_stops_being_trusted()
{
    let rig = TestApp::hostile(Script {
        published: vec![Signing::Key1, Signing::Key2],
        jwks_cache_control: Some("public, max-age=1"),
        ..Script::default()
    })
    .spawn()
    .await;
    assert_eq!(sign_in(&rig, &browser()).await, "/");
    // The provider withdraws key 1, but a token signed with it arrives.
    rig.idp
        .rescript(|script| script.published = vec![Signing::Key2]);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(sign_in(&rig, &browser()).await, error(INVALID));
    // Key 2, still published, signs users in.
    rig.idp.rescript(|script| script.signing = Signing::Key2);
    assert_eq!(sign_in(&rig, &browser()).await, "/");
}

#[tokio::test]
async fn keys_within_their_cache_lifetime_are_not_fetched_again() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    for _ in 0..3 {
        assert_eq!(sign_in(&rig, &browser()).await, "/");
    }
    assert_eq!(rig.idp.calls().jwks, 1, "fetched at discovery only");
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_during_a_refresh_do_not_sign_the_user_out() {
    let (rig, client) = signed_in(Script::default()).await;
    rotate(&rig);
    rig.idp.rescript(|script| script.jwks_down = true);
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(is_signed_in(&rig, &client).await);
    assert_eq!(rig.idp.calls().refreshes, 1);
    // The unchecked ID token was not kept; the one from the sign-in was.
    assert_eq!(id_token_hint(&rig, &client).await, first_id_token(&rig));
}

#[tokio::test]
async fn a_refreshed_id_token_under_a_key_not_yet_published_does_not_sign_the_user_out() {
    let (rig, client) = signed_in(Script::default()).await;
    // The provider signs with a key its key endpoint does not list yet.
    rig.idp
        .rescript(|script| script.signing = Signing::UnknownKid);
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(is_signed_in(&rig, &client).await);
    assert_eq!(id_token_hint(&rig, &client).await, first_id_token(&rig));
}

#[tokio::test]
async fn a_refreshed_id_token_naming_another_user_ends_the_session_even_when_unverifiable() {
    let (rig, client) = signed_in(Script {
        refresh_claims: |claims, _| {
            claims.insert("sub".into(), serde_json::json!("someone-else"));
        },
        ..Script::default()
    })
    .await;
    rig.idp.rescript(|script| {
        script.signing = Signing::Key2;
        script.published = vec![Signing::Key1, Signing::Key2];
        script.jwks_down = true;
    });
    let (_, answer) = live(&client, &rig.url).await;
    assert_eq!(answer, serde_json::json!("SessionEnded"));
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_at_sign_in_are_a_temporary_failure() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    rotate(&rig);
    rig.idp.rescript(|script| script.jwks_down = true);
    assert_eq!(sign_in(&rig, &browser()).await, error(UNAVAILABLE));
}

#[tokio::test]
async fn a_logout_token_whose_keys_cannot_be_fetched_is_deferred_not_refused() {
    let (rig, client) = signed_in(Script::default()).await;
    rotate(&rig);
    rig.idp.rescript(|script| script.jwks_down = true);
    let token = logout_token(&rig, Signing::Key2, "deferred-1");
    assert_eq!(
        post_logout(&rig, &token).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(is_signed_in(&rig, &client).await);
    // Delivered again once the keys are back, it signs the user out.
    rig.idp.rescript(|script| script.jwks_down = false);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(post_logout(&rig, &token).await, StatusCode::OK);
    assert!(!is_signed_in(&rig, &client).await);
}
