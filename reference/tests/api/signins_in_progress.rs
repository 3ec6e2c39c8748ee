//! Several sign-ins in progress in one browser (SECURITY.md A3): each is
//! found by its `state`, serves once whether its callback succeeds or
//! fails, and a callback with an unknown `state` takes nothing. A browser
//! keeps at most five; the oldest goes first.

use crate::harness::{TestApp, browser};
use crate::hostile_idp::{Script, TokenEndpoint};
use crate::walk::{authorize, error, finish, is_signed_in, start};

const EXPIRED: &str = "PC-AUTH-002";
const REJECTED: &str = "PC-AUTH-003";

#[tokio::test]
async fn a_sign_in_started_in_two_tabs_finishes_in_either_order() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    // Tab A, then tab B, start signing in; A is finished first.
    let tab_a = start(&rig, &client).await;
    let tab_b = start(&rig, &client).await;
    let callback_a = authorize(&rig, &client, &tab_a).await;
    assert_eq!(finish(&client, &callback_a).await, "/");
    assert!(is_signed_in(&rig, &client).await);
    // B finished afterwards signs in too, never an error.
    let callback_b = authorize(&rig, &client, &tab_b).await;
    assert_eq!(finish(&client, &callback_b).await, "/");
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_failed_callback_uses_up_its_sign_in() {
    let rig = TestApp::hostile(Script {
        token_endpoint: TokenEndpoint::Recorded(400, r#"{"error":"invalid_grant"}"#),
        ..Script::default()
    })
    .spawn()
    .await;
    let client = browser();
    let authorize_url = start(&rig, &client).await;
    let callback = authorize(&rig, &client, &authorize_url).await;
    assert_eq!(finish(&client, &callback).await, error(REJECTED));
    // The same callback again, with the same cookie, once the provider
    // would answer: the sign-in is gone, and the provider is not asked.
    rig.idp
        .rescript(|script| script.token_endpoint = TokenEndpoint::Normal);
    assert_eq!(finish(&client, &callback).await, error(EXPIRED));
    assert_eq!(rig.idp.calls().token, 1);
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_callback_with_an_unknown_state_takes_nothing() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    let authorize_url = start(&rig, &client).await;
    let callback = authorize(&rig, &client, &authorize_url).await;
    let forged = callback.replace("state=", "state=forged");
    assert_eq!(finish(&client, &forged).await, error(EXPIRED));
    assert_eq!(rig.idp.calls().token, 0);
    // The real callback still completes the sign-in.
    assert_eq!(finish(&client, &callback).await, "/");
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_browser_keeps_five_sign_ins_in_progress_and_drops_the_oldest() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    let mut started = Vec::new();
    for _ in 0..6 {
        started.push(start(&rig, &client).await);
    }
    let oldest = authorize(&rig, &client, &started[0]).await;
    assert_eq!(finish(&client, &oldest).await, error(EXPIRED));
    assert_eq!(rig.idp.calls().token, 0, "dropped: no code exchange");
    let second = authorize(&rig, &client, &started[1]).await;
    assert_eq!(finish(&client, &second).await, "/");
    let newest = authorize(&rig, &client, &started[5]).await;
    assert_eq!(finish(&client, &newest).await, "/");
}
