//! The dashboard's day: its figures (every field of the table but the notes) and, for each goal
//! set, the day's value against it.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::day::Day;
use super::entry::rules::{self, FieldKey};
use super::entry::{DayLog, FieldOf};
use super::goals::{DayGoals, Goals};

/// One day's figures: `date` (UTC midnight), then every field of the table but the notes (aliases
/// included), `workouts` as 0 or 1 (what the old backend's dashboard answered), then `goals`.
pub struct DaySummary<'a> {
    pub day: Day,
    pub log: &'a DayLog,
    pub goals: &'a Goals,
}

impl Serialize for DaySummary<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        // Aliases too, right after their field (`sleepHours`, what the existing frontend reads).
        for field in &rules::FIELDS {
            match field.key {
                FieldKey::Date => map.serialize_entry(field.name, &self.day.to_iso_midnight())?,
                FieldKey::Workouts => map.serialize_entry(field.name, &u8::from(self.log.workouts))?,
                FieldKey::Notes => {}
                key => map.serialize_entry(field.name, &FieldOf(self.log, key))?,
            }
        }
        map.serialize_entry("goals", &DayGoals(self.goals, self.log))?;
        map.end()
    }
}

crate::domain::entry::table_schema!(DaySummary<'_> => "DaySummary");
