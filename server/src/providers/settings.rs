//! One identity provider as the settings describe it (`config/` reads
//! them; everything in `providers/` works from them).

use std::sync::Arc;

use super::{
    Protocol, apple::ClientSecretKey, configured::OAuth2Settings, oauth1::SignatureMethod,
    oidc::GivenMetadata,
};
use crate::secret::Secret;

/// One identity provider as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// Short name used in URLs and as the variable prefix.
    pub id: String,
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    pub protocol: Protocol,
    /// The profile API of a plain OAuth 2.0 provider, when not the
    /// preset's default (`<NAME>_API_URL`).
    pub api_url: Option<String>,
    /// The resources (RFC 8707 §2.1) the authorization request names:
    /// those of the upstream APIs that take this provider's tokens.
    pub resources: Vec<String>,
    /// A plain OAuth 2.0 provider's endpoints and fields, when it is
    /// described by configuration alone (`<NAME>_AUTHORIZE_URL`...).
    pub oauth2: Option<Arc<OAuth2Settings>>,
    /// An OpenID provider's metadata, when configuration gives it instead
    /// of discovery (`<NAME>_JWKS_URI`...).
    pub metadata: Option<Arc<GivenMetadata>>,
    /// How it sends the authorization response back
    /// (`<NAME>_RESPONSE_MODE`).
    pub response_mode: ResponseMode,
    /// Parameters an OpenID Connect preset's authorization request always
    /// carries (its quirks, e.g. Twitch's `claims`).
    pub authorize_params: &'static [(&'static str, &'static str)],
    /// The preset it is (its registry name), if any: its icon, its quirks.
    pub preset: Option<&'static str>,
    /// The key that makes its client secret, when that is made here
    /// rather than configured (Sign in with Apple).
    pub client_secret_key: Option<Arc<ClientSecretKey>>,
    /// How an OAuth 1.0a provider's requests are signed
    /// (`<NAME>_SIGNATURE_METHOD`).
    pub signature_method: SignatureMethod,
}

/// How a provider sends the authorization response back to
/// `/auth/callback/<provider>` (OAuth 2.0 Multiple Response Type Encoding
/// Practices §2.1; OAuth 2.0 Form Post Response Mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseMode {
    /// In the query of a redirect (`query`, the default).
    #[default]
    Query,
    /// Posted from a page of the provider's (`form_post`): the callback
    /// carries it to this site before reading it, as the browser's
    /// `SameSite=Lax` session cookie does not come with a cross-site post.
    FormPost,
}

impl ResponseMode {
    /// Its `response_mode` value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [Self::Query, Self::FormPost]
            .into_iter()
            .find(|mode| mode.name() == name)
    }
}

impl ProviderSettings {
    /// Settings for provider `id` at `issuer` as the unit tests need them:
    /// a client, no scopes, the protocol of the preset named `id` if any.
    #[cfg(test)]
    pub fn for_tests(id: &str, issuer: &str) -> Self {
        Self {
            id: id.into(),
            label: id.into(),
            issuer: issuer.into(),
            client_id: "id".into(),
            client_secret: Secret::new("secret"),
            scopes: Vec::new(),
            protocol: super::preset(id).map_or(Protocol::Oidc, |p| p.protocol),
            api_url: None,
            resources: Vec::new(),
            oauth2: None,
            metadata: None,
            response_mode: ResponseMode::Query,
            authorize_params: &[],
            preset: super::preset_name(id),
            client_secret_key: None,
            signature_method: SignatureMethod::default(),
        }
    }

    /// The client secret to send now (RFC 6749 §2.3.1): the configured
    /// one, or one made by its key that is good for ten more minutes.
    pub fn current_client_secret(&self) -> Secret {
        match &self.client_secret_key {
            Some(key) => key.client_secret(&self.client_id, crate::clock::now()),
            None => self.client_secret.clone(),
        }
    }

    /// Where its button's icon is served, if it is a preset's.
    pub fn icon_path(&self) -> Option<String> {
        self.preset
            .map(|name| format!("{}/{name}.svg", super::ICONS_PATH))
    }

    /// The profile API's base: `<NAME>_API_URL` when configured, else
    /// `default`; no trailing slash.
    pub fn api_base(&self, default: &str) -> String {
        let base = self.api_url.as_deref().unwrap_or(default);
        base.trim_end_matches('/').to_owned()
    }

    /// The callback address registered at the provider.
    pub fn redirect_uri(&self, public_url: &str) -> String {
        format!("{public_url}/auth/callback/{}", self.id)
    }
}
