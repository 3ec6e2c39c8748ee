//! The authentication request parameters an app may set per sign-in
//! (OpenID Connect Core 1.0 §3.1.2.1), allow-listed and checked here:
//! `prompt`, `login_hint`, `max_age`, `acr_values` and `ui_locales`, given
//! as query parameters of `GET /auth/sign-in/{provider}`. Nothing else the
//! browser sends reaches the provider. They are kept with the sign-in in
//! progress, so its callback can check what they ask for (`max_age`
//! against the ID token's `auth_time`, `acr_values` against its `acr`) and
//! a `prompt=none` the provider cannot satisfy falls back to an
//! interactive sign-in.

use serde::{Deserialize, Serialize};

/// The `prompt` values OpenID Connect Core §3.1.2.1 defines.
const PROMPTS: &[&str] = &["none", "login", "consent", "select_account"];
/// The errors a `prompt=none` request ends with when the provider needs
/// the user (OIDC Core §3.1.2.6): the sign-in goes on interactively.
const NEEDS_INTERACTION: &[&str] = &[
    "login_required",
    "interaction_required",
    "consent_required",
    "account_selection_required",
];
/// The longest `login_hint` passed on (an e-mail address is at most 254).
const MAX_HINT_CHARS: usize = 256;
/// At most this many `acr_values` or `ui_locales`.
const MAX_VALUES: usize = 10;
/// The longest `max_age`: a year, in seconds.
const MAX_MAX_AGE: u64 = 366 * 24 * 3600;

/// A sign-in's own authentication request parameters, each checked.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInParams {
    /// Space-separated `prompt` values, `none` only alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// A hint of who signs in (an e-mail or account name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    /// Seconds: the user must have authenticated at most this long ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// Authentication context classes asked for, in order of preference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    /// BCP 47 language tags for the provider's pages, preferred first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ui_locales: Vec<String>,
}

/// Everything but the `login_hint`, which is often an e-mail address.
impl std::fmt::Debug for SignInParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInParams")
            .field("prompt", &self.prompt)
            .field("login_hint", &self.login_hint.as_ref().map(|_| ".."))
            .field("max_age", &self.max_age)
            .field("acr_values", &self.acr_values)
            .field("ui_locales", &self.ui_locales)
            .finish()
    }
}

/// The parameters as the browser sent them, unchecked.
#[derive(Debug, Default, Deserialize)]
pub struct RawSignInParams {
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub max_age: Option<String>,
    pub acr_values: Option<String>,
    pub ui_locales: Option<String>,
}

/// A parameter that cannot be passed on: its name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sign-in parameter {name} {problem}")]
pub struct ParamError {
    pub name: &'static str,
    pub problem: &'static str,
}

fn refuse(name: &'static str, problem: &'static str) -> ParamError {
    ParamError { name, problem }
}

impl SignInParams {
    /// Checks `raw`: every value must be one the specification allows, and
    /// none may carry control characters; an empty parameter is absent.
    pub fn parse(raw: RawSignInParams) -> Result<Self, ParamError> {
        let present = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let prompt = present(raw.prompt)
            .map(|prompt| {
                let values: Vec<&str> = prompt.split_whitespace().collect();
                if values.iter().any(|value| !PROMPTS.contains(value)) {
                    return Err(refuse(
                        "prompt",
                        "is not none, login, consent or select_account",
                    ));
                }
                if values.len() > 1 && values.contains(&"none") {
                    return Err(refuse("prompt", "combines none with another value"));
                }
                let mut distinct: Vec<&str> = Vec::new();
                for value in values {
                    if !distinct.contains(&value) {
                        distinct.push(value);
                    }
                }
                Ok(distinct.join(" "))
            })
            .transpose()?;
        let login_hint = present(raw.login_hint)
            .map(|hint| {
                if hint.chars().count() > MAX_HINT_CHARS {
                    return Err(refuse("login_hint", "is longer than 256 characters"));
                }
                if hint.chars().any(char::is_control) {
                    return Err(refuse("login_hint", "holds a control character"));
                }
                Ok(hint.trim().to_owned())
            })
            .transpose()?;
        let max_age = present(raw.max_age)
            .map(|age| match age.trim().parse::<u64>() {
                Ok(seconds) if seconds <= MAX_MAX_AGE => Ok(seconds),
                Ok(_) => Err(refuse("max_age", "is longer than a year")),
                Err(_) => Err(refuse("max_age", "is not a whole number of seconds")),
            })
            .transpose()?;
        let acr_values = list(raw.acr_values, "acr_values", |value| {
            value.len() <= 256 && value.bytes().all(|b| b.is_ascii_graphic())
        })?;
        let ui_locales = list(raw.ui_locales, "ui_locales", is_language_tag)?;
        Ok(Self {
            prompt,
            login_hint,
            max_age,
            acr_values,
            ui_locales,
        })
    }

    /// Whether the sign-in asked not to show the user anything.
    pub fn is_silent(&self) -> bool {
        self.prompt.as_deref() == Some("none")
    }

    /// The same parameters for an interactive sign-in: no `prompt=none`.
    pub fn interactive(&self) -> Self {
        Self {
            prompt: self.prompt.clone().filter(|prompt| prompt != "none"),
            ..self.clone()
        }
    }

    /// Whether the sign-in asked the provider to authenticate the user
    /// again (`prompt=login`).
    pub fn asks_for_login(&self) -> bool {
        self.prompt
            .as_deref()
            .is_some_and(|prompt| prompt.split(' ').any(|value| value == "login"))
    }

    /// Whether a silent sign-in's `error` means the provider needs the
    /// user, so the sign-in may go on interactively.
    pub fn falls_back_on(&self, error: &str) -> bool {
        self.is_silent() && NEEDS_INTERACTION.contains(&error)
    }

    /// The parameters as they go into the authorization request, in a
    /// fixed order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(prompt) = &self.prompt {
            pairs.push(("prompt", prompt.clone()));
        }
        if let Some(hint) = &self.login_hint {
            pairs.push(("login_hint", hint.clone()));
        }
        if let Some(max_age) = self.max_age {
            pairs.push(("max_age", max_age.to_string()));
        }
        if !self.acr_values.is_empty() {
            pairs.push(("acr_values", self.acr_values.join(" ")));
        }
        if !self.ui_locales.is_empty() {
            pairs.push(("ui_locales", self.ui_locales.join(" ")));
        }
        pairs
    }

    /// The authorization request's extra parameters: the provider's
    /// `configured` ones this sign-in does not set itself, then this
    /// sign-in's own but those a protocol cannot carry (`unsent`).
    pub fn merged<N: AsRef<str>, V: AsRef<str>>(
        &self,
        configured: &[(N, V)],
        unsent: &[&str],
    ) -> Vec<(String, String)> {
        let own = self.pairs();
        let sets = |name: &str| own.iter().any(|(set, _)| *set == name);
        let mut merged: Vec<(String, String)> = configured
            .iter()
            .filter(|(name, _)| !sets(name.as_ref()))
            .map(|(name, value)| (name.as_ref().to_owned(), value.as_ref().to_owned()))
            .collect();
        merged.extend(
            own.into_iter()
                .filter(|(name, _)| !unsent.contains(name))
                .map(|(name, value)| (name.to_owned(), value)),
        );
        merged
    }
}

/// A BCP 47 language tag in the shape the specification allows: subtags of
/// one to eight letters or digits joined by single hyphens, the first of
/// two to eight letters (`en`, `fr-CA`, `zh-Hant-TW`).
fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let first_ok = subtags.next().is_some_and(|first| {
        (2..=8).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic())
    });
    first_ok
        && subtags.all(|subtag| {
            (1..=8).contains(&subtag.len()) && subtag.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// A space-separated list of at most [`MAX_VALUES`] values, each `valid`.
fn list(
    raw: Option<String>,
    name: &'static str,
    valid: impl Fn(&str) -> bool,
) -> Result<Vec<String>, ParamError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let values: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
    if values.len() > MAX_VALUES {
        return Err(refuse(name, "lists more than ten values"));
    }
    if values.iter().any(|value| !valid(value)) {
        return Err(refuse(name, "holds a value that is not allowed"));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawSignInParams {
        let mut raw = RawSignInParams::default();
        for (name, value) in pairs {
            let value = Some((*value).to_owned());
            match *name {
                "prompt" => raw.prompt = value,
                "login_hint" => raw.login_hint = value,
                "max_age" => raw.max_age = value,
                "acr_values" => raw.acr_values = value,
                "ui_locales" => raw.ui_locales = value,
                other => panic!("{other}"),
            }
        }
        raw
    }

    #[test]
    fn every_allowed_parameter_is_read_and_passed_on_in_order() {
        let params = SignInParams::parse(raw(&[
            ("ui_locales", "fr-CA  en"),
            ("acr_values", "urn:mace:incommon:iap:silver phr"),
            ("max_age", "300"),
            ("login_hint", " dana@example.com "),
            ("prompt", "login  consent"),
        ]))
        .unwrap();
        assert_eq!(
            params.pairs(),
            [
                ("prompt", "login consent".to_owned()),
                ("login_hint", "dana@example.com".to_owned()),
                ("max_age", "300".to_owned()),
                ("acr_values", "urn:mace:incommon:iap:silver phr".to_owned()),
                ("ui_locales", "fr-CA en".to_owned()),
            ]
        );
        assert_eq!(
            params.merged(&[("prompt", "consent"), ("audience", "api")], &["max_age"]),
            [
                ("audience", "api"),
                ("prompt", "login consent"),
                ("login_hint", "dana@example.com"),
                ("acr_values", "urn:mace:incommon:iap:silver phr"),
                ("ui_locales", "fr-CA en"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
            "the sign-in's own prompt in place of the configured one; max_age not sent"
        );
        assert_eq!(
            SignInParams::parse(raw(&[("prompt", "login login")]))
                .unwrap()
                .prompt
                .as_deref(),
            Some("login")
        );
        assert!(
            !format!("{params:?}").contains("dana@"),
            "the hint is not printed"
        );
        assert_eq!(
            SignInParams::parse(raw(&[])).unwrap(),
            SignInParams::default()
        );
        assert_eq!(
            SignInParams::parse(raw(&[("prompt", ""), ("max_age", " ")])).unwrap(),
            SignInParams::default(),
            "an empty parameter is no parameter"
        );
    }

    #[test]
    fn each_value_the_specification_does_not_allow_is_refused_by_name() {
        for (pairs, name) in [
            (&[("prompt", "nonee")][..], "prompt"),
            (&[("prompt", "none login")], "prompt"),
            (&[("prompt", "create")], "prompt"),
            (&[("max_age", "-1")], "max_age"),
            (&[("max_age", "1.5")], "max_age"),
            (&[("max_age", "99999999999")], "max_age"),
            (&[("login_hint", "dana\r\nSet-Cookie: x")], "login_hint"),
            (&[("login_hint", &"d".repeat(257))], "login_hint"),
            (&[("acr_values", "a b c d e f g h i j k")], "acr_values"),
            (&[("acr_values", "caf\u{e9}")], "acr_values"),
            (&[("ui_locales", "en_US")], "ui_locales"),
            (&[("ui_locales", "-en")], "ui_locales"),
            (&[("ui_locales", "en-")], "ui_locales"),
            (&[("ui_locales", "en--US")], "ui_locales"),
            (&[("ui_locales", "e")], "ui_locales"),
        ] {
            let err = SignInParams::parse(raw(pairs)).unwrap_err();
            assert_eq!(err.name, name, "{pairs:?}");
        }
    }

    #[test]
    fn a_silent_sign_in_goes_on_interactively_only_when_the_provider_needs_the_user() {
        let silent =
            SignInParams::parse(raw(&[("prompt", "none"), ("login_hint", "dana")])).unwrap();
        assert!(silent.is_silent());
        for error in NEEDS_INTERACTION {
            assert!(silent.falls_back_on(error));
        }
        assert!(!silent.falls_back_on("access_denied"));
        assert!(!silent.falls_back_on("server_error"));
        let interactive = silent.interactive();
        assert_eq!(interactive.prompt, None);
        assert_eq!(interactive.login_hint.as_deref(), Some("dana"));
        assert!(!interactive.falls_back_on("login_required"), "no loop");
        let login = SignInParams::parse(raw(&[("prompt", "login")])).unwrap();
        assert!(!login.falls_back_on("login_required"));
    }
}
