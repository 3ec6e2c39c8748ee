//! Fresh access tokens. Whenever the server needs a session's access
//! token, one that expires within the skew is refreshed first, and never
//! twice at once: requests for the same grant queue behind one refresh, in
//! this process (a mutex per grant) and across instances (a lock row in
//! the shared database). The one that refreshes re-reads the tokens after
//! taking the lock, so those that waited use the new tokens instead of
//! refreshing again with a rotated-away refresh token. The rotated refresh
//! token is stored in the same atomic write as the new access token.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex as StdMutex, Weak},
    time::Duration,
};

use openidconnect::{
    OAuth2TokenResponse, RefreshToken, RequestTokenError, TokenResponse,
    core::CoreErrorResponseType,
};
use tokio::sync::Mutex;

use crate::{
    backend::{Portcullis, SessionError},
    logins,
    providers::{Provider, oauth2},
    secret::Secret,
    session::SessionUser,
    store::StoreFailure,
    telemetry::cause_chain,
    vault::{TokenSet, store::StoreError},
};

/// How long a refresh may hold the lock before others may take over.
const LOCK_LEASE_SECS: i64 = 30;
/// How long a request waits for another's refresh before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(20);
const LOCK_POLL: Duration = Duration::from_millis(25);

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The session's tokens are gone (signed out meanwhile).
    #[error("the session has no tokens")]
    Gone,
    /// The provider no longer honours the grant (`invalid_grant`, or no
    /// refresh token to renew an expired access token with).
    #[error("the provider ended the grant: {0}")]
    Ended(String),
    /// A refreshed ID token names another issuer or subject (SECURITY.md B8).
    #[error("the refreshed ID token names another user")]
    IdentityChanged,
    #[error("the provider could not refresh the tokens")]
    Provider(#[source] Box<dyn std::error::Error + Send + Sync>),
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
        matches!(self, Self::Ended(_) | Self::IdentityChanged | Self::Gone)
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

impl Portcullis {
    fn is_expiring(&self, tokens: &TokenSet, now: i64) -> bool {
        let skew = i64::try_from(self.refresh_skew.as_secs()).unwrap_or(60);
        tokens.expires_at.is_some_and(|at| at - now <= skew)
    }

    /// The session's tokens with an access token good for at least the
    /// skew, refreshing first if needed. A grant the provider ended ends
    /// the session here too.
    pub async fn fresh_tokens(&self, user: &SessionUser) -> Result<TokenSet, RefreshError> {
        let provider_id = &user.identity.provider;
        let tokens = self
            .vault
            .get(&user.grant, provider_id)
            .await?
            .ok_or(RefreshError::Gone)?;
        if !self.is_expiring(&tokens, logins::now()) {
            return Ok(tokens);
        }
        let result = self.refresh_single_flight(user).await;
        if let Err(err) = &result
            && err.ends_session()
        {
            tracing::info!(provider = %provider_id, "session ended: {}", cause_chain(err));
            if let Err(end) = self.end_login(&user.login).await {
                tracing::error!("ending the session failed: {}", cause_chain(&end));
            }
        }
        result
    }

    async fn refresh_single_flight(&self, user: &SessionUser) -> Result<TokenSet, RefreshError> {
        let local = self.local_locks.for_grant(&user.grant);
        let _in_process = local.lock().await;
        let holder = crate::vault::new_grant_id();
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        while !self
            .store
            .try_lock(&user.grant, &holder, logins::now(), LOCK_LEASE_SECS)
            .await?
        {
            if tokio::time::Instant::now() > deadline {
                return Err(RefreshError::Busy);
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
        let result = self.refresh_locked(user).await;
        if let Err(err) = self.store.unlock(&user.grant, &holder).await {
            tracing::warn!(
                "refresh lock not released (it expires): {}",
                cause_chain(&err)
            );
        }
        result
    }

    /// Under the lock: re-read, and refresh only if still needed.
    async fn refresh_locked(&self, user: &SessionUser) -> Result<TokenSet, RefreshError> {
        let provider_id = &user.identity.provider;
        let current = self
            .vault
            .get(&user.grant, provider_id)
            .await?
            .ok_or(RefreshError::Gone)?;
        if !self.is_expiring(&current, logins::now()) {
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
        self.vault.put(&user.grant, provider_id, &fresh).await?;
        tracing::info!(provider = %provider_id, "tokens refreshed");
        Ok(fresh)
    }

    async fn refresh_oidc(
        &self,
        provider: &Provider,
        user: &SessionUser,
        current: &TokenSet,
        refresh_token: &Secret,
    ) -> Result<TokenSet, RefreshError> {
        let failed = |err: Box<dyn std::error::Error + Send + Sync>| RefreshError::Provider(err);
        let discovered = provider
            .discovered(&self.http)
            .await
            .map_err(|err| failed(Box::new(err)))?;
        let client = discovered
            .client_at(&provider.settings, &self.public_url)
            .map_err(|err| failed(Box::new(err)))?;
        let response = client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().to_owned()))
            .map_err(|err| failed(Box::new(err)))?
            .request_async(&self.http)
            .await
            .map_err(|err| match &err {
                RequestTokenError::ServerResponse(response)
                    if *response.error() == CoreErrorResponseType::InvalidGrant =>
                {
                    RefreshError::Ended("invalid_grant".into())
                }
                _ => failed(Box::new(err)),
            })?;
        let id_token = match response.id_token() {
            Some(id_token) => {
                // SECURITY.md B8: same issuer, subject and audience.
                let claims = discovered
                    .verify_id_token(&client, id_token, response.access_token(), None)
                    .map_err(|_| RefreshError::IdentityChanged)?;
                if claims.issuer().as_str() != user.identity.issuer
                    || claims.subject().as_str() != user.identity.subject
                {
                    return Err(RefreshError::IdentityChanged);
                }
                Some(Secret::new(id_token.to_string()))
            }
            None => current.id_token.clone(),
        };
        Ok(TokenSet {
            access_token: Secret::new(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone()))
                .or_else(|| Some(refresh_token.clone())),
            id_token,
            expires_at: TokenSet::expiry_in(response.expires_in().map(|d| d.as_secs())),
        })
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
            .map_err(|err| match err {
                oauth2::ApiError::Refused { error, .. } if error == "invalid_grant" => {
                    RefreshError::Ended(error)
                }
                other => RefreshError::Provider(Box::new(other)),
            })?;
        Ok(TokenSet {
            access_token: grant.access_token,
            refresh_token: grant.refresh_token.or_else(|| Some(refresh_token.clone())),
            id_token: current.id_token.clone(),
            expires_at: TokenSet::expiry_in(grant.expires_in),
        })
    }

    /// Refreshes, ahead of time, the tokens of sessions in use whose access
    /// token expires within twice the skew, so a request rarely waits on
    /// the provider. Single-flight like any other refresh.
    pub async fn refresh_ahead(&self) -> Result<usize, SessionError> {
        let now = logins::now();
        let skew = i64::try_from(self.refresh_skew.as_secs()).unwrap_or(60);
        let idle = i64::try_from(self.session_idle.as_secs()).unwrap_or(i64::MAX);
        let due = self
            .logins
            .due_for_refresh(now + 2 * skew, now - idle)
            .await?;
        let mut refreshed = 0;
        for (login, identity) in due {
            let user = SessionUser {
                identity,
                user_id: login.user_id,
                grant: login.grant_id,
                login: login.id,
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
