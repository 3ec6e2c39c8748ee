//! What an app may know about its users: the signed-in user, the providers
//! it can offer, the identities and sessions of an account, data fetched
//! from a provider's API. None of these can hold a token or a secret, so
//! each may be shown in a page or sent to the browser as it is.

use serde::{Serialize, Serializer, ser::SerializeStruct};

use crate::session::SessionUser;

/// The user signed in on a request's session. An identity is keyed by its
/// provider's issuer and subject (OpenID Connect Core §5.7), never by
/// e-mail.
///
/// Extract it in a handler (as `User` or `Option<User>`) or read it with
/// [`crate::Portcullis::user`]. It serialises to
/// `{"account": 1, "provider": "google", "issuer": "...", "subject": "...",
/// "name": "...", "email": "..." | null, "email_verified": bool,
/// "picture": "..." | null}`: nothing in it points at a token.
#[derive(Clone, PartialEq, Eq)]
pub struct User(pub(crate) SessionUser);

impl User {
    /// The account's id in the users' database: one account may sign in
    /// with several identities.
    pub fn account_id(&self) -> i64 {
        self.0.user_id
    }

    /// The configured provider this session signed in with, e.g. `google`.
    pub fn provider(&self) -> &str {
        &self.0.identity.provider
    }

    /// The provider's issuer identifier (`iss`); for plain OAuth 2.0
    /// providers, the provider's own base URL.
    pub fn issuer(&self) -> &str {
        &self.0.identity.issuer
    }

    /// The user's id at that issuer (`sub`, or the API's stable user id).
    pub fn subject(&self) -> &str {
        &self.0.identity.subject
    }

    /// The display name the provider gave.
    pub fn name(&self) -> &str {
        &self.0.identity.name
    }

    /// The e-mail address the provider gave, if any.
    pub fn email(&self) -> Option<&str> {
        self.0.identity.email.as_deref()
    }

    /// Whether the provider vouches that [`email`](Self::email) is the
    /// user's (`email_verified`).
    pub fn email_verified(&self) -> bool {
        self.0.identity.email_verified
    }

    /// The address of the user's picture at the provider, if any.
    pub fn picture(&self) -> Option<&str> {
        self.0.identity.picture.as_deref()
    }

    /// When the user last authenticated at the provider, in seconds since
    /// the Unix epoch: the ID token's `auth_time` (OpenID Connect Core
    /// §2); 0 (unknown) when an OpenID Connect provider left it out; the
    /// time of the sign-in here for a plain OAuth 2.0 or OAuth 1.0a
    /// provider, which cannot say. [`crate::RecentSignIn`] asks for a
    /// recent one.
    pub fn authenticated_at(&self) -> i64 {
        self.0.authenticated_at
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("account_id", &self.account_id())
            .field("provider", &self.provider())
            .field("issuer", &self.issuer())
            .field("subject", &self.subject())
            .finish_non_exhaustive()
    }
}

impl Serialize for User {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut user = serializer.serialize_struct("User", 8)?;
        user.serialize_field("account", &self.account_id())?;
        user.serialize_field("provider", self.provider())?;
        user.serialize_field("issuer", self.issuer())?;
        user.serialize_field("subject", self.subject())?;
        user.serialize_field("name", self.name())?;
        user.serialize_field("email", &self.email())?;
        user.serialize_field("email_verified", &self.email_verified())?;
        user.serialize_field("picture", &self.picture())?;
        user.end()
    }
}

/// A configured identity provider, as a sign-in page offers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProviderInfo {
    /// The provider's name in URLs: a sign-in starts at
    /// `/auth/sign-in/<id>`.
    pub id: String,
    /// Its label for people, e.g. "Google".
    pub label: String,
    /// Where its button's icon is (`/auth/icons/<preset>.svg`, an SVG
    /// image 24×24) when it is a preset; `None` for one described by
    /// configuration, whose button shows its initial.
    pub icon: Option<String>,
    /// Whether a sign-in can start now (an OpenID Connect provider is
    /// unavailable until its discovery document was read).
    pub available: bool,
}

/// One identity an account signs in with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LinkedIdentity {
    /// The configured provider, e.g. `github`.
    pub provider: String,
    /// Its icon, as [`ProviderInfo::icon`].
    pub icon: Option<String>,
    /// Its label for people.
    pub label: String,
    /// The e-mail address this identity gave, if any.
    pub email: Option<String>,
    /// The issuer identifier (`iss`).
    pub issuer: String,
    /// The user's id at that issuer (`sub`).
    pub subject: String,
}

/// One signed-in session of an account (one browser or device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Opaque id, for ending it (`POST /auth/sessions/end`, field `id`).
    pub id: String,
    /// The browser and system, e.g. "Firefox on Linux".
    pub browser: String,
    /// When it signed in, in seconds since the Unix epoch.
    pub created_at: i64,
    /// When it was last used, in seconds since the Unix epoch (kept to
    /// the minute at most).
    pub last_seen_at: i64,
    /// Whether it is the session of the request that asked.
    pub current: bool,
}

/// Data about the signed-in user fetched just now from their provider's
/// API with the session's access token, refreshed first when needed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProviderProfile {
    /// Where it came from, e.g. "GitHub API at GitHub".
    pub source: String,
    /// Label and value pairs, in display order.
    pub entries: Vec<(String, String)>,
    /// When it was fetched, in seconds since the Unix epoch.
    pub fetched_at: i64,
}
