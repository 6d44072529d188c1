-- Accounts and their logins.

-- The user's IANA time zone (`Asia/Kolkata`). NULL for accounts created before it existed: they are
-- served in DEFAULT_TIMEZONE, so that default can change without rewriting rows.
ALTER TABLE users ADD COLUMN timezone TEXT;

-- One row per login ("session" in the API): what GET /auth/sessions lists and what an access token's
-- `sid` names. Its refresh tokens (one row each in refresh_sessions, sharing `family_id` = `id`)
-- come and go with every refresh; the login stays. Revoking it refuses its refresh tokens and, via
-- `sid`, its access tokens at once.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    -- The last refresh (the login itself until the first one).
    last_used_at TEXT NOT NULL,
    user_agent   TEXT,
    -- When its newest refresh token expires: afterwards nothing can use it, and it is purged.
    expires_at   INTEGER NOT NULL,
    revoked_at   TEXT
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Logins that existed before this table: one row per refresh-token family, revoked when its
-- tokens were.
INSERT INTO sessions (id, user_id, created_at, last_used_at, user_agent, expires_at, revoked_at)
SELECT family_id, user_id, MIN(created_at), MAX(created_at), NULL, MAX(expires_at),
       CASE WHEN SUM(revoked_at IS NULL) = 0 THEN MAX(revoked_at) END
FROM refresh_sessions
GROUP BY family_id;

-- Deleting an account deletes its revoked-token rows too.
CREATE INDEX revoked_tokens_user ON revoked_tokens (user_id);
