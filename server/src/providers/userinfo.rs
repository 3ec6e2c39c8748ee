//! The userinfo endpoint (OIDC Core §5.3), in both its forms: a JSON
//! object, or a JWT signed with the provider's keys (`application/jwt`,
//! §5.3.2) when the client is registered for signed answers. Either way
//! the answer must be about the signed-in user: its `sub` is the ID
//! token's (§5.3.4, SECURITY.md B6).

use http::{HeaderValue, Method, header};

use super::{
    Discovered, Provider, SignedError,
    claims::{self, Object},
    oauth2::{self, ApiError},
};
use crate::{
    error::ErrorCode,
    http_client::{HttpError, ProviderHttp},
    secret::Secret,
};

/// Why a userinfo answer was not used.
#[derive(Debug, thiserror::Error)]
pub enum UserinfoError {
    #[error("the provider announces no userinfo endpoint")]
    NoEndpoint,
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the signed userinfo answer was not verified")]
    Signed(#[from] SignedError),
    #[error("the signed userinfo answer's {0} is not this provider's or this client's")]
    Claim(&'static str),
    #[error("the userinfo answer names another user")]
    OtherUser,
}

impl UserinfoError {
    /// What the user is told about a failed userinfo call.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Api(err) => err.code(),
            Self::Signed(err) => err.code(),
            Self::NoEndpoint | Self::Claim(_) | Self::OtherUser => {
                ErrorCode::InvalidProviderResponse
            }
        }
    }
}

impl Provider {
    /// The claims userinfo answers (a JSON object) for `access_token`,
    /// whose ID token named `issuer` and `subject`. The access token goes
    /// in the `Authorization` header only (RFC 6750 §2.1). A signed answer
    /// is verified with the provider's keys by an algorithm its ID tokens
    /// may use; its `iss`, when present, must be `issuer` and its `aud`
    /// this client alone (§5.3.2).
    ///
    /// Errors: [`UserinfoError::NoEndpoint`] when discovery named none,
    /// [`UserinfoError::Api`] for an HTTP failure or a refusal (401 when
    /// the provider no longer accepts the token), [`UserinfoError::Signed`]
    /// and [`UserinfoError::Claim`] for a signed answer that fails, and
    /// [`UserinfoError::OtherUser`] for one about someone else.
    pub async fn userinfo(
        &self,
        http: &ProviderHttp,
        discovered: &Discovered,
        access_token: &Secret,
        issuer: &str,
        subject: &str,
    ) -> Result<Object, UserinfoError> {
        let endpoint = discovered
            .metadata
            .userinfo_endpoint()
            .ok_or(UserinfoError::NoEndpoint)?
            .url()
            .as_str();
        let bearer = HeaderValue::from_str(&format!("Bearer {}", access_token.expose()))
            .map_err(|_| ApiError::Invalid("access token is not a header value"))?;
        let request = http::Request::builder()
            .method(Method::GET)
            .uri(endpoint)
            .header(header::ACCEPT, "application/json, application/jwt")
            .header(header::AUTHORIZATION, bearer)
            .body(Vec::new())
            .map_err(|err| ApiError::from(HttpError::from(err)))?;
        let response = http.send(request).await.map_err(ApiError::from)?;
        let status = response.status();
        if !status.is_success() {
            return Err(oauth2::api_error(status, response.headers(), response.body()).into());
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let claims = if content_type.starts_with("application/jwt") {
            let token = String::from_utf8_lossy(response.body());
            let signed = self
                .verify_signed(http, discovered, &discovered.userinfo_algs(), &token)
                .await?;
            let claims = signed.claims;
            if claims
                .get("iss")
                .is_some_and(|iss| iss.as_str() != Some(issuer))
            {
                return Err(UserinfoError::Claim("iss"));
            }
            if claims.contains_key("aud")
                && !claims::is_only_audience(&claims, &self.settings.client_id)
            {
                return Err(UserinfoError::Claim("aud"));
            }
            claims
        } else {
            serde_json::from_slice(response.body()).map_err(ApiError::from)?
        };
        if claims::text(&claims, "sub").as_deref() != Some(subject) {
            return Err(UserinfoError::OtherUser);
        }
        Ok(claims)
    }
}
