//! Fresh access tokens. Whenever the server needs a session's access
//! token, one that expires within the skew is refreshed first, and never
//! twice at once: requests for the same grant queue behind one refresh, in
//! this process (a mutex per grant) and across instances (a lock row in
//! the shared database). The one that refreshes re-reads the tokens after
//! taking the lock, so those that waited use the new tokens instead of
//! refreshing again with a rotated-away refresh token. The rotated refresh
//! token is stored in the same atomic write as the new access token.
//!
//! The lock's lease (`REFRESH_LOCK_SECONDS`, 30 s) is renewed while the
//! refresh runs, however long the provider takes, so no other instance
//! takes over and presents the same refresh token; one that crashed frees
//! it within the lease. A refresh runs in a task of its own: started for a
//! request that goes away (the browser closed the tab), it still finishes
//! and its rotated tokens are stored.
//!
//! An upstream API that names a resource or scopes gets an access token of
//! its own, from a refresh grant that names them (RFC 8707 §2.2), the
//! first time it is called and whenever that token expires. It is kept in
//! the vault beside the session's tokens and refreshed under the same
//! lock: the refresh token that grant rotates is the session's.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex as StdMutex, PoisonError, Weak},
    time::Duration,
};

use tokio::sync::Mutex;

use crate::{
    clock,
    config::Settings,
    error::ErrorCode,
    http_client::ProviderHttp,
    providers::{Audience, Registry, oauth2::ApiError, protocol::GrantError},
    secret::Secret,
    session::SessionUser,
    signed_in::{Ending, SessionError, SignedInSessions},
    store::Store,
    store::StoreFailure,
    telemetry::cause_chain,
    vault::{ApiToken, TokenSet, store::StoreError},
};

/// How long a request waits for another's refresh before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(20);
const LOCK_POLL: Duration = Duration::from_millis(25);

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The session's tokens are gone (signed out meanwhile).
    #[error("the session has no tokens")]
    Gone,
    /// The session's tokens were sealed with a key this server lacks.
    #[error("the session's tokens cannot be opened with the configured keys")]
    Unreadable(#[source] crate::vault::VaultError),
    /// The grant cannot be refreshed here: no refresh token to renew an
    /// expired access token with, or its provider is no longer configured.
    #[error("the grant cannot be refreshed: {0}")]
    NotRefreshable(&'static str),
    /// The refresh grant failed at the provider.
    #[error(transparent)]
    Grant(#[from] GrantError),
    /// The provider would not issue a token for an API's resource or
    /// scopes (`invalid_target`, RFC 8707 §2; `invalid_scope`, RFC 6749
    /// §5.2), or issued one lacking scopes the API needs.
    #[error("the provider did not grant the API's resource or scopes: {0}")]
    NotGranted(String),
    #[error("the token vault failed")]
    Vault(#[from] StoreError),
    #[error("the refresh lock failed")]
    Lock(#[from] StoreFailure),
    #[error("another refresh of this grant did not finish in time")]
    Busy,
    /// The task that refreshed panicked or was cancelled.
    #[error("the refresh task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl RefreshError {
    /// Whether the session cannot go on and has been ended.
    pub fn ends_session(&self) -> bool {
        match self {
            Self::Grant(err) => err.ends_grant(),
            Self::NotRefreshable(_) | Self::Gone | Self::Unreadable(_) => true,
            Self::NotGranted(_) | Self::Vault(_) | Self::Lock(_) | Self::Busy | Self::Task(_) => {
                false
            }
        }
    }

    /// Whether the provider's answer failed a check (rather than the
    /// provider being unreachable or the grant ending).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Grant(err) if err.is_refusal())
    }

    /// What the user is told about this failure.
    pub fn code(&self) -> ErrorCode {
        if self.is_refusal() {
            ErrorCode::InvalidProviderResponse
        } else if let Self::NotGranted(_) = self {
            ErrorCode::ApiNotGranted
        } else if self.ends_session() {
            ErrorCode::SessionEnded
        } else if let Self::Grant(GrantError::Refused(_)) = self {
            ErrorCode::ProviderRejected
        } else if let Self::Vault(_) | Self::Lock(_) | Self::Task(_) = self {
            // Our own server, not the provider, failed.
            ErrorCode::Unavailable
        } else {
            ErrorCode::ProviderUnavailable
        }
    }
}

/// Why a refresh is wanted; checked again under the lock, where another
/// request's refresh may have made it moot.
#[derive(Debug)]
enum Need {
    /// The access token expires within the skew (or, for an API's, there
    /// is none yet).
    Expiring,
    /// The provider, or an upstream API, refused this access token.
    Rejected(Secret),
}

/// How long a provider's refusal to issue an API's token is believed
/// before it is asked again.
const DENIAL_KEPT: Duration = Duration::from_secs(60);

/// The provider's recent refusals to issue an API's token, by grant and
/// audience, in this process.
#[derive(Debug, Default)]
struct Denials(StdMutex<HashMap<(String, String), std::time::Instant>>);

impl Denials {
    fn recent(&self, grant: &str, audience: &Audience) -> bool {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = std::time::Instant::now();
        map.retain(|_, at| now.duration_since(*at) < DENIAL_KEPT);
        map.contains_key(&(grant.to_owned(), audience.key()))
    }

    fn remember(&self, grant: &str, audience: &Audience) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (grant.to_owned(), audience.key());
        map.insert(key, std::time::Instant::now());
    }
}

/// Per-grant mutexes of this process.
#[derive(Debug, Default)]
pub struct LocalLocks(StdMutex<HashMap<String, Weak<Mutex<()>>>>);

impl LocalLocks {
    fn for_grant(&self, grant: &str) -> Arc<Mutex<()>> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.retain(|_, lock| lock.strong_count() > 0);
        if let Some(lock) = map.get(grant).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(Mutex::new(()));
        map.insert(grant.to_owned(), Arc::downgrade(&lock));
        lock
    }
}

/// Fresh access tokens for signed-in sessions (see the module's docs); a
/// cheap handle.
#[derive(Clone, Debug)]
pub struct Refresher(Arc<State>);

#[derive(Debug)]
struct State {
    registry: Arc<Registry>,
    http: ProviderHttp,
    /// Where the refresh locks are.
    store: Store,
    sessions: SignedInSessions,
    locks: LocalLocks,
    denials: Denials,
    /// Access tokens expiring within this are refreshed before use.
    skew: Duration,
    /// How long a refresh lock is held before it must be renewed.
    lease: Duration,
    /// Sessions unused this long get no refresh ahead of time.
    idle: Duration,
    /// Taken as the lifetime of a renewable access token whose token
    /// response did not state one.
    default_lifetime: Duration,
}

impl Refresher {
    pub fn new(
        settings: &Settings,
        registry: Arc<Registry>,
        http: ProviderHttp,
        store: Store,
        sessions: SignedInSessions,
    ) -> Self {
        Self(Arc::new(State {
            registry,
            http,
            store,
            sessions,
            locks: LocalLocks::default(),
            denials: Denials::default(),
            skew: settings.refresh_skew,
            lease: settings.refresh_lock_lease,
            idle: settings.session_idle,
            default_lifetime: settings.access_token_default_lifetime,
        }))
    }

    /// The session's tokens with an access token good for at least the
    /// skew, refreshing first if needed. A grant the provider ended ends
    /// the session here too.
    pub async fn fresh_tokens(&self, user: &SessionUser) -> Result<TokenSet, RefreshError> {
        self.0.fresh_tokens(user, None).await
    }

    /// After the provider refused the access token `rejected` (HTTP 401)
    /// though its stated lifetime had not run out: the session's tokens
    /// refreshed once, or as another request already refreshed them.
    pub async fn tokens_after_rejection(
        &self,
        user: &SessionUser,
        rejected: &Secret,
    ) -> Result<TokenSet, RefreshError> {
        let need = Need::Rejected(rejected.clone());
        self.0.refresh(user, None, need).await
    }

    /// An access token good for at least the skew, and whether it can be
    /// renewed (the session has a refresh token). With no `audience`, the
    /// session's own, as [`Self::fresh_tokens`]. With one (an upstream
    /// API's resource and scopes), the API's own: the one kept, or a new
    /// one from a refresh grant naming them (RFC 8707 §2.2).
    ///
    /// Errors: a grant the provider ended (`invalid_grant`) ends the
    /// session, as any refresh does. A provider that will not issue the
    /// audience's token (`invalid_target`, `invalid_scope`, fewer scopes
    /// granted, or no refresh token to ask with) is
    /// [`RefreshError::NotGranted`], remembered for a minute per session
    /// and audience so a page that polls does not make the provider
    /// refuse on every call; the session goes on.
    pub async fn access_token(
        &self,
        user: &SessionUser,
        audience: Option<&Audience>,
    ) -> Result<(Secret, bool), RefreshError> {
        let tokens = self.0.fresh_tokens(user, audience).await?;
        let renewable = tokens.refresh_token.is_some();
        Ok((issued(&tokens, audience)?, renewable))
    }

    /// After an upstream refused `rejected` (HTTP 401) though its lifetime
    /// had not run out: the access token for `audience` (the session's own
    /// when `None`) renewed once, or as another request already renewed it.
    /// Errors as [`Self::access_token`].
    pub async fn access_token_after_rejection(
        &self,
        user: &SessionUser,
        audience: Option<&Audience>,
        rejected: &Secret,
    ) -> Result<Secret, RefreshError> {
        let need = Need::Rejected(rejected.clone());
        let fresh = self.0.refresh(user, audience.cloned(), need).await?;
        issued(&fresh, audience)
    }

    /// Refreshes the tokens of sessions in use that expire soon; how many.
    pub async fn refresh_ahead(&self) -> Result<usize, SessionError> {
        self.0.refresh_ahead().await
    }

    /// When an access token granted now expires (unix time): `expires_in`
    /// seconds from now, or when the provider did not say and a refresh
    /// token can renew it, the configured default lifetime. A token that
    /// cannot be renewed and states no lifetime is used until the provider
    /// refuses it.
    pub fn access_token_expiry(&self, expires_in: Option<u64>, renewable: bool) -> Option<i64> {
        self.0.access_token_expiry(expires_in, renewable)
    }
}

/// The access token `tokens` hold for `audience` (the session's own when
/// none) and when it expires.
fn token_for<'a>(
    tokens: &'a TokenSet,
    audience: Option<&Audience>,
) -> Option<(&'a Secret, Option<i64>)> {
    match audience {
        None => Some((&tokens.access_token, tokens.expires_at)),
        Some(audience) => tokens
            .api_tokens
            .get(&audience.key())
            .map(|token| (&token.access_token, token.expires_at)),
    }
}

/// The token for `audience` a refresh left in `tokens` (always there
/// when it succeeded).
fn issued(tokens: &TokenSet, audience: Option<&Audience>) -> Result<Secret, RefreshError> {
    token_for(tokens, audience)
        .map(|(token, _)| token.clone())
        .ok_or_else(|| RefreshError::NotGranted("no token was issued for the API".into()))
}

impl State {
    fn access_token_expiry(&self, expires_in: Option<u64>, renewable: bool) -> Option<i64> {
        let default = renewable.then_some(self.default_lifetime.as_secs());
        TokenSet::expiry_in(expires_in.or(default))
    }

    fn is_expiring(&self, expires_at: Option<i64>, now: i64) -> bool {
        let skew = i64::try_from(self.skew.as_secs()).unwrap_or(60);
        expires_at.is_some_and(|at| at - now <= skew)
    }

    /// The session's tokens with a fresh access token for `audience` (the
    /// session's own when none), refreshing first if needed.
    async fn fresh_tokens(
        self: &Arc<Self>,
        user: &SessionUser,
        audience: Option<&Audience>,
    ) -> Result<TokenSet, RefreshError> {
        let tokens = match self.stored_tokens(user).await {
            Ok(tokens) => tokens,
            Err(err) => {
                let failed = Err(err);
                self.end_session_if_over(user, &failed).await;
                return failed;
            }
        };
        let now = clock::now();
        if token_for(&tokens, audience).is_some_and(|(_, at)| !self.is_expiring(at, now)) {
            return Ok(tokens);
        }
        self.refresh(user, audience.cloned(), Need::Expiring).await
    }

    /// The session's tokens as the vault holds them. Tokens sealed with a
    /// key this server does not have (a restart or another instance
    /// without the same `TOKEN_ENCRYPTION_KEYS`) can never be used again:
    /// [`RefreshError::Unreadable`], which ends the session.
    async fn stored_tokens(&self, user: &SessionUser) -> Result<TokenSet, RefreshError> {
        match self
            .sessions
            .vault
            .get(&user.grant, &user.identity.provider)
            .await
        {
            Ok(Some(tokens)) => Ok(tokens),
            Ok(None) => Err(RefreshError::Gone),
            Err(StoreError::Vault(err)) => Err(RefreshError::Unreadable(err)),
            Err(err) => Err(err.into()),
        }
    }

    /// Refreshes single-flight if `need` still holds once the lock is
    /// held, in a task of its own that finishes even if the caller goes
    /// away; a failure that ends the grant ends the session.
    async fn refresh(
        self: &Arc<Self>,
        user: &SessionUser,
        audience: Option<Audience>,
        need: Need,
    ) -> Result<TokenSet, RefreshError> {
        let state = Arc::clone(self);
        let user = user.clone();
        let task = tokio::spawn(async move {
            let result = state
                .refresh_single_flight(&user, audience.as_ref(), &need)
                .await;
            state.end_session_if_over(&user, &result).await;
            result
        });
        task.await
            .unwrap_or_else(|err| Err(RefreshError::Task(err)))
    }

    async fn end_session_if_over(
        &self,
        user: &SessionUser,
        result: &Result<TokenSet, RefreshError>,
    ) {
        if let Err(err) = result
            && err.ends_session()
        {
            let provider = &user.identity.provider;
            tracing::info!(%provider, "session ended: {}", cause_chain(err));
            let session = Ending::One {
                id: &user.row,
                grant: Some(&user.grant),
            };
            if let Err(end) = self.sessions.end_sessions(session).await {
                tracing::error!("ending the session failed: {}", cause_chain(&end));
            }
        }
    }

    async fn refresh_single_flight(
        &self,
        user: &SessionUser,
        audience: Option<&Audience>,
        need: &Need,
    ) -> Result<TokenSet, RefreshError> {
        let local = self.locks.for_grant(&user.grant);
        let _in_process = local.lock().await;
        let holder = crate::vault::new_grant_id();
        let lease = i64::try_from(self.lease.as_secs()).unwrap_or(30);
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        while !self
            .store
            .try_lock(&user.grant, &holder, clock::now(), lease)
            .await?
        {
            if tokio::time::Instant::now() > deadline {
                return Err(RefreshError::Busy);
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
        // The lease is renewed a third of the way through, again and again,
        // for as long as the refresh takes.
        let renew = async {
            loop {
                tokio::time::sleep(self.lease / 3).await;
                match self
                    .store
                    .renew_lock(&user.grant, &holder, clock::now(), lease)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!("refresh lock lost while refreshing"),
                    Err(err) => {
                        tracing::warn!("refresh lock not renewed: {}", cause_chain(&err))
                    }
                }
            }
        };
        let result = tokio::select! {
            result = self.refresh_locked(user, audience, need) => result,
            never = renew => never,
        };
        if let Err(err) = self.store.unlock(&user.grant, &holder).await {
            tracing::warn!(
                "refresh lock not released (it expires): {}",
                cause_chain(&err)
            );
        }
        result
    }

    /// Under the lock: re-read, and refresh only if still needed.
    async fn refresh_locked(
        &self,
        user: &SessionUser,
        audience: Option<&Audience>,
        need: &Need,
    ) -> Result<TokenSet, RefreshError> {
        let current = self.stored_tokens(user).await?;
        let held = token_for(&current, audience);
        let needed = match need {
            Need::Expiring => {
                held.is_none_or(|(_, expires_at)| self.is_expiring(expires_at, clock::now()))
            }
            Need::Rejected(rejected) => {
                held.is_some_and(|(token, _)| token.expose() == rejected.expose())
            }
        };
        if !needed {
            return Ok(current);
        }
        let Some(audience) = audience else {
            return self.renew(user, None, current).await;
        };
        if self.denials.recent(&user.grant, audience) {
            return Err(RefreshError::NotGranted(
                "the provider refused it less than a minute ago".into(),
            ));
        }
        let result = self.renew(user, Some(audience), current).await;
        if let Err(RefreshError::NotGranted(_)) = &result {
            self.denials.remember(&user.grant, audience);
        }
        result
    }

    /// A refresh grant for `audience` (the session's own token when
    /// `None`), its answer written back to the vault with the rotated
    /// refresh token.
    async fn renew(
        &self,
        user: &SessionUser,
        audience: Option<&Audience>,
        current: TokenSet,
    ) -> Result<TokenSet, RefreshError> {
        let provider_id = &user.identity.provider;
        let provider = self
            .registry
            .get(provider_id)
            .ok_or(RefreshError::NotRefreshable(
                "its provider is no longer configured",
            ))?;
        let refresh_token = match (&current.refresh_token, audience) {
            (Some(token), _) => token.clone(),
            (None, None) => return Err(RefreshError::NotRefreshable("no refresh token")),
            // The session's own token still works: only this API is out.
            (None, Some(_)) => {
                let why = "the session has no refresh token to ask for it with";
                return Err(RefreshError::NotGranted(why.into()));
            }
        };
        let grant = provider
            .flow()
            .refresh(
                provider,
                &self.http,
                &user.identity,
                &refresh_token,
                audience,
            )
            .await
            .map_err(|err| not_granted(err, audience))?;
        let expires_at = self.access_token_expiry(grant.expires_in, true);
        let mut fresh = TokenSet {
            refresh_token: grant.refresh_token.or(Some(refresh_token)),
            id_token: grant.checked_id_token.or(current.id_token),
            ..current
        };
        // An API's token lacking scopes it needs is not kept; the rotated
        // refresh token that came with it is.
        let missing = match audience {
            None => {
                fresh.access_token = grant.access_token;
                fresh.expires_at = expires_at;
                Vec::new()
            }
            Some(audience) => {
                let missing = audience.missing_scopes(grant.scope.as_deref());
                if missing.is_empty() {
                    let token = ApiToken {
                        access_token: grant.access_token,
                        expires_at,
                    };
                    fresh.api_tokens.insert(audience.key(), token);
                }
                missing
            }
        };
        // Written back only if the session still has tokens: one ended
        // while the provider answered must not get them back, and the
        // grant the refresh renewed is revoked.
        if !self
            .sessions
            .vault
            .replace(&user.grant, provider_id, &fresh)
            .await?
        {
            tracing::info!(
                provider = %provider_id,
                "tokens refreshed for a session that ended meanwhile: revoking them"
            );
            self.sessions.revoke_in_background(provider_id, &fresh);
            return Err(RefreshError::Gone);
        }
        if !missing.is_empty() {
            return Err(RefreshError::NotGranted(format!(
                "the token lacks the scopes {}",
                missing.join(" ")
            )));
        }
        match audience {
            None => tracing::info!(provider = %provider_id, "tokens refreshed"),
            Some(audience) => tracing::info!(
                provider = %provider_id,
                resource = audience.resource.as_deref().unwrap_or_default(),
                scopes = %audience.scopes.join(" "),
                "API token issued"
            ),
        }
        Ok(fresh)
    }

    /// Refreshes, ahead of time, the tokens of sessions in use whose access
    /// token expires within twice the skew, so a request rarely waits on
    /// the provider. Single-flight like any other refresh.
    async fn refresh_ahead(self: &Arc<Self>) -> Result<usize, SessionError> {
        let now = clock::now();
        let skew = i64::try_from(self.skew.as_secs()).unwrap_or(60);
        let idle = i64::try_from(self.idle.as_secs()).unwrap_or(i64::MAX);
        let due = self
            .sessions
            .rows
            .due_for_refresh(now + 2 * skew, now - idle)
            .await?;
        let mut refreshed = 0;
        for (row, identity) in due {
            let user = SessionUser {
                identity,
                user_id: row.user_id,
                grant: row.grant_id,
                row: row.id,
                // Only its tokens are refreshed; no check reads it.
                authenticated_at: 0,
            };
            match self.fresh_tokens(&user, None).await {
                Ok(_) => refreshed += 1,
                Err(err) => tracing::warn!(
                    provider = %user.identity.provider,
                    "refresh ahead of time failed: {}",
                    cause_chain(&err)
                ),
            }
        }
        Ok(refreshed)
    }
}

/// A refusal of a refresh grant for an API's `audience` that says the
/// provider will not issue such a token: the session goes on without it.
/// (Some providers say `invalid_grant` for consent never given, Entra's
/// AADSTS65001 among them; that still ends the session, as the refresh
/// token cannot be told apart from one that is dead.)
fn not_granted(err: GrantError, audience: Option<&Audience>) -> RefreshError {
    match err {
        GrantError::Refused(ApiError::Refused { error, description })
            if audience.is_some()
                && matches!(error.as_str(), "invalid_target" | "invalid_scope") =>
        {
            let description = description.unwrap_or_default();
            RefreshError::NotGranted(format!("{error} {description}"))
        }
        other => other.into(),
    }
}

impl From<RefreshError> for SessionError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Vault(err) => Self::Vault(err),
            RefreshError::Lock(err) => Self::Logins(err),
            other => Self::Refresh(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;
    use crate::providers::{DiscoveryError, IdTokenError, oauth2::ApiError};

    fn refused(error: &str) -> ApiError {
        ApiError::Refused {
            error: error.into(),
            description: None,
        }
    }

    /// Each way a refresh fails: what the user is told, whether the
    /// session ends, and whether it counts as a refused answer.
    #[tokio::test]
    async fn each_refresh_failure_tells_one_code_and_ends_the_session_only_when_it_must() {
        let panicked = tokio::spawn(async { panic!("refresh task") })
            .await
            .unwrap_err();
        let cases: Vec<(RefreshError, ErrorCode, bool, bool)> = vec![
            (
                GrantError::from(refused("invalid_grant")).into(),
                ErrorCode::SessionEnded,
                true,
                false,
            ),
            (
                GrantError::from(refused("invalid_client")).into(),
                ErrorCode::ProviderRejected,
                false,
                false,
            ),
            (
                GrantError::from(ApiError::Status {
                    status: StatusCode::BAD_GATEWAY,
                    message: String::new(),
                })
                .into(),
                ErrorCode::ProviderUnavailable,
                false,
                false,
            ),
            (
                GrantError::from(ApiError::Invalid("no access_token")).into(),
                ErrorCode::InvalidProviderResponse,
                false,
                true,
            ),
            (
                GrantError::from(DiscoveryError::BackingOff {
                    issuer: "https://idp.test".into(),
                    retry_in: Duration::from_secs(1),
                    temporary: true,
                })
                .into(),
                ErrorCode::ProviderUnavailable,
                false,
                false,
            ),
            (
                GrantError::IdentityChanged.into(),
                ErrorCode::SessionEnded,
                true,
                false,
            ),
            (
                GrantError::InvalidIdToken(IdTokenError::Issuer).into(),
                ErrorCode::InvalidProviderResponse,
                true,
                true,
            ),
            (
                RefreshError::NotRefreshable("no refresh token"),
                ErrorCode::SessionEnded,
                true,
                false,
            ),
            (RefreshError::Gone, ErrorCode::SessionEnded, true, false),
            (
                RefreshError::NotGranted("invalid_target".into()),
                ErrorCode::ApiNotGranted,
                false,
                false,
            ),
            (
                RefreshError::Busy,
                ErrorCode::ProviderUnavailable,
                false,
                false,
            ),
            (
                RefreshError::Task(panicked),
                ErrorCode::Unavailable,
                false,
                false,
            ),
        ];
        for (err, code, ends, refusal) in cases {
            let shown = cause_chain(&err);
            assert_eq!(err.code(), code, "{shown}");
            assert_eq!(err.ends_session(), ends, "{shown}");
            assert_eq!(err.is_refusal(), refusal, "{shown}");
        }
    }

    /// A refusal to issue an API's token leaves the session alone; the
    /// same refusal of the session's own refresh, or an ended grant, does
    /// not.
    #[test]
    fn only_a_refusal_of_an_apis_resource_or_scopes_is_not_granted() {
        let audience = Audience {
            resource: Some("urn:api".into()),
            scopes: vec!["read".into()],
        };
        for (error, for_api, not_granted_here) in [
            ("invalid_target", true, true),
            ("invalid_scope", true, true),
            ("invalid_grant", true, false),
            ("invalid_client", true, false),
            ("invalid_target", false, false),
            ("invalid_scope", false, false),
        ] {
            let err = not_granted(
                GrantError::from(refused(error)),
                for_api.then_some(&audience),
            );
            let shown = cause_chain(&err);
            assert_eq!(
                matches!(err, RefreshError::NotGranted(_)),
                not_granted_here,
                "{error} for the API: {for_api}: {shown}"
            );
        }
    }
}
