//! OAuth 1.0a request signing on the client side (RFC 5849 §3): the
//! signature base string (§3.4.1), HMAC-SHA1 (§3.4.2) and PLAINTEXT
//! (§3.4.4) signatures, and the `Authorization: OAuth …` header (§3.5.1)
//! every request to an OAuth 1.0a provider carries: the temporary
//! credentials request, the token request and every API call.
//!
//! Strict where the signature rests on it (exact percent-encoding, the
//! query and form parameters signed with the protocol's own), and every
//! request gets a fresh nonce (128 random bits) and the current time.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use url::Url;

/// How requests are signed (RFC 5849 §3.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignatureMethod {
    /// HMAC-SHA1 keyed with the client's and the token's shared secrets
    /// (§3.4.2); the default.
    #[default]
    HmacSha1,
    /// The secrets themselves (§3.4.4): only over TLS, which every
    /// provider endpoint is (`https://`, or loopback in development).
    Plaintext,
}

impl SignatureMethod {
    /// Its `oauth_signature_method` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacSha1 => "HMAC-SHA1",
            Self::Plaintext => "PLAINTEXT",
        }
    }

    /// The method called `name` (as `oauth_signature_method` spells it).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::HmacSha1, Self::Plaintext]
            .into_iter()
            .find(|method| method.name().eq_ignore_ascii_case(name))
    }
}

/// Who signs: the client's credentials and, once it has them, the
/// temporary or token credentials (identifier and shared secret).
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: Option<(&'a str, &'a str)>,
    pub method: SignatureMethod,
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("consumer_key", &self.consumer_key)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// One request to sign: its method, URL (whose query is signed), form
/// body parameters (signed too, §3.4.1.3.1), and the protocol parameters
/// of its step (`oauth_callback`, `oauth_verifier`).
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub form: &'a [(String, String)],
    pub protocol: &'a [(&'a str, &'a str)],
}

impl Signer<'_> {
    /// The `Authorization` header value for `request`, signed at
    /// `timestamp` (Unix seconds) with `nonce`.
    pub fn authorization(&self, request: Request<'_>, nonce: &str, timestamp: i64) -> String {
        let timestamp = timestamp.to_string();
        let mut oauth: Vec<(&str, &str)> = vec![
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_nonce", nonce),
            ("oauth_signature_method", self.method.name()),
            ("oauth_timestamp", &timestamp),
            ("oauth_version", "1.0"),
        ];
        if let Some((token, _)) = self.token {
            oauth.push(("oauth_token", token));
        }
        oauth.extend_from_slice(request.protocol);
        let signature = self.signature(request, &oauth);
        let mut header = String::from("OAuth ");
        let fields = oauth
            .iter()
            .map(|(name, value)| (*name, *value))
            .chain([("oauth_signature", signature.as_str())])
            .map(|(name, value)| format!("{}=\"{}\"", encode(name), encode(value)));
        header.push_str(&fields.collect::<Vec<_>>().join(", "));
        header
    }

    /// The signature of `request` with these protocol parameters.
    fn signature(&self, request: Request<'_>, oauth: &[(&str, &str)]) -> String {
        let token_secret = self.token.map_or("", |(_, secret)| secret);
        let key = format!("{}&{}", encode(self.consumer_secret), encode(token_secret));
        match self.method {
            SignatureMethod::Plaintext => key,
            SignatureMethod::HmacSha1 => {
                let base = base_string(request, oauth);
                // An HMAC key may have any length: this cannot fail.
                let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
                    return String::new();
                };
                mac.update(base.as_bytes());
                STANDARD.encode(mac.finalize().into_bytes())
            }
        }
    }
}

/// The signature base string (§3.4.1.1): the method, the base string URI
/// and the normalized parameters, each encoded, joined by `&`.
pub fn base_string(request: Request<'_>, oauth: &[(&str, &str)]) -> String {
    let mut params: Vec<(String, String)> = request
        .url
        .query_pairs()
        .map(|(name, value)| (encode(&name), encode(&value)))
        .collect();
    params.extend(
        request
            .form
            .iter()
            .map(|(name, value)| (encode(name), encode(value))),
    );
    params.extend(
        oauth
            .iter()
            .map(|(name, value)| (encode(name), encode(value))),
    );
    params.sort();
    let normalized: Vec<String> = params
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!(
        "{}&{}&{}",
        encode(&request.method.to_ascii_uppercase()),
        encode(&base_string_uri(request.url)),
        encode(&normalized.join("&"))
    )
}

/// The base string URI (§3.4.1.2): scheme and host in lower case, the
/// port only when not the scheme's default, the path; no query.
pub fn base_string_uri(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    format!("{}://{host}{port}{}", url.scheme(), url.path())
}

/// RFC 5849 §3.6: every byte but the unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) as `%XX`, upper-case hex.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A fresh nonce (§3.3): 128 random bits as 32 hexadecimal digits, which
/// every provider's character rules accept.
pub fn nonce() -> String {
    use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_base_string_is_rfc_5849s_own_example() {
        // RFC 5849 §3.4.1.1: the query, the form body and the protocol
        // parameters, each encoded, sorted by name and value.
        let target = url("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b");
        let form = [
            ("c2".to_owned(), String::new()),
            ("a3".to_owned(), "2 q".to_owned()),
        ];
        let request = Request {
            method: "post",
            url: &target,
            form: &form,
            protocol: &[],
        };
        let oauth = [
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ];
        assert_eq!(
            base_string(request, &oauth),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q\
             %26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key\
             %3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method\
             %3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn an_hmac_sha1_signature_is_the_one_the_specifications_example_gives() {
        // The photos example (OAuth Core 1.0 Appendix A.5), signature
        // tR3+Ty81lMeYAr/Fid0kMTYa/WM=.
        let target = url("http://photos.example.net/photos?file=vacation.jpg&size=original");
        let signer = Signer {
            consumer_key: "dpf43f3p2l4k3l03",
            consumer_secret: "kd94hf93k423kf44",
            token: Some(("nnch734d00sl2jdk", "pfkkdhi9sl3r4s00")),
            method: SignatureMethod::HmacSha1,
        };
        let request = Request {
            method: "GET",
            url: &target,
            form: &[],
            protocol: &[],
        };
        let header = signer.authorization(request, "kllo9940pd9333jh", 1_191_242_096);
        assert!(header.starts_with("OAuth oauth_consumer_key=\"dpf43f3p2l4k3l03\", "));
        assert!(
            header.ends_with("oauth_signature=\"tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D\""),
            "{header}"
        );
        assert!(header.contains("oauth_token=\"nnch734d00sl2jdk\""));
        assert!(
            !header.contains("pfkkdhi9sl3r4s00"),
            "no secret in the header"
        );
    }

    #[test]
    fn plaintext_signs_with_the_encoded_secrets_and_protocol_parameters_are_signed() {
        let target = url("https://api.example.com/oauth/request_token");
        let signer = Signer {
            consumer_key: "key",
            consumer_secret: "s&cret",
            token: None,
            method: SignatureMethod::Plaintext,
        };
        let request = Request {
            method: "POST",
            url: &target,
            form: &[],
            protocol: &[("oauth_callback", "https://app.example/cb?state=x y")],
        };
        let header = signer.authorization(request, "n", 1);
        assert!(
            header.contains("oauth_signature=\"s%2526cret%26\""),
            "{header}"
        );
        assert!(
            header.contains("oauth_callback=\"https%3A%2F%2Fapp.example%2Fcb%3Fstate%3Dx%20y\""),
            "{header}"
        );
        assert_eq!(
            SignatureMethod::from_name("plaintext"),
            Some(SignatureMethod::Plaintext)
        );
        assert_eq!(SignatureMethod::from_name("RSA-SHA1"), None);
    }

    #[test]
    fn the_base_string_uri_and_encoding_follow_the_rfc() {
        assert_eq!(
            base_string_uri(&url("HTTP://Example.COM:80/r%20v/X?id=123")),
            "http://example.com/r%20v/X"
        );
        assert_eq!(
            base_string_uri(&url("https://www.example.net:8080/?q=1")),
            "https://www.example.net:8080/"
        );
        assert_eq!(encode("a-b._~ +/=%é"), "a-b._~%20%2B%2F%3D%25%C3%A9");
        let (first, second) = (nonce(), nonce());
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }
}
