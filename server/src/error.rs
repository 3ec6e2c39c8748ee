//! What a user is told when something fails: a stable code, a short title
//! and a plain sentence, never the cause (that goes to the log). Every
//! failure Portcullis answers with, as a JSON body or a page, is one of
//! these.

use http::StatusCode;

/// A failure as the user sees it. The code is stable across releases and
/// searchable in the server log; the title and message are written for the
/// person who clicked "Sign in". An app that shows its own pages maps the
/// [`code`](Self::code) to its own wording.
///
/// The JSON error body is `{"error": "<code>", "message": "<message>"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A required part of the service (a store) is down for now.
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
    /// The user said no at the identity provider (`access_denied`).
    #[error("You cancelled the sign-in. Nothing was shared with us.")]
    SignInCancelled,
    /// The sign-in in progress is missing, expired, already used, or
    /// belongs to another browser or provider.
    #[error("This sign-in attempt has expired or was already used. Please start again.")]
    SignInExpired,
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
    /// The app does not let this identity sign in (its sign-in hook said
    /// no).
    #[error(
        "This account is not allowed to sign in here. Sign in with another account, or ask this site's administrator for access."
    )]
    SignInRefused,
    /// The action needs a more recent sign-in than the session's (a
    /// step-up): the user signs in again, then goes on.
    #[error("For your security, please sign in again to confirm it's you before going on.")]
    ReauthenticationRequired,
    /// The identity provider's answer did not show the authentication the
    /// sign-in asked for: a recent one (`max_age`, `prompt=login`) or a
    /// given strength (`acr_values`).
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
}

impl ErrorCode {
    /// Every code, for lookups.
    pub const ALL: &'static [ErrorCode] = &[
        Self::Unavailable,
        Self::NotFound,
        Self::BadRequest,
        Self::Internal,
        Self::SignInCancelled,
        Self::SignInExpired,
        Self::ProviderRejected,
        Self::ProviderUnavailable,
        Self::InvalidProviderResponse,
        Self::UnknownProvider,
        Self::TooManyRequests,
        Self::CrossSiteRequest,
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
    ];

    /// The stable code, e.g. `PC-AUTH-002`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Unavailable => "PC-SVC-503",
            Self::NotFound => "PC-WEB-404",
            Self::BadRequest => "PC-WEB-400",
            Self::Internal => "PC-SRV-500",
            Self::SignInCancelled => "PC-AUTH-001",
            Self::SignInExpired => "PC-AUTH-002",
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
        }
    }

    /// The code with this stable text, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|err| err.code() == code)
    }

    /// The HTTP status an answer with this code carries.
    pub fn status(self) -> StatusCode {
        match self {
            Self::ProviderUnavailable => StatusCode::BAD_GATEWAY,
            Self::ProviderRateLimited | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::NoVerifiedEmail | Self::LastIdentity => StatusCode::UNPROCESSABLE_ENTITY,
            Self::EmailInUse | Self::IdentityInUse => StatusCode::CONFLICT,
            Self::NotSignedIn | Self::SessionEnded | Self::ReauthenticationRequired => {
                StatusCode::UNAUTHORIZED
            }
            Self::NotFound | Self::UnknownProvider => StatusCode::NOT_FOUND,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadRequest
            | Self::SignInCancelled
            | Self::SignInExpired
            | Self::ProviderRejected
            | Self::InvalidProviderResponse
            | Self::AuthenticationNotConfirmed => StatusCode::BAD_REQUEST,
            Self::CrossSiteRequest | Self::SignInRefused => StatusCode::FORBIDDEN,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::ApiWrongProvider | Self::ApiNotGranted => StatusCode::FORBIDDEN,
            Self::ApiRequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ApiTokenRefused => StatusCode::UNAUTHORIZED,
            Self::ApiTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::ApiUnreachable => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short title for a page showing this error.
    pub fn title(self) -> &'static str {
        match self {
            Self::Unavailable => "Temporarily unavailable",
            Self::NotFound => "Page not found",
            Self::BadRequest => "Request not understood",
            Self::Internal => "Something went wrong",
            Self::SignInCancelled => "Sign-in cancelled",
            Self::SignInExpired => "Sign-in expired",
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_map_back_to_their_error() {
        let mut codes: Vec<_> = ErrorCode::ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        for err in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(err.code()), Some(*err));
            assert!(err.status().is_client_error() || err.status().is_server_error());
        }
        assert_eq!(ErrorCode::from_code("PC-NOPE"), None);
    }
}
