//! Generic OpenID Connect: discovery and the client built from it.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, ClaimsVerificationError, ClientId,
    ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKeySet, Nonce,
    ProviderMetadata, RedirectUrl, SignatureVerificationError,
    core::{
        CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
        CoreGrantType, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKey,
        CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
        CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
    },
};
use serde::{Deserialize, Serialize};

use super::{Protocol, microsoft};
use crate::{config::ProviderSettings, http_client::ProviderHttp};

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

/// What discovery learned, ready to build clients from.
#[derive(Debug)]
pub struct Discovered {
    pub metadata: Metadata,
    /// For a multi-tenant issuer (see `microsoft.rs`): the issuer template
    /// with `{tenantid}`, which each token's own issuer must fill in.
    pub tenant_template: Option<String>,
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
    #[error("fetching the signing keys of {issuer} failed")]
    Keys {
        issuer: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("ID token failed validation")]
    Claims(#[from] ClaimsVerificationError),
    #[error("ID token's issuer is not the issuer of its tenant (tid)")]
    Tenant,
    #[error("ID token azp names another client")]
    AuthorizedParty,
    #[error("ID token at_hash does not match the access token")]
    AccessTokenHash,
    #[error("cannot check the ID token's at_hash")]
    HashUnavailable(#[source] SignatureVerificationError),
}

impl IdTokenError {
    /// Signed with a key we do not have: the provider may have rotated its
    /// keys, so fetching them again is worth one try.
    pub fn is_unknown_key(&self) -> bool {
        matches!(
            self,
            Self::Claims(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        )
    }
}

/// Signature algorithms accepted on ID tokens: asymmetric ones only. A
/// provider's list is narrowed to these, so `none` and HMAC (which an
/// attacker could key with the provider's public key) never pass.
const ACCEPTED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The provider's announced ID-token algorithms that we accept.
pub fn accepted_algs(metadata: &Metadata) -> Vec<CoreJwsSigningAlgorithm> {
    metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| ACCEPTED_ALGS.contains(alg))
        .cloned()
        .collect()
}

/// An ID token is used right after it is issued: one issued longer ago
/// than this, or more than the clock skew ahead of our clock, is refused.
const ID_TOKEN_MAX_AGE_SECS: i64 = 10 * 60;
const CLOCK_SKEW_SECS: i64 = 2 * 60;

/// OIDC Discovery. The document's `issuer` must equal the configured one
/// exactly (Discovery §4.3; the crate checks it), or for a multi-tenant
/// issuer, be exactly its template.
pub async fn discover(
    settings: &ProviderSettings,
    http: &ProviderHttp,
) -> Result<Discovered, DiscoveryError> {
    let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(DiscoveryError::InvalidIssuer)?;
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| DiscoveryError::Request {
        issuer: settings.issuer.clone(),
        source,
    };
    if settings.protocol != Protocol::OidcMultiTenant {
        let metadata = Metadata::discover_async(issuer, http)
            .await
            .map_err(|err| failed(Box::new(err)))?;
        return Ok(Discovered {
            metadata,
            tenant_template: None,
        });
    }
    let template = microsoft::issuer_template(&settings.issuer)
        .ok_or_else(|| failed("not a multi-tenant issuer".into()))?;
    let request = http::Request::get(format!(
        "{}/.well-known/openid-configuration",
        settings.issuer.trim_end_matches('/')
    ))
    .header(http::header::ACCEPT, "application/json")
    .body(Vec::new())
    .map_err(|err| failed(Box::new(err)))?;
    let response = http
        .send(request)
        .await
        .map_err(|err| failed(Box::new(err)))?;
    if !response.status().is_success() {
        return Err(failed(
            format!("discovery answered HTTP {}", response.status()).into(),
        ));
    }
    let metadata: Metadata =
        serde_json::from_slice(response.body()).map_err(|err| failed(Box::new(err)))?;
    if metadata.issuer().as_str() != template {
        return Err(failed(
            format!(
                "discovery names the issuer {:?}, not the template {template:?}",
                metadata.issuer().as_str()
            )
            .into(),
        ));
    }
    let discovered = Discovered {
        metadata,
        tenant_template: Some(template),
    };
    discovered.with_fresh_keys(http).await
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

    /// The same metadata with the provider's signing keys fetched again.
    pub async fn with_fresh_keys(&self, http: &ProviderHttp) -> Result<Self, DiscoveryError> {
        let jwks = JsonWebKeySet::fetch_async(self.metadata.jwks_uri(), http)
            .await
            .map_err(|err| DiscoveryError::Keys {
                issuer: self.metadata.issuer().to_string(),
                source: Box::new(err),
            })?;
        Ok(Self {
            metadata: self.metadata.clone().set_jwks(jwks),
            tenant_template: self.tenant_template.clone(),
        })
    }

    /// A client for this provider with the redirect URI registered for it.
    pub fn client_at(
        &self,
        settings: &ProviderSettings,
        public_url: &str,
    ) -> Result<OidcClient, url::ParseError> {
        Ok(self.client(
            settings,
            RedirectUrl::new(settings.redirect_uri(public_url))?,
        ))
    }

    /// Validates an ID token from the token endpoint (OIDC Core §3.1.3.7):
    /// signature with this provider's keys and an asymmetric algorithm it
    /// announced, `iss`, `aud` (no other audience trusted), `azp`, `exp`,
    /// a recent `iat`, `nonce`, and `at_hash` when present.
    pub fn verify_id_token(
        &self,
        client: &OidcClient,
        id_token: &CoreIdToken,
        access_token: &AccessToken,
        nonce: Option<&Nonce>,
    ) -> Result<CoreIdTokenClaims, IdTokenError> {
        let allowed = accepted_algs(&self.metadata);
        let verifier = client
            .id_token_verifier()
            // A multi-tenant issuer is checked below, against the tenant.
            .require_issuer_match(self.tenant_template.is_none())
            .set_allowed_algs(allowed)
            .set_issue_time_verifier_fn(|issued| {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let issued = issued.timestamp();
                if issued > now + CLOCK_SKEW_SECS {
                    Err(format!("issued {}s in the future", issued - now))
                } else if issued < now - ID_TOKEN_MAX_AGE_SECS - CLOCK_SKEW_SECS {
                    Err(format!("issued {}s ago", now - issued))
                } else {
                    Ok(())
                }
            });
        let claims = match nonce {
            Some(nonce) => id_token.claims(&verifier, nonce)?,
            // A refresh response's ID token answers no authorization
            // request, so it has no nonce to match.
            None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok::<(), String>(()))?,
        }
        .clone();
        if let Some(template) = &self.tenant_template {
            let expected = id_token_claim(id_token, "tid")
                .and_then(|tid| microsoft::issuer_of_tenant(template, &tid))
                .ok_or(IdTokenError::Tenant)?;
            if claims.issuer().as_str() != expected {
                return Err(IdTokenError::Tenant);
            }
        }
        // The crate leaves `azp` (Core §3.1.3.7 step 5) to us. Extra
        // audiences are refused above, so `azp` may only name us.
        if claims
            .authorized_party()
            .is_some_and(|azp| azp.as_str() != client.client_id().as_str())
        {
            return Err(IdTokenError::AuthorizedParty);
        }
        // Nor does it check `at_hash` (Core §3.1.3.8).
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(IdTokenError::HashUnavailable)?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(IdTokenError::HashUnavailable)?;
            let actual = AccessTokenHash::from_token(access_token, alg, key).map_err(|err| {
                IdTokenError::HashUnavailable(SignatureVerificationError::Other(err.to_string()))
            })?;
            if &actual != expected {
                return Err(IdTokenError::AccessTokenHash);
            }
        }
        Ok(claims)
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
}

/// A string claim of a token whose signature was verified already, read
/// from its payload (for claims the crate's types do not carry: `tid`,
/// `sid`).
pub fn id_token_claim(id_token: &CoreIdToken, name: &str) -> Option<String> {
    let compact = id_token.to_string();
    let payload = compact.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}
