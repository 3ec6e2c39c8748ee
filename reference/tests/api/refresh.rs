//! Refresh that never races (issue: token lifecycle): an access token about
//! to expire is refreshed once, however many requests need it at once, in
//! one instance or across two sharing a database; the rotated refresh
//! token is kept; a refused grant or a refreshed ID token naming someone
//! else ends the session (SECURITY.md B8); two users never swap tokens
//! (D7); sessions in use are refreshed ahead of time.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Rig, TestApp, browser};
use crate::hostile_idp::{SUBJECT, Script};
use crate::walk::{is_signed_in, live, live_everywhere, sign_in, sign_out};

/// Access tokens that are already within the refresh skew when issued;
/// refreshed ones last an hour.
fn expiring() -> Script {
    Script {
        access_token_ttl: 1,
        ..Script::default()
    }
}

/// A rig for `script` with background refresh off, so every refresh the
/// provider sees is one a request caused.
async fn on_demand(script: Script, extra: &[(&str, &str)]) -> Rig {
    let mut vars = vec![("BACKGROUND_REFRESH_SECONDS", "0")];
    vars.extend_from_slice(extra);
    TestApp::hostile(script).vars(&vars).spawn().await
}

/// A second server on the rig's database and settings (background
/// refresh off), with `extra` settings; its address.
async fn second_instance(rig: &Rig, extra: &[(&str, &str)]) -> String {
    rig.another_instance().vars(extra).spawn().await.url.clone()
}

fn entry(live: &Value, label: &str) -> Option<String> {
    live["entries"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == label)
        .and_then(|pair| pair[1].as_str().map(str::to_owned))
}

#[tokio::test]
async fn fifty_concurrent_requests_on_an_expiring_token_make_exactly_one_refresh() {
    let rig = on_demand(
        Script {
            refresh_delay: Duration::from_millis(300),
            ..expiring()
        },
        &[],
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    let userinfo_before = rig.idp.calls().userinfo;

    let answers = join_all((0..50).map(|_| live(&client, &rig.url))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(entry(answer, "Account ID").as_deref(), Some(SUBJECT));
    }
    let calls = rig.idp.calls();
    assert_eq!(calls.refreshes, 1, "one refresh for fifty requests");
    let new_token = calls.issued_access_tokens.last().unwrap();
    let used: Vec<&String> = calls.userinfo_authorization[userinfo_before..]
        .iter()
        .collect();
    assert_eq!(used.len(), 50);
    assert!(
        used.iter()
            .all(|auth| **auth == format!("Bearer {new_token}")),
        "every call used the refreshed token"
    );
}

#[tokio::test]
async fn two_instances_sharing_the_database_refresh_once_between_them() {
    let rig = on_demand(
        Script {
            refresh_delay: Duration::from_millis(300),
            ..expiring()
        },
        &[],
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    let second = second_instance(&rig, &[]).await;

    live_everywhere(&client, &[rig.url.clone(), second], 40).await;
    assert_eq!(
        rig.idp.calls().refreshes,
        1,
        "one refresh across both instances"
    );
}

#[tokio::test]
async fn the_rotated_refresh_token_is_kept_and_used_next_time() {
    let rig = on_demand(
        Script {
            refreshed_ttl: 1,
            ..expiring()
        },
        &[],
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    for _ in 0..3 {
        let (status, answer) = live(&client, &rig.url).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let calls = rig.idp.calls();
    assert_eq!(
        calls.refreshes, 3,
        "each short-lived token refreshed in turn"
    );
    let issued_refresh: Vec<&String> = calls
        .issued_tokens
        .iter()
        .filter(|t| t.starts_with("hostile-rt-"))
        .collect();
    // Each refresh presented the refresh token the one before it issued.
    assert_eq!(
        calls.refresh_tokens_used,
        issued_refresh[..3]
            .iter()
            .map(|t| (*t).clone())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_fresh_token_is_used_without_refreshing() {
    let rig = on_demand(Script::default(), &[]).await;
    let client = browser();
    sign_in(&rig, &client).await;
    let (status, _) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rig.idp.calls().refreshes, 0);
}

#[tokio::test]
async fn invalid_grant_ends_the_session_and_asks_to_log_in_again() {
    let rig = on_demand(
        Script {
            refresh_refused: true,
            ..expiring()
        },
        &[],
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert_eq!(answer, json!("SessionEnded"), "{answer}");
    assert!(!is_signed_in(&rig, &client).await, "signed out here too");
    assert_eq!(rig.database.count("token_vault").await, 0);
}

#[tokio::test]
async fn a_refreshed_id_token_naming_another_subject_ends_the_session() {
    let rig = on_demand(
        Script {
            refresh_claims: |claims, _| {
                claims.insert("sub".into(), json!("somebody-else"));
            },
            ..expiring()
        },
        &[],
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(answer, json!("SessionEnded"), "{status} {answer}");
    assert!(!is_signed_in(&rig, &client).await);
    assert_eq!(
        rig.database.count("token_vault").await,
        0,
        "the tokens are dropped"
    );
}

#[tokio::test]
async fn a_refreshed_id_token_from_another_issuer_ends_the_session() {
    let rig = on_demand(
        Script {
            refresh_claims: |claims, ctx| {
                claims.insert("iss".into(), json!(format!("{}/other", ctx.issuer)));
            },
            ..expiring()
        },
        &[],
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    let (_, answer) = live(&client, &rig.url).await;
    assert_eq!(answer, json!("SessionEnded"));
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn two_users_refreshing_at_once_never_get_each_others_tokens() {
    let rig = on_demand(
        Script {
            refresh_delay: Duration::from_millis(200),
            ..expiring()
        },
        &[],
    )
    .await;
    let first = browser();
    sign_in(&rig, &first).await;
    rig.idp.rescript(|script| {
        script.claims = |claims, _| {
            claims.insert("sub".into(), json!("second-user"));
        };
        script.userinfo = |claims, _| {
            claims.insert("email".into(), json!("second@hostile.test"));
        };
    });
    let second = browser();
    assert_eq!(sign_in(&rig, &second).await, "/");

    let base = rig.url.as_str();
    let requests = (0..40).map(|i| {
        let (client, who) = if i % 2 == 0 {
            (&first, SUBJECT)
        } else {
            (&second, "second-user")
        };
        async move { (who, live(client, base).await) }
    });
    for (who, (status, answer)) in join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            entry(&answer, "Account ID").as_deref(),
            Some(who),
            "{answer}"
        );
    }
    assert_eq!(rig.idp.calls().refreshes, 2, "one per user");
}

#[tokio::test]
async fn sessions_in_use_are_refreshed_ahead_of_time_without_a_request_waiting() {
    let rig = TestApp::hostile(expiring())
        .vars(&[("BACKGROUND_REFRESH_SECONDS", "1")])
        .spawn()
        .await;
    let client = browser();
    sign_in(&rig, &client).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while rig.idp.calls().refreshes == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        rig.idp.calls().refreshes >= 1,
        "refreshed in the background"
    );
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn forty_sessions_expiring_at_once_refresh_once_each_and_none_is_lost() {
    let rig = on_demand(
        Script {
            refresh_delay: Duration::from_millis(100),
            ..expiring()
        },
        &[],
    )
    .await;
    let browsers: Vec<reqwest::Client> = (0..40).map(|_| browser()).collect();
    for client in &browsers {
        assert_eq!(sign_in(&rig, client).await, "/");
    }

    let answers = join_all(browsers.iter().map(|client| live(client, &rig.url))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(entry(answer, "Account ID").as_deref(), Some(SUBJECT));
    }
    let calls = rig.idp.calls();
    assert_eq!(calls.refreshes, 40, "one refresh per session");
    let mut presented = calls.refresh_tokens_used.clone();
    presented.sort();
    presented.dedup();
    assert_eq!(presented.len(), 40, "no refresh token presented twice");

    // Every session kept its rotated tokens: the next round refreshes none.
    let again = join_all(browsers.iter().map(|client| live(client, &rig.url))).await;
    assert!(again.iter().all(|(status, _)| *status == StatusCode::OK));
    assert_eq!(rig.idp.calls().refreshes, 40);
}

#[tokio::test]
async fn a_refresh_longer_than_the_lock_lease_is_not_repeated_by_another_instance() {
    // A two-second lease, a refresh that takes four: the lease is renewed.
    let lease = [("REFRESH_LOCK_SECONDS", "2")];
    let rig = on_demand(
        Script {
            refresh_delay: Duration::from_secs(4),
            ..expiring()
        },
        &lease,
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    let second = second_instance(&rig, &lease).await;

    live_everywhere(&client, &[rig.url.clone(), second], 10).await;
    let calls = rig.idp.calls();
    assert_eq!(calls.refreshes, 1, "one refresh across both instances");
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_refresh_whose_request_went_away_still_finishes_and_keeps_the_rotated_token() {
    let rig = on_demand(
        Script {
            refresh_delay: Duration::from_millis(800),
            ..expiring()
        },
        &[],
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    // The browser gives up before the provider answers the refresh.
    let gave_up = client
        .post(format!("{}/api/live_profile", rig.url))
        .header(reqwest::header::ORIGIN, &rig.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .timeout(Duration::from_millis(200))
        .body("")
        .send()
        .await;
    assert!(gave_up.is_err(), "the request timed out");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // The refresh finished and was stored: nothing to refresh now, and the
    // rotated refresh token is the one kept.
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(rig.idp.calls().refreshes, 1);
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_refresh_that_finishes_after_sign_out_writes_nothing_back_and_revokes_its_grant() {
    let rig = on_demand(
        Script {
            refresh_delay: Duration::from_millis(800),
            ..expiring()
        },
        &[],
    )
    .await;
    let client = browser();
    sign_in(&rig, &client).await;
    // Live data starts a refresh; the user signs out while it runs.
    let refreshing = {
        let (client, url) = (client.clone(), rig.url.clone());
        tokio::spawn(async move { live(&client, &url).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = sign_out(&client, &rig.url).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let (_, answer) = refreshing.await.unwrap();
    assert_ne!(answer, Value::Null, "{answer}");
    assert_eq!(
        rig.database.count("token_vault").await,
        0,
        "nothing written back"
    );
    assert_eq!(rig.database.count("logins").await, 0);
    // The refresh token the late refresh got was revoked at the provider.
    let rotated = rig
        .idp
        .calls()
        .issued_tokens
        .into_iter()
        .filter(|t| t.starts_with("hostile-rt-"))
        .nth(1)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !rig
        .idp
        .calls()
        .revoked
        .iter()
        .any(|(token, _)| *token == rotated)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        rig.idp
            .calls()
            .revoked
            .iter()
            .any(|(token, _)| *token == rotated),
        "{:?}",
        rig.idp.calls().revoked
    );
}

#[tokio::test]
async fn a_session_whose_tokens_cannot_be_opened_ends_with_a_clear_message() {
    let rig = on_demand(Script::default(), &[]).await;
    let client = browser();
    sign_in(&rig, &client).await;
    // Another instance on the same database, configured with another key
    // (as after a restart with a new one): it cannot open the tokens.
    let other = second_instance(
        &rig,
        &[(
            "TOKEN_ENCRYPTION_KEYS",
            "k2:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
        )],
    )
    .await;
    let (status, answer) = live(&client, &other).await;
    assert_eq!(answer, json!("SessionEnded"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        crate::walk::user_status(&client, &other).await,
        StatusCode::UNAUTHORIZED,
        "signed out, not left signed in with tokens nobody can use"
    );
    assert_eq!(rig.database.count("logins").await, 0);
}
