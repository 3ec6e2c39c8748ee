//! View types: what the UI may know. None of these can hold a token or a
//! secret; they cross to the browser as server-function results and in the
//! hydration state.

use serde::{Deserialize, Serialize};

/// One configured identity provider, as the login page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    /// Stable short name used in URLs (`/auth/sign-in/<id>`).
    pub id: String,
    /// Human label, e.g. "Google".
    pub label: String,
    /// Whether logins with this provider can start right now.
    pub available: bool,
    /// Where its icon is (an SVG image), when it has one.
    #[serde(default)]
    pub icon: Option<String>,
}

impl ProviderView {
    /// The plain link that starts a login, usable before WASM loads.
    pub fn sign_in_href(&self) -> String {
        format!("/auth/sign-in/{}", self.id)
    }
}

/// The signed-in user, as this browser session may see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
    /// Label of the provider used for this session.
    pub provider: String,
    /// The app's own APIs this session can call through Portcullis's
    /// proxy (`/api/remote/<name>`), by name.
    pub apis: Vec<String>,
}

impl UserView {
    /// Up to two initials for the avatar placeholder.
    pub fn initials(&self) -> String {
        let initials: String = self
            .name
            .split_whitespace()
            .filter_map(|word| word.chars().next())
            .take(2)
            .collect();
        upper_case(&initials)
    }
}

/// The first letter of `label`, upper-cased: a provider's icon.
pub fn first_letter(label: &str) -> Option<String> {
    label
        .chars()
        .next()
        .map(|letter| upper_case(letter.encode_utf8(&mut [0; 4])))
}

/// `text` upper-cased by Unicode's default case mapping. In the browser the
/// JavaScript engine does it (`String.prototype.toUpperCase`, the same
/// mapping), so the WASM bundle carries no Unicode case tables: they cost
/// about 5 KB of the compressed bundle.
pub fn upper_case(text: &str) -> String {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::JsString::from(text).to_upper_case().into()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        text.to_uppercase()
    }
}

/// One way the signed-in account can sign in: a provider identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityView {
    /// The provider's short name.
    pub provider: String,
    /// The provider's label, e.g. "GitHub".
    pub label: String,
    /// Where its icon is (an SVG image), when it has one.
    #[serde(default)]
    pub icon: Option<String>,
    /// The e-mail address this identity came with.
    pub email: Option<String>,
    /// The identity's key at its provider, which the "Disconnect" form
    /// names. Identifiers, not credentials.
    pub issuer: String,
    pub subject: String,
}

/// The account's identities and the providers it could still connect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionsView {
    pub linked: Vec<IdentityView>,
    /// Configured providers the account has no identity at.
    pub connectable: Vec<ProviderView>,
}

impl ConnectionsView {
    /// Any identity but the last can be disconnected.
    pub fn can_disconnect(&self) -> bool {
        self.linked.len() > 1
    }
}

/// One signed-in session of the account, as the profile lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Handle for "End session" (only the account's owner can use it).
    pub id: String,
    /// E.g. "Firefox on Linux".
    pub browser: String,
    /// When it signed in and was last used, e.g. "2026-11-26 06:40 UTC".
    pub created: String,
    pub last_seen: String,
    /// Whether it is the session of this very browser.
    pub current: bool,
}

/// Data fetched live from the provider's API with the user's token, on
/// the server; the browser sees only this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveProfile {
    /// Where it came from, e.g. "GitHub API".
    pub source: String,
    /// Label and value pairs, in display order.
    pub entries: Vec<(String, String)>,
    /// When it was fetched, e.g. "2026-11-26 06:40 UTC".
    pub fetched_at: String,
}

/// Health of the service, as the status panel shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Portcullis version serving this page.
    pub version: String,
    /// Seconds since this server instance started.
    pub uptime_secs: u64,
    /// How many configured providers can take logins now.
    pub providers_available: usize,
    /// How many providers are configured.
    pub providers_total: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserView {
        UserView {
            name: name.into(),
            email: None,
            picture: None,
            provider: "Local".into(),
            apis: Vec::new(),
        }
    }

    #[test]
    fn initials_take_the_first_letter_of_two_words() {
        assert_eq!(user("dana demo").initials(), "DD");
        assert_eq!(user("Alice  Example Third").initials(), "AE");
        assert_eq!(user("Ödön").initials(), "Ö");
        assert_eq!(user("").initials(), "");
    }

    #[test]
    fn initials_and_first_letters_use_full_case_mapping() {
        assert_eq!(user("ödön örs").initials(), "ÖÖ");
        assert_eq!(user("ßa").initials(), "SS");
        assert_eq!(first_letter("github").as_deref(), Some("G"));
        assert_eq!(first_letter("ésope").as_deref(), Some("É"));
        assert_eq!(first_letter(""), None);
    }

    #[test]
    fn sign_in_href_points_at_the_provider_route() {
        let provider = ProviderView {
            id: "local".into(),
            label: "Local".into(),
            available: true,
            icon: None,
        };
        assert_eq!(provider.sign_in_href(), "/auth/sign-in/local");
    }
}
