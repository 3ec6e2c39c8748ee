//! Browser sessions: the cookie, its store, and the signed-in user kept in
//! it. Tokens are never part of this record.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tower_sessions::{
    Expiry, Session, SessionManagerLayer, SessionStore as Store,
    cookie::{
        SameSite,
        time::{Duration, OffsetDateTime},
    },
    session::{Id, Record},
    session_store,
};

use std::{
    sync::Arc,
    time::{Duration as StdDuration, Instant},
};

use crate::{
    cache::TtlCache,
    store::SessionStore,
    users::{Identity, UserId},
};

const USER_KEY: &str = "user";

/// Who is signed in on a session. Keyed by (issuer, subject), never e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// The provider identity used for this session.
    pub identity: Identity,
    /// The account signed in (the user store's id).
    pub user_id: i64,
    /// Where this session's tokens are in the vault.
    pub grant: String,
    /// This session's row among the signed-in sessions
    /// (`session_rows.rs`); stored under its first name, `login`.
    #[serde(default, rename = "login")]
    pub row: String,
    /// When the user last authenticated at the provider, Unix seconds, as
    /// the sign-in showed it (`routes::auth::sign_in::authenticated_at`);
    /// 0 when unknown: an ID token without `auth_time`, or a session from
    /// before it was kept.
    #[serde(default)]
    pub authenticated_at: i64,
}

impl SessionUser {
    pub fn new(identity: Identity, user_id: UserId, grant: String, row: String) -> Self {
        Self {
            identity,
            user_id: user_id.0,
            grant,
            row,
            authenticated_at: crate::clock::now(),
        }
    }
}

pub async fn user(
    session: &Session,
) -> Result<Option<SessionUser>, tower_sessions::session::Error> {
    session.get(USER_KEY).await
}

/// Signs `user` in. The session id is renewed first, so an id planted in
/// the browser before sign-in never becomes an authenticated one (fixation).
pub async fn sign_in(
    session: &Session,
    user: &SessionUser,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_KEY, user).await
}

/// A new session record with `user` signed in, as [`sign_in`] leaves it,
/// expiring after `idle`; for the test kit.
#[cfg(feature = "testing")]
pub fn signed_in_record(
    user: &SessionUser,
    idle: StdDuration,
) -> Result<Record, serde_json::Error> {
    Ok(Record {
        id: Id::default(),
        data: [(USER_KEY.to_owned(), serde_json::to_value(user)?)].into(),
        expiry_date: OffsetDateTime::now_utc() + idle,
    })
}

/// Keeps a session's record alive for `idle` from now: with an inactivity
/// expiry, the record's expiry moves only when it is saved, and a
/// signed-in session that only reads would otherwise lapse `idle` after
/// sign-in. A session holding only sign-ins in progress gets the sign-in
/// timeout instead; signing in gives it the idle timeout.
pub fn keep_alive(session: &Session, idle: StdDuration) {
    let idle = Duration::try_from(idle).unwrap_or(Duration::hours(8));
    session.set_expiry(Some(Expiry::OnInactivity(idle)));
}

/// The session store behind a short-lived read cache (`cache.rs` says
/// what may be stale and for how long). Writes go to the store, then
/// drop the cached record.
#[derive(Clone, Debug)]
pub struct CachedSessions {
    store: SessionStore,
    cache: Arc<TtlCache<Id, Record>>,
}

impl CachedSessions {
    pub fn new(store: SessionStore, ttl: StdDuration) -> Self {
        Self {
            store,
            cache: Arc::new(TtlCache::new(ttl)),
        }
    }
}

#[async_trait]
impl Store for CachedSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let created = self.store.create(record).await;
        self.cache.remove(&record.id);
        created
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let saved = self.store.save(record).await;
        self.cache.remove(&record.id);
        saved
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.cache.get(id)
            && record.expiry_date > OffsetDateTime::now_utc()
        {
            return Ok(Some(record));
        }
        let started = Instant::now();
        let record = self.store.load(id).await?;
        if let Some(record) = &record {
            self.cache.put(*id, record.clone(), started);
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let deleted = self.store.delete(id).await;
        self.cache.remove(id);
        deleted
    }
}

/// Over https, every session cookie the server sets carries `Secure`: the
/// session layer leaves it off the removal cookie it sends when a session
/// ends, and browsers ignore a `__Host-` cookie without it, so signing out
/// would leave the cookie in place (RFC 6265bis §4.1.3.2).
pub async fn removals_are_secure(
    axum::extract::State(https): axum::extract::State<bool>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if !https {
        return response;
    }
    let headers = response.headers_mut();
    let cookies: Vec<http::HeaderValue> = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    let insecure = |cookie: &http::HeaderValue| {
        cookie.to_str().is_ok_and(|text| {
            text.starts_with("__Host-")
                && !text
                    .split(';')
                    .skip(1)
                    .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"))
        })
    };
    if !cookies.iter().any(insecure) {
        return response;
    }
    headers.remove(http::header::SET_COOKIE);
    for cookie in cookies {
        let fixed = if insecure(&cookie) {
            cookie
                .to_str()
                .ok()
                .and_then(|text| http::HeaderValue::from_str(&format!("{text}; Secure")).ok())
                .unwrap_or(cookie)
        } else {
            cookie
        };
        headers.append(http::header::SET_COOKIE, fixed);
    }
    response
}

/// The session cookie's name: with the `__Host-` prefix over https.
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-portcullis"
    } else {
        "portcullis"
    }
}

/// The cookie settings (SECURITY.md D1): HttpOnly, SameSite=Lax so the
/// sign-in in progress survives the provider's redirect back, and over https
/// `Secure` with the `__Host-` prefix (Path=/, no Domain).
pub fn layer(
    store: CachedSessions,
    https: bool,
    idle: StdDuration,
) -> SessionManagerLayer<CachedSessions> {
    let idle = Duration::try_from(idle).unwrap_or(Duration::hours(8));
    SessionManagerLayer::new(store)
        .with_name(cookie_name(https))
        .with_secure(https)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}
