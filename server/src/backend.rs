//! The state every request handler shares ([`Core`]) and the steps that
//! keep the signed-in state: checking a session, keeping a sign-in, ending
//! sessions with their tokens, sweeping expired ones.

use std::time::Duration;

use tower_sessions::Session;

use crate::{
    config::Settings,
    db::Db,
    hooks::Hooks,
    http_client::ProviderHttp,
    logins::{self, LoginRecord, LoginStore, Selector},
    providers::Registry,
    refresh::LocalLocks,
    session::{self, SessionUser},
    store::Store,
    telemetry::cause_chain,
    users::{Identity, UserId, UserStore},
    vault::{self, TokenSet, TokenVault},
};

/// Everything request handlers share.
#[derive(Debug)]
pub struct Core {
    pub registry: Registry,
    /// Client for provider calls: no redirects, timeouts, size limit.
    pub http: ProviderHttp,
    /// Our origin, e.g. `https://app.example.com`.
    pub public_url: String,
    /// The app's page for a failed sign-in, if not Portcullis's own.
    pub error_page: Option<String>,
    /// Every token, encrypted at rest.
    pub vault: TokenVault,
    /// Accounts and their provider identities.
    pub users: UserStore,
    /// Signed-in sessions.
    pub logins: LoginStore,
    /// How long a started sign-in stays valid.
    pub login_ttl: Duration,
    /// Session idle and absolute timeouts.
    pub session_idle: Duration,
    pub session_absolute: Duration,
    /// Access tokens expiring within this are refreshed before use.
    pub refresh_skew: Duration,
    /// Taken as the lifetime of a renewable access token whose token
    /// response did not state one.
    pub access_token_default_lifetime: Duration,
    /// The users' database.
    pub db: Db,
    /// Session data: sessions, vault, logins, refresh locks.
    pub store: Store,
    pub(crate) local_locks: LocalLocks,
    /// The app's say in every sign-in.
    pub hooks: Hooks,
    /// Requests per minute one client may make to start sign-ins and to
    /// the callback (0: no limit; `rate_limit.rs`).
    pub sign_in_per_minute: u32,
    /// Logout tokens per minute one client may post (0: no limit).
    pub backchannel_per_minute: u32,
    /// The header a proxy names the client's address in, if any.
    pub client_ip_header: Option<http::HeaderName>,
    /// How long a refresh lock is held before it must be renewed.
    pub(crate) refresh_lock_lease: Duration,
    /// This very value, for work that must outlive the request that
    /// started it (a refresh whose caller went away).
    pub(crate) me: std::sync::Weak<Core>,
}

impl Core {
    /// The shared state of one server, from its settings and parts.
    pub fn new(
        settings: &Settings,
        registry: Registry,
        http: ProviderHttp,
        db: Db,
        store: Store,
        hooks: Hooks,
    ) -> std::sync::Arc<Self> {
        std::sync::Arc::new_cyclic(|me| Self {
            registry,
            http,
            // A session lives at most its absolute timeout; its tokens a
            // day longer at most, wherever the store can expire them.
            vault: TokenVault::with_configured_keys(store.clone(), settings.token_keys.clone())
                .keeping_for(settings.session_absolute + Duration::from_secs(86_400)),
            users: UserStore::new(db.clone()),
            logins: LoginStore::with_cache(store.clone(), settings.session_cache),
            refresh_skew: settings.refresh_skew,
            access_token_default_lifetime: settings.access_token_default_lifetime,
            db,
            store,
            local_locks: LocalLocks::default(),
            refresh_lock_lease: settings.refresh_lock_lease,
            sign_in_per_minute: settings.sign_in_per_minute,
            backchannel_per_minute: settings.backchannel_per_minute,
            client_ip_header: settings.client_ip_header.clone(),
            me: me.clone(),
            session_idle: settings.session_idle,
            session_absolute: settings.session_absolute,
            public_url: settings.public_url.clone(),
            error_page: settings.error_page.clone(),
            login_ttl: settings.login_ttl,
            hooks,
        })
    }

    /// The user signed in on `session`, if its login is still valid. A
    /// session whose login row is gone (signed out elsewhere, ended from
    /// another device, back-channel logout) or timed out is signed out now.
    pub async fn signed_in(&self, session: &Session) -> Result<Option<SessionUser>, SessionError> {
        let Some(user) = session::user(session).await? else {
            return Ok(None);
        };
        let now = logins::now();
        let idle = secs(self.session_idle);
        let absolute = secs(self.session_absolute);
        match self.logins.get(&user.login).await? {
            Some(login) if now - login.last_seen_at < idle && now - login.created_at < absolute => {
                // Last-seen is kept to the minute (finer for short idle
                // timeouts): one write a minute at most. The session
                // record's own expiry moves with it.
                if now - login.last_seen_at >= (idle / 4).clamp(1, 60) {
                    self.logins.touch(&login.id, now).await?;
                    session::keep_alive(session, self.session_idle);
                }
                Ok(Some(user))
            }
            Some(login) => {
                tracing::info!(provider = %login.provider, "session timed out");
                self.end_sessions(Ending::One {
                    id: &login.id,
                    grant: Some(&login.grant_id),
                })
                .await?;
                session.flush().await?;
                Ok(None)
            }
            None => {
                session.flush().await?;
                Ok(None)
            }
        }
    }

    /// What a sign-in at `provider` keeps besides the browser's session:
    /// the tokens sealed in the vault and a signed-in session row. The user
    /// to put in the session ([`session::sign_in`]).
    pub async fn keep_sign_in(
        &self,
        provider: &str,
        identity: Identity,
        user_id: UserId,
        provider_sid: Option<String>,
        user_agent: String,
        tokens: &TokenSet,
    ) -> Result<SessionUser, SessionError> {
        let now = logins::now();
        let login = LoginRecord {
            id: vault::new_grant_id(),
            user_id: user_id.0,
            provider: provider.to_owned(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            provider_sid,
            grant_id: vault::new_grant_id(),
            user_agent,
            created_at: now,
            last_seen_at: now,
        };
        self.vault.put(&login.grant_id, provider, tokens).await?;
        self.logins.create(&login).await?;
        Ok(SessionUser::new(
            identity,
            user_id,
            login.grant_id,
            login.id,
        ))
    }

    /// Ends the signed-in sessions `which` picks: their rows first (no
    /// request finds them signed in from then on), then their sealed
    /// tokens. The one place sessions end; [`Self::end_session_and_grant`]
    /// adds revoking the grant at the provider. How many sessions' tokens
    /// were deleted.
    pub async fn end_sessions(&self, which: Ending<'_>) -> Result<usize, SessionError> {
        let grants = match which {
            Ending::One { id, grant } => {
                let mut grants: Vec<String> = self.logins.end(id).await?.into_iter().collect();
                if let Some(grant) = grant
                    && !grants.iter().any(|ended| ended == grant)
                {
                    grants.push(grant.to_owned());
                }
                grants
            }
            Ending::Matching(selector) => self.logins.end_matching(&selector).await?,
            Ending::Expired => {
                let now = logins::now();
                self.logins
                    .end_expired(
                        now - secs(self.session_idle),
                        now - secs(self.session_absolute),
                    )
                    .await?
            }
        };
        for grant in &grants {
            self.vault.delete(grant).await?;
        }
        Ok(grants.len())
    }

    /// Ends a signed-in session the user or the app ended (signing in
    /// again, disconnecting its identity, ending it from another device):
    /// its row and tokens, as [`Self::end_sessions`], and then its grant at
    /// the provider, by revoking the refresh token in the background (RFC
    /// 7009).
    pub async fn end_session_and_grant(&self, login: &LoginRecord) -> Result<(), SessionError> {
        let tokens = match self.vault.get(&login.grant_id, &login.provider).await {
            Ok(tokens) => tokens,
            Err(err) => {
                tracing::warn!(
                    provider = %login.provider,
                    "tokens of an ending session cannot be read, so not revoked: {}",
                    cause_chain(&err)
                );
                None
            }
        };
        self.end_sessions(Ending::One {
            id: &login.id,
            grant: Some(&login.grant_id),
        })
        .await?;
        if let Some(tokens) = tokens {
            self.revoke_in_background(&login.provider, &tokens);
        }
        Ok(())
    }

    /// Revokes the grant behind `tokens` at `provider` (its refresh token,
    /// or the access token when there is none; RFC 7009) without making
    /// anyone wait for the provider. A failure is logged: the session here
    /// is already gone.
    pub fn revoke_in_background(&self, provider: &str, tokens: &TokenSet) {
        let Some(provider) = self.registry.shared(provider).cloned() else {
            return;
        };
        let (token, hint) = match &tokens.refresh_token {
            Some(refresh) => (refresh.clone(), "refresh_token"),
            None => (tokens.access_token.clone(), "access_token"),
        };
        let http = self.http.clone();
        tokio::spawn(async move {
            let id = &provider.settings.id;
            let Some(endpoint) = provider.revocation_endpoint(&http).await else {
                return;
            };
            match provider.revoke(&http, &endpoint, &token, hint).await {
                Ok(()) => tracing::info!(provider = %id, "grant revoked at the provider"),
                Err(err) => tracing::warn!(
                    provider = %id,
                    "revocation failed (the session here ended anyway): {}",
                    cause_chain(&err)
                ),
            }
        });
    }

    /// Ends expired sessions with their tokens, and forgets what expired
    /// with them (orphaned tokens, old logout-token ids, session records).
    /// How many sessions ended.
    pub async fn sweep(&self) -> Result<usize, SessionError> {
        let ended = self.end_sessions(Ending::Expired).await?;
        let now = logins::now();
        // Sealed tokens no session points to (a sign-in that failed between
        // its two writes), once older than any sign-in in progress.
        let orphans = self
            .vault
            .delete_orphans(now - secs(self.login_ttl))
            .await?;
        if orphans > 0 {
            tracing::info!(orphans, "swept sealed tokens no session points to");
        }
        self.logins.forget_old_logout_tokens(now).await?;
        self.store.session_store().delete_expired().await?;
        Ok(ended)
    }

    /// When an access token granted now expires (unix time): `expires_in`
    /// seconds from now, or when the provider did not say and a refresh
    /// token can renew it, the configured default lifetime. A token that
    /// cannot be renewed and states no lifetime is used until the provider
    /// refuses it.
    pub fn access_token_expiry(&self, expires_in: Option<u64>, renewable: bool) -> Option<i64> {
        let default = renewable.then_some(self.access_token_default_lifetime.as_secs());
        TokenSet::expiry_in(expires_in.or(default))
    }

    /// The label users know a provider by (its id if it is gone from config).
    pub fn provider_label(&self, id: &str) -> String {
        self.registry
            .get(id)
            .map(|p| p.settings.label.clone())
            .unwrap_or_else(|| id.to_owned())
    }
}

/// Which signed-in sessions [`Core::end_sessions`] ends.
#[derive(Clone, Debug)]
pub enum Ending<'a> {
    /// One session, by its row's id, and the tokens at `grant` even if the
    /// row is gone already.
    One { id: &'a str, grant: Option<&'a str> },
    /// Those a provider's logout token names (OpenID Connect Back-Channel
    /// Logout 1.0 §2.4).
    Matching(Selector<'a>),
    /// Those past their idle or absolute timeout.
    Expired,
}

/// Why the signed-in state could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session store failed")]
    Session(#[from] tower_sessions::session::Error),
    #[error("login store failed")]
    Logins(#[from] crate::store::StoreFailure),
    #[error("token vault failed")]
    Vault(#[from] vault::store::StoreError),
    #[error("refreshing tokens failed")]
    Refresh(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("deleting expired sessions failed")]
    Expired(#[from] tower_sessions::session_store::Error),
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use crate::{
        config::Settings,
        logins::{LoginRecord, now},
        secret::Secret,
        test_support::temp_database::TempDatabase,
        vault::TokenSet,
    };

    #[tokio::test]
    async fn expired_sessions_their_tokens_and_session_records_are_swept() {
        let database = TempDatabase::new();
        let vars = [
            ("DATABASE_URL".to_owned(), database.url()),
            ("SESSION_IDLE_TIMEOUT_SECONDS".to_owned(), "60".to_owned()),
            (
                "TOKEN_ENCRYPTION_KEYS".to_owned(),
                "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned(),
            ),
        ]
        .into_iter()
        .collect();
        let settings = Settings::from_vars(&vars).unwrap();
        let portcullis = crate::Portcullis::start(settings).await.unwrap();
        let core = &portcullis.core;
        let db = database.connect().await;
        sqlx::query(
            "INSERT INTO users (id, name, email, picture, created_at, last_login_at)
             VALUES (1, 'Dana', NULL, NULL, 0, 0)",
        )
        .execute(&db)
        .await
        .unwrap();
        let tokens = TokenSet {
            access_token: Secret::new("at"),
            refresh_token: None,
            id_token: None,
            expires_at: None,
        };
        for (id, last_seen) in [("stale", now() - 3600), ("fresh", now())] {
            let grant = format!("grant-{id}");
            core.vault.put(&grant, "local", &tokens).await.unwrap();
            core.logins
                .create(&LoginRecord {
                    id: id.into(),
                    user_id: 1,
                    provider: "local".into(),
                    issuer: "https://idp.test".into(),
                    subject: "dana".into(),
                    provider_sid: None,
                    grant_id: grant,
                    user_agent: String::new(),
                    created_at: last_seen,
                    last_seen_at: last_seen,
                })
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO tower_sessions (id, data, expiry_date) VALUES ('old', x'', 0)")
            .execute(&db)
            .await
            .unwrap();

        assert_eq!(
            core.sweep().await.unwrap(),
            1,
            "one session was past its idle time"
        );
        let left: Vec<(String,)> = sqlx::query_as("SELECT id FROM logins")
            .fetch_all(&db)
            .await
            .unwrap();
        assert_eq!(left, [("fresh".to_owned(),)]);
        assert_eq!(
            database.count("token_vault").await,
            1,
            "its tokens went too"
        );
        assert_eq!(
            database.count("tower_sessions").await,
            0,
            "expired records deleted"
        );
    }
}
