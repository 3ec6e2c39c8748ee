//! Generic OpenID Connect: discovery and the client built from it.

use openidconnect::{
    AdditionalProviderMetadata, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, ProviderMetadata, RedirectUrl,
    core::{
        CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
        CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
        CoreSubjectIdentifierType,
    },
};
use serde::{Deserialize, Serialize};

use crate::{config::ProviderSettings, http_client::ProviderHttp};

/// Discovery fields beyond OIDC Discovery 1.0 that we act on.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RFC 9207: the provider adds `iss` to authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A client with the authorization endpoint known, token and userinfo
/// endpoints as discovery gave them.
pub type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery learned, ready to build clients from.
#[derive(Debug)]
pub struct Discovered {
    pub metadata: Metadata,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("issuer URL is invalid")]
    InvalidIssuer(#[source] url::ParseError),
    #[error("discovery of {issuer} failed")]
    Request {
        issuer: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// OIDC Discovery. The crate checks that the document's `issuer` equals the
/// configured one exactly (Discovery §4.3).
pub async fn discover(
    settings: &ProviderSettings,
    http: &ProviderHttp,
) -> Result<Discovered, DiscoveryError> {
    let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(DiscoveryError::InvalidIssuer)?;
    let metadata = Metadata::discover_async(issuer, http)
        .await
        .map_err(|err| DiscoveryError::Request {
            issuer: settings.issuer.clone(),
            source: Box::new(err),
        })?;
    Ok(Discovered { metadata })
}

impl Discovered {
    /// A client for this provider with our registered redirect URI.
    pub fn client(&self, settings: &ProviderSettings, redirect_uri: RedirectUrl) -> OidcClient {
        CoreClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(settings.client_id.clone()),
            Some(ClientSecret::new(
                settings.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect_uri)
    }

    /// Whether the provider promises RFC 9207 `iss` in its responses.
    pub fn sends_iss(&self) -> bool {
        self.metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported
    }
}
