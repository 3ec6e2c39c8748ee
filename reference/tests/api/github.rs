//! Signing in with GitHub, through the project's fake GitHub: its OAuth app
//! flow and API in the shapes GitHub documents, and its error modes.

use reqwest::{Client, StatusCode, Url, header};
use serde_json::Value;

use crate::harness::{TestApp, browser};
use crate::login::page;
use crate::walk::location;

/// Starts a sign-in (or, with `link`, a "connect") at Portcullis; returns
/// the fake GitHub's authorization URL.
pub async fn start_github(client: &Client, app: &TestApp, link: bool) -> String {
    let response = if link {
        client
            .post(format!("{}/auth/link/github?return_to=%2Fprofile", app.url))
            .header(header::ORIGIN, &app.url)
            .send()
            .await
            .unwrap()
    } else {
        client
            .get(format!("{}/auth/sign-in/github", app.url))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&app.url, &response)
}

/// At the fake GitHub: types `login` and presses `decision` ("authorize"
/// or "cancel"); returns where it sends the browser (our callback).
pub async fn at_github(
    client: &Client,
    app: &TestApp,
    authorize: &str,
    login: &str,
    decision: &str,
) -> String {
    let github = &app.github.as_ref().expect("app with the fake GitHub").url;
    assert!(authorize.starts_with(github.as_str()), "{authorize}");
    let form_page = client.get(authorize).send().await.unwrap();
    assert_eq!(form_page.status(), StatusCode::OK);
    let mut fields: Vec<(String, String)> = Url::parse(authorize)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    fields.push(("login".into(), login.into()));
    fields.push(("decision".into(), decision.into()));
    let posted = client
        .post(format!("{github}/login/oauth/authorize"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::FOUND);
    location(github, &posted)
}

/// Delivers the callback; returns where Portcullis sends the browser.
pub async fn back_from_github(client: &Client, callback: &str) -> String {
    let back = client.get(callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    back.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A whole GitHub sign-in (or, with `link`, a "connect") as `login`;
/// returns where Portcullis ends it.
pub async fn through_github(client: &Client, app: &TestApp, login: &str, link: bool) -> String {
    let authorize = start_github(client, app, link).await;
    let callback = at_github(client, app, &authorize, login, "authorize").await;
    back_from_github(client, &callback).await
}

/// A whole GitHub sign-in as `login`; returns where Portcullis ends it.
pub async fn sign_in_with_github(client: &Client, app: &TestApp, login: &str) -> String {
    through_github(client, app, login, false).await
}

#[tokio::test]
async fn a_github_user_signs_in_keyed_by_the_numeric_id_with_the_verified_email() {
    let app = TestApp::local().github(0).spawn().await;
    let client = browser();
    let authorize = start_github(&client, &app, false).await;
    let query: Vec<(String, String)> = Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("scope"), Some("read:user user:email"));
    assert_eq!(get("code_challenge_method"), Some("S256"));
    assert!(get("nonce").is_none(), "no OpenID Connect here");

    let callback = at_github(&client, &app, &authorize, "octocat", "authorize").await;
    assert_eq!(back_from_github(&client, &callback).await, "/");
    let user: Value = client
        .get(format!("{}/auth/user", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["name"], "The Octocat");
    assert_eq!(user["email"], "octocat@github.test");
    assert_eq!(user["provider"], "github");

    let (issuer, subject): (String, String) =
        sqlx::query_as("SELECT issuer, subject FROM identities")
            .fetch_one(&app.db().await)
            .await
            .unwrap();
    assert_eq!(issuer, app.github.as_ref().unwrap().url);
    assert_eq!(subject, "583231", "the numeric id, not the login");
}

#[tokio::test]
async fn a_github_user_without_a_verified_primary_email_is_told_so() {
    let app = TestApp::local().github(0).spawn().await;
    let client = browser();
    let end = sign_in_with_github(&client, &app, "noverified").await;
    assert_eq!(end, "/error?code=PC-AUTH-007&provider=github");
    let (status, body) = page(&client, format!("{}{end}", app.url)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("no verified e-mail address"), "{body}");
    assert!(body.contains(r#"href="/auth/sign-in/github""#), "try again");
    assert_eq!(
        client
            .get(format!("{}/auth/user", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_token_github_does_not_accept_ends_on_a_refusal() {
    let app = TestApp::local().github(0).spawn().await;
    let end = sign_in_with_github(&browser(), &app, "unauthorized").await;
    assert_eq!(end, "/error?code=PC-AUTH-003&provider=github");
}

#[tokio::test]
async fn a_rate_limited_github_says_to_try_again_later() {
    let app = TestApp::local().github(0).spawn().await;
    let client = browser();
    let end = sign_in_with_github(&client, &app, "ratelimited").await;
    assert_eq!(end, "/error?code=PC-AUTH-008&provider=github");
    let (status, body) = page(&client, format!("{}{end}", app.url)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("try again in a few minutes"), "{body}");
}

#[tokio::test]
async fn a_slow_github_ends_on_an_error_page_not_a_hang() {
    let app = TestApp::local()
        .github(20_000)
        .vars(&[("PROVIDER_TIMEOUT_SECONDS", "1")])
        .spawn()
        .await;
    let started = std::time::Instant::now();
    let end = sign_in_with_github(&browser(), &app, "slow").await;
    assert_eq!(end, "/error?code=PC-AUTH-004&provider=github");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn cancelling_at_github_says_you_cancelled() {
    let app = TestApp::local().github(0).spawn().await;
    let client = browser();
    let authorize = start_github(&client, &app, false).await;
    let callback = at_github(&client, &app, &authorize, "octocat", "cancel").await;
    assert_eq!(
        back_from_github(&client, &callback).await,
        "/error?code=PC-AUTH-001&provider=github"
    );
}

#[tokio::test]
async fn the_profile_shows_live_github_data_fetched_by_the_server() {
    let app = TestApp::local().github(0).spawn().await;
    let client = browser();
    assert_eq!(sign_in_with_github(&client, &app, "octocat").await, "/");
    let (_, live) = crate::walk::live(&client, &app.url).await;
    let entries = live["entries"].as_array().expect("entries");
    assert!(
        entries.contains(&serde_json::json!(["Public repositories", "3"])),
        "{live}"
    );
    assert!(entries.contains(&serde_json::json!(["Login", "octocat"])));
    assert_eq!(live["source"], "GitHub API at GitHub");
}
