//! `/auth/*`, one file per endpoint group: signing in (`sign_in.rs`, with
//! the protocol-specific steps in `oidc.rs` and `plain.rs`), connecting and
//! disconnecting providers (`link.rs`), signing out (`sign_out.rs`), the
//! back-channel logout endpoint (`backchannel_logout.rs`) and the user as
//! JSON (`user.rs`). This file holds what they share: how a failure is
//! answered (the error page with a stable code; the cause chain goes to
//! the log, never to the browser) and the same-origin check.

mod backchannel_logout;
mod link;
mod oidc;
mod plain;
mod sign_in;
mod sign_out;
mod user;

pub use self::{
    backchannel_logout::backchannel,
    link::{link, unlink},
    sign_in::{callback, login},
    sign_out::{end_session, logout},
    user::user,
};

use std::{error::Error as StdError, fmt::Write as _, sync::Arc};

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

use crate::{
    backend::Core,
    error::ErrorCode,
    hooks::HookError,
    providers::Provider,
    same_origin::is_same_origin,
    session::SessionUser,
    telemetry::{cause_chain, escaped},
};

/// Portcullis's own page for a failed sign-in; [`to_error_page`] sends the
/// browser to the app's instead when the settings name one.
pub const ERROR_PAGE: &str = "/auth/error";

/// Middleware: a redirect to [`ERROR_PAGE`] goes to the app's own error
/// page (`Settings::error_page`) with the same query.
pub async fn to_error_page(
    State(page): State<Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let location = response.headers().get(header::LOCATION);
    if let Some(query) = location
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix(ERROR_PAGE))
        .filter(|rest| rest.starts_with('?'))
        && let Ok(value) = HeaderValue::from_str(&format!("{page}{query}"))
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A failed step: what the user is told, and the cause for the log.
#[derive(Debug)]
pub struct Failure {
    error: ErrorCode,
    provider: Option<String>,
    /// For [`ErrorCode::EmailInUse`]: the provider the account uses.
    existing: Option<String>,
    cause: String,
}

impl Failure {
    fn new(error: ErrorCode, provider: Option<&str>, cause: impl Into<String>) -> Self {
        Self {
            error,
            provider: provider.map(str::to_owned),
            existing: None,
            cause: cause.into(),
        }
    }

    fn from_error(
        error: ErrorCode,
        provider: Option<&str>,
        err: &(dyn StdError + 'static),
    ) -> Self {
        Self::new(error, provider, cause_chain(err))
    }

    fn unavailable(provider: Option<&str>, err: &(dyn StdError + 'static)) -> Self {
        Self::from_error(ErrorCode::Unavailable, provider, err)
    }

    /// The app's sign-in hook said no, or failed.
    fn hook(provider: &str, err: &HookError) -> Self {
        let code = match err {
            HookError::Refused => ErrorCode::SignInRefused,
            _ => ErrorCode::Unavailable,
        };
        Self::from_error(code, Some(provider), err)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        tracing::warn!(
            code = self.error.code(),
            provider = self.provider.as_deref().map(escaped).unwrap_or_default(),
            "sign-in flow failed: {}",
            escaped(&self.cause)
        );
        let mut location = format!("{ERROR_PAGE}?code={}", self.error.code());
        if let Some(provider) = &self.provider {
            let _ = write!(location, "&provider={provider}");
        }
        if let Some(existing) = &self.existing {
            let _ = write!(location, "&existing={existing}");
        }
        redirect(&location)
    }
}

fn provider<'a>(core: &'a Core, id: &str) -> Result<&'a Provider, Failure> {
    core.registry.get(id).ok_or_else(|| {
        Failure::new(
            ErrorCode::UnknownProvider,
            None,
            format!("no provider {id:?}"),
        )
    })
}

/// A 303 that leaks nothing: no Referer with the code, no cached copy.
fn redirect(location: &str) -> Response {
    let mut response = Redirect::to(location).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The signed-in user of a state-changing request that came from our own
/// pages.
async fn signed_in_same_origin(
    core: &Core,
    headers: &HeaderMap,
    session: &Session,
) -> Result<SessionUser, Failure> {
    if !is_same_origin(headers, &core.public_url) {
        return Err(Failure::new(
            ErrorCode::CrossSiteRequest,
            None,
            "a state-changing request without a same-origin Origin or Sec-Fetch-Site header",
        ));
    }
    core.sessions
        .signed_in(session)
        .await
        .map_err(|err| Failure::unavailable(None, &err))?
        .ok_or_else(|| Failure::new(ErrorCode::NotSignedIn, None, "not signed in"))
}
