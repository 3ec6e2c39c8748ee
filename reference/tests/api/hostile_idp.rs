//! A scripted OpenID provider that misbehaves on request. Each test says
//! what it gets wrong (a claim, a signature, a header, a slow endpoint);
//! the provider logs every call so the test can check that Portcullis
//! refused at the right step and made no further call.
//!
//! It signs with RSA keys from `tests/fixtures` (test-only keys) and
//! answers the authorization request at once, as if the user had agreed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::{
    CsrfToken, JsonWebKeyId, PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey,
    core::{
        CoreEdDsaPrivateSigningKey, CoreHmacKey, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
    },
};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "portcullis-test";
pub const CLIENT_SECRET: &str = "hostile-test-secret";
pub const SUBJECT: &str = "hostile-user-1";

const KEY_1: &str = include_str!("../../../server/tests/fixtures/provider-key-1.pem");
const KEY_2: &str = include_str!("../../../server/tests/fixtures/provider-key-2.pem");
const ATTACKER_KEY: &str = include_str!("../../../server/tests/fixtures/attacker-key.pem");
const ED25519_KEY: &str = include_str!("../../../server/tests/fixtures/provider-key-ed25519.pem");

/// How the ID token is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// RS256 with published key 1 (`kid` "k1"): the well-behaved case.
    Key1,
    /// RS256 with key 2 (`kid` "k2"), for key rotation.
    Key2,
    /// RS256 with key 1 and no `kid` in the header.
    Key1WithoutKid,
    /// `alg: none`, empty signature.
    AlgNone,
    /// HS256 keyed with the provider's public key as published.
    Hs256WithPublicKey,
    /// A valid RS256 signature with one byte changed.
    FlippedSignature,
    /// Signed with the attacker's key, which rides along in a `jwk` header.
    EmbeddedAttackerJwk,
    /// Signed with the attacker's key under an unknown `kid`.
    UnknownKid,
    /// The same under the unknown `kid` "forged-<n>".
    ForgedKid(u8),
    /// RS256 with key 1, its header's `typ` this.
    Key1WithTyp(&'static str),
    /// HS256 with a symmetric key the provider (wrongly) publishes in its
    /// JWKS (`kid` "shared"): anyone can read it there.
    Hs256PublishedKey,
    /// HS256 keyed with our client secret, as OIDC Core §10.1 allows and
    /// Portcullis never accepts.
    Hs256WithClientSecret,
    /// EdDSA with the provider's Ed25519 key (`kid` "ed1"): an algorithm
    /// other than RS256, announced only where a test says so.
    Ed25519,
}

/// What the token endpoint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenEndpoint {
    Normal,
    /// Answers 302 to another URL on the provider (`/stolen`).
    RedirectElsewhere,
    /// Answers only after this long.
    Slow(Duration),
    /// Answers with this status and JSON body (a recorded response).
    Recorded(u16, &'static str),
}

/// What the revocation endpoint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    Accept,
    /// Answers 503.
    Fail,
    /// Answers only after this long.
    Slow(Duration),
}

/// A real provider's answers in the shapes its public documentation shows
/// (`tests/fixtures/<name>/`): discovery document, ID-token claims, token
/// response and userinfo. The scripted provider answers in that shape with
/// its own addresses and keys, and the values security rests on (`iss`,
/// `aud`, `exp`, `iat`, `nonce`, `azp`) made right for this client.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Ends the issuer: Auth0's and JumpCloud's end in "/".
    pub issuer_suffix: &'static str,
    pub discovery: &'static str,
    pub id_token: &'static str,
    pub token_response: &'static str,
    pub userinfo: &'static str,
}

/// The [`Shape`] recorded in `tests/fixtures/<name>/`.
#[macro_export]
macro_rules! shape {
    ($name:literal, $issuer_suffix:literal) => {
        $crate::hostile_idp::Shape {
            issuer_suffix: $issuer_suffix,
            discovery: include_str!(concat!(
                "../../../server/tests/fixtures/",
                $name,
                "/discovery.json"
            )),
            id_token: include_str!(concat!(
                "../../../server/tests/fixtures/",
                $name,
                "/id_token_claims.json"
            )),
            token_response: include_str!(concat!(
                "../../../server/tests/fixtures/",
                $name,
                "/token_response.json"
            )),
            userinfo: include_str!(concat!(
                "../../../server/tests/fixtures/",
                $name,
                "/userinfo.json"
            )),
        }
    };
}

fn fixture_object(json: &str) -> Map<String, Value> {
    match serde_json::from_str(json).unwrap() {
        Value::Object(map) => map,
        other => panic!("a fixture that is not an object: {other}"),
    }
}

/// `fixture`'s fields over `target`, but for the `kept` ones.
fn merge(target: &mut Map<String, Value>, fixture: &str, kept: &[&str]) {
    for (name, value) in fixture_object(fixture) {
        if !kept.contains(&name.as_str()) {
            target.insert(name, value);
        }
    }
}

/// What a tamper function may look at.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub issuer: String,
    /// The `nonce` of the authorization request before this one.
    pub previous_nonce: Option<String>,
    pub access_token: String,
}

type Tamper = fn(&mut Map<String, Value>, &Context);
type TamperParams = fn(&mut Vec<(String, String)>, &Context);

/// The provider's behaviour; `Script::default()` behaves correctly.
#[derive(Clone, Debug)]
pub struct Script {
    /// `issuer` in the discovery document, when it should differ.
    pub discovery_issuer: Option<String>,
    /// Whether discovery announces RFC 9207 `iss` in responses.
    pub announces_iss: bool,
    /// Changes the authorization response's query parameters.
    pub callback: TamperParams,
    /// Changes the ID token's claims before signing.
    pub claims: Tamper,
    pub signing: Signing,
    /// Keys listed at the JWKS endpoint.
    pub published: Vec<Signing>,
    pub token_endpoint: TokenEndpoint,
    /// Changes the token response.
    pub token_response: Tamper,
    /// Changes the userinfo response.
    pub userinfo: Tamper,
    /// Plays a multi-tenant issuer (Microsoft Entra's `common`): discovery
    /// at `/common/v2.0` names the template `<issuer>/{tenantid}/v2.0`, and
    /// tokens carry this `tid` and the tenant's own issuer.
    pub tenant: Option<&'static str>,
    pub revocation: Revocation,
    /// `expires_in` of access tokens from the code exchange, and from
    /// refresh grants.
    pub access_token_ttl: i64,
    pub refreshed_ttl: i64,
    /// How long a refresh grant takes to answer.
    pub refresh_delay: Duration,
    /// Whether refresh grants are refused with `invalid_grant`.
    pub refresh_refused: bool,
    /// Changes a refresh response's ID token claims.
    pub refresh_claims: Tamper,
    /// Changes a refresh grant's token response.
    pub refresh_response: Tamper,
    /// Changes the discovery document.
    pub discovery: Tamper,
    /// `Cache-Control` of the JWKS answer.
    pub jwks_cache_control: Option<&'static str>,
    /// Whether the JWKS endpoint answers 503.
    pub jwks_down: bool,
    /// Userinfo answers a JWT signed this way (`application/jwt`).
    pub userinfo_signed: Option<Signing>,
    /// Answers shaped like a real provider's.
    pub shape: Option<Shape>,
    /// Whether a `client_secret` posted to the token endpoint is this
    /// client's (Sign in with Apple's is a JWT to verify).
    pub client_secret: fn(&str) -> bool,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            discovery_issuer: None,
            announces_iss: true,
            callback: |_, _| {},
            // Profile claims come from userinfo, so a successful sign-in
            // always calls it and a refused one can be seen not to.
            claims: |_, _| {},
            signing: Signing::Key1,
            published: vec![Signing::Key1],
            token_endpoint: TokenEndpoint::Normal,
            token_response: |_, _| {},
            userinfo: |_, _| {},
            tenant: None,
            revocation: Revocation::Accept,
            access_token_ttl: 3600,
            refreshed_ttl: 3600,
            refresh_delay: Duration::ZERO,
            refresh_refused: false,
            refresh_claims: |_, _| {},
            refresh_response: |_, _| {},
            discovery: |_, _| {},
            jwks_cache_control: None,
            jwks_down: false,
            userinfo_signed: None,
            shape: None,
            client_secret: |secret| secret == CLIENT_SECRET,
        }
    }
}

/// What the provider saw.
#[derive(Clone, Debug, Default)]
pub struct Calls {
    pub authorize: usize,
    pub token: usize,
    pub userinfo: usize,
    pub jwks: usize,
    pub stolen: usize,
    /// Access tokens the token endpoint issued.
    pub issued_access_tokens: Vec<String>,
    /// Every token the token endpoint issued: access, refresh and ID.
    pub issued_tokens: Vec<String>,
    /// Authorization header of each userinfo call.
    pub userinfo_authorization: Vec<String>,
    /// Query string of each userinfo call.
    pub userinfo_query: Vec<String>,
    /// Each revocation request: the token and its type hint.
    pub revoked: Vec<(String, String)>,
    /// Each end-session request's query parameters.
    pub end_session: Vec<HashMap<String, String>>,
    /// The `sid` of each ID token issued.
    pub sids: Vec<String>,
    /// Refresh grants answered, and the refresh token each presented.
    pub refreshes: usize,
    pub refresh_tokens_used: Vec<String>,
    /// Every `client_secret` posted to the token endpoint.
    pub client_secrets: Vec<String>,
}

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Inner {
    /// Where the provider is: the base of its endpoints.
    base: String,
    /// Its issuer identifier: the base, and a shape's suffix.
    issuer: String,
    script: Script,
    calls: Calls,
    grants: HashMap<String, Grant>,
    last_nonce: Option<String>,
    previous_nonce: Option<String>,
    /// Access tokens userinfo no longer accepts (expired at the provider).
    expired_access_tokens: Vec<String>,
    /// Live refresh tokens (rotated on use) and whose they are.
    refresh_tokens: HashMap<String, String>,
    /// Whose each access token is.
    subject_of: HashMap<String, String>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running hostile provider on a free loopback port.
#[derive(Clone)]
pub struct HostileIdp {
    pub issuer: String,
    inner: Shared,
}

impl HostileIdp {
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let suffix = script.shape.map_or("", |shape| shape.issuer_suffix);
        let issuer = format!("{base}{suffix}");
        let inner = Arc::new(Mutex::new(Inner {
            base,
            issuer: issuer.clone(),
            script,
            calls: Calls::default(),
            grants: HashMap::new(),
            last_nonce: None,
            previous_nonce: None,
            expired_access_tokens: Vec::new(),
            refresh_tokens: HashMap::new(),
            subject_of: HashMap::new(),
        }));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route(
                "/common/v2.0/.well-known/openid-configuration",
                get(discovery),
            )
            // Issuers with a path (LinkedIn's `/oauth`, Twitch's `/oauth2`).
            .route("/oauth/.well-known/openid-configuration", get(discovery))
            .route("/oauth2/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/stolen", get(stolen).post(stolen))
            .route("/revoke", post(revoke))
            .route("/session/end", get(end_session))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { issuer, inner }
    }

    /// Changes the script between two sign-ins.
    pub fn rescript(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.inner.lock().unwrap().script);
    }

    /// Where the provider is (its issuer without a shape's suffix).
    pub fn base(&self) -> String {
        self.inner.lock().unwrap().base.clone()
    }

    /// Every access token issued so far stops working at userinfo, as when
    /// it expired at the provider before the time we were told.
    pub fn expire_access_tokens(&self) {
        let mut inner = self.inner.lock().unwrap();
        let issued = inner.calls.issued_access_tokens.clone();
        inner.expired_access_tokens.extend(issued);
    }

    pub fn calls(&self) -> Calls {
        self.inner.lock().unwrap().calls.clone()
    }
}

fn rsa_key(signing: Signing) -> CoreRsaPrivateSigningKey {
    let (pem, kid) = match signing {
        Signing::Key2 => (KEY_2, Some("k2".to_owned())),
        Signing::Key1WithoutKid => (KEY_1, None),
        Signing::EmbeddedAttackerJwk => (ATTACKER_KEY, Some("attacker".to_owned())),
        Signing::UnknownKid => (ATTACKER_KEY, Some("k9".to_owned())),
        Signing::ForgedKid(n) => (ATTACKER_KEY, Some(format!("forged-{n}"))),
        _ => (KEY_1, Some("k1".to_owned())),
    };
    CoreRsaPrivateSigningKey::from_pem(pem, kid.map(JsonWebKeyId::new)).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ed25519_key() -> CoreEdDsaPrivateSigningKey {
    CoreEdDsaPrivateSigningKey::from_ed25519_pem(ED25519_KEY, Some(JsonWebKeyId::new("ed1".into())))
        .unwrap()
}

const PUBLISHED_HMAC_KEY: &[u8] = b"a-symmetric-key-the-provider-publishes-00";

/// The public half of a key, as a JWK.
fn public_jwk(signing: Signing) -> Value {
    match signing {
        Signing::Hs256PublishedKey => json!({
            "kty": "oct",
            "kid": "shared",
            "use": "sig",
            "alg": "HS256",
            "k": b64(PUBLISHED_HMAC_KEY),
        }),
        Signing::Ed25519 => serde_json::to_value(ed25519_key().as_verification_key()).unwrap(),
        _ => serde_json::to_value(rsa_key(signing).as_verification_key()).unwrap(),
    }
}

/// A compact JWS over `claims`, signed as `signing` says.
pub fn sign(claims: &Value, signing: Signing) -> String {
    let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    let key = rsa_key(signing);
    let mut header = json!({ "alg": "RS256", "typ": "JWT" });
    if let Some(kid) = public_jwk(signing).get("kid") {
        header["kid"] = kid.clone();
    }
    match signing {
        Signing::AlgNone => header = json!({ "alg": "none", "typ": "JWT" }),
        Signing::Hs256WithPublicKey => header["alg"] = json!("HS256"),
        Signing::EmbeddedAttackerJwk => header["jwk"] = public_jwk(signing),
        Signing::Ed25519 => header["alg"] = json!("EdDSA"),
        Signing::Key1WithTyp(typ) => header["typ"] = json!(typ),
        Signing::Hs256PublishedKey => header["alg"] = json!("HS256"),
        Signing::Hs256WithClientSecret => header = json!({ "alg": "HS256", "typ": "JWT" }),
        _ => {}
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match signing {
        Signing::AlgNone => Vec::new(),
        Signing::Hs256WithPublicKey => {
            let public = public_jwk(Signing::Key1).to_string();
            CoreHmacKey::new(public.as_bytes())
                .sign(&CoreJwsSigningAlgorithm::HmacSha256, input.as_bytes())
                .unwrap()
        }
        Signing::FlippedSignature => {
            let mut signature = key.sign(&rs256, input.as_bytes()).unwrap();
            signature[10] ^= 0x01;
            signature
        }
        Signing::Hs256PublishedKey => CoreHmacKey::new(PUBLISHED_HMAC_KEY)
            .sign(&CoreJwsSigningAlgorithm::HmacSha256, input.as_bytes())
            .unwrap(),
        Signing::Hs256WithClientSecret => CoreHmacKey::new(CLIENT_SECRET.as_bytes())
            .sign(&CoreJwsSigningAlgorithm::HmacSha256, input.as_bytes())
            .unwrap(),
        Signing::Ed25519 => ed25519_key()
            .sign(&CoreJwsSigningAlgorithm::EdDsa, input.as_bytes())
            .unwrap(),
        _ => key.sign(&rs256, input.as_bytes()).unwrap(),
    };
    format!("{input}.{}", b64(&signature))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The claims every ID token of this provider has.
fn base_claims(inner: &Inner, subject: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(token_issuer(inner)));
    claims.insert("sub".into(), json!(subject));
    claims.insert("aud".into(), json!(CLIENT_ID));
    claims.insert("exp".into(), json!(now() + 300));
    claims.insert("iat".into(), json!(now()));
    claims
}

/// The issuer tokens name: the provider's, or in tenant mode the tenant's.
fn token_issuer(inner: &Inner) -> String {
    match inner.script.tenant {
        Some(tid) => format!("{}/{tid}/v2.0", inner.base),
        None => inner.issuer.clone(),
    }
}

fn context(inner: &Inner, access_token: &str) -> Context {
    Context {
        issuer: inner.issuer.clone(),
        previous_nonce: inner.previous_nonce.clone(),
        access_token: access_token.to_owned(),
    }
}

async fn discovery(State(inner): State<Shared>) -> Json<Value> {
    let inner = inner.lock().unwrap();
    let issuer = &inner.base;
    let mut document = json!({
        "issuer": inner.script.discovery_issuer.clone().unwrap_or_else(|| {
            match inner.script.tenant {
                Some(_) => format!("{issuer}/{{tenantid}}/v2.0"),
                None => inner.issuer.clone(),
            }
        }),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        // Announces dangerous algorithms too: the client must not take
        // the provider's word for which are safe.
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "authorization_response_iss_parameter_supported": inner.script.announces_iss,
        "revocation_endpoint": format!("{issuer}/revoke"),
        "end_session_endpoint": format!("{issuer}/session/end"),
    });
    if let Value::Object(map) = &mut document {
        if let Some(shape) = inner.script.shape {
            // The provider's own fields; where things are stays ours.
            let ours = [
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "userinfo_endpoint",
                "jwks_uri",
                "revocation_endpoint",
                "end_session_endpoint",
            ];
            merge(map, shape.discovery, &ours);
        }
        (inner.script.discovery)(map, &context(&inner, ""));
    }
    Json(document)
}

/// Whether a discovery document announces `client_secret_post` and not
/// `client_secret_basic`.
fn announces_post_only(discovery: &str) -> bool {
    let document: Value = serde_json::from_str(discovery).unwrap();
    let methods = document["token_endpoint_auth_methods_supported"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = |name: &str| methods.iter().any(|method| method == name);
    has("client_secret_post") && !has("client_secret_basic")
}

async fn jwks(State(inner): State<Shared>) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.calls.jwks += 1;
    if inner.script.jwks_down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys: Vec<Value> = inner
        .script
        .published
        .iter()
        .map(|s| public_jwk(*s))
        .collect();
    let mut response = Json(json!({ "keys": keys })).into_response();
    if let Some(cache_control) = inner.script.jwks_cache_control {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static(cache_control),
        );
    }
    response
}

async fn authorize(
    State(inner): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.calls.authorize += 1;
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    let code = CsrfToken::new_random().secret().clone();
    let nonce = field("nonce");
    inner.previous_nonce = inner.last_nonce.replace(nonce.clone());
    inner.grants.insert(
        code.clone(),
        Grant {
            nonce,
            challenge: field("code_challenge"),
            redirect_uri: field("redirect_uri"),
        },
    );
    let mut params = vec![
        ("code".to_owned(), code),
        ("state".to_owned(), field("state")),
        ("iss".to_owned(), token_issuer(&inner)),
    ];
    (inner.script.callback)(&mut params, &context(&inner, ""));
    let mut target = reqwest::Url::parse(&field("redirect_uri")).unwrap();
    target.query_pairs_mut().extend_pairs(params);
    Redirect::to(target.as_str()).into_response()
}

fn token_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mode = {
        let mut inner = shared.lock().unwrap();
        inner.calls.token += 1;
        inner.script.token_endpoint
    };
    match mode {
        TokenEndpoint::Normal => {}
        TokenEndpoint::RedirectElsewhere => {
            let base = shared.lock().unwrap().base.clone();
            return Redirect::temporary(&format!("{base}/stolen")).into_response();
        }
        TokenEndpoint::Slow(delay) => tokio::time::sleep(delay).await,
        TokenEndpoint::Recorded(status, body) => {
            let status = StatusCode::from_u16(status).unwrap();
            let json = [(header::CONTENT_TYPE, "application/json")];
            return (status, json, body).into_response();
        }
    }
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let header_auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // The client must authenticate the way the provider's shape announces
    // (Twitch: client_secret_post only), else with HTTP Basic.
    let (post_only, secret_ok) = {
        let mut inner = shared.lock().unwrap();
        let secret = form.get("client_secret").cloned().unwrap_or_default();
        inner.calls.client_secrets.push(secret.clone());
        let script = &inner.script;
        (
            script
                .shape
                .is_some_and(|shape| announces_post_only(shape.discovery)),
            (script.client_secret)(&secret),
        )
    };
    let authenticated = if post_only {
        header_auth.is_none()
            && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && secret_ok
    } else {
        header_auth == Some(expected_auth.as_str())
    };
    if !authenticated {
        return token_error("invalid_client");
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    if field("grant_type") == "refresh_token" {
        return refresh_grant(&shared, &field("refresh_token")).await;
    }
    let mut inner = shared.lock().unwrap();
    let Some(grant) = inner.grants.remove(&field("code")) else {
        return token_error("invalid_grant");
    };
    let verifier = PkceCodeVerifier::new(field("code_verifier"));
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    if field("grant_type") != "authorization_code"
        || field("redirect_uri") != grant.redirect_uri
        || challenge.as_str() != grant.challenge
    {
        return token_error("invalid_grant");
    }

    let access_token = format!("hostile-at-{}", CsrfToken::new_random().secret());
    inner.calls.issued_access_tokens.push(access_token.clone());
    let ctx = context(&inner, &access_token);
    let mut claims = base_claims(&inner, SUBJECT);
    if let Some(tid) = inner.script.tenant {
        claims.insert("tid".into(), json!(tid));
    }
    claims.insert("nonce".into(), json!(grant.nonce));
    let sid = format!("hostile-sid-{}", CsrfToken::new_random().secret());
    inner.calls.sids.push(sid.clone());
    claims.insert("sid".into(), json!(sid));
    if let Some(shape) = inner.script.shape {
        shape_claims(&mut claims, shape.id_token, true);
    }
    (inner.script.claims)(&mut claims, &ctx);
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or(SUBJECT)
        .to_owned();
    let id_token = sign(&Value::Object(claims), inner.script.signing);
    let ttl = inner.script.access_token_ttl;
    let mut response = token_response(&mut inner, access_token, subject, id_token, ttl);
    (inner.script.token_response)(&mut response, &ctx);
    record_issued(&mut inner, &response);
    Json(Value::Object(response)).into_response()
}

/// A shape's ID-token claims over `claims`, with the values security rests
/// on kept right for this client; its `sub` too when `with_subject`.
fn shape_claims(claims: &mut Map<String, Value>, fixture: &str, with_subject: bool) {
    let shaped = fixture_object(fixture);
    let mut kept = vec![
        "iss", "aud", "exp", "iat", "nonce", "azp", "at_hash", "c_hash", "sid",
    ];
    if !with_subject {
        kept.push("sub");
    }
    merge(claims, fixture, &kept);
    if shaped.contains_key("azp") {
        claims.insert("azp".into(), json!(CLIENT_ID));
    }
    if shaped.get("aud").is_some_and(Value::is_array) {
        claims.insert("aud".into(), json!([CLIENT_ID]));
    }
}

/// A token response for `subject`, with a new refresh token.
fn token_response(
    inner: &mut Inner,
    access_token: String,
    subject: String,
    id_token: String,
    ttl: i64,
) -> Map<String, Value> {
    let refresh_token = format!("hostile-rt-{}", CsrfToken::new_random().secret());
    inner
        .refresh_tokens
        .insert(refresh_token.clone(), subject.clone());
    inner.subject_of.insert(access_token.clone(), subject);
    let mut response = Map::new();
    response.insert("access_token".into(), json!(access_token));
    response.insert("token_type".into(), json!("Bearer"));
    response.insert("expires_in".into(), json!(ttl));
    response.insert("refresh_token".into(), json!(refresh_token));
    response.insert("id_token".into(), json!(id_token));
    if let Some(shape) = inner.script.shape {
        merge(
            &mut response,
            shape.token_response,
            &["access_token", "refresh_token", "id_token"],
        );
    }
    response
}

fn record_issued(inner: &mut Inner, response: &Map<String, Value>) {
    for name in ["access_token", "refresh_token", "id_token"] {
        if let Some(Value::String(token)) = response.get(name) {
            inner.calls.issued_tokens.push(token.clone());
        }
    }
}

/// RFC 6749 §6 with rotation: each refresh token works once.
async fn refresh_grant(shared: &Shared, presented: &str) -> Response {
    // Rotation happens at once; the answer comes after the delay, as from a
    // provider that rotated and is slow to say so. A client that gives up
    // meanwhile has lost the new refresh token unless it waits.
    let (delay, answer) = {
        let mut inner = shared.lock().unwrap();
        inner.calls.refreshes += 1;
        inner.calls.refresh_tokens_used.push(presented.to_owned());
        (inner.script.refresh_delay, rotate(&mut inner, presented))
    };
    tokio::time::sleep(delay).await;
    answer
}

/// RFC 6749 §6: a new access token, ID token and refresh token for the
/// holder of `presented`, which stops working.
fn rotate(inner: &mut Inner, presented: &str) -> Response {
    let subject = inner.refresh_tokens.remove(presented);
    let Some(subject) = subject.filter(|_| !inner.script.refresh_refused) else {
        return token_error("invalid_grant");
    };
    let access_token = format!("hostile-at-{}", CsrfToken::new_random().secret());
    inner.calls.issued_access_tokens.push(access_token.clone());
    let ctx = context(inner, &access_token);
    let mut claims = base_claims(inner, &subject);
    if let Some(shape) = inner.script.shape {
        shape_claims(&mut claims, shape.id_token, false);
    }
    (inner.script.refresh_claims)(&mut claims, &ctx);
    let id_token = sign(&Value::Object(claims), inner.script.signing);
    let ttl = inner.script.refreshed_ttl;
    let mut response = token_response(inner, access_token, subject.clone(), id_token, ttl);
    let rotated = response["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (inner.script.refresh_response)(&mut response, &ctx);
    if !response.contains_key("refresh_token") {
        // No new refresh token issued: the one presented stays valid.
        inner.refresh_tokens.remove(&rotated);
        inner.refresh_tokens.insert(presented.to_owned(), subject);
    }
    record_issued(inner, &response);
    Json(Value::Object(response)).into_response()
}

async fn userinfo(State(shared): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let mut inner = shared.lock().unwrap();
    inner.calls.userinfo += 1;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    inner
        .calls
        .userinfo_authorization
        .push(authorization.clone());
    inner
        .calls
        .userinfo_query
        .push(uri.query().unwrap_or_default().to_owned());
    let token = authorization.strip_prefix("Bearer ").unwrap_or_default();
    if !inner.calls.issued_access_tokens.iter().any(|t| t == token)
        || inner.expired_access_tokens.iter().any(|t| t == token)
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let ctx = context(&inner, token);
    let subject = inner
        .subject_of
        .get(token)
        .cloned()
        .unwrap_or_else(|| SUBJECT.to_owned());
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(subject));
    claims.insert("name".into(), json!("Harriet Hostile"));
    claims.insert("email".into(), json!("harriet@hostile.test"));
    claims.insert("email_verified".into(), json!(true));
    if let Some(shape) = inner.script.shape {
        merge(&mut claims, shape.userinfo, &["sub"]);
    }
    if inner.script.userinfo_signed.is_some() {
        claims.insert("iss".into(), json!(token_issuer(&inner)));
        claims.insert("aud".into(), json!(CLIENT_ID));
    }
    (inner.script.userinfo)(&mut claims, &ctx);
    match inner.script.userinfo_signed {
        Some(signing) => {
            let jwt = sign(&Value::Object(claims), signing);
            ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response()
        }
        None => Json(Value::Object(claims)).into_response(),
    }
}

/// Where a redirecting token endpoint points: a client that followed the
/// redirect would land here.
async fn stolen(State(shared): State<Shared>) -> Json<Value> {
    shared.lock().unwrap().calls.stolen += 1;
    Json(json!({ "access_token": "stolen", "token_type": "Bearer" }))
}

/// RFC 7009: records the token, answers as the script says.
async fn revoke(
    State(shared): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mode = {
        let mut inner = shared.lock().unwrap();
        let field = |name: &str| form.get(name).cloned().unwrap_or_default();
        inner
            .calls
            .revoked
            .push((field("token"), field("token_type_hint")));
        inner.script.revocation
    };
    match mode {
        Revocation::Accept => StatusCode::OK.into_response(),
        Revocation::Fail => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Revocation::Slow(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::OK.into_response()
        }
    }
}

/// RP-initiated logout: records the request, sends the browser back.
async fn end_session(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    shared.lock().unwrap().calls.end_session.push(query.clone());
    let mut back = reqwest::Url::parse(
        query
            .get("post_logout_redirect_uri")
            .map(String::as_str)
            .unwrap_or("http://invalid.test/"),
    )
    .unwrap();
    if let Some(state) = query.get("state") {
        back.query_pairs_mut().append_pair("state", state);
    }
    Redirect::to(back.as_str()).into_response()
}
