//! What an app may ask about the signed-in account: who is signed in on a
//! request, its identities and sessions, the providers it could connect,
//! and fresh data from its provider's API. Each answer is a type from
//! [`crate::model`], never a token; each failure an [`ErrorCode`] (the
//! cause goes to the log).

use http::request::Parts;
use tower_sessions::Session;

use crate::{
    Portcullis, TokenPolicy, cache,
    error::ErrorCode,
    model::{LinkedIdentity, ProviderInfo, ProviderProfile, SessionInfo, User},
    session_rows,
    telemetry::cause_chain,
    users::UserId,
};

impl Portcullis {
    /// The names of the upstream APIs (`REMOTE_APIS`, in order) that a
    /// browser with `user` signed in (or nobody) can call through the
    /// proxy: those that take no token or a token if there is one, and
    /// those that take the user's token from the user's provider. A page
    /// shows only what it can use.
    pub fn remote_apis(&self, user: Option<&User>) -> Vec<&str> {
        self.remote_apis
            .iter()
            .map(|api| &api.settings)
            .filter(|api| match api.token {
                TokenPolicy::None | TokenPolicy::UserIfSignedIn => true,
                TokenPolicy::User => user.is_some_and(|user| {
                    api.provider
                        .as_deref()
                        .is_none_or(|id| id == user.provider())
                }),
            })
            .map(|api| api.name.as_str())
            .collect()
    }

    /// The configured providers, in `AUTH_PROVIDERS` order.
    pub async fn providers(&self) -> Vec<ProviderInfo> {
        self.core.registry.views().await
    }

    /// The user signed in on the request's session, or `None`. A session
    /// ended elsewhere (sign-out on another device, back-channel logout,
    /// a timeout) is signed out here now.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Unavailable`] when the session store fails;
    /// [`ErrorCode::Internal`] when the request did not pass through
    /// [`Portcullis::layer`].
    pub async fn user(&self, request: &Parts) -> Result<Option<User>, ErrorCode> {
        let Some(session) = request.extensions.get::<Session>() else {
            tracing::error!("no Portcullis layer in front of this route");
            return Err(ErrorCode::Internal);
        };
        // Work spawned off the request (a page's data loaded by the
        // renderer) reads through the cache as its request may.
        let lookup = self.core.sessions.signed_in(session);
        cache::within_request(&request.method, request.uri.path(), lookup)
            .await
            .map(|user| user.map(User))
            .map_err(|err| {
                tracing::error!("session lookup failed: {}", cause_chain(&err));
                ErrorCode::Unavailable
            })
    }

    /// The identities `user`'s account signs in with, oldest first.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Unavailable`] when the users' database fails.
    pub async fn identities(&self, user: &User) -> Result<Vec<LinkedIdentity>, ErrorCode> {
        let identities = self
            .core
            .users
            .identities(UserId(user.account_id()))
            .await
            .map_err(|err| {
                tracing::error!("user store failed: {}", cause_chain(&err));
                ErrorCode::Unavailable
            })?;
        Ok(identities
            .into_iter()
            .map(|identity| LinkedIdentity {
                label: self.core.provider_label(&identity.provider),
                icon: self.core.provider_icon(&identity.provider),
                provider: identity.provider,
                email: identity.email,
                issuer: identity.issuer,
                subject: identity.subject,
            })
            .collect())
    }

    /// The signed-in sessions of `user`'s account, this one first.
    ///
    /// # Errors
    ///
    /// [`ErrorCode::Unavailable`] when the session store fails.
    pub async fn sessions(&self, user: &User) -> Result<Vec<SessionInfo>, ErrorCode> {
        let rows = self
            .core
            .sessions
            .rows
            .for_user(user.account_id())
            .await
            .map_err(|err| {
                tracing::error!("login store failed: {}", cause_chain(&err));
                ErrorCode::Unavailable
            })?;
        let mut sessions: Vec<SessionInfo> = rows
            .into_iter()
            .map(|row| SessionInfo {
                current: row.id == user.0.row,
                browser: session_rows::describe_user_agent(&row.user_agent),
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                id: row.id,
            })
            .collect();
        sessions.sort_by_key(|session| !session.current);
        Ok(sessions)
    }

    /// Fresh data about `user` from their provider's API (the userinfo
    /// endpoint for OpenID Connect, OpenID Connect Core §5.3), with the
    /// session's access token, refreshed first when it is about to expire
    /// and once more if the provider refuses it (single-flight).
    ///
    /// # Errors
    ///
    /// [`ErrorCode::SessionEnded`] when the provider ended the grant (the
    /// session here is ended too), [`ErrorCode::ProviderUnavailable`],
    /// [`ErrorCode::ProviderRateLimited`], [`ErrorCode::ProviderRejected`]
    /// or [`ErrorCode::InvalidProviderResponse`] as the provider answered.
    pub async fn provider_profile(&self, user: &User) -> Result<ProviderProfile, ErrorCode> {
        self.core
            .provider_api
            .live_profile(&user.0)
            .await
            .map_err(|err| {
                tracing::warn!(
                    provider = %user.provider(),
                    "live profile failed: {}",
                    cause_chain(&err)
                );
                err.code()
            })
    }
}
