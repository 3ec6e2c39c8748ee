//! Generic OpenID Connect: discovery (OIDC Discovery 1.0) and what it
//! tells about talking to the provider. ID tokens are checked in
//! `id_token.rs`, with keys from `keys.rs`.

use openidconnect::{
    AdditionalProviderMetadata, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, ProviderMetadata, RedirectUrl,
    core::{
        CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
        CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
        CoreSubjectIdentifierType,
    },
};
use serde::{Deserialize, Serialize};

use super::{Protocol, jws::ACCEPTED_ALGS, keys::KeysError, microsoft, oauth2::ClientAuth};
use crate::{
    error::ErrorCode,
    http_client::{HttpError, ProviderHttp},
    providers::ProviderSettings,
};

/// Discovery fields beyond OIDC Discovery 1.0 that we act on.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    /// RFC 9207: the provider adds `iss` to authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 7009 token revocation.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// OIDC RP-Initiated Logout 1.0.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
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

/// What discovery learned, ready to build clients from. The signing keys
/// are kept apart, by the provider's [`super::keys::KeyCache`].
#[derive(Debug)]
pub struct Discovered {
    pub metadata: Metadata,
    /// For a multi-tenant issuer (see `microsoft.rs`): the issuer template
    /// with `{tenantid}`, which each token's own issuer must fill in.
    pub tenant_template: Option<String>,
}

/// Why discovery failed: the provider is down ([`Self::is_temporary`]), or
/// it answered something we cannot use, which retrying will not change.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("issuer URL is invalid")]
    InvalidIssuer(#[source] url::ParseError),
    #[error("discovery of {issuer} failed")]
    Unreachable {
        issuer: String,
        #[source]
        source: HttpError,
    },
    #[error("discovery of {issuer} answered HTTP {status}")]
    Status {
        issuer: String,
        status: http::StatusCode,
    },
    #[error("the discovery document of {issuer} is not valid OpenID Provider Metadata")]
    Shape {
        issuer: String,
        #[source]
        source: serde_json::Error,
    },
    /// OIDC Discovery 1.0 §4.3: the document must name the issuer it was
    /// fetched for, exactly. Another one is a misconfiguration or a mix-up.
    #[error("the discovery document names the issuer {found:?}, not {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("fetching the provider's signing keys failed")]
    Keys(#[from] KeysError),
    /// Discovery failed a moment ago and is not tried again yet.
    #[error("discovery of {issuer} failed; tried again in {retry_in:?}")]
    BackingOff {
        issuer: String,
        retry_in: std::time::Duration,
        /// Whether the failure was temporary.
        temporary: bool,
    },
}

impl DiscoveryError {
    /// Whether trying again later may succeed: the provider (or the path to
    /// it) failed, rather than answered something wrong.
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Keys(keys) => keys.is_temporary(),
            Self::BackingOff { temporary, .. } => *temporary,
            Self::Status { status, .. } => status.is_server_error() || *status == 429,
            Self::InvalidIssuer(_) | Self::Shape { .. } | Self::IssuerMismatch { .. } => false,
        }
    }

    /// What the user is told: the provider is down, or it answered
    /// something that fails our checks (a misconfiguration, or a provider
    /// that misbehaves), which trying again will not fix.
    pub fn code(&self) -> ErrorCode {
        if self.is_temporary() {
            ErrorCode::ProviderUnavailable
        } else {
            ErrorCode::InvalidProviderResponse
        }
    }
}

/// The provider's announced ID-token algorithms that we accept.
pub fn accepted_algs(metadata: &Metadata) -> Vec<CoreJwsSigningAlgorithm> {
    metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| ACCEPTED_ALGS.contains(alg))
        .cloned()
        .collect()
}

/// An OpenID provider's metadata given by configuration instead of
/// discovery, for one whose discovery document is missing or wrong
/// (`<NAME>_AUTHORIZE_URL`, `<NAME>_TOKEN_URL`, `<NAME>_JWKS_URI`...): the
/// fields OIDC Discovery 1.0 §3 would give. Everything else (the keys
/// fetched from `jwks_uri` and again on a rotation, every ID-token check
/// against the configured issuer) is as with discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GivenMetadata {
    pub authorize_url: String,
    pub token_url: String,
    pub jwks_uri: String,
    pub userinfo_url: Option<String>,
    /// RP-Initiated Logout 1.0.
    pub end_session_url: Option<String>,
    /// RFC 7009.
    pub revocation_url: Option<String>,
    /// JWS `alg` names the ID tokens are signed with (default `RS256`).
    pub id_token_algs: Vec<String>,
    pub client_auth: ClientAuth,
    /// Whether its callbacks carry RFC 9207 `iss` (then one without it is
    /// refused, as with discovery announcing it).
    pub sends_iss: bool,
}

impl GivenMetadata {
    /// The metadata discovery would have given for `issuer`.
    fn metadata(&self, issuer: &str) -> Result<Metadata, serde_json::Error> {
        let auth = self.client_auth.name();
        let mut document = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": self.authorize_url,
            "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": self.id_token_algs,
            "token_endpoint_auth_methods_supported": [auth],
            "authorization_response_iss_parameter_supported": self.sends_iss,
        });
        let optional = [
            ("userinfo_endpoint", &self.userinfo_url),
            ("end_session_endpoint", &self.end_session_url),
            ("revocation_endpoint", &self.revocation_url),
        ];
        for (name, url) in optional {
            if let (Some(url), Some(fields)) = (url, document.as_object_mut()) {
                fields.insert(name.into(), url.clone().into());
            }
        }
        serde_json::from_value(document)
    }
}

/// The JWS `alg` names of [`ACCEPTED_ALGS`], e.g. `RS256`.
pub fn accepted_alg_names() -> Vec<String> {
    ACCEPTED_ALGS
        .iter()
        .filter_map(|alg| serde_json::to_value(alg).ok())
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect()
}

/// OIDC Discovery 1.0 §4: the provider's metadata at
/// `<issuer>/.well-known/openid-configuration`. The document's `issuer`
/// must equal the configured one exactly (§4.3), or for a multi-tenant
/// issuer, be exactly its template. Any `Content-Type` is read as JSON.
pub async fn discover(
    settings: &ProviderSettings,
    http: &ProviderHttp,
) -> Result<Discovered, DiscoveryError> {
    let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(DiscoveryError::InvalidIssuer)?;
    if let Some(given) = &settings.metadata {
        let metadata =
            given
                .metadata(&settings.issuer)
                .map_err(|source| DiscoveryError::Shape {
                    issuer: settings.issuer.clone(),
                    source,
                })?;
        return Ok(Discovered {
            metadata,
            tenant_template: None,
        });
    }
    let expected = match settings.protocol {
        Protocol::OidcMultiTenant => {
            microsoft::issuer_template(&settings.issuer).ok_or_else(|| {
                DiscoveryError::IssuerMismatch {
                    expected: "a multi-tenant issuer".into(),
                    found: settings.issuer.clone(),
                }
            })?
        }
        _ => issuer.as_str().to_owned(),
    };
    let unreachable = |source| DiscoveryError::Unreachable {
        issuer: settings.issuer.clone(),
        source,
    };
    let request = http::Request::get(format!(
        "{}/.well-known/openid-configuration",
        settings.issuer.trim_end_matches('/')
    ))
    .header(http::header::ACCEPT, "application/json")
    .body(Vec::new())
    .map_err(|err| unreachable(HttpError::from(err)))?;
    let response = http.send(request).await.map_err(unreachable)?;
    if !response.status().is_success() {
        return Err(DiscoveryError::Status {
            issuer: settings.issuer.clone(),
            status: response.status(),
        });
    }
    let metadata: Metadata =
        serde_json::from_slice(response.body()).map_err(|source| DiscoveryError::Shape {
            issuer: settings.issuer.clone(),
            source,
        })?;
    if metadata.issuer().as_str() != expected {
        return Err(DiscoveryError::IssuerMismatch {
            expected,
            found: metadata.issuer().to_string(),
        });
    }
    Ok(Discovered {
        metadata,
        tenant_template: (settings.protocol == Protocol::OidcMultiTenant).then_some(expected),
    })
}

impl Discovered {
    /// A client for this provider with our registered redirect URI, for
    /// building authorization requests.
    pub fn client(&self, settings: &ProviderSettings, redirect_uri: RedirectUrl) -> OidcClient {
        CoreClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(settings.client_id.clone()),
            Some(ClientSecret::new(
                settings.current_client_secret().expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect_uri)
    }

    /// Where codes and refresh tokens are exchanged (`token_endpoint`);
    /// discovery may leave it out only for implicit-flow-only providers.
    pub fn token_url(&self) -> Option<&str> {
        self.metadata.token_endpoint().map(|url| url.url().as_str())
    }

    /// Where the provider publishes its signing keys (`jwks_uri`).
    pub fn jwks_uri(&self) -> &str {
        self.metadata.jwks_uri().url().as_str()
    }

    /// The algorithms accepted on its ID tokens and logout tokens: the
    /// announced ones that are asymmetric ([`ACCEPTED_ALGS`]).
    pub fn id_token_algs(&self) -> Vec<CoreJwsSigningAlgorithm> {
        accepted_algs(&self.metadata)
    }

    /// The issuer ID tokens must name: the discovered one, or for a
    /// multi-tenant issuer, the template.
    pub fn issuer(&self) -> &str {
        self.metadata.issuer().as_str()
    }

    /// Whether an authorization response's RFC 9207 `iss` is this
    /// provider's: the issuer exactly, or a tenant's issuer under the
    /// multi-tenant template.
    pub fn is_own_iss(&self, iss: &str) -> bool {
        match &self.tenant_template {
            None => iss == self.issuer(),
            Some(template) => microsoft::tenant_in(template, iss).is_some(),
        }
    }

    /// Whether the provider promises RFC 9207 `iss` in its responses.
    pub fn sends_iss(&self) -> bool {
        self.metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported
    }

    /// How we authenticate at the token endpoint (RFC 6749 §2.3.1):
    /// `client_secret_basic`, the default (OIDC Core §9), unless the
    /// provider announces only `client_secret_post`.
    pub fn client_auth(&self) -> ClientAuth {
        let announced = self.metadata.token_endpoint_auth_methods_supported();
        let has = |method: &CoreClientAuthMethod| announced.is_some_and(|m| m.contains(method));
        if has(&CoreClientAuthMethod::ClientSecretPost)
            && !has(&CoreClientAuthMethod::ClientSecretBasic)
        {
            ClientAuth::Post
        } else {
            ClientAuth::Basic
        }
    }

    /// Algorithms accepted on signed userinfo answers (OIDC Core §5.3.2):
    /// the ones announced for userinfo, else those allowed on ID tokens;
    /// asymmetric ones only either way.
    pub fn userinfo_algs(&self) -> Vec<CoreJwsSigningAlgorithm> {
        let announced: Vec<CoreJwsSigningAlgorithm> = self
            .metadata
            .userinfo_signing_alg_values_supported()
            .map(|algs| {
                algs.iter()
                    .filter(|alg| ACCEPTED_ALGS.contains(alg))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if announced.is_empty() {
            self.id_token_algs()
        } else {
            announced
        }
    }
}
