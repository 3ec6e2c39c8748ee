//! Logging setup. `RUST_LOG` chooses the level (default: info for
//! Portcullis, warn for dependencies).

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Safe to call more than once (tests).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,server=info,app=info"));
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}
