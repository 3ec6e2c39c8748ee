//! For the memory benchmark (`make bench`): fills the configured store with
//! N signed-in sessions made the way a sign-in makes them (an account and
//! its identity, sealed tokens in the vault, a signed-in session row and a
//! session record), through the server's own sign-in code. Reads the same
//! settings as the server (its first provider names the identities) and
//! prints each session's cookie value, one per line.
//!
//!   cargo run --release -p portcullis --example seed_sessions -- 100000 > cookies

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
use portcullis::{
    config::Settings,
    secret::Secret,
    session,
    users::{Identity, SignIn},
    vault::TokenSet,
};
use tower_sessions::SessionStore as _;

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
    let provider = settings
        .providers
        .first()
        .ok_or("configure the provider the sessions belong to")?
        .clone();
    let idle = settings.session_idle;
    let portcullis = portcullis::Portcullis::start(settings)
        .await
        .map_err(|e| e.to_string())?;
    let (core, sessions) = portcullis.internals();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (core, sessions, next, provider) = (
            core.clone(),
            sessions.clone(),
            next.clone(),
            provider.clone(),
        );
        workers.spawn(async move {
            let mut cookies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return Ok::<_, Failure>(cookies);
                }
                let identity = Identity {
                    issuer: provider.issuer.clone(),
                    subject: format!("seeded-{}", random_text(9)),
                    provider: provider.id.clone(),
                    name: "Seeded User".into(),
                    email: Some(format!("seeded-{n}@bench.test")),
                    email_verified: true,
                    picture: None,
                };
                let SignIn::Account(user_id) = core.users.sign_in(&identity).await? else {
                    return Err("a seeded e-mail was already in use".into());
                };
                // Token sizes as the benchmarks' provider issues them.
                let tokens = TokenSet {
                    access_token: Secret::new(random_text(24)),
                    refresh_token: Some(Secret::new(random_text(24))),
                    id_token: Some(Secret::new(random_text(560))),
                    expires_at: TokenSet::expiry_in(Some(3600)),
                };
                let user = core
                    .keep_sign_in(
                        &provider.id,
                        identity,
                        user_id,
                        None,
                        "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0".into(),
                        &tokens,
                    )
                    .await?;
                let mut record = session::signed_in_record(&user, idle)?;
                sessions.create(&mut record).await?;
                cookies.push(record.id.to_string());
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
