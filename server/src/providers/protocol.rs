//! The steps a provider takes part in, behind one trait whatever its
//! protocol ([`CodeFlow`]): the authorization request, redeeming the
//! callback's code for a checked identity, refreshing the grant, the
//! profile its API shows, and where it revokes tokens. OpenID Connect
//! implements it once (`oidc_flow.rs`); plain OAuth 2.0 once for every
//! [`PlainProvider`](super::PlainProvider) (`plain.rs`). Signing in, the
//! refresher, the provider-API service and revocation only ever call the
//! trait; back-channel and RP-initiated logout, which only OpenID Connect
//! has, ask for an OpenID provider (`Registry::openid_provider`,
//! `Provider::end_session_url`).

use std::{error::Error as StdError, fmt};

use async_trait::async_trait;
use url::Url;

use super::{
    DiscoveryError, IdTokenError, Provider, SignedError,
    claims::Object,
    oauth2::{ApiError, Grant},
    userinfo::UserinfoError,
};
use crate::{
    error::ErrorCode,
    flow::{SignInParams, TemporaryCredentials},
    http_client::ProviderHttp,
    secret::Secret,
    users::Identity,
};

/// Where the browser goes to authorize us (RFC 6749 §4.1.1), and what its
/// callback must match, kept server-side until then.
#[derive(Debug)]
pub struct Authorization {
    pub url: Url,
    pub state: String,
    /// Empty when the protocol has no ID token to carry it.
    pub nonce: String,
    /// Empty for OAuth 1.0a, which has no PKCE.
    pub pkce_verifier: String,
    /// OAuth 1.0a's temporary credentials (RFC 5849 §2.1).
    pub temporary: Option<TemporaryCredentials>,
}

/// What the sign-in in progress kept for its callback.
#[derive(Clone, Copy, Debug)]
pub struct Started<'a> {
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    /// The parameters it asked with, which the answer must meet.
    pub params: &'a SignInParams,
    /// When it was started, Unix seconds.
    pub started_at: i64,
    /// OAuth 1.0a's temporary credentials, kept since.
    pub temporary: Option<&'a TemporaryCredentials>,
}

/// The callback's parameters a protocol checks (RFC 6749 §4.1.2, RFC 9207
/// §2); `state` and `error` are checked before it runs.
#[derive(Debug, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub iss: Option<String>,
    /// A posted `user` field: Sign in with Apple's name for the user,
    /// sent once, unsigned ([`super::apple::name_from_user_field`]).
    pub user: Option<String>,
    /// OAuth 1.0a (RFC 5849 §2.2): the temporary credentials' identifier
    /// and the verifier, or X's `denied` when the user said no.
    pub oauth_token: Option<String>,
    pub oauth_verifier: Option<String>,
    pub denied: Option<String>,
}

/// A token endpoint's answer (RFC 6749 §5.1) once a flow has checked it:
/// the ID token here, if any, passed every check, so it may be kept.
#[derive(Debug)]
pub struct CheckedGrant {
    pub access_token: Secret,
    /// `None` when the provider sent none.
    pub refresh_token: Option<Secret>,
    /// `None` when none came, or one came that could not be checked for
    /// now (then the one kept before stays).
    pub checked_id_token: Option<Secret>,
    /// Seconds; `None` when the provider did not say.
    pub expires_in: Option<u64>,
    /// The scopes granted, when the answer says (RFC 6749 §5.1: absent
    /// when they are the ones asked for).
    pub scope: Option<Vec<String>>,
}

impl CheckedGrant {
    /// `grant`, keeping `checked_id_token` (which the caller checked)
    /// instead of the unchecked ID token it came with.
    pub fn new(grant: Grant, checked_id_token: Option<Secret>) -> Self {
        Self {
            access_token: grant.access_token,
            refresh_token: grant.refresh_token,
            checked_id_token,
            expires_in: grant.expires_in,
            scope: grant.scope,
        }
    }
}

/// What the access token for one upstream API is for: the resource it
/// is meant for (RFC 8707 §2, an absolute URI) and the scopes it must
/// carry (RFC 6749 §3.3). Such a token is got with a refresh grant that
/// names them (RFC 8707 §2.2); an API that names neither takes the
/// session's own access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience {
    /// The resource indicator: an absolute URI without whitespace, a
    /// fragment or a query, as configured.
    pub resource: Option<String>,
    /// Scope tokens (no spaces or commas), in the configured order.
    pub scopes: Vec<String>,
}

impl Audience {
    /// The refresh grant's parameters that ask for this audience.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if let Some(resource) = &self.resource {
            params.push(("resource", resource.clone()));
        }
        if !self.scopes.is_empty() {
            params.push(("scope", self.scopes.join(" ")));
        }
        params
    }

    /// Which token this is among a grant's: the resource (empty when
    /// none), a line break, then the scopes sorted and joined by spaces.
    /// Neither holds whitespace, so two audiences never share a key.
    pub fn key(&self) -> String {
        let mut scopes = self.scopes.clone();
        scopes.sort();
        scopes.dedup();
        format!(
            "{}\n{}",
            self.resource.as_deref().unwrap_or_default(),
            scopes.join(" ")
        )
    }

    /// The scopes asked for that `granted` (a token response's `scope`)
    /// lacks; none when the answer does not say, as RFC 6749 §5.1 then
    /// means "as asked".
    pub fn missing_scopes(&self, granted: Option<&[String]>) -> Vec<String> {
        let Some(granted) = granted else {
            return Vec::new();
        };
        self.scopes
            .iter()
            .filter(|scope| !granted.contains(scope))
            .cloned()
            .collect()
    }
}

/// A redeemed code: whose it is, and the checked tokens.
#[derive(Debug)]
pub struct Redeemed {
    pub identity: Identity,
    pub grant: CheckedGrant,
    /// The provider's session id (`sid`), for back-channel logout.
    pub provider_sid: Option<String>,
    /// When the user authenticated at the provider.
    pub auth_time: AuthTime,
    /// A name the browser brought rather than the provider's checked
    /// answer (Sign in with Apple's `user` field): used only to name an
    /// account made now, never to rename one.
    pub suggested_name: Option<String>,
}

/// What a sign-in's answer says of when the user authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthTime {
    /// The ID token's `auth_time`, Unix seconds.
    Said(i64),
    /// An ID token without one: unknown.
    NotSaid,
    /// The protocol has no way to say (plain OAuth 2.0, OAuth 1.0a).
    CannotSay,
}

/// What the provider's API shows about the signed-in user.
#[derive(Debug)]
pub struct ProfileData {
    /// Where it came from, for people (e.g. "userinfo", "GitHub API").
    pub source: &'static str,
    pub data: Object,
    /// `(label, JSON field)` pairs to show, in display order.
    pub fields: &'static [(&'static str, &'static str)],
}

/// The steps of the authorization code flow at one kind of provider.
#[async_trait]
pub trait CodeFlow: fmt::Debug + Send + Sync + 'static {
    /// The authorization request: code flow with PKCE S256 (RFC 7636) and
    /// a fresh `state` (and `nonce` where there is an ID token), with the
    /// sign-in's own `params` (OIDC Core §3.1.2.1) that the protocol
    /// knows.
    async fn authorization_request(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        redirect_uri: &str,
        params: &SignInParams,
    ) -> Result<Authorization, CodeFlowError>;

    /// The code exchange (RFC 6749 §4.1.3) and every check of its answer,
    /// down to the identity the tokens belong to.
    async fn redeem(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        redirect_uri: &str,
        started: Started<'_>,
        callback: Callback,
    ) -> Result<Redeemed, CodeFlowError>;

    /// A refresh grant (RFC 6749 §6) for the session of `identity`, for
    /// an access token meant for `audience` when one is given (RFC 8707
    /// §2.2). The answer's refresh token is `None` when the provider sent
    /// none (the old one stays), and so is its ID token when none came or
    /// it could not be checked for now (the old one stays).
    async fn refresh(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        identity: &Identity,
        refresh_token: &Secret,
        audience: Option<&Audience>,
    ) -> Result<CheckedGrant, GrantError>;

    /// What the provider's API (its one allowed path, SECURITY.md D5)
    /// says about `identity`, called with its `access_token`.
    async fn profile(
        &self,
        provider: &Provider,
        http: &ProviderHttp,
        identity: &Identity,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError>;

    /// Where the provider revokes tokens (RFC 7009), if it does.
    async fn revocation_endpoint(&self, provider: &Provider, http: &ProviderHttp)
    -> Option<String>;
}

/// A failed step of the authorization request or the code exchange: one
/// variant per failed check, with its source.
#[derive(Debug, thiserror::Error)]
pub enum CodeFlowError {
    #[error("the callback has no code")]
    NoCode,
    /// OAuth 1.0a: the callback names other temporary credentials than
    /// this sign-in's.
    #[error("the callback's oauth_token is not this sign-in's")]
    OtherTemporaryCredentials,
    /// RFC 9207 mix-up defence: the callback's `iss` names another issuer.
    #[error("the callback's iss {got:?} is not {expected:?}")]
    WrongIssuer { got: String, expected: String },
    #[error("the callback has no iss though the provider advertises it (RFC 9207)")]
    MissingIssuer,
    #[error("discovery names no token endpoint")]
    NoTokenEndpoint,
    #[error("the token response has no id_token")]
    NoIdToken,
    /// A sign-in parameter this protocol cannot honour or check.
    #[error("the provider's protocol cannot check the sign-in parameter {0}")]
    Unsupported(&'static str),
    #[error("the redirect URI is not a URL")]
    RedirectUri(#[source] url::ParseError),
    #[error("discovery failed")]
    Discovery(#[source] DiscoveryError),
    #[error("a call to the provider failed")]
    Provider(#[source] ApiError),
    #[error("userinfo failed")]
    Userinfo(#[source] UserinfoError),
    #[error("the ID token's signature was not verified")]
    Signature(#[source] SignedError),
    #[error("the ID token was refused")]
    IdToken(#[source] IdTokenError),
}

impl CodeFlowError {
    /// What the user is told.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::IdToken(err) if err.is_about_authentication() => {
                ErrorCode::AuthenticationNotConfirmed
            }
            Self::NoCode => ErrorCode::ProviderRejected,
            Self::OtherTemporaryCredentials => ErrorCode::SignInExpired,
            Self::WrongIssuer { .. }
            | Self::MissingIssuer
            | Self::NoTokenEndpoint
            | Self::NoIdToken
            | Self::IdToken(_) => ErrorCode::InvalidProviderResponse,
            Self::Unsupported(_) => ErrorCode::BadRequest,
            Self::RedirectUri(_) => ErrorCode::Internal,
            Self::Discovery(err) => err.code(),
            Self::Provider(err) => err.code(),
            Self::Userinfo(err) => err.code(),
            Self::Signature(err) => err.code(),
        }
    }
}

/// Why a refresh grant failed at the provider.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The provider no longer honours the grant (`invalid_grant`).
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
    Invalid(#[source] Box<dyn StdError + Send + Sync>),
    /// The provider is down, slow or limiting us: try again later.
    #[error("the provider could not refresh the tokens")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// The provider refused the refresh for another reason than an ended
    /// grant (`invalid_client`, `invalid_scope`, …): a misconfiguration.
    #[error("the provider refused the refresh")]
    Refused(#[source] ApiError),
}

impl GrantError {
    /// Whether the grant cannot go on.
    pub fn ends_grant(&self) -> bool {
        matches!(
            self,
            Self::Ended(_) | Self::IdentityChanged | Self::InvalidIdToken(_)
        )
    }

    /// Whether the provider's answer failed a check (rather than the
    /// provider being unreachable or the grant ending).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::InvalidIdToken(_) | Self::Invalid(_))
    }
}

impl From<ApiError> for GrantError {
    /// A failed token request: the grant ended (`invalid_grant`), the
    /// provider is down, or it answered something that fails our checks.
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Refused { error, .. } if error == "invalid_grant" => Self::Ended(error),
            ApiError::Refused { .. } | ApiError::Unauthorized(_) => Self::Refused(err),
            ApiError::Http(_) | ApiError::RateLimited(_) => Self::Unavailable(Box::new(err)),
            ApiError::Status { status, .. } if status.is_server_error() => {
                Self::Unavailable(Box::new(err))
            }
            ApiError::Status { .. }
            | ApiError::Shape(_)
            | ApiError::Invalid(_)
            | ApiError::NoVerifiedEmail => Self::Invalid(Box::new(err)),
        }
    }
}

impl From<DiscoveryError> for GrantError {
    fn from(err: DiscoveryError) -> Self {
        if err.is_temporary() {
            Self::Unavailable(Box::new(err))
        } else {
            Self::Invalid(Box::new(err))
        }
    }
}

/// Why the provider's API could not say who the user is.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0:?} is not an allowed upstream path")]
    NotAllowed(String),
    #[error("the session's provider is no longer configured")]
    UnknownProvider,
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Userinfo(#[from] UserinfoError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

impl ProfileError {
    /// Whether the provider refused the access token (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Self::Api(ApiError::Unauthorized(_))
                | Self::Userinfo(UserinfoError::Api(ApiError::Unauthorized(_)))
        )
    }

    /// What the user is told.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Api(err) => err.code(),
            Self::Userinfo(err) => err.code(),
            Self::Discovery(err) => err.code(),
            Self::NotAllowed(_) | Self::UnknownProvider => ErrorCode::Internal,
        }
    }
}
