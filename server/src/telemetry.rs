//! Logging setup. `RUST_LOG` chooses the level (default: info for
//! Portcullis, warn for dependencies).

use std::{error::Error, fmt::Write as _};

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Safe to call more than once (tests).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,server=info,app=info"));
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}

/// An error with all its causes, "outer: middle: inner", for the log.
pub fn cause_chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let _ = write!(text, ": {inner}");
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn cause_chain_lists_every_source() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(cause_chain(&err), "outer: inner");
    }
}
