//! Errors as the user sees them: a stable code, a plain sentence and a way
//! forward. The cause chain never travels to the browser; the server logs it.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Every failure a page or server function can report to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The request could not reach the server, or its answer was unreadable.
    #[error("We could not reach the server. Check your connection and try again.")]
    Unreachable,
    /// A required part of the service is down for now.
    #[error("This service is temporarily unavailable. Please try again in a moment.")]
    Unavailable,
    /// The requested page does not exist.
    #[error("There is nothing at this address.")]
    NotFound,
    /// The request itself could not be read (a query parameter given
    /// twice, invalid percent-encoding, a body of the wrong kind or size).
    #[error("We could not read this request. Check the link, or start again from the home page.")]
    BadRequest,
    /// A bug or an unexpected state on the server; details are in its log.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The user said no at the identity provider.
    #[error("You cancelled the sign-in. Nothing was shared with us.")]
    LoginCancelled,
    /// The login transaction is missing, expired, already used, or belongs
    /// to another browser or provider.
    #[error("This sign-in attempt has expired or was already used. Please start again.")]
    LoginExpired,
    /// The identity provider answered with an error.
    #[error("The identity provider refused the sign-in.")]
    ProviderRejected,
    /// The identity provider could not be reached, or was too slow.
    #[error("We could not reach the identity provider. Please try again in a moment.")]
    ProviderUnavailable,
    /// The provider's answer failed a security check.
    #[error(
        "The identity provider's answer failed our security checks, so you were not signed in."
    )]
    InvalidProviderResponse,
    /// No provider with that name is configured.
    #[error("This sign-in provider is not configured here.")]
    UnknownProvider,
    /// Too many requests from one client to the sign-in or back-channel
    /// endpoints.
    #[error("Too many sign-in attempts from your network. Please wait a minute, then try again.")]
    TooManyRequests,
    /// A state-changing request that did not come from this site.
    #[error("This request was refused because it did not come from this site.")]
    CrossSiteRequest,
    /// The provider account has no verified e-mail address to sign in with.
    #[error(
        "Your account at the identity provider has no verified e-mail address. Verify one there, then try again."
    )]
    NoVerifiedEmail,
    /// The provider is limiting requests for now.
    #[error(
        "The identity provider is limiting requests right now. Please try again in a few minutes."
    )]
    ProviderRateLimited,
    /// A new identity's e-mail belongs to an account that signs in another
    /// way; accounts are never joined by e-mail alone.
    #[error(
        "This e-mail belongs to an account that signs in another way. Sign in that way, then connect this provider from your profile."
    )]
    EmailInUse,
    /// The identity being connected already belongs to another account.
    #[error("This account at the identity provider is already connected to another account here.")]
    IdentityInUse,
    /// Disconnecting would leave the account with no way to sign in.
    #[error("You cannot disconnect your only way to sign in. Connect another provider first.")]
    LastIdentity,
    /// An action that needs a signed-in user.
    #[error("Please sign in first.")]
    NotSignedIn,
    /// The provider no longer honours the session's grant, so the session
    /// here has ended too.
    #[error("Your session with the identity provider ended. Please sign in again.")]
    SessionEnded,
    /// The app does not let this identity sign in.
    #[error(
        "This account is not allowed to sign in here. Sign in with another account, or ask this site's administrator for access."
    )]
    SignInRefused,
    /// The action needs a more recent sign-in than the session's.
    #[error("For your security, please sign in again to confirm it's you before going on.")]
    ReauthenticationRequired,
    /// The provider did not confirm the recent or stronger sign-in asked.
    #[error(
        "The identity provider did not confirm the recent or stronger sign-in this needs, so you were not signed in. Please try again."
    )]
    AuthenticationNotConfirmed,
    /// The API needs a sign-in with another provider than the session's.
    #[error("This service needs you to sign in with another provider.")]
    ApiWrongProvider,
    /// The provider would not issue a token for the API's resource or
    /// scopes: the sign-in did not grant them (the API was added since,
    /// or the user declined).
    #[error(
        "Your sign-in does not give this site access to this service. Sign in again to grant it."
    )]
    ApiNotGranted,
    /// The request body is larger than the API takes.
    #[error("This request is too large for this service.")]
    ApiRequestTooLarge,
    /// The API did not accept the session's access token, even refreshed.
    #[error("This service did not accept your sign-in. Please sign in again.")]
    ApiTokenRefused,
    /// The API took too long to answer.
    #[error("This service took too long to answer. Please try again.")]
    ApiTimeout,
    /// The API could not be reached, or its answer was unusable.
    #[error("We could not reach this service. Please try again in a moment.")]
    ApiUnreachable,
    /// The app's own API answered with an error of its own (not one of
    /// Portcullis's).
    #[error("The service could not do this right now. Please try again.")]
    ApiFailed,
}

impl AppError {
    /// Stable code shown to the user and searchable in the server log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable => "PC-NET-001",
            Self::Unavailable => "PC-SVC-503",
            Self::NotFound => "PC-WEB-404",
            Self::BadRequest => "PC-WEB-400",
            Self::Internal => "PC-SRV-500",
            Self::LoginCancelled => "PC-AUTH-001",
            Self::LoginExpired => "PC-AUTH-002",
            Self::ProviderRejected => "PC-AUTH-003",
            Self::ProviderUnavailable => "PC-AUTH-004",
            Self::InvalidProviderResponse => "PC-AUTH-005",
            Self::UnknownProvider => "PC-AUTH-006",
            Self::CrossSiteRequest => "PC-SEC-403",
            Self::TooManyRequests => "PC-SEC-429",
            Self::NoVerifiedEmail => "PC-AUTH-007",
            Self::ProviderRateLimited => "PC-AUTH-008",
            Self::EmailInUse => "PC-AUTH-009",
            Self::IdentityInUse => "PC-AUTH-010",
            Self::LastIdentity => "PC-AUTH-011",
            Self::NotSignedIn => "PC-AUTH-401",
            Self::SessionEnded => "PC-AUTH-012",
            Self::SignInRefused => "PC-AUTH-013",
            Self::ReauthenticationRequired => "PC-AUTH-014",
            Self::AuthenticationNotConfirmed => "PC-AUTH-015",
            Self::ApiWrongProvider => "PC-API-403",
            Self::ApiNotGranted => "PC-API-001",
            Self::ApiRequestTooLarge => "PC-API-413",
            Self::ApiTokenRefused => "PC-API-401",
            Self::ApiTimeout => "PC-API-504",
            Self::ApiUnreachable => "PC-API-502",
            Self::ApiFailed => "PC-NET-002",
        }
    }

    /// Every error, for lookups by code.
    pub const ALL: [AppError; 30] = [
        Self::Unreachable,
        Self::Unavailable,
        Self::NotFound,
        Self::BadRequest,
        Self::Internal,
        Self::LoginCancelled,
        Self::LoginExpired,
        Self::ProviderRejected,
        Self::ProviderUnavailable,
        Self::InvalidProviderResponse,
        Self::UnknownProvider,
        Self::CrossSiteRequest,
        Self::TooManyRequests,
        Self::NoVerifiedEmail,
        Self::ProviderRateLimited,
        Self::EmailInUse,
        Self::IdentityInUse,
        Self::LastIdentity,
        Self::NotSignedIn,
        Self::SessionEnded,
        Self::SignInRefused,
        Self::ReauthenticationRequired,
        Self::AuthenticationNotConfirmed,
        Self::ApiWrongProvider,
        Self::ApiNotGranted,
        Self::ApiRequestTooLarge,
        Self::ApiTokenRefused,
        Self::ApiTimeout,
        Self::ApiUnreachable,
        Self::ApiFailed,
    ];

    /// The error with this stable code, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|err| err.code() == code)
    }

    /// HTTP status of a page showing this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unreachable | Self::ProviderUnavailable => 502,
            Self::ProviderRateLimited => 503,
            Self::NoVerifiedEmail | Self::LastIdentity => 422,
            Self::EmailInUse | Self::IdentityInUse => 409,
            Self::NotSignedIn | Self::SessionEnded | Self::ReauthenticationRequired => 401,
            Self::Unavailable => 503,
            Self::NotFound | Self::UnknownProvider => 404,
            Self::BadRequest => 400,
            Self::Internal => 500,
            Self::LoginCancelled
            | Self::LoginExpired
            | Self::ProviderRejected
            | Self::InvalidProviderResponse
            | Self::AuthenticationNotConfirmed => 400,
            Self::CrossSiteRequest | Self::SignInRefused => 403,
            Self::TooManyRequests => 429,
            Self::ApiWrongProvider | Self::ApiNotGranted => 403,
            Self::ApiRequestTooLarge => 413,
            Self::ApiTokenRefused => 401,
            Self::ApiTimeout => 504,
            Self::ApiUnreachable | Self::ApiFailed => 502,
        }
    }

    /// Whether starting the sign-in again is the natural way forward.
    pub fn retry_sign_in(&self) -> bool {
        matches!(
            self,
            Self::LoginCancelled
                | Self::LoginExpired
                | Self::ProviderRejected
                | Self::ProviderUnavailable
                | Self::InvalidProviderResponse
                | Self::NoVerifiedEmail
                | Self::ProviderRateLimited
                | Self::SignInRefused
                | Self::ReauthenticationRequired
                | Self::AuthenticationNotConfirmed
        )
    }

    /// Short title for the error page.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Unreachable => "Connection problem",
            Self::Unavailable => "Temporarily unavailable",
            Self::NotFound => "Page not found",
            Self::BadRequest => "Request not understood",
            Self::Internal => "Something went wrong",
            Self::LoginCancelled => "Sign-in cancelled",
            Self::LoginExpired => "Sign-in expired",
            Self::ProviderRejected => "Sign-in refused",
            Self::ProviderUnavailable => "Identity provider unreachable",
            Self::InvalidProviderResponse => "Sign-in failed a security check",
            Self::UnknownProvider => "Unknown sign-in provider",
            Self::CrossSiteRequest => "Request refused",
            Self::TooManyRequests => "Too many attempts",
            Self::NoVerifiedEmail => "No verified e-mail address",
            Self::ProviderRateLimited => "Too many requests",
            Self::EmailInUse => "This e-mail already has an account",
            Self::IdentityInUse => "Already connected elsewhere",
            Self::LastIdentity => "Cannot disconnect",
            Self::NotSignedIn => "Not signed in",
            Self::SessionEnded => "Session ended",
            Self::SignInRefused => "Sign-in not allowed",
            Self::ReauthenticationRequired => "Confirm it's you",
            Self::AuthenticationNotConfirmed => "Sign-in not confirmed",
            Self::ApiWrongProvider => "Another sign-in needed",
            Self::ApiNotGranted => "Access not granted",
            Self::ApiRequestTooLarge => "Request too large",
            Self::ApiTokenRefused => "Sign-in not accepted",
            Self::ApiTimeout => "Service too slow",
            Self::ApiUnreachable => "Service unreachable",
            Self::ApiFailed => "Service error",
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => Self::Unreachable,
            ServerFnErrorErr::Deserialization(_) | ServerFnErrorErr::Serialization(_) => {
                Self::Unreachable
            }
            _ => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_stable() {
        let mut codes: Vec<_> = AppError::ALL.iter().map(AppError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AppError::ALL.len());
        assert_eq!(AppError::Internal.code(), "PC-SRV-500");
        assert_eq!(AppError::LoginExpired.code(), "PC-AUTH-002");
    }

    #[test]
    fn every_code_maps_back_to_its_error() {
        for err in AppError::ALL {
            assert_eq!(AppError::from_code(err.code()), Some(err.clone()));
            assert!(err.status() >= 400, "{err:?}");
        }
        assert_eq!(AppError::from_code("PC-NOPE"), None);
    }

    #[test]
    fn transport_failures_read_as_connection_problems() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::Request("reset".into()));
        assert_eq!(err, AppError::Unreachable);
        assert!(!err.to_string().contains("reset"));
    }
}
