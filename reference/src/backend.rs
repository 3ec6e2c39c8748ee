//! The UI's port answered through Portcullis's public API: each question
//! of `app::ports::Backend` becomes a call on [`Portcullis`] and its answer
//! a view type. The only place the `app` crate meets Portcullis.

use std::time::Instant;

use app::{
    error::AppError,
    model::{
        ConnectionsView, IdentityView, LiveProfile, ProviderView, ServiceStatus, SessionView,
        UserView,
    },
    ports::{self, BoxFuture},
};
use http::request::Parts;
use portcullis::{ErrorCode, Portcullis, ProviderInfo, User};

/// The reference UI's backend.
#[derive(Debug)]
pub struct Backend {
    portcullis: Portcullis,
    started: Instant,
}

impl Backend {
    pub fn new(portcullis: Portcullis) -> Self {
        Self {
            portcullis,
            started: Instant::now(),
        }
    }

    async fn user(&self, request: &Parts) -> Result<Option<User>, AppError> {
        self.portcullis.user(request).await.map_err(app_error)
    }

    /// The label users know a provider by (its id if it is gone from the
    /// settings).
    async fn label(&self, id: &str) -> String {
        self.portcullis
            .providers()
            .await
            .into_iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_owned(), |p| p.label)
    }
}

/// The UI's error for a Portcullis code: the codes are the same.
fn app_error(code: ErrorCode) -> AppError {
    AppError::from_code(code.code()).unwrap_or(AppError::Internal)
}

fn provider_view(provider: ProviderInfo) -> ProviderView {
    ProviderView {
        id: provider.id,
        label: provider.label,
        available: provider.available,
        icon: provider.icon,
    }
}

/// `unix` seconds as the UI shows times, e.g. "2026-11-26 06:40 UTC".
fn format_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).map_or_else(
        |_| "unknown".to_owned(),
        |t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        },
    )
}

impl ports::Backend for Backend {
    fn providers(&self) -> BoxFuture<'_, Vec<ProviderView>> {
        Box::pin(async move {
            let providers = self.portcullis.providers().await;
            providers.into_iter().map(provider_view).collect()
        })
    }

    fn current_user<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<UserView>, AppError>> {
        Box::pin(async move {
            let Some(user) = self.user(request).await? else {
                return Ok(None);
            };
            Ok(Some(UserView {
                name: user.name().to_owned(),
                email: user.email().map(str::to_owned),
                picture: user.picture().map(str::to_owned),
                provider: self.label(user.provider()).await,
                apis: (self.portcullis.remote_apis(Some(&user)).into_iter())
                    .map(str::to_owned)
                    .collect(),
            }))
        })
    }

    fn connections<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<ConnectionsView>, AppError>> {
        Box::pin(async move {
            let Some(user) = self.user(request).await? else {
                return Ok(None);
            };
            let identities = self.portcullis.identities(&user).await.map_err(app_error)?;
            let linked: Vec<IdentityView> = identities
                .into_iter()
                .map(|identity| IdentityView {
                    provider: identity.provider,
                    label: identity.label,
                    icon: identity.icon,
                    email: identity.email,
                    issuer: identity.issuer,
                    subject: identity.subject,
                })
                .collect();
            let connectable = self
                .portcullis
                .providers()
                .await
                .into_iter()
                .filter(|p| !linked.iter().any(|l| l.provider == p.id))
                .map(provider_view)
                .collect();
            Ok(Some(ConnectionsView {
                linked,
                connectable,
            }))
        })
    }

    fn sessions<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Vec<SessionView>>, AppError>> {
        Box::pin(async move {
            let Some(user) = self.user(request).await? else {
                return Ok(None);
            };
            let sessions = self.portcullis.sessions(&user).await.map_err(app_error)?;
            Ok(Some(
                sessions
                    .into_iter()
                    .map(|session| SessionView {
                        current: session.current,
                        browser: session.browser,
                        created: format_time(session.created_at),
                        last_seen: format_time(session.last_seen_at),
                        id: session.id,
                    })
                    .collect(),
            ))
        })
    }

    fn live_profile<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<LiveProfile>, AppError>> {
        Box::pin(async move {
            let Some(user) = self.user(request).await? else {
                return Ok(None);
            };
            let profile = self
                .portcullis
                .provider_profile(&user)
                .await
                .map_err(app_error)?;
            Ok(Some(LiveProfile {
                source: profile.source,
                entries: profile.entries,
                fetched_at: format_time(profile.fetched_at),
            }))
        })
    }

    fn service_status(&self) -> BoxFuture<'_, Result<ServiceStatus, AppError>> {
        Box::pin(async move {
            let providers = self.portcullis.providers().await;
            Ok(ServiceStatus {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                uptime_secs: self.started.elapsed().as_secs(),
                providers_available: providers.iter().filter(|p| p.available).count(),
                providers_total: providers.len(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_portcullis_code_is_a_ui_error_with_the_same_code() {
        for code in ErrorCode::ALL {
            let error = AppError::from_code(code.code());
            assert_eq!(
                error.map(|e| e.code()),
                Some(code.code()),
                "{code:?} has no UI error"
            );
        }
    }

    #[test]
    fn times_read_as_the_ui_shows_them() {
        assert_eq!(format_time(1_795_675_243), "2026-11-26 06:40 UTC");
    }
}
