//! The OpenID Connect side of a sign-in: the authorization request with a
//! nonce, and the callback's RFC 9207 check, code exchange, ID-token
//! validation (keys fetched again on a rotation) and userinfo.

use std::sync::Arc;

use crate::error::ErrorCode;
use openidconnect::{
    AuthenticationFlow, CsrfToken, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
    core::CoreResponseType,
};

use super::{
    Failure,
    sign_in::{Authorization, CallbackQuery, Verified},
};
use crate::{
    backend::Core,
    flow::LoginTransaction,
    logins,
    providers::{
        Discovered, Provider,
        id_token::{self, Expected, IdClaims, Profile},
        oauth2::{self},
        oidc::OidcClient,
        userinfo::UserinfoError,
    },
    secret::Secret,
    telemetry::cause_chain,
    users::Identity,
    vault::TokenSet,
};

/// The provider's discovered metadata, discovering now if start-up could
/// not.
async fn discovered(core: &Core, provider: &Provider) -> Result<Arc<Discovered>, Failure> {
    provider
        .discovered(&core.http)
        .await
        .map_err(|err| Failure::from_error(err.code(), Some(&provider.settings.id), &err))
}

/// A client for `discovered` with our redirect URI, from configuration.
fn client_of(
    core: &Core,
    provider: &Provider,
    discovered: &Discovered,
) -> Result<OidcClient, Failure> {
    let redirect_uri =
        RedirectUrl::new(provider.settings.redirect_uri(&core.public_url)).map_err(|err| {
            Failure::from_error(ErrorCode::Internal, Some(&provider.settings.id), &err)
        })?;
    Ok(discovered.client(&provider.settings, redirect_uri))
}

/// Code flow with PKCE S256, a fresh `state` and `nonce`.
pub(super) async fn authorize(core: &Core, provider: &Provider) -> Result<Authorization, Failure> {
    let client = client_of(core, provider, &*discovered(core, provider).await?)?;
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
    core: &Core,
    provider: &Provider,
    tx: &LoginTransaction,
    query: CallbackQuery,
) -> Result<Verified, Failure> {
    let id = provider.settings.id.as_str();
    let fail = |error: ErrorCode, cause: String| Failure::new(error, Some(id), cause);
    let discovered = discovered(core, provider).await?;
    // RFC 9207 mix-up defence.
    match query.iss.as_deref() {
        Some(iss) if !discovered.is_own_iss(iss) => {
            return Err(fail(
                ErrorCode::InvalidProviderResponse,
                format!("iss {iss:?} is not {:?}", discovered.issuer()),
            ));
        }
        None if discovered.sends_iss() => {
            return Err(fail(
                ErrorCode::InvalidProviderResponse,
                "iss missing though advertised".into(),
            ));
        }
        _ => {}
    }
    let code = query
        .code
        .ok_or_else(|| fail(ErrorCode::ProviderRejected, "callback without code".into()))?;

    let token_url = discovered.token_url().ok_or_else(|| {
        fail(
            ErrorCode::InvalidProviderResponse,
            "discovery names no token endpoint".into(),
        )
    })?;
    let redirect_uri = provider.settings.redirect_uri(&core.public_url);
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", tx.pkce_verifier.as_str()),
    ];
    let auth = discovered.client_auth();
    let grant = oauth2::token_request(&core.http, token_url, &provider.settings, auth, &params)
        .await
        .map_err(|err| Failure::from_error(err.code(), Some(id), &err))?;

    let id_token = grant.id_token.as_ref().ok_or_else(|| {
        fail(
            ErrorCode::InvalidProviderResponse,
            "token response has no id_token".into(),
        )
    })?;
    let expected = Expected {
        client_id: &provider.settings.client_id,
        nonce: Some(&tx.nonce),
        access_token: grant.access_token.expose(),
        now: logins::now(),
    };
    let claims = verify_id_token(core, provider, &discovered, id_token, expected)
        .await
        .map_err(|(error, cause)| fail(error, cause))?;

    let mut profile = claims.profile;
    // Providers that keep profile claims out of the ID token serve them
    // from userinfo, which must answer about the same subject; what it
    // tells is used as if the ID token had said it.
    if !profile.is_complete() {
        let info = provider
            .userinfo(
                &core.http,
                &discovered,
                &grant.access_token,
                &claims.issuer,
                &claims.subject,
            )
            .await;
        match info {
            Ok(info) => profile.complete_with(Profile::from_claims(&info)),
            Err(UserinfoError::NoEndpoint) => {}
            Err(err) => return Err(Failure::from_error(err.code(), Some(id), &err)),
        }
    }
    let name = profile
        .name
        .or_else(|| profile.email.clone())
        .unwrap_or_else(|| "Signed-in user".into());
    let identity = Identity {
        issuer: claims.issuer,
        subject: claims.subject,
        provider: id.to_owned(),
        name,
        email: profile.email,
        email_verified: profile.email_verified.unwrap_or(false),
        picture: profile.picture,
    };
    let tokens = TokenSet {
        expires_at: core.access_token_expiry(grant.expires_in, grant.refresh_token.is_some()),
        access_token: grant.access_token,
        refresh_token: grant.refresh_token,
        id_token: Some(id_token.clone()),
    };
    Ok(Verified {
        identity,
        tokens,
        provider_sid: claims.sid,
    })
}

/// Verifies an ID token's signature (fetching the provider's keys again on
/// a rotation) and its claims. The error says what the user is told.
pub(crate) async fn verify_id_token(
    core: &Core,
    provider: &Provider,
    discovered: &Discovered,
    id_token: &Secret,
    expected: Expected<'_>,
) -> Result<IdClaims, (ErrorCode, String)> {
    let allowed = discovered.id_token_algs();
    let signed = provider
        .verify_signed(&core.http, discovered, &allowed, id_token.expose())
        .await
        .map_err(|err| (err.code(), cause_chain(&err)))?;
    id_token::check(discovered, &signed, expected)
        .map_err(|err| (ErrorCode::InvalidProviderResponse, cause_chain(&err)))
}
