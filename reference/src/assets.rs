//! The site's scripts, stylesheet and WASM bundle, compressed once at the
//! best ratio (brotli 11, gzip 9) and kept in memory. Compressing that hard
//! takes about a second for the bundle, too slow per request; until an
//! asset's compressed copy is ready (at start, or after the file changed),
//! the compression layer in `startup.rs` compresses it on the fly, faster
//! and a little larger.

use std::{
    collections::{HashMap, HashSet},
    io::Write,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::SystemTime,
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, Method, StatusCode, header};

/// Where the assets are served from, below the site root.
const PREFIX: &str = "/pkg/";

/// An asset's compressed copies, and the file they were made from.
#[derive(Debug)]
struct Compressed {
    modified: SystemTime,
    len: u64,
    brotli: Bytes,
    gzip: Bytes,
}

#[derive(Debug, Default)]
struct Kept {
    ready: HashMap<String, Arc<Compressed>>,
    compressing: HashSet<String>,
}

/// The compressed copies of the site's assets.
#[derive(Debug, Clone)]
pub struct CompressedAssets {
    site_root: PathBuf,
    kept: Arc<Mutex<Kept>>,
}

/// The assets worth compressing: file extension and content type.
const KINDS: [(&str, &str); 3] = [
    ("wasm", "application/wasm"),
    ("js", "text/javascript"),
    ("css", "text/css"),
];

/// The content type of an asset worth compressing, by its file name.
fn content_type(name: &str) -> Option<&'static str> {
    let (_, extension) = name.rsplit_once('.')?;
    KINDS
        .iter()
        .find(|(ext, _)| *ext == extension)
        .map(|(_, kind)| *kind)
}

/// Whether a response of `content_type` is one of the assets (pages and
/// JSON never are).
pub fn is_asset_type(content_type: &str) -> bool {
    KINDS
        .iter()
        .map(|(_, kind)| *kind)
        .chain(["application/javascript"])
        .any(|kind| content_type.starts_with(kind))
}

/// The asset file name in `path` and its content type, when it is one: a
/// single plain segment below `/pkg/` (no directory, no `..`, nothing to
/// escape the site with).
fn asset_name(path: &str) -> Option<(&str, &'static str)> {
    let name = path.strip_prefix(PREFIX)?;
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    plain.then_some(name).zip(content_type(name))
}

/// Which encoding the browser takes: brotli before gzip; none at `q=0`.
fn accepted(accept_encoding: &str) -> Option<&'static str> {
    let takes = |wanted: &str| {
        accept_encoding.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case(wanted))
                && !parts.any(|param| {
                    param
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                })
        })
    };
    if takes("br") {
        Some("br")
    } else if takes("gzip") {
        Some("gzip")
    } else {
        None
    }
}

fn compress(data: &[u8]) -> std::io::Result<(Bytes, Bytes)> {
    let mut brotli = Vec::new();
    {
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &data[..], &mut brotli, &params)?;
    }
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(data)?;
    Ok((Bytes::from(brotli), Bytes::from(gzip.finish()?)))
}

impl CompressedAssets {
    pub fn new(site_root: impl Into<PathBuf>) -> Self {
        Self {
            site_root: site_root.into(),
            kept: Arc::default(),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts compressing every asset in the site's `pkg` directory.
    pub fn prepare_all(&self) {
        let dir = self.site_root.join(PREFIX.trim_matches('/'));
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            if let Some(name) = entry.file_name().to_str()
                && let Some((name, _)) = asset_name(&format!("{PREFIX}{name}"))
            {
                self.prepare(name);
            }
        }
    }

    /// Compresses `name` in the background, unless that is under way.
    fn prepare(&self, name: &str) {
        if !self.kept().compressing.insert(name.to_owned()) {
            return;
        }
        let assets = self.clone();
        let name = name.to_owned();
        let path = self.site_root.join(PREFIX.trim_matches('/')).join(&name);
        tokio::task::spawn_blocking(move || {
            let made = std::fs::metadata(&path).and_then(|meta| {
                let data = std::fs::read(&path)?;
                let (brotli, gzip) = compress(&data)?;
                Ok(Compressed {
                    modified: meta.modified()?,
                    len: meta.len(),
                    brotli,
                    gzip,
                })
            });
            let mut kept = assets.kept();
            kept.compressing.remove(&name);
            match made {
                Ok(compressed) => {
                    kept.ready.insert(name, Arc::new(compressed));
                }
                Err(err) => tracing::warn!(asset = %name, "could not compress: {err}"),
            }
        });
    }

    /// The compressed copy of `name` in `encoding`, if one of the file as
    /// it is now is ready; otherwise starts making one.
    async fn copy(&self, name: &str, encoding: &str) -> Option<Bytes> {
        let path = self.site_root.join(PREFIX.trim_matches('/')).join(name);
        let meta = tokio::fs::metadata(&path).await.ok()?;
        let modified = meta.modified().ok()?;
        let ready = self.kept().ready.get(name).cloned();
        match ready {
            Some(copy) if copy.modified == modified && copy.len == meta.len() => {
                Some(if encoding == "br" {
                    copy.brotli.clone()
                } else {
                    copy.gzip.clone()
                })
            }
            _ => {
                self.prepare(name);
                None
            }
        }
    }
}

/// Middleware: answers an asset request from its compressed copy when the
/// browser takes the encoding and the copy is ready.
pub async fn serve_compressed(
    State(assets): State<CompressedAssets>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let wanted = (method == Method::GET || method == Method::HEAD)
        .then(|| asset_name(request.uri().path()))
        .flatten()
        .zip(
            request
                .headers()
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .and_then(accepted),
        );
    let Some(((name, kind), encoding)) = wanted else {
        return next.run(request).await;
    };
    let Some(body) = assets.copy(name, encoding).await else {
        return next.run(request).await;
    };
    let length = body.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_asset_names_below_pkg_are_assets() {
        assert_eq!(
            asset_name("/pkg/portcullis.wasm"),
            Some(("portcullis.wasm", "application/wasm"))
        );
        assert_eq!(
            asset_name("/pkg/portcullis.js"),
            Some(("portcullis.js", "text/javascript"))
        );
        assert_eq!(
            asset_name("/pkg/portcullis.css"),
            Some(("portcullis.css", "text/css"))
        );
        for path in [
            "/pkg/../Cargo.toml",
            "/pkg/..%2fsecret.css",
            "/pkg/sub/x.js",
            "/pkg/.hidden.js",
            "/pkg/",
            "/pkg/image.png",
            "/portcullis.wasm",
            "/pkg/a\\b.js",
        ] {
            assert_eq!(asset_name(path), None, "{path}");
        }
    }

    #[test]
    fn brotli_is_preferred_and_q_zero_refuses() {
        assert_eq!(accepted("gzip, deflate, br, zstd"), Some("br"));
        assert_eq!(accepted("gzip"), Some("gzip"));
        assert_eq!(accepted("br;q=0, gzip;q=0.5"), Some("gzip"));
        assert_eq!(accepted("BR"), Some("br"));
        assert_eq!(accepted("identity"), None);
        assert_eq!(accepted("gzip;q=0"), None);
    }
}
