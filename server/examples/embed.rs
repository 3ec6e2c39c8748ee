//! Portcullis in a plain Axum app: a public page, a page and a JSON
//! endpoint that need a signed-in user, and one that reads the user's
//! data from their provider's API with a fresh access token.
//!
//!   AUTH_PROVIDERS=google GOOGLE_CLIENT_ID=... GOOGLE_CLIENT_SECRET=... \
//!   TOKEN_ENCRYPTION_KEYS=k1:$(head -c 32 /dev/urandom | base64) \
//!   cargo run --example embed
use std::net::SocketAddr;

use axum::{Json, Router, response::Html, routing::get};
use portcullis::{ErrorCode, Portcullis, ProviderProfile, Settings, User};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portcullis = Portcullis::start(Settings::from_env()?).await?;
    tokio::spawn(portcullis.background());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    let app = app(&portcullis).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}

pub fn app(portcullis: &Portcullis) -> Router {
    let routes = Router::new()
        .route("/", get(home))
        .route("/account", get(account))
        .route("/api/me", get(|user: User| async { Json(user) }))
        .route("/api/profile", get(profile));
    portcullis.mount(routes)
}

async fn home(user: Option<User>) -> Html<String> {
    Html(
        match user {
            Some(_) => "<p>You are signed in. <a href=\"/account\">Your account</a></p>",
            None => "<p>Welcome. <a href=\"/auth/sign-in\">Sign in</a></p>",
        }
        .to_owned(),
    )
}

async fn account(user: User) -> Html<String> {
    Html(format!(
        "<h1>Your account</h1><p>Signed in with {}.</p>",
        user.provider()
    ))
}

async fn profile(portcullis: Portcullis, user: User) -> Result<Json<ProviderProfile>, ErrorCode> {
    portcullis.provider_profile(&user).await.map(Json)
}
