-- Personal access tokens (API.md "Personal access tokens"): for scripts, apps and assistants that
-- act for a user without their password. Only the token's SHA-256 is kept (a copy of the database
-- holds no usable token); every request made with one looks it up by that hash, joined to its user
-- in the same statement. Revoking one deletes its row; deleting the account deletes them all
-- (ON DELETE CASCADE). They are not logins: a password change and logout-all leave them.
CREATE TABLE personal_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    -- The scope names, space-separated (`entries:read goals:read`).
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    -- Unix milliseconds (as MongoDB keeps dates), so the purge and the lookup compare numbers.
    expires_at   INTEGER NOT NULL,
    -- Unix milliseconds; written at most once a minute (a conditional update compares it).
    last_used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX personal_tokens_user ON personal_tokens (user_id);
CREATE INDEX personal_tokens_expiry ON personal_tokens (expires_at);
