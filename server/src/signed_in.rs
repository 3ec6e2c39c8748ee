//! Signed-in sessions, one service: checking a browser session's sign-in,
//! keeping a new one (its tokens sealed in the vault, its row), ending
//! sessions with their tokens ([`SignedInSessions::end_sessions`], the one
//! place that happens), revoking grants at the provider, and sweeping
//! expired sessions.

use std::{sync::Arc, time::Duration};

use tower_sessions::Session;

use crate::{
    clock,
    config::Settings,
    http_client::ProviderHttp,
    providers::Registry,
    session::{self, SessionUser},
    session_rows::{Selector, SessionRow, SessionRows},
    store::Store,
    telemetry::cause_chain,
    users::{Identity, UserId},
    vault::{self, TokenSet, TokenVault},
};

/// The signed-in sessions and what they hold; a cheap handle.
#[derive(Clone, Debug)]
pub(crate) struct SignedInSessions {
    /// Their rows.
    pub(crate) rows: SessionRows,
    /// Their tokens, sealed.
    pub(crate) vault: TokenVault,
    registry: Arc<Registry>,
    http: ProviderHttp,
    store: Store,
    /// A session unused this long is signed out.
    idle: Duration,
    /// A session this old is signed out, used or not.
    absolute: Duration,
    /// How long a started sign-in stays valid.
    sign_in_ttl: Duration,
}

impl SignedInSessions {
    /// The signed-in sessions kept in `store`, as `settings` say.
    pub(crate) fn new(
        settings: &Settings,
        store: Store,
        registry: Arc<Registry>,
        http: ProviderHttp,
    ) -> Self {
        // A session lives at most its absolute timeout; its tokens a day
        // longer at most, wherever the store can expire them.
        let vault = TokenVault::with_configured_keys(store.clone(), settings.token_keys.clone())
            .keeping_for(settings.session_absolute + Duration::from_secs(86_400));
        Self {
            rows: SessionRows::with_cache(store.clone(), settings.session_cache),
            vault,
            registry,
            http,
            store,
            idle: settings.session_idle,
            absolute: settings.session_absolute,
            sign_in_ttl: settings.sign_in_ttl,
        }
    }

    /// The user signed in on `session`, if its row is still valid. A
    /// session whose row is gone (signed out elsewhere, ended from
    /// another device, back-channel logout) or timed out is signed out now.
    pub async fn signed_in(&self, session: &Session) -> Result<Option<SessionUser>, SessionError> {
        let Some(user) = session::user(session).await? else {
            return Ok(None);
        };
        let now = clock::now();
        let idle = secs(self.idle);
        let absolute = secs(self.absolute);
        match self.rows.get(&user.row).await? {
            Some(row) if now - row.last_seen_at < idle && now - row.created_at < absolute => {
                // Last-seen is kept to the minute (finer for short idle
                // timeouts): one write a minute at most. The session
                // record's own expiry moves with it.
                if now - row.last_seen_at >= (idle / 4).clamp(1, 60) {
                    self.rows.touch(&row.id, now).await?;
                    session::keep_alive(session, self.idle);
                }
                Ok(Some(user))
            }
            Some(row) => {
                tracing::info!(provider = %row.provider, "session timed out");
                self.end_sessions(Ending::One {
                    id: &row.id,
                    grant: Some(&row.grant_id),
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
        let now = clock::now();
        let row = SessionRow {
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
        self.vault.put(&row.grant_id, provider, tokens).await?;
        self.rows.create(&row).await?;
        Ok(SessionUser::new(identity, user_id, row.grant_id, row.id))
    }

    /// Ends the signed-in sessions `which` picks: their rows first (no
    /// request finds them signed in from then on), then their sealed
    /// tokens. The one place sessions end; [`Self::end_session_and_grant`]
    /// adds revoking the grant at the provider. How many sessions' tokens
    /// were deleted.
    pub async fn end_sessions(&self, which: Ending<'_>) -> Result<usize, SessionError> {
        let grants = match which {
            Ending::One { id, grant } => {
                let mut grants: Vec<String> = self.rows.end(id).await?.into_iter().collect();
                if let Some(grant) = grant
                    && !grants.iter().any(|ended| ended == grant)
                {
                    grants.push(grant.to_owned());
                }
                grants
            }
            Ending::Matching(selector) => self.rows.end_matching(&selector).await?,
            Ending::Expired => {
                let now = clock::now();
                self.rows
                    .end_expired(now - secs(self.idle), now - secs(self.absolute))
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
    pub async fn end_session_and_grant(&self, row: &SessionRow) -> Result<(), SessionError> {
        let tokens = match self.vault.get(&row.grant_id, &row.provider).await {
            Ok(tokens) => tokens,
            Err(err) => {
                tracing::warn!(
                    provider = %row.provider,
                    "tokens of an ending session cannot be read, so not revoked: {}",
                    cause_chain(&err)
                );
                None
            }
        };
        self.end_sessions(Ending::One {
            id: &row.id,
            grant: Some(&row.grant_id),
        })
        .await?;
        if let Some(tokens) = tokens {
            self.revoke_in_background(&row.provider, &tokens);
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
        let now = clock::now();
        // Sealed tokens no session points to (a sign-in that failed between
        // its two writes), once older than any sign-in in progress.
        let orphans = self
            .vault
            .delete_orphans(now - secs(self.sign_in_ttl))
            .await?;
        if orphans > 0 {
            tracing::info!(orphans, "swept sealed tokens no session points to");
        }
        self.rows.forget_old_logout_tokens(now).await?;
        self.store.session_store().delete_expired().await?;
        Ok(ended)
    }
}

/// Which signed-in sessions [`SignedInSessions::end_sessions`] ends.
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
        clock::now, config::Settings, secret::Secret, session_rows::SessionRow,
        test_support::temp_database::TempDatabase, vault::TokenSet,
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
            api_tokens: Default::default(),
        };
        for (id, last_seen) in [("stale", now() - 3600), ("fresh", now())] {
            let grant = format!("grant-{id}");
            core.sessions
                .vault
                .put(&grant, "local", &tokens)
                .await
                .unwrap();
            core.sessions
                .rows
                .create(&SessionRow {
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
            core.sessions.sweep().await.unwrap(),
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
