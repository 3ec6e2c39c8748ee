//! Twitch: OpenID Connect, found by discovery at
//! `https://id.twitch.tv/oauth2` (an issuer with a path). Enabling it takes
//! only `TWITCH_CLIENT_ID` and `TWITCH_CLIENT_SECRET`. Its quirk: the
//! e-mail, picture and user name come only when asked for one by one in
//! the `claims` request parameter (OIDC Core §5.5), which the
//! authorization request here always sends; the name is then the
//! `preferred_username` (there is no `name`). Its token response says
//! `token_type: bearer` and the scope as an array, and `updated_at` is RFC
//! 3339 text, each read by the generic rules. Shapes from Twitch's
//! documentation in `tests/fixtures/twitch/`.

use super::{Preset, Protocol, ResponseMode};

/// The claims Twitch gives only when asked (its "Requesting claims").
const CLAIMS: &str = r#"{"id_token":{"email":null,"email_verified":null,"picture":null,"preferred_username":null},"userinfo":{"email":null,"email_verified":null,"picture":null,"preferred_username":null}}"#;

pub const PRESET: Preset = Preset {
    issuer: "https://id.twitch.tv/oauth2",
    label: "Twitch",
    protocol: Protocol::Oidc,
    scopes: "openid user:read:email",
    response_mode: ResponseMode::Query,
    authorize_params: &[("claims", CLAIMS)],
    icon: include_str!("icons/twitch.svg"),
};
