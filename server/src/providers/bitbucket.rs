//! Bitbucket Cloud: plain OAuth 2.0, written as the configuration any
//! provider could be (`configured.rs`): the user from `GET /2.0/user`,
//! keyed by its `account_id` (never the nickname, which users change),
//! named by `display_name`; the e-mail from `GET /2.0/user/emails`, the
//! entry that is primary **and** confirmed (without the `email` scope that
//! list is refused, and the user signs in without an e-mail). The client
//! authenticates with HTTP Basic, as Bitbucket documents. It documents no
//! RFC 7009 revocation endpoint (users revoke access in their settings).

use super::{
    Preset, Protocol, ProviderSettings, ResponseMode,
    configured::{Described, EmailsApi, OAuth2Settings, UserFields},
    oauth2::{ClientAuth, Endpoints},
};

pub const PRESET: Preset = Preset {
    issuer: "https://bitbucket.org",
    label: "Bitbucket",
    protocol: Protocol::Plain(&Bitbucket),
    scopes: "account email",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/bitbucket.svg"),
};

/// Bitbucket Cloud's API, for its site.
const PUBLIC_API: &str = "https://api.bitbucket.org/2.0";

/// Bitbucket, a [`Described`] preset.
pub struct Bitbucket;

impl Described for Bitbucket {
    fn preset_name(&self) -> &'static str {
        "bitbucket"
    }

    fn endpoints_at(&self, settings: &ProviderSettings) -> Endpoints {
        let site = settings.issuer.trim_end_matches('/');
        let api = settings.api_base(PUBLIC_API);
        Endpoints {
            authorize: format!("{site}/site/oauth2/authorize"),
            token: format!("{site}/site/oauth2/access_token"),
            api,
        }
    }

    /// Where its answers say who the user is.
    fn described(&self, endpoints: &Endpoints) -> OAuth2Settings {
        OAuth2Settings {
            authorize_url: endpoints.authorize.clone(),
            token_url: endpoints.token.clone(),
            userinfo_url: format!("{}/user", endpoints.api),
            client_auth: ClientAuth::Basic,
            authorize_params: Vec::new(),
            token_params: Vec::new(),
            fields: UserFields {
                id: "/account_id".into(),
                email: None,
                email_verified: None,
                name: Some("/display_name".into()),
                avatar: Some("/links/avatar/href".into()),
            },
            emails: Some(EmailsApi {
                url: format!("{}/user/emails", endpoints.api),
                list: "/values".into(),
                address: "/email".into(),
                primary: "/is_primary".into(),
                verified: "/is_confirmed".into(),
            }),
        }
    }

    fn profile_source(&self) -> &'static str {
        "Bitbucket API"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoints_are_bitbuckets_and_follow_a_configured_site_and_api() {
        let cloud =
            Bitbucket.endpoints_at(&ProviderSettings::for_tests("bitbucket", PRESET.issuer));
        assert_eq!(
            cloud.authorize,
            "https://bitbucket.org/site/oauth2/authorize"
        );
        assert_eq!(
            cloud.token,
            "https://bitbucket.org/site/oauth2/access_token"
        );
        assert_eq!(cloud.api, "https://api.bitbucket.org/2.0");
        let local = ProviderSettings {
            api_url: Some("http://127.0.0.1:9000/2.0/".into()),
            ..ProviderSettings::for_tests("bitbucket", "http://127.0.0.1:9000")
        };
        let local = Bitbucket.endpoints_at(&local);
        assert_eq!(
            local.token,
            "http://127.0.0.1:9000/site/oauth2/access_token"
        );
        assert_eq!(
            Bitbucket.described(&local).userinfo_url,
            "http://127.0.0.1:9000/2.0/user"
        );
    }
}
