//! Facebook: plain OAuth 2.0 with the Graph API. Its quirks, all here: the
//! user comes from `GET /me?fields=id,name,email,picture`, keyed by the
//! app-scoped numeric `id`; the e-mail is there only when Facebook has
//! confirmed it and the user granted `email`, so when present it counts as
//! verified; the picture is under `picture.data.url`; every Graph call
//! carries `appsecret_proof`, the HMAC-SHA256 of the access token keyed
//! with the app secret, in hex (apps should have Facebook require it); no
//! refresh token (access tokens last about 60 days). The Graph API version
//! is pinned in the API base (`https://graph.facebook.com/v19.0`;
//! `FACEBOOK_API_URL` changes it) and the authorization dialog follows it.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::{
    Preset, Protocol, ProviderSettings, ResponseMode,
    claims::{Object, lenient},
    oauth2::{self, ApiError, Endpoints},
    plain::PlainProvider,
    protocol::{ProfileData, ProfileError},
};
use crate::{http_client::ProviderHttp, secret::Secret, users::Identity};

pub const PRESET: Preset = Preset {
    issuer: "https://www.facebook.com",
    label: "Facebook",
    protocol: Protocol::Plain(&Facebook),
    scopes: "email public_profile",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/facebook.svg"),
};

/// The Graph API, at the version this preset is written for.
const PUBLIC_API: &str = "https://graph.facebook.com/v19.0";

/// The fields asked of `/me`.
const FIELDS: &str = "id,name,email,picture";

/// Facebook, as a [`PlainProvider`].
pub struct Facebook;

/// `appsecret_proof`: HMAC-SHA256 of `access_token` keyed with the app
/// secret, lower-case hex (Facebook's "Securing Graph API Requests").
fn appsecret_proof(app_secret: &Secret, access_token: &Secret) -> Result<String, ApiError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.expose().as_bytes())
        .map_err(|_| ApiError::Invalid("the app secret cannot key an HMAC"))?;
    mac.update(access_token.expose().as_bytes());
    let proof = mac.finalize().into_bytes();
    Ok(proof.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// `GET /me` with the fields and the proof.
async fn me(
    http: &ProviderHttp,
    endpoints: &Endpoints,
    settings: &ProviderSettings,
    access_token: &Secret,
) -> Result<Object, ApiError> {
    let proof = appsecret_proof(&settings.client_secret, access_token)?;
    let mut url = url::Url::parse(&format!("{}/me", endpoints.api))
        .map_err(|_| ApiError::Invalid("the Graph API base is not a URL"))?;
    url.query_pairs_mut()
        .append_pair("fields", FIELDS)
        .append_pair("appsecret_proof", &proof);
    oauth2::get_json(http, url.as_str(), access_token, &[]).await
}

/// `GET /me`, the fields we use; the id is the subject, so it must be one.
#[derive(Debug, Deserialize)]
struct User {
    #[serde(deserialize_with = "lenient::numeric_id")]
    id: String,
    #[serde(default, deserialize_with = "lenient::text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    email: Option<String>,
    #[serde(default)]
    picture: Option<Value>,
}

/// The identity in Facebook's answer.
fn identity_from(settings: &ProviderSettings, user: User) -> Identity {
    let picture = user
        .picture
        .as_ref()
        .and_then(|picture| picture.pointer("/data/url"))
        .and_then(Value::as_str)
        .filter(|url| url.starts_with("https://"))
        .map(str::to_owned);
    Identity {
        issuer: settings.issuer.clone(),
        subject: user.id.clone(),
        provider: settings.id.clone(),
        name: user.name.or_else(|| user.email.clone()).unwrap_or(user.id),
        // Facebook gives only a confirmed address.
        email_verified: user.email.is_some(),
        email: user.email,
        picture,
    }
}

#[async_trait]
impl PlainProvider for Facebook {
    fn name(&self) -> &'static str {
        "facebook"
    }

    fn endpoints(&self, settings: &ProviderSettings) -> Endpoints {
        let site = settings.issuer.trim_end_matches('/');
        let api = settings.api_base(PUBLIC_API);
        // The dialog at the API's version (`/v19.0/dialog/oauth`).
        let version = api.rsplit('/').next().unwrap_or("v19.0").to_owned();
        Endpoints {
            authorize: format!("{site}/{version}/dialog/oauth"),
            token: format!("{api}/oauth/access_token"),
            api,
        }
    }

    async fn identity(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<Identity, ApiError> {
        let answer = me(http, endpoints, settings, access_token).await?;
        let user: User = serde_json::from_value(Value::Object(answer))?;
        Ok(identity_from(settings, user))
    }

    async fn profile(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError> {
        let data = me(http, endpoints, settings, access_token).await?;
        Ok(ProfileData {
            source: "Facebook Graph API",
            data,
            fields: &[("Name", "name"), ("E-mail", "email"), ("Account ID", "id")],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_appsecret_proof_is_the_hmac_sha256_of_the_token_in_hex() {
        // RFC 4231-style check with a well-known vector.
        let proof = appsecret_proof(
            &Secret::new("key"),
            &Secret::new("The quick brown fox jumps over the lazy dog"),
        )
        .unwrap();
        assert_eq!(
            proof,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn the_answer_is_keyed_by_the_app_scoped_id_and_an_email_counts_as_confirmed() {
        let settings = ProviderSettings::for_tests("facebook", PRESET.issuer);
        // `GET /me?fields=id,name,email,picture` as Facebook documents it.
        let user: User = serde_json::from_str(
            r#"{"id":"10158123456789012","name":"Dana Demo","email":"dana@example.com",
                "picture":{"data":{"height":50,"is_silhouette":false,
                "url":"https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=1","width":50}}}"#,
        )
        .unwrap();
        let identity = identity_from(&settings, user);
        assert_eq!(identity.subject, "10158123456789012");
        assert!(identity.email_verified);
        assert_eq!(
            identity.picture.as_deref(),
            Some("https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=1")
        );
        // No e-mail (not granted, or not confirmed): none, unverified.
        let user: User = serde_json::from_str(r#"{"id":"1","name":"No Mail"}"#).unwrap();
        let identity = identity_from(&settings, user);
        assert_eq!((identity.email, identity.email_verified), (None, false));
        assert!(serde_json::from_str::<User>(r#"{"id":"me","name":"x"}"#).is_err());
    }

    #[test]
    fn the_dialog_follows_the_graph_api_version() {
        let settings = ProviderSettings {
            api_url: Some("https://graph.facebook.com/v21.0".into()),
            ..ProviderSettings::for_tests("facebook", PRESET.issuer)
        };
        let endpoints = Facebook.endpoints(&settings);
        assert_eq!(
            endpoints.authorize,
            "https://www.facebook.com/v21.0/dialog/oauth"
        );
        assert_eq!(
            endpoints.token,
            "https://graph.facebook.com/v21.0/oauth/access_token"
        );
    }
}
