//! X (formerly Twitter): plain OAuth 2.0 with PKCE, written as the
//! configuration any provider could be (`configured.rs`). The user comes
//! from `GET /2/users/me` (`{"data": {"id", "name", "username"}}`), keyed by
//! its numeric `id` as a string (never the `username`, which users change).
//! X gives no e-mail through this API, so its users sign in without one.
//! The client authenticates with HTTP Basic (a confidential client);
//! `offline.access` asks for a refresh token.

use super::{
    Preset, Protocol, ProviderSettings, ResponseMode,
    configured::{Described, OAuth2Settings, UserFields},
    oauth2::{ClientAuth, Endpoints},
};

pub const PRESET: Preset = Preset {
    issuer: "https://x.com",
    label: "X",
    protocol: Protocol::Plain(&X),
    scopes: "users.read tweet.read offline.access",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/x.svg"),
};

/// X's API, for its site.
const PUBLIC_API: &str = "https://api.x.com/2";

/// X, a [`Described`] preset.
pub struct X;

impl Described for X {
    fn preset_name(&self) -> &'static str {
        "x"
    }

    fn endpoints_at(&self, settings: &ProviderSettings) -> Endpoints {
        let site = settings.issuer.trim_end_matches('/');
        let api = settings.api_base(PUBLIC_API);
        Endpoints {
            authorize: format!("{site}/i/oauth2/authorize"),
            token: format!("{api}/oauth2/token"),
            api,
        }
    }

    /// Where its answers say who the user is.
    fn described(&self, endpoints: &Endpoints) -> OAuth2Settings {
        OAuth2Settings {
            authorize_url: endpoints.authorize.clone(),
            token_url: endpoints.token.clone(),
            userinfo_url: format!("{}/users/me", endpoints.api),
            client_auth: ClientAuth::Basic,
            authorize_params: Vec::new(),
            token_params: Vec::new(),
            fields: UserFields {
                id: "/data/id".into(),
                email: None,
                email_verified: None,
                name: Some("/data/name".into()),
                avatar: Some("/data/profile_image_url".into()),
            },
            emails: None,
        }
    }

    fn profile_source(&self) -> &'static str {
        "X API"
    }

    fn revocation_at(&self, endpoints: &Endpoints) -> Option<String> {
        Some(format!("{}/oauth2/revoke", endpoints.api))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoints_are_xs_and_follow_a_configured_site_and_api() {
        let x = X.endpoints_at(&ProviderSettings::for_tests("x", PRESET.issuer));
        assert_eq!(x.authorize, "https://x.com/i/oauth2/authorize");
        assert_eq!(x.token, "https://api.x.com/2/oauth2/token");
        assert_eq!(X.described(&x).userinfo_url, "https://api.x.com/2/users/me");
        assert_eq!(
            X.revocation_at(&x).as_deref(),
            Some("https://api.x.com/2/oauth2/revoke")
        );
    }
}
