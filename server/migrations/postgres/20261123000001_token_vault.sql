-- Tokens live only here, sealed with XChaCha20-Poly1305. The key id sits
-- beside each ciphertext so keys can rotate; the row's grant id and
-- provider are the associated data, so a ciphertext cannot be moved to
-- another row. (PostgreSQL twin of migrations/sqlite.)
CREATE TABLE token_vault (
    grant_id   TEXT   PRIMARY KEY NOT NULL,
    provider   TEXT   NOT NULL,
    key_id     TEXT   NOT NULL,
    nonce      BYTEA  NOT NULL,
    ciphertext BYTEA  NOT NULL,
    updated_at BIGINT NOT NULL
);
