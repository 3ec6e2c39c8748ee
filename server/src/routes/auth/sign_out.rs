//! Signing out (`POST /auth/logout`, with RP-initiated logout at the
//! provider) and ending another session of the account
//! (`POST /auth/sessions/end`).

use std::sync::Arc;

use crate::same_origin::is_same_origin;
use axum::{Form, extract::State, http::HeaderMap, response::Response};
use openidconnect::CsrfToken;
use serde::Deserialize;
use tower_sessions::Session;

use super::{Failure, FlowError, redirect, signed_in_same_origin};
use crate::{backend::Core, flow::return_to, session, signed_in::Ending, telemetry::cause_chain};

/// `POST /auth/logout`: same-origin only. The local session and its
/// tokens are destroyed first, so nothing the provider does can keep the
/// user signed in here; then the refresh token is revoked (in the
/// background), and where the provider offers RP-initiated logout the
/// browser goes there to end the provider session too, and comes back to
/// "You are signed out".
pub async fn logout(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, Failure> {
    if !is_same_origin(&headers, &core.public_url) {
        return Err(FlowError::CrossSite.into());
    }
    let user = match session::user(&session).await {
        Ok(user) => user,
        Err(err) => {
            tracing::error!("logout: cannot read the session: {}", cause_chain(&err));
            None
        }
    };
    // Read the tokens for the provider's part, then delete them.
    let mut tokens = None;
    if let Some(user) = &user {
        match core
            .sessions
            .vault
            .get(&user.grant, &user.identity.provider)
            .await
        {
            Ok(found) => tokens = found,
            Err(err) => tracing::error!("logout: tokens unreadable: {}", cause_chain(&err)),
        }
        let session = Ending::One {
            id: &user.row,
            grant: Some(&user.grant),
        };
        if let Err(err) = core.sessions.end_sessions(session).await {
            tracing::error!("logout: session not ended: {}", cause_chain(&err));
        }
    }
    session.flush().await.map_err(FlowError::store)?;
    tracing::info!("user signed out");

    let Some(user) = user else {
        return Ok(redirect("/auth/logged-out"));
    };
    let Some(provider) = core.registry.get(&user.identity.provider) else {
        return Ok(redirect("/auth/logged-out"));
    };
    // Revocation runs on its own: a slow provider never delays the user.
    // Tokens that cannot be opened cannot be revoked; the provider's
    // session is still ended below, without a hint.
    if let Some(tokens) = &tokens {
        core.sessions
            .revoke_in_background(&user.identity.provider, tokens);
    }
    let id_token = tokens.as_ref().and_then(|tokens| tokens.id_token.as_ref());
    let back = format!("{}/auth/logged-out", core.public_url);
    let state = CsrfToken::new_random();
    match provider
        .end_session_url(&core.http, id_token, &back, state.secret())
        .await
    {
        Some(url) => Ok(redirect(url.as_str())),
        None => Ok(redirect("/auth/logged-out")),
    }
}

#[derive(Debug, Deserialize)]
pub struct EndSessionForm {
    id: String,
    /// Where the browser goes next (a path on this site; default `/`).
    return_to: Option<String>,
}

/// `POST /auth/sessions/end` (form: `id`, optional `return_to`):
/// same-origin, signed in; ends another of the account's sessions (this
/// one ends with "Log out").
pub async fn end_session(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<EndSessionForm>,
) -> Result<Response, Failure> {
    let user = signed_in_same_origin(&core, &headers, &session).await?;
    let theirs = core
        .sessions
        .rows
        .get(&form.id)
        .await
        .map_err(FlowError::store)?
        .filter(|row| row.user_id == user.user_id && row.id != user.row);
    if let Some(row) = theirs {
        core.sessions
            .end_session_and_grant(&row)
            .await
            .map_err(FlowError::store)?;
        tracing::info!("a session was ended from another one");
    }
    Ok(redirect(&return_to::or_home(form.return_to.as_deref())))
}
