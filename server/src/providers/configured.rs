//! Any plain OAuth 2.0 provider from configuration alone, in the style
//! users know from Authlib: its authorization, token and user-info
//! endpoints, how the client authenticates, extra parameters for the
//! authorization and token requests, and where in the user-info answer
//! (JSON pointers, RFC 6901) the stable user id, the e-mail, whether it is
//! verified, the name and the avatar are; optionally a second endpoint
//! that lists the user's e-mails (as GitHub's and Bitbucket's do), from
//! which the primary verified one is taken. The identity is keyed by
//! (the provider's issuer, the user id); the issuer is `<NAME>_ISSUER`,
//! or the authorization endpoint's origin.
//!
//! Every such provider shares [`CONFIGURED`]; what tells them apart is in
//! their settings ([`OAuth2Settings`]).

use async_trait::async_trait;
use serde_json::Value;

use super::{
    ProviderSettings,
    claims::{self, Object},
    oauth2::{self, ApiError, ClientAuth, Endpoints},
    plain::PlainProvider,
    protocol::{ProfileData, ProfileError},
};
use crate::{http_client::ProviderHttp, secret::Secret, users::Identity};

/// A plain OAuth 2.0 provider as its configuration describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2Settings {
    /// The authorization endpoint (RFC 6749 §3.1; `<NAME>_AUTHORIZE_URL`).
    pub authorize_url: String,
    /// The token endpoint (RFC 6749 §3.2; `<NAME>_TOKEN_URL`).
    pub token_url: String,
    /// Answers who the access token's user is, as JSON
    /// (`<NAME>_USERINFO_URL`).
    pub userinfo_url: String,
    /// `<NAME>_TOKEN_AUTH_METHOD`; `client_secret_basic` by default.
    pub client_auth: ClientAuth,
    /// `<NAME>_AUTHORIZE_PARAMS`, added to the authorization request.
    pub authorize_params: Vec<(String, String)>,
    /// `<NAME>_TOKEN_PARAMS`, added to the code exchange and refresh.
    pub token_params: Vec<(String, String)>,
    /// Where the identity is in the user-info answer.
    pub fields: UserFields,
    /// The endpoint that lists the user's e-mails, if any.
    pub emails: Option<EmailsApi>,
}

/// JSON pointers (RFC 6901) into the user-info answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFields {
    /// The stable user id, a string or a number (`<NAME>_USER_ID_FIELD`,
    /// default `/id`).
    pub id: String,
    /// `<NAME>_EMAIL_FIELD`, default `/email`.
    pub email: Option<String>,
    /// Whether the e-mail is verified, a boolean or `"true"`
    /// (`<NAME>_EMAIL_VERIFIED_FIELD`); without one, no e-mail from the
    /// user-info answer counts as verified.
    pub email_verified: Option<String>,
    /// `<NAME>_NAME_FIELD`, default `/name`.
    pub name: Option<String>,
    /// An `https://` image URL (`<NAME>_AVATAR_FIELD`); any other is
    /// dropped.
    pub avatar: Option<String>,
}

/// The endpoint that lists the user's e-mails (`<NAME>_EMAILS_URL`) and
/// JSON pointers into its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailsApi {
    /// Called with the user's access token, like the user-info endpoint.
    pub url: String,
    /// The array of e-mails (`<NAME>_EMAILS_LIST_FIELD`, default the whole
    /// answer).
    pub list: String,
    /// In each entry (`<NAME>_EMAILS_ADDRESS_FIELD`, default `/email`).
    pub address: String,
    /// `<NAME>_EMAILS_PRIMARY_FIELD`, default `/primary`.
    pub primary: String,
    /// `<NAME>_EMAILS_VERIFIED_FIELD`, default `/verified`.
    pub verified: String,
}

/// The behaviour every configured plain OAuth 2.0 provider shares.
#[derive(Debug)]
pub struct Configured;

/// The one [`Configured`].
pub static CONFIGURED: Configured = Configured;

/// What the profile shows, from the fields the identity came from.
const PROFILE_FIELDS: &[(&str, &str)] = &[
    ("Name", "name"),
    ("E-mail", "email"),
    ("E-mail verified", "email_verified"),
    ("Account ID", "id"),
];

/// The provider's own settings; a settings value without them is a bug
/// in the configuration reader, so the endpoints are left empty (and every
/// call fails) rather than panic.
fn oauth2(settings: &ProviderSettings) -> Option<&OAuth2Settings> {
    settings.oauth2.as_deref()
}

#[async_trait]
impl PlainProvider for Configured {
    fn name(&self) -> &'static str {
        "oauth2"
    }

    fn endpoints(&self, settings: &ProviderSettings) -> Endpoints {
        match oauth2(settings) {
            Some(config) => Endpoints {
                authorize: config.authorize_url.clone(),
                token: config.token_url.clone(),
                api: config.userinfo_url.clone(),
            },
            None => Endpoints {
                authorize: String::new(),
                token: String::new(),
                api: String::new(),
            },
        }
    }

    fn client_auth(&self, settings: &ProviderSettings) -> ClientAuth {
        oauth2(settings).map_or(ClientAuth::Basic, |config| config.client_auth)
    }

    fn authorize_params<'a>(&self, settings: &'a ProviderSettings) -> &'a [(String, String)] {
        oauth2(settings).map_or(&[], |config| config.authorize_params.as_slice())
    }

    fn token_params<'a>(&self, settings: &'a ProviderSettings) -> &'a [(String, String)] {
        oauth2(settings).map_or(&[], |config| config.token_params.as_slice())
    }

    async fn identity(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<Identity, ApiError> {
        let config = oauth2(settings).ok_or(ApiError::Invalid("no endpoints configured"))?;
        fetch_identity(http, &endpoints.api, settings, config, access_token).await
    }

    async fn profile(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError> {
        let config = oauth2(settings).ok_or(ProfileError::UnknownProvider)?;
        let source = "the provider's user-info endpoint";
        profile_of(http, &endpoints.api, settings, config, access_token, source).await
    }
}

/// What the profile shows: the identity signing in reads, read again
/// fresh from `userinfo_url` (and the e-mail list), labelled `source`.
async fn profile_of(
    http: &ProviderHttp,
    userinfo_url: &str,
    settings: &ProviderSettings,
    config: &OAuth2Settings,
    access_token: &Secret,
    source: &'static str,
) -> Result<ProfileData, ProfileError> {
    let identity = fetch_identity(http, userinfo_url, settings, config, access_token).await?;
    let mut data = Object::new();
    data.insert("id".into(), Value::String(identity.subject));
    data.insert("name".into(), Value::String(identity.name));
    if let Some(email) = identity.email {
        data.insert("email".into(), Value::String(email));
        let verified = if identity.email_verified { "yes" } else { "no" };
        data.insert("email_verified".into(), Value::String(verified.into()));
    }
    Ok(ProfileData {
        source,
        data,
        fields: PROFILE_FIELDS,
    })
}

/// A preset written as the configuration any provider could be: its
/// endpoints and where its answers say who the user is; the rest
/// (identity, profile, client authentication) is what every provider
/// described by configuration does.
pub(super) trait Described: Send + Sync + 'static {
    /// Its preset name, e.g. `bitbucket`.
    fn preset_name(&self) -> &'static str;

    /// Its endpoints, for the configured site (the issuer) and API base.
    fn endpoints_at(&self, settings: &ProviderSettings) -> Endpoints;

    /// Where its answers say who the user is, for `endpoints`.
    fn described(&self, endpoints: &Endpoints) -> OAuth2Settings;

    /// Where the profile says its data comes from, e.g. "X API".
    fn profile_source(&self) -> &'static str;

    /// Where it revokes tokens (RFC 7009), if it does.
    fn revocation_at(&self, endpoints: &Endpoints) -> Option<String> {
        let _ = endpoints;
        None
    }
}

#[async_trait]
impl<T: Described> PlainProvider for T {
    fn name(&self) -> &'static str {
        self.preset_name()
    }

    fn endpoints(&self, settings: &ProviderSettings) -> Endpoints {
        self.endpoints_at(settings)
    }

    fn client_auth(&self, settings: &ProviderSettings) -> ClientAuth {
        self.described(&self.endpoints_at(settings)).client_auth
    }

    async fn identity(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<Identity, ApiError> {
        let config = self.described(endpoints);
        fetch_identity(http, &config.userinfo_url, settings, &config, access_token).await
    }

    async fn profile(
        &self,
        http: &ProviderHttp,
        endpoints: &Endpoints,
        settings: &ProviderSettings,
        access_token: &Secret,
    ) -> Result<ProfileData, ProfileError> {
        let config = self.described(endpoints);
        let (url, source) = (&config.userinfo_url, self.profile_source());
        profile_of(http, url, settings, &config, access_token, source).await
    }

    fn revocation_endpoint(&self, endpoints: &Endpoints) -> Option<String> {
        self.revocation_at(endpoints)
    }
}

/// The user-info answer at `userinfo_url`, and the e-mail list where one
/// is configured, read into the identity. An e-mail list the provider
/// refuses (a 4xx: a scope not granted, say) gives no e-mail rather than
/// failing the sign-in; one that is down fails it, as user-info would.
async fn fetch_identity(
    http: &ProviderHttp,
    userinfo_url: &str,
    settings: &ProviderSettings,
    config: &OAuth2Settings,
    access_token: &Secret,
) -> Result<Identity, ApiError> {
    let user: Value = oauth2::get_json(http, userinfo_url, access_token, &[]).await?;
    let emails = match &config.emails {
        None => None,
        Some(api) => match oauth2::get_json::<Value>(http, &api.url, access_token, &[]).await {
            Ok(emails) => Some(emails),
            Err(err) if err.is_refusal_of_the_call() => {
                tracing::warn!(
                    provider = %settings.id,
                    "the e-mail list was refused, so no e-mail is taken from it: {}",
                    crate::telemetry::cause_chain(&err)
                );
                None
            }
            Err(err) => return Err(err),
        },
    };
    identity_from(settings, config, &user, emails.as_ref())
}

/// What the configured fields found in a user-info answer.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    id: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    avatar: Option<String>,
}

/// The text at `pointer`: a non-blank string.
fn text_at(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// The id at `pointer`: a non-blank string, or a whole number written out.
fn id_at(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::Number(number) if number.is_i64() || number.is_u64() => Some(number.to_string()),
        _ => text_at(value, pointer),
    }
}

/// The flag at `pointer`: a boolean, or `"true"`/`"false"` in any case.
fn flag_at(value: &Value, pointer: &str) -> bool {
    value
        .pointer(pointer)
        .and_then(claims::flag_value)
        .unwrap_or(false)
}

fn found_fields(fields: &UserFields, user: &Value) -> Result<Found, ApiError> {
    // The subject keys the account: a string or a whole number, never
    // guessed from another field.
    let id = id_at(user, &fields.id).ok_or(ApiError::Invalid(
        "the user id field is missing, or not a string or whole number",
    ))?;
    let at = |pointer: &Option<String>| pointer.as_deref().and_then(|p| text_at(user, p));
    let email_verified = fields
        .email_verified
        .as_deref()
        .is_some_and(|pointer| flag_at(user, pointer));
    let avatar = at(&fields.avatar).filter(|url| url.starts_with("https://"));
    Ok(Found {
        id,
        email: at(&fields.email),
        email_verified,
        name: at(&fields.name),
        avatar,
    })
}

/// The primary, verified address of an e-mail list answer, if any.
fn primary_verified_email(api: &EmailsApi, answer: &Value) -> Option<String> {
    let list = answer.pointer(&api.list)?.as_array()?;
    list.iter()
        .find(|entry| flag_at(entry, &api.primary) && flag_at(entry, &api.verified))
        .and_then(|entry| text_at(entry, &api.address))
}

/// The identity in the answers, keyed by (issuer, user id). The e-mail
/// list, where configured, gives the primary verified address; otherwise
/// the user-info answer's e-mail counts as verified only if its
/// configured flag says so.
fn identity_from(
    settings: &ProviderSettings,
    config: &OAuth2Settings,
    user: &Value,
    emails: Option<&Value>,
) -> Result<Identity, ApiError> {
    let found = found_fields(&config.fields, user)?;
    let listed = config
        .emails
        .as_ref()
        .zip(emails)
        .and_then(|(api, answer)| primary_verified_email(api, answer));
    let (email, email_verified) = match listed {
        Some(email) => (Some(email), true),
        None => (found.email, found.email_verified),
    };
    let name = found
        .name
        .or_else(|| email.clone())
        .unwrap_or_else(|| found.id.clone());
    Ok(Identity {
        issuer: settings.issuer.clone(),
        subject: found.id,
        provider: settings.id.clone(),
        name,
        email,
        email_verified,
        picture: found.avatar,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::providers::Protocol;

    fn fixture(name: &str) -> Value {
        serde_json::from_str(&crate::providers::fixture(&format!("configured/{name}"))).unwrap()
    }

    fn fields(id: &str) -> UserFields {
        UserFields {
            id: id.into(),
            email: Some("/email".into()),
            email_verified: None,
            name: Some("/name".into()),
            avatar: None,
        }
    }

    fn settings(config: OAuth2Settings) -> ProviderSettings {
        ProviderSettings {
            protocol: Protocol::Plain(&CONFIGURED),
            oauth2: Some(Arc::new(config)),
            ..ProviderSettings::for_tests("forge", "https://forge.example")
        }
    }

    fn config(fields: UserFields, emails: Option<EmailsApi>) -> OAuth2Settings {
        OAuth2Settings {
            authorize_url: "https://forge.example/oauth/authorize".into(),
            token_url: "https://forge.example/oauth/token".into(),
            userinfo_url: "https://forge.example/api/user".into(),
            client_auth: ClientAuth::Basic,
            authorize_params: Vec::new(),
            token_params: Vec::new(),
            fields,
            emails,
        }
    }

    /// Bitbucket Cloud as documented (`GET /2.0/user`, `GET
    /// /2.0/user/emails`): the id is `account_id`, the name
    /// `display_name`, the avatar under `links`, and the e-mails a paged
    /// list of `is_primary`/`is_confirmed` entries.
    #[test]
    fn bitbucket_written_as_configuration_is_keyed_by_its_account_id_with_the_confirmed_email() {
        let emails = EmailsApi {
            url: "https://api.bitbucket.org/2.0/user/emails".into(),
            list: "/values".into(),
            address: "/email".into(),
            primary: "/is_primary".into(),
            verified: "/is_confirmed".into(),
        };
        let config = config(
            UserFields {
                id: "/account_id".into(),
                email: None,
                email_verified: None,
                name: Some("/display_name".into()),
                avatar: Some("/links/avatar/href".into()),
            },
            Some(emails),
        );
        let settings = settings(config.clone());
        let user = fixture("bitbucket-user.json");
        let identity = identity_from(
            &settings,
            &config,
            &user,
            Some(&fixture("bitbucket-emails.json")),
        )
        .unwrap();
        assert_eq!(identity.issuer, "https://forge.example");
        assert_eq!(
            identity.subject,
            "557058:c0b72ad0-1cb5-4018-9cdc-0cde8492c443"
        );
        assert_eq!(identity.name, "Emma Example");
        assert_eq!(identity.email.as_deref(), Some("emma@example.com"));
        assert!(identity.email_verified);
        assert_eq!(
            identity.picture.as_deref(),
            Some(
                "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/EE-3.png"
            )
        );
        // Without a primary confirmed entry there is no verified e-mail.
        let unconfirmed = serde_json::json!({ "values": [
            { "email": "emma@example.com", "is_primary": true, "is_confirmed": false },
            { "email": "other@example.com", "is_primary": false, "is_confirmed": true }
        ]});
        let identity = identity_from(&settings, &config, &user, Some(&unconfirmed)).unwrap();
        assert_eq!(identity.email, None);
        assert!(!identity.email_verified);
    }

    /// Gitea as documented (`GET /api/v1/user`): a numeric id, `login`,
    /// `full_name`, `email` and `avatar_url`; no verified flag in the
    /// answer, so the e-mail is kept unverified.
    #[test]
    fn gitea_written_as_configuration_has_a_numeric_id_and_an_unverified_email() {
        let config = config(
            UserFields {
                id: "/id".into(),
                email: Some("/email".into()),
                email_verified: None,
                name: Some("/full_name".into()),
                avatar: Some("/avatar_url".into()),
            },
            None,
        );
        let settings = settings(config.clone());
        let identity =
            identity_from(&settings, &config, &fixture("gitea-user.json"), None).unwrap();
        assert_eq!(identity.subject, "1");
        assert_eq!(identity.name, "Gitea Admin");
        assert_eq!(identity.email.as_deref(), Some("admin@gitea.example"));
        assert!(!identity.email_verified);
        assert_eq!(identity.provider, "forge");
    }

    #[test]
    fn the_verified_flag_is_read_in_the_shapes_providers_send_and_nothing_else_verifies() {
        let mut fields = fields("/id");
        fields.email_verified = Some("/email_verified".into());
        let config = config(fields, None);
        let settings = settings(config.clone());
        for (verified, expected) in [
            (serde_json::json!(true), true),
            (serde_json::json!("TRUE"), true),
            (serde_json::json!("false"), false),
            (serde_json::json!(1), false),
            (serde_json::json!(null), false),
        ] {
            let user =
                serde_json::json!({ "id": 7, "email": "a@b.example", "email_verified": verified });
            let identity = identity_from(&settings, &config, &user, None).unwrap();
            assert_eq!(identity.email_verified, expected, "{verified}");
        }
    }

    #[test]
    fn a_user_id_that_is_missing_blank_fractional_or_an_object_is_refused_not_guessed() {
        let config = config(fields("/data/id"), None);
        let settings = settings(config.clone());
        for user in [
            serde_json::json!({ "id": 1 }),
            serde_json::json!({ "data": { "id": "  " } }),
            serde_json::json!({ "data": { "id": 1.5 } }),
            serde_json::json!({ "data": { "id": { "value": 1 } } }),
            serde_json::json!({ "data": { "id": null } }),
        ] {
            let err = identity_from(&settings, &config, &user, None).unwrap_err();
            assert!(matches!(err, ApiError::Invalid(_)), "{user}: {err:?}");
        }
        let nested = serde_json::json!({ "data": { "id": "u-1" }, "name": "Una" });
        let identity = identity_from(&settings, &config, &nested, None).unwrap();
        assert_eq!(
            (identity.subject.as_str(), identity.name.as_str()),
            ("u-1", "Una")
        );
    }

    #[test]
    fn an_avatar_that_is_not_https_is_dropped_and_only_the_id_may_be_a_number() {
        let mut fields = fields("/id");
        fields.avatar = Some("/avatar".into());
        let config = config(fields, None);
        let settings = settings(config.clone());
        for avatar in [
            "javascript:alert(1)",
            "http://plain.example/a.png",
            "data:image/png;base64,AA",
        ] {
            let user = serde_json::json!({ "id": "9", "email": "n@x.example", "avatar": avatar });
            let identity = identity_from(&settings, &config, &user, None).unwrap();
            assert_eq!(identity.picture, None, "{avatar}");
            assert_eq!(identity.name, "n@x.example", "the e-mail when no name");
        }
        // A number is an id, never an e-mail or a name.
        let numbers = serde_json::json!({ "id": 9, "email": 5, "name": 6 });
        let identity = identity_from(&settings, &config, &numbers, None).unwrap();
        assert_eq!(identity.subject, "9");
        assert_eq!(identity.email, None);
        assert_eq!(identity.name, "9", "the id when nothing else");
    }
}
