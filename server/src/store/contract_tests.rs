//! One contract, four stores: every backend of the session data (SQLite,
//! PostgreSQL, Redis, memory) passes the same tests for the token vault, signed-in
//! sessions, refresh locks, logout-token replay and session records.

use std::collections::HashMap;

use crate::{
    clock::now,
    db::Db,
    secret::Secret,
    session_rows::{Selector, SessionRow, SessionRows},
    store::{MemoryStore, RedisStore, SqlStore, Store},
    test_support::{postgres::fresh_database, redis::fresh_redis, temp_database::TempDatabase},
    users::{Identity, SignIn, UserStore},
    vault::{KeyRing, TokenSet, TokenVault},
};
use tower_sessions::{
    SessionStore as _,
    session::{Id, Record},
};

/// A store to test, with an account to attach signed-in sessions to.
struct Subject {
    store: Store,
    user_id: i64,
    _sqlite: Option<TempDatabase>,
}

/// The account in the users' database that the signed-in sessions belong to.
async fn account(db: &Db) -> i64 {
    let identity = Identity {
        issuer: "https://idp.test".into(),
        subject: "dana".into(),
        provider: "local".into(),
        name: "Dana".into(),
        email: None,
        email_verified: false,
        picture: None,
    };
    match UserStore::new(db.clone()).sign_in(&identity).await.unwrap() {
        SignIn::Account(user) => user.0,
        other => panic!("{other:?}"),
    }
}

async fn sqlite() -> Subject {
    let file = TempDatabase::new();
    let db = Db::open(&file.url()).await.unwrap();
    let user_id = account(&db).await;
    Subject {
        store: Store::new(SqlStore::new(db)),
        user_id,
        _sqlite: Some(file),
    }
}

async fn postgres() -> Subject {
    let db = Db::open(&fresh_database().await).await.unwrap();
    let user_id = account(&db).await;
    Subject {
        store: Store::new(SqlStore::new(db)),
        user_id,
        _sqlite: None,
    }
}

async fn memory() -> Subject {
    Subject {
        store: Store::new(MemoryStore::default()),
        user_id: 7,
        _sqlite: None,
    }
}

async fn redis() -> Subject {
    let (url, prefix) = fresh_redis().await;
    Subject {
        store: Store::new(RedisStore::open(&url, &prefix).await.unwrap()),
        user_id: 7,
        _sqlite: None,
    }
}

fn tokens(tag: &str, expires_at: Option<i64>) -> TokenSet {
    TokenSet {
        access_token: Secret::new(format!("at-{tag}")),
        refresh_token: Some(Secret::new(format!("rt-{tag}"))),
        id_token: None,
        expires_at,
        api_tokens: Default::default(),
    }
}

fn row(subject: &Subject, id: &str, sid: Option<&str>, seen: i64) -> SessionRow {
    SessionRow {
        id: id.into(),
        user_id: subject.user_id,
        provider: "local".into(),
        issuer: "https://idp.test".into(),
        subject: "dana".into(),
        provider_sid: sid.map(str::to_owned),
        grant_id: format!("grant-{id}"),
        user_agent: "Firefox".into(),
        created_at: seen,
        last_seen_at: seen,
    }
}

async fn vault_round_trips_replaces_and_deletes(subject: Subject) {
    let vault = TokenVault::new(subject.store.clone(), KeyRing::ephemeral());
    vault
        .put("g1", "local", &tokens("one", Some(5)))
        .await
        .unwrap();
    vault
        .put("g1", "local", &tokens("two", None))
        .await
        .unwrap();
    assert_eq!(
        vault.get("g1", "local").await.unwrap(),
        Some(tokens("two", None))
    );
    assert_eq!(
        vault.get("g1", "acme").await.unwrap(),
        None,
        "bound to its provider"
    );
    assert_eq!(vault.get("nope", "local").await.unwrap(), None);
    // A replace writes over tokens that are there, and never brings back
    // ones that were deleted (a session ended during its refresh).
    assert!(
        vault
            .replace("g1", "local", &tokens("three", Some(9)))
            .await
            .unwrap()
    );
    assert_eq!(
        vault.get("g1", "local").await.unwrap(),
        Some(tokens("three", Some(9)))
    );
    vault.delete("g1").await.unwrap();
    assert_eq!(vault.get("g1", "local").await.unwrap(), None);
    vault.delete("g1").await.unwrap();
    assert!(
        !vault
            .replace("g1", "local", &tokens("late", None))
            .await
            .unwrap()
    );
    assert_eq!(vault.get("g1", "local").await.unwrap(), None);
}

async fn signed_in_sessions_are_found_touched_listed_and_ended(subject: Subject) {
    let rows = SessionRows::new(subject.store.clone());
    let t = now();
    rows.create(&row(&subject, "a", Some("sid-1"), t - 100))
        .await
        .unwrap();
    rows.create(&row(&subject, "b", Some("sid-2"), t - 50))
        .await
        .unwrap();
    rows.create(&row(&subject, "c", None, t - 5000))
        .await
        .unwrap();
    assert_eq!(
        rows.get("a").await.unwrap(),
        Some(row(&subject, "a", Some("sid-1"), t - 100))
    );
    rows.touch("a", t).await.unwrap();
    let listed: Vec<String> = rows
        .for_user(subject.user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(listed, ["a", "b", "c"], "most recently seen first");

    let by_sid = rows
        .end_matching(&Selector::Sid {
            issuer: "https://idp.test",
            sid: "sid-2",
        })
        .await
        .unwrap();
    assert_eq!(by_sid, ["grant-b"]);
    assert_eq!(rows.get("b").await.unwrap(), None);
    assert_eq!(
        rows.end_expired(t - 1000, t - 100_000).await.unwrap(),
        ["grant-c"]
    );
    assert_eq!(rows.end("a").await.unwrap(), Some("grant-a".to_owned()));
    assert_eq!(rows.end("a").await.unwrap(), None, "once");
    rows.create(&row(&subject, "d", None, t)).await.unwrap();
    rows.create(&row(&subject, "e", None, t)).await.unwrap();
    let mut all = rows
        .end_matching(&Selector::Subject {
            issuer: "https://idp.test",
            subject: "dana",
        })
        .await
        .unwrap();
    all.sort();
    assert_eq!(all, ["grant-d", "grant-e"]);
    assert!(rows.for_user(subject.user_id).await.unwrap().is_empty());
}

async fn tokens_about_to_expire_are_due_for_refresh(subject: Subject) {
    let rows = SessionRows::new(subject.store.clone());
    let vault = TokenVault::new(subject.store.clone(), KeyRing::ephemeral());
    let t = now();
    for (id, expires) in [
        ("soon", Some(t + 30)),
        ("later", Some(t + 3600)),
        ("never", None),
    ] {
        rows.create(&row(&subject, id, None, t)).await.unwrap();
        vault
            .put(&format!("grant-{id}"), "local", &tokens(id, expires))
            .await
            .unwrap();
    }
    let due: Vec<String> = rows
        .due_for_refresh(t + 120, t - 60)
        .await
        .unwrap()
        .into_iter()
        .map(|(row, _)| row.id)
        .collect();
    assert_eq!(due, ["soon"]);
}

async fn a_refresh_lock_has_one_holder(subject: Subject) {
    let store = &subject.store;
    let t = now();
    assert!(store.try_lock("g", "first", t, 30).await.unwrap());
    assert!(
        !store.try_lock("g", "second", t, 30).await.unwrap(),
        "taken"
    );
    store.unlock("g", "second").await.unwrap();
    assert!(
        !store.try_lock("g", "second", t, 30).await.unwrap(),
        "only its holder releases it"
    );
    store.unlock("g", "first").await.unwrap();
    assert!(store.try_lock("g", "second", t, 30).await.unwrap());
}

async fn a_logout_token_is_accepted_once(subject: Subject) {
    let rows = SessionRows::new(subject.store.clone());
    let until = now() + 600;
    assert!(
        rows.first_use_of_logout_token("https://idp.test", "j1", until)
            .await
            .unwrap()
    );
    assert!(
        !rows
            .first_use_of_logout_token("https://idp.test", "j1", until)
            .await
            .unwrap()
    );
    assert!(
        rows.first_use_of_logout_token("https://other.test", "j1", until)
            .await
            .unwrap()
    );
}

async fn session_records_are_saved_loaded_and_deleted(subject: Subject) {
    let sessions = subject.store.session_store();
    let mut record = Record {
        id: Id::default(),
        data: HashMap::from([("user".to_owned(), serde_json::json!({"name": "Dana"}))]),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    sessions.create(&mut record).await.unwrap();
    assert_eq!(
        sessions.load(&record.id).await.unwrap(),
        Some(record.clone())
    );
    record.data.insert("login".into(), serde_json::json!("x"));
    sessions.save(&record).await.unwrap();
    assert_eq!(
        sessions.load(&record.id).await.unwrap(),
        Some(record.clone())
    );
    sessions.delete(&record.id).await.unwrap();
    assert_eq!(sessions.load(&record.id).await.unwrap(), None);
}

/// One test per contract item and backend.
macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod sqlite_store {
            $(#[tokio::test] async fn $check() { super::$check(super::sqlite().await).await; })*
        }
        mod postgres_store {
            $(#[tokio::test] async fn $check() { super::$check(super::postgres().await).await; })*
        }
        mod redis_store {
            $(#[tokio::test] async fn $check() { super::$check(super::redis().await).await; })*
        }
        mod memory_store {
            $(#[tokio::test] async fn $check() { super::$check(super::memory().await).await; })*
        }
    };
}

contract!(
    vault_round_trips_replaces_and_deletes,
    signed_in_sessions_are_found_touched_listed_and_ended,
    tokens_about_to_expire_are_due_for_refresh,
    a_refresh_lock_has_one_holder,
    a_logout_token_is_accepted_once,
    session_records_are_saved_loaded_and_deleted,
);
