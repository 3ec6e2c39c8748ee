//! A plain OAuth 2.0 provider added by configuration alone (its endpoints,
//! client authentication, extra parameters and where the identity is in
//! its answers), against the configurable fake provider: signing in,
//! refreshing, the profile, and answers that must be refused.

use reqwest::{Client, StatusCode, Url, header};
use serde_json::{Value, json};

use crate::{
    fake_oauth2::{Behaviour, ClientAuth, FakeOAuth2, Seen},
    harness::{TestApp, browser},
    walk::{live, location},
};

/// Bitbucket's answers (`GET /2.0/user`, `GET /2.0/user/emails`), as its
/// documentation shows them.
fn bitbucket() -> Behaviour {
    Behaviour {
        user: json!({
            "display_name": "Emma Example",
            "account_id": "557058:c0b72ad0-1cb5-4018-9cdc-0cde8492c443",
            "uuid": "{d301aafa-d676-4ee0-88be-962be7417567}",
            "links": { "avatar": { "href": "https://avatars.example/emma.png" } },
            "type": "user"
        }),
        emails: Some(json!({
            "values": [
                { "email": "old@example.com", "is_primary": false, "is_confirmed": true },
                { "email": "emma@example.com", "is_primary": true, "is_confirmed": true }
            ],
            "pagelen": 10, "page": 1, "size": 2
        })),
        client_auth: ClientAuth::Basic,
        ttl: 3600,
    }
}

/// The settings that describe a Bitbucket-shaped provider called "forge".
const FORGE_FIELDS: [(&str, &str); 8] = [
    ("FORGE_SCOPES", "account email"),
    ("FORGE_USER_ID_FIELD", "/account_id"),
    ("FORGE_NAME_FIELD", "/display_name"),
    ("FORGE_AVATAR_FIELD", "/links/avatar/href"),
    ("FORGE_EMAILS_LIST_FIELD", "/values"),
    ("FORGE_EMAILS_PRIMARY_FIELD", "/is_primary"),
    ("FORGE_EMAILS_VERIFIED_FIELD", "/is_confirmed"),
    ("FORGE_AUTHORIZE_PARAMS", "prompt=consent"),
];

/// The app with `fake` as its provider "forge", described by `fields`
/// and `more`.
async fn app_with(
    fake: &FakeOAuth2,
    fields: &[(&str, &str)],
    more: &[(&str, &str)],
) -> TestApp<()> {
    let provider = fake.vars("forge");
    let provider: Vec<(&str, &str)> = provider
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    TestApp::without_provider()
        .vars(&provider)
        .vars(fields)
        .vars(more)
        .spawn()
        .await
}

/// A whole sign-in at "forge"; the authorization request's query and
/// where Portcullis ends the sign-in.
async fn sign_in(client: &Client, app: &TestApp<()>) -> (Vec<(String, String)>, String) {
    sign_in_at(client, app, "forge").await
}

/// The same at the provider called `provider`.
async fn sign_in_at(
    client: &Client,
    app: &TestApp<()>,
    provider: &str,
) -> (Vec<(String, String)>, String) {
    let start = client
        .get(format!("{}/auth/sign-in/{provider}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = location(&app.url, &start);
    let query = Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let approved = client.get(&authorize).send().await.unwrap();
    assert_eq!(approved.status(), StatusCode::SEE_OTHER, "{authorize}");
    let callback = location(&authorize, &approved);
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER, "{callback}");
    let ended = back.headers()[header::LOCATION].to_str().unwrap();
    (query, ended.to_owned())
}

async fn user_json(client: &Client, app: &TestApp<()>) -> Value {
    let answer = client
        .get(format!("{}/auth/user", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let found = query.iter().find(|(key, _)| key == name);
    found.map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn a_provider_written_as_configuration_signs_in_keyed_by_its_issuer_and_user_id() {
    let fake = FakeOAuth2::start(bitbucket()).await;
    let app = app_with(
        &fake,
        &FORGE_FIELDS,
        &[("FORGE_TOKEN_PARAMS", "audience=forge-api")],
    )
    .await;
    let client = browser();

    let (query, ended) = sign_in(&client, &app).await;
    assert_eq!(ended, "/");
    // The authorization request: the configured scopes and parameter,
    // with the protocol's own (PKCE S256, state).
    assert_eq!(param(&query, "scope"), Some("account email"));
    assert_eq!(param(&query, "prompt"), Some("consent"));
    assert_eq!(param(&query, "code_challenge_method"), Some("S256"));
    assert!(param(&query, "state").is_some_and(|state| state.len() >= 22));

    // The code exchange: the client authenticated with HTTP Basic as
    // configured by default, the PKCE verifier (the fake checked it), and
    // the configured token parameter.
    let Seen {
        token,
        userinfo,
        emails,
        ..
    } = fake.seen();
    let (form, authorization) = &token[0];
    assert!(
        authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic "))
    );
    assert!(!form.contains_key("client_secret"));
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["audience"], "forge-api");
    assert!(form.contains_key("code_verifier"));
    assert_eq!((userinfo, emails), (1, 1));

    // The identity: keyed by the authorization endpoint's origin and the
    // configured id field, the primary confirmed e-mail from the list.
    let user = user_json(&client, &app).await;
    assert_eq!(user["name"], "Emma Example", "{user}");
    assert_eq!(user["email"], "emma@example.com", "{user}");
    assert_eq!(
        user["picture"], "https://avatars.example/emma.png",
        "{user}"
    );
    let (issuer, subject, email_verified): (String, String, bool) =
        sqlx::query_as("SELECT issuer, subject, email_verified FROM identities")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(issuer, fake.url);
    assert_eq!(subject, "557058:c0b72ad0-1cb5-4018-9cdc-0cde8492c443");
    assert!(email_verified);

    // Signing in again is the same account.
    let again = browser();
    assert_eq!(sign_in(&again, &app).await.1, "/");
    let count: (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(count.0, 1);
}

#[tokio::test]
async fn client_secret_post_and_the_token_parameters_carry_through_refresh_and_the_profile() {
    let behaviour = Behaviour {
        client_auth: ClientAuth::Post,
        ttl: 1,
        ..bitbucket()
    };
    let fake = FakeOAuth2::start(behaviour).await;
    let app = app_with(
        &fake,
        &FORGE_FIELDS,
        &[
            ("FORGE_TOKEN_AUTH_METHOD", "client_secret_post"),
            ("FORGE_TOKEN_PARAMS", "audience=forge-api"),
            ("BACKGROUND_REFRESH_SECONDS", "0"),
        ],
    )
    .await;
    let client = browser();
    assert_eq!(sign_in(&client, &app).await.1, "/");

    // The access token lives a second, within the refresh skew: the
    // profile's call refreshes it first.
    let (status, profile) = live(&client, &app.url).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    let shown = profile.to_string();
    assert!(shown.contains("Emma Example"), "{shown}");
    let token = fake.seen().token;
    let (refresh, authorization) = token
        .iter()
        .find(|(form, _)| form["grant_type"] == "refresh_token")
        .expect("a refresh grant");
    assert_eq!(
        authorization, &None,
        "no HTTP Basic with client_secret_post"
    );
    assert_eq!(refresh["client_id"], crate::fake_oauth2::CLIENT_ID);
    assert_eq!(refresh["audience"], "forge-api");
}

#[tokio::test]
async fn an_answer_without_a_usable_user_id_is_refused_with_a_clear_code_and_no_session() {
    for user in [
        json!({ "display_name": "No Id" }),
        json!({ "account_id": 1.5, "display_name": "Fraction" }),
        json!({ "account_id": { "id": 1 }, "display_name": "Object" }),
        json!(["not", "an", "object"]),
    ] {
        let fake = FakeOAuth2::start(Behaviour {
            user: user.clone(),
            ..bitbucket()
        })
        .await;
        let app = app_with(&fake, &FORGE_FIELDS, &[]).await;
        let client = browser();
        let (_, ended) = sign_in(&client, &app).await;
        assert_eq!(ended, "/error?code=PC-AUTH-005&provider=forge", "{user}");
        let status = client
            .get(format!("{}/auth/user", app.url))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}");
        let accounts: (i64,) = sqlx::query_as("SELECT count(*) FROM users")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
        assert_eq!(accounts.0, 0, "{user}: no account made");
    }
}

/// Gitea's answers (`GET /api/v1/user`, `GET /api/v1/user/emails`), as its
/// documentation shows them: the default field names fit.
fn gitea() -> Behaviour {
    Behaviour {
        user: json!({
            "id": 1, "login": "gitea", "full_name": "Gitea Admin", "name": "Gitea Admin",
            "email": "admin@git.example", "avatar_url": "https://git.example/avatars/1"
        }),
        emails: Some(json!([
            { "email": "admin@git.example", "verified": true, "primary": true }
        ])),
        client_auth: ClientAuth::Basic,
        ttl: 3600,
    }
}

#[tokio::test]
async fn a_provider_given_only_its_endpoints_signs_in_with_the_default_fields() {
    let fake = FakeOAuth2::start(gitea()).await;
    let app = app_with(&fake, &[], &[]).await;
    let client = browser();
    let (query, ended) = sign_in(&client, &app).await;
    assert_eq!(ended, "/");
    assert_eq!(param(&query, "scope"), None, "no scope unless told");
    let user = user_json(&client, &app).await;
    assert_eq!(user["name"], "Gitea Admin", "{user}");
    assert_eq!(user["email"], "admin@git.example", "{user}");
    let (subject, verified): (String, bool) =
        sqlx::query_as("SELECT subject, email_verified FROM identities")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!((subject.as_str(), verified), ("1", true));
}

#[tokio::test]
async fn an_email_list_the_provider_refuses_signs_in_without_an_email_and_a_down_one_fails() {
    // The e-mail list answers 404 (no such list for this token): the user
    // signs in, with no e-mail rather than a failed sign-in.
    let fake = FakeOAuth2::start(Behaviour {
        emails: None,
        user: json!({ "id": 7, "name": "No Mail" }),
        ..gitea()
    })
    .await;
    let emails_url = format!("{}/api/user/emails", fake.url);
    let app = app_with(&fake, &[("FORGE_EMAILS_URL", &emails_url)], &[]).await;
    let client = browser();
    assert_eq!(sign_in(&client, &app).await.1, "/");
    let user = user_json(&client, &app).await;
    assert_eq!(user["name"], "No Mail", "{user}");
    assert!(user["email"].is_null(), "{user}");
    assert_eq!(fake.seen().emails, 1, "asked once, answered 404");

    // One that cannot be reached fails the sign-in as the provider being
    // down, not as a refusal.
    let fake = FakeOAuth2::start(gitea()).await;
    let app = app_with(
        &fake,
        &[("FORGE_EMAILS_URL", "http://127.0.0.1:9/emails")],
        &[],
    )
    .await;
    assert_eq!(
        sign_in(&browser(), &app).await.1,
        "/error?code=PC-AUTH-004&provider=forge"
    );
}

#[tokio::test]
async fn a_client_the_token_endpoint_does_not_authenticate_ends_on_a_clear_page() {
    // The provider wants client_secret_post; the configuration says Basic.
    let fake = FakeOAuth2::start(Behaviour {
        client_auth: ClientAuth::Post,
        ..bitbucket()
    })
    .await;
    let app = app_with(&fake, &FORGE_FIELDS, &[]).await;
    let client = browser();
    let (_, ended) = sign_in(&client, &app).await;
    assert_eq!(ended, "/error?code=PC-AUTH-003&provider=forge");
    let page = client
        .get(format!("{}{ended}", app.url))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let html = page.text().await.unwrap();
    assert!(html.contains("PC-AUTH-003"), "{html}");
    // The secret has `&` and `/` in it, which a page would escape: look for
    // its plain part.
    assert!(!html.contains("fake oauth2 secret"), "{html}");
}

#[tokio::test]
async fn the_bitbucket_preset_needs_only_its_client_and_reads_bitbuckets_answers() {
    let fake = FakeOAuth2::start(bitbucket()).await;
    let site = fake.url.clone();
    let api = format!("{site}/2.0");
    let app = TestApp::without_provider()
        .vars(&[
            ("AUTH_PROVIDERS", "bitbucket"),
            ("BITBUCKET_CLIENT_ID", crate::fake_oauth2::CLIENT_ID),
            ("BITBUCKET_CLIENT_SECRET", crate::fake_oauth2::CLIENT_SECRET),
            // Where the fake stands in for bitbucket.org and its API.
            ("BITBUCKET_ISSUER", &site),
            ("BITBUCKET_API_URL", &api),
        ])
        .spawn()
        .await;
    let client = browser();
    let (query, ended) = sign_in_at(&client, &app, "bitbucket").await;
    assert_eq!(ended, "/");

    let user = user_json(&client, &app).await;
    assert_eq!(user["name"], "Emma Example", "{user}");
    assert_eq!(user["email"], "emma@example.com", "{user}");
    let (subject, verified): (String, bool) =
        sqlx::query_as("SELECT subject, email_verified FROM identities")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(subject, "557058:c0b72ad0-1cb5-4018-9cdc-0cde8492c443");
    assert!(verified);
    let Seen { token, .. } = fake.seen();
    assert!(
        token[0]
            .1
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic "))
    );
    assert_eq!(param(&query, "scope"), Some("account email"));
    let (status, profile) = live(&client, &app.url).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert!(profile.to_string().contains("Bitbucket API"), "{profile}");
}

#[tokio::test]
async fn the_x_preset_signs_in_by_its_numeric_id_without_an_email() {
    // `GET /2/users/me` as X documents it.
    let fake = FakeOAuth2::start(Behaviour {
        user: json!({ "data": { "id": "2244994945", "name": "X Dev", "username": "XDevelopers" } }),
        emails: None,
        ..bitbucket()
    })
    .await;
    let site = fake.url.clone();
    let api = format!("{site}/2");
    let app = TestApp::without_provider()
        .vars(&[
            ("AUTH_PROVIDERS", "x"),
            ("X_CLIENT_ID", crate::fake_oauth2::CLIENT_ID),
            ("X_CLIENT_SECRET", crate::fake_oauth2::CLIENT_SECRET),
            ("X_ISSUER", &site),
            ("X_API_URL", &api),
        ])
        .spawn()
        .await;
    let client = browser();
    let (query, ended) = sign_in_at(&client, &app, "x").await;
    assert_eq!(ended, "/");
    assert_eq!(
        param(&query, "scope"),
        Some("users.read tweet.read offline.access")
    );
    assert_eq!(param(&query, "code_challenge_method"), Some("S256"));

    let user = user_json(&client, &app).await;
    assert_eq!(user["name"], "X Dev", "{user}");
    assert!(user["email"].is_null(), "{user}");
    let subject: (String,) = sqlx::query_as("SELECT subject FROM identities")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(subject.0, "2244994945");
}

#[tokio::test]
async fn the_facebook_preset_proves_its_app_secret_and_takes_the_confirmed_email() {
    // `GET /me?fields=id,name,email,picture` as Facebook documents it.
    let fake = FakeOAuth2::start(Behaviour {
        user: json!({
            "id": "10158123456789012",
            "name": "Dana Demo",
            "email": "dana@facebook-shape.test",
            "picture": { "data": { "height": 50, "is_silhouette": false,
                "url": "https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=1", "width": 50 } }
        }),
        emails: None,
        client_auth: ClientAuth::Post,
        ..bitbucket()
    })
    .await;
    let site = fake.url.clone();
    let api = format!("{site}/v19.0");
    let app = TestApp::without_provider()
        .vars(&[
            ("AUTH_PROVIDERS", "facebook"),
            ("FACEBOOK_CLIENT_ID", crate::fake_oauth2::CLIENT_ID),
            ("FACEBOOK_CLIENT_SECRET", crate::fake_oauth2::CLIENT_SECRET),
            ("FACEBOOK_ISSUER", &site),
            ("FACEBOOK_API_URL", &api),
        ])
        .spawn()
        .await;
    let client = browser();
    // The fake answers /me only with the right appsecret_proof.
    assert_eq!(sign_in_at(&client, &app, "facebook").await.1, "/");

    let user = user_json(&client, &app).await;
    assert_eq!(user["name"], "Dana Demo", "{user}");
    assert_eq!(user["email"], "dana@facebook-shape.test", "{user}");
    let (subject, verified): (String, bool) =
        sqlx::query_as("SELECT subject, email_verified FROM identities")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!((subject.as_str(), verified), ("10158123456789012", true));
    let (status, profile) = live(&client, &app.url).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert!(
        profile.to_string().contains("Facebook Graph API"),
        "{profile}"
    );
}

#[tokio::test]
async fn a_plain_provider_gets_a_sign_ins_prompt_and_hint_but_no_check_only_an_id_token_proves() {
    let fake = FakeOAuth2::start(bitbucket()).await;
    let app = app_with(&fake, &FORGE_FIELDS, &[]).await;
    let client = browser();
    let (query, ended) = sign_in_at(
        &client,
        &app,
        "forge?prompt=login&login_hint=emma%40example.com&max_age=60&ui_locales=de",
    )
    .await;
    assert_eq!(ended, "/");
    let named = |name: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    };
    assert_eq!(
        named("prompt"),
        ["login"],
        "the sign-in's own prompt, in place of the configured one"
    );
    assert_eq!(named("login_hint"), ["emma@example.com"]);
    assert_eq!(named("ui_locales"), ["de"]);
    assert!(
        named("max_age").is_empty(),
        "an OpenID Connect parameter; the sign-in's own time counts"
    );
    // Without an ID token, no acr could be checked: refused up front.
    let refused = client
        .get(format!(
            "{}/auth/sign-in/forge?acr_values=urn:loa:2",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.headers()[header::LOCATION],
        "/error?code=PC-WEB-400&provider=forge"
    );
}
