//! The app's sign-in hooks (`SignInHooks`), through a real sign-in at the
//! local identity provider: an identity the app refuses is not signed in
//! and leaves nothing behind; the app sees the account before the session
//! exists; a failing hook is a clear error, not a half sign-in.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, routing::get};
use http::{StatusCode, header};
use portcullis::{Attempt, HookError, Identity, Portcullis, SignInHooks, User};
use serde_json::Value;

use crate::harness::{TestApp, browser};
use crate::walk::location;
use crate::{github::through_github, login::complete_at_provider};

/// `(account id, subject, e-mail)` per `before_session`.
type Seen = Arc<Mutex<Vec<(i64, String, Option<String>)>>>;

/// What the hooks do, and what they saw.
#[derive(Clone, Default)]
struct AppHooks {
    /// Connecting another provider is refused.
    no_connect: bool,
    /// Every attempt `allow` was asked about.
    attempts: Arc<Mutex<Vec<Attempt>>>,
    /// Only these e-mail addresses may sign in (none: anyone).
    allowed: Option<Vec<&'static str>>,
    /// `before_session` fails, as if the app's database were down.
    fail: bool,
    seen: Seen,
}

#[portcullis::async_trait]
impl SignInHooks for AppHooks {
    async fn allow(&self, identity: &Identity, attempt: Attempt) -> Result<(), HookError> {
        self.attempts.lock().unwrap().push(attempt);
        if self.no_connect && matches!(attempt, Attempt::Connect { .. }) {
            return Err(HookError::Refused);
        }
        match (&self.allowed, identity.email()) {
            (None, _) => Ok(()),
            (Some(allowed), Some(email))
                if identity.email_verified() && allowed.contains(&email) =>
            {
                Ok(())
            }
            _ => Err(HookError::Refused),
        }
    }

    async fn before_session(&self, account_id: i64, identity: &Identity) -> Result<(), HookError> {
        if self.fail {
            return Err(HookError::Failed("the app's users table is locked".into()));
        }
        self.seen.lock().unwrap().push((
            account_id,
            identity.subject().to_owned(),
            identity.email().map(str::to_owned),
        ));
        Ok(())
    }
}

/// The app's router, with `hooks`.
async fn app(settings: portcullis::Settings, hooks: AppHooks) -> Router {
    let portcullis = Portcullis::builder(settings)
        .sign_in_hooks(hooks)
        .start()
        .await
        .unwrap();
    portcullis.mount(Router::new().route("/api/me", get(|user: User| async { Json(user) })))
}

/// An app with `hooks`, signed in through the local identity provider.
async fn start(hooks: AppHooks) -> TestApp {
    TestApp::local()
        .own_app(|settings, _| app(settings, hooks))
        .await
}

/// Signs `login` in at the provider; where the callback sends the browser.
async fn sign_in(app: &TestApp, client: &reqwest::Client, login: &str) -> String {
    let started = client
        .get(format!("{}/auth/sign-in/local?return_to=%2Fdone", app.url))
        .send()
        .await
        .unwrap();
    let callback = complete_at_provider(client, app, location(&app.url, &started), login).await;
    let back = client.get(&callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    back.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn me(app: &TestApp, client: &reqwest::Client) -> reqwest::Response {
    client
        .get(format!("{}/api/me", app.url))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_identity_the_apps_hook_refuses_is_not_signed_in_and_leaves_nothing_behind() {
    let app = start(AppHooks {
        allowed: Some(vec!["demo@portcullis.test"]),
        ..AppHooks::default()
    })
    .await;
    let client = browser();
    let landed = sign_in(&app, &client, "alice").await;
    assert_eq!(landed, "/auth/error?code=PC-AUTH-013&provider=local");
    assert_eq!(me(&app, &client).await.status(), StatusCode::UNAUTHORIZED);
    let page = client
        .get(format!("{}{landed}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("not allowed to sign in here")
    );
    for table in ["users", "identities", "logins", "token_vault"] {
        assert_eq!(app.database.count(table).await, 0, "{table}");
    }

    // The address the app allows signs in.
    let client = browser();
    assert_eq!(sign_in(&app, &client, "demo").await, "/done");
    assert_eq!(me(&app, &client).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_apps_hook_sees_the_account_before_the_session_exists() {
    let hooks = AppHooks::default();
    let seen = hooks.seen.clone();
    let app = start(hooks).await;
    let client = browser();
    assert_eq!(sign_in(&app, &client, "alice").await, "/done");
    let user: Value = me(&app, &client).await.json().await.unwrap();
    let recorded = seen.lock().unwrap().clone();
    assert_eq!(
        recorded,
        [(
            user["account"].as_i64().unwrap(),
            user["subject"].as_str().unwrap().to_owned(),
            Some("alice@portcullis.test".to_owned())
        )]
    );

    // Signing in again: the same account, told again.
    let client = browser();
    sign_in(&app, &client, "alice").await;
    let recorded = seen.lock().unwrap().clone();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0], recorded[1]);
}

#[tokio::test]
async fn a_failing_hook_ends_the_sign_in_with_a_clear_code_and_no_session() {
    let app = start(AppHooks {
        fail: true,
        ..AppHooks::default()
    })
    .await;
    let client = browser();
    let landed = sign_in(&app, &client, "alice").await;
    assert_eq!(landed, "/auth/error?code=PC-SVC-503&provider=local");
    assert_eq!(me(&app, &client).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.database.count("logins").await, 0);
    assert_eq!(app.database.count("token_vault").await, 0);
}

#[tokio::test]
async fn the_apps_hook_tells_a_connect_from_a_sign_in_and_can_refuse_only_the_connect() {
    let hooks = AppHooks {
        no_connect: true,
        ..AppHooks::default()
    };
    let attempts = hooks.attempts.clone();
    let app = TestApp::local()
        .github(0)
        .own_app(|settings, _| app(settings, hooks))
        .await;
    let client = browser();
    assert_eq!(sign_in(&app, &client, "alice").await, "/done");
    let user: Value = me(&app, &client).await.json().await.unwrap();

    let landed = through_github(&client, &app, "dana", true).await;
    assert_eq!(landed, "/auth/error?code=PC-AUTH-013&provider=github");
    assert_eq!(
        *attempts.lock().unwrap(),
        [
            Attempt::SignIn,
            Attempt::Connect {
                account_id: user["account"].as_i64().unwrap()
            }
        ]
    );
    assert_eq!(
        app.database.count("identities").await,
        1,
        "nothing was connected"
    );
    assert_eq!(
        me(&app, &client).await.status(),
        StatusCode::OK,
        "still signed in"
    );
}
