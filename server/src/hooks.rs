//! What the app decides at sign-in, without forking: whether an identity
//! may come in, and its own work once the account exists (creating the
//! app's user row, say). Given to [`PortcullisBuilder::sign_in_hooks`].
//!
//! [`PortcullisBuilder::sign_in_hooks`]: crate::PortcullisBuilder::sign_in_hooks

use std::sync::Arc;

use async_trait::async_trait;

use crate::users;

/// An identity a provider vouched for at a sign-in, after every check of
/// its answer passed (signature, `iss`, `aud`, `nonce`, `exp`, state).
/// Keyed by issuer and subject (OpenID Connect Core §5.7), never e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity(pub(crate) users::Identity);

impl Identity {
    /// The configured provider, e.g. `google`.
    pub fn provider(&self) -> &str {
        &self.0.provider
    }

    /// The provider's issuer identifier (`iss`).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The user's id at that issuer (`sub`, or the API's stable user id).
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The display name the provider gave.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The e-mail address the provider gave, if any.
    pub fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// Whether the provider vouches that the e-mail is the user's
    /// (`email_verified`).
    pub fn email_verified(&self) -> bool {
        self.0.email_verified
    }

    /// The address of the user's picture at the provider, if any.
    pub fn picture(&self) -> Option<&str> {
        self.0.picture.as_deref()
    }
}

/// What an identity a provider vouched for is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attempt {
    /// Sign in (to its account, or to a new one).
    SignIn,
    /// Be connected to the signed-in account `account_id`, as another way
    /// for it to sign in.
    Connect {
        /// The signed-in account's id.
        account_id: i64,
    },
}

/// Why a hook stopped a sign-in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// The app does not let this identity in. The user sees
    /// [`ErrorCode::SignInRefused`](crate::ErrorCode::SignInRefused)
    /// (`PC-AUTH-013`); nothing is stored for the sign-in.
    #[error("the app refused this identity")]
    Refused,
    /// The app's own work failed (its database is down, say). The user sees
    /// [`ErrorCode::Unavailable`](crate::ErrorCode::Unavailable) and the
    /// cause goes to the log.
    #[error("the app's sign-in hook failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl HookError {
    /// [`HookError::Failed`] with `cause`, for `map_err(HookError::failed)`.
    pub fn failed(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Failed(Box::new(cause))
    }
}

/// The app's say in every sign-in, and in connecting another provider to
/// an account. Both methods do nothing by default; implement the ones the
/// app needs.
///
/// ```
/// use portcullis::{Attempt, HookError, Identity, SignInHooks};
///
/// /// Only people from example.com, with a verified address.
/// struct StaffOnly;
///
/// #[portcullis::async_trait]
/// impl SignInHooks for StaffOnly {
///     async fn allow(&self, identity: &Identity, _: Attempt) -> Result<(), HookError> {
///         match identity.email() {
///             Some(email) if identity.email_verified() && email.ends_with("@example.com") => Ok(()),
///             _ => Err(HookError::Refused),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait SignInHooks: Send + Sync + 'static {
    /// Whether `identity` may make this `attempt`: sign in, or be
    /// connected to the signed-in account. Asked after the provider's
    /// answer passed every check and before anything is stored.
    ///
    /// # Errors
    ///
    /// [`HookError::Refused`] keeps the identity out.
    async fn allow(&self, identity: &Identity, attempt: Attempt) -> Result<(), HookError> {
        let _ = (identity, attempt);
        Ok(())
    }

    /// The account `account_id` that `identity` signs in to exists now
    /// (created by this sign-in if the identity is new); called before the
    /// session is signed in and its tokens kept, so the app can create or
    /// update its own user row first.
    ///
    /// # Errors
    ///
    /// Any [`HookError`] ends the sign-in: the browser is not signed in
    /// (the account stays, for the next attempt).
    async fn before_session(&self, account_id: i64, identity: &Identity) -> Result<(), HookError> {
        let _ = (account_id, identity);
        Ok(())
    }
}

/// No hooks: everyone a provider vouches for may sign in.
struct NoHooks;

impl SignInHooks for NoHooks {}

/// The app's hooks, as Portcullis keeps them.
#[derive(Clone)]
pub(crate) struct Hooks(pub(crate) Arc<dyn SignInHooks>);

impl Default for Hooks {
    fn default() -> Self {
        Self(Arc::new(NoHooks))
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooks(..)")
    }
}

impl Hooks {
    /// Asks [`SignInHooks::allow`] about `identity` and its `attempt`.
    pub(crate) async fn allow(
        &self,
        identity: &users::Identity,
        attempt: Attempt,
    ) -> Result<(), HookError> {
        self.0.allow(&Identity(identity.clone()), attempt).await
    }

    /// Tells [`SignInHooks::before_session`] that the account is ready.
    pub(crate) async fn before_session(
        &self,
        account_id: users::UserId,
        identity: &users::Identity,
    ) -> Result<(), HookError> {
        self.0
            .before_session(account_id.0, &Identity(identity.clone()))
            .await
    }
}
