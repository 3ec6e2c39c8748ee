//! Reading what providers send. Fields that no security decision rests on
//! (profile claims, `expires_in`, `email_verified`) arrive in more than one
//! JSON shape in the wild: a number as a string (`"expires_in": "3599"`,
//! Azure AD), a boolean as a string (`"email_verified": "true"`, Cognito),
//! a timestamp as RFC 3339 text (`"updated_at": "2025-12-23T10:59:07Z"`,
//! Auth0). These readers take every unambiguous shape and treat anything
//! else as absent. The time claims a check rests on (`exp`, `iat`,
//! `auth_time`) are read by [`numeric_date`], which takes JSON numbers
//! only (RFC 7519 §2, NumericDate).

use serde_json::{Map, Value};

/// A JSON object as providers send it.
pub type Object = Map<String, Value>;

/// A non-empty string field; anything else is absent.
pub fn text(object: &Object, name: &str) -> Option<String> {
    object.get(name).and_then(text_value)
}

/// A list of scopes (RFC 6749 §3.3) in the shapes providers send it: one
/// string separated by spaces (the RFC) or commas (GitHub), or an array of
/// strings; `None` when the field is absent (or `null`). A field in any
/// other shape grants nothing: a check that rests on it must not pass.
pub fn scopes(object: &Object, name: &str) -> Option<Vec<String>> {
    let listed: Vec<&str> = match object.get(name)? {
        Value::Null => return None,
        Value::String(list) => list
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<&str>>>()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let listed = listed.into_iter().filter(|s| !s.is_empty());
    Some(listed.map(str::to_owned).collect())
}

/// A boolean field: `true`/`false`, or the same as a string in any case
/// (`"true"`, `"False"`). Anything else is absent.
pub fn flag(object: &Object, name: &str) -> Option<bool> {
    object.get(name).and_then(flag_value)
}

/// A count of seconds (`expires_in`, RFC 6749 §5.1): a non-negative JSON
/// number (a fraction is rounded down) or the same as a decimal string
/// (`"3599"`). Anything else, or a negative value, is absent.
pub fn seconds(object: &Object, name: &str) -> Option<u64> {
    let number = match object.get(name)? {
        Value::Number(number) => number.as_f64()?,
        Value::String(value) => value.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    // Whole seconds; the cast saturates at u64::MAX for absurd values.
    (number.is_finite() && number >= 0.0).then(|| number.floor() as u64)
}

fn text_value(value: &Value) -> Option<String> {
    match value {
        Value::String(value) if !value.trim().is_empty() => Some(value.clone()),
        _ => None,
    }
}

/// A boolean, or `"true"`/`"false"` in any case; anything else is
/// absent.
pub fn flag_value(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(value) => Some(*value),
        Value::String(value) => match value.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The same rules for typed answers (the plain OAuth 2.0 providers' user
/// APIs), as `#[serde(deserialize_with = "…")]` adapters. Missing fields
/// need `#[serde(default)]` beside them.
pub mod lenient {
    use serde::{Deserialize, Deserializer, de::Error};
    use serde_json::Value;

    /// A non-empty string, or absent for anything else.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(super::text_value(&Value::deserialize(d)?))
    }

    /// A boolean or its name as a string; anything else is `false`.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        Ok(super::flag_value(&Value::deserialize(d)?).unwrap_or(false))
    }

    /// The same, absent for anything else.
    pub fn maybe_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(super::flag_value(&Value::deserialize(d)?))
    }

    /// A numeric account id, as a JSON number or a string of digits (the
    /// same account either way); anything else is refused.
    pub fn numeric_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let id = match Value::deserialize(d)? {
            Value::Number(number) if number.is_u64() => number.to_string(),
            Value::String(digits)
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                digits
            }
            other => return Err(D::Error::custom(format!("{other} is not a numeric id"))),
        };
        Ok(id)
    }
}

/// A signed token (ID token, logout token) is used as it is issued: one
/// issued longer ago than this, in seconds, is refused.
pub const MAX_AGE_SECS: i64 = 10 * 60;
/// Tolerated difference between our clock and a provider's, in seconds:
/// how far ahead of ours a token's `iat` may be.
pub const CLOCK_SKEW_SECS: i64 = 2 * 60;

/// Whether `aud` names `client_id` and no one else (OIDC Core §3.1.3.7
/// steps 3 to 5): a string, or a list of just that string. A token also
/// meant for another client could have been replayed to us by it.
pub fn is_only_audience(object: &Object, client_id: &str) -> bool {
    match object.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.len() == 1 && auds[0].as_str() == Some(client_id),
        _ => false,
    }
}

/// Why a NumericDate claim was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("claim {0} is not a JSON number")]
pub struct NotANumber(pub &'static str);

/// A NumericDate claim (RFC 7519 §2): seconds since the epoch as a JSON
/// number, a fraction rounded down. `Ok(None)` when absent; a string, even
/// a numeric or RFC 3339 one, is refused: these claims decide whether a
/// token is accepted.
pub fn numeric_date(object: &Object, name: &'static str) -> Result<Option<i64>, NotANumber> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => match (number.as_i64(), number.as_f64()) {
            (Some(whole), _) => Ok(Some(whole)),
            (None, Some(float)) if float.is_finite() && float.abs() < 1e15 => {
                Ok(Some(float.floor() as i64))
            }
            _ => Err(NotANumber(name)),
        },
        Some(_) => Err(NotANumber(name)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Object {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn expires_in_is_read_as_a_number_or_a_numeric_string() {
        for (value, expected) in [
            (json!(3599), Some(3599)),
            (json!("3599"), Some(3599)),
            (json!(" 3599 "), Some(3599)),
            (json!(3599.7), Some(3599)),
            (json!("3599.0"), Some(3599)),
            (json!(0), Some(0)),
            (json!(-5), None),
            (json!("soon"), None),
            (json!(null), None),
            (json!(true), None),
            (json!([3599]), None),
        ] {
            let answer = object(json!({ "expires_in": value }));
            assert_eq!(seconds(&answer, "expires_in"), expected, "{value}");
        }
        assert_eq!(seconds(&Object::new(), "expires_in"), None);
    }

    #[test]
    fn booleans_are_read_as_booleans_or_their_names_in_any_case() {
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!(false), Some(false)),
            (json!("true"), Some(true)),
            (json!("TRUE"), Some(true)),
            (json!("False"), Some(false)),
            (json!("yes"), None),
            (json!(1), None),
            (json!(null), None),
        ] {
            let claims = object(json!({ "email_verified": value }));
            assert_eq!(flag(&claims, "email_verified"), expected, "{value}");
        }
    }

    #[test]
    fn text_is_a_non_empty_string_and_nothing_else() {
        let claims = object(json!({ "a": "Ada", "b": "", "c": 7, "d": ["x"], "e": "  " }));
        assert_eq!(text(&claims, "a").as_deref(), Some("Ada"));
        for name in ["b", "c", "d", "e", "missing"] {
            assert_eq!(text(&claims, name), None, "{name}");
        }
    }

    #[test]
    fn numeric_dates_are_json_numbers_only() {
        let claims = object(json!({
            "exp": 1_767_000_000,
            "iat": 1_767_000_000.9,
            "as_text": "1767000000",
            "rfc3339": "2025-12-23T10:59:07.841Z",
            "object": {},
        }));
        assert_eq!(numeric_date(&claims, "exp"), Ok(Some(1_767_000_000)));
        assert_eq!(numeric_date(&claims, "iat"), Ok(Some(1_767_000_000)));
        assert_eq!(numeric_date(&claims, "auth_time"), Ok(None));
        for name in ["as_text", "rfc3339", "object"] {
            assert_eq!(numeric_date(&claims, name), Err(NotANumber(name)), "{name}");
        }
    }
}
