-- When each access token expires, in clear (a time is not a secret), so
-- tokens about to expire can be found and refreshed ahead of time.
ALTER TABLE token_vault ADD COLUMN expires_at BIGINT;

-- One refresh at a time per grant, across every server instance sharing
-- this database: the holder writes its row, others wait for it to go or
-- to expire (a crashed holder never blocks for long).
CREATE TABLE refresh_locks (
    grant_id   TEXT   PRIMARY KEY NOT NULL,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
