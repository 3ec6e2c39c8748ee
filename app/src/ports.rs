//! The port through which the server side of the UI asks the backend for
//! view data. The `server` crate implements [`Backend`] and provides
//! [`Ports`] as Leptos context; the UI never sees how the answer was made
//! (sessions, tokens, databases all stay behind this line).

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use http::request::Parts;

use crate::{
    error::AppError,
    model::{ConnectionsView, LiveProfile, ProviderView, ServiceStatus, SessionView, UserView},
};

/// A boxed, sendable future, so [`Backend`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the UI needs from the backend.
pub trait Backend: Send + Sync + 'static {
    /// The configured providers, in display order.
    fn providers(&self) -> BoxFuture<'_, Vec<ProviderView>>;

    /// The user signed in on the request's session, if any.
    fn current_user<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<UserView>, AppError>>;

    /// The signed-in account's identities and what it could connect;
    /// `None` when nobody is signed in.
    fn connections<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<ConnectionsView>, AppError>>;

    /// The signed-in account's sessions, this one first; `None` when
    /// nobody is signed in.
    fn sessions<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Vec<SessionView>>, AppError>>;

    /// Fresh data from the provider's API with the session's token
    /// (refreshed first if it is about to expire); `None` when nobody is
    /// signed in.
    fn live_profile<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<LiveProfile>, AppError>>;

    /// A live health summary.
    fn service_status(&self) -> BoxFuture<'_, Result<ServiceStatus, AppError>>;
}

/// The backend handle kept in Leptos context.
#[derive(Clone)]
pub struct Ports(Arc<dyn Backend>);

impl Ports {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self(backend)
    }

    /// The backend from the current reactive context. Missing context is a
    /// wiring bug on the server; the user sees [`AppError::Internal`].
    pub fn from_context() -> Result<Self, AppError> {
        leptos::prelude::use_context::<Self>().ok_or(AppError::Internal)
    }

    pub fn backend(&self) -> &dyn Backend {
        self.0.as_ref()
    }
}

impl fmt::Debug for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ports(..)")
    }
}
