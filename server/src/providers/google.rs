//! Google: a standard OpenID Connect provider. Enabling it takes only
//! `GOOGLE_CLIENT_ID` and `GOOGLE_CLIENT_SECRET`; register
//! `<APP_PUBLIC_URL>/auth/callback/google` as the redirect URI in the Google
//! Cloud console.

use super::{Preset, Protocol, ResponseMode};

pub const PRESET: Preset = Preset {
    issuer: "https://accounts.google.com",
    label: "Google",
    protocol: Protocol::Oidc,
    scopes: "openid email profile",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/google.svg"),
};
