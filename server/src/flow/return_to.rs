//! Where to send the browser after signing in: a same-origin relative path
//! only, never another site (SECURITY.md D6).

/// Returns `value` if it is a safe same-origin path, else `None`.
pub fn validate(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    let safe = bytes.first() == Some(&b'/')
        && value.len() <= 2048
        // "//host" and "/\host" are read as other hosts by browsers.
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        // Backslashes, control characters and whitespace have no place in a
        // path we produce; browsers strip or reinterpret them.
        && !value.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace())
        // Encoded slashes and backslashes could decode into the forms above.
        && !contains_ascii_ci(value, "%2f")
        && !contains_ascii_ci(value, "%5c")
        && !value.contains("/../")
        && !value.contains("/./");
    safe.then_some(value)
}

/// The path to use: the validated one, or the start page.
pub fn or_home(value: Option<&str>) -> String {
    value.and_then(validate).unwrap_or("/").to_owned()
}

fn contains_ascii_ci(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_paths_are_accepted() {
        for ok in ["/", "/profile", "/profile?tab=1", "/a/b#c"] {
            assert_eq!(validate(ok), Some(ok), "{ok}");
        }
    }

    #[test]
    fn every_known_bypass_form_is_refused() {
        for bad in [
            "//evil.test",
            "/\\evil.test",
            "/\t/evil.test",
            "/%2f%5cevil.test",
            "/%2F/evil.test",
            "https://evil.test",
            "http:evil.test",
            "javascript:alert(1)",
            "/./../\\evil.test",
            "/ok\r\nSet-Cookie: x=1",
            "/ok\n",
            "",
            "profile",
        ] {
            assert_eq!(validate(bad), None, "{bad:?}");
        }
        assert_eq!(or_home(Some("//evil.test")), "/");
        assert_eq!(or_home(None), "/");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::validate;

        /// Strings made of the characters bypasses are built from.
        fn tricky() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![
                    8 => Just("/"),
                    3 => Just("\\"),
                    1 => Just("."),
                    1 => Just(".."),
                    1 => Just("%2f"),
                    1 => Just("%5C"),
                    1 => Just("%2e"),
                    1 => Just(":"),
                    1 => Just("@"),
                    1 => Just("evil.test"),
                    1 => Just("http"),
                    1 => Just("\t"),
                    1 => Just("\n"),
                    1 => Just(" "),
                    1 => Just("?"),
                    1 => Just("#"),
                    1 => Just("a"),
                    1 => Just("javascript:"),
                    1 => Just("%"),
                    1 => Just("\u{3000}"),
                    1 => Just("\u{ff0f}"),
                ],
                0..12,
            )
            .prop_map(|parts| parts.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Whatever passes stays on our origin when a browser resolves it.
            #[test]
            fn an_accepted_return_to_never_leaves_our_origin(value in tricky()) {
                if let Some(path) = validate(&value) {
                    let base = url::Url::parse("https://app.example/profile").unwrap();
                    let resolved = base.join(path).unwrap();
                    prop_assert_eq!(resolved.scheme(), "https");
                    prop_assert_eq!(resolved.host_str(), Some("app.example"));
                    prop_assert_eq!(resolved.port(), None);
                    prop_assert!(resolved.username().is_empty());
                }
            }

            /// Arbitrary input never panics, and "//" or a backslash never passes.
            #[test]
            fn arbitrary_input_is_judged_without_panic(value in any::<String>()) {
                let accepted = validate(&value).is_some();
                if value.starts_with("//") || value.contains('\\') {
                    prop_assert!(!accepted);
                }
            }
        }
    }
}
