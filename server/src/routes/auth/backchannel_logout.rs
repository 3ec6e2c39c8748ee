//! `POST /auth/backchannel/{provider}`: OpenID Connect Back-Channel
//! Logout 1.0, the provider telling us a user signed out there.

use std::{error::Error as StdError, sync::Arc};

use axum::{
    Form,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use crate::{
    backend::Core,
    clock,
    providers::backchannel,
    session_rows::Selector,
    signed_in::Ending,
    telemetry::{cause_chain, escaped},
};

#[derive(Deserialize)]
pub struct BackchannelForm {
    logout_token: Option<String>,
}

impl std::fmt::Debug for BackchannelForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelForm").finish_non_exhaustive()
    }
}

/// `POST /auth/backchannel/{provider}` (OIDC Back-Channel Logout 1.0): the
/// provider says a user signed out there. A valid logout token ends the
/// matching sessions here (by `sid`, or all of the subject's) with their
/// tokens: 200. An invalid one changes nothing: 400. Never cached.
pub async fn backchannel(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    Form(form): Form<BackchannelForm>,
) -> Response {
    let no_store = || [(header::CACHE_CONTROL, "no-store")];
    // The caller is anonymous: the answer says no more than the spec's
    // error code; why goes to the log.
    let refuse = |why: String| {
        tracing::warn!(provider = %escaped(&id), "back-channel logout refused: {}", escaped(&why));
        let body = serde_json::json!({
            "error": "invalid_request",
            "error_description": "The logout token was not accepted.",
        });
        (StatusCode::BAD_REQUEST, no_store(), axum::Json(body)).into_response()
    };
    let Some(provider) = core.registry.openid_provider(&id) else {
        return refuse(format!("no OpenID Connect provider {id:?}"));
    };
    let Some(token) = form.logout_token else {
        return refuse("no logout_token".into());
    };
    // The provider's keys or metadata cannot be had right now: nothing was
    // decided, and the provider may deliver the token again.
    let unavailable = |err: &(dyn StdError + 'static)| {
        tracing::warn!(provider = %id, "back-channel logout deferred: {}", cause_chain(err));
        let body = serde_json::json!({ "error": "temporarily_unavailable" });
        (
            StatusCode::SERVICE_UNAVAILABLE,
            no_store(),
            axum::Json(body),
        )
            .into_response()
    };
    let discovered = match provider.discovered(&core.http).await {
        Ok(discovered) => discovered,
        Err(err) if err.is_temporary() => return unavailable(&err),
        Err(err) => return refuse(format!("provider misconfigured: {}", cause_chain(&err))),
    };
    let allowed = discovered.id_token_algs();
    let signed = match provider
        .verify_signed(&core.http, &discovered, &allowed, &token)
        .await
    {
        Ok(signed) => signed,
        Err(err) if err.is_temporary() => return unavailable(&err),
        Err(err) => return refuse(format!("logout token invalid: {}", cause_chain(&err))),
    };
    let now = clock::now();
    let client_id = &provider.settings.client_id;
    let claims = match backchannel::check(&discovered, client_id, &signed.claims, now) {
        Ok(claims) => claims,
        Err(err) => return refuse(format!("logout token invalid: {err}")),
    };
    let failed = |err: &(dyn StdError + 'static)| {
        tracing::error!(provider = %id, "back-channel logout failed: {}", cause_chain(err));
        // The spec's answer when a valid logout could not be carried out.
        (StatusCode::NOT_IMPLEMENTED, no_store()).into_response()
    };
    match core
        .sessions
        .rows
        .first_use_of_logout_token(&claims.issuer, &claims.jti, claims.remember_until)
        .await
    {
        Ok(true) => {}
        Ok(false) => return refuse("logout token replayed (jti seen before)".into()),
        Err(err) => return failed(&err),
    }
    let selector = match (&claims.sid, &claims.subject) {
        (Some(sid), _) => Selector::Sid {
            issuer: &claims.issuer,
            sid,
        },
        (None, Some(subject)) => Selector::Subject {
            issuer: &claims.issuer,
            subject,
        },
        (None, None) => return refuse("neither sid nor sub".into()),
    };
    let sessions = match core.sessions.end_sessions(Ending::Matching(selector)).await {
        Ok(sessions) => sessions,
        Err(err) => return failed(&err),
    };
    tracing::info!(provider = %id, sessions, "back-channel logout");
    (StatusCode::OK, no_store()).into_response()
}
