-- Housekeeping reads these every few seconds to minutes: tokens about to
-- expire (refresh ahead, joined to their sessions by grant) and sessions
-- past their idle or absolute lifetime (the sweep). Without them each
-- round read every session.
CREATE INDEX token_vault_by_expiry ON token_vault (expires_at);
CREATE INDEX logins_by_grant ON logins (grant_id);
CREATE INDEX logins_by_last_seen ON logins (last_seen_at);
CREATE INDEX logins_by_created ON logins (created_at);
