//! The callback against a provider that misbehaves: one test per rule of
//! SECURITY.md sections A and B, named after the scenario. "Refused" means
//! the sign-in ends on the error page with the stated code, no session is
//! created, and no further call reaches the provider (no userinfo call
//! after a bad ID token, no token call after a bad authorization response).

use std::time::{Duration, Instant};

use openidconnect::{
    AccessToken, AccessTokenHash, JsonWebKeyId, PrivateSigningKey,
    core::{CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey},
};
use reqwest::{StatusCode, header};
use serde_json::{Map, Value, json};

use crate::harness::{Rig, TestApp, browser};
use crate::hostile_idp::{
    CLIENT_ID, CLIENT_SECRET, Calls, Context, HostileIdp, SUBJECT, Script, Signing, TokenEndpoint,
};
use crate::walk::{authorize, error, finish, is_signed_in, sign_in, start};

const CANCELLED: &str = "PC-AUTH-001";
const EXPIRED: &str = "PC-AUTH-002";
const REJECTED: &str = "PC-AUTH-003";
const UNAVAILABLE: &str = "PC-AUTH-004";
const INVALID: &str = "PC-AUTH-005";

/// Signs in with `script`; asserts success and that the profile came from
/// userinfo, called once with the issued token in the header only.
async fn assert_accepted(script: Script) -> Rig {
    let rig = TestApp::hostile(script).spawn().await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await);
    let calls = rig.idp.calls();
    assert_eq!((calls.token, calls.userinfo), (1, 1));
    rig
}

/// Signs in with `script`; asserts the refusal with `code` and no session.
async fn assert_refused(rig: &Rig, code: &str) -> Calls {
    let client = browser();
    assert_eq!(sign_in(rig, &client).await, error(code));
    assert!(!is_signed_in(rig, &client).await, "no session");
    rig.idp.calls()
}

/// The authorization response is refused before any token call.
async fn refused_before_token_call(script: Script, code: &str) {
    let rig = TestApp::hostile(script).spawn().await;
    let calls = assert_refused(&rig, code).await;
    assert_eq!(calls.token, 0, "no token call");
}

/// The ID token is refused: one token call, then nothing more.
async fn id_token_refused(script: Script) -> Calls {
    let rig = TestApp::hostile(script).spawn().await;
    let calls = assert_refused(&rig, INVALID).await;
    assert_eq!((calls.token, calls.userinfo), (1, 0), "no userinfo call");
    calls
}

fn set(params: &mut Vec<(String, String)>, name: &str, value: Option<String>) {
    params.retain(|(k, _)| k != name);
    if let Some(value) = value {
        params.push((name.to_owned(), value));
    }
}

fn param(params: &[(String, String)], name: &str) -> String {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn claims_script(claims: fn(&mut Map<String, Value>, &Context)) -> Script {
    Script {
        claims,
        ..Script::default()
    }
}

fn callback_script(callback: fn(&mut Vec<(String, String)>, &Context)) -> Script {
    Script {
        callback,
        ..Script::default()
    }
}

// ---------------------------------------------------------------- A1

#[tokio::test]
async fn tokens_in_the_redirect_are_ignored_and_the_code_exchange_is_used() {
    let rig = assert_accepted(callback_script(|params, _| {
        params.push(("access_token".into(), "planted-access-token".into()));
        params.push(("token_type".into(), "Bearer".into()));
        params.push(("id_token".into(), "planted.id.token".into()));
    }))
    .await;
    let calls = rig.idp.calls();
    assert_eq!(
        calls.userinfo_authorization,
        [format!("Bearer {}", calls.issued_access_tokens[0])],
        "userinfo got the token from the code exchange, not the planted one"
    );
}

#[tokio::test]
async fn a_redirect_with_tokens_but_no_code_is_refused() {
    refused_before_token_call(
        callback_script(|params, _| {
            set(params, "code", None);
            params.push(("access_token".into(), "planted-access-token".into()));
            params.push(("id_token".into(), "planted.id.token".into()));
        }),
        REJECTED,
    )
    .await;
}

// ---------------------------------------------------------------- A3

#[tokio::test]
async fn a_wrong_state_is_refused_before_any_token_call() {
    refused_before_token_call(
        callback_script(|params, _| {
            let state = param(params, "state");
            set(params, "state", Some(format!("{state}x")));
        }),
        EXPIRED,
    )
    .await;
}

#[tokio::test]
async fn a_missing_state_is_refused_before_any_token_call() {
    refused_before_token_call(
        callback_script(|params, _| set(params, "state", None)),
        EXPIRED,
    )
    .await;
}

#[tokio::test]
async fn a_replayed_callback_is_refused_before_a_second_token_call() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    let authorize_url = start(&rig, &client).await;
    let callback = authorize(&rig, &client, &authorize_url).await;
    assert_eq!(finish(&client, &callback).await, "/");
    assert_eq!(finish(&client, &callback).await, error(EXPIRED));
    // A fresh browser replaying it fares no better.
    assert_eq!(finish(&browser(), &callback).await, error(EXPIRED));
    assert_eq!(rig.idp.calls().token, 1);
}

#[tokio::test]
async fn an_expired_login_is_refused_before_any_token_call() {
    let rig = TestApp::hostile(Script::default())
        .vars(&[("LOGIN_TIMEOUT_SECONDS", "1")])
        .spawn()
        .await;
    let client = browser();
    let authorize_url = start(&rig, &client).await;
    let callback = authorize(&rig, &client, &authorize_url).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(finish(&client, &callback).await, error(EXPIRED));
    assert!(!is_signed_in(&rig, &client).await);
    assert_eq!(rig.idp.calls().token, 0);
}

#[tokio::test]
async fn a_callback_delivered_to_another_browser_is_refused() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let (victim, attacker) = (browser(), browser());
    let authorize_url = start(&rig, &attacker).await;
    let callback = authorize(&rig, &attacker, &authorize_url).await;
    // The victim has a sign-in of their own in progress.
    start(&rig, &victim).await;
    assert_eq!(finish(&victim, &callback).await, error(EXPIRED));
    assert!(!is_signed_in(&rig, &victim).await);
    assert_eq!(rig.idp.calls().token, 0);
}

// ---------------------------------------------------------------- A4

#[tokio::test]
async fn an_id_token_nonce_with_a_suffix_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        let nonce = claims["nonce"].as_str().unwrap().to_owned();
        claims.insert("nonce".into(), json!(format!("{nonce}1")));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_without_nonce_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.remove("nonce");
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_carrying_another_logins_nonce_is_refused() {
    let rig = TestApp::hostile(claims_script(|claims, ctx| {
        let previous = ctx.previous_nonce.clone().expect("an earlier login");
        claims.insert("nonce".into(), json!(previous));
    }))
    .spawn()
    .await;
    // An earlier sign-in, abandoned at the provider.
    let other = browser();
    let abandoned = start(&rig, &other).await;
    authorize(&rig, &other, &abandoned).await;

    let calls = assert_refused(&rig, INVALID).await;
    assert_eq!((calls.token, calls.userinfo), (1, 0));
}

// ---------------------------------------------------------------- A5

#[tokio::test]
async fn an_iss_parameter_with_a_suffix_is_refused_before_any_token_call() {
    refused_before_token_call(
        callback_script(|params, ctx| set(params, "iss", Some(format!("{}1", ctx.issuer)))),
        INVALID,
    )
    .await;
}

#[tokio::test]
async fn a_missing_iss_parameter_is_refused_when_the_provider_announces_it() {
    refused_before_token_call(
        callback_script(|params, _| set(params, "iss", None)),
        INVALID,
    )
    .await;
}

#[tokio::test]
async fn a_missing_iss_parameter_is_accepted_when_the_provider_does_not_announce_it() {
    assert_accepted(Script {
        announces_iss: false,
        callback: |params, _| set(params, "iss", None),
        ..Script::default()
    })
    .await;
}

#[tokio::test]
async fn provider_as_code_on_provider_bs_callback_is_refused_before_any_token_call() {
    let (a, b) = (
        HostileIdp::start(Script::default()).await,
        HostileIdp::start(Script::default()).await,
    );
    let rig = TestApp::with_hostile(a.clone())
        .vars(&[
            ("AUTH_PROVIDERS", "hostile,other"),
            ("OTHER_ISSUER", b.issuer.as_str()),
            ("OTHER_CLIENT_ID", CLIENT_ID),
            ("OTHER_CLIENT_SECRET", CLIENT_SECRET),
        ])
        .spawn()
        .await;
    let client = browser();
    let authorize_url = start(&rig, &client).await;
    let callback = authorize(&rig, &client, &authorize_url).await;
    let mixed_up = callback.replace("/auth/callback/hostile", "/auth/callback/other");
    assert_eq!(
        finish(&client, &mixed_up).await,
        "/error?code=PC-AUTH-002&provider=other"
    );
    assert!(!is_signed_in(&rig, &client).await);
    assert_eq!((a.calls().token, b.calls().token), (0, 0));
}

// ---------------------------------------------------------------- A6

#[tokio::test]
async fn access_denied_says_you_cancelled_and_makes_no_token_call() {
    let rig = TestApp::hostile(callback_script(|params, _| {
        set(params, "code", None);
        set(params, "error", Some("access_denied".into()));
    }))
    .spawn()
    .await;
    let calls = assert_refused(&rig, CANCELLED).await;
    assert_eq!(calls.token, 0);
    let page = browser()
        .get(format!("{}{}", rig.url, error(CANCELLED)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign-in cancelled"), "{page}");
    assert!(
        page.contains(r#"href="/auth/sign-in/hostile""#),
        "try again"
    );
}

#[tokio::test]
async fn an_error_response_with_a_wrong_state_is_refused_as_expired() {
    refused_before_token_call(
        callback_script(|params, _| {
            set(params, "code", None);
            set(params, "error", Some("access_denied".into()));
            set(params, "state", Some("forged".into()));
        }),
        EXPIRED,
    )
    .await;
}

// ---------------------------------------------------------------- A8

#[tokio::test]
async fn the_callback_answers_with_no_referrer_and_the_code_leaves_the_url() {
    let rig = TestApp::hostile(Script::default()).spawn().await;
    let client = browser();
    let authorize_url = start(&rig, &client).await;
    let callback = authorize(&rig, &client, &authorize_url).await;
    assert!(callback.contains("code="));
    let response = client.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert!(
        !response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("code=")
    );
}

// ---------------------------------------------------------------- B1

#[tokio::test]
async fn an_id_token_iss_with_a_suffix_is_refused() {
    id_token_refused(claims_script(|claims, ctx| {
        claims.insert("iss".into(), json!(format!("{}1", ctx.issuer)));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_without_iss_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.remove("iss");
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_iss_with_a_trailing_slash_is_refused() {
    id_token_refused(claims_script(|claims, ctx| {
        claims.insert("iss".into(), json!(format!("{}/", ctx.issuer)));
    }))
    .await;
}

// ---------------------------------------------------------------- B2

#[tokio::test]
async fn an_id_token_aud_with_a_suffix_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("aud".into(), json!(format!("{CLIENT_ID}1")));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_without_aud_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.remove("aud");
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_with_an_extra_audience_and_no_azp_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("aud".into(), json!([CLIENT_ID, "another-client"]));
    }))
    .await;
}

/// Stricter than the rule asks: no other audience is trusted at all, so
/// `azp` naming us does not make an extra audience acceptable.
#[tokio::test]
async fn an_id_token_with_an_extra_audience_is_refused_even_with_our_azp() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("aud".into(), json!([CLIENT_ID, "another-client"]));
        claims.insert("azp".into(), json!(CLIENT_ID));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_with_a_foreign_azp_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("azp".into(), json!("another-client"));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_aud_as_a_list_of_just_us_is_accepted() {
    assert_accepted(claims_script(|claims, _| {
        claims.insert("aud".into(), json!([CLIENT_ID]));
    }))
    .await;
}

// ---------------------------------------------------------------- B3

fn signed(signing: Signing) -> Script {
    Script {
        signing,
        ..Script::default()
    }
}

#[tokio::test]
async fn an_id_token_with_alg_none_is_refused_though_the_provider_announces_it() {
    id_token_refused(signed(Signing::AlgNone)).await;
}

#[tokio::test]
async fn an_id_token_typed_as_an_access_token_or_a_logout_token_is_refused() {
    for typ in ["at+jwt", "logout+jwt", "application/logout+jwt"] {
        id_token_refused(signed(Signing::Key1WithTyp(typ))).await;
    }
}

#[tokio::test]
async fn an_id_token_typed_jwt_in_any_spelling_signs_in() {
    for typ in ["JWT", "jwt", "application/jwt"] {
        assert_accepted(signed(Signing::Key1WithTyp(typ))).await;
    }
}

#[tokio::test]
async fn an_id_token_hs256_signed_with_a_symmetric_key_the_provider_publishes_is_refused() {
    // The key is in the JWKS for anyone to read: only our own "asymmetric
    // algorithms only" rule stands between it and a forged sign-in.
    id_token_refused(Script {
        signing: Signing::Hs256PublishedKey,
        published: vec![Signing::Key1, Signing::Hs256PublishedKey],
        ..Script::default()
    })
    .await;
}

#[tokio::test]
async fn an_id_token_hs256_signed_with_the_client_secret_is_refused() {
    id_token_refused(signed(Signing::Hs256WithClientSecret)).await;
}

#[tokio::test]
async fn an_id_token_hs256_keyed_with_the_public_key_is_refused() {
    id_token_refused(signed(Signing::Hs256WithPublicKey)).await;
}

#[tokio::test]
async fn an_id_token_signed_by_a_key_in_its_own_jwk_header_is_refused() {
    id_token_refused(signed(Signing::EmbeddedAttackerJwk)).await;
}

#[tokio::test]
async fn an_id_token_with_a_flipped_signature_byte_is_refused() {
    id_token_refused(signed(Signing::FlippedSignature)).await;
}

// ---------------------------------------------------------------- B4

#[tokio::test]
async fn an_id_token_without_exp_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.remove("exp");
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_without_iat_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.remove("iat");
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_without_sub_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.remove("sub");
    }))
    .await;
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn an_id_token_that_expired_six_minutes_ago_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("exp".into(), json!(now() - 360));
        claims.insert("iat".into(), json!(now() - 420));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_issued_a_week_ago_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("iat".into(), json!(now() - 7 * 24 * 3600));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_issued_an_hour_in_the_future_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("iat".into(), json!(now() + 3600));
        claims.insert("exp".into(), json!(now() + 7200));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_with_exp_as_a_string_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("exp".into(), json!("9999999999"));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_with_iat_as_a_string_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        let iat = claims["iat"].to_string();
        claims.insert("iat".into(), json!(iat));
    }))
    .await;
}

// ------------------------------------------------------- at_hash (OIDC Core 3.1.3.8)

#[tokio::test]
async fn an_id_token_with_a_wrong_at_hash_is_refused() {
    id_token_refused(claims_script(|claims, _| {
        claims.insert("at_hash".into(), json!("AAAAAAAAAAAAAAAAAAAAAA"));
    }))
    .await;
}

#[tokio::test]
async fn an_id_token_with_the_right_at_hash_is_accepted() {
    assert_accepted(claims_script(|claims, ctx| {
        let key = CoreRsaPrivateSigningKey::from_pem(
            include_str!("../../../server/tests/fixtures/provider-key-1.pem"),
            Some(JsonWebKeyId::new("k1".into())),
        )
        .unwrap();
        let hash = AccessTokenHash::from_token(
            &AccessToken::new(ctx.access_token.clone()),
            &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            &key.as_verification_key(),
        )
        .unwrap();
        claims.insert("at_hash".into(), json!(hash));
    }))
    .await;
}

// ---------------------------------------------------------------- B5

#[tokio::test]
async fn keys_rotated_between_two_logins_still_sign_the_second_one_in() {
    let rig = assert_accepted(Script::default()).await;
    rig.idp.rescript(|script| {
        script.published = vec![Signing::Key2];
        script.signing = Signing::Key2;
    });
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await);
    assert_eq!(rig.idp.calls().jwks, 2, "keys fetched again once");
}

#[tokio::test]
async fn a_single_key_without_kid_signs_in() {
    assert_accepted(Script {
        published: vec![Signing::Key1WithoutKid],
        signing: Signing::Key1WithoutKid,
        ..Script::default()
    })
    .await;
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_once_then_is_refused_without_hammering() {
    let calls = id_token_refused(signed(Signing::UnknownKid)).await;
    assert_eq!(
        calls.jwks, 2,
        "discovery, then one fetch for the unknown kid"
    );
}

#[tokio::test]
async fn repeated_unknown_kids_fetch_the_keys_at_most_once_per_interval() {
    let rig = TestApp::hostile(signed(Signing::UnknownKid)).spawn().await;
    for _ in 0..3 {
        assert_refused(&rig, INVALID).await;
    }
    assert_eq!(rig.idp.calls().jwks, 2);
}

// ---------------------------------------------------------------- B6

#[tokio::test]
async fn the_access_token_reaches_userinfo_only_in_the_authorization_header() {
    let rig = assert_accepted(Script::default()).await;
    let calls = rig.idp.calls();
    assert_eq!(
        calls.userinfo_authorization,
        [format!("Bearer {}", calls.issued_access_tokens[0])]
    );
    assert_eq!(calls.userinfo_query, [""], "no token in the URL");
}

#[tokio::test]
async fn a_userinfo_sub_that_differs_from_the_id_token_is_refused() {
    let rig = TestApp::hostile(Script {
        userinfo: |claims, _| {
            claims.insert("sub".into(), json!(format!("{SUBJECT}invalid")));
        },
        ..Script::default()
    })
    .spawn()
    .await;
    assert_refused(&rig, INVALID).await;
}

// ---------------------------------------------------------------- B7

/// A new subject whose verified e-mail is an existing account's is not
/// joined to that account (nor given one): the user is told how to
/// connect it instead.
#[tokio::test]
async fn the_same_email_with_another_subject_is_never_joined_to_the_account() {
    let rig = assert_accepted(Script::default()).await;
    rig.idp.rescript(|script| {
        script.claims = |claims, _| {
            claims.insert("sub".into(), json!("hostile-user-2"));
        };
        script.userinfo = |claims, _| {
            claims.insert("sub".into(), json!("hostile-user-2"));
        };
    });
    let client = browser();
    assert_eq!(
        sign_in(&rig, &client).await,
        "/error?code=PC-AUTH-009&provider=hostile&existing=hostile"
    );
    assert!(!is_signed_in(&rig, &client).await);
    let db = rig.database.connect().await;
    let identities: Vec<(String, i64)> =
        sqlx::query_as("SELECT subject, user_id FROM identities ORDER BY subject")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(identities.len(), 1, "{identities:?}");
    assert_eq!(identities[0].0, SUBJECT);
}

// ---------------------------------------------------------------- B9

#[tokio::test]
async fn a_discovery_naming_another_issuer_is_refused_as_misconfigured_before_any_redirect() {
    let rig = TestApp::hostile(Script {
        discovery_issuer: Some("https://evil.test".into()),
        ..Script::default()
    })
    .spawn()
    .await;
    let (url, idp) = (&rig.url, &rig.idp);
    let client = browser();
    let response = client
        .get(format!("{url}/auth/sign-in/hostile"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[header::LOCATION], error(INVALID));
    assert_eq!(idp.calls().authorize, 0);
    let providers: Value = client
        .post(format!("{url}/api/providers"))
        .header(header::ORIGIN, url.as_str())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(providers[0]["available"], json!(false), "{providers}");
}

// ---------------------------------------------------------------- B10

#[tokio::test]
async fn a_token_type_in_odd_case_without_expires_in_signs_in() {
    assert_accepted(Script {
        token_response: |response, _| {
            response.insert("token_type".into(), json!("bEARER"));
            response.remove("expires_in");
        },
        ..Script::default()
    })
    .await;
}

// ---------------------------------------------------------------- B11

#[tokio::test]
async fn a_token_endpoint_redirect_is_not_followed() {
    let rig = TestApp::hostile(Script {
        token_endpoint: TokenEndpoint::RedirectElsewhere,
        ..Script::default()
    })
    .spawn()
    .await;
    let client = browser();
    let end = sign_in(&rig, &client).await;
    assert!(end.starts_with("/error?code=PC-AUTH-00"), "{end}");
    assert!(!is_signed_in(&rig, &client).await);
    let calls = rig.idp.calls();
    assert_eq!((calls.token, calls.stolen), (1, 0), "redirect not followed");
}

#[tokio::test]
async fn a_slow_token_endpoint_ends_on_an_error_page_not_a_hang() {
    let rig = TestApp::hostile(Script {
        token_endpoint: TokenEndpoint::Slow(Duration::from_secs(20)),
        ..Script::default()
    })
    .vars(&[("PROVIDER_TIMEOUT_SECONDS", "1")])
    .spawn()
    .await;
    let client = browser();
    let started = Instant::now();
    assert_eq!(sign_in(&rig, &client).await, error(UNAVAILABLE));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gave up in time"
    );
    assert!(!is_signed_in(&rig, &client).await);
}

// ------------------------------- recorded error answers of the OIDC presets

/// Token-endpoint errors in the shapes Google, GitLab and Microsoft send
/// (`tests/fixtures/<provider>/token-error.json`) end on a refusal, with no
/// further call.
#[tokio::test]
async fn the_oidc_presets_recorded_token_errors_end_on_a_refusal() {
    for body in [
        include_str!("../../../server/tests/fixtures/google/token-error.json"),
        include_str!("../../../server/tests/fixtures/gitlab/token-error.json"),
        include_str!("../../../server/tests/fixtures/microsoft/token-error.json"),
    ] {
        let rig = TestApp::hostile(Script {
            token_endpoint: TokenEndpoint::Recorded(400, body),
            ..Script::default()
        })
        .spawn()
        .await;
        let calls = assert_refused(&rig, REJECTED).await;
        assert_eq!((calls.token, calls.userinfo), (1, 0), "{body}");
    }
}

// ------------------------------------------- Microsoft Entra multi-tenant

const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The hostile provider as a multi-tenant issuer, configured the way a
/// Microsoft app for any organisation is: the `common` endpoint.
async fn multi_tenant(script: Script) -> Rig {
    let idp = HostileIdp::start(Script {
        tenant: Some(TENANT),
        ..script
    })
    .await;
    let common = format!("{}/common/v2.0", idp.issuer);
    TestApp::with_hostile(idp)
        .vars(&[("HOSTILE_PRESET", "microsoft"), ("HOSTILE_ISSUER", &common)])
        .spawn()
        .await
}

#[tokio::test]
async fn a_multi_tenant_sign_in_is_keyed_by_the_tenants_own_issuer() {
    let rig = multi_tenant(Script::default()).await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    let db = rig.database.connect().await;
    let (issuer,): (String,) = sqlx::query_as("SELECT issuer FROM identities")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(issuer, format!("{}/{TENANT}/v2.0", rig.idp.issuer));
}

#[tokio::test]
async fn a_multi_tenant_token_whose_iss_names_another_tenant_is_refused() {
    let rig = multi_tenant(claims_script(|claims, ctx| {
        let other = "00000000-0000-0000-0000-000000000001";
        claims.insert("iss".into(), json!(format!("{}/{other}/v2.0", ctx.issuer)));
    }))
    .await;
    let calls = assert_refused(&rig, INVALID).await;
    assert_eq!(calls.userinfo, 0);
}

#[tokio::test]
async fn a_multi_tenant_token_without_tid_is_refused() {
    let rig = multi_tenant(claims_script(|claims, _| {
        claims.remove("tid");
    }))
    .await;
    assert_refused(&rig, INVALID).await;
}

#[tokio::test]
async fn a_multi_tenant_token_with_a_forged_tid_is_refused() {
    let rig = multi_tenant(claims_script(|claims, ctx| {
        claims.insert("tid".into(), json!("../../evil"));
        claims.insert(
            "iss".into(),
            json!(format!("{}/../../evil/v2.0", ctx.issuer)),
        );
    }))
    .await;
    assert_refused(&rig, INVALID).await;
}

#[tokio::test]
async fn a_multi_tenant_discovery_naming_a_fixed_issuer_is_refused_as_misconfigured() {
    let rig = multi_tenant(Script {
        discovery_issuer: Some("https://login.example/common/v2.0".into()),
        ..Script::default()
    })
    .await;
    let response = browser()
        .get(format!("{}/auth/sign-in/hostile", rig.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[header::LOCATION], error(INVALID));
    assert_eq!(rig.idp.calls().authorize, 0);
}
