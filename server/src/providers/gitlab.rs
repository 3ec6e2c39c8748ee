//! GitLab (gitlab.com, or a self-managed instance through `GITLAB_ISSUER`):
//! a standard OpenID Connect provider. Register
//! `<APP_PUBLIC_URL>/auth/callback/gitlab` as the application's callback
//! URL with the scopes `openid email profile`.

use super::{Preset, Protocol, ResponseMode};

pub const PRESET: Preset = Preset {
    issuer: "https://gitlab.com",
    label: "GitLab",
    protocol: Protocol::Oidc,
    scopes: "openid email profile",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/gitlab.svg"),
};
