//! Server functions: the only calls the browser makes into the app. Each
//! returns view types or an [`AppError`], never a token.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{ConnectionsView, ProviderView, ServiceStatus, SessionView, UserView},
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

/// A live health summary for the status panel.
#[server(endpoint = "status")]
pub async fn check_service_status() -> Result<ServiceStatus, AppError> {
    crate::ports::Ports::from_context()?
        .backend()
        .service_status()
        .await
}
