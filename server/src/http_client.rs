//! The one HTTP client for server-to-server calls (discovery, JWKS, token,
//! userinfo): it follows no redirects, gives up on slow peers and refuses
//! oversized answers (SECURITY.md B11). It plugs into `openidconnect` as its
//! HTTP client.

use std::{future::Future, pin::Pin, time::Duration};

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Limits for provider calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            max_body: 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request failed")]
    Request(#[from] reqwest::Error),
    #[error("response larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("invalid HTTP message")]
    Http(#[from] http::Error),
}

/// Client for provider calls. A redirect could carry a code or token to
/// another host, so none is followed (the openidconnect docs ask for this);
/// a 3xx reaches the caller as it is.
#[derive(Clone, Debug)]
pub struct ProviderHttp {
    client: reqwest::Client,
    max_body: usize,
}

impl ProviderHttp {
    pub fn new(limits: Limits) -> reqwest::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.total_timeout)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            max_body: limits.max_body,
        })
    }

    /// Sends `request` under the client's limits.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut response = self.client.execute(request.try_into()?).await?;
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body as u64)
        {
            return Err(HttpError::TooLarge {
                limit: self.max_body,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > self.max_body {
                return Err(HttpError::TooLarge {
                    limit: self.max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let mut builder = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        Ok(builder.body(body)?)
    }
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use axum::{Router, response::Redirect, routing::get};

    use super::*;

    /// A peer on a free loopback port.
    async fn peer(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    fn get_request(url: String) -> HttpRequest {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    #[tokio::test]
    async fn a_redirect_is_handed_back_not_followed() {
        let followed = Arc::new(AtomicUsize::new(0));
        let hits = followed.clone();
        let url = peer(
            Router::new()
                .route(
                    "/token",
                    get(|| async { Redirect::temporary("/elsewhere") }),
                )
                .route(
                    "/elsewhere",
                    get(move || async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        "leaked"
                    }),
                ),
        )
        .await;
        let client = ProviderHttp::new(Limits::default()).unwrap();
        let response = client
            .call(get_request(format!("{url}/token")))
            .await
            .unwrap();
        assert_eq!(response.status(), 307);
        assert_eq!(followed.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused_with_or_without_content_length() {
        let big = "x".repeat(4096);
        let url = peer(
            Router::new()
                .route(
                    "/sized",
                    get({
                        let big = big.clone();
                        move || async move { big }
                    }),
                )
                .route(
                    "/streamed",
                    get(move || async move {
                        let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1024]));
                        axum::body::Body::from_stream(futures_util::stream::iter(chunks))
                    }),
                ),
        )
        .await;
        let limits = Limits {
            max_body: 2048,
            ..Limits::default()
        };
        let client = ProviderHttp::new(limits).unwrap();
        for path in ["/sized", "/streamed"] {
            let err = client
                .call(get_request(format!("{url}{path}")))
                .await
                .unwrap_err();
            assert!(
                matches!(err, HttpError::TooLarge { limit: 2048 }),
                "{path}: {err:?}"
            );
        }
        let roomy = ProviderHttp::new(Limits::default()).unwrap();
        let ok = roomy
            .call(get_request(format!("{url}/sized")))
            .await
            .unwrap();
        assert_eq!(ok.body().len(), 4096);
    }

    #[tokio::test]
    async fn a_slow_peer_times_out_instead_of_hanging() {
        let url = peer(Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        ))
        .await;
        let limits = Limits {
            total_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let client = ProviderHttp::new(limits).unwrap();
        let started = std::time::Instant::now();
        let err = client
            .call(get_request(format!("{url}/slow")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HttpError::Request(e) if e.is_timeout()),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_certificate_no_authority_signed_is_refused() {
        use tokio::io::AsyncWriteExt;
        use tokio_rustls::{
            TlsAcceptor,
            rustls::{
                ServerConfig,
                crypto::ring,
                pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
            },
        };

        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let cert =
            CertificateDer::from_pem_file(format!("{fixtures}/self-signed-cert.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_file(format!("{fixtures}/self-signed-key.pem")).unwrap();
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    count.fetch_add(1, Ordering::SeqCst);
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                }
            }
        });

        let client = ProviderHttp::new(Limits::default()).unwrap();
        let err = client
            .call(get_request(format!("https://127.0.0.1:{port}/jwks")))
            .await
            .unwrap_err();
        let chain = crate::telemetry::cause_chain(&err);
        assert!(chain.contains("certificate"), "{chain}");
        assert_eq!(served.load(Ordering::SeqCst), 0, "no request was sent");
    }
}
