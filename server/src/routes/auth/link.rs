//! Connecting another provider to the signed-in account
//! (`POST /auth/link/{provider}`) and disconnecting one
//! (`POST /auth/unlink`).

use std::sync::Arc;

use axum::{
    Form,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use serde::Deserialize;
use tower_sessions::Session;

use super::{
    Failure, FlowError, provider, redirect,
    sign_in::{ReturnToQuery, start},
    signed_in_same_origin,
};
use crate::{
    backend::Core,
    flow::{SignInParams, return_to},
    users::{Unlink, UserId},
};

/// `POST /auth/link/{provider}?return_to=/path`: same-origin, signed in;
/// starts a sign-in at `provider` whose identity is connected to this
/// account, then goes back to `return_to` (a path here; default `/`).
pub async fn link(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    Query(query): Query<ReturnToQuery>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, Failure> {
    let user = signed_in_same_origin(&core, &headers, &session).await?;
    let provider = provider(&core, &id)?;
    start(
        &core,
        provider,
        &session,
        return_to::or_home(query.return_to.as_deref()),
        Some(UserId(user.user_id)),
        SignInParams::default(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct UnlinkForm {
    issuer: String,
    subject: String,
    /// Where the browser goes next (a path on this site; default `/`).
    return_to: Option<String>,
}

/// `POST /auth/unlink` (form: `issuer`, `subject`, optional `return_to`):
/// same-origin, signed in; disconnects one of the account's identities,
/// never the last, and ends the sessions signed in with it.
pub async fn unlink(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<UnlinkForm>,
) -> Result<Response, Failure> {
    let user = signed_in_same_origin(&core, &headers, &session).await?;
    let back = return_to::or_home(form.return_to.as_deref());
    let outcome = core
        .users
        .unlink(UserId(user.user_id), &form.issuer, &form.subject)
        .await
        .map_err(FlowError::store)?;
    match outcome {
        Unlink::Unlinked => {
            // Sessions signed in with that identity end with it.
            let rows = core
                .sessions
                .rows
                .for_user(user.user_id)
                .await
                .map_err(FlowError::store)?;
            for row in rows
                .iter()
                .filter(|row| row.issuer == form.issuer && row.subject == form.subject)
            {
                core.sessions
                    .end_session_and_grant(row)
                    .await
                    .map_err(FlowError::store)?;
            }
            Ok(redirect(&back))
        }
        Unlink::NotFound => Ok(redirect(&back)),
        Unlink::LastIdentity => Err(FlowError::LastIdentity.into()),
    }
}
