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

use serde_json::Value;
use tokio::sync::Mutex;

use crate::{
    clock,
    config::Settings,
    error::ErrorCode,
    http_client::ProviderHttp,
    providers::Registry,
    providers::{
        Discovered, IdTokenError, Provider, SignedError,
        claims::Object,
        id_token::{self, Expected},
        jws, oauth2,
    },
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
    /// The provider no longer honours the grant (`invalid_grant`, or no
    /// refresh token to renew an expired access token with).
    #[error("the provider ended the grant: {0}")]
    Ended(String),
    /// A refreshed ID token names another issuer or subject (SECURITY.md B8).
    #[error("the refreshed ID token names another user")]
    IdentityChanged,
    /// A refreshed ID token fails a check: the answer cannot be trusted,
    /// and the refresh token it replaced may be spent.
    #[error("the refreshed ID token was refused")]
    InvalidIdToken(#[source] IdTokenError),
    /// The provider's answer fails a check (not JSON, no access token,
    /// discovery naming another issuer): it misbehaves or is misconfigured.
    #[error("the provider's answer to the refresh was refused")]
    Invalid(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The provider is down, slow or limiting us: try again later.
    #[error("the provider could not refresh the tokens")]
    Provider(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The provider refused the refresh for another reason than an ended
    /// grant (`invalid_client`, `invalid_scope`, …): a misconfiguration.
    #[error("the provider refused the refresh")]
    Refused(#[source] oauth2::ApiError),
    #[error("the token vault failed")]
    Vault(#[from] StoreError),
    #[error("the refresh lock failed")]
    Lock(#[from] StoreFailure),
    #[error("another refresh of this grant did not finish in time")]
    Busy,
}

impl RefreshError {
    /// Whether the session cannot go on and has been ended.
    pub fn ends_session(&self) -> bool {
        matches!(
            self,
            Self::Ended(_)
                | Self::IdentityChanged
                | Self::InvalidIdToken(_)
                | Self::Gone
                | Self::Unreadable(_)
        )
    }

    /// Whether the provider's answer failed a check (rather than the
    /// provider being unreachable or the grant ending).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::InvalidIdToken(_) | Self::Invalid(_))
    }

    /// What the user is told about this failure.
    pub fn code(&self) -> ErrorCode {
        if self.is_refusal() {
            ErrorCode::InvalidProviderResponse
        } else if self.ends_session() {
            ErrorCode::SessionEnded
        } else if let Self::Refused(_) = self {
            ErrorCode::ProviderRejected
        } else if let Self::Vault(_) | Self::Lock(_) = self {
            // Our own store, not the provider, failed.
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
            .unwrap_or_else(|err| Err(RefreshError::Provider(Box::new(err))))
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
            .ok_or_else(|| RefreshError::Ended(format!("provider {provider_id:?} is gone")))?;
        let refresh_token = current
            .refresh_token
            .clone()
            .ok_or_else(|| RefreshError::Ended("no refresh token".into()))?;
        let fresh = if provider.settings.protocol.is_oidc() {
            self.refresh_oidc(provider, user, &current, &refresh_token)
                .await?
        } else {
            self.refresh_plain(provider, &current, &refresh_token)
                .await?
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

    /// RFC 6749 §6 at an OpenID Connect provider. A refreshed ID token is
    /// checked like one at sign-in (OIDC Core §12.2) and must name the same
    /// user (SECURITY.md B8); without one, the previous one is kept, and so
    /// is the refresh token when no new one comes.
    async fn refresh_oidc(
        &self,
        provider: &Provider,
        user: &SessionUser,
        current: &TokenSet,
        refresh_token: &Secret,
    ) -> Result<TokenSet, RefreshError> {
        let discovered = provider.discovered(&self.http).await.map_err(|err| {
            if err.is_temporary() {
                RefreshError::Provider(Box::new(err))
            } else {
                RefreshError::Invalid(Box::new(err))
            }
        })?;
        let token_url = discovered
            .token_url()
            .ok_or_else(|| RefreshError::Invalid("discovery names no token endpoint".into()))?;
        let params = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        let auth = discovered.client_auth();
        let grant = oauth2::token_request(&self.http, token_url, &provider.settings, auth, &params)
            .await
            .map_err(refresh_error)?;
        let id_token = match grant.id_token {
            Some(id_token) => {
                let expected = Expected {
                    client_id: &provider.settings.client_id,
                    nonce: None,
                    access_token: grant.access_token.expose(),
                    now: clock::now(),
                };
                self.check_refreshed_id_token(provider, &discovered, user, &id_token, expected)
                    .await?
                    .then_some(id_token)
                    .or_else(|| current.id_token.clone())
            }
            None => current.id_token.clone(),
        };
        let refresh_token = grant.refresh_token.unwrap_or_else(|| refresh_token.clone());
        Ok(TokenSet {
            expires_at: self.access_token_expiry(grant.expires_in, true),
            access_token: grant.access_token,
            refresh_token: Some(refresh_token),
            id_token,
        })
    }

    /// OIDC Core §12.2 for a refreshed ID token: `Ok(true)` when it passes
    /// every check of one at sign-in and names the session's user,
    /// `Ok(false)` when its signature cannot be checked (the keys cannot
    /// be had, or it names a key the provider has not published yet)
    /// though it names the session's user: the new tokens came from
    /// the token endpoint itself and are kept, with the ID token checked
    /// before. Another `iss` or `sub` is [`RefreshError::IdentityChanged`];
    /// any other failed check, [`RefreshError::InvalidIdToken`].
    async fn check_refreshed_id_token(
        &self,
        provider: &Provider,
        discovered: &Discovered,
        user: &SessionUser,
        id_token: &Secret,
        expected: Expected<'_>,
    ) -> Result<bool, RefreshError> {
        // Another user, told apart from a token that fails a check: its
        // iss or sub is a string, and not the session's.
        let names_another = |claims: &Object| {
            let named = |name| claims.get(name).and_then(Value::as_str);
            named("iss").is_some_and(|iss| iss != user.identity.issuer)
                || named("sub").is_some_and(|sub| sub != user.identity.subject)
        };
        let allowed = discovered.id_token_algs();
        let verified = provider
            .verify_signed(&self.http, discovered, &allowed, id_token.expose())
            .await;
        let signed = match verified {
            Ok(signed) => signed,
            Err(SignedError::Refused(err)) if !err.names_an_unpublished_key() => {
                return Err(RefreshError::InvalidIdToken(err.into()));
            }
            Err(err) => {
                let claims = jws::unverified_claims(id_token.expose()).unwrap_or_default();
                if names_another(&claims) {
                    return Err(RefreshError::IdentityChanged);
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
            return Err(RefreshError::IdentityChanged);
        }
        id_token::check(discovered, &signed, expected).map_err(RefreshError::InvalidIdToken)?;
        Ok(true)
    }

    async fn refresh_plain(
        &self,
        provider: &Provider,
        current: &TokenSet,
        refresh_token: &Secret,
    ) -> Result<TokenSet, RefreshError> {
        let endpoints = provider
            .endpoints()
            .ok_or_else(|| RefreshError::Ended("no token endpoint".into()))?;
        let grant = oauth2::refresh(&self.http, &endpoints, &provider.settings, refresh_token)
            .await
            .map_err(refresh_error)?;
        Ok(TokenSet {
            expires_at: self.access_token_expiry(grant.expires_in, true),
            access_token: grant.access_token,
            refresh_token: grant.refresh_token.or_else(|| Some(refresh_token.clone())),
            id_token: current.id_token.clone(),
        })
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

/// A failed refresh grant: the grant ended (`invalid_grant`), the provider
/// is down, or it answered something that fails our checks.
fn refresh_error(err: oauth2::ApiError) -> RefreshError {
    use oauth2::ApiError;
    match err {
        ApiError::Refused { error, .. } if error == "invalid_grant" => RefreshError::Ended(error),
        ApiError::Refused { .. } | ApiError::Unauthorized(_) => RefreshError::Refused(err),
        ApiError::Http(_) | ApiError::RateLimited(_) => RefreshError::Provider(Box::new(err)),
        ApiError::Status { status, .. } if status.is_server_error() => {
            RefreshError::Provider(Box::new(err))
        }
        ApiError::Status { .. }
        | ApiError::Shape(_)
        | ApiError::Invalid(_)
        | ApiError::NoVerifiedEmail => RefreshError::Invalid(Box::new(err)),
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
