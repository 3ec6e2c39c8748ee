//! A client secret made here rather than configured: Sign in with Apple's,
//! a JWT signed with the app's private key
//! ([`ClientSecretKey`](crate::providers::apple::ClientSecretKey)). Its
//! variables: `<NAME>_TEAM_ID`, `<NAME>_KEY_ID`, and `<NAME>_PRIVATE_KEY`
//! (the `.p8` file's PEM text; `\n` written out in one line is read as a
//! line break) or `<NAME>_PRIVATE_KEY_FILE` (its path). With them,
//! `<NAME>_CLIENT_SECRET` is left unset.

use std::sync::Arc;

use crate::providers::apple::{ClientSecretKey, KeyError};

/// Suffixes of the variables of a key that makes client secrets.
pub(super) const SUFFIXES: [&str; 4] = ["TEAM_ID", "KEY_ID", "PRIVATE_KEY", "PRIVATE_KEY_FILE"];

/// Whether any of the key's variables is set.
pub(super) fn is_given<'a>(get: &impl Fn(&str) -> Option<&'a str>, prefix: &str) -> bool {
    SUFFIXES
        .iter()
        .any(|suffix| get(&format!("{prefix}_{suffix}")).is_some())
}

/// The key of the provider whose variables start with `prefix`, when any
/// of them is set; `takes_key` says whether this provider takes one.
/// Problems are pushed to `problems`, never with the key in them.
pub(super) fn parse<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    prefix: &str,
    takes_key: bool,
    problems: &mut Vec<String>,
) -> Option<Arc<ClientSecretKey>> {
    let var = |suffix: &str| get(&format!("{prefix}_{suffix}"));
    if !is_given(get, prefix) {
        return None;
    }
    if !takes_key {
        for suffix in SUFFIXES.into_iter().filter(|s| var(s).is_some()) {
            problems.push(format!(
                "{prefix}_{suffix} applies to Sign in with Apple only (the apple preset)"
            ));
        }
        return None;
    }
    let mut required = |suffix: &str| {
        let value = var(suffix);
        if value.is_none() {
            problems.push(format!(
                "{prefix}_{suffix} is not set (needed with {prefix}_PRIVATE_KEY to make the client secret)"
            ));
        }
        value
    };
    let team_id = required("TEAM_ID");
    let key_id = required("KEY_ID");
    let pem = match (var("PRIVATE_KEY"), var("PRIVATE_KEY_FILE")) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "give {prefix}_PRIVATE_KEY or {prefix}_PRIVATE_KEY_FILE, not both"
            ));
            None
        }
        (Some(pem), None) => Some(pem.replace("\\n", "\n")),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(pem) => Some(pem),
            Err(err) => {
                problems.push(format!(
                    "{prefix}_PRIVATE_KEY_FILE {path:?} cannot be read: {err}"
                ));
                None
            }
        },
        (None, None) => {
            problems.push(format!(
                "{prefix}_PRIVATE_KEY (or {prefix}_PRIVATE_KEY_FILE) is not set"
            ));
            None
        }
    };
    let (team_id, key_id, pem) = (team_id?, key_id?, pem?);
    match ClientSecretKey::from_pem(team_id, key_id, &pem) {
        Ok(key) => Some(Arc::new(key)),
        Err(err @ KeyError::NotAKey) => {
            problems.push(format!("{prefix}_PRIVATE_KEY {err}"));
            None
        }
        Err(err @ KeyError::BadIdentifier) => {
            problems.push(format!("{prefix}_TEAM_ID, {prefix}_KEY_ID: {err}"));
            None
        }
    }
}
