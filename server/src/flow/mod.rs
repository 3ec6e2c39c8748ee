//! The login transaction: what a started sign-in must remember until the
//! browser comes back (state, nonce, PKCE verifier, provider, return_to).
//! It lives server-side in this browser's session, expires after
//! `LOGIN_TIMEOUT_SECONDS` (ten minutes by default) and is taken out
//! (single use) when the callback arrives.

pub mod return_to;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::Session;

const SESSION_KEY: &str = "login";

#[derive(Clone, Serialize, Deserialize)]
pub struct LoginTransaction {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
    /// The signed-in account to connect the new identity to, when this
    /// sign-in was started from the profile's "Connect" button.
    #[serde(default)]
    pub link_to: Option<i64>,
}

impl std::fmt::Debug for LoginTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginTransaction")
            .field("provider", &self.provider)
            .field("return_to", &self.return_to)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl LoginTransaction {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

/// Remembers a started sign-in, replacing any earlier one of this browser.
pub async fn begin(
    session: &Session,
    tx: &LoginTransaction,
) -> Result<(), tower_sessions::session::Error> {
    session.insert(SESSION_KEY, tx).await
}

/// Takes the started sign-in out of the session: a callback can use it once.
pub async fn take(
    session: &Session,
) -> Result<Option<LoginTransaction>, tower_sessions::session::Error> {
    session.remove(SESSION_KEY).await
}
