//! X with OAuth 1.0a ("Sign in with Twitter", RFC 5849), for apps whose X
//! credentials are an API key and secret (`TWITTER_CLIENT_ID`,
//! `TWITTER_CLIENT_SECRET`): temporary credentials from
//! `POST /oauth/request_token`, the user sent to `/oauth/authenticate`
//! (which passes straight back for a user who authorized the app before),
//! token credentials from `POST /oauth/access_token`, and the user from
//! `GET /1.1/account/verify_credentials.json?include_email=true`, every
//! request signed with HMAC-SHA1. Keyed by the numeric id (`id_str`) at
//! `https://x.com`, as the OAuth 2.0 preset `x` keys it: the same person
//! is the same account either way. X returns an e-mail only when it is
//! verified (and the app may ask for it); a user who said no at X comes
//! back with `denied`.

use serde_json::Value;

use super::{
    Preset, Protocol, ProviderSettings, ResponseMode,
    claims::{self, Object},
    oauth1_flow::{OAuth1Endpoints, OAuth1Provider},
    oauth2::ApiError,
};
use crate::{flow::SignInParams, users::Identity};

pub const PRESET: Preset = Preset {
    issuer: "https://x.com",
    label: "X",
    protocol: Protocol::OAuth1(&Twitter),
    scopes: "",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/x.svg"),
};

/// X's API, for its site (`TWITTER_API_URL` for another).
const PUBLIC_API: &str = "https://api.x.com";

/// The fields of `verify_credentials` the profile shows.
const FIELDS: &[(&str, &str)] = &[
    ("Name", "name"),
    ("Username", "screen_name"),
    ("E-mail", "email"),
    ("Account ID", "id_str"),
];

/// X over OAuth 1.0a.
pub struct Twitter;

impl OAuth1Provider for Twitter {
    fn name(&self) -> &'static str {
        "twitter"
    }

    fn endpoints(&self, settings: &ProviderSettings) -> OAuth1Endpoints {
        let api = settings.api_base(PUBLIC_API);
        OAuth1Endpoints {
            request_token: format!("{api}/oauth/request_token"),
            authorize: format!("{api}/oauth/authenticate"),
            access_token: format!("{api}/oauth/access_token"),
            user: format!(
                "{api}/1.1/account/verify_credentials.json?include_email=true&skip_status=true"
            ),
        }
    }

    fn identity(&self, settings: &ProviderSettings, user: &Object) -> Result<Identity, ApiError> {
        // `id_str`; the number only when it is exact (X ids outgrow what a
        // JSON double holds, which is why it sends the string).
        let subject = claims::text(user, "id_str")
            .or_else(|| {
                user.get("id")
                    .and_then(Value::as_u64)
                    .map(|id| id.to_string())
            })
            .ok_or(ApiError::Invalid("verify_credentials has no id_str"))?;
        let email = claims::text(user, "email");
        Ok(Identity {
            issuer: settings.issuer.clone(),
            subject,
            provider: settings.id.clone(),
            name: claims::text(user, "name")
                .or_else(|| claims::text(user, "screen_name"))
                .unwrap_or_default(),
            // X returns an e-mail only when it is verified.
            email_verified: email.is_some(),
            email,
            picture: claims::text(user, "profile_image_url_https"),
        })
    }

    fn profile(&self) -> (&'static str, &'static [(&'static str, &'static str)]) {
        ("X API", FIELDS)
    }

    /// X asks for the password again with `force_login` (the nearest it
    /// has to `max_age` and `prompt=login`: the sign-in's time then
    /// counts as the authentication's) and prefills `screen_name` from
    /// `login_hint`; it has nothing for `prompt=none`, `consent` or
    /// `select_account`, nor for `acr_values`; `ui_locales` it ignores.
    fn authorize_params(
        &self,
        params: &SignInParams,
    ) -> Result<Vec<(&'static str, String)>, &'static str> {
        if !params.acr_values.is_empty() {
            return Err("acr_values");
        }
        if params
            .prompt
            .as_deref()
            .is_some_and(|prompt| prompt != "login")
        {
            return Err("prompt");
        }
        let mut extra = Vec::new();
        if params.asks_for_login() || params.max_age.is_some() {
            extra.push(("force_login", "true".to_owned()));
        }
        if let Some(hint) = &params.login_hint {
            extra.push(("screen_name", hint.clone()));
        }
        Ok(extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::fixture;

    fn settings() -> ProviderSettings {
        ProviderSettings::for_tests("twitter", PRESET.issuer)
    }

    #[test]
    fn the_user_is_keyed_by_id_str_with_the_email_x_verified() {
        let user: Object =
            serde_json::from_str(&fixture("twitter/verify_credentials.json")).unwrap();
        let identity = Twitter.identity(&settings(), &user).unwrap();
        assert_eq!(identity.issuer, "https://x.com");
        assert_eq!(identity.subject, "1564286548374040576");
        assert_eq!(identity.name, "Ada Example");
        assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
        assert!(identity.email_verified);
        assert_eq!(
            identity.picture.as_deref(),
            Some("https://pbs.twimg.com/profile_images/1/ada_normal.jpg")
        );
        // Without an e-mail (the app did not ask, or it is not verified).
        let mut user = user;
        user.remove("email");
        let identity = Twitter.identity(&settings(), &user).unwrap();
        assert_eq!((identity.email, identity.email_verified), (None, false));
        // The number when there is no string, but only an exact one.
        user.remove("id_str");
        assert_eq!(
            Twitter.identity(&settings(), &user).unwrap().subject,
            "1564286548374040576"
        );
        user.insert("id".into(), serde_json::json!(1.564_286_548_374_040_6e18));
        assert!(Twitter.identity(&settings(), &user).is_err());
    }

    #[test]
    fn the_endpoints_follow_the_configured_api_base() {
        let local = ProviderSettings {
            api_url: Some("http://127.0.0.1:9100/".into()),
            ..settings()
        };
        let endpoints = Twitter.endpoints(&local);
        assert_eq!(
            endpoints.request_token,
            "http://127.0.0.1:9100/oauth/request_token"
        );
        assert_eq!(
            endpoints.authorize,
            "http://127.0.0.1:9100/oauth/authenticate"
        );
        assert!(
            endpoints
                .user
                .starts_with("http://127.0.0.1:9100/1.1/account/verify_credentials.json?")
        );
        assert_eq!(
            Twitter.endpoints(&settings()).access_token,
            "https://api.x.com/oauth/access_token"
        );
    }
}
