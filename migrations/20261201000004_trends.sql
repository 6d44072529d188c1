-- Trends (GET /entries/stats) and streaks read a few numbers of every day in a range, up to ten
-- years of it. This index holds exactly those numbers in day order per user, so such a read is one
-- walk along adjacent index pages: the table rows (each with its rendered document) are never
-- visited, and a user's days stay together however the rows of many users interleave on disk.
-- Its columns are `figure_columns!` in src/storage/sqlite/rows.rs, in that order.
CREATE INDEX entries_user_day_figures
    ON entries (user_id, day, workouts, calories, sleep, heart_rate, steps, water_intake, mood);

-- Counts the writes to each user's entries, whoever makes them (this server, another instance or
-- process on the same file, an import): every authenticated request reads it with the user's row,
-- and a trends answer computed at one count is served again from memory until the count moves.
ALTER TABLE users ADD COLUMN entries_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER entries_version_on_insert AFTER INSERT ON entries BEGIN
    UPDATE users SET entries_version = entries_version + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER entries_version_on_update AFTER UPDATE ON entries BEGIN
    UPDATE users SET entries_version = entries_version + 1 WHERE id = NEW.user_id;
END;
CREATE TRIGGER entries_version_on_delete AFTER DELETE ON entries BEGIN
    UPDATE users SET entries_version = entries_version + 1 WHERE id = OLD.user_id;
END;
