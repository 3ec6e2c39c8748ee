//! The plain OAuth 2.0 side of a sign-in (GitHub, Discord): no nonce and
//! no ID token; after the code exchange, the provider's API says whose
//! token it is.

use openidconnect::{CsrfToken, PkceCodeChallenge};

use super::{
    Failure, FlowError,
    sign_in::{Authorization, CallbackQuery, Verified},
};
use crate::{
    backend::Core,
    flow::SignInInProgress,
    providers::{
        Provider,
        oauth2::{self, ApiError, Endpoints},
    },
    vault::TokenSet,
};

fn endpoints(provider: &Provider) -> Result<Endpoints, Failure> {
    provider
        .endpoints()
        .ok_or_else(|| FlowError::NoEndpoints.at(&provider.settings.id))
}

/// Code flow with PKCE S256 and a fresh `state`.
pub(super) fn authorize(core: &Core, provider: &Provider) -> Result<Authorization, Failure> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = CsrfToken::new_random();
    let url = oauth2::authorize_url(
        &endpoints(provider)?,
        &provider.settings,
        &provider.settings.redirect_uri(&core.public_url),
        state.secret(),
        challenge.as_str(),
    )
    .map_err(|err| FlowError::RedirectUri(err).at(&provider.settings.id))?;
    Ok(Authorization {
        url,
        state: state.secret().clone(),
        nonce: String::new(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// From the callback's code to the identity the provider's API names.
pub(super) async fn sign_in(
    core: &Core,
    provider: &Provider,
    tx: &SignInInProgress,
    query: CallbackQuery,
) -> Result<Verified, Failure> {
    let settings = &provider.settings;
    let id = settings.id.as_str();
    let fail = |err: ApiError| FlowError::Provider(err).at(id);
    // These providers do not send RFC 9207 `iss`; one that names another
    // issuer is a mix-up.
    if let Some(iss) = query.iss.as_deref()
        && iss != settings.issuer
    {
        return Err(FlowError::WrongIssuer {
            got: iss.to_owned(),
            expected: settings.issuer.clone(),
        }
        .at(id));
    }
    let code = query.code.ok_or_else(|| FlowError::NoCode.at(id))?;
    let endpoints = endpoints(provider)?;
    let grant = oauth2::exchange_code(
        &core.http,
        &endpoints,
        settings,
        &settings.redirect_uri(&core.public_url),
        &code,
        &tx.pkce_verifier,
    )
    .await
    .map_err(fail)?;
    let identity = provider
        .plain_identity(&core.http, &endpoints, &grant.access_token)
        .await
        .map_err(fail)?;
    let tokens = TokenSet {
        expires_at: core.access_token_expiry(grant.expires_in, grant.refresh_token.is_some()),
        access_token: grant.access_token,
        refresh_token: grant.refresh_token,
        id_token: None,
    };
    Ok(Verified {
        identity,
        tokens,
        provider_sid: None,
    })
}
