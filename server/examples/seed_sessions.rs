//! For the memory benchmark (`make bench`): fills the configured store with
//! N signed-in sessions made the way a sign-in makes them (an account and
//! its identity, sealed tokens in the vault, a signed-in session row and a
//! session record), through the test kit's sign-in (feature `testing`). Reads the same
//! settings as the server (its first provider names the identities) and
//! prints each session's cookie value, one per line.
//!
//!   cargo run --release -p portcullis --features testing --example seed_sessions -- 100000 > cookies

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
use portcullis::{Portcullis, Settings, testing::TestUser};
use std::io::Write;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// `bytes` random bytes, as URL-safe text (token-like filler).
fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(100_000);
    let settings = Settings::from_env().map_err(|problems| problems.to_string())?;
    let portcullis = Portcullis::start(settings)
        .await
        .map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (portcullis, next) = (portcullis.clone(), next.clone());
        workers.spawn(async move {
            let mut cookies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return Ok::<_, Failure>(cookies);
                }
                // Token sizes as the benchmarks' provider issues them.
                let user = TestUser::new(format!("seeded-{}", random_text(9)))
                    .name("Seeded User")
                    .email(format!("seeded-{n}@bench.test"), true)
                    .access_token(random_text(24))
                    .refresh_token(random_text(24))
                    .id_token(random_text(560))
                    .expires_in(std::time::Duration::from_secs(3600));
                let session = portcullis.sign_in_for_test(user).await?;
                let (_, value) = session.cookie().split_once('=').ok_or("a cookie")?;
                cookies.push(value.to_owned());
            }
        });
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    while let Some(cookies) = workers.join_next().await {
        for cookie in cookies?? {
            writeln!(out, "{cookie}")?;
        }
    }
    out.flush()?;
    Ok(())
}
