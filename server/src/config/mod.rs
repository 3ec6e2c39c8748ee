//! Settings: read once at start from the environment and `portcullis.toml`
//! (see [`file`]), validated as a whole.
//! Every problem is collected and reported together, naming the variable,
//! so a misconfigured deployment is fixed in one round.
//!
//! Providers are declared the way Authlib users know:
//! `AUTH_PROVIDERS=local,acme`, then `<NAME>_CLIENT_ID`,
//! `<NAME>_CLIENT_SECRET`, `<NAME>_ISSUER`, optional `<NAME>_SCOPES` and
//! `<NAME>_LABEL`.

mod builder;
pub mod file;
mod provider;

pub use builder::{ProviderConfig, SettingsBuilder};

use std::{collections::HashMap, fmt, path::PathBuf, time::Duration};

use crate::{http_client::Limits, providers::ProviderSettings, secret::Secret, vault::KeyRing};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Origin users reach us at (`APP_PUBLIC_URL`), without trailing slash.
    /// Redirect URIs are built from it, never from the Host header.
    pub(crate) public_url: String,
    /// The app's page for a failed sign-in (a path such as `/error`), sent
    /// `?code=PC-...&provider=...`; `None` (the default): Portcullis's own
    /// plain page at `/auth/error`.
    pub(crate) error_page: Option<String>,
    /// Where a page navigation that needs a signed-in user is sent, with
    /// `?return_to=` (`APP_SIGN_IN_PAGE`; default Portcullis's own
    /// `/auth/sign-in`); `None` (`off`): it is told 401 like an API call.
    pub(crate) sign_in_page: Option<String>,
    /// Configured identity providers, in `AUTH_PROVIDERS` order.
    pub(crate) providers: Vec<ProviderSettings>,
    /// Where users (and by default everything else) live
    /// (`DATABASE_URL`); a SQLite file by default.
    pub(crate) database_url: Secret,
    /// Where sessions, tokens and locks live when not in the database
    /// (`SESSION_STORE_URL`: SQLite, PostgreSQL or Redis).
    pub(crate) session_store_url: Option<Secret>,
    /// Prefix of every Redis key (`SESSION_STORE_PREFIX`).
    pub(crate) session_store_prefix: String,
    /// Keys sealing the token vault (`TOKEN_ENCRYPTION_KEYS`); `None`
    /// means a random key for this process only.
    pub(crate) token_keys: Option<KeyRing>,
    /// How long a started sign-in may take (`LOGIN_TIMEOUT_SECONDS`).
    pub(crate) sign_in_ttl: Duration,
    /// Limits of every call to a provider (`PROVIDER_TIMEOUT_SECONDS`).
    pub(crate) provider_limits: Limits,
    /// A session unused this long is signed out
    /// (`SESSION_IDLE_TIMEOUT_SECONDS`).
    pub(crate) session_idle: Duration,
    /// A session this old is signed out, used or not
    /// (`SESSION_ABSOLUTE_TIMEOUT_SECONDS`).
    pub(crate) session_absolute: Duration,
    /// Access tokens expiring within this are refreshed before use
    /// (`TOKEN_REFRESH_SKEW_SECONDS`).
    pub(crate) refresh_skew: Duration,
    /// How long an access token is taken to last when the token response
    /// does not say (`expires_in` missing or unreadable) and a refresh
    /// token can renew it (`ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS`).
    pub(crate) access_token_default_lifetime: Duration,
    /// Requests a client may make per minute to start sign-ins and to the
    /// callback (`RATE_LIMIT_SIGN_IN_PER_MINUTE`, 120; 0 = no limit).
    pub(crate) sign_in_per_minute: u32,
    /// Logout tokens a client may post per minute
    /// (`RATE_LIMIT_BACKCHANNEL_PER_MINUTE`, 600; 0 = no limit).
    pub(crate) backchannel_per_minute: u32,
    /// The header a proxy names the client's address in
    /// (`CLIENT_IP_HEADER`, e.g. `X-Forwarded-For`); none: the peer's.
    pub(crate) client_ip_header: Option<http::HeaderName>,
    /// How long a refresh lock is held before its holder renews it; one
    /// that crashed mid-refresh frees it after this
    /// (`REFRESH_LOCK_SECONDS`, 2–300).
    pub(crate) refresh_lock_lease: Duration,
    /// How often sessions in use get their tokens refreshed ahead of
    /// expiry; `None` turns that off (`BACKGROUND_REFRESH_SECONDS`, 0).
    pub(crate) background_refresh: Option<Duration>,
    /// How long a signed-in session's records are read from memory before
    /// the store is asked again (`SESSION_CACHE_SECONDS`, 0 = never; see
    /// `cache.rs` for what this means across instances).
    pub(crate) session_cache: Duration,
}

/// All configuration problems found, one sentence each naming the
/// variable (or settings-file key) it is about. `Display` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblems(pub(crate) Vec<String>);

impl ConfigProblems {
    /// Problems found by the app in its own settings, to report with
    /// Portcullis's in the same list.
    pub fn new(problems: impl IntoIterator<Item = String>) -> Self {
        Self(problems.into_iter().collect())
    }

    /// Each problem, one sentence.
    pub fn problems(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "configuration has {count} {noun}:")?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigProblems {}

/// Portcullis's own sign-in page (`pages.rs`), where a page navigation
/// that needs a signed-in user goes unless `APP_SIGN_IN_PAGE` says
/// otherwise.
pub(crate) const DEFAULT_SIGN_IN_PAGE: &str = "/auth/sign-in";

/// Where users reach the app when `APP_PUBLIC_URL` is not set: a local
/// development server.
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:3000";
const DEFAULT_DATABASE_URL: &str = "sqlite://portcullis.db";
/// Ten minutes to finish signing in at the provider.
const DEFAULT_SIGN_IN_TIMEOUT: u64 = 600;
/// Eight hours without a request signs a session out.
const DEFAULT_SESSION_IDLE: u64 = 8 * 3600;
/// A week after signing in, a session must sign in again.
const DEFAULT_SESSION_ABSOLUTE: u64 = 7 * 86_400;
/// A provider that has not answered in 15 s is treated as down.
const DEFAULT_PROVIDER_TIMEOUT: u64 = 15;
/// Whether a store URL keeps nothing past the process (tests, throwaway
/// runs), so a per-process vault key is enough.
fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite::memory:") || url.contains("mode=memory") || url == "memory:"
}

/// Seconds an access token of unstated lifetime is taken to last
/// (`ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS`).
const DEFAULT_TOKEN_LIFETIME: u64 = 3600;
/// Seconds a session's records are read from memory (`SESSION_CACHE_SECONDS`).
const DEFAULT_SESSION_CACHE: u64 = 2;

impl Settings {
    /// Reads the process environment and the settings file.
    pub fn from_env() -> Result<Self, ConfigProblems> {
        Self::from_file_and_vars(&std::env::vars().collect())
    }

    /// `env` over the settings file: the one `PORTCULLIS_CONFIG` names
    /// (which must exist), else `portcullis.toml` in the working directory
    /// when there is one. A variable set in `env` wins over the file.
    pub fn from_file_and_vars(env: &HashMap<String, String>) -> Result<Self, ConfigProblems> {
        let (vars, problems) = Self::file_under(env);
        Self::after(problems, Self::from_vars(&vars))
    }

    /// `result`, failing with the `earlier` problems first.
    fn after(
        mut earlier: Vec<String>,
        result: Result<Self, ConfigProblems>,
    ) -> Result<Self, ConfigProblems> {
        match result {
            Ok(settings) if earlier.is_empty() => Ok(settings),
            Ok(_) => Err(ConfigProblems(earlier)),
            Err(ConfigProblems(more)) => {
                earlier.extend(more);
                Err(ConfigProblems(earlier))
            }
        }
    }

    /// The settings file's variables with `env` over them, and the file's
    /// problems.
    fn file_under(env: &HashMap<String, String>) -> (HashMap<String, String>, Vec<String>) {
        let named = env
            .get("PORTCULLIS_CONFIG")
            .map(|p| p.trim())
            .filter(|p| !p.is_empty());
        let path = match named {
            Some(path) => Some(PathBuf::from(path)),
            None => Some(PathBuf::from(file::DEFAULT_PATH)).filter(|p| p.exists()),
        };
        let (mut vars, problems) = match path.as_deref().map(file::read) {
            None => (HashMap::new(), Vec::new()),
            Some(Ok(vars)) => (vars, Vec::new()),
            Some(Err(problems)) => (HashMap::new(), problems),
        };
        if let Some(path) = &path {
            tracing::info!("settings file: {}", path.display());
        }
        vars.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        (vars, problems)
    }

    /// Builds settings from `vars`, collecting every problem.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigProblems> {
        let mut problems = Vec::new();
        let get = |key: &str| vars.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());

        let public_url = match get("APP_PUBLIC_URL") {
            Some(url) => match parse_public_url(url) {
                Ok(url) => url,
                Err(why) => {
                    problems.push(format!("APP_PUBLIC_URL {why}"));
                    String::new()
                }
            },
            None => DEFAULT_PUBLIC_URL.to_owned(),
        };

        let error_page = get("APP_ERROR_PAGE").and_then(|path| {
            let valid = crate::flow::return_to::validate(path);
            if valid.is_none() {
                problems.push(format!(
                    "APP_ERROR_PAGE must be a path on this site such as /error, not {path:?}"
                ));
            }
            valid.map(str::to_owned)
        });
        let sign_in_page = match get("APP_SIGN_IN_PAGE") {
            None => Some(DEFAULT_SIGN_IN_PAGE.to_owned()),
            Some("off") => None,
            Some(path) => {
                let valid = crate::flow::return_to::validate(path);
                if valid.is_none() {
                    problems.push(format!(
                        "APP_SIGN_IN_PAGE must be a path on this site such as /login, or off, \
                         not {path:?}"
                    ));
                }
                valid.map(str::to_owned)
            }
        };
        let providers = provider::parse(&get, &mut problems);

        let database_url = get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL);
        if !crate::db::is_supported_url(database_url) {
            problems.push(
                "DATABASE_URL must be a sqlite: or postgres:// URL \
                 (e.g. sqlite://portcullis.db or postgres://user@host/portcullis)"
                    .to_owned(),
            );
        }

        let session_store_url = get("SESSION_STORE_URL");
        if let Some(url) = session_store_url
            && !crate::store::is_supported_url(url)
        {
            problems.push(
                "SESSION_STORE_URL must be a sqlite:, postgres:// or redis:// URL, or memory: \
                 (this process only, for tests)"
                    .to_owned(),
            );
        }
        let session_store_prefix = get("SESSION_STORE_PREFIX").unwrap_or("portcullis");
        if !session_store_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            problems.push(
                "SESSION_STORE_PREFIX may hold letters, digits, '-', '_' and '.' only".to_owned(),
            );
        }

        let token_keys = match get("TOKEN_ENCRYPTION_KEYS").map(KeyRing::parse) {
            None => None,
            Some(Ok(keys)) => Some(keys),
            Some(Err(why)) => {
                problems.push(format!("TOKEN_ENCRYPTION_KEYS: {why}"));
                None
            }
        };
        // Tokens sealed with a key of this process alone cannot be opened
        // after a restart or by another instance, while the sessions that
        // point to them live on in a persistent store.
        let store_url = session_store_url.unwrap_or(database_url);
        if get("TOKEN_ENCRYPTION_KEYS").is_none() && !is_in_memory(store_url) {
            problems.push(
                "TOKEN_ENCRYPTION_KEYS is not set, and sessions are kept in a persistent store: \
                 set it to `k1:` followed by 32 random bytes in base64 \
                 (`head -c 32 /dev/urandom | base64`), the same on every instance"
                    .to_owned(),
            );
        }

        let mut seconds = |key: &str, default: u64, max: u64| match get(key) {
            None => Duration::from_secs(default),
            Some(value) => match value.parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Duration::from_secs(n),
                _ => {
                    problems.push(format!(
                        "{key} must be a whole number of seconds from 1 to {max}, not \"{value}\""
                    ));
                    Duration::from_secs(default)
                }
            },
        };
        let sign_in_ttl = seconds("LOGIN_TIMEOUT_SECONDS", DEFAULT_SIGN_IN_TIMEOUT, 3600);
        let provider_timeout = seconds("PROVIDER_TIMEOUT_SECONDS", DEFAULT_PROVIDER_TIMEOUT, 120);
        let session_idle = seconds(
            "SESSION_IDLE_TIMEOUT_SECONDS",
            DEFAULT_SESSION_IDLE,
            30 * 86_400,
        );
        let session_absolute = seconds(
            "SESSION_ABSOLUTE_TIMEOUT_SECONDS",
            DEFAULT_SESSION_ABSOLUTE,
            365 * 86_400,
        );
        let refresh_skew = seconds("TOKEN_REFRESH_SKEW_SECONDS", 60, 3600);
        let refresh_lock_lease =
            seconds("REFRESH_LOCK_SECONDS", 30, 300).max(Duration::from_secs(2));
        let access_token_default_lifetime = seconds(
            "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS",
            DEFAULT_TOKEN_LIFETIME,
            86_400,
        );
        let background_refresh = match get("BACKGROUND_REFRESH_SECONDS") {
            Some("0") => None,
            _ => Some(seconds("BACKGROUND_REFRESH_SECONDS", 30, 3600)),
        };
        let session_cache = match get("SESSION_CACHE_SECONDS") {
            None => Duration::from_secs(DEFAULT_SESSION_CACHE),
            Some(value) => match value.parse::<u64>() {
                Ok(n) if n <= 60 => Duration::from_secs(n),
                _ => {
                    problems.push(format!(
                        "SESSION_CACHE_SECONDS must be a whole number of seconds from 0 (off) \
                         to 60, not \"{value}\""
                    ));
                    Duration::ZERO
                }
            },
        };
        // A default within the skew would refresh such a token on every use.
        if access_token_default_lifetime <= refresh_skew {
            problems.push(format!(
                "ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS ({}) must be longer than \
                 TOKEN_REFRESH_SKEW_SECONDS ({})",
                access_token_default_lifetime.as_secs(),
                refresh_skew.as_secs()
            ));
        }
        let mut per_minute = |key: &str, default: u32| match get(key) {
            None => default,
            Some(value) => value.parse::<u32>().unwrap_or_else(|_| {
                problems.push(format!(
                    "{key} must be a whole number of requests per minute (0 for no limit), \
                     not \"{value}\""
                ));
                default
            }),
        };
        let sign_in_per_minute = per_minute("RATE_LIMIT_SIGN_IN_PER_MINUTE", 120);
        let backchannel_per_minute = per_minute("RATE_LIMIT_BACKCHANNEL_PER_MINUTE", 600);
        let client_ip_header = match get("CLIENT_IP_HEADER") {
            None => None,
            Some(name) => match http::HeaderName::try_from(name) {
                Ok(header) => Some(header),
                Err(_) => {
                    problems.push(format!("CLIENT_IP_HEADER {name:?} is not a header name"));
                    None
                }
            },
        };
        let provider_limits = Limits {
            connect_timeout: provider_timeout.min(Limits::default().connect_timeout),
            total_timeout: provider_timeout,
            ..Limits::default()
        };

        if problems.is_empty() {
            Ok(Self {
                error_page,
                sign_in_page,
                public_url,
                providers,
                database_url: Secret::new(database_url),
                session_store_url: session_store_url.map(Secret::new),
                session_store_prefix: session_store_prefix.to_owned(),
                token_keys,
                sign_in_ttl,
                provider_limits,
                session_idle,
                session_absolute,
                refresh_skew,
                access_token_default_lifetime,
                refresh_lock_lease,
                sign_in_per_minute,
                backchannel_per_minute,
                client_ip_header,
                background_refresh,
                session_cache,
            })
        } else {
            Err(ConfigProblems(problems))
        }
    }
}

/// An origin: scheme `http` or `https`, a host, optional port, no path,
/// query or fragment.
fn parse_public_url(value: &str) -> Result<String, &'static str> {
    let trimmed = value.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() {
        return Err("has no host");
    }
    if rest.contains(['/', '?', '#', '@', ' ', '\\']) {
        return Err("must be an origin only (scheme, host and port, no path or query)");
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests;
