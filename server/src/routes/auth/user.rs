//! `GET /auth/user`: the signed-in user as JSON.

use std::sync::Arc;

use crate::error::ErrorCode;
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

use crate::{backend::Core, telemetry::cause_chain};

/// `GET /auth/user`: the signed-in [`User`](crate::User) as JSON, for
/// clients that are not the app's pages; 401 with
/// `{"error": "PC-AUTH-401", ...}` when anonymous.
pub async fn user(State(core): State<Arc<Core>>, session: Session) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    let error = match core.sessions.signed_in(&session).await {
        Ok(Some(user)) => return (no_store, axum::Json(crate::User(user))).into_response(),
        Ok(None) => ErrorCode::NotSignedIn,
        Err(err) => {
            tracing::error!("session store failed: {}", cause_chain(&err));
            ErrorCode::Unavailable
        }
    };
    crate::pages::error_answer(error, error.status(), true)
}
