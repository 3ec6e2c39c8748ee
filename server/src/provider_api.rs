//! Calls to provider APIs on the user's behalf (SECURITY.md D5): only to
//! the one profile endpoint each provider's protocol names (userinfo, or a
//! plain provider's allow-listed path, `providers/plain.rs`). The access
//! token is made fresh first, and made fresh once more if the provider
//! refuses it before its stated expiry.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::{
    clock,
    error::ErrorCode,
    http_client::ProviderHttp,
    model::ProviderProfile,
    providers::{Registry, protocol::ProfileError},
    refresh::{RefreshError, Refresher},
    secret::Secret,
    session::SessionUser,
};

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

impl UpstreamError {
    /// Whether the provider refused the access token (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Profile(err) if err.is_unauthorized())
    }
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_owned()),
        _ => None,
    }
}

fn entries(map: &Map<String, Value>, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter_map(|(label, key)| text(map, key).map(|value| ((*label).to_owned(), value)))
        .collect()
}

/// The providers' own APIs, called server-side with the session's fresh
/// access token; a cheap handle.
#[derive(Clone, Debug)]
pub struct ProviderApi {
    registry: Arc<Registry>,
    http: ProviderHttp,
    refresher: Refresher,
}

impl ProviderApi {
    pub fn new(registry: Arc<Registry>, http: ProviderHttp, refresher: Refresher) -> Self {
        Self {
            registry,
            http,
            refresher,
        }
    }

    /// Fresh data about the signed-in user from their provider's API. An
    /// access token the provider refuses (HTTP 401) before its stated
    /// expiry is refreshed once (single-flight) and the call made once
    /// more.
    pub async fn live_profile(&self, user: &SessionUser) -> Result<ProviderProfile, UpstreamError> {
        let tokens = self.refresher.fresh_tokens(user).await?;
        match self.fetch_live_profile(user, &tokens.access_token).await {
            Err(err) if err.is_unauthorized() && tokens.refresh_token.is_some() => {
                tracing::info!(
                    provider = %user.identity.provider,
                    "the provider refused an access token before its expiry; refreshing"
                );
                let renewed = self
                    .refresher
                    .tokens_after_rejection(user, &tokens.access_token)
                    .await?;
                self.fetch_live_profile(user, &renewed.access_token).await
            }
            other => other,
        }
    }

    async fn fetch_live_profile(
        &self,
        user: &SessionUser,
        token: &Secret,
    ) -> Result<ProviderProfile, UpstreamError> {
        let provider = self
            .registry
            .get(&user.identity.provider)
            .ok_or(ProfileError::UnknownProvider)?;
        let profile = provider
            .flow()
            .profile(provider, &self.http, &user.identity, token)
            .await?;
        Ok(ProviderProfile {
            source: format!("{} at {}", profile.source, provider.settings.label),
            entries: entries(&profile.data, profile.fields),
            fetched_at: clock::now(),
        })
    }
}

impl UpstreamError {
    /// What the user is told about this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            UpstreamError::Refresh(err) => err.code(),
            UpstreamError::Profile(err) => err.code(),
        }
    }
}
