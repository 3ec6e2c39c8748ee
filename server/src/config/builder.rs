//! Settings written in code. Each method sets the environment variable it
//! names, and [`SettingsBuilder::build`] validates them exactly as
//! [`Settings::from_vars`] does: the same defaults, and every problem
//! reported at once, naming the variable.

use std::{collections::HashMap, fmt, time::Duration};

use super::{ConfigProblems, Settings, TokenPolicy};
use crate::providers::{ResponseMode, oauth2::ClientAuth};

/// Settings from code, optionally over the environment and the settings
/// file; made by [`Settings::builder`] or [`SettingsBuilder::from_env`].
///
/// ```
/// use std::time::Duration;
/// use portcullis::{ProviderConfig, Settings};
///
/// let settings = Settings::builder()
///     .public_url("https://app.example.com")
///     .database_url("sqlite::memory:")
///     .provider(ProviderConfig::new("github").client("Iv1.0123", "github-secret"))
///     .provider(
///         ProviderConfig::new("corp")
///             .issuer("https://id.corp.example")
///             .client("portcullis", "corp-secret")
///             .label("Corp SSO"),
///     )
///     .session_idle_timeout(Duration::from_secs(3600))
///     .build()
///     .expect("valid settings");
/// # drop(settings);
///
/// // Every problem at once, each naming its variable.
/// let problems = Settings::builder()
///     .public_url("ftp://app.example.com")
///     .provider(ProviderConfig::new("corp"))
///     .build()
///     .unwrap_err();
/// assert_eq!(problems.problems().len(), 5, "{problems}");
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct SettingsBuilder {
    /// The environment the file is read under, when there is one.
    env: Option<HashMap<String, String>>,
    /// What was set in code.
    vars: HashMap<String, String>,
    /// Providers added in code, in order.
    providers: Vec<String>,
    /// Upstream APIs added in code, in order.
    remote_apis: Vec<String>,
}

impl Settings {
    /// Settings from code alone: nothing is read from the environment or
    /// a file; what is not set takes its documented default.
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::default()
    }
}

impl SettingsBuilder {
    /// Starts from the process environment over the settings file (as
    /// [`Settings::from_env`]); what is set in code wins over both.
    pub fn from_env() -> Self {
        Self::from_vars(super::env_vars())
    }

    /// Starts from `vars` (variable name, value) over the settings file, as
    /// if they were the environment.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            env: Some(vars.into_iter().collect()),
            ..Self::default()
        }
    }

    fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars.insert(key.to_owned(), value.into());
        self
    }

    /// Sets any variable by its name, e.g. `("LOCAL_ISSUER", "...")`: the
    /// settings reference in the README lists them all.
    pub fn var(self, name: &str, value: &str) -> Self {
        self.set(name, value)
    }

    fn seconds(self, key: &str, duration: Duration) -> Self {
        self.set(key, seconds_text(duration))
    }

    /// The origin users reach the app at, e.g. `https://app.example.com`
    /// (`APP_PUBLIC_URL`; default `http://127.0.0.1:3000`). Redirect URIs
    /// are `<origin>/auth/callback/<provider>`.
    pub fn public_url(self, origin: &str) -> Self {
        self.set("APP_PUBLIC_URL", origin)
    }

    /// The app's page for a failed sign-in, a path such as `/error`
    /// (`APP_ERROR_PAGE`); it is sent `?code=PC-...&provider=...`. Default:
    /// Portcullis's own page at `/auth/error`.
    pub fn error_page(self, path: &str) -> Self {
        self.set("APP_ERROR_PAGE", path)
    }

    /// Where a page navigation that needs a signed-in user (the [`User`]
    /// extractor) is sent, a path such as `/login`; it gets
    /// `?return_to=<the page asked for>` (`APP_SIGN_IN_PAGE`; default
    /// Portcullis's own `/auth/sign-in`). API requests always get 401.
    ///
    /// [`User`]: crate::User
    pub fn sign_in_page(self, path: &str) -> Self {
        self.set("APP_SIGN_IN_PAGE", path)
    }

    /// Page navigations that need a signed-in user get the 401 error page
    /// instead of a redirect to sign in (`APP_SIGN_IN_PAGE=off`).
    pub fn no_sign_in_redirect(self) -> Self {
        self.set("APP_SIGN_IN_PAGE", "off")
    }

    /// Where users live, and by default sessions and tokens too: a
    /// `sqlite:` or `postgres://` URL (`DATABASE_URL`; default
    /// `sqlite://portcullis.db`).
    pub fn database_url(self, url: &str) -> Self {
        self.set("DATABASE_URL", url)
    }

    /// Where sessions, tokens and locks live instead: `sqlite:`,
    /// `postgres://` or `redis://` (`SESSION_STORE_URL`).
    pub fn session_store_url(self, url: &str) -> Self {
        self.set("SESSION_STORE_URL", url)
    }

    /// The prefix of every Redis key (`SESSION_STORE_PREFIX`; default
    /// `portcullis`).
    pub fn session_store_prefix(self, prefix: &str) -> Self {
        self.set("SESSION_STORE_PREFIX", prefix)
    }

    /// The keys sealing the token vault, `k1:<32 bytes in base64>`, newest
    /// first and comma-separated (`TOKEN_ENCRYPTION_KEYS`); required with
    /// any store that outlives the process.
    pub fn token_encryption_keys(self, keys: &str) -> Self {
        self.set("TOKEN_ENCRYPTION_KEYS", keys)
    }

    /// Adds a provider; buttons show in the order providers are added
    /// (`AUTH_PROVIDERS`).
    pub fn provider(mut self, provider: ProviderConfig) -> Self {
        let prefix = provider.id.to_ascii_uppercase().replace('-', "_");
        for (suffix, value) in provider.vars {
            self.vars.insert(format!("{prefix}_{suffix}"), value);
        }
        self.providers.push(provider.id);
        self
    }

    /// Adds an upstream API the browser reaches through Portcullis
    /// (`REMOTE_APIS`).
    pub fn remote_api(mut self, api: RemoteApiConfig) -> Self {
        let prefix = format!("API_{}", api.name.to_ascii_uppercase().replace('-', "_"));
        for (suffix, value) in api.vars {
            self.vars.insert(format!("{prefix}_{suffix}"), value);
        }
        self.remote_apis.push(api.name);
        self
    }

    /// How long a started sign-in may take, in whole seconds, 1 to 3600
    /// (`LOGIN_TIMEOUT_SECONDS`; default 600).
    pub fn sign_in_timeout(self, timeout: Duration) -> Self {
        self.seconds("LOGIN_TIMEOUT_SECONDS", timeout)
    }

    /// The longest any call to a provider may take, in whole seconds, 1 to
    /// 120 (`PROVIDER_TIMEOUT_SECONDS`; default 15).
    pub fn provider_timeout(self, timeout: Duration) -> Self {
        self.seconds("PROVIDER_TIMEOUT_SECONDS", timeout)
    }

    /// A session unused this long is signed out, in whole seconds, up to
    /// 30 days (`SESSION_IDLE_TIMEOUT_SECONDS`; default 8 hours).
    pub fn session_idle_timeout(self, timeout: Duration) -> Self {
        self.seconds("SESSION_IDLE_TIMEOUT_SECONDS", timeout)
    }

    /// A session this old is signed out, used or not, in whole seconds, up
    /// to a year (`SESSION_ABSOLUTE_TIMEOUT_SECONDS`; default 7 days).
    pub fn session_absolute_timeout(self, timeout: Duration) -> Self {
        self.seconds("SESSION_ABSOLUTE_TIMEOUT_SECONDS", timeout)
    }

    /// Access tokens expiring within this are refreshed before use, in
    /// whole seconds, up to an hour (`TOKEN_REFRESH_SKEW_SECONDS`; default
    /// 60).
    pub fn token_refresh_skew(self, skew: Duration) -> Self {
        self.seconds("TOKEN_REFRESH_SKEW_SECONDS", skew)
    }

    /// How long a renewable access token whose token response states no
    /// `expires_in` (RFC 6749 §5.1) is taken to last, in whole seconds, up
    /// to a day (`ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS`; default 3600).
    pub fn access_token_default_lifetime(self, lifetime: Duration) -> Self {
        self.seconds("ACCESS_TOKEN_DEFAULT_LIFETIME_SECONDS", lifetime)
    }

    /// How long a refresh lock is held before its holder renews it, in
    /// whole seconds, 2 to 300 (`REFRESH_LOCK_SECONDS`; default 30).
    pub fn refresh_lock_lease(self, lease: Duration) -> Self {
        self.seconds("REFRESH_LOCK_SECONDS", lease)
    }

    /// How often sessions in use get their tokens refreshed ahead of
    /// expiry, in whole seconds, up to an hour; `None` turns it off
    /// (`BACKGROUND_REFRESH_SECONDS`; default 30).
    pub fn background_refresh(self, every: Option<Duration>) -> Self {
        match every {
            None => self.set("BACKGROUND_REFRESH_SECONDS", "0"),
            // Zero is not "off": that is `None`; validation reports it.
            Some(every) if every.is_zero() => {
                self.set("BACKGROUND_REFRESH_SECONDS", "0 (use None to turn it off)")
            }
            Some(every) => self.seconds("BACKGROUND_REFRESH_SECONDS", every),
        }
    }

    /// How long a signed-in session's records are read from memory before
    /// the store is asked again, in whole seconds, 0 (off) to 60
    /// (`SESSION_CACHE_SECONDS`; default 2). A session ended on another
    /// instance is signed out here within this time.
    pub fn session_cache(self, ttl: Duration) -> Self {
        self.seconds("SESSION_CACHE_SECONDS", ttl)
    }

    /// Requests one client may make per minute to start sign-ins and to
    /// the callback, 0 for no limit (`RATE_LIMIT_SIGN_IN_PER_MINUTE`;
    /// default 120).
    pub fn sign_in_rate_limit(self, per_minute: u32) -> Self {
        self.set("RATE_LIMIT_SIGN_IN_PER_MINUTE", per_minute.to_string())
    }

    /// Logout tokens one client may post per minute, 0 for no limit
    /// (`RATE_LIMIT_BACKCHANNEL_PER_MINUTE`; default 600).
    pub fn backchannel_rate_limit(self, per_minute: u32) -> Self {
        self.set("RATE_LIMIT_BACKCHANNEL_PER_MINUTE", per_minute.to_string())
    }

    /// The header a trusted proxy names the client's address in, e.g.
    /// `X-Forwarded-For` (`CLIENT_IP_HEADER`; default: the peer address).
    pub fn client_ip_header(self, name: &str) -> Self {
        self.set("CLIENT_IP_HEADER", name)
    }

    /// Validates everything set.
    ///
    /// # Errors
    ///
    /// [`ConfigProblems`] with every problem found, each naming the
    /// variable (or settings-file key) it is about.
    pub fn build(self) -> Result<Settings, ConfigProblems> {
        let (mut vars, problems) = match &self.env {
            Some(env) => Settings::file_under(env),
            None => (HashMap::new(), Vec::new()),
        };
        // Providers and APIs added in code come after those listed before.
        let mut providers = listed(&self.vars, &vars, "AUTH_PROVIDERS");
        providers.extend(self.providers);
        let mut apis = listed(&self.vars, &vars, "REMOTE_APIS");
        apis.extend(self.remote_apis);
        vars.extend(self.vars);
        vars.insert("AUTH_PROVIDERS".to_owned(), providers.join(","));
        vars.insert("REMOTE_APIS".to_owned(), apis.join(","));
        Settings::after(problems, Settings::from_vars(&vars))
    }
}

/// `duration` in whole seconds; a fraction of a second is kept, so that
/// validation reports it rather than rounding it away.
fn seconds_text(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        duration.as_secs().to_string()
    } else {
        format!("{:.3}", duration.as_secs_f64())
    }
}

/// The names the list variable `key` holds, set in code or else before.
fn listed(
    code: &HashMap<String, String>,
    before: &HashMap<String, String>,
    key: &str,
) -> Vec<String> {
    code.get(key)
        .or(before.get(key))
        .into_iter()
        .flat_map(|list| list.split(','))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

/// One upstream API the browser reaches through Portcullis, for
/// [`SettingsBuilder::remote_api`]: a request to
/// `<prefix>/<rest>?<query>` goes to `<url>/<rest>?<query>` with the
/// user's fresh access token as `Authorization: Bearer` (RFC 6750 §2.1),
/// as a backend for frontend does (OAuth 2.0 for Browser-Based
/// Applications §6.1). Its variables are `API_<NAME>_*`.
#[derive(Clone, Debug)]
#[must_use]
pub struct RemoteApiConfig {
    name: String,
    vars: Vec<(&'static str, String)>,
}

impl RemoteApiConfig {
    /// The API called `name` (lower-case letters, digits and `-`, starting
    /// with a letter) at the upstream base `url`: `https://`, or `http://`
    /// on loopback (`API_<NAME>_URL`).
    pub fn new(name: &str, url: &str) -> Self {
        Self {
            name: name.to_owned(),
            vars: vec![("URL", url.to_owned())],
        }
    }

    fn set(mut self, suffix: &'static str, value: impl Into<String>) -> Self {
        self.vars.push((suffix, value.into()));
        self
    }

    /// The local path it is reached at (`API_<NAME>_PREFIX`; default
    /// `/api/remote/<name>`).
    pub fn prefix(self, path: &str) -> Self {
        self.set("PREFIX", path)
    }

    /// Whose token requests carry (`API_<NAME>_TOKEN`; default
    /// [`TokenPolicy::User`]).
    pub fn token(self, policy: TokenPolicy) -> Self {
        self.set("TOKEN", policy.as_str())
    }

    /// The provider whose tokens the API takes; a session signed in with
    /// another is refused (`API_<NAME>_PROVIDER`; required unless the
    /// token policy is [`TokenPolicy::None`]).
    pub fn provider(self, id: &str) -> Self {
        self.set("PROVIDER", id)
    }

    /// The resource the API's access tokens are meant for, an absolute
    /// URI without a fragment or query (RFC 8707 §2; `API_<NAME>_RESOURCE`).
    /// The provider's authorization request names it, and the API gets a
    /// token of its own, asked for with a refresh grant that names it
    /// (RFC 8707 §2.2). Needs a provider that issues refresh tokens.
    pub fn resource(self, uri: &str) -> Self {
        self.set("RESOURCE", uri)
    }

    /// The scopes the API's access tokens must carry (RFC 6749 §3.3;
    /// `API_<NAME>_SCOPES`). The provider's authorization request asks for
    /// them too, and the API gets a token of its own narrowed to them; a
    /// provider that grants fewer is refused with `PC-API-001`.
    pub fn scopes(self, scopes: &[&str]) -> Self {
        self.set("SCOPES", scopes.join(" "))
    }

    /// The largest request or answer body, in bytes
    /// (`API_<NAME>_MAX_BODY_BYTES`; default no cap).
    pub fn max_body_bytes(self, bytes: u64) -> Self {
        self.set("MAX_BODY_BYTES", bytes.to_string())
    }

    /// How long the whole exchange may take, in whole seconds, 1 to 3600
    /// (`API_<NAME>_TIMEOUT_SECONDS`; default 30).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.set("TIMEOUT_SECONDS", seconds_text(timeout))
    }
}

/// One identity provider, for [`SettingsBuilder::provider`]. Its id names
/// it in URLs (`/auth/sign-in/<id>`, the redirect URI
/// `/auth/callback/<id>`) and in its variables (`<ID>_CLIENT_ID`...).
///
/// An id that is a preset's name (`google`, `github`, `microsoft`,
/// `gitlab`, `discord`, `bitbucket`, `slack`, `linkedin`, `x`, `twitch`, `facebook`) is that preset; any other id is an OpenID Connect
/// provider found by discovery at its [`issuer`](Self::issuer), unless
/// [`preset`](Self::preset) says otherwise.
#[derive(Clone)]
#[must_use]
pub struct ProviderConfig {
    id: String,
    vars: Vec<(&'static str, String)>,
}

impl ProviderConfig {
    /// The provider called `id`: lower-case letters, digits and `-`,
    /// starting with a letter, at most 32 characters.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            vars: Vec::new(),
        }
    }

    fn set(mut self, suffix: &'static str, value: impl Into<String>) -> Self {
        self.vars.push((suffix, value.into()));
        self
    }

    /// The client registered at the provider: its `client_id` and
    /// `client_secret` (RFC 6749 §2.3.1; `<ID>_CLIENT_ID`,
    /// `<ID>_CLIENT_SECRET`).
    pub fn client(self, id: &str, secret: &str) -> Self {
        self.set("CLIENT_ID", id).set("CLIENT_SECRET", secret)
    }

    /// The client id alone (`<ID>_CLIENT_ID`), for a provider whose
    /// client secret is made here ([`signing_key`](Self::signing_key)).
    pub fn client_id(self, id: &str) -> Self {
        self.set("CLIENT_ID", id)
    }

    /// Sign in with Apple's key, which makes the client secret: the team
    /// id and key id (Apple's ten-character identifiers) and the `.p8`
    /// file's PEM text (`<ID>_TEAM_ID`, `<ID>_KEY_ID`,
    /// `<ID>_PRIVATE_KEY`). Each client secret is an ES256 JWT that lives
    /// an hour, made again ten minutes before it expires.
    pub fn signing_key(self, team_id: &str, key_id: &str, private_key_pem: &str) -> Self {
        self.set("TEAM_ID", team_id)
            .set("KEY_ID", key_id)
            .set("PRIVATE_KEY", private_key_pem)
    }

    /// The issuer identifier, an `https://` URL (`http://` on loopback)
    /// whose `/.well-known/openid-configuration` describes it (OpenID
    /// Connect Discovery 1.0 §4; `<ID>_ISSUER`).
    pub fn issuer(self, url: &str) -> Self {
        self.set("ISSUER", url)
    }

    /// Which preset this provider is, when its id is not the preset's name
    /// (`<ID>_PRESET`).
    pub fn preset(self, name: &str) -> Self {
        self.set("PRESET", name)
    }

    /// The scopes to ask for (RFC 6749 §3.3; `<ID>_SCOPES`); OpenID Connect
    /// providers need `openid`.
    pub fn scopes(self, scopes: &[&str]) -> Self {
        self.set("SCOPES", scopes.join(" "))
    }

    /// The button's label (`<ID>_LABEL`; default: the preset's, or the id
    /// capitalised).
    pub fn label(self, label: &str) -> Self {
        self.set("LABEL", label)
    }

    /// How the provider sends the authorization response back
    /// (`<ID>_RESPONSE_MODE`; default [`ResponseMode::Query`], or the
    /// preset's).
    pub fn response_mode(self, mode: ResponseMode) -> Self {
        self.set("RESPONSE_MODE", mode.name())
    }

    /// The Microsoft Entra ID tenant (`<ID>_TENANT`; Microsoft preset only).
    pub fn tenant(self, tenant: &str) -> Self {
        self.set("TENANT", tenant)
    }

    /// The profile API's base URL of a plain OAuth 2.0 preset, for GitHub
    /// Enterprise and the like (`<ID>_API_URL`).
    pub fn api_url(self, url: &str) -> Self {
        self.set("API_URL", url)
    }

    /// Makes this a plain OAuth 2.0 provider described by its endpoints
    /// (its id must not be a preset's): the authorization and token
    /// endpoints (RFC 6749 §3.1, §3.2) and the one that answers who the
    /// access token's user is, as JSON (`<ID>_AUTHORIZE_URL`,
    /// `<ID>_TOKEN_URL`, `<ID>_USERINFO_URL`). Each is `https://`, or
    /// `http://` on loopback. Its users' accounts are keyed by the
    /// [`issuer`](Self::issuer), by default the authorization endpoint's
    /// origin, and the user id [`field`](Self::field).
    pub fn endpoints(self, authorize: &str, token: &str, userinfo: &str) -> Self {
        self.set("AUTHORIZE_URL", authorize)
            .set("TOKEN_URL", token)
            .set("USERINFO_URL", userinfo)
    }

    /// How the client authenticates at the token endpoint of a provider
    /// described by its endpoints (RFC 6749 §2.3.1;
    /// `<ID>_TOKEN_AUTH_METHOD`; default
    /// [`ClientSecretBasic`](TokenAuthMethod::ClientSecretBasic)).
    pub fn token_auth_method(self, method: TokenAuthMethod) -> Self {
        let method = match method {
            TokenAuthMethod::ClientSecretBasic => ClientAuth::Basic,
            TokenAuthMethod::ClientSecretPost => ClientAuth::Post,
        };
        self.set("TOKEN_AUTH_METHOD", method.name())
    }

    /// One more parameter of the authorization request
    /// (`<ID>_AUTHORIZE_PARAMS`). One the protocol sets itself or that
    /// changes how the answer comes back (`response_type`, `client_id`,
    /// `redirect_uri`, `scope`, `state`, `code_challenge`,
    /// `code_challenge_method`, `resource`, `response_mode`, `request`,
    /// `request_uri`) is a problem [`SettingsBuilder::build`] reports.
    pub fn authorize_param(self, name: &str, value: &str) -> Self {
        self.add_param("AUTHORIZE_PARAMS", name, value)
    }

    /// One more parameter of every token request, the code exchange and
    /// refresh (`<ID>_TOKEN_PARAMS`). One the protocol sets itself
    /// (`grant_type`, `code`, `redirect_uri`, `code_verifier`,
    /// `refresh_token`, `client_id`, `client_secret`, `scope`, `resource`,
    /// `client_assertion`, `client_assertion_type`) is a problem
    /// [`SettingsBuilder::build`] reports.
    pub fn token_param(self, name: &str, value: &str) -> Self {
        self.add_param("TOKEN_PARAMS", name, value)
    }

    fn add_param(mut self, suffix: &'static str, name: &str, value: &str) -> Self {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair(name, value);
        let pair = form.finish();
        match self.vars.iter_mut().find(|(key, _)| *key == suffix) {
            Some((_, params)) => {
                params.push('&');
                params.push_str(&pair);
            }
            None => self.vars.push((suffix, pair)),
        }
        self
    }

    /// Where `field` is in the user-info (or e-mail list) answer of a
    /// provider described by its endpoints: a JSON pointer (RFC 6901)
    /// such as `/account_id` (`<ID>_<FIELD>_FIELD`).
    pub fn field(self, field: UserField, pointer: &str) -> Self {
        let suffix = match field {
            UserField::Id => "USER_ID_FIELD",
            UserField::Email => "EMAIL_FIELD",
            UserField::EmailVerified => "EMAIL_VERIFIED_FIELD",
            UserField::Name => "NAME_FIELD",
            UserField::Avatar => "AVATAR_FIELD",
            UserField::EmailsList => "EMAILS_LIST_FIELD",
            UserField::EmailsAddress => "EMAILS_ADDRESS_FIELD",
            UserField::EmailsPrimary => "EMAILS_PRIMARY_FIELD",
            UserField::EmailsVerified => "EMAILS_VERIFIED_FIELD",
        };
        self.set(suffix, pointer)
    }

    /// Makes a provider described by its [`endpoints`](Self::endpoints) an
    /// OpenID Connect provider without discovery, for one whose discovery
    /// document is missing or wrong: where its signing keys are published
    /// (`<ID>_JWKS_URI`; OIDC Discovery 1.0 §3 `jwks_uri`). Its
    /// [`issuer`](Self::issuer) is then required: the `iss` its ID tokens
    /// must carry. Keys are fetched again when an unknown one signs.
    pub fn jwks_uri(self, url: &str) -> Self {
        self.set("JWKS_URI", url)
    }

    /// Where an OpenID Connect provider without discovery ends the
    /// provider session (RP-Initiated Logout 1.0; `<ID>_END_SESSION_URL`).
    pub fn end_session_url(self, url: &str) -> Self {
        self.set("END_SESSION_URL", url)
    }

    /// Where an OpenID Connect provider without discovery revokes tokens
    /// (RFC 7009; `<ID>_REVOCATION_URL`).
    pub fn revocation_url(self, url: &str) -> Self {
        self.set("REVOCATION_URL", url)
    }

    /// The JWS algorithms an OpenID Connect provider without discovery
    /// signs ID tokens with (`<ID>_ID_TOKEN_SIGNING_ALGS`; default
    /// `RS256`); asymmetric ones only.
    pub fn id_token_signing_algs(self, algs: &[&str]) -> Self {
        self.set("ID_TOKEN_SIGNING_ALGS", algs.join(" "))
    }

    /// An endpoint of a provider described by its endpoints that lists the
    /// user's e-mails, of which the primary verified one is taken
    /// (`<ID>_EMAILS_URL`; see the `Emails*` [`UserField`]s).
    pub fn emails_url(self, url: &str) -> Self {
        self.set("EMAILS_URL", url)
    }
}

/// How a client authenticates at a token endpoint (RFC 6749 §2.3.1; the
/// names are RFC 7591 §2's `token_endpoint_auth_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenAuthMethod {
    /// HTTP Basic with the form-encoded id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
}

/// A field of the identity in a provider's answers, for
/// [`ProviderConfig::field`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserField {
    /// The stable user id, a string or whole number; default `/id`.
    Id,
    /// Default `/email`.
    Email,
    /// A boolean (or `"true"`); without it the e-mail counts as unverified.
    EmailVerified,
    /// Default `/name`.
    Name,
    /// An `https://` image URL (any other is dropped).
    Avatar,
    /// The array in the e-mail list's answer; default the answer itself.
    EmailsList,
    /// In each listed e-mail; default `/email`.
    EmailsAddress,
    /// In each listed e-mail; default `/primary`.
    EmailsPrimary,
    /// In each listed e-mail; default `/verified`.
    EmailsVerified,
}

/// Names only: values may be secrets (client secrets, vault keys, database
/// passwords) and the environment may hold anything.
impl fmt::Debug for SettingsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set: Vec<&String> = self.vars.keys().collect();
        set.sort();
        f.debug_struct("SettingsBuilder")
            .field("from_env", &self.env.is_some())
            .field("set", &set)
            .field("providers", &self.providers)
            .field("remote_apis", &self.remote_apis)
            .finish()
    }
}

/// Names only, as for [`SettingsBuilder`].
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set: Vec<&str> = self.vars.iter().map(|(name, _)| *name).collect();
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("set", &set)
            .finish()
    }
}
