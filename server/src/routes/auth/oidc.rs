//! The OpenID Connect side of a sign-in: the authorization request with a
//! nonce, and the callback's RFC 9207 check, code exchange, ID-token
//! validation (keys fetched again on a rotation) and userinfo.

use std::sync::Arc;

use openidconnect::{
    AuthenticationFlow, CsrfToken, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
    core::CoreResponseType,
};

use super::{
    Failure, FlowError,
    sign_in::{Authorization, CallbackQuery, Verified},
};
use crate::{
    backend::Core,
    clock,
    flow::SignInInProgress,
    providers::{
        Discovered, Provider,
        id_token::{self, Expected, IdClaims, Profile},
        oauth2::{self},
        oidc::OidcClient,
        userinfo::UserinfoError,
    },
    secret::Secret,
    users::Identity,
    vault::TokenSet,
};

/// The provider's discovered metadata, discovering now if start-up could
/// not.
async fn discovered(core: &Core, provider: &Provider) -> Result<Arc<Discovered>, Failure> {
    provider
        .discovered(&core.http)
        .await
        .map_err(|err| FlowError::Discovery(err).at(&provider.settings.id))
}

/// A client for `discovered` with our redirect URI, from configuration.
fn client_of(
    core: &Core,
    provider: &Provider,
    discovered: &Discovered,
) -> Result<OidcClient, Failure> {
    let redirect_uri = RedirectUrl::new(provider.settings.redirect_uri(&core.public_url))
        .map_err(|err| FlowError::RedirectUri(err).at(&provider.settings.id))?;
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
    tx: &SignInInProgress,
    query: CallbackQuery,
) -> Result<Verified, Failure> {
    let id = provider.settings.id.as_str();
    let discovered = discovered(core, provider).await?;
    // RFC 9207 mix-up defence.
    match query.iss.as_deref() {
        Some(iss) if !discovered.is_own_iss(iss) => {
            return Err(FlowError::WrongIssuer {
                got: iss.to_owned(),
                expected: discovered.issuer().to_owned(),
            }
            .at(id));
        }
        None if discovered.sends_iss() => {
            return Err(FlowError::MissingIssuer.at(id));
        }
        _ => {}
    }
    let code = query.code.ok_or_else(|| FlowError::NoCode.at(id))?;

    let token_url = discovered
        .token_url()
        .ok_or_else(|| FlowError::NoTokenEndpoint.at(id))?;
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
        .map_err(|err| FlowError::Provider(err).at(id))?;

    let id_token = grant
        .id_token
        .as_ref()
        .ok_or_else(|| FlowError::NoIdToken.at(id))?;
    let expected = Expected {
        client_id: &provider.settings.client_id,
        nonce: Some(&tx.nonce),
        access_token: grant.access_token.expose(),
        now: clock::now(),
    };
    let claims = verify_id_token(core, provider, &discovered, id_token, expected)
        .await
        .map_err(|err| err.at(id))?;

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
            Err(err) => return Err(FlowError::Userinfo(err).at(id)),
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
/// a rotation) and its claims (OpenID Connect Core §3.1.3.7).
async fn verify_id_token(
    core: &Core,
    provider: &Provider,
    discovered: &Discovered,
    id_token: &Secret,
    expected: Expected<'_>,
) -> Result<IdClaims, FlowError> {
    let allowed = discovered.id_token_algs();
    let signed = provider
        .verify_signed(&core.http, discovered, &allowed, id_token.expose())
        .await
        .map_err(FlowError::Signature)?;
    id_token::check(discovered, &signed, expected).map_err(FlowError::IdToken)
}
