//! Health endpoints for load balancers and orchestrators.

use axum::{Json, http::header, response::IntoResponse};
use serde_json::json;

/// Liveness: the process is up and serving.
pub async fn healthz() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "status": "ok" })),
    )
}
