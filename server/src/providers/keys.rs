//! A provider's signing keys (its JWKS, RFC 7517 §5), and their rotation.
//!
//! The keys are fetched at discovery and trusted for the JWKS answer's own
//! cache lifetime (`Cache-Control: max-age`, at most an hour): after that
//! they are fetched again before the next check, so a key the provider
//! withdrew stops being trusted. Should that fetch fail, the keys held are
//! used for up to [`MAX_STALE`] more, so a blip at the key endpoint never
//! fails a sign-in that the keys we hold can check.
//!
//! A token that names a key we lack makes us fetch the keys again at once,
//! because providers rotate keys (Google does routinely): a key id never
//! looked up before is always looked up, one fetch a second at most; one
//! looked up already (a forged `kid`, or a key the provider has not
//! published everywhere yet) again after [`RELOOKUP_INTERVAL`]. Concurrent
//! checks share one fetch, and its failure: for a second after a failed
//! fetch, checks that need one fail at once instead of queueing.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use http::{HeaderMap, header};
use openidconnect::{JsonWebKeySet, core::CoreJsonWebKey};
use tokio::sync::{Mutex, RwLock};

use crate::http_client::{HttpError, ProviderHttp};

/// Keys are trusted at most this long after they were fetched.
pub const MAX_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// A `max-age` under a second is taken as a second.
const MIN_LIFETIME: Duration = Duration::from_secs(1);
/// What `no-cache`, `no-store` or `max-age=0` mean here (Keycloak sends
/// `no-cache` on every JWKS answer): fetching on every check would put the
/// key endpoint in the path of every sign-in.
const NO_CACHE_LIFETIME: Duration = Duration::from_secs(60);
/// How long past their lifetime the keys held are used while fetching
/// them again fails.
pub const MAX_STALE: Duration = Duration::from_secs(60 * 60);
/// Fetches are at least this far apart, and a failed one is not retried
/// sooner.
const FETCH_SPACING: Duration = Duration::from_secs(1);
/// A key id looked up already is looked up again at most this often.
pub const RELOOKUP_INTERVAL: Duration = Duration::from_secs(30);
/// Key ids remembered as looked up; past this the memory starts afresh.
const REMEMBERED_KIDS: usize = 1024;

/// The provider's published keys as one fetch returned them.
#[derive(Debug)]
pub struct SigningKeys {
    /// The keys; ones of kinds we cannot use were skipped.
    pub set: JsonWebKeySet<CoreJsonWebKey>,
    fetched: Instant,
    lifetime: Duration,
}

impl SigningKeys {
    fn is_stale(&self) -> bool {
        self.fetched.elapsed() >= self.lifetime
    }

    fn is_usable_stale(&self) -> bool {
        self.fetched.elapsed() < self.lifetime + MAX_STALE
    }
}

/// Why the keys could not be had.
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
    /// Another check's fetch failed a moment ago; not tried again so soon.
    #[error("fetching the signing keys at {uri} failed less than a second ago")]
    RecentlyFailed { uri: String },
}

impl KeysError {
    /// Whether trying again later may succeed (the key endpoint is down or
    /// slow), rather than it answering something that is not a key set.
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Http { .. } | Self::RecentlyFailed { .. } => true,
            Self::Status { status, .. } => status.is_server_error() || *status == 429,
            Self::Shape { .. } => false,
        }
    }
}

/// How long a JWKS answer may be trusted (RFC 9111 §5.2.2): its `max-age`
/// in seconds, at least one second and at most [`MAX_LIFETIME`];
/// [`NO_CACHE_LIFETIME`] for `no-cache`, `no-store` or `max-age=0`; an
/// hour when it says nothing.
pub fn lifetime(headers: &HeaderMap) -> Duration {
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|directive| directive.trim().to_ascii_lowercase());
    let mut max_age: Option<u64> = None;
    for directive in directives {
        if directive == "no-cache" || directive == "no-store" {
            max_age = Some(0);
        } else if let Some(secs) = directive.strip_prefix("max-age=")
            && let Ok(secs) = secs.trim_matches('"').parse::<u64>()
        {
            max_age = Some(max_age.map_or(secs, |earlier| earlier.min(secs)));
        }
    }
    match max_age {
        None => MAX_LIFETIME,
        Some(0) => NO_CACHE_LIFETIME,
        Some(secs) => Duration::from_secs(secs).clamp(MIN_LIFETIME, MAX_LIFETIME),
    }
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
    last_failure: Option<Instant>,
    /// When each key id (`None`: a token without one) was last looked up.
    looked_up: HashMap<Option<String>, Instant>,
}

/// One provider's keys, shared by every check of its tokens.
#[derive(Debug, Default)]
pub struct KeyCache {
    current: RwLock<Option<Arc<SigningKeys>>>,
    lookups: Mutex<Lookups>,
}

impl KeyCache {
    /// The keys to check a token with: the ones held while within their
    /// lifetime, else fetched now from `uri`; if that fails, the ones held
    /// for up to [`MAX_STALE`] more.
    pub async fn get(&self, http: &ProviderHttp, uri: &str) -> Result<Arc<SigningKeys>, KeysError> {
        if let Some(keys) = self.fresh().await {
            return Ok(keys);
        }
        let mut lookups = self.lookups.lock().await;
        if let Some(keys) = self.fresh().await {
            return Ok(keys);
        }
        match self.fetch_into(&mut lookups, http, uri).await {
            Ok(keys) => Ok(keys),
            Err(err) => {
                let held = self.current.read().await.clone();
                match held.filter(|keys| keys.is_usable_stale()) {
                    Some(keys) => {
                        tracing::warn!(
                            "using the signing keys held past their lifetime: {}",
                            crate::telemetry::cause_chain(&err)
                        );
                        Ok(keys)
                    }
                    None => Err(err),
                }
            }
        }
    }

    async fn fresh(&self) -> Option<Arc<SigningKeys>> {
        self.current
            .read()
            .await
            .as_ref()
            .filter(|keys| !keys.is_stale())
            .cloned()
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
        if lookups
            .looked_up
            .get(&kid)
            .is_some_and(|at| at.elapsed() < RELOOKUP_INTERVAL)
        {
            return Ok(None);
        }
        let fresh = self.fetch_into(&mut lookups, http, uri).await?;
        // Only a lookup that got an answer counts: after a failed fetch the
        // same key id is looked up again as soon as the spacing allows.
        if lookups.looked_up.len() >= REMEMBERED_KIDS {
            lookups.looked_up.clear();
        }
        lookups.looked_up.insert(kid, Instant::now());
        tracing::info!(%uri, "fetched the provider's signing keys again for an unknown key id");
        Ok(Some(fresh))
    }

    /// Fetches the keys, at least [`FETCH_SPACING`] after the last fetch
    /// (waiting for it, with the lookups held, so concurrent checks queue
    /// behind one fetch), and not at all within it after a failure.
    async fn fetch_into(
        &self,
        lookups: &mut Lookups,
        http: &ProviderHttp,
        uri: &str,
    ) -> Result<Arc<SigningKeys>, KeysError> {
        if lookups
            .last_failure
            .is_some_and(|at| at.elapsed() < FETCH_SPACING)
        {
            return Err(KeysError::RecentlyFailed {
                uri: uri.to_owned(),
            });
        }
        if let Some(wait) = lookups
            .last_fetch
            .and_then(|at| FETCH_SPACING.checked_sub(at.elapsed()))
        {
            tokio::time::sleep(wait).await;
        }
        lookups.last_fetch = Some(Instant::now());
        match fetch(http, uri).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                *self.current.write().await = Some(keys.clone());
                lookups.last_failure = None;
                Ok(keys)
            }
            Err(err) => {
                lookups.last_failure = Some(Instant::now());
                Err(err)
            }
        }
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
        assert_eq!(secs(&["max-age=900", "max-age=300"]), 300);
        assert_eq!(secs(&[]), 3600);
        assert_eq!(secs(&["private"]), 3600);
    }

    #[test]
    fn no_cache_keys_are_fetched_again_after_a_minute_not_on_every_check() {
        let secs = |values: &[&'static str]| lifetime(&headers(values)).as_secs();
        assert_eq!(secs(&["no-cache"]), 60);
        assert_eq!(secs(&["no-store, must-revalidate"]), 60);
        assert_eq!(secs(&["max-age=0"]), 60);
    }
}
