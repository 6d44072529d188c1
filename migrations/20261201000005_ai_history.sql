-- The conversation with the AI coach, per user: the newest turns go into every chat prompt, and the
-- user can read, export and clear it. Writes keep only the newest 200 messages of a user
-- (HISTORY_KEEP), so the table stays small per user without a job to trim it.
CREATE TABLE ai_messages (
    -- The rowid: assigned in increasing order by the one writer, so it orders a user's messages even
    -- where two share a created_at (a question and a fast answer in the same millisecond).
    id         INTEGER PRIMARY KEY,
    -- Deleted with the account.
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- Every read and the trim walk one user's messages newest first.
CREATE INDEX ai_messages_user_id ON ai_messages (user_id, id);
