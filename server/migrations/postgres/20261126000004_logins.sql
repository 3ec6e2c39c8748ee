-- One row per signed-in browser session: which account and identity it
-- signed in with, the provider's own session id (`sid`, for back-channel
-- logout), where its tokens are in the vault, and when it was created and
-- last seen (idle and absolute timeouts; the profile lists them). A session
-- whose row is gone is signed out, whatever its cookie says.
CREATE TABLE logins (
    id           TEXT   PRIMARY KEY NOT NULL,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider     TEXT   NOT NULL,
    issuer       TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    provider_sid TEXT,
    grant_id     TEXT   NOT NULL,
    user_agent   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

CREATE INDEX logins_by_user ON logins (user_id);
CREATE INDEX logins_by_subject ON logins (issuer, subject);
CREATE INDEX logins_by_sid ON logins (issuer, provider_sid);
