//! Browser sessions: the cookie, its store, and the signed-in user kept in
//! it. Tokens are never part of this record.

use app::model::UserView;
use serde::{Deserialize, Serialize};
use tower_sessions::{
    Expiry, Session, SessionManagerLayer,
    cookie::{SameSite, time::Duration},
};

use std::time::Duration as StdDuration;

use crate::{
    db::SessionStore,
    users::{Identity, UserId},
};

const USER_KEY: &str = "user";

/// Who is signed in on a session. Keyed by (issuer, subject), never e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// The provider identity used for this session.
    pub identity: Identity,
    /// The account signed in (the user store's id).
    pub user_id: i64,
    /// Where this session's tokens are in the vault.
    pub grant: String,
    /// This session's row in the login store (`logins.rs`).
    #[serde(default)]
    pub login: String,
}

impl SessionUser {
    pub fn new(identity: Identity, user_id: UserId, grant: String, login: String) -> Self {
        Self {
            identity,
            user_id: user_id.0,
            grant,
            login,
        }
    }

    pub fn view(&self, provider_label: String) -> UserView {
        UserView {
            name: self.identity.name.clone(),
            email: self.identity.email.clone(),
            picture: self.identity.picture.clone(),
            provider: provider_label,
        }
    }
}

pub async fn user(
    session: &Session,
) -> Result<Option<SessionUser>, tower_sessions::session::Error> {
    session.get(USER_KEY).await
}

/// Signs `user` in. The session id is renewed first, so an id planted in
/// the browser before sign-in never becomes an authenticated one (fixation).
pub async fn sign_in(
    session: &Session,
    user: &SessionUser,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_KEY, user).await
}

/// The cookie settings (SECURITY.md D1): HttpOnly, SameSite=Lax so the
/// login transaction survives the provider's redirect back, and over https
/// `Secure` with the `__Host-` prefix (Path=/, no Domain).
pub fn layer(
    store: SessionStore,
    https: bool,
    idle: StdDuration,
) -> SessionManagerLayer<SessionStore> {
    let idle = Duration::try_from(idle).unwrap_or(Duration::hours(8));
    SessionManagerLayer::new(store)
        .with_name(if https {
            "__Host-portcullis"
        } else {
            "portcullis"
        })
        .with_secure(https)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}
