//! `/auth/*`, one file per endpoint group: signing in (`sign_in.rs`, with
//! the protocol's steps behind `providers::CodeFlow`), connecting and
//! disconnecting providers (`link.rs`), signing out (`sign_out.rs`), the
//! back-channel logout endpoint (`backchannel_logout.rs`) and the user as
//! JSON (`user.rs`). This file holds what they share: how a failure is
//! answered (the error page with a stable code; the cause chain goes to
//! the log, never to the browser) and the same-origin check.

mod backchannel_logout;
mod failure;
mod form_post;
mod link;
mod sign_in;
mod sign_out;
mod user;

pub(crate) use self::failure::FlowError;
pub use self::{
    backchannel_logout::backchannel,
    failure::Failure,
    link::{link, unlink},
    sign_in::{callback, callback_form, start_sign_in},
    sign_out::{end_session, logout},
    user::user,
};

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

use crate::{
    backend::Core, providers::Provider, same_origin::is_same_origin, session::SessionUser,
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

fn provider<'a>(core: &'a Core, id: &str) -> Result<&'a Provider, Failure> {
    core.registry
        .get(id)
        .ok_or_else(|| FlowError::UnknownProvider(id.to_owned()).into())
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
        return Err(FlowError::CrossSite.into());
    }
    core.sessions
        .signed_in(session)
        .await
        .map_err(FlowError::store)?
        .ok_or_else(|| FlowError::NotSignedIn.into())
}
