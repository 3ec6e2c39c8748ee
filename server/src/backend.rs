//! The server's implementation of the UI's port: turns server state into
//! view types. This is the only place the `app` crate's questions are
//! answered.

use std::time::{Duration, Instant};

use app::{
    error::AppError,
    model::{ConnectionsView, IdentityView, ProviderView, ServiceStatus, UserView},
    ports::{Backend, BoxFuture},
};
use http::request::Parts;
use tower_sessions::Session;

use crate::{
    config::Settings,
    http_client::ProviderHttp,
    providers::Registry,
    session::{self, SessionUser},
    telemetry::cause_chain,
    users::{UserId, UserStore},
    vault::TokenVault,
};

/// Everything request handlers share.
#[derive(Debug)]
pub struct Portcullis {
    pub registry: Registry,
    /// Client for provider calls: no redirects, timeouts, size limit.
    pub http: ProviderHttp,
    /// Our origin, e.g. `https://app.example.com`.
    pub public_url: String,
    /// Every token, encrypted at rest.
    pub vault: TokenVault,
    /// Accounts and their provider identities.
    pub users: UserStore,
    /// How long a started sign-in stays valid.
    pub login_ttl: Duration,
    started: Instant,
}

impl Portcullis {
    pub fn new(
        settings: &Settings,
        registry: Registry,
        http: ProviderHttp,
        vault: TokenVault,
        users: UserStore,
    ) -> Self {
        Self {
            registry,
            http,
            vault,
            users,
            public_url: settings.public_url.clone(),
            login_ttl: settings.login_ttl,
            started: Instant::now(),
        }
    }

    /// The label users know a provider by (its id if it is gone from config).
    pub fn provider_label(&self, id: &str) -> String {
        self.registry
            .get(id)
            .map(|p| p.settings.label.clone())
            .unwrap_or_else(|| id.to_owned())
    }
}

/// The user signed in on the request's session, if any.
async fn session_user(request: &Parts) -> Result<Option<SessionUser>, AppError> {
    let Some(session) = request.extensions.get::<Session>() else {
        tracing::error!("no session layer in front of the app");
        return Err(AppError::Internal);
    };
    session::user(session).await.map_err(|err| {
        tracing::error!("session store failed: {}", cause_chain(&err));
        AppError::Unavailable
    })
}

impl Backend for Portcullis {
    fn providers(&self) -> BoxFuture<'_, Vec<ProviderView>> {
        Box::pin(self.registry.views())
    }

    fn current_user<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<UserView>, AppError>> {
        Box::pin(async move {
            let user = session_user(request).await?;
            Ok(user.map(|u| u.view(self.provider_label(&u.identity.provider))))
        })
    }

    fn connections<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<ConnectionsView>, AppError>> {
        Box::pin(async move {
            let Some(user) = session_user(request).await? else {
                return Ok(None);
            };
            let identities = self
                .users
                .identities(UserId(user.user_id))
                .await
                .map_err(|err| {
                    tracing::error!("user store failed: {}", cause_chain(&err));
                    AppError::Unavailable
                })?;
            let linked: Vec<IdentityView> = identities
                .into_iter()
                .map(|identity| IdentityView {
                    label: self.provider_label(&identity.provider),
                    provider: identity.provider,
                    email: identity.email,
                    issuer: identity.issuer,
                    subject: identity.subject,
                })
                .collect();
            let connectable = self
                .registry
                .views()
                .await
                .into_iter()
                .filter(|p| !linked.iter().any(|l| l.provider == p.id))
                .collect();
            Ok(Some(ConnectionsView {
                linked,
                connectable,
            }))
        })
    }

    fn service_status(&self) -> BoxFuture<'_, Result<ServiceStatus, AppError>> {
        Box::pin(async move {
            let providers = self.registry.views().await;
            Ok(ServiceStatus {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                uptime_secs: self.started.elapsed().as_secs(),
                providers_available: providers.iter().filter(|p| p.available).count(),
                providers_total: providers.len(),
            })
        })
    }
}
