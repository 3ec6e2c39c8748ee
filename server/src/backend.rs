//! The state every request handler shares ([`Core`]): the providers, the
//! stores, and the services that work on them (signed-in sessions,
//! refresh, provider APIs), each with its own state.

use std::{sync::Arc, time::Duration};

use crate::{
    config::Settings, db::Db, hooks::Hooks, http_client::ProviderHttp, provider_api::ProviderApi,
    providers::Registry, refresh::Refresher, signed_in::SignedInSessions, store::Store,
    users::UserStore,
};

/// Everything request handlers share.
#[derive(Debug)]
pub struct Core {
    pub registry: Arc<Registry>,
    /// Client for provider calls: no redirects, timeouts, size limit.
    pub http: ProviderHttp,
    /// Our origin, e.g. `https://app.example.com`.
    pub public_url: String,
    /// The app's page for a failed sign-in, if not Portcullis's own.
    pub error_page: Option<String>,
    /// Where a page navigation that needs a signed-in user is sent; `None`:
    /// it is told 401 like an API call.
    pub sign_in_page: Option<String>,
    /// Accounts and their provider identities.
    pub users: UserStore,
    /// Signed-in sessions: checking, keeping and ending them.
    pub sessions: SignedInSessions,
    /// Fresh access tokens, refreshed single-flight.
    pub refresher: Refresher,
    /// The providers' own APIs, called with the session's token.
    pub provider_api: ProviderApi,
    /// How long a started sign-in stays valid.
    pub sign_in_ttl: Duration,
    /// A session unused this long is signed out.
    pub session_idle: Duration,
    /// The users' database.
    pub db: Db,
    /// Session data: session records, vault, signed-in sessions' rows,
    /// refresh locks.
    pub store: Store,
    /// The app's say in every sign-in.
    pub hooks: Hooks,
    /// Requests per minute one client may make to start sign-ins and to
    /// the callback (0: no limit; `rate_limit.rs`).
    pub sign_in_per_minute: u32,
    /// Logout tokens per minute one client may post (0: no limit).
    pub backchannel_per_minute: u32,
    /// The header a proxy names the client's address in, if any.
    pub client_ip_header: Option<http::HeaderName>,
}

impl Core {
    /// The shared state of one server, from its settings and parts.
    pub fn new(
        settings: &Settings,
        registry: Registry,
        http: ProviderHttp,
        db: Db,
        store: Store,
        hooks: Hooks,
    ) -> Arc<Self> {
        let registry = Arc::new(registry);
        let sessions =
            SignedInSessions::new(settings, store.clone(), registry.clone(), http.clone());
        let refresher = Refresher::new(
            settings,
            registry.clone(),
            http.clone(),
            store.clone(),
            sessions.clone(),
        );
        let provider_api = ProviderApi::new(registry.clone(), http.clone(), refresher.clone());
        Arc::new(Self {
            registry,
            http,
            public_url: settings.public_url.clone(),
            error_page: settings.error_page.clone(),
            sign_in_page: settings.sign_in_page.clone(),
            users: UserStore::new(db.clone()),
            sessions,
            refresher,
            provider_api,
            sign_in_ttl: settings.sign_in_ttl,
            session_idle: settings.session_idle,
            db,
            store,
            hooks,
            sign_in_per_minute: settings.sign_in_per_minute,
            backchannel_per_minute: settings.backchannel_per_minute,
            client_ip_header: settings.client_ip_header.clone(),
        })
    }

    /// When an access token granted now expires (unix time): `expires_in`
    /// seconds from now, or when the provider did not say and a refresh
    /// token can renew it, the configured default lifetime. A token that
    /// cannot be renewed and states no lifetime is used until the provider
    /// refuses it.
    pub fn access_token_expiry(&self, expires_in: Option<u64>, renewable: bool) -> Option<i64> {
        self.refresher.access_token_expiry(expires_in, renewable)
    }

    /// Where the icon of provider `id`'s button is, if it is a preset.
    pub fn provider_icon(&self, id: &str) -> Option<String> {
        self.registry.get(id).and_then(|p| p.settings.icon_path())
    }

    /// The label users know a provider by (its id if it is gone from config).
    pub fn provider_label(&self, id: &str) -> String {
        self.registry
            .get(id)
            .map(|p| p.settings.label.clone())
            .unwrap_or_else(|| id.to_owned())
    }
}
