//! Generic OpenID Connect against the shapes of real providers: Auth0,
//! Okta, Keycloak, Amazon Cognito and JumpCloud, each answering with the
//! discovery document, ID-token claims, token response and userinfo its
//! public documentation shows (`tests/fixtures/<provider>/`). Each signs in
//! with the right e-mail and verification, loads live data, refreshes when
//! the provider stops accepting the access token, and signs out by
//! back-channel logout under its own issuer (a trailing slash included).

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::harness::{Rig, TestApp, browser};
use crate::walk::{is_signed_in, live, sign_in};
use crate::{
    hostile_idp::{CLIENT_ID, Script, Shape, Signing, sign},
    shape,
};

/// What the user store keeps of the identity that signed in.
async fn stored_identity(rig: &Rig) -> (String, String, Option<String>, bool) {
    sqlx::query_as("SELECT issuer, subject, email, email_verified FROM identities")
        .fetch_one(&rig.database.connect().await)
        .await
        .unwrap()
}

async fn live_loads(rig: &Rig, client: &Client) {
    let (status, answer) = live(client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Sign-in, live data, a refresh and a back-channel logout in `shape`;
/// the identity stored is `(subject, e-mail, verified)`.
async fn works_in_its_shape(shape: Shape, identity: (&str, &str, bool)) {
    works_in_its_shape_with(shape, identity, &[]).await;
}

/// The same, with more settings (a preset for the provider, say).
async fn works_in_its_shape_with(
    shape: Shape,
    identity: (&str, &str, bool),
    more: &[(&str, &str)],
) {
    let script = Script {
        shape: Some(shape),
        ..Script::default()
    };
    let rig = TestApp::hostile(script)
        .vars(&[("BACKGROUND_REFRESH_SECONDS", "0")])
        .vars(more)
        .spawn()
        .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    assert!(is_signed_in(&rig, &client).await);
    let (subject, email, verified) = identity;
    // Keyed by the issuer exactly as the provider names it (a trailing
    // slash included) and the subject.
    let issuer = format!("{}{}", rig.idp.base(), shape.issuer_suffix);
    assert_eq!(
        stored_identity(&rig).await,
        (issuer, subject.to_owned(), Some(email.to_owned()), verified)
    );
    live_loads(&rig, &client).await;

    // The provider stops accepting the access token: refreshed in the
    // same shape, and the call made again.
    rig.idp.expire_access_tokens();
    live_loads(&rig, &client).await;
    assert_eq!(rig.idp.calls().refreshes, 1);
    assert!(is_signed_in(&rig, &client).await);

    // Signing out at the provider, under its own issuer.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = sign(
        &json!({
            "iss": rig.idp.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": format!("shape-{subject}"),
            "sub": subject,
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        }),
        Signing::Key1,
    );
    let status = browser()
        .post(format!("{}/auth/backchannel/hostile", rig.url))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    assert!(!is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn the_slack_preset_with_slacks_answers_signs_in_refreshes_and_signs_out() {
    // `"ok": true` beside the tokens, team claims under URLs, blank names.
    works_in_its_shape_with(
        shape!("slack", ""),
        ("U0R7JM", "krane@slack-shape.test", true),
        &[("HOSTILE_PRESET", "slack")],
    )
    .await;
}

#[tokio::test]
async fn the_linkedin_preset_with_linkedins_answers_signs_in_refreshes_and_signs_out() {
    // `email_verified` as the string "true", `locale` an object in
    // userinfo, a comma-separated scope; an issuer with a path.
    works_in_its_shape_with(
        shape!("linkedin", "/oauth"),
        ("782bbtaQ", "doe@linkedin-shape.test", true),
        &[("HOSTILE_PRESET", "linkedin")],
    )
    .await;
}

#[tokio::test]
async fn the_twitch_preset_asks_for_its_claims_and_signs_in_refreshes_and_signs_out() {
    // The e-mail only when the `claims` parameter asks; the name is the
    // `preferred_username`; `token_type: bearer`, the scope an array.
    let twitch = [("HOSTILE_PRESET", "twitch")];
    works_in_its_shape_with(
        shape!("twitch", "/oauth2"),
        ("713936733", "twitchdev@twitch-shape.test", true),
        &twitch,
    )
    .await;

    let rig = TestApp::hostile(Script {
        shape: Some(shape!("twitch", "/oauth2")),
        ..Script::default()
    })
    .vars(&twitch)
    .spawn()
    .await;
    let client = browser();
    let authorize = crate::walk::start(&rig, &client).await;
    let claims = reqwest::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "claims")
        .map(|(_, value)| value.into_owned())
        .expect("a claims parameter");
    let claims: serde_json::Value = serde_json::from_str(&claims).unwrap();
    assert!(claims["id_token"].get("email").is_some(), "{claims}");
    assert!(
        claims["userinfo"].get("email_verified").is_some(),
        "{claims}"
    );
    let callback = crate::walk::authorize(&rig, &client, &authorize).await;
    assert_eq!(crate::walk::finish(&client, &callback).await, "/");
    let name: (String,) = sqlx::query_as("SELECT name FROM users")
        .fetch_one(&rig.database.connect().await)
        .await
        .unwrap();
    assert_eq!(name.0, "twitchdev");
}

#[tokio::test]
async fn auth0_shaped_answers_sign_in_refresh_and_sign_out() {
    // Issuer with a trailing slash, `updated_at` as RFC 3339 text.
    works_in_its_shape(
        shape!("auth0", "/"),
        (
            "auth0|6761f0c2a1b2c3d4e5f60718",
            "ada@auth0-shape.test",
            true,
        ),
    )
    .await;
}

#[tokio::test]
async fn okta_shaped_answers_sign_in_refresh_and_sign_out() {
    // `email_verified` only in userinfo.
    works_in_its_shape(
        shape!("okta", ""),
        ("00uid4BxXw6I6TV4m0g3", "john.doe@okta-shape.test", true),
    )
    .await;
}

#[tokio::test]
async fn keycloak_shaped_answers_sign_in_refresh_and_sign_out() {
    // `azp`, `typ: ID`, an unverified e-mail, many extra token fields.
    works_in_its_shape(
        shape!("keycloak", ""),
        (
            "f2c1a7e4-1f5e-4a59-9e9d-0c6d3c4b8a11",
            "grace@keycloak-shape.test",
            false,
        ),
    )
    .await;
}

#[tokio::test]
async fn cognito_shaped_answers_sign_in_refresh_and_sign_out() {
    // Userinfo's `email_verified` is the string "true"; no name at all.
    works_in_its_shape(
        shape!("cognito", ""),
        (
            "aaaaaaaa-bbbb-cccc-dddd-example",
            "janedoe@cognito-shape.test",
            true,
        ),
    )
    .await;
}

#[tokio::test]
async fn jumpcloud_shaped_answers_sign_in_refresh_and_sign_out() {
    // Issuer with a trailing slash, `aud` as a list, `token_type: bearer`.
    works_in_its_shape(
        shape!("jumpcloud", "/"),
        (
            "5f0e1d2c3b4a596877665544",
            "alan@jumpcloud-shape.test",
            true,
        ),
    )
    .await;
}

#[tokio::test]
async fn an_azure_ad_v1_token_response_with_numbers_as_strings_signs_in_and_counts_its_lifetime() {
    fn azure_v1(
        response: &mut serde_json::Map<String, serde_json::Value>,
        _: &crate::hostile_idp::Context,
    ) {
        let recorded: serde_json::Value = serde_json::from_str(include_str!(
            "../../../server/tests/fixtures/azure-ad-v1/token_response.json"
        ))
        .unwrap();
        for (name, value) in recorded.as_object().unwrap() {
            if !["access_token", "refresh_token", "id_token"].contains(&name.as_str()) {
                response.insert(name.clone(), value.clone());
            }
        }
    }
    let rig = TestApp::hostile(Script {
        token_response: azure_v1,
        refresh_response: azure_v1,
        ..Script::default()
    })
    .vars(&[
        ("BACKGROUND_REFRESH_SECONDS", "0"),
        ("TOKEN_REFRESH_SKEW_SECONDS", "1"),
        ("ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS", "2"),
    ])
    .spawn()
    .await;
    let client = browser();
    assert_eq!(sign_in(&rig, &client).await, "/");
    // Past the two-second default: only a lifetime that was read holds.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    live_loads(&rig, &client).await;
    assert_eq!(rig.idp.calls().refreshes, 0, "\"3599\" read as 3,599 s");
}
