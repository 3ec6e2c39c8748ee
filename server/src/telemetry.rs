//! Logging setup. `RUST_LOG` chooses the level (default: info for
//! Portcullis and the reference app, warn for everything else).

use std::{error::Error, fmt::Write as _};

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Safe to call more than once (tests).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("warn,portcullis=info,reference=info,server=info,app=info")
    });
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}

/// An error with all its causes, "outer: middle: inner", for the log,
/// [`escaped`]: causes may quote what a request or a provider sent.
pub fn cause_chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let _ = write!(text, ": {inner}");
        source = inner.source();
    }
    escaped(&text)
}

/// `text` with every control character (line breaks included) and
/// Unicode line or paragraph separator written as an escape (`\n`,
/// `\u{2028}`), so a value from a request can never start a log line of
/// its own.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn request_values_cannot_forge_log_lines() {
        let forged =
            "access_denied\n2026-11-30T00:00:00Z  INFO user signed in\r\u{2028}x\u{1b}[31m";
        let text = escaped(forged);
        assert!(!text.contains(['\n', '\r', '\u{2028}', '\u{1b}']), "{text}");
        assert!(text.starts_with("access_denied\\n2026"), "{text}");
        assert_eq!(escaped("plain text: ünïcode"), "plain text: ünïcode");
        let err = Outer(std::io::Error::other("line\nbreak"));
        assert_eq!(cause_chain(&err), "outer: line\\nbreak");
    }

    #[test]
    fn cause_chain_lists_every_source() {
        let err = Outer(std::io::Error::other("inner"));
        assert_eq!(cause_chain(&err), "outer: inner");
    }
}
