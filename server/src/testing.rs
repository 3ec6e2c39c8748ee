//! A test kit for apps that mount Portcullis (feature `testing`): sign a
//! user in within the app's own tests in one call, with no provider round
//! trip, and run Portcullis on an in-memory store.
//!
//! ```
//! use axum::{Router, body::Body, http::{Request, header}, routing::get};
//! use portcullis::{Portcullis, User, testing::{self, TestUser}};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let portcullis = Portcullis::start(testing::settings()).await.unwrap();
//! let app = portcullis.mount(Router::new().route(
//!     "/hello",
//!     get(|user: User| async move { format!("hello {}", user.name()) }),
//! ));
//!
//! let session = portcullis
//!     .sign_in_for_test(TestUser::new("dana").name("Dana"))
//!     .await
//!     .unwrap();
//! let request = Request::get("/hello")
//!     .header(header::COOKIE, session.cookie())
//!     .body(Body::empty())
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```

use std::time::Duration;

use tower_sessions::SessionStore as _;

use crate::{
    Portcullis, ProviderConfig, Settings, SettingsBuilder, User,
    secret::Secret,
    session,
    users::{Identity, SignIn},
    vault::TokenSet,
};

/// The provider [`settings`] configures: a plain OAuth 2.0 provider whose
/// endpoints are never called by [`Portcullis::sign_in_for_test`].
pub const TEST_PROVIDER: &str = "test";

/// Settings for an app's tests: session data in memory (`memory:`) and
/// users in an in-memory SQLite database, both gone when the process
/// ends; a vault key for this process only; and one provider,
/// [`TEST_PROVIDER`], configured as a GitHub-style OAuth 2.0 provider at
/// `https://provider.test` that [`Portcullis::sign_in_for_test`] never
/// calls. (A [`TestUser`] whose access token expires is refreshed there
/// like any other, which fails: leave its tokens unexpiring unless the
/// test is about that.)
///
/// # Panics
///
/// Never: the settings are fixed and valid (a test checks it).
#[allow(clippy::expect_used)]
pub fn settings() -> Settings {
    settings_builder()
        .build()
        .expect("the test settings are valid")
}

/// The builder behind [`settings`], to add or change settings in a test
/// (`.sign_in_page("/login")`, another provider...).
pub fn settings_builder() -> SettingsBuilder {
    Settings::builder()
        .database_url("sqlite::memory:")
        .session_store_url(crate::store::MEMORY_URL)
        .provider(
            ProviderConfig::new(TEST_PROVIDER)
                .preset("github")
                .client("test-client", "test-secret")
                .label("Test provider"),
        )
}

/// A user to sign in with [`Portcullis::sign_in_for_test`]: an identity at
/// a configured provider and the tokens its sign-in left in the vault.
#[derive(Clone, Debug)]
pub struct TestUser {
    subject: String,
    provider: Option<String>,
    name: Option<String>,
    email: Option<(String, bool)>,
    picture: Option<String>,
    access_token: Secret,
    refresh_token: Option<Secret>,
    id_token: Option<Secret>,
    expires_in: Option<Duration>,
}

impl TestUser {
    /// The user the provider knows as `subject` (its stable id, OpenID
    /// Connect Core §2 `sub`), named after it, without an e-mail, with the
    /// access token `test-access-token-<subject>` that never expires and no
    /// refresh token.
    pub fn new(subject: impl Into<String>) -> Self {
        let subject = subject.into();
        Self {
            access_token: Secret::new(format!("test-access-token-{subject}")),
            subject,
            provider: None,
            name: None,
            email: None,
            picture: None,
            refresh_token: None,
            id_token: None,
            expires_in: None,
        }
    }

    /// Signs in at the configured provider `id` (default: the first one).
    pub fn provider(mut self, id: impl Into<String>) -> Self {
        self.provider = Some(id.into());
        self
    }

    /// The display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The e-mail address, and whether the provider vouches for it.
    pub fn email(mut self, address: impl Into<String>, verified: bool) -> Self {
        self.email = Some((address.into(), verified));
        self
    }

    /// The avatar's URL.
    pub fn picture(mut self, url: impl Into<String>) -> Self {
        self.picture = Some(url.into());
        self
    }

    /// The access token [`crate::AccessToken`] hands the app's handlers.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Secret::new(token.into());
        self
    }

    /// A refresh token (RFC 6749 §1.5) kept with the access token.
    pub fn refresh_token(mut self, token: impl Into<String>) -> Self {
        self.refresh_token = Some(Secret::new(token.into()));
        self
    }

    /// An ID token (OpenID Connect Core §2) kept with the access token.
    pub fn id_token(mut self, token: impl Into<String>) -> Self {
        self.id_token = Some(Secret::new(token.into()));
        self
    }

    /// The access token expires this long after sign-in (default: never).
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }
}

/// A session [`Portcullis::sign_in_for_test`] signed in.
#[derive(Clone, Debug)]
pub struct TestSession {
    cookie: String,
    user: User,
}

impl TestSession {
    /// The `Cookie` request header's value (`name=value`) that makes a
    /// request this session's.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// The signed-in user, as the [`User`] extractor gives it.
    pub fn user(&self) -> &User {
        &self.user
    }
}

/// Why [`Portcullis::sign_in_for_test`] could not sign the user in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestSignInError {
    /// No provider with this id is configured (`""`: none at all).
    #[error("no configured provider is called {0:?} (none: no provider is configured)")]
    UnknownProvider(String),
    /// The identity is new and its verified e-mail is an existing
    /// account's, which signs in with `provider` (no account is created,
    /// as at a real sign-in).
    #[error("the e-mail belongs to an account that signs in with {provider}")]
    EmailBelongsTo {
        /// The provider the existing account signs in with.
        provider: String,
    },
    /// The app's [`SignInHooks`](crate::SignInHooks) refused the user or
    /// failed, as they would at a real sign-in.
    #[error("the app's sign-in hook stopped the sign-in")]
    Hook(#[source] crate::HookError),
    /// The store failed.
    #[error("the store failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn store(err: impl std::error::Error + Send + Sync + 'static) -> TestSignInError {
    TestSignInError::Store(Box::new(err))
}

impl Portcullis {
    /// Signs `user` in as a real sign-in would (the app's
    /// [`SignInHooks`](crate::SignInHooks), the account and identity, the
    /// tokens sealed in the vault, a signed-in session and its session
    /// record) without a provider round trip; the session to send requests
    /// with. For tests only (feature `testing`).
    ///
    /// # Errors
    ///
    /// [`TestSignInError`]: an unknown provider, an e-mail taken by another
    /// account, the app's hooks refusing or failing, or a store failure.
    pub async fn sign_in_for_test(&self, user: TestUser) -> Result<TestSession, TestSignInError> {
        let core = &self.core;
        let provider = match &user.provider {
            Some(id) => core.registry.get(id),
            None => core.registry.first(),
        }
        .map(|provider| provider.settings.clone())
        .ok_or_else(|| {
            TestSignInError::UnknownProvider(user.provider.clone().unwrap_or_default())
        })?;
        let (email, email_verified) = user.email.clone().unzip();
        let identity = Identity {
            issuer: provider.issuer.clone(),
            subject: user.subject.clone(),
            provider: provider.id.clone(),
            name: user.name.clone().unwrap_or_else(|| user.subject.clone()),
            email,
            email_verified: email_verified.unwrap_or(false),
            picture: user.picture.clone(),
        };
        core.hooks
            .allow(&identity, crate::Attempt::SignIn)
            .await
            .map_err(TestSignInError::Hook)?;
        let user_id = match core.users.sign_in(&identity).await.map_err(store)? {
            SignIn::Account(id) => id,
            SignIn::EmailBelongsTo { provider } => {
                return Err(TestSignInError::EmailBelongsTo { provider });
            }
        };
        core.hooks
            .before_session(user_id, &identity)
            .await
            .map_err(TestSignInError::Hook)?;
        let tokens = TokenSet {
            access_token: user.access_token,
            refresh_token: user.refresh_token,
            id_token: user.id_token,
            expires_at: TokenSet::expiry_in(user.expires_in.map(|lifetime| lifetime.as_secs())),
            api_tokens: Default::default(),
        };
        let signed_in = core
            .sessions
            .keep_sign_in(
                &provider.id,
                identity,
                user_id,
                None,
                "test".into(),
                &tokens,
            )
            .await
            .map_err(store)?;
        let mut record = session::signed_in_record(&signed_in, core.session_idle).map_err(store)?;
        self.sessions.create(&mut record).await.map_err(store)?;
        let name = session::cookie_name(core.public_url.starts_with("https://"));
        Ok(TestSession {
            cookie: format!("{name}={}", record.id),
            user: User(signed_in),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use axum::{
        Router,
        body::{Body, to_bytes},
        http::{Request, StatusCode, header},
        routing::get,
    };
    use tower::ServiceExt;

    use super::*;
    use crate::AccessToken;

    async fn app() -> (Portcullis, Router) {
        let portcullis = Portcullis::start(settings()).await.unwrap();
        let routes = Router::new()
            .route(
                "/me",
                get(|user: User| async move { format!("{} at {}", user.name(), user.provider()) }),
            )
            .route(
                "/token",
                get(|token: AccessToken| async move { token.expose().to_owned() }),
            )
            .route(
                "/bearer",
                get(|token: AccessToken| async move {
                    match token.bearer() {
                        Ok(value) if value.is_sensitive() => {
                            value.to_str().unwrap_or_default().to_owned()
                        }
                        other => format!("{other:?}"),
                    }
                }),
            )
            .route(
                "/debug",
                get(|token: AccessToken| async move { format!("{token:?}") }),
            );
        let app = portcullis.mount(routes);
        (portcullis, app)
    }

    /// `request` (with `cookie`, if any) sent to `app`: the answer's
    /// status and body. For this crate's tests.
    pub(crate) async fn answer(
        app: &Router,
        mut request: http::request::Builder,
        cookie: Option<&str>,
    ) -> (StatusCode, String) {
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn get_with(app: &Router, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
        let request = Request::get(path).header(header::ACCEPT, "application/json");
        answer(app, request, cookie).await
    }

    #[tokio::test]
    async fn a_user_signed_in_by_the_test_kit_reaches_the_apps_handlers_with_its_token() {
        let (portcullis, app) = app().await;
        assert_eq!(
            get_with(&app, "/me", None).await.0,
            StatusCode::UNAUTHORIZED
        );

        let session = portcullis
            .sign_in_for_test(
                TestUser::new("dana")
                    .name("Dana")
                    .email("dana@example.test", true)
                    .access_token("the-token"),
            )
            .await
            .unwrap();
        assert!(
            session.cookie().starts_with("portcullis="),
            "{}",
            session.cookie()
        );
        assert_eq!(session.user().subject(), "dana");
        assert_eq!(
            get_with(&app, "/me", Some(session.cookie())).await,
            (StatusCode::OK, "Dana at test".to_owned())
        );
        assert_eq!(
            get_with(&app, "/token", Some(session.cookie())).await,
            (StatusCode::OK, "the-token".to_owned())
        );
        let debug = get_with(&app, "/debug", Some(session.cookie())).await;
        assert_eq!(debug.1, "AccessToken(..)", "Debug prints no token");
        let bearer = get_with(&app, "/bearer", Some(session.cookie())).await;
        assert_eq!(bearer, (StatusCode::OK, "Bearer the-token".to_owned()));
        let (status, body) = get_with(&app, "/auth/user", Some(session.cookie())).await;
        assert_eq!(status, StatusCode::OK);
        let user: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(user["email"], "dana@example.test");
        assert_eq!(user["email_verified"], true);
    }

    #[tokio::test]
    async fn a_token_that_cannot_be_a_header_value_is_an_error_not_an_empty_bearer() {
        let (portcullis, app) = app().await;
        let session = portcullis
            .sign_in_for_test(TestUser::new("dana").access_token("bad\ntoken"))
            .await
            .unwrap();
        let (status, body) = get_with(&app, "/bearer", Some(session.cookie())).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with("Err("), "{body}");
        assert!(
            !body.contains("bad"),
            "the error holds nothing of the token: {body}"
        );
    }

    #[tokio::test]
    async fn the_test_kit_asks_the_apps_sign_in_hooks_as_a_real_sign_in_does() {
        struct NoEli;
        #[async_trait::async_trait]
        impl crate::SignInHooks for NoEli {
            async fn allow(
                &self,
                identity: &crate::Identity,
                _: crate::Attempt,
            ) -> Result<(), crate::HookError> {
                if identity.subject() == "eli" {
                    Err(crate::HookError::Refused)
                } else {
                    Ok(())
                }
            }
        }
        let portcullis = Portcullis::builder(settings())
            .sign_in_hooks(NoEli)
            .start()
            .await
            .unwrap();
        portcullis
            .sign_in_for_test(TestUser::new("dana"))
            .await
            .unwrap();
        let err = portcullis
            .sign_in_for_test(TestUser::new("eli"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, TestSignInError::Hook(crate::HookError::Refused)),
            "{err:?}"
        );
    }

    /// Where a signed-out page navigation to `/me` ends, with settings
    /// made by `settings`.
    async fn navigation_without_user(
        settings: impl FnOnce(SettingsBuilder) -> SettingsBuilder,
    ) -> (StatusCode, Option<String>) {
        let builder = settings(Settings::builder())
            .database_url("sqlite::memory:")
            .session_store_url("memory:");
        let portcullis = Portcullis::start(builder.build().unwrap()).await.unwrap();
        let app = portcullis.mount(Router::new().route(
            "/me",
            get(|user: User| async move { user.name().to_owned() }),
        ));
        let request = Request::get("/me?tab=1")
            .header("sec-fetch-mode", "navigate")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|value| value.to_str().unwrap().to_owned());
        (response.status(), location)
    }

    #[tokio::test]
    async fn a_signed_out_page_navigation_goes_to_the_configured_sign_in_page_or_gets_401() {
        assert_eq!(
            navigation_without_user(|settings| settings).await,
            (
                StatusCode::SEE_OTHER,
                Some("/auth/sign-in?return_to=%2Fme%3Ftab%3D1".to_owned())
            )
        );
        assert_eq!(
            navigation_without_user(|settings| settings.sign_in_page("/login")).await,
            (
                StatusCode::SEE_OTHER,
                Some("/login?return_to=%2Fme%3Ftab%3D1".to_owned())
            )
        );
        assert_eq!(
            navigation_without_user(SettingsBuilder::no_sign_in_redirect).await,
            (StatusCode::UNAUTHORIZED, None)
        );
        let problems = Settings::builder()
            .database_url("sqlite::memory:")
            .sign_in_page("https://elsewhere.example/login")
            .build()
            .unwrap_err();
        assert!(
            problems.problems()[0].starts_with("APP_SIGN_IN_PAGE must be a path"),
            "{problems}"
        );
    }

    #[tokio::test]
    async fn two_test_users_get_separate_accounts_and_sessions() {
        let (portcullis, app) = app().await;
        let dana = portcullis
            .sign_in_for_test(TestUser::new("dana"))
            .await
            .unwrap();
        let eli = portcullis
            .sign_in_for_test(TestUser::new("eli"))
            .await
            .unwrap();
        assert_ne!(dana.cookie(), eli.cookie());
        assert_ne!(dana.user().account_id(), eli.user().account_id());
        assert_eq!(
            get_with(&app, "/me", Some(eli.cookie())).await.1,
            "eli at test"
        );
    }

    #[tokio::test]
    async fn the_test_kit_refuses_a_provider_that_is_not_configured() {
        let (portcullis, _) = app().await;
        let err = portcullis
            .sign_in_for_test(TestUser::new("dana").provider("google"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TestSignInError::UnknownProvider(id) if id == "google"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn the_test_kit_keeps_the_rule_that_a_verified_email_belongs_to_one_account() {
        let (portcullis, _) = app().await;
        portcullis
            .sign_in_for_test(TestUser::new("dana").email("dana@example.test", true))
            .await
            .unwrap();
        let err = portcullis
            .sign_in_for_test(TestUser::new("impostor").email("dana@example.test", true))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TestSignInError::EmailBelongsTo { provider } if provider == "test"),
            "{err:?}"
        );
    }
}
