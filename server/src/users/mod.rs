//! The user store: accounts and the provider identities that sign into
//! them, keyed by (issuer, subject). An e-mail address never decides which
//! account someone gets (SECURITY.md B7).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::db::{BeginWrite, Db, with_pool};

/// What a provider told us about who signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub provider: String,
    /// The name the provider gave; empty when it gave none (Sign in with
    /// Apple names the user only once), and then the account keeps the
    /// name it has.
    pub name: String,
    pub email: Option<String>,
    /// Whether the provider vouches that `email` belongs to this user.
    #[serde(default)]
    pub email_verified: bool,
    pub picture: Option<String>,
}

/// An account's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub i64);

/// What signing in with an identity leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// The identity's account, created now if the identity is new.
    Account(UserId),
    /// The identity is new and its verified e-mail is an existing
    /// account's, which signs in with `provider`: nothing was created.
    EmailBelongsTo { provider: String },
}

/// What connecting an identity to an account leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Linked,
    AlreadyLinked,
    /// The identity signs into another account.
    BelongsToAnother,
}

/// What disconnecting an identity leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlink {
    Unlinked,
    /// It is the account's only identity.
    LastIdentity,
    /// The account has no such identity.
    NotFound,
}

/// One identity of an account, as the profile lists it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkedIdentity {
    pub issuer: String,
    pub subject: String,
    pub provider: String,
    pub email: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct UserStore {
    db: Db,
}

/// The provider of the identity whose verified e-mail is `$1` (any case).
/// Indexed (`identities_by_verified_email`): a first sign-in asks it while
/// holding the write lock.
const VERIFIED_EMAIL_OWNER: &str = "SELECT provider FROM identities
     WHERE email_verified AND lower(email) = lower($1)
     ORDER BY created_at LIMIT 1";

impl UserStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The account this identity signs into, created on its first sign-in
    /// unless its verified e-mail is already another account's. The
    /// profile is refreshed from the provider each time.
    pub async fn sign_in(&self, identity: &Identity) -> Result<SignIn, sqlx::Error> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            if let Some(user_id) = owner_of(&mut tx, identity).await? {
                sqlx::query(
                    "UPDATE users SET name = $2, email = $3, picture = $4, last_login_at = $5
                     WHERE id = $1",
                )
                .bind(user_id)
                .bind(&identity.name)
                .bind(&identity.email)
                .bind(&identity.picture)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE identities SET email = $3, email_verified = $4
                     WHERE issuer = $1 AND subject = $2",
                )
                .bind(&identity.issuer)
                .bind(&identity.subject)
                .bind(&identity.email)
                .bind(identity.email_verified)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(SignIn::Account(UserId(user_id)));
            }
            if let Some(email) = identity
                .email
                .as_deref()
                .filter(|_| identity.email_verified)
            {
                let owner: Option<(String,)> = sqlx::query_as(VERIFIED_EMAIL_OWNER)
                    .bind(email)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some((provider,)) = owner {
                    return Ok(SignIn::EmailBelongsTo { provider });
                }
            }
            let (user_id,): (i64,) = sqlx::query_as(
                "INSERT INTO users (name, email, picture, created_at, last_login_at)
                 VALUES ($1, $2, $3, $4, $4) RETURNING id",
            )
            .bind(&identity.name)
            .bind(&identity.email)
            .bind(&identity.picture)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            insert_identity(&mut tx, identity, user_id, now).await?;
            tx.commit().await?;
            Ok(SignIn::Account(UserId(user_id)))
        })
    }

    /// Connects `identity` to the account `user`.
    pub async fn link(&self, user: UserId, identity: &Identity) -> Result<Link, sqlx::Error> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let outcome = match owner_of(&mut tx, identity).await? {
                Some(owner) if owner == user.0 => Link::AlreadyLinked,
                Some(_) => Link::BelongsToAnother,
                None => {
                    insert_identity(&mut tx, identity, user.0, now).await?;
                    Link::Linked
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// Disconnects an identity from the account `user`, unless it is the
    /// account's last one.
    pub async fn unlink(
        &self,
        user: UserId,
        issuer: &str,
        subject: &str,
    ) -> Result<Unlink, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            // The account's row is locked first (PostgreSQL takes a row
            // lock on update; SQLite's write transaction already excludes
            // others), so two disconnects at once count one after the
            // other and never both find "not the last".
            sqlx::query("UPDATE users SET last_login_at = last_login_at WHERE id = $1")
                .bind(user.0)
                .execute(&mut *tx)
                .await?;
            let (count,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM identities WHERE user_id = $1")
                    .bind(user.0)
                    .fetch_one(&mut *tx)
                    .await?;
            let owned: Option<(i64,)> = sqlx::query_as(
                "SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2 AND user_id = $3",
            )
            .bind(issuer)
            .bind(subject)
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await?;
            let outcome = match (owned, count) {
                (None, _) => Unlink::NotFound,
                (Some(_), ..=1) => Unlink::LastIdentity,
                (Some(_), _) => {
                    sqlx::query("DELETE FROM identities WHERE issuer = $1 AND subject = $2")
                        .bind(issuer)
                        .bind(subject)
                        .execute(&mut *tx)
                        .await?;
                    Unlink::Unlinked
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// The name of the account `identity` signs into, if it has one.
    pub async fn name_of(&self, identity: &Identity) -> Result<Option<String>, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            let name: Option<(String,)> = sqlx::query_as(
                "SELECT users.name FROM users JOIN identities ON identities.user_id = users.id
                 WHERE identities.issuer = $1 AND identities.subject = $2",
            )
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .fetch_optional(pool)
            .await?;
            Ok(name.map(|(name,)| name))
        })
    }

    /// The identities of the account `user`, oldest first.
    pub async fn identities(&self, user: UserId) -> Result<Vec<LinkedIdentity>, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT issuer, subject, provider, email, created_at FROM identities
                 WHERE user_id = $1 ORDER BY created_at, provider, subject",
            )
            .bind(user.0)
            .fetch_all(pool)
            .await
        })
    }
}

/// The account `identity` signs into, if it is known, inside `tx`.
async fn owner_of<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    identity: &Identity,
) -> Result<Option<i64>, sqlx::Error>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let owner: Option<(i64,)> =
        sqlx::query_as("SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2")
            .bind(identity.issuer.clone())
            .bind(identity.subject.clone())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(owner.map(|(user_id,)| user_id))
}

/// Adds `identity` to the account `user_id` inside `tx`.
async fn insert_identity<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    identity: &Identity,
    user_id: i64,
    now: i64,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    sqlx::query(
        "INSERT INTO identities (issuer, subject, user_id, provider, email, email_verified, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(identity.issuer.clone())
    .bind(identity.subject.clone())
    .bind(user_id)
    .bind(identity.provider.clone())
    .bind(identity.email.clone())
    .bind(identity.email_verified)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;

    async fn store() -> UserStore {
        UserStore::new(db::memory().await)
    }

    #[tokio::test]
    async fn the_verified_email_lookup_of_a_first_sign_in_reads_an_index_not_every_identity() {
        let db = db::memory().await;
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {VERIFIED_EMAIL_OWNER}"))
                .bind("someone@example.com")
                .fetch_all(db.sqlite())
                .await
                .unwrap();
        let steps: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            steps
                .iter()
                .any(|s| s.contains("USING INDEX identities_by_verified_email")),
            "{steps:?}"
        );
        assert!(
            !steps.iter().any(|s| s.starts_with("SCAN identities")),
            "{steps:?}"
        );
    }

    fn identity(issuer: &str, subject: &str, email: &str) -> Identity {
        Identity {
            issuer: issuer.into(),
            subject: subject.into(),
            provider: issuer.trim_start_matches("https://").into(),
            name: "Dana".into(),
            email: Some(email.into()),
            email_verified: true,
            picture: None,
        }
    }

    async fn account(users: &UserStore, identity: &Identity) -> UserId {
        match users.sign_in(identity).await.unwrap() {
            SignIn::Account(user) => user,
            other => panic!("no account: {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_same_issuer_and_subject_sign_into_the_same_account() {
        let users = store().await;
        let first = account(&users, &identity("https://a", "1", "d@x.test")).await;
        let mut renamed = identity("https://a", "1", "new@x.test");
        renamed.name = "Dana Renamed".into();
        assert_eq!(account(&users, &renamed).await, first);
        let (name, email): (String, String) =
            sqlx::query_as("SELECT name, email FROM users WHERE id = $1")
                .bind(first.0)
                .fetch_one(users.db.sqlite())
                .await
                .unwrap();
        assert_eq!(
            (name.as_str(), email.as_str()),
            ("Dana Renamed", "new@x.test")
        );
    }

    #[tokio::test]
    async fn a_new_identity_with_a_verified_email_in_use_gets_no_account() {
        let users = store().await;
        account(&users, &identity("https://a", "1", "D@X.test")).await;
        let outcome = users
            .sign_in(&identity("https://b", "7", "d@x.TEST"))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            SignIn::EmailBelongsTo {
                provider: "a".into()
            }
        );
        let (accounts,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
            .fetch_one(users.db.sqlite())
            .await
            .unwrap();
        assert_eq!(accounts, 1, "nothing created, nothing linked");
    }

    #[tokio::test]
    async fn an_unverified_email_neither_blocks_nor_is_blocked() {
        let users = store().await;
        let dana = account(&users, &identity("https://a", "1", "d@x.test")).await;
        let mut unverified = identity("https://b", "2", "d@x.test");
        unverified.email_verified = false;
        let other = account(&users, &unverified).await;
        assert_ne!(dana, other, "a different account, never joined by e-mail");
    }

    #[tokio::test]
    async fn the_same_subject_at_another_issuer_is_another_account() {
        let users = store().await;
        let at_a = account(&users, &identity("https://a", "1", "d@a.test")).await;
        let at_b = account(&users, &identity("https://b", "1", "d@b.test")).await;
        assert_ne!(at_a, at_b);
    }

    #[tokio::test]
    async fn a_connected_identity_signs_into_the_same_account() {
        let users = store().await;
        let dana = account(&users, &identity("https://a", "1", "d@x.test")).await;
        let github = identity("https://github.com", "42", "d@x.test");
        assert_eq!(users.link(dana, &github).await.unwrap(), Link::Linked);
        assert_eq!(
            users.link(dana, &github).await.unwrap(),
            Link::AlreadyLinked
        );
        assert_eq!(account(&users, &github).await, dana);
        let linked = users.identities(dana).await.unwrap();
        assert_eq!(linked.len(), 2);

        let eve = account(&users, &identity("https://a", "2", "e@x.test")).await;
        assert_eq!(
            users.link(eve, &github).await.unwrap(),
            Link::BelongsToAnother
        );
    }

    #[tokio::test]
    async fn any_identity_but_the_last_can_be_disconnected() {
        let users = store().await;
        let dana = account(&users, &identity("https://a", "1", "d@x.test")).await;
        users
            .link(dana, &identity("https://github.com", "42", "d@x.test"))
            .await
            .unwrap();
        let eve = account(&users, &identity("https://a", "2", "e@x.test")).await;
        assert_eq!(
            users.unlink(eve, "https://a", "1").await.unwrap(),
            Unlink::NotFound,
            "not someone else's"
        );
        assert_eq!(
            users.unlink(dana, "https://a", "1").await.unwrap(),
            Unlink::Unlinked
        );
        assert_eq!(
            users
                .unlink(dana, "https://github.com", "42")
                .await
                .unwrap(),
            Unlink::LastIdentity
        );
        let left = users.identities(dana).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].subject, "42");
    }
}

#[cfg(test)]
mod postgres_tests {
    use super::{Identity, SignIn, Unlink, UserStore};
    use crate::{db::Db, test_support::postgres::fresh_database};

    #[tokio::test]
    async fn two_disconnects_at_once_on_postgresql_never_leave_an_account_without_a_way_in() {
        let db = Db::open(&fresh_database().await).await.unwrap();
        let users = UserStore::new(db);
        let identity = |n: usize, provider: &str| Identity {
            issuer: format!("https://{provider}.test"),
            subject: format!("user-{n}"),
            provider: provider.to_owned(),
            name: "Dana".into(),
            email: None,
            email_verified: false,
            picture: None,
        };
        for n in 0..20 {
            let (first, second) = (identity(n, "first"), identity(n, "second"));
            let SignIn::Account(account) = users.sign_in(&first).await.unwrap() else {
                panic!("a new account");
            };
            users.link(account, &second).await.unwrap();
            let (a, b) = tokio::join!(
                users.unlink(account, &first.issuer, &first.subject),
                users.unlink(account, &second.issuer, &second.subject),
            );
            let outcomes = [a.unwrap(), b.unwrap()];
            assert_eq!(
                outcomes
                    .iter()
                    .filter(|o| matches!(o, Unlink::Unlinked))
                    .count(),
                1,
                "{outcomes:?}"
            );
            assert!(
                outcomes.iter().any(|o| matches!(o, Unlink::LastIdentity)),
                "{outcomes:?}"
            );
            assert_eq!(users.identities(account).await.unwrap().len(), 1);
        }
    }
}
