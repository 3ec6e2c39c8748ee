//! Signing in and out through the real local identity provider, the way a
//! browser does it: every redirect and form post, cookies kept.

use reqwest::{Client, StatusCode, header};

use crate::harness::{Store, TestApp, browser};
use crate::walk::{location, sign_out};

/// Follows redirects until a page answers, or until a redirect points at
/// `stop_at` (returned unfetched, so the test can inspect it).
pub async fn follow(
    client: &Client,
    mut url: String,
    stop_at: &str,
) -> (String, reqwest::Response) {
    for _ in 0..20 {
        let response = client.get(&url).send().await.unwrap();
        if !response.status().is_redirection() {
            return (url, response);
        }
        let next = location(&url, &response);
        if next.starts_with(stop_at) {
            return (next, response);
        }
        url = next;
    }
    panic!("too many redirects from {url}");
}

/// Starts a sign-in at Portcullis and completes the provider's login and
/// consent forms as `login`. Returns the callback URL the provider sends
/// the browser back to.
pub async fn sign_in_at_provider(
    client: &Client,
    app: &TestApp,
    login: &str,
    return_to: &str,
) -> String {
    let start = client
        .get(format!(
            "{}/auth/sign-in/local?return_to={return_to}",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    complete_at_provider(client, app, location(&app.url, &start), login).await
}

/// Takes a started sign-in (`authorize`, the provider URL Portcullis sent
/// the browser to) through the provider's forms as `login`; returns the
/// callback URL.
pub async fn complete_at_provider(
    client: &Client,
    app: &TestApp,
    authorize: String,
    login: &str,
) -> String {
    assert!(authorize.starts_with(&app.idp.issuer), "{authorize}");
    let callback_prefix = format!("{}/auth/callback/local", app.url);

    let (page_url, page) = follow(client, authorize, &callback_prefix).await;
    assert_eq!(page.status(), StatusCode::OK, "login form at {page_url}");
    let form = [("prompt", "login"), ("login", login), ("password", "any")];
    let posted = client.post(&page_url).form(&form).send().await.unwrap();
    let (consent_url, consent) =
        follow(client, location(&page_url, &posted), &callback_prefix).await;
    if consent_url.starts_with(&callback_prefix) {
        return consent_url;
    }
    assert!(consent.text().await.unwrap().contains("value=\"consent\""));
    let posted = client
        .post(&consent_url)
        .form(&[("prompt", "consent")])
        .send()
        .await
        .unwrap();
    let (callback, _) = follow(client, location(&consent_url, &posted), &callback_prefix).await;
    assert!(callback.starts_with(&callback_prefix), "{callback}");
    callback
}

pub async fn page(client: &Client, url: String) -> (StatusCode, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn demo_user_signs_in_sees_the_profile_and_signs_out_and_the_tokens_come_and_go() {
    let app = TestApp::local().spawn().await;
    let client = browser();

    let callback = sign_in_at_provider(&client, &app, "demo", "/profile").await;
    assert!(
        callback.contains("iss="),
        "RFC 9207 iss is sent: {callback}"
    );
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert_eq!(back.headers()[header::LOCATION], "/profile");
    assert_eq!(back.headers()[header::REFERRER_POLICY], "no-referrer");

    assert_eq!(
        app.database.count("token_vault").await,
        1,
        "the tokens are in the vault"
    );

    let (status, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(profile.contains("Dana Demo"), "{profile}");
    assert!(profile.contains("demo@portcullis.test"));
    assert!(profile.contains("Local demo provider"));

    let signed_out = sign_out(&client, &app.url).await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    // On to the provider's end-session endpoint, to end that session too.
    let end_session = location(&app.url, &signed_out);
    assert!(
        end_session.starts_with(&format!("{}/session/end?", app.idp.issuer)),
        "{end_session}"
    );
    assert!(end_session.contains("id_token_hint="));
    assert!(end_session.contains(&format!(
        "post_logout_redirect_uri={}",
        url_encode(&format!("{}/auth/logged-out", app.url))
    )));
    assert_eq!(
        app.database.count("token_vault").await,
        0,
        "logout deletes the tokens"
    );
    let (_, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert!(profile.contains("You are not signed in"));
}

/// The in-memory session store (the test kit's) carries a whole sign-in
/// through the real provider: the sealed tokens live in it, not in the
/// users' SQLite database, and signing out ends the session.
#[tokio::test]
async fn a_sign_in_and_sign_out_work_on_the_in_memory_session_store() {
    let app = TestApp::local().store(Store::Memory).spawn().await;
    let client = browser();
    let callback = sign_in_at_provider(&client, &app, "demo", "/profile").await;
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.headers()[header::LOCATION], "/profile");
    let (status, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(profile.contains("Dana Demo"), "{profile}");
    assert_eq!(
        app.database.count("token_vault").await,
        0,
        "the tokens are in the memory store"
    );
    assert_eq!(
        app.database.count("users").await,
        1,
        "the user is in SQLite"
    );
    let (status, live) = crate::walk::live(&client, &app.url).await;
    assert_eq!(status, StatusCode::OK, "the tokens open: {live}");

    let signed_out = sign_out(&client, &app.url).await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
    let (_, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert!(profile.contains("You are not signed in"));
}

#[tokio::test]
async fn a_replayed_callback_is_refused_as_expired() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let callback = sign_in_at_provider(&client, &app, "alice", "/").await;
    let first = client.get(&callback).send().await.unwrap();
    assert_eq!(first.headers()[header::LOCATION], "/");

    let replay = client.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        replay.headers()[header::LOCATION],
        "/error?code=PC-AUTH-002&provider=local"
    );
    let (status, body) = page(
        &client,
        format!("{}/error?code=PC-AUTH-002&provider=local", app.url),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("This sign-in attempt has expired or was already used"));
    assert!(
        body.contains(r#"href="/auth/sign-in/local""#),
        "offers to try again"
    );
}

#[tokio::test]
async fn a_cross_site_logout_leaves_the_user_signed_in() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let callback = sign_in_at_provider(&client, &app, "demo", "/").await;
    client.get(&callback).send().await.unwrap();

    for origin in [Some("https://evil.test"), None] {
        let mut request = client.post(format!("{}/auth/logout", app.url));
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let refused = request.send().await.unwrap();
        assert_eq!(
            refused.headers()[header::LOCATION],
            "/error?code=PC-SEC-403",
            "origin {origin:?}"
        );
    }
    let (_, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert!(profile.contains("Dana Demo"), "still signed in");
}

#[tokio::test]
async fn an_unsafe_return_to_falls_back_to_the_start_page() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let callback = sign_in_at_provider(&client, &app, "demo", "//evil.test").await;
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.headers()[header::LOCATION], "/");
}

#[tokio::test]
async fn a_link_to_the_sign_in_path_s_first_name_still_signs_the_user_in() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let start = client
        .get(format!("{}/auth/login/local?return_to=%2Fprofile", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let callback = complete_at_provider(&client, &app, location(&app.url, &start), "demo").await;
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.headers()[header::LOCATION], "/profile");
}

#[tokio::test]
async fn accounts_are_keyed_by_issuer_and_subject_across_sign_ins() {
    let app = TestApp::local().spawn().await;
    for login in ["demo", "demo", "alice"] {
        // A new browser each time: a fresh session, the same person.
        let client = browser();
        let callback = sign_in_at_provider(&client, &app, login, "/").await;
        let back = client.get(&callback).send().await.unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
    }
    let db = app.db().await;
    let users: Vec<(String, i64)> = sqlx::query_as(
        "SELECT i.subject, i.user_id FROM identities i JOIN users u ON u.id = i.user_id
         WHERE i.issuer = ?1 ORDER BY i.subject",
    )
    .bind(&app.idp.issuer)
    .fetch_all(&db)
    .await
    .unwrap();
    let subjects: Vec<&str> = users.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        ["alice-2", "demo-user-1"],
        "one identity per person"
    );
    assert_ne!(users[0].1, users[1].1, "two people, two accounts");
    let (accounts,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        accounts, 2,
        "signing in twice does not create a second account"
    );
}

/// `value` as it appears in a query string.
pub fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// At the provider's sign-out page (`url`): confirms "Yes, sign me out";
/// returns where the provider sends the browser.
async fn confirm_provider_logout(client: &Client, app: &TestApp, url: &str) -> reqwest::Response {
    let page = client.get(url).send().await.unwrap();
    let body = page.text().await.unwrap();
    let xsrf = body
        .split(r#"name="xsrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no sign-out form: {body}"))
        .to_owned();
    client
        .post(format!("{}/session/end/confirm", app.idp.issuer))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap()
}

async fn signed_in(client: &Client, app: &TestApp) -> bool {
    let status = client
        .get(format!("{}/auth/user", app.url))
        .send()
        .await
        .unwrap()
        .status();
    status == StatusCode::OK
}

#[tokio::test]
async fn signing_out_at_the_provider_signs_the_browser_out_here_by_back_channel() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let callback = sign_in_at_provider(&client, &app, "demo", "/").await;
    client.get(&callback).send().await.unwrap();
    assert!(signed_in(&client, &app).await);

    // The user signs out at the provider itself, not through Portcullis.
    let done = confirm_provider_logout(
        &client,
        &app,
        &format!(
            "{}/session/end?client_id={}",
            app.idp.issuer,
            crate::local_idp::CLIENT_ID
        ),
    )
    .await;
    assert!(done.status().is_redirection() || done.status().is_success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while signed_in(&client, &app).await && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        !signed_in(&client, &app).await,
        "signed out by the provider's logout token"
    );
    assert_eq!(
        app.database.count("token_vault").await,
        0,
        "and its tokens are gone"
    );
}

#[tokio::test]
async fn signing_out_here_ends_the_provider_session_too() {
    let app = TestApp::local().spawn().await;
    let client = browser();
    let callback = sign_in_at_provider(&client, &app, "demo", "/").await;
    client.get(&callback).send().await.unwrap();
    let out = sign_out(&client, &app.url).await;
    let end_session = location(&app.url, &out);
    let back = confirm_provider_logout(&client, &app, &end_session).await;
    assert!(
        location(&app.idp.issuer, &back).starts_with(&format!("{}/auth/logged-out", app.url)),
        "back to 'You are signed out'"
    );
    // A new sign-in must log in again at the provider: its session ended.
    let start = client
        .get(format!("{}/auth/sign-in/local", app.url))
        .send()
        .await
        .unwrap();
    let callback_prefix = format!("{}/auth/callback/local", app.url);
    let (at, page) = follow(&client, location(&app.url, &start), &callback_prefix).await;
    assert!(!at.starts_with(&callback_prefix), "no silent sign-in");
    assert!(
        page.text().await.unwrap().contains(r#"name="login""#),
        "the login form"
    );
}
