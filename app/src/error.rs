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
    /// A bug or an unexpected state on the server; details are in its log.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl AppError {
    /// Stable code shown to the user and searchable in the server log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable => "PC-NET-001",
            Self::Unavailable => "PC-SVC-503",
            Self::NotFound => "PC-WEB-404",
            Self::Internal => "PC-SRV-500",
        }
    }

    /// Short title for the error page.
    pub fn title(&self) -> &'static str {
        match self {
            Self::Unreachable => "Connection problem",
            Self::Unavailable => "Temporarily unavailable",
            Self::NotFound => "Page not found",
            Self::Internal => "Something went wrong",
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
        let all = [
            AppError::Unreachable,
            AppError::Unavailable,
            AppError::NotFound,
            AppError::Internal,
        ];
        let mut codes: Vec<_> = all.iter().map(AppError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert_eq!(AppError::Internal.code(), "PC-SRV-500");
    }

    #[test]
    fn transport_failures_read_as_connection_problems() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::Request("reset".into()));
        assert_eq!(err, AppError::Unreachable);
        assert!(!err.to_string().contains("reset"));
    }
}
