//! Discord: plain OAuth 2.0 with the `identify email` scopes. The user
//! comes from `GET /users/@me`; the subject is the account's snowflake id
//! (a number sent as a string); the e-mail is used only when Discord says
//! it is verified; the avatar is a hash turned into a CDN URL.

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    Preset, Protocol, ResponseMode,
    claims::lenient,
    oauth2::{self, ApiError, Endpoints},
    plain::{self, PlainProvider, ProfileApi},
    protocol::{ProfileData, ProfileError},
    settings::ProviderSettings,
};
use crate::{http_client::ProviderHttp, secret::Secret, users::Identity};

pub const PRESET: Preset = Preset {
    issuer: "https://discord.com",
    label: "Discord",
    protocol: Protocol::Plain(&Discord),
    scopes: "identify email",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/discord.svg"),
};

/// Discord, as a [`PlainProvider`].
pub struct Discord;

#[async_trait]
impl PlainProvider for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn endpoints(&self, settings: &ProviderSettings) -> Endpoints {
        let site = settings.issuer.as_str();
        let api = settings.api_base(&format!("{site}/api/v10"));
        Endpoints {
            authorize: format!("{site}/oauth2/authorize"),
            token: format!("{api}/oauth2/token"),
            api,
        }
    }

    /// Who the access token belongs to.
    async fn identity(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<Identity, ApiError> {
        let (site, provider) = (settings.issuer.as_str(), settings.id.as_str());
        let user: User = oauth2::get_json(
            http,
            &format!("{}/users/@me", endpoints.api),
            access_token,
            &[],
        )
        .await?;
        identity_from(site, provider, user)
    }

    async fn profile(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        _settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError> {
        let api = ProfileApi {
            source: "Discord API",
            path: "/users/@me",
            headers: &[],
            fields: &[("Username", "username"), ("Verified", "verified")],
        };
        plain::profile_at(http, endpoints, api, access_token).await
    }

    fn revocation_endpoint(&self, endpoints: &Endpoints) -> Option<String> {
        Some(format!("{}/oauth2/token/revoke", endpoints.api))
    }
}

/// `GET /users/@me`, the fields we use; the id is the subject, so it must
/// be one, the rest are read in any unambiguous shape.
#[derive(Debug, Deserialize)]
pub struct User {
    #[serde(deserialize_with = "lenient::numeric_id")]
    pub id: String,
    pub username: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub global_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub avatar: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::maybe_flag")]
    pub verified: Option<bool>,
}

/// The identity in Discord's answer, refused without a verified e-mail.
pub fn identity_from(site: &str, provider: &str, user: User) -> Result<Identity, ApiError> {
    if user.id.is_empty() || !user.id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::Invalid("user id is not a snowflake"));
    }
    let email = user
        .email
        .filter(|_| user.verified == Some(true))
        .ok_or(ApiError::NoVerifiedEmail)?;
    let picture = user
        .avatar
        .filter(|hash| hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .map(|hash| format!("https://cdn.discordapp.com/avatars/{}/{hash}.png", user.id));
    Ok(Identity {
        issuer: site.to_owned(),
        subject: user.id,
        provider: provider.to_owned(),
        name: user
            .global_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(user.username),
        email: Some(email),
        email_verified: true,
        picture,
    })
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, StatusCode};

    use super::*;
    use crate::providers::oauth2::{api_error, parse_token_response};

    /// Responses in the shapes Discord documents (discord.com/developers,
    /// "OAuth2" and "User Object").
    fn fixture(name: &str) -> String {
        crate::providers::fixture(&format!("discord/{name}"))
    }

    fn user() -> User {
        serde_json::from_str(&fixture("user.json")).unwrap()
    }

    #[test]
    fn the_subject_is_the_snowflake_and_the_avatar_a_cdn_url() {
        let identity = identity_from(PRESET.issuer, "discord", user()).unwrap();
        assert_eq!(identity.subject, "80351110224678912");
        assert_eq!(identity.name, "Nelly");
        assert_eq!(identity.email.as_deref(), Some("nelly@discord.com"));
        assert_eq!(
            identity.picture.as_deref(),
            Some(
                "https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png"
            )
        );
    }

    #[test]
    fn a_snowflake_as_a_number_and_verified_as_a_string_are_read() {
        let user: User = serde_json::from_str(
            r#"{"id":80351110224678912,"username":"nelly","global_name":null,
                "avatar":null,"email":"nelly@discord.com","verified":"true"}"#,
        )
        .unwrap();
        let identity = identity_from(PRESET.issuer, "discord", user).unwrap();
        assert_eq!(identity.subject, "80351110224678912");
        assert_eq!(identity.name, "nelly");
        assert_eq!(identity.email.as_deref(), Some("nelly@discord.com"));
    }

    #[test]
    fn an_unverified_email_is_refused() {
        let mut user = user();
        user.verified = Some(false);
        let err = identity_from(PRESET.issuer, "discord", user).unwrap_err();
        assert!(matches!(err, ApiError::NoVerifiedEmail), "{err:?}");
    }

    #[test]
    fn an_id_that_is_not_a_snowflake_is_refused() {
        let mut user = user();
        user.id = "80351110224678912/../x".into();
        assert!(matches!(
            identity_from(PRESET.issuer, "discord", user),
            Err(ApiError::Invalid(_))
        ));
    }

    #[test]
    fn the_token_endpoints_answers_are_read_as_discord_sends_them() {
        let grant = parse_token_response(StatusCode::OK, fixture("token.json").as_bytes()).unwrap();
        assert_eq!(
            grant.access_token.expose(),
            "6qrZcUqja7812RVdnEKjpzOL4CvHBFG"
        );
        assert_eq!(grant.expires_in, Some(604800));
        assert!(grant.refresh_token.is_some());
        let err = parse_token_response(
            StatusCode::BAD_REQUEST,
            fixture("token-error.json").as_bytes(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ApiError::Refused { error, .. } if error == "invalid_grant"),
            "{err:?}"
        );
        let unauthorized = api_error(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            fixture("unauthorized.json").as_bytes(),
        );
        assert!(matches!(unauthorized, ApiError::Unauthorized(_)));
    }

    #[test]
    fn the_endpoints_follow_the_site() {
        let e = Discord.endpoints(&ProviderSettings::for_tests("discord", PRESET.issuer));
        assert_eq!(e.authorize, "https://discord.com/oauth2/authorize");
        assert_eq!(e.token, "https://discord.com/api/v10/oauth2/token");
        assert_eq!(e.api, "https://discord.com/api/v10");
    }
}
