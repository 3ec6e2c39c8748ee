//! A small resource server the tests start: a "notes" API that takes only
//! bearer tokens the local identity provider says are active and were
//! issued to Portcullis's client, asking the provider's introspection
//! endpoint (RFC 7662) with its own credentials on every request. Told to
//! ([`NotesApi::require_audience`]), it also takes only tokens meant for
//! its resource (RFC 8707) carrying its scope, as a resource server that
//! checks the audience does. It keeps every token it was shown (for
//! counting refreshes), every introspection answer and the headers of
//! every request (to see what Portcullis forwards).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderName, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::local_idp;

/// The resource server's own client at the provider (its defaults in
/// `end2end/identity-provider/server.mjs`).
const RESOURCE_SERVER: (&str, &str) = ("portcullis-notes-api", "portcullis-notes-api-secret");

pub struct NotesApi {
    pub url: String,
    state: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// The provider's introspection endpoint, once told which provider.
    introspection: OnceLock<String>,
    /// The resource (`aud`) and the scope a token must carry, if any.
    audience: OnceLock<(String, String)>,
    /// Every introspection answer, in order.
    introspected: Mutex<Vec<Value>>,
    /// Every distinct token shown, in order.
    tokens: Mutex<Vec<String>>,
    /// Tokens this server stopped accepting (as if revoked to it).
    refused: Mutex<HashSet<String>>,
    /// The headers of every request, in order.
    requests: Mutex<Vec<HeaderMap>>,
    notes: Mutex<HashMap<String, Vec<String>>>,
}

impl NotesApi {
    /// Starts the API on a free port; it takes tokens once [`trust`]
    /// names the provider.
    ///
    /// [`trust`]: Self::trust
    pub async fn start() -> Self {
        let state = Arc::new(Shared::default());
        let app = Router::new()
            .route("/notes", get(list).post(add))
            .route("/echo", get(echo))
            .route("/download/{bytes}", get(download))
            .route("/upload", post(upload))
            .route("/moved", get(moved))
            .route("/moved-within", get(moved_within))
            .route("/moved-to", get(moved_to))
            .route("/slow", get(slow))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                authorize,
            ))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    /// Takes the tokens of the provider at `issuer` from now on.
    pub async fn trust(&self, issuer: &str) {
        let discovery = local_idp::discovery(issuer).await;
        let endpoint = discovery["introspection_endpoint"].as_str().unwrap();
        self.state.introspection.set(endpoint.to_owned()).unwrap();
    }

    /// From now on takes only tokens whose `aud` includes `resource` and
    /// whose `scope` includes `scope`: others get 401 `invalid_token` (the
    /// wrong audience) or 403 `insufficient_scope` (RFC 6750 §3.1).
    pub fn require_audience(&self, resource: &str, scope: &str) {
        let wanted = (resource.to_owned(), scope.to_owned());
        self.state.audience.set(wanted).unwrap();
    }

    /// Every introspection answer (RFC 7662 §2.2) so far, in order.
    pub fn introspected(&self) -> Vec<Value> {
        self.state.introspected.lock().unwrap().clone()
    }

    /// How many different tokens it has been shown.
    pub fn tokens_seen(&self) -> usize {
        self.state.tokens.lock().unwrap().len()
    }

    /// Every token it has been shown, in order.
    pub fn tokens(&self) -> Vec<String> {
        self.state.tokens.lock().unwrap().clone()
    }

    /// The headers of the last request that reached it.
    pub fn last_request(&self) -> HeaderMap {
        self.state.requests.lock().unwrap().last().cloned().unwrap()
    }

    /// How many requests reached it.
    pub fn requests(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// From now on refuses the last token it was shown, as a resource
    /// server does with a token revoked to it.
    pub fn refuse_current_token(&self) {
        let last = self.state.tokens.lock().unwrap().last().cloned().unwrap();
        self.state.refused.lock().unwrap().insert(last);
    }
}

/// The signed-in user a request is for: its token's `sub`.
#[derive(Clone)]
struct Owner(String);

/// Every request needs a bearer token the provider says is active and
/// was issued to Portcullis; else 401 as RFC 6750 §3 says.
async fn authorize(
    State(state): State<Arc<Shared>>,
    mut request: Request,
    next: axum::middleware::Next,
) -> Response {
    state
        .requests
        .lock()
        .unwrap()
        .push(request.headers().clone());
    let refuse = |why: &str| {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                format!("Bearer error=\"invalid_token\", error_description=\"{why}\""),
            )],
        )
            .into_response()
    };
    let Some(token) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned)
    else {
        return refuse("no bearer token");
    };
    {
        let mut tokens = state.tokens.lock().unwrap();
        if !tokens.contains(&token) {
            tokens.push(token.clone());
        }
    }
    if state.refused.lock().unwrap().contains(&token) {
        return refuse("revoked");
    }
    let Some(endpoint) = state.introspection.get() else {
        return refuse("no provider trusted yet");
    };
    let answer: Value = reqwest::Client::new()
        .post(endpoint)
        .basic_auth(RESOURCE_SERVER.0, Some(RESOURCE_SERVER.1))
        .form(&[
            ("token", token.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state.introspected.lock().unwrap().push(answer.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let valid = answer["active"] == json!(true)
        && answer["client_id"] == json!(local_idp::CLIENT_ID)
        && answer["exp"].as_u64().is_some_and(|exp| exp > now);
    if let Some((resource, scope)) = state.audience.get()
        && valid
    {
        let audience = match &answer["aud"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audience.contains(&resource.as_str()) {
            return refuse("not meant for this resource");
        }
        let scopes = answer["scope"].as_str().unwrap_or_default();
        if !scopes.split(' ').any(|s| s == scope) {
            let challenge = format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"");
            return (
                StatusCode::FORBIDDEN,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response();
        }
    }
    match answer["sub"].as_str() {
        Some(sub) if valid => {
            request.extensions_mut().insert(Owner(sub.to_owned()));
            next.run(request).await
        }
        _ => refuse("not active"),
    }
}

async fn list(
    State(state): State<Arc<Shared>>,
    axum::Extension(owner): axum::Extension<Owner>,
) -> Json<Value> {
    let notes = state.notes.lock().unwrap();
    Json(json!({ "owner": owner.0, "notes": notes.get(&owner.0).cloned().unwrap_or_default() }))
}

async fn add(
    State(state): State<Arc<Shared>>,
    axum::Extension(owner): axum::Extension<Owner>,
    Json(note): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let text = note["text"].as_str().unwrap_or_default().to_owned();
    let mut notes = state.notes.lock().unwrap();
    let mine = notes.entry(owner.0.clone()).or_default();
    mine.push(text);
    (
        StatusCode::CREATED,
        Json(json!({ "owner": owner.0, "notes": mine.clone() })),
    )
}

/// The request's headers as it arrived here; it also tries to act on the
/// whole site it is proxied under: a cookie, clearing site data, turning
/// HSTS off, its own CSP and framing, and letting shared caches keep it.
async fn echo(headers: HeaderMap) -> impl IntoResponse {
    let seen: HashMap<String, String> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (
        [
            (header::SET_COOKIE, "upstream=1; Path=/"),
            (HeaderName::from_static("clear-site-data"), "\"cookies\""),
            (header::STRICT_TRANSPORT_SECURITY, "max-age=0"),
            (header::CONTENT_SECURITY_POLICY, "script-src *"),
            (header::X_FRAME_OPTIONS, "ALLOWALL"),
            (header::CACHE_CONTROL, "public, max-age=600"),
            (HeaderName::from_static("x-portcullis-error"), "PC-AUTH-012"),
        ],
        Json(json!(seen)),
    )
}

/// `bytes` bytes, made as they are sent, 64 KiB at a time.
async fn download(Path(bytes): Path<u64>) -> Response {
    const CHUNK: u64 = 64 * 1024;
    let chunks = bytes.div_ceil(CHUNK);
    let stream = futures_util::stream::iter(0..chunks).map(move |i| {
        let size = CHUNK.min(bytes - i * CHUNK);
        Ok::<_, std::io::Error>(Bytes::from(vec![b'n'; size as usize]))
    });
    (
        [(header::CONTENT_LENGTH, bytes.to_string())],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Reads the body as it comes, keeping only its length.
async fn upload(body: Body) -> Json<Value> {
    let mut stream = body.into_data_stream();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.unwrap().len() as u64;
    }
    Json(json!({ "bytes": bytes }))
}

async fn moved() -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, "https://elsewhere.test/notes")],
    )
        .into_response()
}

/// A relative redirect, to a path under this API.
async fn moved_within() -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, "/notes?from=moved")],
    )
        .into_response()
}

/// A redirect to the absolute URL in `?to=`.
async fn moved_to(
    axum::extract::Query(to): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, to["to"].clone())],
    )
        .into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late"
}
