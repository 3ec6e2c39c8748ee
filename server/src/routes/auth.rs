//! `/auth/*`: starting a sign-in, the provider's callback, connecting and
//! disconnecting providers, and signing out. The protocol-specific steps
//! are in `oidc.rs` (OpenID Connect) and `plain.rs` (plain OAuth 2.0).
//! Each failure ends on the error page with a stable code; the cause chain
//! goes to the log, never to the browser.

mod oidc;
mod plain;

pub(crate) use oidc::{discovery_error, userinfo_error};

use std::{error::Error as StdError, fmt::Write as _, sync::Arc};

use crate::{error::ErrorCode, hooks::HookError, same_origin::is_same_origin};
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use openidconnect::CsrfToken;
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;
use url::Url;

use crate::{
    backend::{Core, Ending},
    flow::{self, LoginTransaction, return_to},
    logins::{self, Selector},
    providers::{Provider, backchannel},
    session::{self, SessionUser},
    telemetry::{cause_chain, escaped},
    users::{Identity, Link, SignIn, Unlink, UserId},
    vault::TokenSet,
};

/// Portcullis's own page for a failed sign-in; [`to_error_page`] sends the
/// browser to the app's instead when the settings name one.
pub const ERROR_PAGE: &str = "/auth/error";

/// Middleware: a redirect to [`ERROR_PAGE`] goes to the app's own error
/// page (`Settings::error_page`) with the same query.
pub async fn to_error_page(
    State(page): State<Arc<str>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let location = response.headers().get(header::LOCATION);
    if let Some(query) = location
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix(ERROR_PAGE))
        .filter(|rest| rest.starts_with('?'))
        && let Ok(value) = HeaderValue::from_str(&format!("{page}{query}"))
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A failed step: what the user is told, and the cause for the log.
#[derive(Debug)]
pub struct Failure {
    error: ErrorCode,
    provider: Option<String>,
    /// For [`ErrorCode::EmailInUse`]: the provider the account uses.
    existing: Option<String>,
    cause: String,
}

impl Failure {
    fn new(error: ErrorCode, provider: Option<&str>, cause: impl Into<String>) -> Self {
        Self {
            error,
            provider: provider.map(str::to_owned),
            existing: None,
            cause: cause.into(),
        }
    }

    fn from_error(
        error: ErrorCode,
        provider: Option<&str>,
        err: &(dyn StdError + 'static),
    ) -> Self {
        Self::new(error, provider, cause_chain(err))
    }

    fn unavailable(provider: Option<&str>, err: &(dyn StdError + 'static)) -> Self {
        Self::from_error(ErrorCode::Unavailable, provider, err)
    }

    /// The app's sign-in hook said no, or failed.
    fn hook(provider: &str, err: &HookError) -> Self {
        let code = match err {
            HookError::Refused => ErrorCode::SignInRefused,
            _ => ErrorCode::Unavailable,
        };
        Self::from_error(code, Some(provider), err)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        tracing::warn!(
            code = self.error.code(),
            provider = self.provider.as_deref().map(escaped).unwrap_or_default(),
            "sign-in flow failed: {}",
            escaped(&self.cause)
        );
        let mut location = format!("{ERROR_PAGE}?code={}", self.error.code());
        if let Some(provider) = &self.provider {
            let _ = write!(location, "&provider={provider}");
        }
        if let Some(existing) = &self.existing {
            let _ = write!(location, "&existing={existing}");
        }
        redirect(&location)
    }
}

fn provider<'a>(core: &'a Core, id: &str) -> Result<&'a Provider, Failure> {
    core.registry.get(id).ok_or_else(|| {
        Failure::new(
            ErrorCode::UnknownProvider,
            None,
            format!("no provider {id:?}"),
        )
    })
}

/// A 303 that leaks nothing: no Referer with the code, no cached copy.
fn redirect(location: &str) -> Response {
    let mut response = Redirect::to(location).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where the browser goes to authorize us, and what the callback must
/// match.
struct Authorization {
    url: Url,
    state: String,
    /// Empty for plain OAuth 2.0.
    nonce: String,
    pkce_verifier: String,
}

/// What a protocol's callback step found out.
struct Verified {
    identity: Identity,
    tokens: TokenSet,
    /// The provider's session id (`sid`), for back-channel logout.
    provider_sid: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /auth/login/{provider}`: authorization code flow with PKCE S256,
/// fresh `state` (and `nonce` for OpenID Connect), kept server-side for
/// this browser.
pub async fn login(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    Query(query): Query<LoginQuery>,
    session: Session,
) -> Result<Response, Failure> {
    let provider = provider(&core, &id)?;
    let return_to = return_to::or_home(query.return_to.as_deref());
    start(&core, provider, &session, return_to, None).await
}

/// Remembers a new login transaction and sends the browser to the
/// provider. `link_to` is the signed-in account a new identity is for.
async fn start(
    core: &Core,
    provider: &Provider,
    session: &Session,
    return_to: String,
    link_to: Option<UserId>,
) -> Result<Response, Failure> {
    let authorization = if provider.settings.protocol.is_oidc() {
        oidc::authorize(core, provider).await?
    } else {
        plain::authorize(core, provider)?
    };
    let tx = LoginTransaction {
        provider: provider.settings.id.clone(),
        state: authorization.state,
        nonce: authorization.nonce,
        pkce_verifier: authorization.pkce_verifier,
        return_to,
        expires_at: OffsetDateTime::now_utc() + core.login_ttl,
        link_to: link_to.map(|user| user.0),
    };
    flow::begin(session, &tx)
        .await
        .map_err(|err| Failure::unavailable(Some(&provider.settings.id), &err))?;
    // A session that only holds sign-ins in progress lives no longer than
    // they do: anonymous requests cannot fill the store for hours.
    if link_to.is_none() {
        let signed_in = session::user(session)
            .await
            .map_err(|err| Failure::unavailable(Some(&provider.settings.id), &err))?;
        if signed_in.is_none() {
            session::keep_alive(session, core.login_ttl);
        }
    }
    Ok(redirect(authorization.url.as_str()))
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback/{provider}`: checks the response belongs to the
/// sign-in this browser started, then lets the provider's protocol turn
/// the code into an identity, and signs the user in (or connects the
/// identity to their account).
pub async fn callback(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    Query(query): Query<CallbackQuery>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, Failure> {
    let fail = |error: ErrorCode, cause: String| Failure::new(error, Some(&id), cause);
    let provider = provider(&core, &id)?;

    // The sign-in this `state` belongs to is taken out first: whatever
    // happens next, it cannot be used twice.
    let state = query.state.as_deref().unwrap_or_default();
    // Taking the sign-in saves the session: an anonymous one keeps the
    // sign-in timeout (signing in below gives it the idle timeout).
    let anonymous = session::user(&session)
        .await
        .map_err(|err| Failure::unavailable(Some(&id), &err))?
        .is_none();
    if anonymous {
        session::keep_alive(&session, core.login_ttl);
    }
    let tx = flow::take(&session, state)
        .await
        .map_err(|err| Failure::unavailable(Some(&id), &err))?
        .ok_or_else(|| {
            fail(
                ErrorCode::SignInExpired,
                "no sign-in in progress in this browser has this state".into(),
            )
        })?;
    if tx.provider != id {
        return Err(fail(
            ErrorCode::SignInExpired,
            format!("sign-in was started with {:?}, not {id:?}", tx.provider),
        ));
    }
    if tx.is_expired(OffsetDateTime::now_utc()) {
        return Err(fail(
            ErrorCode::SignInExpired,
            "sign-in transaction expired".into(),
        ));
    }
    if let Some(error) = &query.error {
        let user_error = if error == "access_denied" {
            ErrorCode::SignInCancelled
        } else {
            ErrorCode::ProviderRejected
        };
        return Err(fail(user_error, format!("provider answered error={error}")));
    }

    let verified = if provider.settings.protocol.is_oidc() {
        oidc::sign_in(&core, provider, &tx, query).await?
    } else {
        plain::sign_in(&core, provider, &tx, query).await?
    };
    match tx.link_to {
        Some(user) => connect(&core, &session, &tx, UserId(user), &verified.identity).await,
        None => sign_in(&core, &session, &headers, &tx, verified).await,
    }
}

/// Signs the identity's account in: tokens into the vault, a new session id.
async fn sign_in(
    core: &Core,
    session: &Session,
    headers: &HeaderMap,
    tx: &LoginTransaction,
    verified: Verified,
) -> Result<Response, Failure> {
    let Verified {
        identity,
        tokens,
        provider_sid,
    } = verified;
    let id = tx.provider.as_str();
    core.hooks
        .allow(&identity)
        .await
        .map_err(|err| Failure::hook(id, &err))?;
    let user_id = match core
        .users
        .sign_in(&identity)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?
    {
        SignIn::Account(user_id) => user_id,
        SignIn::EmailBelongsTo { provider } => {
            let mut failure = Failure::new(
                ErrorCode::EmailInUse,
                Some(id),
                format!(
                    "a new identity's verified e-mail belongs to an account using {provider:?}"
                ),
            );
            failure.existing = Some(provider);
            return Err(failure);
        }
    };
    core.hooks
        .before_session(user_id, &identity)
        .await
        .map_err(|err| Failure::hook(id, &err))?;
    // Signing in again in a browser already signed in replaces that
    // sign-in: it ends here, and its grant at its provider.
    let earlier = session::user(session)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?;
    if let Some(earlier) = earlier {
        let login = core
            .logins
            .get(&earlier.login)
            .await
            .map_err(|err| Failure::unavailable(Some(id), &err))?;
        if let Some(login) = login {
            core.end_session_and_grant(&login)
                .await
                .map_err(|err| Failure::unavailable(Some(id), &err))?;
        }
    }
    let user = core
        .keep_sign_in(
            id,
            identity,
            user_id,
            provider_sid,
            user_agent(headers),
            &tokens,
        )
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?;
    session::sign_in(session, &user)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?;
    session::keep_alive(session, core.session_idle);
    tracing::info!(provider = %id, "user signed in");
    Ok(redirect(&tx.return_to))
}

/// Connects the identity to the signed-in account that asked for it. The
/// new provider's tokens are not kept: connecting proves the identity,
/// signing in with it later keeps its tokens.
async fn connect(
    core: &Core,
    session: &Session,
    tx: &LoginTransaction,
    user: UserId,
    identity: &Identity,
) -> Result<Response, Failure> {
    let id = tx.provider.as_str();
    let current = core
        .signed_in(session)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?;
    if current.map(|u| u.user_id) != Some(user.0) {
        return Err(Failure::new(
            ErrorCode::SignInExpired,
            Some(id),
            "the session changed while connecting a provider",
        ));
    }
    core.hooks
        .allow(identity)
        .await
        .map_err(|err| Failure::hook(id, &err))?;
    match core
        .users
        .link(user, identity)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?
    {
        Link::Linked | Link::AlreadyLinked => {
            tracing::info!(provider = %id, "provider connected to an account");
            Ok(redirect(&tx.return_to))
        }
        Link::BelongsToAnother => Err(Failure::new(
            ErrorCode::IdentityInUse,
            Some(id),
            "the identity signs into another account",
        )),
    }
}

/// The browser's User-Agent, shortened, for the profile's session list.
fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(256)
        .collect()
}

/// The signed-in user of a state-changing request that came from our own
/// pages.
async fn signed_in_same_origin(
    core: &Core,
    headers: &HeaderMap,
    session: &Session,
) -> Result<SessionUser, Failure> {
    if !is_same_origin(headers, &core.public_url) {
        return Err(Failure::new(
            ErrorCode::CrossSiteRequest,
            None,
            "a state-changing request without a same-origin Origin or Sec-Fetch-Site header",
        ));
    }
    core.signed_in(session)
        .await
        .map_err(|err| Failure::unavailable(None, &err))?
        .ok_or_else(|| Failure::new(ErrorCode::NotSignedIn, None, "not signed in"))
}

/// `POST /auth/link/{provider}`: same-origin, signed in; starts a sign-in
/// at `provider` whose identity is connected to this account.
pub async fn link(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, Failure> {
    let user = signed_in_same_origin(&core, &headers, &session).await?;
    let provider = provider(&core, &id)?;
    start(
        &core,
        provider,
        &session,
        "/profile".to_owned(),
        Some(UserId(user.user_id)),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct UnlinkForm {
    issuer: String,
    subject: String,
}

/// `POST /auth/unlink`: same-origin, signed in; disconnects one of the
/// account's identities, never the last.
pub async fn unlink(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<UnlinkForm>,
) -> Result<Response, Failure> {
    let user = signed_in_same_origin(&core, &headers, &session).await?;
    let outcome = core
        .users
        .unlink(UserId(user.user_id), &form.issuer, &form.subject)
        .await
        .map_err(|err| Failure::unavailable(None, &err))?;
    match outcome {
        Unlink::Unlinked => {
            // Sessions signed in with that identity end with it.
            let logins = core
                .logins
                .for_user(user.user_id)
                .await
                .map_err(|err| Failure::unavailable(None, &err))?;
            for login in logins
                .iter()
                .filter(|login| login.issuer == form.issuer && login.subject == form.subject)
            {
                core.end_session_and_grant(login)
                    .await
                    .map_err(|err| Failure::unavailable(None, &err))?;
            }
            Ok(redirect("/profile"))
        }
        Unlink::NotFound => Ok(redirect("/profile")),
        Unlink::LastIdentity => Err(Failure::new(
            ErrorCode::LastIdentity,
            None,
            "refused to disconnect the account's last identity",
        )),
    }
}

/// `GET /auth/user`: the signed-in [`User`](crate::User) as JSON, for
/// clients that are not the app's pages; 401 with
/// `{"error": "PC-AUTH-401", ...}` when anonymous.
pub async fn user(State(core): State<Arc<Core>>, session: Session) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    let error = match core.signed_in(&session).await {
        Ok(Some(user)) => return (no_store, axum::Json(crate::User(user))).into_response(),
        Ok(None) => ErrorCode::NotSignedIn,
        Err(err) => {
            tracing::error!("session store failed: {}", cause_chain(&err));
            ErrorCode::Unavailable
        }
    };
    crate::pages::error_answer(error, error.status(), true)
}

/// `POST /auth/logout`: same-origin only. The local session and its
/// tokens are destroyed first, so nothing the provider does can keep the
/// user signed in here; then the refresh token is revoked (in the
/// background), and where the provider offers RP-initiated logout the
/// browser goes there to end the provider session too, and comes back to
/// "You are signed out".
pub async fn logout(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, Failure> {
    if !is_same_origin(&headers, &core.public_url) {
        return Err(Failure::new(
            ErrorCode::CrossSiteRequest,
            None,
            "logout without a same-origin Origin or Sec-Fetch-Site header",
        ));
    }
    let user = match session::user(&session).await {
        Ok(user) => user,
        Err(err) => {
            tracing::error!("logout: cannot read the session: {}", cause_chain(&err));
            None
        }
    };
    // Read the tokens for the provider's part, then delete them.
    let mut tokens = None;
    if let Some(user) = &user {
        match core.vault.get(&user.grant, &user.identity.provider).await {
            Ok(found) => tokens = found,
            Err(err) => tracing::error!("logout: tokens unreadable: {}", cause_chain(&err)),
        }
        let session = Ending::One {
            id: &user.login,
            grant: Some(&user.grant),
        };
        if let Err(err) = core.end_sessions(session).await {
            tracing::error!("logout: session not ended: {}", cause_chain(&err));
        }
    }
    session
        .flush()
        .await
        .map_err(|err| Failure::unavailable(None, &err))?;
    tracing::info!("user signed out");

    let Some(user) = user else {
        return Ok(redirect("/auth/logged-out"));
    };
    let Some(provider) = core.registry.get(&user.identity.provider) else {
        return Ok(redirect("/auth/logged-out"));
    };
    // Revocation runs on its own: a slow provider never delays the user.
    // Tokens that cannot be opened cannot be revoked; the provider's
    // session is still ended below, without a hint.
    if let Some(tokens) = &tokens {
        core.revoke_in_background(&user.identity.provider, tokens);
    }
    let id_token = tokens.as_ref().and_then(|tokens| tokens.id_token.as_ref());
    let back = format!("{}/auth/logged-out", core.public_url);
    let state = CsrfToken::new_random();
    match provider
        .end_session_url(&core.http, id_token, &back, state.secret())
        .await
    {
        Some(url) => Ok(redirect(url.as_str())),
        None => Ok(redirect("/auth/logged-out")),
    }
}

#[derive(Debug, Deserialize)]
pub struct EndSessionForm {
    id: String,
}

/// `POST /auth/sessions/end`: same-origin, signed in; ends another of the
/// account's sessions (this one ends with "Log out").
pub async fn end_session(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<EndSessionForm>,
) -> Result<Response, Failure> {
    let user = signed_in_same_origin(&core, &headers, &session).await?;
    let theirs = core
        .logins
        .get(&form.id)
        .await
        .map_err(|err| Failure::unavailable(None, &err))?
        .filter(|login| login.user_id == user.user_id && login.id != user.login);
    if let Some(login) = theirs {
        core.end_session_and_grant(&login)
            .await
            .map_err(|err| Failure::unavailable(None, &err))?;
        tracing::info!("a session was ended from another one");
    }
    Ok(redirect("/profile"))
}

#[derive(Deserialize)]
pub struct BackchannelForm {
    logout_token: Option<String>,
}

impl std::fmt::Debug for BackchannelForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelForm").finish_non_exhaustive()
    }
}

/// `POST /auth/backchannel/{provider}` (OIDC Back-Channel Logout 1.0): the
/// provider says a user signed out there. A valid logout token ends the
/// matching sessions here (by `sid`, or all of the subject's) with their
/// tokens: 200. An invalid one changes nothing: 400. Never cached.
pub async fn backchannel(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    Form(form): Form<BackchannelForm>,
) -> Response {
    let no_store = || [(header::CACHE_CONTROL, "no-store")];
    // The caller is anonymous: the answer says no more than the spec's
    // error code; why goes to the log.
    let refuse = |why: String| {
        tracing::warn!(provider = %escaped(&id), "back-channel logout refused: {}", escaped(&why));
        let body = serde_json::json!({
            "error": "invalid_request",
            "error_description": "The logout token was not accepted.",
        });
        (StatusCode::BAD_REQUEST, no_store(), axum::Json(body)).into_response()
    };
    let Some(provider) = core
        .registry
        .get(&id)
        .filter(|p| p.settings.protocol.is_oidc())
    else {
        return refuse(format!("no OpenID Connect provider {id:?}"));
    };
    let Some(token) = form.logout_token else {
        return refuse("no logout_token".into());
    };
    // The provider's keys or metadata cannot be had right now: nothing was
    // decided, and the provider may deliver the token again.
    let unavailable = |err: &(dyn StdError + 'static)| {
        tracing::warn!(provider = %id, "back-channel logout deferred: {}", cause_chain(err));
        let body = serde_json::json!({ "error": "temporarily_unavailable" });
        (
            StatusCode::SERVICE_UNAVAILABLE,
            no_store(),
            axum::Json(body),
        )
            .into_response()
    };
    let discovered = match provider.discovered(&core.http).await {
        Ok(discovered) => discovered,
        Err(err) if err.is_temporary() => return unavailable(&err),
        Err(err) => return refuse(format!("provider misconfigured: {}", cause_chain(&err))),
    };
    let allowed = discovered.id_token_algs();
    let signed = match provider
        .verify_signed(&core.http, &discovered, &allowed, &token)
        .await
    {
        Ok(signed) => signed,
        Err(err) if err.is_temporary() => return unavailable(&err),
        Err(err) => return refuse(format!("logout token invalid: {}", cause_chain(&err))),
    };
    let now = logins::now();
    let client_id = &provider.settings.client_id;
    let claims = match backchannel::check(&discovered, client_id, &signed.claims, now) {
        Ok(claims) => claims,
        Err(err) => return refuse(format!("logout token invalid: {err}")),
    };
    let failed = |err: &(dyn StdError + 'static)| {
        tracing::error!(provider = %id, "back-channel logout failed: {}", cause_chain(err));
        // The spec's answer when a valid logout could not be carried out.
        (StatusCode::NOT_IMPLEMENTED, no_store()).into_response()
    };
    match core
        .logins
        .first_use_of_logout_token(&claims.issuer, &claims.jti, claims.remember_until)
        .await
    {
        Ok(true) => {}
        Ok(false) => return refuse("logout token replayed (jti seen before)".into()),
        Err(err) => return failed(&err),
    }
    let selector = match (&claims.sid, &claims.subject) {
        (Some(sid), _) => Selector::Sid {
            issuer: &claims.issuer,
            sid,
        },
        (None, Some(subject)) => Selector::Subject {
            issuer: &claims.issuer,
            subject,
        },
        (None, None) => return refuse("neither sid nor sub".into()),
    };
    let sessions = match core.end_sessions(Ending::Matching(selector)).await {
        Ok(sessions) => sessions,
        Err(err) => return failed(&err),
    };
    tracing::info!(provider = %id, sessions, "back-channel logout");
    (StatusCode::OK, no_store()).into_response()
}
