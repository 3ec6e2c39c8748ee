//! The OpenID Connect side of a sign-in: the authorization request with a
//! nonce, and the callback's RFC 9207 check, code exchange, ID-token
//! validation (with one key refresh on an unknown `kid`) and userinfo.

use std::sync::Arc;

use app::error::AppError;
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, CsrfToken, LocalizedClaim, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
    core::{CoreResponseType, CoreUserInfoClaims},
};

use super::{Authorization, CallbackQuery, Failure, Verified};
use crate::{
    backend::Portcullis,
    flow::LoginTransaction,
    providers::{
        Discovered, Provider,
        oidc::{self, OidcClient},
    },
    secret::Secret,
    users::Identity,
    vault::TokenSet,
};

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

/// Code flow with PKCE S256, a fresh `state` and `nonce`.
pub(super) async fn authorize(
    core: &Portcullis,
    provider: &Provider,
) -> Result<Authorization, Failure> {
    let (_, client) = client_for(core, provider).await?;
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
    Ok(Authorization {
        url,
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// From the callback's code to a validated identity and its tokens.
pub(super) async fn sign_in(
    core: &Portcullis,
    provider: &Provider,
    tx: &LoginTransaction,
    query: CallbackQuery,
) -> Result<Verified, Failure> {
    let id = provider.settings.id.as_str();
    let fail = |error: AppError, cause: String| Failure::new(error, Some(id), cause);
    let (discovered, client) = client_for(core, provider).await?;
    // RFC 9207 mix-up defence.
    match query.iss.as_deref() {
        Some(iss) if !discovered.is_own_iss(iss) => {
            return Err(fail(
                AppError::InvalidProviderResponse,
                format!("iss {iss:?} is not {:?}", discovered.issuer()),
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
        .map_err(|err| Failure::from_error(AppError::Internal, Some(id), &err))?
        .set_pkce_verifier(PkceCodeVerifier::new(tx.pkce_verifier.clone()))
        .request_async(&core.http)
        .await
        .map_err(|err| {
            let user_error = match &err {
                RequestTokenError::ServerResponse(_) => AppError::ProviderRejected,
                RequestTokenError::Request(_) => AppError::ProviderUnavailable,
                _ => AppError::InvalidProviderResponse,
            };
            Failure::from_error(user_error, Some(id), &err)
        })?;

    let id_token = token.id_token().ok_or_else(|| {
        fail(
            AppError::InvalidProviderResponse,
            "token response has no id_token".into(),
        )
    })?;
    let nonce = Nonce::new(tx.nonce.clone());
    let checked = discovered.verify_id_token(&client, id_token, token.access_token(), Some(&nonce));
    let claims = match checked {
        // Signed with a key we lack: the provider may have rotated its
        // keys; fetch them once and check again.
        Err(err) if err.is_unknown_key() => {
            match provider.refresh_keys(&discovered, &core.http).await {
                Ok(Some(fresh)) => {
                    let client = client_of(core, provider, &fresh)?;
                    fresh.verify_id_token(&client, id_token, token.access_token(), Some(&nonce))
                }
                Ok(None) => Err(err),
                Err(fetch) => {
                    return Err(Failure::from_error(
                        AppError::ProviderUnavailable,
                        Some(id),
                        &fetch,
                    ));
                }
            }
        }
        checked => checked,
    }
    .map_err(|err| Failure::from_error(AppError::InvalidProviderResponse, Some(id), &err))?;

    let mut identity = Identity {
        issuer: claims.issuer().to_string(),
        subject: claims.subject().to_string(),
        provider: id.to_owned(),
        name: localized(claims.name()).unwrap_or_default(),
        email: claims.email().map(|e| e.to_string()),
        email_verified: claims.email_verified().unwrap_or(false),
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
            Failure::from_error(AppError::InvalidProviderResponse, Some(id), &err)
        })?;
        if identity.name.is_empty() {
            identity.name = localized(info.name()).unwrap_or_default();
        }
        if identity.email.is_none() {
            identity.email = info.email().map(|e| e.to_string());
            identity.email_verified = info.email_verified().unwrap_or(false);
        }
        identity.picture = identity.picture.or_else(|| localized(info.picture()));
    }
    if identity.name.is_empty() {
        identity.name = identity
            .email
            .clone()
            .unwrap_or_else(|| "Signed-in user".into());
    }

    let tokens = TokenSet {
        access_token: Secret::new(token.access_token().secret().clone()),
        refresh_token: token
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        id_token: Some(Secret::new(id_token.to_string())),
        expires_at: TokenSet::expiry_in(token.expires_in().map(|d| d.as_secs())),
    };
    Ok(Verified {
        identity,
        tokens,
        provider_sid: oidc::id_token_claim(id_token, "sid"),
    })
}

/// A claim in the user's default language.
fn localized<T: std::ops::Deref<Target = String>>(
    claim: Option<&LocalizedClaim<T>>,
) -> Option<String> {
    claim.and_then(|c| c.get(None)).map(|v| v.to_string())
}
