//! One origin: the app is used at `APP_PUBLIC_URL` only. A browser that
//! reaches it by another host name (`localhost` for `127.0.0.1`, a bare
//! domain for `www.`) would start a sign-in whose cookie the provider's
//! redirect back to the configured origin never carries, and be told the
//! sign-in expired. So a request for another host is sent to the same path
//! on the configured origin (307, method and body kept) before any session
//! state is made. The target comes from configuration, never from `Host`.
//! Health probes and the provider's back-channel calls are answered at any
//! host: load balancers and providers address the server as they please.
//!
//! Behind a proxy that rewrites `Host`, the `X-Forwarded-Host` it sets is
//! the host the browser used; a proxy that rewrites `Host` and sets no
//! `X-Forwarded-Host` must set one (nginx: `proxy_set_header
//! X-Forwarded-Host $host;`), or every request would be sent round again.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use url::Url;

/// The configured origin's host and port, as requests must name them.
#[derive(Clone, Debug)]
pub struct PublicOrigin {
    origin: String,
    /// `host[:port]` exactly as the origin spells it: what nearly every
    /// request names, recognised without parsing.
    authority: String,
    host: String,
    port: Option<u16>,
}

impl PublicOrigin {
    /// `None` when `public_url` is not an absolute http(s) URL (the
    /// settings refuse that before the server starts).
    /// `None` too when the origin's host is unspecified (`0.0.0.0`, `[::]`:
    /// the listen address stood in for a public URL nobody set), since no
    /// browser could be sent there.
    pub fn new(public_url: &str) -> Option<Self> {
        let url = Url::parse(public_url).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        if host == "0.0.0.0" || host == "[::]" {
            return None;
        }
        let origin = public_url.trim_end_matches('/').to_owned();
        Some(Self {
            authority: origin
                .split_once("://")
                .map_or("", |(_, authority)| authority)
                .to_owned(),
            origin,
            host,
            port: url.port_or_known_default(),
        })
    }

    /// Whether a `Host` value (`name[:port]`) names this origin; the
    /// scheme's default port may be left out. A forwarded host without a
    /// port (`X-Forwarded-Host` as many proxies set it) is ours when its
    /// name is.
    fn is_ours(&self, host: &str, forwarded: bool) -> bool {
        if host.eq_ignore_ascii_case(&self.authority) {
            return true;
        }
        if host.contains(['/', '?', '#', '@', '\\']) {
            return false;
        }
        let default_port = if self.origin.starts_with("https://") {
            443
        } else {
            80
        };
        let Ok(url) = Url::parse(&format!("http://{host}")) else {
            return false;
        };
        let same_name = url
            .host_str()
            .is_some_and(|name| name.trim_end_matches('.').eq_ignore_ascii_case(&self.host));
        let same_port = match url.port() {
            Some(port) => Some(port) == self.port,
            None => forwarded || Some(default_port) == self.port,
        };
        same_name && same_port
    }
}

/// Paths answered at any host.
fn is_host_neutral(path: &str) -> bool {
    path == "/healthz" || path == "/readyz" || path.starts_with("/auth/backchannel/")
}

/// Middleware: a request naming another host goes to the configured
/// origin, same path and query.
pub async fn to_public_origin(
    State(public): State<Option<PublicOrigin>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(public) = public else {
        return next.run(request).await;
    };
    let headers = request.headers();
    let forwarded = headers.get("x-forwarded-host");
    let named = forwarded
        .or_else(|| headers.get(header::HOST))
        .and_then(|value| value.to_str().ok())
        // A proxy chain lists hosts left to right; the first is the browser's.
        .map(|value| {
            value
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        });
    let elsewhere = named.is_some_and(|host| !public.is_ours(&host, forwarded.is_some()));
    if !elsewhere || is_host_neutral(request.uri().path()) {
        return next.run(request).await;
    }
    let path_and_query = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let target = format!("{}{path_and_query}", public.origin);
    match HeaderValue::from_str(&target) {
        Ok(location) => (
            StatusCode::TEMPORARY_REDIRECT,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_host_is_ours_with_or_without_its_default_port() {
        let public = PublicOrigin::new("https://App.Example.com").unwrap();
        for host in [
            "app.example.com",
            "APP.example.com",
            "app.example.com:443",
            "app.example.com.",
        ] {
            assert!(public.is_ours(host, false), "{host}");
        }
        for host in [
            "www.app.example.com",
            "app.example.com:8443",
            "app.example.com.evil.test",
            "evil.test",
            "",
            "app.example.com/x",
        ] {
            assert!(!public.is_ours(host, false), "{host}");
        }
        let local = PublicOrigin::new("http://127.0.0.1:3000").unwrap();
        assert!(local.is_ours("127.0.0.1:3000", false));
        assert!(!local.is_ours("localhost:3000", false));
        assert!(!local.is_ours("127.0.0.1", false));
        // A proxy's X-Forwarded-Host often carries no port.
        assert!(local.is_ours("127.0.0.1", true));
        assert!(!local.is_ours("localhost", true));
    }

    #[test]
    fn an_unspecified_listen_address_is_no_origin_to_send_browsers_to() {
        assert!(PublicOrigin::new("http://0.0.0.0:3000").is_none());
        assert!(PublicOrigin::new("http://[::]:3000").is_none());
    }
}
