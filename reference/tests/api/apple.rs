//! Sign in with Apple, against the scripted provider in Apple's documented
//! shapes (`server/tests/fixtures/apple/`): the answer posted back
//! cross-site (form_post), the client secret an ES256 JWT Portcullis makes
//! from the key and the provider verifies, the name only in the first
//! callback's `user` field, `email_verified` as a string, a private-relay
//! address, and no userinfo endpoint.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use p256::{
    ecdsa::{Signature, SigningKey, signature::Verifier},
    pkcs8::DecodePrivateKey,
};
use reqwest::{Client, StatusCode, Url, header};
use serde_json::{Value, json};

use crate::harness::{Rig, TestApp, browser};
use crate::hostile_idp::{CLIENT_ID, Script};
use crate::walk::{self, live, location};

const TEAM_ID: &str = "A1B2C3D4E5";
const KEY_ID: &str = "KEY1234567";
const KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../server/tests/fixtures/apple/test-key.p8"
);
const RELAY_EMAIL: &str = "x7k2m9p4q1@privaterelay.appleid.com";

fn part(jwt: &str, index: usize) -> Value {
    let part = jwt.split('.').nth(index).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// What Apple checks of a client secret: an ES256 JWT by the app's key,
/// from its team, for this client, meant for Apple, not expired.
fn apple_accepts(secret: &str) -> bool {
    let pem = std::fs::read_to_string(KEY_FILE).unwrap();
    let public = *SigningKey::from_pkcs8_pem(&pem).unwrap().verifying_key();
    let Some((input, signature)) = secret.rsplit_once('.') else {
        return false;
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (header, claims) = (part(secret, 0), part(secret, 1));
    signature.is_some_and(|signature| public.verify(input.as_bytes(), &signature).is_ok())
        && header["alg"] == "ES256"
        && header["kid"] == KEY_ID
        && claims["iss"] == TEAM_ID
        && claims["sub"] == CLIENT_ID
        && claims["aud"] == "https://appleid.apple.com"
        && claims["exp"].as_i64().is_some_and(|exp| exp > now)
}

fn apple() -> Script {
    Script {
        shape: Some(crate::shape!("apple", "")),
        // Apple has no userinfo endpoint and no RP-initiated logout.
        discovery: |document, _| {
            document.remove("userinfo_endpoint");
            document.remove("end_session_endpoint");
        },
        client_secret: apple_accepts,
        ..Script::default()
    }
}

async fn start(script: Script) -> Rig {
    TestApp::hostile(script)
        .vars(&[
            ("HOSTILE_PRESET", "apple"),
            // Made from the key instead.
            ("HOSTILE_CLIENT_SECRET", ""),
            ("HOSTILE_TEAM_ID", TEAM_ID),
            ("HOSTILE_KEY_ID", KEY_ID),
            ("HOSTILE_PRIVATE_KEY_FILE", KEY_FILE),
            ("BACKGROUND_REFRESH_SECONDS", "0"),
        ])
        .spawn()
        .await
}

/// A sign-in up to Apple's answer: the fields its page would post back.
async fn answer(rig: &Rig, client: &Client) -> Vec<(String, String)> {
    let authorize = walk::start(rig, client).await;
    let query: Vec<(String, String)> = Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let asked = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(asked("response_mode").as_deref(), Some("form_post"));
    assert_eq!(asked("scope").as_deref(), Some("openid name email"));
    let callback = walk::authorize(rig, client, &authorize).await;
    Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Posts `fields` (and Apple's `user` field, when given) to the callback
/// the way Apple's page does, cross-site, then as Portcullis's relay page
/// does; returns where the sign-in ends.
async fn post_back(
    rig: &Rig,
    client: &Client,
    mut fields: Vec<(String, String)>,
    user: Option<&str>,
) -> String {
    if let Some(user) = user {
        fields.push(("user".into(), user.into()));
    }
    let callback = format!("{}/auth/callback/hostile", rig.url);
    let cross_site = client
        .post(&callback)
        .header(header::ORIGIN, "https://appleid.apple.com")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::OK);
    let relay = cross_site.text().await.unwrap();
    if user.is_some() {
        assert!(
            relay.contains(r#"name="user""#),
            "the relay carries the name: {relay}"
        );
    }
    fields.push(("portcullis_relayed".into(), "1".into()));
    let relayed = post_from_this_site(rig, client, &fields).await;
    assert_eq!(relayed.status(), StatusCode::SEE_OTHER);
    location(&rig.url, &relayed)
        .trim_start_matches(&rig.url)
        .to_owned()
}

/// Posts `fields` to the callback from this site, as the relay page does.
async fn post_from_this_site(
    rig: &Rig,
    client: &Client,
    fields: &[(String, String)],
) -> reqwest::Response {
    client
        .post(format!("{}/auth/callback/hostile", rig.url))
        .header(header::ORIGIN, &rig.url)
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn user(rig: &Rig, client: &Client) -> Value {
    let answer = client
        .get(format!("{}/auth/user", rig.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

#[tokio::test]
async fn apple_signs_in_by_post_with_a_client_secret_made_here_and_keeps_the_name_it_gave_once() {
    let rig = start(apple()).await;
    let client = browser();
    let user_field = include_str!("../../../server/tests/fixtures/apple/user.json");
    let fields = answer(&rig, &client).await;
    assert_eq!(
        post_back(&rig, &client, fields, Some(user_field)).await,
        "/"
    );
    let signed_in = user(&rig, &client).await;
    assert_eq!(signed_in["name"], "Jane Appleseed");
    assert_eq!(signed_in["email"], RELAY_EMAIL);
    assert_eq!(signed_in["email_verified"], true, "\"true\" as a string");
    assert_eq!(
        signed_in["subject"],
        "001234.5a1b2c3d4e5f60718293a4b5c6d7e8f9.1234"
    );
    // The token endpoint took the secret (it refuses one Apple would not).
    let secrets = rig.idp.calls().client_secrets;
    assert_eq!(secrets.len(), 1);
    assert!(apple_accepts(&secrets[0]));
    assert_eq!(part(&secrets[0], 1)["iss"], TEAM_ID);
    // No userinfo endpoint: the profile shows what the sign-in said.
    let (status, profile) = live(&client, &rig.url).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert!(profile.to_string().contains("Jane Appleseed"), "{profile}");
    assert_eq!(rig.idp.calls().userinfo, 0);

    // Apple sends the name only the first time: the next sign-in, in
    // another browser, keeps it; and a `user` field forged on a later
    // sign-in (it is unsigned) renames no one.
    let later = browser();
    let fields = answer(&rig, &later).await;
    assert_eq!(post_back(&rig, &later, fields, None).await, "/");
    assert_eq!(user(&rig, &later).await["name"], "Jane Appleseed");
    let forger = browser();
    let fields = answer(&rig, &forger).await;
    let forged = r#"{"name":{"firstName":"Mallory"}}"#;
    assert_eq!(post_back(&rig, &forger, fields, Some(forged)).await, "/");
    assert_eq!(user(&rig, &forger).await["name"], "Jane Appleseed");
    let secrets = rig.idp.calls().client_secrets;
    assert_eq!(
        secrets[1], secrets[0],
        "made once, used until it nears its end"
    );
}

#[tokio::test]
async fn a_first_apple_sign_in_without_a_name_shows_the_email_until_one_is_given() {
    let rig = start(apple()).await;
    let client = browser();
    let fields = answer(&rig, &client).await;
    assert_eq!(
        post_back(&rig, &client, fields, Some(r#"{"email":"x@y.z"}"#)).await,
        "/"
    );
    assert_eq!(user(&rig, &client).await["name"], RELAY_EMAIL);
}

#[tokio::test]
async fn a_client_secret_apple_would_refuse_ends_the_sign_in_on_a_clear_page() {
    let rig = start(Script {
        // Apple verifies with another key than the one Portcullis signs with.
        client_secret: |_| false,
        ..apple()
    })
    .await;
    let client = browser();
    let fields = answer(&rig, &client).await;
    let ended = post_back(&rig, &client, fields, None).await;
    assert!(ended.starts_with("/error?code=PC-AUTH-"), "{ended}");
    assert!(!walk::is_signed_in(&rig, &client).await);
}

#[tokio::test]
async fn a_user_field_posted_to_another_provider_names_no_one() {
    // A provider that gives no name, whose new account would take the
    // field's if anything read it there.
    let rig = TestApp::hostile(Script {
        userinfo: |claims, _| {
            claims.remove("name");
        },
        ..Script::default()
    })
    .spawn()
    .await;
    let client = browser();
    let fields = answer_any(&rig, &client).await;
    let mut fields = fields;
    fields.push((
        "user".into(),
        json!({"name": {"firstName": "Mallory"}}).to_string(),
    ));
    let back = post_from_this_site(&rig, &client, &fields).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let signed_in = user(&rig, &client).await;
    assert_eq!(
        signed_in["name"], signed_in["email"],
        "the e-mail, not Mallory"
    );
}

/// The answer of a provider that redirects (no form_post asked).
async fn answer_any(rig: &Rig, client: &Client) -> Vec<(String, String)> {
    let authorize = walk::start(rig, client).await;
    let callback = walk::authorize(rig, client, &authorize).await;
    Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}
