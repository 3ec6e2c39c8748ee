//! The provider registry: every configured identity provider, discovered at
//! start. A provider whose discovery fails stays listed as unavailable and
//! is tried again when someone wants to sign in with it, so one broken
//! provider never takes the app down.

pub mod apple;
pub mod backchannel;
pub mod bitbucket;
pub mod claims;
pub mod configured;
pub mod discord;
pub mod facebook;
pub mod github;
pub mod gitlab;
pub mod google;
pub mod id_token;
pub mod jws;
pub mod keys;
pub mod linkedin;
pub mod logout;
pub mod microsoft;
pub mod oauth1;
pub mod oauth1_flow;
pub mod oauth2;
pub mod oidc;
mod oidc_flow;
pub mod plain;
pub mod protocol;
mod settings;
pub mod slack;
pub mod twitch;
pub mod twitter;
pub mod userinfo;
pub mod x;

use std::{
    fmt,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use crate::error::ErrorCode;
use crate::model::ProviderInfo;
use openidconnect::core::CoreJwsSigningAlgorithm;
use tokio::sync::Mutex;

pub use oauth1_flow::OAuth1Provider;
pub use plain::PlainProvider;
pub use protocol::{Audience, CodeFlow};
pub use settings::{ProviderSettings, ResponseMode};

use crate::http_client::ProviderHttp;
pub use id_token::IdTokenError;
pub use oidc::{Discovered, DiscoveryError};

/// How a provider signs users in.
#[derive(Clone, Copy)]
pub enum Protocol {
    /// OpenID Connect, configured by discovery at the issuer.
    Oidc,
    /// OpenID Connect where one issuer URL serves many tenants and each
    /// token's issuer names its tenant (Microsoft Entra ID's `common`).
    OidcMultiTenant,
    /// Plain OAuth 2.0, with the provider's own API for the identity.
    Plain(&'static dyn PlainProvider),
    /// OAuth 1.0a (RFC 5849), with the provider's own API for the identity.
    OAuth1(&'static dyn OAuth1Provider),
}

impl PartialEq for Protocol {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Oidc, Self::Oidc) | (Self::OidcMultiTenant, Self::OidcMultiTenant) => true,
            (Self::Plain(a), Self::Plain(b)) => a.name() == b.name(),
            (Self::OAuth1(a), Self::OAuth1(b)) => a.name() == b.name(),
            _ => false,
        }
    }
}

impl Eq for Protocol {}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oidc => f.write_str("Oidc"),
            Self::OidcMultiTenant => f.write_str("OidcMultiTenant"),
            Self::Plain(provider) => write!(f, "Plain({})", provider.name()),
            Self::OAuth1(provider) => write!(f, "OAuth1({})", provider.name()),
        }
    }
}

impl Protocol {
    pub fn is_oidc(self) -> bool {
        matches!(self, Self::Oidc | Self::OidcMultiTenant)
    }

    /// Its steps of the code flow.
    fn flow(self) -> Box<dyn CodeFlow> {
        match self {
            Self::Oidc | Self::OidcMultiTenant => Box::new(oidc_flow::OidcFlow),
            Self::Plain(provider) => Box::new(plain::PlainFlow(provider)),
            Self::OAuth1(provider) => Box::new(oauth1_flow::OAuth1Flow(provider)),
        }
    }
}

/// Defaults for a well-known provider, used when its name (or
/// `<NAME>_PRESET`) names it; any `<NAME>_*` variable still overrides them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// The OIDC issuer; for plain OAuth 2.0 providers, the site users sign
    /// in at, which also keys their accounts.
    pub issuer: &'static str,
    pub label: &'static str,
    pub protocol: Protocol,
    /// Space-separated; the least that gives name, e-mail and picture.
    pub scopes: &'static str,
    /// How it sends the authorization response back.
    pub response_mode: ResponseMode,
    /// Parameters its authorization request always carries (its quirks).
    pub authorize_params: &'static [(&'static str, &'static str)],
    /// Its sign-in button's icon: a self-contained SVG image (24×24, no
    /// script, no outside reference), served at `/auth/icons/<name>.svg`.
    pub icon: &'static str,
}

/// The registry of presets: a provider named like one (or whose
/// `<NAME>_PRESET` names one) takes its defaults. A new provider file adds
/// one line here.
const PRESET_TABLE: [(&str, Preset); 13] = [
    ("google", google::PRESET),
    ("github", github::PRESET),
    ("gitlab", gitlab::PRESET),
    ("microsoft", microsoft::PRESET),
    ("discord", discord::PRESET),
    ("bitbucket", bitbucket::PRESET),
    ("slack", slack::PRESET),
    ("linkedin", linkedin::PRESET),
    ("x", x::PRESET),
    ("twitch", twitch::PRESET),
    ("facebook", facebook::PRESET),
    ("apple", apple::PRESET),
    ("twitter", twitter::PRESET),
];

/// Where the presets' button icons are served: `<ICONS_PATH>/<name>.svg`.
pub const ICONS_PATH: &str = "/auth/icons";

/// The registry name of the preset `name` is, if it is one.
pub fn preset_name(name: &str) -> Option<&'static str> {
    preset_names().find(|known| *known == name)
}

/// Names of the presets, in the registry's order.
pub fn preset_names() -> impl Iterator<Item = &'static str> {
    PRESET_TABLE.iter().map(|(name, _)| *name)
}

/// The preset for a provider name, if it names a known provider.
pub fn preset(name: &str) -> Option<Preset> {
    PRESET_TABLE
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, preset)| *preset)
}

/// One configured provider and what discovery learned about it.
#[derive(Debug)]
pub struct Provider {
    pub settings: ProviderSettings,
    /// Its protocol's steps.
    flow: Box<dyn CodeFlow>,
    /// Read without waiting: never held across network I/O.
    discovered: RwLock<Option<Arc<Discovered>>>,
    /// One discovery at a time, and how the last ones failed.
    attempts: Mutex<Attempts>,
    keys: keys::KeyCache,
}

/// Failed discoveries in a row, and when the last one failed.
#[derive(Debug, Default)]
struct Attempts {
    failures: u32,
    last: Option<(Instant, bool)>,
}

/// After a failed discovery, the next waits 1 s, then 2, 4, … up to this.
const MAX_DISCOVERY_BACKOFF: Duration = Duration::from_secs(60);

fn discovery_backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(MAX_DISCOVERY_BACKOFF)
}

/// Why a token signed by the provider was not verified.
#[derive(Debug, thiserror::Error)]
pub enum SignedError {
    /// It fails the check even with the provider's current keys.
    #[error("the signature was refused")]
    Refused(#[from] jws::JwsError),
    /// The keys could not be fetched.
    #[error("the provider's signing keys are unavailable")]
    Keys(#[from] keys::KeysError),
}

impl SignedError {
    /// Whether trying again later may succeed: the keys could not be had
    /// for now, rather than the token or the key endpoint being wrong.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Keys(keys) if keys.is_temporary())
    }

    /// What the user is told: the keys could not be had for now, or the
    /// signature is wrong.
    pub fn code(&self) -> ErrorCode {
        if self.is_temporary() {
            ErrorCode::ProviderUnavailable
        } else {
            ErrorCode::InvalidProviderResponse
        }
    }
}

impl Provider {
    pub fn new(settings: ProviderSettings) -> Self {
        Self {
            flow: settings.protocol.flow(),
            settings,
            discovered: RwLock::new(None),
            attempts: Mutex::new(Attempts::default()),
            keys: keys::KeyCache::default(),
        }
    }

    /// The discovered metadata, discovering now if that has not worked
    /// yet: one attempt at a time, and after a failure not again before
    /// its backoff (1 s, doubling up to a minute; meanwhile
    /// [`DiscoveryError::BackingOff`], as temporary as the failure was).
    /// Nothing that only asks whether the provider is usable waits for an
    /// attempt in progress.
    pub async fn discovered(&self, http: &ProviderHttp) -> Result<Arc<Discovered>, DiscoveryError> {
        if let Some(found) = self.current() {
            return Ok(found);
        }
        let mut attempts = self.attempts.lock().await;
        if let Some(found) = self.current() {
            return Ok(found);
        }
        if let Some((at, temporary)) = attempts.last {
            let wait = discovery_backoff(attempts.failures);
            if let Some(retry_in) = wait.checked_sub(at.elapsed()) {
                return Err(DiscoveryError::BackingOff {
                    issuer: self.settings.issuer.clone(),
                    retry_in,
                    temporary,
                });
            }
        }
        match self.discover(http).await {
            Ok(found) => {
                *self
                    .discovered
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(found.clone());
                *attempts = Attempts::default();
                Ok(found)
            }
            Err(err) => {
                attempts.failures = attempts.failures.saturating_add(1);
                attempts.last = Some((Instant::now(), err.is_temporary()));
                Err(err)
            }
        }
    }

    /// Discovery and the keys: a provider is usable once both are had.
    async fn discover(&self, http: &ProviderHttp) -> Result<Arc<Discovered>, DiscoveryError> {
        let found = Arc::new(oidc::discover(&self.settings, http).await?);
        self.keys.get(http, found.jwks_uri()).await?;
        Ok(found)
    }

    /// The steps of the code flow at this provider: the authorization
    /// request, the code exchange, refresh, its API and revocation.
    /// Whether its access tokens are bearer tokens (RFC 6750); OAuth
    /// 1.0a's token credentials sign requests instead.
    pub fn issues_bearer_tokens(&self) -> bool {
        !matches!(self.settings.protocol, Protocol::OAuth1(_))
    }

    pub fn flow(&self) -> &dyn CodeFlow {
        self.flow.as_ref()
    }

    fn current(&self) -> Option<Arc<Discovered>> {
        self.discovered
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Verifies the compact JWS `token` (an ID token, a logout token, a
    /// signed userinfo answer) with this provider's keys and one of
    /// `allowed` ([`jws::verify`]). When it names a key we lack, the keys
    /// are fetched again and it is checked once more (`keys.rs` says how
    /// often), so a key the provider starts using is trusted at once.
    pub async fn verify_signed(
        &self,
        http: &ProviderHttp,
        discovered: &Discovered,
        allowed: &[CoreJwsSigningAlgorithm],
        token: &str,
    ) -> Result<jws::Signed, SignedError> {
        let uri = discovered.jwks_uri();
        let keys = self.keys.get(http, uri).await?;
        match jws::verify(&keys.set, allowed, token) {
            Err(err) if err.is_unknown_key() => {
                match self
                    .keys
                    .after_unknown_key(http, uri, &keys, err.kid())
                    .await?
                {
                    Some(fresh) => Ok(jws::verify(&fresh.set, allowed, token)?),
                    None => Err(err.into()),
                }
            }
            checked => Ok(checked?),
        }
    }

    fn is_available(&self) -> bool {
        // Nothing to discover for plain OAuth 2.0: usable as configured.
        !self.settings.protocol.is_oidc() || self.current().is_some()
    }
}

/// All configured providers, in display order.
#[derive(Debug)]
pub struct Registry {
    providers: Vec<Arc<Provider>>,
}

impl Registry {
    /// Discovers every provider concurrently; failures are logged, not fatal.
    pub async fn discover_all(settings: &[ProviderSettings], http: &ProviderHttp) -> Self {
        let registry = Self {
            providers: settings
                .iter()
                .map(|settings| Arc::new(Provider::new(settings.clone())))
                .collect(),
        };
        let oidc = registry
            .providers
            .iter()
            .filter(|p| p.settings.protocol.is_oidc());
        let attempts = oidc.map(|provider| async move {
            if let Err(err) = provider.discovered(http).await {
                tracing::warn!(
                    provider = %provider.settings.id,
                    "provider unavailable until discovery succeeds: {}",
                    crate::telemetry::cause_chain(&err)
                );
            }
        });
        futures_util::future::join_all(attempts).await;
        registry
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.shared(id).map(Arc::as_ref)
    }

    /// The first provider in display order, if any (the test kit's
    /// default).
    #[cfg(feature = "testing")]
    pub fn first(&self) -> Option<&Provider> {
        self.providers.first().map(Arc::as_ref)
    }

    /// The provider `id` if it speaks OpenID Connect (which alone has
    /// back-channel logout).
    pub fn openid_provider(&self, id: &str) -> Option<&Provider> {
        self.get(id).filter(|p| p.settings.protocol.is_oidc())
    }

    /// The provider `id`, for work that outlives the request.
    pub fn shared(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.settings.id == id)
    }

    /// Tries again to discover each OpenID Connect provider that could not
    /// be reached yet (each one's backoff still applies); how many are
    /// available now that were not.
    pub async fn retry_discovery(&self, http: &ProviderHttp) -> usize {
        let missing = self.providers.iter().filter(|p| !p.is_available());
        let attempts = missing.map(|provider| async move {
            let found = provider.discovered(http).await.is_ok();
            if found {
                tracing::info!(provider = %provider.settings.id, "provider available again");
            }
            found
        });
        futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .filter(|found| *found)
            .count()
    }

    /// The providers as the sign-in page shows them.
    pub async fn views(&self) -> Vec<ProviderInfo> {
        let mut views = Vec::with_capacity(self.providers.len());
        for provider in &self.providers {
            views.push(ProviderInfo {
                id: provider.settings.id.clone(),
                label: provider.settings.label.clone(),
                available: provider.is_available(),
                icon: provider.settings.icon_path(),
            });
        }
        views
    }
}

/// A recorded provider response from `tests/fixtures/<path>`.
#[cfg(test)]
pub fn fixture(path: &str) -> String {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[cfg(test)]
mod tests {
    use openidconnect::core::CoreResponseType;

    use super::*;

    #[test]
    fn every_preset_has_a_small_self_contained_icon_that_runs_nothing() {
        for name in preset_names() {
            let icon = preset(name).unwrap().icon.trim_end();
            assert!(
                icon.starts_with(
                    r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24">"#
                ),
                "{name}"
            );
            assert!(
                icon.ends_with("</svg>") && icon.matches("<svg").count() == 1,
                "{name}"
            );
            assert!(icon.len() < 2048, "{name}: {} bytes", icon.len());
            let lower = icon.to_ascii_lowercase();
            for banned in [
                "<script",
                "href",
                "url(",
                "<foreignobject",
                "<style",
                "javascript:",
                "@import",
            ] {
                assert!(!lower.contains(banned), "{name} holds {banned}");
            }
            assert!(
                !lower.split_whitespace().any(|word| word.starts_with("on")),
                "{name} has an event handler"
            );
        }
    }

    /// Discovery documents recorded from Google and GitLab (the fields in
    /// the shapes they publish): what the presets rely on is there.
    #[test]
    fn the_oidc_presets_recorded_discovery_documents_fit_the_presets() {
        for (preset, file) in [
            (google::PRESET, "google/discovery.json"),
            (gitlab::PRESET, "gitlab/discovery.json"),
        ] {
            let metadata: oidc::Metadata = serde_json::from_str(&fixture(file)).unwrap();
            assert_eq!(metadata.issuer().as_str(), preset.issuer, "{file}");
            assert!(
                !oidc::accepted_algs(&metadata).is_empty(),
                "{file}: a usable signing algorithm"
            );
            assert!(
                metadata
                    .response_types_supported()
                    .iter()
                    .any(|types| types.as_slice() == [CoreResponseType::Code]),
                "{file}: the code flow"
            );
            let supported = metadata.scopes_supported().cloned().unwrap_or_default();
            for scope in preset.scopes.split(' ') {
                assert!(
                    supported.iter().any(|s| s.as_str() == scope),
                    "{file}: scope {scope}"
                );
            }
            let raw: serde_json::Value = serde_json::from_str(&fixture(file)).unwrap();
            assert!(
                raw["code_challenge_methods_supported"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|v| v == "S256")),
                "{file}: PKCE S256"
            );
        }
    }

    #[test]
    fn every_preset_name_has_its_preset() {
        for name in preset_names() {
            let preset = preset(name).unwrap();
            // X's OAuth 1.0a preset keeps the name its API still has.
            let brand = if name == "twitter" { "x" } else { name };
            assert_eq!(preset.label.to_ascii_lowercase(), brand, "{name}");
        }
        assert_eq!(preset("acme"), None);
    }
}
