//! The code flow at an OpenID Connect provider: the authorization request
//! with a nonce; the callback's RFC 9207 check, code exchange, ID-token
//! validation (keys fetched again on a rotation) and userinfo; refresh with
//! the refreshed ID token checked (OIDC Core §12.2); userinfo as the
//! profile; revocation where discovery names an endpoint.

use async_trait::async_trait;
use openidconnect::{
    AuthenticationFlow, CsrfToken, Nonce, PkceCodeChallenge, RedirectUrl, Scope,
    core::CoreResponseType,
};
use serde_json::Value;

use super::{
    Discovered, Provider, ResponseMode, SignedError, apple,
    claims::Object,
    id_token::{self, Authentication, Expected, IdClaims, Profile},
    jws, oauth2,
    protocol::{
        Audience, AuthTime, Authorization, Callback, CheckedGrant, CodeFlow, CodeFlowError,
        GrantError, ProfileData, ProfileError, Redeemed, Started,
    },
    userinfo::UserinfoError,
};
use crate::{
    clock, flow::SignInParams, http_client::ProviderHttp, secret::Secret, telemetry::cause_chain,
    users::Identity,
};

/// OpenID Connect Core 1.0, configured by discovery.
#[derive(Debug)]
pub struct OidcFlow;

/// The fields of userinfo the profile shows.
const USERINFO_FIELDS: &[(&str, &str)] = &[
    ("Name", "name"),
    ("E-mail", "email"),
    ("E-mail verified", "email_verified"),
    ("Account ID", "sub"),
];

#[async_trait]
impl CodeFlow for OidcFlow {
    async fn authorization_request(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        redirect_uri: &str,
        params: &SignInParams,
    ) -> Result<Authorization, CodeFlowError> {
        let discovered = provider
            .discovered(http)
            .await
            .map_err(CodeFlowError::Discovery)?;
        let redirect_uri =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(CodeFlowError::RedirectUri)?;
        let client = discovered.client(&provider.settings, redirect_uri);
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
        for resource in &provider.settings.resources {
            request = request.add_extra_param("resource", resource.clone());
        }
        for (name, value) in params.merged(provider.settings.authorize_params, &[]) {
            request = request.add_extra_param(name, value);
        }
        if provider.settings.response_mode != ResponseMode::Query {
            let mode = provider.settings.response_mode.name();
            request = request.add_extra_param("response_mode", mode);
        }
        let (url, state, nonce) = request.url();
        Ok(Authorization {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            temporary: None,
        })
    }

    async fn redeem(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        redirect_uri: &str,
        started: Started<'_>,
        callback: Callback,
    ) -> Result<Redeemed, CodeFlowError> {
        let discovered = provider
            .discovered(http)
            .await
            .map_err(CodeFlowError::Discovery)?;
        // RFC 9207 mix-up defence.
        match callback.iss.as_deref() {
            Some(iss) if !discovered.is_own_iss(iss) => {
                return Err(CodeFlowError::WrongIssuer {
                    got: iss.to_owned(),
                    expected: discovered.issuer().to_owned(),
                });
            }
            None if discovered.sends_iss() => return Err(CodeFlowError::MissingIssuer),
            _ => {}
        }
        let code = callback.code.ok_or(CodeFlowError::NoCode)?;
        let token_url = discovered
            .token_url()
            .ok_or(CodeFlowError::NoTokenEndpoint)?;
        let params = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", started.pkce_verifier),
        ];
        let auth = discovered.client_auth();
        let client = oauth2::TokenClient {
            url: token_url,
            settings: &provider.settings,
            auth,
            params: &[],
        };
        let grant = oauth2::token_request(http, &client, &params)
            .await
            .map_err(CodeFlowError::Provider)?;

        let id_token = grant.id_token.clone().ok_or(CodeFlowError::NoIdToken)?;
        let expected = Expected {
            client_id: &provider.settings.client_id,
            nonce: Some(started.nonce),
            access_token: grant.access_token.expose(),
            now: clock::now(),
            authentication: Authentication {
                max_age: started.params.max_age,
                login_since: started
                    .params
                    .asks_for_login()
                    .then_some(started.started_at),
                acr_values: &started.params.acr_values,
            },
        };
        let claims = verify_id_token(provider, http, &discovered, &id_token, expected).await?;

        let mut profile = claims.profile;
        // Providers that keep profile claims out of the ID token serve them
        // from userinfo, which must answer about the same subject; what it
        // tells is used as if the ID token had said it.
        if !profile.is_complete() {
            let info = provider
                .userinfo(
                    http,
                    &discovered,
                    &grant.access_token,
                    &claims.issuer,
                    &claims.subject,
                )
                .await;
            match info {
                Ok(info) => profile.complete_with(Profile::from_claims(&info)),
                Err(UserinfoError::NoEndpoint) => {}
                Err(err) => return Err(CodeFlowError::Userinfo(err)),
            }
        }
        // Sign in with Apple names the user only in its first callback's
        // posted `user` field, unsigned: it may only name a new account.
        let suggested_name = callback
            .user
            .as_deref()
            .filter(|_| provider.settings.preset == Some("apple"))
            .and_then(apple::name_from_user_field);
        let identity = Identity {
            issuer: claims.issuer,
            subject: claims.subject,
            provider: provider.settings.id.clone(),
            name: profile.name.unwrap_or_default(),
            email: profile.email,
            email_verified: profile.email_verified.unwrap_or(false),
            picture: profile.picture,
        };
        Ok(Redeemed {
            identity,
            grant: CheckedGrant::new(grant, Some(id_token)),
            provider_sid: claims.sid,
            auth_time: claims.auth_time.map_or(AuthTime::NotSaid, AuthTime::Said),
            suggested_name,
        })
    }

    /// A refreshed ID token is checked like one at sign-in (OIDC Core
    /// §12.2) and must name the same user (SECURITY.md B8).
    async fn refresh(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        identity: &Identity,
        refresh_token: &Secret,
        audience: Option<&Audience>,
    ) -> Result<CheckedGrant, GrantError> {
        let discovered = provider.discovered(http).await?;
        let token_url = discovered
            .token_url()
            .ok_or_else(|| GrantError::Invalid("discovery names no token endpoint".into()))?;
        let client = oauth2::TokenClient {
            url: token_url,
            settings: &provider.settings,
            auth: discovered.client_auth(),
            params: &[],
        };
        let mut grant = oauth2::refresh(http, &client, refresh_token, audience).await?;
        let checked_id_token = match grant.id_token.take() {
            Some(id_token) => {
                let expected = Expected {
                    client_id: &provider.settings.client_id,
                    nonce: None,
                    access_token: grant.access_token.expose(),
                    now: clock::now(),
                    authentication: Authentication::default(),
                };
                check_refreshed_id_token(provider, http, &discovered, identity, &id_token, expected)
                    .await?
                    .then_some(id_token)
            }
            None => None,
        };
        Ok(CheckedGrant::new(grant, checked_id_token))
    }

    async fn profile(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        identity: &Identity,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError> {
        let discovered = provider.discovered(http).await?;
        // The one upstream: the userinfo endpoint discovery named; its
        // answer must be about this user (B6).
        let answer = provider
            .userinfo(
                http,
                &discovered,
                access_token,
                &identity.issuer,
                &identity.subject,
            )
            .await;
        let (source, data) = match answer {
            Ok(data) => ("userinfo", data),
            // None (Sign in with Apple): what the sign-in said.
            Err(UserinfoError::NoEndpoint) => ("sign-in", signed_in_claims(identity)),
            Err(err) => return Err(err.into()),
        };
        Ok(ProfileData {
            source,
            data,
            fields: USERINFO_FIELDS,
        })
    }

    async fn revocation_endpoint(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
    ) -> Option<String> {
        let discovered = provider.discovered(http).await.ok()?;
        discovered
            .metadata
            .additional_metadata()
            .revocation_endpoint
            .clone()
    }
}

/// The userinfo fields the profile shows, as the sign-in gave them.
fn signed_in_claims(identity: &Identity) -> Object {
    let mut claims = Object::new();
    claims.insert("sub".into(), identity.subject.clone().into());
    claims.insert("name".into(), identity.name.clone().into());
    if let Some(email) = &identity.email {
        claims.insert("email".into(), email.clone().into());
        claims.insert("email_verified".into(), identity.email_verified.into());
    }
    claims
}

/// Verifies an ID token's signature (fetching the provider's keys again on
/// a rotation) and its claims (OpenID Connect Core §3.1.3.7).
async fn verify_id_token(
    provider: &Provider,
    http: &ProviderHttp,
    discovered: &Discovered,
    id_token: &Secret,
    expected: Expected<'_>,
) -> Result<IdClaims, CodeFlowError> {
    let allowed = discovered.id_token_algs();
    let signed = provider
        .verify_signed(http, discovered, &allowed, id_token.expose())
        .await
        .map_err(CodeFlowError::Signature)?;
    id_token::check(discovered, &signed, expected).map_err(CodeFlowError::IdToken)
}

/// OIDC Core §12.2 for a refreshed ID token: `Ok(true)` when it passes
/// every check of one at sign-in and names the session's user, `Ok(false)`
/// when its signature cannot be checked (the keys cannot be had, or it
/// names a key the provider has not published yet) though it names the
/// session's user: the new tokens came from the token endpoint itself and
/// are kept, with the ID token checked before. Another `iss` or `sub` is
/// [`GrantError::IdentityChanged`]; any other failed check,
/// [`GrantError::InvalidIdToken`].
async fn check_refreshed_id_token(
    provider: &Provider,
    http: &ProviderHttp,
    discovered: &Discovered,
    identity: &Identity,
    id_token: &Secret,
    expected: Expected<'_>,
) -> Result<bool, GrantError> {
    // Another user, told apart from a token that fails a check: its iss or
    // sub is a string, and not the session's.
    let names_another = |claims: &Object| {
        let named = |name| claims.get(name).and_then(Value::as_str);
        named("iss").is_some_and(|iss| iss != identity.issuer)
            || named("sub").is_some_and(|sub| sub != identity.subject)
    };
    let allowed = discovered.id_token_algs();
    let verified = provider
        .verify_signed(http, discovered, &allowed, id_token.expose())
        .await;
    let signed = match verified {
        Ok(signed) => signed,
        Err(SignedError::Refused(err)) if !err.names_an_unpublished_key() => {
            return Err(GrantError::InvalidIdToken(err.into()));
        }
        Err(err) => {
            let claims = jws::unverified_claims(id_token.expose()).unwrap_or_default();
            if names_another(&claims) {
                return Err(GrantError::IdentityChanged);
            }
            tracing::warn!(
                provider = %provider.settings.id,
                "refreshed ID token not checked for now, the previous one kept: {}",
                cause_chain(&err)
            );
            return Ok(false);
        }
    };
    if names_another(&signed.claims) {
        return Err(GrantError::IdentityChanged);
    }
    id_token::check(discovered, &signed, expected).map_err(GrantError::InvalidIdToken)?;
    Ok(true)
}
