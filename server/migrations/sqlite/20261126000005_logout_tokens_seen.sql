-- Back-channel logout tokens already used (their `jti`), so a captured
-- token cannot be replayed. Rows are kept until the token is too old to be
-- accepted anyway.
CREATE TABLE logout_tokens_seen (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, jti)
);
