//! Connecting several providers to one account, and never joining
//! accounts by e-mail: with the real local identity provider and the fake
//! GitHub.

use reqwest::{Client, StatusCode, header};

use crate::harness::{TestApp, browser};
use crate::walk::{sign_out, user_status};
use crate::{
    github::{sign_in_with_github, through_github},
    login::{page, sign_in_at_provider},
};

/// Signs `client` in at the local provider as `login`.
async fn sign_in_locally(client: &Client, app: &TestApp, login: &str) {
    let callback = sign_in_at_provider(client, app, login, "/").await;
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.headers()[header::LOCATION], "/");
}

/// From a signed-in profile, connects GitHub as `login`; returns where it
/// ends.
async fn connect_github(client: &Client, app: &TestApp, login: &str) -> String {
    through_github(client, app, login, true).await
}

async fn accounts(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT provider, user_id FROM identities ORDER BY provider")
        .fetch_all(&app.db().await)
        .await
        .unwrap()
}

async fn logout(client: &Client, app: &TestApp) {
    let out = sign_out(client, &app.url).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let next = out.headers()[header::LOCATION].to_str().unwrap();
    assert!(
        next.starts_with(&app.idp.issuer),
        "ends the provider session: {next}"
    );
}

#[tokio::test]
async fn a_connected_github_signs_into_the_same_account_and_both_are_listed() {
    let app = TestApp::local().github(0).spawn().await;
    let client = browser();
    sign_in_locally(&client, &app, "demo").await;
    let (_, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert!(
        profile.contains(r#"action="/auth/link/github?return_to=%2Fprofile""#),
        "offers to connect GitHub"
    );

    assert_eq!(connect_github(&client, &app, "dana").await, "/profile");
    let (_, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert_eq!(
        profile.matches(r#"data-testid="identity""#).count(),
        2,
        "{profile}"
    );
    assert!(!profile.contains(r#"action="/auth/link/github"#));

    logout(&client, &app).await;
    let later = browser();
    assert_eq!(sign_in_with_github(&later, &app, "dana").await, "/");
    let linked = accounts(&app).await;
    assert_eq!(linked.len(), 2, "{linked:?}");
    assert_eq!(linked[0].1, linked[1].1, "one account, two identities");
    let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&app.db().await)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn a_new_provider_with_an_email_in_use_is_told_to_connect_from_the_profile() {
    let app = TestApp::local().github(0).spawn().await;
    sign_in_locally(&browser(), &app, "demo").await;

    // Dana's GitHub has the same verified address as her local account.
    let client = browser();
    let end = sign_in_with_github(&client, &app, "dana").await;
    assert_eq!(
        end,
        "/error?code=PC-AUTH-009&provider=github&existing=local"
    );
    let (status, body) = page(&client, format!("{}{end}", app.url)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.contains(
            "This e-mail belongs to an account that uses Local demo provider. \
             Log in with Local demo provider, then connect GitHub from your profile."
        ),
        "{body}"
    );
    assert!(body.contains(r#"href="/auth/sign-in/local?return_to=/profile""#));
    assert_eq!(accounts(&app).await.len(), 1, "nothing created or linked");
}

#[tokio::test]
async fn connecting_a_github_that_belongs_to_another_account_is_refused() {
    let app = TestApp::local().github(0).spawn().await;
    assert_eq!(sign_in_with_github(&browser(), &app, "octocat").await, "/");
    let client = browser();
    sign_in_locally(&client, &app, "alice").await;
    assert_eq!(
        connect_github(&client, &app, "octocat").await,
        "/error?code=PC-AUTH-010&provider=github"
    );
    let linked = accounts(&app).await;
    assert_ne!(linked[0].1, linked[1].1, "still two accounts");
}

#[tokio::test]
async fn any_identity_but_the_last_can_be_disconnected() {
    let app = TestApp::local().github(0).spawn().await;
    let client = browser();
    sign_in_locally(&client, &app, "demo").await;
    connect_github(&client, &app, "dana").await;
    let (_, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert_eq!(profile.matches(r#"action="/auth/unlink""#).count(), 2);

    let unlink = |issuer: String, subject: &'static str| {
        client
            .post(format!("{}/auth/unlink", app.url))
            .header(header::ORIGIN, &app.url)
            .form(&[
                ("issuer", issuer),
                ("subject", subject.to_owned()),
                ("return_to", "/profile".to_owned()),
            ])
            .send()
    };
    let local = app.idp.issuer.clone();
    let github = app.github.as_ref().unwrap().url.clone();
    let done = unlink(local, "demo-user-1").await.unwrap();
    assert_eq!(done.headers()[header::LOCATION], "/profile");
    // This session was signed in with the identity just disconnected: it
    // ended with it. Signed in with GitHub, the last one stays.
    assert_eq!(
        user_status(&client, &app.url).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sign_in_with_github(&client, &app, "dana").await, "/");
    let refused = unlink(github, "1001").await.unwrap();
    assert_eq!(
        refused.headers()[header::LOCATION],
        "/error?code=PC-AUTH-011"
    );
    let left = accounts(&app).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, "github");
    let (_, profile) = page(&client, format!("{}/profile", app.url)).await;
    assert!(
        !profile.contains(r#"action="/auth/unlink""#),
        "the last cannot be disconnected"
    );
}

#[tokio::test]
async fn disconnecting_an_identity_ends_every_session_signed_in_with_it_and_their_tokens() {
    let app = TestApp::local().github(0).spawn().await;
    let laptop = browser();
    sign_in_locally(&laptop, &app, "demo").await;
    connect_github(&laptop, &app, "dana").await;
    // Two more devices sign into the same account with GitHub.
    let phone = browser();
    assert_eq!(sign_in_with_github(&phone, &app, "dana").await, "/");
    let tablet = browser();
    assert_eq!(sign_in_with_github(&tablet, &app, "dana").await, "/");
    let count = |table: &'static str| {
        let app = &app;
        async move {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&app.db().await)
                .await
                .unwrap();
            n
        }
    };
    assert_eq!((count("logins").await, count("token_vault").await), (3, 3));

    let github = app.github.as_ref().unwrap().url.clone();
    let done = laptop
        .post(format!("{}/auth/unlink", app.url))
        .header(header::ORIGIN, &app.url)
        .form(&[
            ("issuer", github),
            ("subject", "1001".to_owned()),
            ("return_to", "/profile".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.headers()[header::LOCATION], "/profile");
    assert_eq!(
        user_status(&phone, &app.url).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        user_status(&tablet, &app.url).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        user_status(&laptop, &app.url).await,
        StatusCode::OK,
        "signed in locally"
    );
    assert_eq!((count("logins").await, count("token_vault").await), (1, 1));
}

#[tokio::test]
async fn connect_and_disconnect_refuse_cross_site_and_anonymous_requests() {
    let app = TestApp::local().github(0).spawn().await;
    let anonymous = browser();
    let refused = anonymous
        .post(format!("{}/auth/link/github", app.url))
        .header(header::ORIGIN, &app.url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.headers()[header::LOCATION],
        "/error?code=PC-AUTH-401"
    );

    let client = browser();
    sign_in_locally(&client, &app, "demo").await;
    for (path, origin) in [
        ("/auth/link/github", Some("https://evil.test")),
        ("/auth/link/github", None),
        ("/auth/unlink", Some("https://evil.test")),
    ] {
        let mut request = client.post(format!("{}{path}", app.url)).form(&[
            ("issuer", app.idp.issuer.as_str()),
            ("subject", "demo-user-1"),
        ]);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()[header::LOCATION],
            "/error?code=PC-SEC-403",
            "{path} from {origin:?}"
        );
    }
    assert_eq!(accounts(&app).await.len(), 1);
}
