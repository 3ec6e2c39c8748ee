//! A provider's signing keys (its JWKS, RFC 7517 §5), and their rotation.
//!
//! The keys are fetched at discovery and trusted for the JWKS answer's own
//! cache lifetime (`Cache-Control: max-age`), at most an hour: after that
//! they are fetched again before the next check, so a key the provider
//! withdrew stops being trusted. A token that names a key we lack makes
//! us fetch them again at once, because providers rotate keys (Google does
//! routinely): a key id never looked up before is always looked up once,
//! one fetch a second at most; one looked up already (a forged `kid`, or a
//! key the provider has not published yet) at most every
//! [`RELOOKUP_INTERVAL`]. Concurrent checks share one fetch.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use http::{HeaderMap, header};
use openidconnect::{JsonWebKeySet, core::CoreJsonWebKey};
use tokio::sync::{Mutex, RwLock};

use crate::http_client::{HttpError, ProviderHttp};

/// Keys are trusted at most this long after they were fetched.
pub const MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// …and at least this long, whatever the provider's `max-age` says (one
/// fetch a second at most, however often keys are needed).
const MIN_LIFETIME: Duration = Duration::from_secs(1);
/// Fetches for key ids never looked up before are at least this far apart.
const NEW_KID_SPACING: Duration = Duration::from_secs(1);
/// A key id looked up already is looked up again at most this often.
pub const RELOOKUP_INTERVAL: Duration = Duration::from_secs(30);
/// Key ids remembered as looked up; past this the memory starts afresh.
const REMEMBERED_KIDS: usize = 1024;

/// The provider's published keys as one fetch returned them.
#[derive(Debug)]
pub struct SigningKeys {
    pub set: JsonWebKeySet<CoreJsonWebKey>,
    fetched: Instant,
    lifetime: Duration,
}

impl SigningKeys {
    fn is_stale(&self) -> bool {
        self.fetched.elapsed() >= self.lifetime
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("the signing keys at {uri} could not be fetched")]
    Http {
        uri: String,
        #[source]
        source: HttpError,
    },
    #[error("the signing keys at {uri} answered HTTP {status}")]
    Status {
        uri: String,
        status: http::StatusCode,
    },
    #[error("the signing keys at {uri} are not a JWK set")]
    Shape {
        uri: String,
        #[source]
        source: serde_json::Error,
    },
}

/// How long a JWKS answer may be trusted: its `max-age` (`no-cache` and
/// `no-store` count as zero), within [`MIN_LIFETIME`]..=[`MAX_LIFETIME`];
/// an hour when it says nothing.
pub fn lifetime(headers: &HeaderMap) -> Duration {
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|directive| directive.trim().to_ascii_lowercase());
    let mut max_age = None;
    for directive in directives {
        if directive == "no-cache" || directive == "no-store" {
            max_age = Some(0);
        } else if let Some(secs) = directive.strip_prefix("max-age=")
            && let Ok(secs) = secs.trim_matches('"').parse::<u64>()
        {
            max_age = Some(max_age.map_or(secs, |earlier: u64| earlier.min(secs)));
        }
    }
    max_age
        .map(Duration::from_secs)
        .unwrap_or(MAX_LIFETIME)
        .clamp(MIN_LIFETIME, MAX_LIFETIME)
}

/// Fetches the key set at `uri`. Keys of kinds we cannot use are skipped.
pub async fn fetch(http: &ProviderHttp, uri: &str) -> Result<SigningKeys, KeysError> {
    let failed = |source| KeysError::Http {
        uri: uri.to_owned(),
        source,
    };
    let request = http::Request::get(uri)
        .header(header::ACCEPT, "application/jwk-set+json, application/json")
        .body(Vec::new())
        .map_err(|err| failed(HttpError::from(err)))?;
    let response = http.send(request).await.map_err(failed)?;
    if !response.status().is_success() {
        return Err(KeysError::Status {
            uri: uri.to_owned(),
            status: response.status(),
        });
    }
    let set = serde_json::from_slice(response.body()).map_err(|source| KeysError::Shape {
        uri: uri.to_owned(),
        source,
    })?;
    Ok(SigningKeys {
        set,
        fetched: Instant::now(),
        lifetime: lifetime(response.headers()),
    })
}

#[derive(Debug, Default)]
struct Lookups {
    last_fetch: Option<Instant>,
    /// Key ids (`None`: a token without one) we fetched the keys for.
    looked_up: HashSet<Option<String>>,
}

/// One provider's keys, shared by every check of its tokens.
#[derive(Debug, Default)]
pub struct KeyCache {
    current: RwLock<Option<Arc<SigningKeys>>>,
    lookups: Mutex<Lookups>,
}

impl KeyCache {
    /// The keys to check a token with: the ones we hold while they are
    /// within their lifetime, otherwise fetched now from `uri`.
    pub async fn get(&self, http: &ProviderHttp, uri: &str) -> Result<Arc<SigningKeys>, KeysError> {
        if let Some(keys) = self.current.read().await.as_ref().filter(|k| !k.is_stale()) {
            return Ok(keys.clone());
        }
        let mut lookups = self.lookups.lock().await;
        if let Some(keys) = self.current.read().await.as_ref().filter(|k| !k.is_stale()) {
            return Ok(keys.clone());
        }
        self.fetch_into(&mut lookups, http, uri).await
    }

    /// After a token checked with `used` named the key `kid` that it lacks:
    /// keys fetched since `used` (by another check, or now), or `None` when
    /// this `kid` was looked up less than [`RELOOKUP_INTERVAL`] ago.
    pub async fn after_unknown_key(
        &self,
        http: &ProviderHttp,
        uri: &str,
        used: &Arc<SigningKeys>,
        kid: Option<&str>,
    ) -> Result<Option<Arc<SigningKeys>>, KeysError> {
        let mut lookups = self.lookups.lock().await;
        if let Some(current) = self.current.read().await.as_ref()
            && !Arc::ptr_eq(current, used)
        {
            return Ok(Some(current.clone()));
        }
        let kid = kid.map(str::to_owned);
        let since_last = lookups.last_fetch.map(|at| at.elapsed());
        if lookups.looked_up.contains(&kid) {
            if since_last.is_some_and(|since| since < RELOOKUP_INTERVAL) {
                return Ok(None);
            }
        } else if let Some(wait) = since_last.and_then(|since| NEW_KID_SPACING.checked_sub(since)) {
            tokio::time::sleep(wait).await;
        }
        let fresh = self.fetch_into(&mut lookups, http, uri).await?;
        // Only a lookup that got an answer counts: after a failed fetch the
        // same key id is looked up again as soon as the spacing allows.
        if lookups.looked_up.len() >= REMEMBERED_KIDS {
            lookups.looked_up.clear();
        }
        lookups.looked_up.insert(kid);
        tracing::info!(%uri, "fetched the provider's signing keys again for an unknown key id");
        Ok(Some(fresh))
    }

    async fn fetch_into(
        &self,
        lookups: &mut Lookups,
        http: &ProviderHttp,
        uri: &str,
    ) -> Result<Arc<SigningKeys>, KeysError> {
        lookups.last_fetch = Some(Instant::now());
        let keys = Arc::new(fetch(http, uri).await?);
        *self.current.write().await = Some(keys.clone());
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(cache_control: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in cache_control {
            headers.append(header::CACHE_CONTROL, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn keys_are_trusted_for_their_max_age_within_a_second_and_an_hour() {
        let secs = |values: &[&'static str]| lifetime(&headers(values)).as_secs();
        assert_eq!(secs(&["public, max-age=600"]), 600);
        assert_eq!(secs(&["public, max-age=22017, must-revalidate"]), 3600);
        assert_eq!(secs(&["max-age=5"]), 5);
        assert_eq!(secs(&["max-age=0"]), 1);
        assert_eq!(secs(&["no-cache"]), 1);
        assert_eq!(secs(&["max-age=900", "max-age=300"]), 300);
        assert_eq!(secs(&[]), 3600);
        assert_eq!(secs(&["private"]), 3600);
    }
}
