//! Answers real providers send that are unusual without being unsafe, on
//! the sign-in path and the refresh path both: fields in other JSON shapes,
//! lifetimes left unsaid, userinfo signed as a JWT. Each must sign the user
//! in (or keep them signed in); what a security decision rests on stays
//! strict, and a provider answer that fails a check is a refusal
//! (PC-AUTH-005, 4xx), never "could not be reached".

use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};

use crate::harness::{Rig, TestApp, browser};
use crate::hostile_idp::{SUBJECT, Script, Signing};
use crate::walk::{error, first_id_token, id_token_hint, is_signed_in, live, sign_in};

const INVALID: &str = "PC-AUTH-005";

/// Signs in with `script` and background refresh off; asserts success.
async fn signed_in(script: Script, extra: &[(&str, &str)]) -> (Rig, Client) {
    let mut vars = vec![("BACKGROUND_REFRESH_SECONDS", "0")];
    vars.extend_from_slice(extra);
    let rig = TestApp::hostile(script).vars(&vars).spawn().await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await);
    (rig, client)
}

/// The e-mail and whether it is verified, as the user store keeps them.
async fn stored_email(rig: &Rig) -> (Option<String>, bool) {
    sqlx::query_as("SELECT email, email_verified FROM identities WHERE subject = ?")
        .bind(SUBJECT)
        .fetch_one(&rig.database.connect().await)
        .await
        .unwrap()
}

/// Asks for live provider data and asserts it loaded.
async fn live_loads(rig: &Rig, client: &Client) {
    let (status, answer) = live(client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Access tokens already within the refresh skew when issued at sign-in,
/// so the first live-data request refreshes; refreshed ones last an hour.
fn expiring() -> Script {
    Script {
        access_token_ttl: 1,
        ..Script::default()
    }
}

// ------------------------------------------------- 1: field shapes

#[tokio::test]
async fn an_id_token_with_updated_at_as_rfc3339_text_signs_in() {
    // Auth0 sends this whenever `profile` is granted.
    signed_in(
        Script {
            claims: |claims, _| {
                claims.insert("updated_at".into(), json!("2025-12-23T10:59:07.841Z"));
            },
            ..Script::default()
        },
        &[],
    )
    .await;
}

#[tokio::test]
async fn profile_claims_in_any_unambiguous_shape_sign_in_and_are_read() {
    let (rig, client) = signed_in(
        Script {
            claims: |claims, _| {
                claims.insert("updated_at".into(), json!(1_766_487_547.841));
                claims.insert("email".into(), json!("ada@quirks.test"));
                // Cognito and some Okta set-ups send booleans as strings.
                claims.insert("email_verified".into(), json!("true"));
                claims.insert("phone_number_verified".into(), json!("false"));
                claims.insert("given_name".into(), json!("Ada"));
                claims.insert("family_name".into(), json!("Lovelace"));
                claims.insert("locale".into(), json!("en_GB"));
                claims.insert("address".into(), json!("1 Quirk Lane"));
                claims.insert("picture".into(), json!(null));
                claims.insert("groups".into(), json!("admins users"));
            },
            ..Script::default()
        },
        &[],
    )
    .await;
    assert_eq!(
        stored_email(&rig).await,
        (Some("ada@quirks.test".into()), true)
    );
    let user: Value = client
        .get(format!("{}/auth/user", rig.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["name"], "Ada Lovelace", "{user}");
}

#[tokio::test]
async fn an_email_verified_string_that_says_false_is_not_taken_as_verified() {
    let (rig, _) = signed_in(
        Script {
            claims: |claims, _| {
                claims.insert("email".into(), json!("ada@quirks.test"));
                claims.insert("email_verified".into(), json!("False"));
                claims.insert("name".into(), json!("Ada"));
            },
            ..Script::default()
        },
        &[],
    )
    .await;
    assert_eq!(
        stored_email(&rig).await,
        (Some("ada@quirks.test".into()), false)
    );
}

/// A one-second skew and a two-second default lifetime: a lifetime that
/// was not read is told apart from one that was within two seconds.
const SHORT_DEFAULT: [(&str, &str); 2] = [
    ("TOKEN_REFRESH_SKEW_SECONDS", "1"),
    ("ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS", "2"),
];

/// Past the short default lifetime.
async fn past_the_default() {
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
}

#[tokio::test]
async fn a_token_response_with_expires_in_as_a_string_signs_in_and_counts_it() {
    // Some Azure AD endpoints send "3599". Read, it outlasts the short
    // default: no refresh.
    let (rig, client) = signed_in(
        Script {
            token_response: |response, _| {
                response.insert("expires_in".into(), json!("3599"));
            },
            ..Script::default()
        },
        &SHORT_DEFAULT,
    )
    .await;
    past_the_default().await;
    live_loads(&rig, &client).await;
    assert_eq!(rig.idp.calls().refreshes, 0, "\"3599\" was read as 3,599 s");

    // "1" (within the skew) is due at once: read too.
    let (rig, client) = signed_in(
        Script {
            token_response: |response, _| {
                response.insert("expires_in".into(), json!("1"));
            },
            ..Script::default()
        },
        &SHORT_DEFAULT,
    )
    .await;
    live_loads(&rig, &client).await;
    assert_eq!(rig.idp.calls().refreshes, 1, "\"1\" was read as 1 s");
}

#[tokio::test]
async fn a_refresh_response_with_expires_in_as_a_string_keeps_the_user_signed_in() {
    let (rig, client) = signed_in(
        Script {
            refresh_response: |response, _| {
                response.insert("expires_in".into(), json!("3599"));
                response.insert("scope".into(), json!(["openid", "email"]));
            },
            ..expiring()
        },
        &SHORT_DEFAULT,
    )
    .await;
    live_loads(&rig, &client).await;
    past_the_default().await;
    live_loads(&rig, &client).await;
    assert_eq!(
        rig.idp.calls().refreshes,
        1,
        "refreshed once, then counted as good for 3,599 s"
    );
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_refreshed_id_token_with_profile_claims_in_other_shapes_keeps_the_user_signed_in() {
    let (rig, client) = signed_in(
        Script {
            refresh_claims: |claims, _| {
                claims.insert("updated_at".into(), json!("2025-12-23T10:59:07.841Z"));
                claims.insert("email_verified".into(), json!("true"));
                claims.insert("auth_time".into(), json!(1_766_487_547));
            },
            ..expiring()
        },
        &[],
    )
    .await;
    live_loads(&rig, &client).await;
    assert_eq!(rig.idp.calls().refreshes, 1);
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn userinfo_claims_in_other_shapes_are_used_as_if_they_came_in_the_id_token() {
    let (rig, client) = signed_in(
        Script {
            userinfo: |claims, _| {
                claims.insert("email_verified".into(), json!("true"));
                claims.insert("updated_at".into(), json!("2025-12-23T10:59:07Z"));
                claims.insert("zoneinfo".into(), json!(7));
            },
            ..Script::default()
        },
        &[],
    )
    .await;
    assert_eq!(
        stored_email(&rig).await,
        (Some("harriet@hostile.test".into()), true)
    );
    live_loads(&rig, &client).await;
}

#[tokio::test]
async fn an_id_token_with_exp_as_rfc3339_text_is_refused() {
    let rig = TestApp::hostile(Script {
        claims: |claims, _| {
            claims.insert("exp".into(), json!("2099-12-23T10:59:07Z"));
        },
        ..Script::default()
    })
    .spawn()
    .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, error(INVALID));
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn an_id_token_with_auth_time_as_a_string_is_refused() {
    let rig = TestApp::hostile(Script {
        claims: |claims, _| {
            claims.insert("auth_time".into(), json!("1766487547"));
        },
        ..Script::default()
    })
    .spawn()
    .await;
    assert_eq!(sign_in(&rig, &browser()).await, error(INVALID));
}

/// A refresh whose ID token fails a check: refused as such (4xx,
/// PC-AUTH-005), and the session it came for ends.
async fn refresh_refused(
    refresh_claims: fn(&mut serde_json::Map<String, Value>, &crate::hostile_idp::Context),
) {
    let (rig, client) = signed_in(
        Script {
            refresh_claims,
            ..expiring()
        },
        &[],
    )
    .await;
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(answer, json!("InvalidProviderResponse"));
    assert!(status.is_client_error(), "{status}");
    assert!(!is_signed_in(&rig, &client).await);
    assert_eq!(rig.database.count("token_vault").await, 0, "tokens dropped");
}

#[tokio::test]
async fn a_refreshed_id_token_with_exp_as_rfc3339_text_is_refused() {
    refresh_refused(|claims, _| {
        claims.insert("exp".into(), json!("2099-12-23T10:59:07Z"));
    })
    .await;
}

// ------------------------------------------------- 6: refusals named

#[tokio::test]
async fn a_refreshed_id_token_with_an_unparseable_iss_is_refused_not_taken_for_an_outage() {
    refresh_refused(|claims, _| {
        claims.insert("iss".into(), json!(42));
    })
    .await;
}

#[tokio::test]
async fn a_refreshed_id_token_for_another_client_is_refused() {
    refresh_refused(|claims, _| {
        claims.insert("aud".into(), json!("someone-else"));
    })
    .await;
}

#[tokio::test]
async fn a_token_endpoint_answering_html_on_200_is_refused_not_taken_for_an_outage() {
    let rig = TestApp::hostile(Script {
        token_endpoint: crate::hostile_idp::TokenEndpoint::Recorded(200, "<html>hello</html>"),
        ..Script::default()
    })
    .spawn()
    .await;
    let client = browser();
    let authorize = crate::walk::start(&rig, &client).await;
    let callback = crate::walk::authorize(&rig, &client, &authorize).await;
    let response = client.get(&callback).send().await.unwrap();
    assert_eq!(
        response.headers()[header::LOCATION].to_str().unwrap(),
        error(INVALID)
    );
    let page = client
        .get(format!("{}{}", rig.url, error(INVALID)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_discovery_naming_another_issuer_shows_a_security_refusal_page_with_a_4xx() {
    let rig = TestApp::hostile(Script {
        discovery_issuer: Some("https://evil.test".into()),
        ..Script::default()
    })
    .spawn()
    .await;
    let client = browser();
    let response = client
        .get(format!("{}/auth/sign-in/hostile", rig.url))
        .send()
        .await
        .unwrap();
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    assert_eq!(location, error(INVALID));
    let page = client
        .get(format!("{}{location}", rig.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let html = page.text().await.unwrap();
    assert!(html.contains("PC-AUTH-005"), "{html}");
    assert!(!html.contains("could not reach"), "not called an outage");
}

// ------------------------------------------------- 3: lifetimes

#[tokio::test]
async fn a_token_response_without_expires_in_gets_the_configured_default_lifetime() {
    let (rig, client) = signed_in(
        Script {
            token_response: |response, _| {
                response.remove("expires_in");
            },
            ..Script::default()
        },
        &SHORT_DEFAULT,
    )
    .await;
    live_loads(&rig, &client).await;
    assert_eq!(rig.idp.calls().refreshes, 0, "within the default lifetime");
    past_the_default().await;
    live_loads(&rig, &client).await;
    assert_eq!(
        rig.idp.calls().refreshes,
        1,
        "due at the end of the default"
    );
}

#[tokio::test]
async fn a_token_without_expires_in_or_refresh_token_is_used_until_refused() {
    let (rig, client) = signed_in(
        Script {
            token_response: |response, _| {
                response.remove("expires_in");
                response.remove("refresh_token");
            },
            ..Script::default()
        },
        &SHORT_DEFAULT,
    )
    .await;
    past_the_default().await;
    live_loads(&rig, &client).await;
    assert_eq!(rig.idp.calls().refreshes, 0);
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn an_access_token_the_provider_stopped_accepting_is_refreshed_once_and_the_call_retried() {
    let (rig, client) = signed_in(Script::default(), &[]).await;
    live_loads(&rig, &client).await;
    rig.idp.expire_access_tokens();
    let userinfo_before = rig.idp.calls().userinfo;

    let answers = futures_util::future::join_all((0..5).map(|_| live(&client, &rig.url))).await;
    for (status, answer) in answers {
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let calls = rig.idp.calls();
    assert_eq!(calls.refreshes, 1, "one refresh for five refused calls");
    assert!(
        calls.userinfo - userinfo_before <= 10,
        "each call retried once at most"
    );
    assert!(is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_refresh_response_without_refresh_token_or_id_token_keeps_the_previous_ones() {
    let (rig, client) = signed_in(
        Script {
            refresh_response: |response, _| {
                response.remove("refresh_token");
                response.remove("id_token");
            },
            refreshed_ttl: 1,
            ..expiring()
        },
        &[],
    )
    .await;
    let first_refresh_token = rig
        .idp
        .calls()
        .issued_tokens
        .iter()
        .find(|t| t.starts_with("hostile-rt-"))
        .unwrap()
        .clone();
    for _ in 0..3 {
        live_loads(&rig, &client).await;
    }
    let calls = rig.idp.calls();
    assert_eq!(calls.refreshes, 3);
    assert!(
        calls
            .refresh_tokens_used
            .iter()
            .all(|t| *t == first_refresh_token),
        "the refresh token from the sign-in was kept and used each time"
    );
    // The sign-in's ID token is still the one sent as id_token_hint.
    assert_eq!(id_token_hint(&rig, &client).await, first_id_token(&rig));
}

// ------------------------------------------------- 4: signed userinfo

fn with_eddsa(document: &mut serde_json::Map<String, Value>, _: &crate::hostile_idp::Context) {
    document.insert(
        "id_token_signing_alg_values_supported".into(),
        json!(["RS256", "EdDSA"]),
    );
}

#[tokio::test]
async fn a_signed_userinfo_answer_is_verified_and_used_at_sign_in_and_for_live_data() {
    let (rig, client) = signed_in(
        Script {
            userinfo_signed: Some(Signing::Key1),
            userinfo: |claims, _| {
                claims.insert("email_verified".into(), json!("true"));
            },
            ..Script::default()
        },
        &[],
    )
    .await;
    assert_eq!(
        stored_email(&rig).await,
        (Some("harriet@hostile.test".into()), true)
    );
    let (status, answer) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.to_string().contains("Harriet Hostile"), "{answer}");
}

#[tokio::test]
async fn a_signed_userinfo_answer_in_another_algorithm_the_provider_allows_is_verified() {
    signed_in(
        Script {
            published: vec![Signing::Key1, Signing::Ed25519],
            userinfo_signed: Some(Signing::Ed25519),
            discovery: with_eddsa,
            ..Script::default()
        },
        &[],
    )
    .await;
}

#[tokio::test]
async fn an_id_token_in_another_algorithm_the_provider_allows_signs_in() {
    signed_in(
        Script {
            published: vec![Signing::Ed25519],
            signing: Signing::Ed25519,
            discovery: with_eddsa,
            ..Script::default()
        },
        &[],
    )
    .await;
}

/// Sign-in with a signed userinfo answer `script` spoils: refused.
async fn signed_userinfo_refused(script: Script) {
    let rig = TestApp::hostile(script).spawn().await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, error(INVALID));
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_signed_userinfo_answer_with_a_bad_signature_is_refused() {
    signed_userinfo_refused(Script {
        userinfo_signed: Some(Signing::FlippedSignature),
        ..Script::default()
    })
    .await;
}

#[tokio::test]
async fn a_signed_userinfo_answer_in_an_algorithm_the_provider_does_not_allow_is_refused() {
    signed_userinfo_refused(Script {
        published: vec![Signing::Key1, Signing::Ed25519],
        userinfo_signed: Some(Signing::Ed25519),
        ..Script::default()
    })
    .await;
}

#[tokio::test]
async fn a_signed_userinfo_answer_naming_another_subject_is_refused() {
    signed_userinfo_refused(Script {
        userinfo_signed: Some(Signing::Key1),
        userinfo: |claims, _| {
            claims.insert("sub".into(), json!("someone-else"));
        },
        ..Script::default()
    })
    .await;
}

#[tokio::test]
async fn a_signed_userinfo_answer_for_another_client_is_refused() {
    signed_userinfo_refused(Script {
        userinfo_signed: Some(Signing::Key1),
        userinfo: |claims, _| {
            claims.insert("aud".into(), json!("someone-else"));
        },
        ..Script::default()
    })
    .await;
}
