//! What goes out compressed: the browser bundle and the other static
//! assets, when the browser accepts it; never a page or JSON, which carry
//! per-user data (BREACH).

use axum::{Router, body::Body};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::harness::TestApp;

/// An app serving a site whose `pkg/portcullis.wasm` is `wasm`.
async fn app_with_bundle(wasm: &[u8]) -> Router {
    let site = std::env::temp_dir().join(format!(
        "portcullis-site-{}-{}",
        std::process::id(),
        wasm.len()
    ));
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/portcullis.wasm"), wasm).unwrap();
    TestApp::without_provider()
        .site_root(site.to_str().unwrap())
        .router()
        .await
}

/// Status, `Content-Encoding` and the body's length as sent.
async fn fetch(
    app: &Router,
    path: &str,
    accept: Option<&str>,
) -> (StatusCode, Option<String>, usize) {
    let mut request = Request::get(path);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT_ENCODING, accept);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let encoding = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, encoding, body.len())
}

#[tokio::test]
async fn the_browser_bundle_goes_out_compressed_when_the_browser_accepts_it() {
    // A module-like body that compresses, as real ones do.
    let wasm: Vec<u8> = b"\0asm\x01\0\0\0"
        .iter()
        .copied()
        .chain((0..200_000u32).map(|i| (i % 97) as u8))
        .collect();
    let app = app_with_bundle(&wasm).await;
    let path = "/pkg/portcullis.wasm";

    let (status, encoding, size) = fetch(&app, path, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding.as_deref(), Some("br"));
    assert!(size < wasm.len() / 4, "{size} bytes for {}", wasm.len());

    let (_, encoding, _) = fetch(&app, path, Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));

    let (_, encoding, size) = fetch(&app, path, None).await;
    assert_eq!(encoding, None);
    assert_eq!(size, wasm.len());
}

#[tokio::test]
async fn pages_and_json_are_never_compressed() {
    let app = app_with_bundle(b"\0asm\x01\0\0\0").await;
    for path in ["/", "/profile", "/auth/user", "/readyz"] {
        let (status, encoding, size) = fetch(&app, path, Some("gzip, br")).await;
        assert!(size > 0, "{path} answered {status} with a body");
        assert_eq!(encoding, None, "{path} answered {status} compressed");
    }
}

/// `Content-Encoding`, whether the length was known up front (a copy
/// compressed ahead, not on the fly), and the body decoded.
async fn fetch_decoded(app: &Router, path: &str, accept: &str) -> (Option<String>, bool, Vec<u8>) {
    use std::io::Read;
    let response = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::ACCEPT_ENCODING, accept)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let encoding = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_owned());
    let ahead = response.headers().contains_key(header::CONTENT_LENGTH);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let mut decoded = Vec::new();
    match encoding.as_deref() {
        Some("br") => brotli::Decompressor::new(&body[..], 4096)
            .read_to_end(&mut decoded)
            .map(drop)
            .unwrap(),
        Some("gzip") => flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut decoded)
            .map(drop)
            .unwrap(),
        _ => decoded = body.to_vec(),
    }
    (encoding, ahead, decoded)
}

#[tokio::test]
async fn the_bundle_goes_out_compressed_ahead_at_the_best_ratio_and_never_stale() {
    let first: Vec<u8> = (0..150_000u32).map(|i| (i % 89) as u8).collect();
    let app = app_with_bundle(&first).await;
    let path = "/pkg/portcullis.wasm";

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for accept in ["br", "gzip"] {
        loop {
            let (encoding, ahead, body) = fetch_decoded(&app, path, accept).await;
            assert_eq!(encoding.as_deref(), Some(accept));
            assert!(body == first, "the bundle's own bytes, {accept}");
            if ahead {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no copy compressed ahead"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    // A new build of the bundle: never the old copy.
    let second: Vec<u8> = (0..120_000u32).map(|i| (i % 83) as u8).collect();
    let site = std::env::temp_dir().join(format!(
        "portcullis-site-{}-{}",
        std::process::id(),
        first.len()
    ));
    std::fs::write(site.join("pkg/portcullis.wasm"), &second).unwrap();
    let (_, _, body) = fetch_decoded(&app, path, "br").await;
    assert!(body == second, "the new bundle, not the old copy");
}
