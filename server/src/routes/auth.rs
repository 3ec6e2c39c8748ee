//! `/auth/*`: starting a sign-in, the provider's callback, connecting and
//! disconnecting providers, and signing out. The protocol-specific steps
//! are in `oidc.rs` (OpenID Connect) and `plain.rs` (plain OAuth 2.0).
//! Each failure ends on the error page with a stable code; the cause chain
//! goes to the log, never to the browser.

mod oidc;
mod plain;

use std::{error::Error as StdError, fmt::Write as _, sync::Arc};

use app::error::AppError;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;
use url::Url;

use crate::{
    backend::Portcullis,
    flow::{self, LoginTransaction, return_to},
    providers::Provider,
    session::{self, SessionUser},
    telemetry::cause_chain,
    users::{Identity, Link, SignIn, Unlink, UserId},
    vault::{self, TokenSet},
};

/// A failed step: what the user is told, and the cause for the log.
#[derive(Debug)]
pub struct Failure {
    error: AppError,
    provider: Option<String>,
    /// For [`AppError::EmailInUse`]: the provider the account uses.
    existing: Option<String>,
    cause: String,
}

impl Failure {
    fn new(error: AppError, provider: Option<&str>, cause: impl Into<String>) -> Self {
        Self {
            error,
            provider: provider.map(str::to_owned),
            existing: None,
            cause: cause.into(),
        }
    }

    fn from_error(error: AppError, provider: Option<&str>, err: &(dyn StdError + 'static)) -> Self {
        Self::new(error, provider, cause_chain(err))
    }

    fn unavailable(provider: Option<&str>, err: &(dyn StdError + 'static)) -> Self {
        Self::from_error(AppError::Unavailable, provider, err)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        tracing::warn!(
            code = self.error.code(),
            provider = self.provider.as_deref().unwrap_or("-"),
            "sign-in flow failed: {}",
            self.cause
        );
        let mut location = format!("/error?code={}", self.error.code());
        if let Some(provider) = &self.provider {
            let _ = write!(location, "&provider={provider}");
        }
        if let Some(existing) = &self.existing {
            let _ = write!(location, "&existing={existing}");
        }
        redirect(&location)
    }
}

fn provider<'a>(core: &'a Portcullis, id: &str) -> Result<&'a Provider, Failure> {
    core.registry.get(id).ok_or_else(|| {
        Failure::new(
            AppError::UnknownProvider,
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

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /auth/login/{provider}`: authorization code flow with PKCE S256,
/// fresh `state` (and `nonce` for OpenID Connect), kept server-side for
/// this browser.
pub async fn login(
    State(core): State<Arc<Portcullis>>,
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
    core: &Portcullis,
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
    State(core): State<Arc<Portcullis>>,
    Path(id): Path<String>,
    Query(query): Query<CallbackQuery>,
    session: Session,
) -> Result<Response, Failure> {
    let fail = |error: AppError, cause: String| Failure::new(error, Some(&id), cause);
    let provider = provider(&core, &id)?;

    // The transaction is taken out first: whatever happens next, it cannot
    // be used twice.
    let tx = flow::take(&session)
        .await
        .map_err(|err| Failure::unavailable(Some(&id), &err))?
        .ok_or_else(|| {
            fail(
                AppError::LoginExpired,
                "no sign-in in progress for this browser".into(),
            )
        })?;
    if tx.provider != id {
        return Err(fail(
            AppError::LoginExpired,
            format!("sign-in was started with {:?}, not {id:?}", tx.provider),
        ));
    }
    if query.state.as_deref() != Some(tx.state.as_str()) {
        return Err(fail(AppError::LoginExpired, "state does not match".into()));
    }
    if tx.is_expired(OffsetDateTime::now_utc()) {
        return Err(fail(
            AppError::LoginExpired,
            "sign-in transaction expired".into(),
        ));
    }
    if let Some(error) = &query.error {
        let user_error = if error == "access_denied" {
            AppError::LoginCancelled
        } else {
            AppError::ProviderRejected
        };
        return Err(fail(user_error, format!("provider answered error={error}")));
    }

    let (identity, tokens) = if provider.settings.protocol.is_oidc() {
        oidc::sign_in(&core, provider, &tx, query).await?
    } else {
        plain::sign_in(&core, provider, &tx, query).await?
    };
    match tx.link_to {
        Some(user) => connect(&core, &session, &tx, UserId(user), &identity).await,
        None => sign_in(&core, &session, &tx, identity, tokens).await,
    }
}

/// Signs the identity's account in: tokens into the vault, a new session id.
async fn sign_in(
    core: &Portcullis,
    session: &Session,
    tx: &LoginTransaction,
    identity: Identity,
    tokens: TokenSet,
) -> Result<Response, Failure> {
    let id = tx.provider.as_str();
    let user_id = match core
        .users
        .sign_in(&identity)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?
    {
        SignIn::Account(user_id) => user_id,
        SignIn::EmailBelongsTo { provider } => {
            let mut failure = Failure::new(
                AppError::EmailInUse,
                Some(id),
                format!(
                    "a new identity's verified e-mail belongs to an account using {provider:?}"
                ),
            );
            failure.existing = Some(provider);
            return Err(failure);
        }
    };
    let user = SessionUser::new(identity, user_id, vault::new_grant_id());
    core.vault
        .put(&user.grant, id, &tokens)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?;
    session::sign_in(session, &user)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?;
    tracing::info!(provider = %id, "user signed in");
    Ok(redirect(&tx.return_to))
}

/// Connects the identity to the signed-in account that asked for it. The
/// new provider's tokens are not kept: connecting proves the identity,
/// signing in with it later keeps its tokens.
async fn connect(
    core: &Portcullis,
    session: &Session,
    tx: &LoginTransaction,
    user: UserId,
    identity: &Identity,
) -> Result<Response, Failure> {
    let id = tx.provider.as_str();
    let current = session::user(session)
        .await
        .map_err(|err| Failure::unavailable(Some(id), &err))?;
    if current.map(|u| u.user_id) != Some(user.0) {
        return Err(Failure::new(
            AppError::LoginExpired,
            Some(id),
            "the session changed while connecting a provider",
        ));
    }
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
            AppError::IdentityInUse,
            Some(id),
            "the identity signs into another account",
        )),
    }
}

/// The signed-in user of a state-changing request that came from our own
/// pages.
async fn signed_in_same_origin(
    core: &Portcullis,
    headers: &HeaderMap,
    session: &Session,
) -> Result<SessionUser, Failure> {
    if !is_same_origin(headers, &core.public_url) {
        return Err(Failure::new(
            AppError::CrossSiteRequest,
            None,
            "a state-changing request without a same-origin Origin or Sec-Fetch-Site header",
        ));
    }
    session::user(session)
        .await
        .map_err(|err| Failure::unavailable(None, &err))?
        .ok_or_else(|| Failure::new(AppError::NotSignedIn, None, "not signed in"))
}

/// `POST /auth/link/{provider}`: same-origin, signed in; starts a sign-in
/// at `provider` whose identity is connected to this account.
pub async fn link(
    State(core): State<Arc<Portcullis>>,
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
    State(core): State<Arc<Portcullis>>,
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
        Unlink::Unlinked | Unlink::NotFound => Ok(redirect("/profile")),
        Unlink::LastIdentity => Err(Failure::new(
            AppError::LastIdentity,
            None,
            "refused to disconnect the account's last identity",
        )),
    }
}

/// `GET /auth/user`: the signed-in user as JSON, for clients that are not
/// the Leptos app; 401 when anonymous. The same view data the UI gets.
pub async fn user(State(core): State<Arc<Portcullis>>, session: Session) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    match session::user(&session).await {
        Ok(Some(user)) => {
            let view = user.view(core.provider_label(&user.identity.provider));
            (no_store, axum::Json(view)).into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            no_store,
            axum::Json(serde_json::json!({
                "error": "not_signed_in",
                "message": "Sign in to see this.",
            })),
        )
            .into_response(),
        Err(err) => {
            tracing::error!("session store failed: {}", cause_chain(&err));
            let error = AppError::Unavailable;
            (
                StatusCode::SERVICE_UNAVAILABLE,
                no_store,
                axum::Json(
                    serde_json::json!({ "error": error.code(), "message": error.to_string() }),
                ),
            )
                .into_response()
        }
    }
}

/// `POST /auth/logout`: same-origin only; ends the session and deletes it
/// from the store.
pub async fn logout(
    State(core): State<Arc<Portcullis>>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, Failure> {
    if !is_same_origin(&headers, &core.public_url) {
        return Err(Failure::new(
            AppError::CrossSiteRequest,
            None,
            "logout without a same-origin Origin or Sec-Fetch-Site header",
        ));
    }
    // The tokens go first; the session is ended even if that fails, so a
    // store hiccup never leaves the user signed in.
    let grant = match session::user(&session).await {
        Ok(user) => user.map(|u| u.grant),
        Err(err) => {
            tracing::error!("logout: cannot read the session: {}", cause_chain(&err));
            None
        }
    };
    if let Some(grant) = grant
        && let Err(err) = core.vault.delete(&grant).await
    {
        tracing::error!("logout: tokens not deleted: {}", cause_chain(&err));
    }
    session
        .flush()
        .await
        .map_err(|err| Failure::from_error(AppError::Unavailable, None, &err))?;
    Ok(redirect("/auth/logged-out"))
}

/// A request made by our own pages: its `Origin` is ours, or (for browsers
/// that omit it) Fetch Metadata says same-origin. Neither: refused.
pub fn is_same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return origin.as_bytes() == public_url.as_bytes();
    }
    headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"same-origin")
}
