//! Why a step of `/auth/*` failed: one variant per failed check, with its
//! source kept for the log, and the one mapping from each to the code the
//! user is told ([`FlowError::code`]).

use std::{error::Error as StdError, fmt::Write as _};

use axum::response::{IntoResponse, Response};

use super::{ERROR_PAGE, redirect};
use crate::{
    error::ErrorCode,
    flow::params::ParamError,
    hooks::HookError,
    providers::protocol::CodeFlowError,
    telemetry::{cause_chain, escaped},
};

/// A failed check or step of signing in, connecting, disconnecting or
/// signing out.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FlowError {
    #[error("no provider {0:?} is configured")]
    UnknownProvider(String),
    #[error("no sign-in in progress in this browser has this state")]
    NoSignInInProgress,
    #[error("the sign-in was started with {started:?}, not this provider")]
    OtherProvider { started: String },
    #[error("the sign-in in progress expired")]
    SignInExpired,
    #[error("the session changed while connecting a provider")]
    SessionChanged,
    #[error(transparent)]
    Parameter(#[from] ParamError),
    #[error("the provider answered error={0}")]
    ProviderAnswered(String),
    /// A step at the provider: the authorization request, or the code
    /// exchange and the checks of its answer.
    #[error(transparent)]
    CodeFlow(#[from] CodeFlowError),
    #[error("the app's sign-in hook stopped the sign-in")]
    Hook(#[source] HookError),
    #[error("a new identity's verified e-mail belongs to an account using {existing:?}")]
    EmailInUse { existing: String },
    #[error("the identity signs into another account")]
    IdentityInUse,
    #[error("refused to disconnect the account's last identity")]
    LastIdentity,
    #[error("a state-changing request without a same-origin Origin or Sec-Fetch-Site header")]
    CrossSite,
    #[error("not signed in")]
    NotSignedIn,
    #[error("a store failed")]
    Store(#[source] Box<dyn StdError + Send + Sync>),
}

impl FlowError {
    /// A store's failure.
    pub(crate) fn store(err: impl StdError + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(err))
    }

    /// What the user is told.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownProvider(_) => ErrorCode::UnknownProvider,
            Self::NoSignInInProgress
            | Self::OtherProvider { .. }
            | Self::SignInExpired
            | Self::SessionChanged => ErrorCode::SignInExpired,
            Self::ProviderAnswered(error) if error == "access_denied" => ErrorCode::SignInCancelled,
            Self::ProviderAnswered(_) => ErrorCode::ProviderRejected,
            Self::CodeFlow(err) => err.code(),
            Self::Parameter(_) => ErrorCode::BadRequest,
            Self::Hook(HookError::Refused) => ErrorCode::SignInRefused,
            Self::Hook(_) | Self::Store(_) => ErrorCode::Unavailable,
            Self::EmailInUse { .. } => ErrorCode::EmailInUse,
            Self::IdentityInUse => ErrorCode::IdentityInUse,
            Self::LastIdentity => ErrorCode::LastIdentity,
            Self::CrossSite => ErrorCode::CrossSiteRequest,
            Self::NotSignedIn => ErrorCode::NotSignedIn,
        }
    }

    /// This failure, at `provider`.
    pub(crate) fn at(self, provider: &str) -> Failure {
        Failure {
            error: self,
            provider: Some(provider.to_owned()),
        }
    }
}

/// A failed step as the browser is told: a redirect to the error page with
/// the code (and the provider); the cause chain goes to the log.
#[derive(Debug)]
pub struct Failure {
    error: FlowError,
    provider: Option<String>,
}

impl From<FlowError> for Failure {
    fn from(error: FlowError) -> Self {
        Self {
            error,
            provider: None,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let code = self.error.code();
        tracing::warn!(
            code = code.code(),
            provider = self.provider.as_deref().map(escaped).unwrap_or_default(),
            "sign-in flow failed: {}",
            escaped(&cause_chain(&self.error))
        );
        let mut location = format!("{ERROR_PAGE}?code={}", code.code());
        if let Some(provider) = &self.provider {
            let _ = write!(location, "&provider={provider}");
        }
        if let FlowError::EmailInUse { existing } = &self.error {
            let _ = write!(location, "&existing={existing}");
        }
        redirect(&location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_callback_check_keeps_its_own_cause_and_tells_one_code() {
        for (err, code, cause) in [
            (
                FlowError::NoSignInInProgress,
                ErrorCode::SignInExpired,
                "no sign-in in progress",
            ),
            (
                FlowError::OtherProvider {
                    started: "github".into(),
                },
                ErrorCode::SignInExpired,
                "started with \"github\"",
            ),
            (
                FlowError::SignInExpired,
                ErrorCode::SignInExpired,
                "expired",
            ),
            (
                FlowError::ProviderAnswered("access_denied".into()),
                ErrorCode::SignInCancelled,
                "error=access_denied",
            ),
            (
                FlowError::ProviderAnswered("server_error".into()),
                ErrorCode::ProviderRejected,
                "error=server_error",
            ),
            (
                FlowError::CodeFlow(CodeFlowError::WrongIssuer {
                    got: "https://evil.test".into(),
                    expected: "https://idp.test".into(),
                }),
                ErrorCode::InvalidProviderResponse,
                "https://evil.test",
            ),
            (
                FlowError::Hook(HookError::Refused),
                ErrorCode::SignInRefused,
                "hook",
            ),
        ] {
            assert_eq!(err.code(), code, "{err}");
            assert!(cause_chain(&err).contains(cause), "{}", cause_chain(&err));
        }
    }

    #[test]
    fn a_store_failure_keeps_its_source_for_the_log() {
        let err = FlowError::store(std::io::Error::other("disk on fire"));
        assert_eq!(err.code(), ErrorCode::Unavailable);
        assert!(cause_chain(&err).contains("disk on fire"));
    }
}
