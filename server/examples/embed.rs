//! Portcullis in a plain Axum app: a public page, a page and a JSON
//! endpoint that need a signed-in user, one that reads the user's data
//! from their provider's API with a fresh access token, and a script on
//! the account page that calls the app's own notes API through
//! Portcullis's proxy (the browser never holds the token).
//!
//!   AUTH_PROVIDERS=google GOOGLE_CLIENT_ID=... GOOGLE_CLIENT_SECRET=... \
//!   REMOTE_APIS=notes API_NOTES_URL=https://notes.internal API_NOTES_PROVIDER=google \
//!   TOKEN_ENCRYPTION_KEYS=k1:$(head -c 32 /dev/urandom | base64) \
//!   cargo run --example embed
use std::net::SocketAddr;

use axum::{Json, Router, http::header, response::Html, routing::get};
use portcullis::{ErrorCode, Portcullis, ProviderProfile, Settings, User};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portcullis = Portcullis::start(Settings::from_env()?).await?;
    tokio::spawn(portcullis.background());
    let address = std::env::var("EMBED_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(address).await?;
    let app = app(&portcullis).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}

pub fn app(portcullis: &Portcullis) -> Router {
    let routes = Router::new()
        .route("/", get(home))
        .route("/account", get(account))
        .route("/api/me", get(|user: User| async { Json(user) }))
        .route("/api/profile", get(profile))
        .route(
            "/notes.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], NOTES_JS) }),
        );
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

async fn account(portcullis: Portcullis, user: User) -> Html<String> {
    // The notes, where this session can call the notes API.
    let notes = match portcullis.remote_apis(Some(&user)).contains(&"notes") {
        true => {
            "<h2>Your notes</h2><ul id=\"notes\" aria-live=\"polite\"><li>Loading…</li></ul>\
                 <script src=\"/notes.js\"></script>"
        }
        false => "",
    };
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><title>Your account</title>\
         <h1>Your account</h1><p>Signed in with {}.</p>{notes}",
        user.provider()
    ))
}

/// The account page's script: the notes API through the proxy, with the
/// header that proves the call is this site's own.
const NOTES_JS: &str = r#"const list = document.getElementById("notes");
const show = (lines) => list.replaceChildren(...lines.map((text) => {
  const item = document.createElement("li");
  item.textContent = text;
  return item;
}));
fetch("/api/remote/notes/notes", { headers: { "X-CSRF": "1" } })
  .then(async (answer) => {
    const body = await answer.json().catch(() => ({}));
    if (answer.ok && Array.isArray(body.notes)) {
      show(body.notes.length ? body.notes.map((note) => note.text) : ["No notes yet."]);
    } else if (answer.headers.get("X-Portcullis-Error")) {
      show([body.message]); // Portcullis refused: its sentence says what to do
    } else {
      show([`The notes service could not answer (HTTP ${answer.status}).`]);
    }
  })
  .catch(() => show(["The notes service could not be reached."]));"#;

async fn profile(portcullis: Portcullis, user: User) -> Result<Json<ProviderProfile>, ErrorCode> {
    portcullis.provider_profile(&user).await.map(Json)
}
