//! Slack ("Sign in with Slack"): OpenID Connect, found by discovery at
//! `https://slack.com`. Enabling it takes only `SLACK_CLIENT_ID` and
//! `SLACK_CLIENT_SECRET`. Its quirks, none of which needs code here: the
//! token endpoint answers `"ok": true` beside the tokens (and errors with
//! HTTP 200 and `"ok": false, "error": …`, read as a refusal), issues no
//! refresh token unless the app turned on token rotation, and the subject
//! is the member id (`U…`), one per workspace; claims under
//! `https://slack.com/…` (team, images) are ignored. Shapes from Slack's
//! documentation in `tests/fixtures/slack/`.

use super::{Preset, Protocol, ResponseMode};

pub const PRESET: Preset = Preset {
    issuer: "https://slack.com",
    label: "Slack",
    protocol: Protocol::Oidc,
    scopes: "openid email profile",
    response_mode: ResponseMode::Query,
    authorize_params: &[],
    icon: include_str!("icons/slack.svg"),
};
