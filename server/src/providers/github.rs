//! GitHub: plain OAuth 2.0, no OpenID Connect. Its quirks, all here:
//! the token endpoint wants `Accept: application/json` and answers errors
//! with HTTP 200; the user comes from `GET /user` and the e-mail from
//! `GET /user/emails`, taking the one that is primary **and** verified;
//! the subject is GitHub's immutable numeric id (never the login, which
//! users can change, nor the e-mail). GitHub Enterprise Server: set
//! `GITHUB_ISSUER` to its address (the API is then at `/api/v3`, or set
//! `GITHUB_API_URL`).

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
    issuer: "https://github.com",
    label: "GitHub",
    protocol: Protocol::Plain(&GitHub),
    scopes: "read:user user:email",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/github.svg"),
};

/// GitHub, as a [`PlainProvider`]. It revokes grants through its own
/// API, not RFC 7009 (users end them at github.com/settings/applications),
/// so it names no revocation endpoint.
pub struct GitHub;

#[async_trait]
impl PlainProvider for GitHub {
    fn name(&self) -> &'static str {
        "github"
    }

    fn endpoints(&self, settings: &ProviderSettings) -> Endpoints {
        let site = settings.issuer.as_str();
        let api = match site == PRESET.issuer {
            true => settings.api_base(PUBLIC_API),
            false => settings.api_base(&format!("{site}/api/v3")),
        };
        Endpoints {
            authorize: format!("{site}/login/oauth/authorize"),
            token: format!("{site}/login/oauth/access_token"),
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
            &format!("{}/user", endpoints.api),
            access_token,
            &HEADERS,
        )
        .await?;
        let emails: Vec<Email> = oauth2::get_json(
            http,
            &format!("{}/user/emails", endpoints.api),
            access_token,
            &HEADERS,
        )
        .await?;
        identity_from(site, provider, user, emails)
    }

    async fn profile(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        _settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError> {
        let api = ProfileApi {
            source: "GitHub API",
            path: "/user",
            headers: &[("accept", "application/vnd.github+json")],
            fields: &[
                ("Login", "login"),
                ("Public repositories", "public_repos"),
                ("Followers", "followers"),
            ],
        };
        plain::profile_at(http, endpoints, api, access_token).await
    }
}

const PUBLIC_API: &str = "https://api.github.com";
const HEADERS: [(&str, &str); 2] = [
    ("accept", "application/vnd.github+json"),
    ("x-github-api-version", "2022-11-28"),
];

/// `GET /user`, the fields we use; the id is the subject, so it must be
/// one, the rest are read in any unambiguous shape.
#[derive(Debug, Deserialize)]
pub struct User {
    #[serde(deserialize_with = "lenient::numeric_id")]
    pub id: String,
    pub login: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub avatar_url: Option<String>,
}

/// One entry of `GET /user/emails`.
#[derive(Debug, Deserialize)]
pub struct Email {
    pub email: String,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub primary: bool,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub verified: bool,
}

/// The identity in GitHub's answers: keyed by the numeric id, with the
/// primary verified e-mail, or refused without one.
pub fn identity_from(
    site: &str,
    provider: &str,
    user: User,
    emails: Vec<Email>,
) -> Result<Identity, ApiError> {
    let email = emails
        .into_iter()
        .find(|e| e.primary && e.verified)
        .map(|e| e.email)
        .ok_or(ApiError::NoVerifiedEmail)?;
    let name = user
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(user.login);
    Ok(Identity {
        issuer: site.to_owned(),
        subject: user.id,
        provider: provider.to_owned(),
        name,
        email: Some(email),
        email_verified: true,
        picture: user.avatar_url,
    })
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, StatusCode};

    use super::*;
    use crate::providers::oauth2::{api_error, parse_token_response};

    /// Responses in the shapes GitHub documents (docs.github.com, REST
    /// "Users" and "Emails", and "Authorizing OAuth apps").
    fn fixture(name: &str) -> String {
        crate::providers::fixture(&format!("github/{name}"))
    }

    fn user() -> User {
        serde_json::from_str(&fixture("user.json")).unwrap()
    }

    #[test]
    fn the_subject_is_the_numeric_id_and_the_email_the_primary_verified_one() {
        let emails = serde_json::from_str(&fixture("emails.json")).unwrap();
        let identity = identity_from(PRESET.issuer, "github", user(), emails).unwrap();
        assert_eq!(identity.subject, "583231");
        assert_eq!(identity.issuer, "https://github.com");
        assert_eq!(identity.email.as_deref(), Some("octocat@github.com"));
        assert_eq!(identity.name, "The Octocat");
        assert_eq!(
            identity.picture.as_deref(),
            Some("https://avatars.githubusercontent.com/u/583231?v=4")
        );
    }

    #[test]
    fn no_primary_verified_email_is_refused_not_guessed() {
        let emails = serde_json::from_str(&fixture("emails-unverified.json")).unwrap();
        let err = identity_from(PRESET.issuer, "github", user(), emails).unwrap_err();
        assert!(matches!(err, ApiError::NoVerifiedEmail), "{err:?}");
    }

    #[test]
    fn user_and_email_fields_in_other_shapes_are_read_and_the_id_stays_strict() {
        let user: User = serde_json::from_str(
            r#"{"id":"583231","login":"octocat","name":7,"avatar_url":null,"plan":{"name":"pro"}}"#,
        )
        .unwrap();
        let emails: Vec<Email> = serde_json::from_str(
            r#"[{"email":"octocat@github.com","primary":"true","verified":"TRUE","visibility":null}]"#,
        )
        .unwrap();
        let identity = identity_from(PRESET.issuer, "github", user, emails).unwrap();
        assert_eq!(identity.subject, "583231");
        assert_eq!(identity.name, "octocat");
        assert_eq!(identity.email.as_deref(), Some("octocat@github.com"));
        for id in [r#""583231x""#, r#""""#, "-1", "1.5", "null", r#"["1"]"#] {
            let body = format!(r#"{{"id":{id},"login":"octocat"}}"#);
            assert!(serde_json::from_str::<User>(&body).is_err(), "{id}");
        }
    }

    #[test]
    fn a_user_without_a_display_name_is_shown_by_login() {
        let mut user = user();
        user.name = None;
        let emails = serde_json::from_str(&fixture("emails.json")).unwrap();
        let identity = identity_from(PRESET.issuer, "github", user, emails).unwrap();
        assert_eq!(identity.name, "octocat");
    }

    #[test]
    fn the_token_endpoints_answers_are_read_as_github_sends_them() {
        let grant = parse_token_response(StatusCode::OK, fixture("token.json").as_bytes()).unwrap();
        assert_eq!(
            grant.access_token.expose(),
            "gho_16C7e42F292c6912E7710c838347Ae178B4a"
        );
        let err = parse_token_response(StatusCode::OK, fixture("token-error.json").as_bytes())
            .unwrap_err();
        assert!(
            matches!(&err, ApiError::Refused { error, .. } if error == "bad_verification_code"),
            "{err:?}"
        );
    }

    #[test]
    fn api_errors_are_classified_as_github_sends_them() {
        let bad = api_error(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            fixture("bad-credentials.json").as_bytes(),
        );
        assert!(matches!(bad, ApiError::Unauthorized(_)), "{bad:?}");
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1700000000"));
        let limited = api_error(
            StatusCode::FORBIDDEN,
            &headers,
            fixture("rate-limited.json").as_bytes(),
        );
        assert!(matches!(limited, ApiError::RateLimited(_)), "{limited:?}");
    }

    #[test]
    fn enterprise_server_has_its_api_under_the_site() {
        assert_eq!(
            GitHub
                .endpoints(&ProviderSettings::for_tests("github", PRESET.issuer))
                .api,
            "https://api.github.com"
        );
        let site = ProviderSettings::for_tests("github", "https://github.example.com");
        let ghe = GitHub.endpoints(&site);
        assert_eq!(ghe.api, "https://github.example.com/api/v3");
        assert_eq!(
            ghe.token,
            "https://github.example.com/login/oauth/access_token"
        );
    }
}
