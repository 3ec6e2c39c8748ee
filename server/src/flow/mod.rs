//! Sign-ins in progress: what a started sign-in (or "connect") must
//! remember until the browser comes back (state, nonce, PKCE verifier,
//! provider, return_to, the sign-in's own parameters). They live server-side in this browser's session,
//! found by their `state`: a browser may have a few in progress at once (a
//! sign-in started in two tabs), at most [`MAX_IN_PROGRESS`], the oldest
//! dropped first. Each expires after `LOGIN_TIMEOUT_SECONDS` (ten minutes
//! by default) and is taken out, and the session saved, as soon as its
//! callback arrives, so it serves once whatever the callback's outcome; a
//! callback with an unknown `state` takes nothing.

pub mod params;
pub mod return_to;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::Session;

pub use params::SignInParams;

const SESSION_KEY: &str = "signins";
/// Sign-ins one browser may have in progress at once.
pub const MAX_IN_PROGRESS: usize = 5;

#[derive(Clone, Serialize, Deserialize)]
pub struct SignInInProgress {
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
    /// The authentication request parameters this sign-in was started
    /// with ([`params`]).
    #[serde(default)]
    pub params: SignInParams,
    /// When it was started, Unix seconds.
    #[serde(default)]
    pub started_at: i64,
    /// OAuth 1.0a's temporary credentials (RFC 5849 §2.1), for the token
    /// request.
    #[serde(default)]
    pub temporary: Option<TemporaryCredentials>,
}

impl std::fmt::Debug for SignInInProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInInProgress")
            .field("provider", &self.provider)
            .field("return_to", &self.return_to)
            .field("params", &self.params)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An OAuth 1.0a sign-in's temporary credentials (RFC 5849 §2.1): kept
/// here, never shown, for its token request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporaryCredentials {
    pub token: String,
    pub secret: String,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TemporaryCredentials(..)")
    }
}

impl SignInInProgress {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

/// Remembers a started sign-in beside this browser's others still in
/// progress, dropping expired ones and, past [`MAX_IN_PROGRESS`], the
/// oldest.
pub async fn begin(
    session: &Session,
    tx: &SignInInProgress,
) -> Result<(), tower_sessions::session::Error> {
    let now = OffsetDateTime::now_utc();
    let mut pending: Vec<SignInInProgress> = session.get(SESSION_KEY).await?.unwrap_or_default();
    pending.retain(|earlier| !earlier.is_expired(now));
    pending.sort_by_key(|earlier| earlier.expires_at);
    let excess = (pending.len() + 1).saturating_sub(MAX_IN_PROGRESS);
    pending.drain(..excess);
    pending.push(tx.clone());
    session.insert(SESSION_KEY, pending).await
}

/// Takes the sign-in in progress whose `state` this is out of the session
/// and saves the session at once: a callback can use it once, whether it
/// then succeeds or fails. The others stay; an unknown `state` takes
/// nothing.
pub async fn take(
    session: &Session,
    state: &str,
) -> Result<Option<SignInInProgress>, tower_sessions::session::Error> {
    let Some(mut pending) = session.get::<Vec<SignInInProgress>>(SESSION_KEY).await? else {
        return Ok(None);
    };
    let Some(found) = pending.iter().position(|tx| same_secret(&tx.state, state)) else {
        return Ok(None);
    };
    let tx = pending.remove(found);
    if pending.is_empty() {
        session.remove_value(SESSION_KEY).await?;
    } else {
        session.insert(SESSION_KEY, pending).await?;
    }
    session.save().await?;
    Ok(Some(tx))
}

/// Compares secrets (states, OAuth 1.0a temporary credentials) without a
/// timing difference that tells how much of a guess was right.
pub fn same_secret(ours: &str, theirs: &str) -> bool {
    ours.len() == theirs.len()
        && ours
            .bytes()
            .zip(theirs.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}
