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

use std::{
    collections::HashMap,
    sync::{Arc, Mutex as StdMutex, Weak},
    time::Duration,
};

use tokio::sync::Mutex;

use crate::{
    clock,
    config::Settings,
    error::ErrorCode,
    http_client::ProviderHttp,
    providers::{Registry, protocol::GrantError},
    secret::Secret,
    session::SessionUser,
    signed_in::{Ending, SessionError, SignedInSessions},
    store::Store,
    store::StoreFailure,
    telemetry::cause_chain,
    vault::{TokenSet, store::StoreError},
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
            Self::Vault(_) | Self::Lock(_) | Self::Busy | Self::Task(_) => false,
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
    /// The access token expires within the skew.
    Expiring,
    /// The provider refused this access token.
    Rejected(Secret),
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
        self.0.fresh_tokens(user).await
    }

    /// After the provider refused the access token `rejected` (HTTP 401)
    /// though its stated lifetime had not run out: the session's tokens
    /// refreshed once, or as another request already refreshed them.
    pub async fn tokens_after_rejection(
        &self,
        user: &SessionUser,
        rejected: &Secret,
    ) -> Result<TokenSet, RefreshError> {
        self.0.refresh(user, Need::Rejected(rejected.clone())).await
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

impl State {
    fn access_token_expiry(&self, expires_in: Option<u64>, renewable: bool) -> Option<i64> {
        let default = renewable.then_some(self.default_lifetime.as_secs());
        TokenSet::expiry_in(expires_in.or(default))
    }

    fn is_expiring(&self, tokens: &TokenSet, now: i64) -> bool {
        let skew = i64::try_from(self.skew.as_secs()).unwrap_or(60);
        tokens.expires_at.is_some_and(|at| at - now <= skew)
    }

    async fn fresh_tokens(self: &Arc<Self>, user: &SessionUser) -> Result<TokenSet, RefreshError> {
        let tokens = match self.stored_tokens(user).await {
            Ok(tokens) => tokens,
            Err(err) => {
                let failed = Err(err);
                self.end_session_if_over(user, &failed).await;
                return failed;
            }
        };
        if !self.is_expiring(&tokens, clock::now()) {
            return Ok(tokens);
        }
        self.refresh(user, Need::Expiring).await
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
        need: Need,
    ) -> Result<TokenSet, RefreshError> {
        let state = Arc::clone(self);
        let user = user.clone();
        let task = tokio::spawn(async move {
            let result = state.refresh_single_flight(&user, &need).await;
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
            result = self.refresh_locked(user, need) => result,
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
        need: &Need,
    ) -> Result<TokenSet, RefreshError> {
        let provider_id = &user.identity.provider;
        let current = self.stored_tokens(user).await?;
        let needed = match need {
            Need::Expiring => self.is_expiring(&current, clock::now()),
            Need::Rejected(rejected) => current.access_token.expose() == rejected.expose(),
        };
        if !needed {
            return Ok(current);
        }
        let provider = self
            .registry
            .get(provider_id)
            .ok_or(RefreshError::NotRefreshable(
                "its provider is no longer configured",
            ))?;
        let refresh_token = current
            .refresh_token
            .clone()
            .ok_or(RefreshError::NotRefreshable("no refresh token"))?;
        let grant = provider
            .flow()
            .refresh(provider, &self.http, &user.identity, &refresh_token)
            .await?;
        let fresh = TokenSet {
            expires_at: self.access_token_expiry(grant.expires_in, true),
            access_token: grant.access_token,
            refresh_token: grant.refresh_token.or(Some(refresh_token)),
            id_token: grant.checked_id_token.or(current.id_token),
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
        tracing::info!(provider = %provider_id, "tokens refreshed");
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
            };
            match self.fresh_tokens(&user).await {
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
}
