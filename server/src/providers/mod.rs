//! The provider registry: every configured identity provider, discovered at
//! start. A provider whose discovery fails stays listed as unavailable and
//! is tried again when someone wants to sign in with it, so one broken
//! provider never takes the app down.

pub mod google;
pub mod oidc;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use app::model::ProviderView;
use tokio::sync::{Mutex, RwLock};

use crate::{config::ProviderSettings, http_client::ProviderHttp};
pub use oidc::{Discovered, DiscoveryError, IdTokenError};

/// An ID token signed with an unknown key makes us fetch the provider's
/// keys again, at most this often, so forged `kid`s cannot make us hammer
/// the provider.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Defaults for a well-known provider, used when its name is in
/// `AUTH_PROVIDERS`; any `<NAME>_*` variable still overrides them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    pub issuer: &'static str,
    pub label: &'static str,
}

/// The preset for a provider name, if it names a known provider.
pub fn preset(name: &str) -> Option<Preset> {
    match name {
        "google" => Some(google::PRESET),
        _ => None,
    }
}

/// One configured provider and what discovery learned about it.
#[derive(Debug)]
pub struct Provider {
    pub settings: ProviderSettings,
    discovered: RwLock<Option<Arc<Discovered>>>,
    keys_fetched: Mutex<Option<Instant>>,
}

impl Provider {
    pub fn new(settings: ProviderSettings) -> Self {
        Self {
            settings,
            discovered: RwLock::new(None),
            keys_fetched: Mutex::new(None),
        }
    }

    /// The discovered metadata, discovering now if that has not worked yet.
    pub async fn discovered(&self, http: &ProviderHttp) -> Result<Arc<Discovered>, DiscoveryError> {
        if let Some(found) = self.discovered.read().await.as_ref() {
            return Ok(found.clone());
        }
        let mut slot = self.discovered.write().await;
        if let Some(found) = slot.as_ref() {
            return Ok(found.clone());
        }
        let found = Arc::new(oidc::discover(&self.settings, http).await?);
        *slot = Some(found.clone());
        Ok(found)
    }

    /// After an ID token checked against `used` named a key it lacks:
    /// metadata with the provider's current keys, fetched now unless
    /// another request just did (then its result) or a fetch happened less
    /// than [`KEY_REFRESH_INTERVAL`] ago (then `None`).
    pub async fn refresh_keys(
        &self,
        used: &Arc<Discovered>,
        http: &ProviderHttp,
    ) -> Result<Option<Arc<Discovered>>, DiscoveryError> {
        let mut fetched = self.keys_fetched.lock().await;
        let current = self.discovered(http).await?;
        if !Arc::ptr_eq(&current, used) {
            return Ok(Some(current));
        }
        if fetched.is_some_and(|at| at.elapsed() < KEY_REFRESH_INTERVAL) {
            return Ok(None);
        }
        *fetched = Some(Instant::now());
        let fresh = Arc::new(current.with_fresh_keys(http).await?);
        *self.discovered.write().await = Some(fresh.clone());
        tracing::info!(provider = %self.settings.id, "fetched the provider's signing keys again");
        Ok(Some(fresh))
    }

    async fn is_available(&self) -> bool {
        self.discovered.read().await.is_some()
    }
}

/// All configured providers, in display order.
#[derive(Debug)]
pub struct Registry {
    providers: Vec<Provider>,
}

impl Registry {
    /// Discovers every provider concurrently; failures are logged, not fatal.
    pub async fn discover_all(settings: &[ProviderSettings], http: &ProviderHttp) -> Self {
        let registry = Self {
            providers: settings
                .iter()
                .map(|settings| Provider::new(settings.clone()))
                .collect(),
        };
        let attempts = registry.providers.iter().map(|provider| async move {
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
        self.providers.iter().find(|p| p.settings.id == id)
    }

    /// The providers as the login page shows them.
    pub async fn views(&self) -> Vec<ProviderView> {
        let mut views = Vec::with_capacity(self.providers.len());
        for provider in &self.providers {
            views.push(ProviderView {
                id: provider.settings.id.clone(),
                label: provider.settings.label.clone(),
                available: provider.is_available().await,
            });
        }
        views
    }
}
