//! The device's days against the stored entries: `fill` (what the person typed wins, missing fields
//! filled) or `replace` (the device's figures overwrite), and a day that would not change is left
//! alone — importing the same file twice changes nothing the second time. Written through the
//! storage traits, so both backends behave alike, in one import (one transaction on SQLite).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::aggregate::DeviceDay;
use crate::domain::day::Day;
use crate::domain::entry::rules::Unrecorded;
use crate::domain::entry::{DayLog, Entry, Measure};
use crate::domain::ids::{EntryId, UserId};
use crate::storage::{OnConflict, Storage, StoreResult};

/// `?onConflict=` of a device import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceConflict {
    /// A field the day already has is kept; missing ones are filled.
    Fill,
    /// The device's figures overwrite the day's; its other fields stay.
    Replace,
}

impl DeviceConflict {
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("fill") => Some(Self::Fill),
            Some("replace") => Some(Self::Replace),
            Some(_) => None,
        }
    }
}

/// What the write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// Whether the day holds a value of `measure` a person recorded (0 is a blank form field for the
/// fields whose unrecorded value is 0).
fn recorded(log: &DayLog, measure: Measure) -> bool {
    match (log.get(measure), measure.spec().unrecorded) {
        (None, _) => false,
        (Some(value), Unrecorded::Zero) => value != 0.0,
        (Some(_), Unrecorded::Null) => true,
    }
}

/// The day as it is after the device's figures: `None` when nothing changes.
pub fn merge(existing: &DayLog, device: &DeviceDay, mode: DeviceConflict) -> Option<DayLog> {
    let mut log = existing.clone();
    for (measure, value) in device.measures() {
        // Blood pressure is one field: its parts are kept or replaced together.
        let whole = match measure {
            Measure::Diastolic => Measure::Systolic,
            other => other,
        };
        if mode == DeviceConflict::Fill && recorded(existing, whole) {
            continue;
        }
        log.measures.set(measure, Some(value));
    }
    if device.workouts {
        log.workouts = true;
    }
    (log != *existing).then_some(log)
}

/// Writes the device's days for `user`: reads the stored entries of the days' span, works out each
/// day, and writes the new and changed ones in one import.
pub async fn write_days(
    store: &dyn Storage,
    user: UserId,
    days: &BTreeMap<Day, DeviceDay>,
    mode: DeviceConflict,
    now: DateTime<Utc>,
) -> StoreResult<WriteCounts> {
    let (Some(first), Some(last)) = (days.keys().next(), days.keys().next_back()) else {
        return Ok(WriteCounts::default());
    };
    let mut stored: BTreeMap<Day, Entry> = BTreeMap::new();
    let mut after = (*first > Day::MIN).then(|| first.minus_days(1));
    const PAGE: u32 = 500;
    loop {
        let page = store.entries_after(user, after, PAGE).await?;
        let full = page.len() == PAGE as usize;
        let mut past = false;
        for entry in page {
            after = Some(entry.date);
            if entry.date > *last {
                past = true;
                break;
            }
            if days.contains_key(&entry.date) {
                stored.insert(entry.date, entry);
            }
        }
        if past || !full {
            break;
        }
    }
    let mut counts = WriteCounts::default();
    let mut writes = Vec::new();
    for (day, device) in days {
        match stored.remove(day) {
            Some(entry) => match merge(&entry.log, device, mode) {
                Some(log) => {
                    counts.updated += 1;
                    writes.push(Entry {
                        log,
                        updated_at: now,
                        ..entry
                    });
                }
                None => counts.unchanged += 1,
            },
            None => {
                counts.created += 1;
                let log = merge(&DayLog::default(), device, DeviceConflict::Replace).unwrap_or_default();
                writes.push(Entry {
                    id: EntryId::new(),
                    user,
                    date: *day,
                    log,
                    created_at: now,
                    updated_at: now,
                });
            }
        }
    }
    if !writes.is_empty() {
        store.import_entries(user, &writes, OnConflict::Replace).await?;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(values: &[(Measure, f64)], workouts: bool) -> DeviceDay {
        let mut day = DeviceDay::default();
        day.workouts = workouts;
        for (measure, value) in values {
            day.set(*measure, *value);
        }
        day
    }

    #[test]
    fn fill_keeps_what_the_person_typed_and_fills_the_rest() {
        let mut typed = DayLog::default();
        typed.measures.set(Measure::Steps, Some(4000.0));
        typed.measures.set(Measure::Weight, Some(70.0));
        let device = device(
            &[
                (Measure::Steps, 9000.0),
                (Measure::Weight, 71.0),
                (Measure::HeartRate, 60.0),
            ],
            true,
        );
        let merged = merge(&typed, &device, DeviceConflict::Fill).expect("changed");
        assert_eq!(merged.get(Measure::Steps), Some(4000.0));
        assert_eq!(merged.get(Measure::Weight), Some(70.0));
        assert_eq!(merged.get(Measure::HeartRate), Some(60.0));
        assert!(merged.workouts);
    }

    #[test]
    fn fill_treats_a_blank_zero_as_missing() {
        let blank = DayLog::default();
        let merged = merge(
            &blank,
            &device(&[(Measure::Calories, 1800.0)], false),
            DeviceConflict::Fill,
        );
        assert_eq!(merged.map(|log| log.get(Measure::Calories)), Some(Some(1800.0)));
    }

    #[test]
    fn replace_overwrites_the_devices_fields_only() {
        let mut typed = DayLog::default();
        typed.measures.set(Measure::Steps, Some(4000.0));
        typed.measures.set(Measure::Calories, Some(2000.0));
        typed.notes = "ran".into();
        let merged = merge(
            &typed,
            &device(&[(Measure::Steps, 9000.0)], false),
            DeviceConflict::Replace,
        )
        .expect("changed");
        assert_eq!(merged.get(Measure::Steps), Some(9000.0));
        assert_eq!(merged.get(Measure::Calories), Some(2000.0));
        assert_eq!(merged.notes, "ran");
    }

    #[test]
    fn blood_pressure_is_kept_or_replaced_whole() {
        let mut typed = DayLog::default();
        typed.measures.set(Measure::Systolic, Some(130.0));
        typed.measures.set(Measure::Diastolic, Some(85.0));
        let pair = device(&[(Measure::Systolic, 120.0), (Measure::Diastolic, 80.0)], false);
        assert_eq!(merge(&typed, &pair, DeviceConflict::Fill), None);
        let replaced = merge(&typed, &pair, DeviceConflict::Replace).expect("changed");
        assert_eq!(replaced.blood_pressure(), Some((120.0, 80.0)));
    }

    #[test]
    fn the_same_figures_again_change_nothing() {
        let day = device(&[(Measure::Steps, 9000.0), (Measure::Sleep, 7.5)], true);
        let once = merge(&DayLog::default(), &day, DeviceConflict::Fill).expect("changed");
        assert_eq!(merge(&once, &day, DeviceConflict::Fill), None);
        assert_eq!(merge(&once, &day, DeviceConflict::Replace), None);
    }

    #[test]
    fn on_conflict_values() {
        assert_eq!(DeviceConflict::parse(None), Some(DeviceConflict::Fill));
        assert_eq!(DeviceConflict::parse(Some("replace")), Some(DeviceConflict::Replace));
        assert_eq!(DeviceConflict::parse(Some("skip")), None);
    }
}
