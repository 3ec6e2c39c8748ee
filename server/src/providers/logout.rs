//! Signing out at the provider, after the local session is gone:
//! revoking the refresh token (RFC 7009) and the RP-initiated logout URL
//! (OIDC RP-Initiated Logout 1.0). Neither can keep a user signed in here:
//! by the time they run, the session and its tokens are deleted.

use http::{Method, header};
use url::Url;

use super::Provider;
use crate::{
    http_client::{HttpError, ProviderHttp},
    secret::Secret,
};

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("the revocation endpoint could not be reached")]
    Http(#[from] HttpError),
    #[error("the revocation endpoint answered HTTP {0}")]
    Status(http::StatusCode),
    #[error("the revocation endpoint address is invalid")]
    Url(#[from] url::ParseError),
}

impl Provider {
    /// Where this provider revokes tokens (RFC 7009), if it does.
    pub async fn revocation_endpoint(&self, http: &ProviderHttp) -> Option<String> {
        self.flow().revocation_endpoint(self, http).await
    }

    /// Revokes `token` (a refresh token, or an access token when there is
    /// none) with the client's credentials.
    pub async fn revoke(
        &self,
        http: &ProviderHttp,
        endpoint: &str,
        token: &Secret,
        hint: &str,
    ) -> Result<(), RevocationError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token.expose())
            .append_pair("token_type_hint", hint)
            .append_pair("client_id", &self.settings.client_id)
            .append_pair(
                "client_secret",
                self.settings.current_client_secret().expose(),
            )
            .finish();
        let request = http::Request::builder()
            .method(Method::POST)
            .uri(Url::parse(endpoint)?.as_str())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body.into_bytes())
            .map_err(HttpError::from)?;
        let response = http.send(request).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(RevocationError::Status(response.status()))
        }
    }

    /// Where to send the browser to end its session at the provider, if
    /// the provider offers RP-initiated logout.
    pub async fn end_session_url(
        &self,
        http: &ProviderHttp,
        id_token: Option<&Secret>,
        post_logout_redirect_uri: &str,
        state: &str,
    ) -> Option<Url> {
        if !self.settings.protocol.is_oidc() {
            return None;
        }
        let discovered = self.discovered(http).await.ok()?;
        let endpoint = discovered
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .as_deref()?;
        let mut url = Url::parse(endpoint).ok()?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(id_token) = id_token {
                query.append_pair("id_token_hint", id_token.expose());
            }
            query
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("post_logout_redirect_uri", post_logout_redirect_uri)
                .append_pair("state", state);
        }
        Some(url)
    }
}
