-- Two-factor login, administration and invitations (API.md "Two-factor login, registration and
-- administration").

-- `role` is 'user' or 'admin' (`healthtracker admin grant`); a disabled user's tokens are refused by
-- the one lookup every request makes (access_token_standing), and their logins were ended.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
-- TOTP: the base32 secret (set by setup, on once a valid code confirmed it) and the last time step a
-- code was accepted for, so a code is accepted once, on every instance sharing the database.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
-- The last-administrator rule counts these.
CREATE INDEX users_admins ON users (role) WHERE role = 'admin';

-- Recovery codes, SHA-256 of each (they are random, 50 bits: a fast hash is enough); each one is
-- deleted when used.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;

-- The challenge a password login of a 2FA user gets (SHA-256 of it): five minutes, one use.
CREATE TABLE two_factor_challenges (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    TEXT
) WITHOUT ROWID;
CREATE INDEX two_factor_challenges_user ON two_factor_challenges (user_id);
CREATE INDEX two_factor_challenges_expiry ON two_factor_challenges (expires_at);

-- Invite codes (REGISTRATION=invite), kept in clear: administrators list and delete them by code,
-- they expire, and one only lets an account be created.
CREATE TABLE invites (
    code       TEXT PRIMARY KEY NOT NULL,
    uses_left  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT
) WITHOUT ROWID;
