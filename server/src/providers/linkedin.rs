//! LinkedIn ("Sign In with LinkedIn using OpenID Connect"): found by
//! discovery at `https://www.linkedin.com/oauth`. Enabling it takes only
//! `LINKEDIN_CLIENT_ID` and `LINKEDIN_CLIENT_SECRET`. Its quirks, each read
//! by the generic rules: the ID token's `email_verified` is the string
//! `"true"`, userinfo's `locale` an object (`{"country", "language"}`),
//! the token response's `scope` comma-separated and its access token good
//! for 60 days, with no refresh token for most apps (the session then
//! lasts until LinkedIn refuses the token); subjects are pairwise, one per
//! app. Shapes from LinkedIn's documentation in `tests/fixtures/linkedin/`.

use super::{Preset, Protocol, ResponseMode};

pub const PRESET: Preset = Preset {
    issuer: "https://www.linkedin.com/oauth",
    label: "LinkedIn",
    protocol: Protocol::Oidc,
    scopes: "openid profile email",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/linkedin.svg"),
};
