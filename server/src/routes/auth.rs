//! `/auth/*`: starting a sign-in, the provider's callback, and signing out.
//! Each failure ends on the error page with a stable code; the cause chain
//! goes to the log, never to the browser.

use std::{error::Error as StdError, fmt::Write as _, sync::Arc};

use app::error::AppError;
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, CsrfToken, LocalizedClaim, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
    core::{CoreResponseType, CoreUserInfoClaims},
};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;

use crate::{
    backend::Portcullis,
    flow::{self, LoginTransaction, return_to},
    providers::{Discovered, Provider, oidc::OidcClient},
    secret::Secret,
    session::{self, SessionUser},
    telemetry::cause_chain,
    users::Identity,
    vault::{self, TokenSet},
};

/// A failed step: what the user is told, and the cause for the log.
#[derive(Debug)]
pub struct Failure {
    error: AppError,
    provider: Option<String>,
    cause: String,
}

impl Failure {
    fn new(error: AppError, provider: Option<&str>, cause: impl Into<String>) -> Self {
        Self {
            error,
            provider: provider.map(str::to_owned),
            cause: cause.into(),
        }
    }

    fn from_error(error: AppError, provider: Option<&str>, err: &(dyn StdError + 'static)) -> Self {
        Self::new(error, provider, cause_chain(err))
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

/// The provider's discovered metadata and a client with our redirect URI,
/// discovering now if start-up could not.
async fn client_for(
    core: &Portcullis,
    provider: &Provider,
) -> Result<(Arc<Discovered>, OidcClient), Failure> {
    let id = Some(provider.settings.id.as_str());
    let discovered = provider
        .discovered(&core.http)
        .await
        .map_err(|err| Failure::from_error(AppError::ProviderUnavailable, id, &err))?;
    let client = client_of(core, provider, &discovered)?;
    Ok((discovered, client))
}

/// A client for `discovered` with our redirect URI, from configuration.
fn client_of(
    core: &Portcullis,
    provider: &Provider,
    discovered: &Discovered,
) -> Result<OidcClient, Failure> {
    let redirect_uri =
        RedirectUrl::new(provider.settings.redirect_uri(&core.public_url)).map_err(|err| {
            Failure::from_error(AppError::Internal, Some(&provider.settings.id), &err)
        })?;
    Ok(discovered.client(&provider.settings, redirect_uri))
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

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /auth/login/{provider}`: authorization code flow with PKCE S256,
/// fresh `state` and `nonce`, kept server-side for this browser.
pub async fn login(
    State(core): State<Arc<Portcullis>>,
    Path(id): Path<String>,
    Query(query): Query<LoginQuery>,
    session: Session,
) -> Result<Response, Failure> {
    let provider = provider(&core, &id)?;
    let (_, client) = client_for(&core, provider).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in provider.settings.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.url();

    let tx = LoginTransaction {
        provider: id.clone(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        return_to: return_to::or_home(query.return_to.as_deref()),
        expires_at: OffsetDateTime::now_utc() + core.login_ttl,
    };
    flow::begin(&session, &tx)
        .await
        .map_err(|err| Failure::from_error(AppError::Unavailable, Some(&id), &err))?;
    Ok(redirect(url.as_str()))
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback/{provider}`: checks the response belongs to the
/// sign-in this browser started, exchanges the code on the server,
/// validates the ID token, and signs the user in.
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
        .map_err(|err| Failure::from_error(AppError::Unavailable, Some(&id), &err))?
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
    if let Some(error) = query.error {
        let user_error = if error == "access_denied" {
            AppError::LoginCancelled
        } else {
            AppError::ProviderRejected
        };
        return Err(fail(user_error, format!("provider answered error={error}")));
    }

    let (discovered, client) = client_for(&core, provider).await?;
    // RFC 9207 mix-up defence.
    let issuer = discovered.metadata.issuer().as_str();
    match query.iss.as_deref() {
        Some(iss) if iss != issuer => {
            return Err(fail(
                AppError::InvalidProviderResponse,
                format!("iss {iss:?} is not {issuer:?}"),
            ));
        }
        None if discovered.sends_iss() => {
            return Err(fail(
                AppError::InvalidProviderResponse,
                "iss missing though advertised".into(),
            ));
        }
        _ => {}
    }
    let code = query
        .code
        .ok_or_else(|| fail(AppError::ProviderRejected, "callback without code".into()))?;

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|err| Failure::from_error(AppError::Internal, Some(&id), &err))?
        .set_pkce_verifier(PkceCodeVerifier::new(tx.pkce_verifier))
        .request_async(&core.http)
        .await
        .map_err(|err| {
            let user_error = match &err {
                RequestTokenError::ServerResponse(_) => AppError::ProviderRejected,
                RequestTokenError::Request(_) => AppError::ProviderUnavailable,
                _ => AppError::InvalidProviderResponse,
            };
            Failure::from_error(user_error, Some(&id), &err)
        })?;

    let id_token = token.id_token().ok_or_else(|| {
        fail(
            AppError::InvalidProviderResponse,
            "token response has no id_token".into(),
        )
    })?;
    let nonce = Nonce::new(tx.nonce);
    let checked = discovered.verify_id_token(&client, id_token, token.access_token(), &nonce);
    let claims = match checked {
        // Signed with a key we lack: the provider may have rotated its
        // keys; fetch them once and check again.
        Err(err) if err.is_unknown_key() => {
            match provider.refresh_keys(&discovered, &core.http).await {
                Ok(Some(fresh)) => {
                    let client = client_of(&core, provider, &fresh)?;
                    fresh.verify_id_token(&client, id_token, token.access_token(), &nonce)
                }
                Ok(None) => Err(err),
                Err(fetch) => {
                    return Err(Failure::from_error(
                        AppError::ProviderUnavailable,
                        Some(&id),
                        &fetch,
                    ));
                }
            }
        }
        checked => checked,
    }
    .map_err(|err| Failure::from_error(AppError::InvalidProviderResponse, Some(&id), &err))?;

    let mut identity = Identity {
        issuer: claims.issuer().to_string(),
        subject: claims.subject().to_string(),
        provider: id.clone(),
        name: localized(claims.name()).unwrap_or_default(),
        email: claims.email().map(|e| e.to_string()),
        picture: localized(claims.picture()),
    };
    // Providers that keep profile claims out of the ID token serve them
    // from userinfo; the crate checks its `sub` equals the ID token's.
    let incomplete = identity.name.is_empty() || identity.email.is_none();
    if incomplete
        && let Ok(request) =
            client.user_info(token.access_token().clone(), Some(claims.subject().clone()))
    {
        let info: CoreUserInfoClaims = request.request_async(&core.http).await.map_err(|err| {
            Failure::from_error(AppError::InvalidProviderResponse, Some(&id), &err)
        })?;
        if identity.name.is_empty() {
            identity.name = localized(info.name()).unwrap_or_default();
        }
        identity.email = identity
            .email
            .or_else(|| info.email().map(|e| e.to_string()));
        identity.picture = identity.picture.or_else(|| localized(info.picture()));
    }
    if identity.name.is_empty() {
        identity.name = identity
            .email
            .clone()
            .unwrap_or_else(|| "Signed-in user".into());
    }

    let user_id = core
        .users
        .sign_in(&identity)
        .await
        .map_err(|err| Failure::from_error(AppError::Unavailable, Some(&id), &err))?;
    let user = SessionUser::new(identity, user_id, vault::new_grant_id());
    let tokens = TokenSet {
        access_token: Secret::new(token.access_token().secret().clone()),
        refresh_token: token
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        id_token: Some(Secret::new(id_token.to_string())),
        expires_at: token
            .expires_in()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .map(|secs| {
                OffsetDateTime::now_utc()
                    .unix_timestamp()
                    .saturating_add(secs)
            }),
    };
    core.vault
        .put(&user.grant, &id, &tokens)
        .await
        .map_err(|err| Failure::from_error(AppError::Unavailable, Some(&id), &err))?;
    session::sign_in(&session, &user)
        .await
        .map_err(|err| Failure::from_error(AppError::Unavailable, Some(&id), &err))?;
    tracing::info!(provider = %id, "user signed in");
    Ok(redirect(&tx.return_to))
}

/// A claim in the user's default language.
fn localized<T: std::ops::Deref<Target = String>>(
    claim: Option<&LocalizedClaim<T>>,
) -> Option<String> {
    claim.and_then(|c| c.get(None)).map(|v| v.to_string())
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
