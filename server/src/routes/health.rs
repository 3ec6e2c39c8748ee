//! Health endpoints for load balancers and orchestrators: `/healthz` says
//! the process is up; `/readyz` says it can serve sign-ins now (the store
//! answers, and which providers are discovered).

use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde_json::{Map, Value, json};

use crate::{backend::Core, telemetry::cause_chain};

/// Liveness: the process is up and serving.
pub async fn healthz() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "status": "ok" })),
    )
}

/// Readiness: 200 when every store in use answers (the users' database,
/// and the session store when it is another one: Redis, say) and a
/// provider is usable; 503 otherwise, naming what is not (a provider that
/// cannot be reached yet does not make the instance unready when others
/// can sign in, but it is reported).
pub async fn readyz(State(core): State<Arc<Core>>) -> impl IntoResponse {
    let users = match core.db.ping().await {
        Ok(()) => "ok",
        Err(err) => {
            tracing::warn!(
                "readiness: the users' database does not answer: {}",
                cause_chain(&err)
            );
            "unavailable"
        }
    };
    let sessions = match core.store.ping().await {
        Ok(()) => "ok",
        Err(err) => {
            tracing::warn!(
                "readiness: the session store ({}) does not answer: {}",
                core.store.kind(),
                cause_chain(&err)
            );
            "unavailable"
        }
    };
    let store = if users == "ok" && sessions == "ok" {
        "ok"
    } else {
        "unavailable"
    };
    let mut providers = Map::new();
    for view in core.registry.views().await {
        let state = if view.available { "ok" } else { "unavailable" };
        providers.insert(view.id, Value::from(state));
    }
    let ready =
        store == "ok" && (providers.is_empty() || providers.values().any(|state| state == "ok"));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "status": if ready { "ready" } else { "unavailable" },
            "store": store,
            "users": users,
            "sessions": sessions,
            "providers": providers,
        })),
    )
}
