//! Signing in: `GET /auth/sign-in/{provider}` starts the authorization
//! request (RFC 6749 §4.1, PKCE per RFC 7636), and the provider's callback
//! has the code redeemed and the answer checked by the provider's
//! protocol ([`CodeFlow`](crate::providers::CodeFlow)), then signs the
//! identity's account in, or connects the identity to the signed-in
//! account.

use std::sync::Arc;

use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, header},
    response::Response,
};
use serde::Deserialize;
use time::OffsetDateTime;
use tower_sessions::Session;

use super::{Failure, FlowError, form_post, provider, redirect};
use crate::{
    backend::Core,
    clock,
    flow::{self, SignInInProgress, SignInParams, params::RawSignInParams, return_to},
    hooks::Attempt,
    providers::{
        Provider,
        protocol::{AuthTime, Callback, Redeemed, Started},
    },
    same_origin::is_same_origin,
    session,
    signed_in::Ending,
    users::{Identity, Link, SignIn, UserId},
    vault::TokenSet,
};

#[derive(Debug, Deserialize)]
pub struct ReturnToQuery {
    pub(super) return_to: Option<String>,
}

/// `GET /auth/sign-in/{provider}`'s query: where to go afterwards, and
/// the sign-in's own authentication request parameters.
#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
    #[serde(flatten)]
    params: RawSignInParams,
}

/// `GET /auth/sign-in/{provider}`: authorization code flow with PKCE S256,
/// fresh `state` (and `nonce` for OpenID Connect), kept server-side for
/// this browser, with the allow-listed `prompt`, `login_hint`, `max_age`,
/// `acr_values` and `ui_locales` the link carries (OIDC Core §3.1.2.1;
/// [`flow::params`]). A value that is not allowed ends on the error page
/// (`PC-WEB-400`).
pub async fn start_sign_in(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    Query(query): Query<SignInQuery>,
    session: Session,
) -> Result<Response, Failure> {
    let provider = provider(&core, &id)?;
    let params =
        SignInParams::parse(query.params).map_err(|err| FlowError::Parameter(err).at(&id))?;
    let return_to = return_to::or_home(query.return_to.as_deref());
    start(&core, provider, &session, return_to, None, params).await
}

/// Remembers a new sign-in in progress and sends the browser to the
/// provider. `link_to` is the signed-in account a new identity is for.
pub(super) async fn start(
    core: &Core,
    provider: &Provider,
    session: &Session,
    return_to: String,
    link_to: Option<UserId>,
    params: SignInParams,
) -> Result<Response, Failure> {
    let id = provider.settings.id.as_str();
    let authorization = provider
        .flow()
        .authorization_request(
            provider,
            &core.http,
            &provider.settings.redirect_uri(&core.public_url),
            &params,
        )
        .await
        .map_err(|err| FlowError::from(err).at(id))?;
    let now = OffsetDateTime::now_utc();
    let tx = SignInInProgress {
        provider: provider.settings.id.clone(),
        state: authorization.state,
        nonce: authorization.nonce,
        pkce_verifier: authorization.pkce_verifier,
        return_to,
        expires_at: now + core.sign_in_ttl,
        link_to: link_to.map(|user| user.0),
        params,
        started_at: now.unix_timestamp(),
        temporary: authorization.temporary,
    };
    flow::begin(session, &tx)
        .await
        .map_err(|err| FlowError::store(err).at(&provider.settings.id))?;
    // A session that only holds sign-ins in progress lives no longer than
    // they do: anonymous requests cannot fill the store for hours.
    if link_to.is_none() {
        let signed_in = session::user(session)
            .await
            .map_err(|err| FlowError::store(err).at(&provider.settings.id))?;
        if signed_in.is_none() {
            session::keep_alive(session, core.sign_in_ttl);
        }
    }
    Ok(redirect(authorization.url.as_str()))
}

/// The authorization response's fields (RFC 6749 §4.1.2, §4.1.2.1; RFC
/// 9207 `iss`), from the query or, with `form_post`, the body.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub(super) code: Option<String>,
    pub(super) state: Option<String>,
    pub(super) iss: Option<String>,
    pub(super) error: Option<String>,
    /// Sign in with Apple's `user` field (posted once, with the first
    /// sign-in): the user's name as JSON.
    pub(super) user: Option<String>,
    /// OAuth 1.0a's answer (RFC 5849 §2.2), and X's `denied` when the
    /// user said no.
    pub(super) oauth_token: Option<String>,
    pub(super) oauth_verifier: Option<String>,
    pub(super) denied: Option<String>,
    /// Set by Portcullis's own form_post page ([`form_post::RELAYED`]).
    #[serde(default, rename = "portcullis_relayed")]
    pub(super) relayed: Option<String>,
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
    finish(&core, &id, query, &headers, &session).await
}

/// `POST /auth/callback/{provider}`: the callback of a provider that
/// answers with `response_mode=form_post` (OAuth 2.0 Form Post Response
/// Mode): its page posts the answer here from its own site, so the
/// browser's `SameSite=Lax` session cookie, which binds the sign-in in
/// progress to this browser, does not come along. Such a cross-site post
/// is answered with a page that posts the same fields again from this
/// site, where the cookie comes along (by itself, or with a button without
/// JavaScript); only a same-origin post is read as the callback, checked
/// exactly as the `GET` one.
pub async fn callback_form(
    State(core): State<Arc<Core>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<CallbackQuery>,
) -> Result<Response, Failure> {
    provider(&core, &id)?;
    if !is_same_origin(&headers, &core.public_url) {
        // Once is enough: a post of our own page that still arrives
        // cross-site (a browser that hides its origin) is refused, not
        // relayed in a loop.
        if form.relayed.is_some() {
            return Err(FlowError::CrossSite.at(&id));
        }
        return Ok(form_post::relay(&id, &form));
    }
    finish(&core, &id, form, &headers, &session).await
}

/// The callback's checks and the sign-in (or connect) they lead to.
async fn finish(
    core: &Core,
    id: &str,
    query: CallbackQuery,
    headers: &HeaderMap,
    session: &Session,
) -> Result<Response, Failure> {
    let provider = provider(core, id)?;

    // The sign-in this `state` belongs to is taken out first: whatever
    // happens next, it cannot be used twice.
    let state = query.state.as_deref().unwrap_or_default();
    // Taking the sign-in saves the session: an anonymous one keeps the
    // sign-in timeout (signing in below gives it the idle timeout).
    let anonymous = session::user(session)
        .await
        .map_err(|err| FlowError::store(err).at(id))?
        .is_none();
    if anonymous {
        session::keep_alive(session, core.sign_in_ttl);
    }
    let tx = flow::take(session, state)
        .await
        .map_err(|err| FlowError::store(err).at(id))?
        .ok_or_else(|| FlowError::NoSignInInProgress.at(id))?;
    if tx.provider != id {
        return Err(FlowError::OtherProvider {
            started: tx.provider,
        }
        .at(id));
    }
    if tx.is_expired(OffsetDateTime::now_utc()) {
        return Err(FlowError::SignInExpired.at(id));
    }
    if let Some(error) = &query.error {
        // A silent sign-in the provider cannot complete without the user
        // goes on as an interactive one (OIDC Core §3.1.2.6).
        if tx.params.falls_back_on(error) {
            tracing::info!(provider = %id, "a silent sign-in needs the user: asking interactively");
            let params = tx.params.interactive();
            let link_to = tx.link_to.map(UserId);
            return start(core, provider, session, tx.return_to, link_to, params).await;
        }
        return Err(FlowError::ProviderAnswered(error.clone()).at(id));
    }

    let started = Started {
        nonce: &tx.nonce,
        pkce_verifier: &tx.pkce_verifier,
        params: &tx.params,
        started_at: tx.started_at,
        temporary: tx.temporary.as_ref(),
    };
    let callback = Callback {
        code: query.code,
        iss: query.iss,
        user: query.user,
        oauth_token: query.oauth_token,
        oauth_verifier: query.oauth_verifier,
        denied: query.denied,
    };
    let redeemed = provider
        .flow()
        .redeem(
            provider,
            &core.http,
            &provider.settings.redirect_uri(&core.public_url),
            started,
            callback,
        )
        .await
        .map_err(|err| FlowError::from(err).at(id))?;
    let mut redeemed = redeemed;
    redeemed.identity = with_name(core, redeemed.identity, redeemed.suggested_name.take())
        .await
        .map_err(|err| FlowError::store(err).at(id))?;
    match tx.link_to {
        Some(user) => connect(core, session, &tx, UserId(user), &redeemed.identity).await,
        None => sign_in(core, session, headers, &tx, redeemed).await,
    }
}

/// `identity` with a name: the provider's; else the one its account has
/// (Sign in with Apple names the user only once); else, for an account
/// made now, the name the browser brought (`suggested`), its e-mail, or
/// "Signed-in user".
async fn with_name(
    core: &Core,
    mut identity: Identity,
    suggested: Option<String>,
) -> Result<Identity, sqlx::Error> {
    if identity.name.is_empty() {
        identity.name = match core.users.name_of(&identity).await? {
            Some(name) => name,
            None => suggested
                .or_else(|| identity.email.clone())
                .unwrap_or_else(|| "Signed-in user".into()),
        };
    }
    Ok(identity)
}

/// Signs the identity's account in: tokens into the vault, a new session id.
async fn sign_in(
    core: &Core,
    session: &Session,
    headers: &HeaderMap,
    tx: &SignInInProgress,
    redeemed: Redeemed,
) -> Result<Response, Failure> {
    let Redeemed {
        identity,
        grant,
        provider_sid,
        auth_time,
        ..
    } = redeemed;
    let tokens = TokenSet {
        expires_at: core.access_token_expiry(grant.expires_in, grant.refresh_token.is_some()),
        api_tokens: Default::default(),
        access_token: grant.access_token,
        refresh_token: grant.refresh_token,
        id_token: grant.checked_id_token,
    };
    let id = tx.provider.as_str();
    core.hooks
        .allow(&identity, Attempt::SignIn)
        .await
        .map_err(|err| FlowError::Hook(err).at(id))?;
    let user_id = match core
        .users
        .sign_in(&identity)
        .await
        .map_err(|err| FlowError::store(err).at(id))?
    {
        SignIn::Account(user_id) => user_id,
        SignIn::EmailBelongsTo { provider } => {
            return Err(FlowError::EmailInUse { existing: provider }.at(id));
        }
    };
    core.hooks
        .before_session(user_id, &identity)
        .await
        .map_err(|err| FlowError::Hook(err).at(id))?;
    // Signing in again in a browser already signed in replaces that
    // sign-in: it ends here, and its grant at its provider, unless it was
    // the same account at the same provider (a step-up, say): a provider
    // keeps one grant per user and client, which the new tokens continue,
    // and revoking the old refresh token would end them too.
    let earlier = session::user(session)
        .await
        .map_err(|err| FlowError::store(err).at(id))?;
    if let Some(earlier) = earlier {
        let row = core
            .sessions
            .rows
            .get(&earlier.row)
            .await
            .map_err(|err| FlowError::store(err).at(id))?;
        let same_account = earlier.identity.issuer == identity.issuer
            && earlier.identity.subject == identity.subject;
        let ended = match row {
            Some(row) if same_account => core
                .sessions
                .end_sessions(Ending::One {
                    id: &row.id,
                    grant: Some(&row.grant_id),
                })
                .await
                .map(|_| ()),
            Some(row) => core.sessions.end_session_and_grant(&row).await,
            None => Ok(()),
        };
        ended.map_err(|err| FlowError::store(err).at(id))?;
    }
    let mut user = core
        .sessions
        .keep_sign_in(
            id,
            identity,
            user_id,
            provider_sid,
            user_agent(headers),
            &tokens,
        )
        .await
        .map_err(|err| FlowError::store(err).at(id))?;
    user.authenticated_at = authenticated_at(tx, auth_time, clock::now());
    session::sign_in(session, &user)
        .await
        .map_err(|err| FlowError::store(err).at(id))?;
    session::keep_alive(session, core.session_idle);
    tracing::info!(provider = %id, "user signed in");
    Ok(redirect(&tx.return_to))
}

/// When the user last authenticated at the provider as far as this
/// sign-in shows it, Unix seconds ([`crate::RecentSignIn`] reads it):
///
/// - the ID token's `auth_time`, never later than now; when the sign-in
///   asked for a `max_age` and the answer met it, no earlier than the
///   sign-in's start (the provider's clock may lag ours by the skew the
///   check allows, and a step-up must not send the user round again);
/// - an ID token without one: 0, unknown (a step-up asks);
/// - a plain OAuth 2.0 or OAuth 1.0a sign-in, which cannot say: its time.
fn authenticated_at(tx: &SignInInProgress, auth_time: AuthTime, now: i64) -> i64 {
    match auth_time {
        AuthTime::Said(at) if tx.params.max_age.is_some() => at.max(tx.started_at).min(now),
        AuthTime::Said(at) => at.min(now),
        AuthTime::NotSaid => 0,
        AuthTime::CannotSay => now,
    }
}

/// Connects the identity to the signed-in account that asked for it. The
/// new provider's tokens are not kept: connecting proves the identity,
/// signing in with it later keeps its tokens.
async fn connect(
    core: &Core,
    session: &Session,
    tx: &SignInInProgress,
    user: UserId,
    identity: &Identity,
) -> Result<Response, Failure> {
    let id = tx.provider.as_str();
    let current = core
        .sessions
        .signed_in(session)
        .await
        .map_err(|err| FlowError::store(err).at(id))?;
    if current.map(|u| u.user_id) != Some(user.0) {
        return Err(FlowError::SessionChanged.at(id));
    }
    core.hooks
        .allow(identity, Attempt::Connect { account_id: user.0 })
        .await
        .map_err(|err| FlowError::Hook(err).at(id))?;
    match core
        .users
        .link(user, identity)
        .await
        .map_err(|err| FlowError::store(err).at(id))?
    {
        Link::Linked | Link::AlreadyLinked => {
            tracing::info!(provider = %id, "provider connected to an account");
            Ok(redirect(&tx.return_to))
        }
        Link::BelongsToAnother => Err(FlowError::IdentityInUse.at(id)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn started(max_age: Option<u64>) -> SignInInProgress {
        SignInInProgress {
            provider: "p".into(),
            state: String::new(),
            nonce: String::new(),
            pkce_verifier: String::new(),
            return_to: "/".into(),
            expires_at: OffsetDateTime::now_utc(),
            link_to: None,
            params: SignInParams {
                max_age,
                ..SignInParams::default()
            },
            started_at: 1_000,
            temporary: None,
        }
    }

    #[test]
    fn the_authentication_time_is_the_providers_word_and_unknown_is_never_now() {
        let now = 2_000;
        let said = AuthTime::Said;
        // The provider's auth_time, never in the future.
        assert_eq!(authenticated_at(&started(None), said(900), now), 900);
        assert_eq!(authenticated_at(&started(None), said(2_500), now), now);
        // An ID token without one: unknown, so a step-up asks.
        assert_eq!(authenticated_at(&started(None), AuthTime::NotSaid, now), 0);
        // A max_age the answer met counts from the sign-in's start at the
        // earliest (a provider clock behind ours must not loop a step-up).
        assert_eq!(authenticated_at(&started(Some(60)), said(900), now), 1_000);
        assert_eq!(
            authenticated_at(&started(Some(60)), said(1_500), now),
            1_500
        );
        // A protocol that cannot say: the sign-in's own time.
        assert_eq!(
            authenticated_at(&started(None), AuthTime::CannotSay, now),
            now
        );
    }
}
