//! A configurable plain OAuth 2.0 provider the tests start, for providers
//! added by configuration alone: an authorization endpoint that approves
//! at once (checking the client, `response_type` and the PKCE method), a
//! token endpoint that authenticates the client the one way it is told
//! (RFC 6749 §2.3.1), checks the code, its redirect URI and the PKCE
//! verifier (RFC 7636 §4.6) and rotates refresh tokens, and user-info and
//! e-mail list endpoints that answer the JSON they are given to live
//! access tokens only. It keeps every request it was sent.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "fake-oauth2-client";
pub const CLIENT_SECRET: &str = "fake oauth2 secret/+&";

/// How the token endpoint wants the client to authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
}

/// What the provider answers.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// The user-info answer.
    pub user: Value,
    /// The e-mail list's answer, if it has one.
    pub emails: Option<Value>,
    pub client_auth: ClientAuth,
    /// `expires_in` of its access tokens.
    pub ttl: u64,
}

/// What it was sent.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// The query of each authorization request.
    pub authorize: Vec<HashMap<String, String>>,
    /// Each token request's form and `Authorization` header.
    pub token: Vec<(HashMap<String, String>, Option<String>)>,
    /// How many user-info and e-mail list calls answered.
    pub userinfo: usize,
    pub emails: usize,
}

struct Code {
    challenge: String,
    redirect_uri: String,
}

struct Shared {
    behaviour: Behaviour,
    seen: Seen,
    codes: HashMap<String, Code>,
    access_tokens: HashSet<String>,
    refresh_tokens: HashSet<String>,
    issued: usize,
}

type Fake = Arc<Mutex<Shared>>;

pub struct FakeOAuth2 {
    /// Its base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    shared: Fake,
}

impl FakeOAuth2 {
    pub async fn start(behaviour: Behaviour) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            behaviour,
            seen: Seen::default(),
            codes: HashMap::new(),
            access_tokens: HashSet::new(),
            refresh_tokens: HashSet::new(),
            issued: 0,
        }));
        let app = Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/token", post(token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            // The same at Bitbucket's paths, for its preset.
            .route("/site/oauth2/authorize", get(authorize))
            .route("/site/oauth2/access_token", post(token))
            .route("/2.0/user", get(user))
            .route("/2.0/user/emails", get(emails))
            // And at X's, for its preset.
            .route("/i/oauth2/authorize", get(authorize))
            .route("/2/oauth2/token", post(token))
            .route("/2/users/me", get(user))
            // And at Facebook's (Graph API v19.0), whose `/me` checks the
            // `fields` asked for and the `appsecret_proof`.
            .route("/v19.0/dialog/oauth", get(authorize))
            .route("/v19.0/oauth/access_token", post(token))
            .route("/v19.0/me", get(facebook_me))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, shared }
    }

    /// The settings that make it the app's provider `name`: its client and
    /// its three endpoints (and the e-mail list, if it has one).
    pub fn vars(&self, name: &str) -> Vec<(String, String)> {
        let prefix = name.to_ascii_uppercase();
        let url = &self.url;
        let mut vars = vec![
            ("AUTH_PROVIDERS".to_owned(), name.to_owned()),
            (format!("{prefix}_CLIENT_ID"), CLIENT_ID.to_owned()),
            (format!("{prefix}_CLIENT_SECRET"), CLIENT_SECRET.to_owned()),
            (
                format!("{prefix}_AUTHORIZE_URL"),
                format!("{url}/oauth/authorize"),
            ),
            (format!("{prefix}_TOKEN_URL"), format!("{url}/oauth/token")),
            (format!("{prefix}_USERINFO_URL"), format!("{url}/api/user")),
        ];
        if self.shared.lock().unwrap().behaviour.emails.is_some() {
            vars.push((
                format!("{prefix}_EMAILS_URL"),
                format!("{url}/api/user/emails"),
            ));
        }
        vars
    }

    pub fn seen(&self) -> Seen {
        self.shared.lock().unwrap().seen.clone()
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

async fn authorize(
    State(fake): State<Fake>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut shared = fake.lock().unwrap();
    shared.seen.authorize.push(query.clone());
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID
        || field("response_type") != "code"
        || field("code_challenge_method") != "S256"
        || field("code_challenge").is_empty()
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    shared.issued += 1;
    let code = format!("code-{}", shared.issued);
    let redirect_uri = field("redirect_uri");
    shared.codes.insert(
        code.clone(),
        Code {
            challenge: field("code_challenge"),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &field("state"));
    Redirect::to(back.as_str()).into_response()
}

/// The client's credentials as the configured method carries them.
fn authenticated(auth: ClientAuth, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth {
        ClientAuth::Basic => {
            let encode =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            let expected = format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", encode(CLIENT_ID), encode(CLIENT_SECRET)))
            );
            header == Some(expected.as_str()) && !form.contains_key("client_secret")
        }
        ClientAuth::Post => {
            header.is_none()
                && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        }
    }
}

async fn token(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut shared = fake.lock().unwrap();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    shared.seen.token.push((form.clone(), authorization));
    if !authenticated(shared.behaviour.client_auth, &headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    match field("grant_type").as_str() {
        "authorization_code" => {
            let Some(code) = shared.codes.remove(&field("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verifier = PkceCodeVerifier::new(field("code_verifier"));
            let verified = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
            if code.redirect_uri != field("redirect_uri") || code.challenge != verified.as_str() {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
        }
        "refresh_token" => {
            if !shared.refresh_tokens.remove(&field("refresh_token")) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
    shared.issued += 1;
    let access_token = format!("fake-at-{}", shared.issued);
    let refresh_token = format!("fake-rt-{}", shared.issued);
    shared.access_tokens.insert(access_token.clone());
    shared.refresh_tokens.insert(refresh_token.clone());
    Json(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": shared.behaviour.ttl,
        "refresh_token": refresh_token,
    }))
    .into_response()
}

/// The answer to a live access token, or 401 (RFC 6750 §3).
fn answer(fake: &Fake, headers: &HeaderMap, pick: fn(&mut Shared) -> Option<Value>) -> Response {
    let mut shared = fake.lock().unwrap();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !shared.access_tokens.contains(token) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    match pick(&mut shared) {
        Some(value) => Json(value).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn user(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    answer(&fake, &headers, |shared| {
        shared.seen.userinfo += 1;
        Some(shared.behaviour.user.clone())
    })
}

/// Facebook's `/me`: the user to a live token, only with `fields` and the
/// right `appsecret_proof` (HMAC-SHA256 of the token keyed with the app
/// secret, hex); else Facebook's error shape.
async fn facebook_me(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    use hmac::{Hmac, Mac};
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if query.get("appsecret_proof") != Some(&expected) || !query.contains_key("fields") {
        let error = json!({ "error": {
            "message": "Invalid appsecret_proof provided in the API argument",
            "type": "GraphMethodException",
            "code": 100
        }});
        return (StatusCode::BAD_REQUEST, Json(error)).into_response();
    }
    answer(&fake, &headers, |shared| {
        shared.seen.userinfo += 1;
        Some(shared.behaviour.user.clone())
    })
}

async fn emails(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    answer(&fake, &headers, |shared| {
        shared.seen.emails += 1;
        shared.behaviour.emails.clone()
    })
}
