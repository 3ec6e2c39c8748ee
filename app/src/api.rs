//! Server functions: the only calls the browser makes into the app. Each
//! returns view types or an [`AppError`], never a token.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{ConnectionsView, LiveProfile, ProviderView, ServiceStatus, SessionView, UserView},
};

/// The providers shown on the login page.
#[server(endpoint = "providers")]
pub async fn list_providers() -> Result<Vec<ProviderView>, AppError> {
    Ok(crate::ports::Ports::from_context()?
        .backend()
        .providers()
        .await)
}

/// The user signed in on this browser session, if any.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    let ports = crate::ports::Ports::from_context()?;
    let parts: http::request::Parts = use_context().ok_or(AppError::Internal)?;
    ports.backend().current_user(&parts).await
}

/// The signed-in account's identities and the providers it could connect.
#[server(endpoint = "connections")]
pub async fn connections() -> Result<Option<ConnectionsView>, AppError> {
    let ports = crate::ports::Ports::from_context()?;
    let parts: http::request::Parts = use_context().ok_or(AppError::Internal)?;
    ports.backend().connections(&parts).await
}

/// The signed-in account's sessions, this one first.
#[server(endpoint = "sessions")]
pub async fn sessions() -> Result<Option<Vec<SessionView>>, AppError> {
    let ports = crate::ports::Ports::from_context()?;
    let parts: http::request::Parts = use_context().ok_or(AppError::Internal)?;
    ports.backend().sessions(&parts).await
}

/// Fresh data from the provider, fetched by the server with the user's
/// token.
#[server(endpoint = "live_profile")]
pub async fn fetch_live_profile() -> Result<Option<LiveProfile>, AppError> {
    let ports = crate::ports::Ports::from_context()?;
    let parts: http::request::Parts = use_context().ok_or(AppError::Internal)?;
    with_status(ports.backend().live_profile(&parts).await)
}

/// Sets the HTTP status of a failed server function to its error's, so
/// no failure is a bare 500; the body is the typed error the UI shows.
#[cfg(feature = "ssr")]
fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(err) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(err.status())
    {
        response.set_status(status);
    }
    result
}

/// A live health summary for the status panel.
#[server(endpoint = "status")]
pub async fn check_service_status() -> Result<ServiceStatus, AppError> {
    crate::ports::Ports::from_context()?
        .backend()
        .service_status()
        .await
}
