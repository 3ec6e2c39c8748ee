-- People, and the provider identities they sign in with. An identity is
-- keyed by (issuer, subject), never by e-mail: two identities with the same
-- e-mail are two accounts until the user links them. (PostgreSQL twin of
-- migrations/sqlite.)
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT   NOT NULL,
    email         TEXT,
    picture       TEXT,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL
);

CREATE TABLE identities (
    issuer     TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   TEXT   NOT NULL,
    email      TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);

CREATE INDEX identities_by_user ON identities (user_id);
