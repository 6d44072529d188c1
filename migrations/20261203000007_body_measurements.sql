-- Body measurements (API.md "Body measurements and goals"): NULL is "not recorded" (0 would be a
-- measurement of a weight or a blood pressure), unlike the older fields' NOT NULL DEFAULT 0. The
-- columns are the field table's (`MeasureSpec::column` in src/domain/entry/rules.rs); rows written
-- before get their document rendered again by themselves (its format changed: 20261203000006).
ALTER TABLE entries ADD COLUMN weight REAL;
ALTER TABLE entries ADD COLUMN resting_heart_rate INTEGER;
ALTER TABLE entries ADD COLUMN systolic INTEGER;
ALTER TABLE entries ADD COLUMN diastolic INTEGER;
ALTER TABLE entries ADD COLUMN active_energy INTEGER;

-- The trends read every trend measure of a range from this index alone (20261201000004), so it
-- holds the new ones too.
DROP INDEX entries_user_day_figures;
CREATE INDEX entries_user_day_figures
    ON entries (user_id, day, workouts, mood, calories, sleep, heart_rate, steps, water_intake,
                weight, resting_heart_rate, systolic, diastolic, active_energy);

-- Each account's goals (`GET/PUT /goals`): a JSON object `{<measure>: {min?, max?}}`, NULL for none.
-- On the user's row, so it goes with the account and is read by one primary-key lookup.
ALTER TABLE users ADD COLUMN goals TEXT;
