//! The reference `make bench` measures Portcullis against: a bare Axum
//! server on the same machine, in the same run. `GET /hello` answers a
//! fixed string; `GET /me` looks the `bare` cookie up in an in-memory
//! session map and answers its user as JSON, the least a signed-in JSON
//! request can cost.
//!
//!   BARE_ADDR=127.0.0.1:4000 cargo run --release --example bare_axum
use std::{collections::HashMap, io::Write, sync::Arc};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    routing::get,
};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sessions: Arc<HashMap<String, Value>> = Arc::new(HashMap::from([(
        "1".to_owned(),
        json!({ "account": 1, "name": "Dana Demo", "email": "demo@portcullis.test" }),
    )]));
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/me", get(me))
        .with_state(sessions);
    let address = std::env::var("BARE_ADDR").unwrap_or_else(|_| "127.0.0.1:4000".into());
    let listener = tokio::net::TcpListener::bind(address).await?;
    // The line `make bench` waits for.
    writeln!(std::io::stdout(), "BARE_READY")?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn me(
    State(sessions): State<Arc<HashMap<String, Value>>>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|cookies| {
            cookies
                .split("; ")
                .find_map(|pair| pair.strip_prefix("bare="))
        })
        .ok_or(StatusCode::UNAUTHORIZED)?;
    sessions
        .get(cookie)
        .cloned()
        .map(Json)
        .ok_or(StatusCode::UNAUTHORIZED)
}
