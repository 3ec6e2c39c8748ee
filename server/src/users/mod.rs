//! The user store: accounts and the provider identities that sign into
//! them, keyed by (issuer, subject). An e-mail address never decides which
//! account someone gets (SECURITY.md B7).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::db::{Db, with_pool};

/// What a provider told us about who signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub provider: String,
    pub name: String,
    pub email: Option<String>,
    pub picture: Option<String>,
}

/// An account's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub i64);

#[derive(Clone, Debug)]
pub struct UserStore {
    db: Db,
}

impl UserStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The account this identity signs into, created on its first sign-in.
    /// The profile is refreshed from the provider each time.
    pub async fn sign_in(&self, identity: &Identity) -> Result<UserId, sqlx::Error> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let existing: Option<(i64,)> =
                sqlx::query_as("SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2")
                    .bind(&identity.issuer)
                    .bind(&identity.subject)
                    .fetch_optional(&mut *tx)
                    .await?;
            let user_id = match existing {
                Some((user_id,)) => {
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
                        "UPDATE identities SET email = $3 WHERE issuer = $1 AND subject = $2",
                    )
                    .bind(&identity.issuer)
                    .bind(&identity.subject)
                    .bind(&identity.email)
                    .execute(&mut *tx)
                    .await?;
                    user_id
                }
                None => {
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
                    sqlx::query(
                    "INSERT INTO identities (issuer, subject, user_id, provider, email, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&identity.issuer)
                .bind(&identity.subject)
                .bind(user_id)
                .bind(&identity.provider)
                .bind(&identity.email)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                    user_id
                }
            };
            tx.commit().await?;
            Ok(UserId(user_id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db;

    async fn store() -> UserStore {
        UserStore::new(db::memory().await)
    }

    fn identity(issuer: &str, subject: &str, email: &str) -> Identity {
        Identity {
            issuer: issuer.into(),
            subject: subject.into(),
            provider: "local".into(),
            name: "Dana".into(),
            email: Some(email.into()),
            picture: None,
        }
    }

    #[tokio::test]
    async fn the_same_issuer_and_subject_sign_into_the_same_account() {
        let users = store().await;
        let first = users
            .sign_in(&identity("https://a", "1", "d@x.test"))
            .await
            .unwrap();
        let mut renamed = identity("https://a", "1", "new@x.test");
        renamed.name = "Dana Renamed".into();
        assert_eq!(users.sign_in(&renamed).await.unwrap(), first);
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
    async fn the_same_email_with_another_subject_is_another_account() {
        let users = store().await;
        let dana = users
            .sign_in(&identity("https://a", "1", "d@x.test"))
            .await
            .unwrap();
        let impostor = users
            .sign_in(&identity("https://a", "2", "d@x.test"))
            .await
            .unwrap();
        assert_ne!(dana, impostor);
    }

    #[tokio::test]
    async fn the_same_subject_at_another_issuer_is_another_account() {
        let users = store().await;
        let at_a = users
            .sign_in(&identity("https://a", "1", "d@x.test"))
            .await
            .unwrap();
        let at_b = users
            .sign_in(&identity("https://b", "1", "d@x.test"))
            .await
            .unwrap();
        assert_ne!(at_a, at_b);
    }
}
