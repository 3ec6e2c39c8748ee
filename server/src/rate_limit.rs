//! Per-client limits on the endpoints anyone may call without a session:
//! starting a sign-in (or a "connect"), the provider's callback, and the
//! back-channel logout endpoint. Past its limit a client gets 429 with
//! `Retry-After` (RFC 6585 §4) and the error page, or JSON for the
//! back-channel endpoint, with the code PC-SEC-429. Limits are per minute
//! with a burst of as many (GCRA, the `governor` crate), per client
//! address: the peer's, or behind a proxy the one it names in
//! `CLIENT_IP_HEADER` (its last address, the one the proxy added).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use crate::error::ErrorCode;
use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

/// Clients remembered per limit before the ones with a full allowance
/// again are forgotten, at most every [`FORGET_EVERY`].
const REMEMBERED_CLIENTS: usize = 10_000;
const FORGET_EVERY: Duration = Duration::from_secs(10);

/// The limits of one server.
#[derive(Debug)]
pub struct ClientLimits {
    sign_in: Option<DefaultKeyedRateLimiter<IpAddr>>,
    backchannel: Option<DefaultKeyedRateLimiter<IpAddr>>,
    client_ip_header: Option<HeaderName>,
    last_forgotten: Mutex<Instant>,
}

fn per_minute(limit: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    NonZeroU32::new(limit).map(|limit| RateLimiter::keyed(Quota::per_minute(limit)))
}

impl ClientLimits {
    /// `sign_in_per_minute` for starting sign-ins and callbacks together,
    /// `backchannel_per_minute` for logout tokens; 0 turns a limit off.
    pub fn new(
        sign_in_per_minute: u32,
        backchannel_per_minute: u32,
        client_ip_header: Option<HeaderName>,
    ) -> Self {
        Self {
            sign_in: per_minute(sign_in_per_minute),
            backchannel: per_minute(backchannel_per_minute),
            client_ip_header,
            last_forgotten: Mutex::new(Instant::now()),
        }
    }

    fn limit_for(&self, path: &str) -> Option<&DefaultKeyedRateLimiter<IpAddr>> {
        if path.starts_with("/auth/backchannel/") {
            self.backchannel.as_ref()
        } else if path.starts_with("/auth/sign-in/")
            || path.starts_with("/auth/login/")
            || path.starts_with("/auth/callback/")
            || path.starts_with("/auth/link/")
        {
            self.sign_in.as_ref()
        } else {
            None
        }
    }

    /// Forgets clients back to a full allowance, when many are kept and
    /// not more often than [`FORGET_EVERY`] (it scans them all).
    fn forget_idle(&self, limiter: &DefaultKeyedRateLimiter<IpAddr>) {
        if limiter.len() <= REMEMBERED_CLIENTS {
            return;
        }
        let mut last = self
            .last_forgotten
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.elapsed() >= FORGET_EVERY {
            *last = Instant::now();
            limiter.retain_recent();
        }
    }

    /// Who sent `request`, an IPv6 client by its /64 (one host holds a
    /// whole one).
    fn client(&self, request: &Request) -> IpAddr {
        match self.address(request) {
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
            v4 => v4,
        }
    }

    /// The proxy's word when one is configured and says, else the peer's
    /// address (unknown in tests without a socket).
    fn address(&self, request: &Request) -> IpAddr {
        let forwarded = self.client_ip_header.as_ref().and_then(|name| {
            request
                .headers()
                .get(name)?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()?
                .trim()
                .parse()
                .ok()
        });
        forwarded.unwrap_or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
        })
    }
}

/// Middleware: 429 past the client's limit, else on to the route.
pub async fn limit(
    State(limits): State<Arc<ClientLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let Some(limiter) = limits.limit_for(path) else {
        return next.run(request).await;
    };
    let json = path.starts_with("/auth/backchannel/");
    let client = limits.client(&request);
    limits.forget_idle(limiter);
    let Err(not_until) = limiter.check_key(&client) else {
        return next.run(request).await;
    };
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    let retry_after = wait.as_secs().saturating_add(1);
    tracing::warn!(%client, path = %crate::telemetry::escaped(path), "rate limit reached");
    let mut response = crate::pages::error_answer(
        ErrorCode::TooManyRequests,
        StatusCode::TOO_MANY_REQUESTS,
        json,
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
