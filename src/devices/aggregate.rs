//! The mapping of API.md's "Data from devices": samples in, one set of field values per day (the
//! user's time zone's) out, with the counts the answer reports. Memory holds one small accumulator
//! per day, never the samples (sleep intervals are kept merged).

use std::collections::{BTreeMap, HashMap};

use chrono::DateTime;

use super::sample::{Metric, Sample, SleepStage};
use crate::domain::day::Day;
use crate::domain::entry::{Measure, blood_pressure_allowed};
use crate::domain::timezone::TimeZone;

/// Days one import may fill (a century): a file spreading samples over more is cut off there, its
/// other samples dropped, so a hostile file cannot grow the map without bound.
pub const MAX_DAYS: usize = 36_600;
/// Distinct sources (apps, devices) told apart for steps; more share one bucket.
const MAX_SOURCES: usize = 1_000;
/// Distinct type names listed in `skippedTypes`; more are counted under [`OTHER_TYPES`].
const MAX_SKIPPED_TYPES: usize = 200;
pub const OTHER_TYPES: &str = "other";
/// Sleep intervals held before they are merged again.
const SLEEP_COMPACT_AT: usize = 64 * 1024;

/// What an import read, per API.md's answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Records (samples) read, of any type.
    pub records_read: u64,
    /// Records of a mapped type that were read into a day.
    pub records_used: u64,
    /// Records of types the mapping does not use, by type.
    pub skipped_types: BTreeMap<String, u64>,
    /// Values dropped: a day's figure outside its field's rule, or a record of a mapped type whose
    /// value, unit or date cannot be read.
    pub dropped: u64,
}

/// A day's figures from the device: only what it recorded, each within its field's rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceDay {
    measures: [Option<f64>; Measure::COUNT],
    /// A workout started that day.
    pub workouts: bool,
}

impl DeviceDay {
    pub fn get(&self, measure: Measure) -> Option<f64> {
        self.measures[measure as usize]
    }

    pub fn set(&mut self, measure: Measure, value: f64) {
        self.measures[measure as usize] = Some(value);
    }

    pub fn is_empty(&self) -> bool {
        !self.workouts && self.measures.iter().all(Option::is_none)
    }

    /// The recorded measures, in table order.
    pub fn measures(&self) -> impl Iterator<Item = (Measure, f64)> + '_ {
        Measure::all().filter_map(|measure| Some((measure, self.get(measure)?)))
    }
}

/// The result: the days (oldest first) and the counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceDays {
    pub days: BTreeMap<Day, DeviceDay>,
    pub tally: Tally,
}

/// A day's running figures.
#[derive(Default)]
struct DayAcc {
    /// Steps per source.
    steps: Vec<(u32, f64)>,
    heart_sum: f64,
    heart_count: u64,
    /// `(time, value)`: the last of the day wins.
    resting: Option<(i64, f64)>,
    weight: Option<(i64, f64)>,
    pressure: Option<(i64, (f64, f64))>,
    active_energy: Option<f64>,
    calories: Option<f64>,
    water: Option<f64>,
    sleep_secs: i64,
    workout: bool,
}

/// Keeps `(time, value)` when it is not earlier than what `slot` holds (a later record in the file
/// wins a tie).
fn keep_last<T>(slot: &mut Option<(i64, T)>, at: i64, value: T) {
    if slot.as_ref().is_none_or(|(kept, _)| at >= *kept) {
        *slot = Some((at, value));
    }
}

fn add_to(slot: &mut Option<f64>, value: f64) {
    *slot = Some(slot.unwrap_or(0.0) + value);
}

/// Feeds on samples, in any order; [`DayAggregator::finish`] applies the per-day rules.
pub struct DayAggregator {
    zone: TimeZone,
    days: HashMap<Day, DayAcc>,
    sources: HashMap<String, u32>,
    /// Asleep intervals `(start, end)` in seconds.
    sleep: Vec<(i64, i64)>,
    tally: Tally,
}

impl DayAggregator {
    pub fn new(zone: TimeZone) -> Self {
        Self {
            zone,
            days: HashMap::new(),
            sources: HashMap::new(),
            sleep: Vec::new(),
            tally: Tally::default(),
        }
    }

    pub fn records_read(&self) -> u64 {
        self.tally.records_read
    }

    /// The day `at` (seconds) falls on in the user's zone, when it may hold one more day.
    fn day_of(&self, at: i64) -> Option<Day> {
        let day = Day::at(DateTime::from_timestamp(at, 0)?, self.zone);
        (day.is_in_range() && (self.days.len() < MAX_DAYS || self.days.contains_key(&day))).then_some(day)
    }

    fn day_at(&mut self, at: i64) -> Option<&mut DayAcc> {
        let day = self.day_of(at)?;
        Some(self.days.entry(day).or_default())
    }

    fn source_id(&mut self, source: &str) -> u32 {
        if let Some(id) = self.sources.get(source) {
            return *id;
        }
        if self.sources.len() >= MAX_SOURCES {
            return u32::MAX;
        }
        let id = self.sources.len() as u32;
        self.sources.insert(source.to_owned(), id);
        id
    }

    pub fn add(&mut self, sample: Sample<'_>) {
        self.tally.records_read += 1;
        let used = match sample {
            Sample::Quantity {
                metric,
                value,
                unit,
                start,
                end,
                source,
            } => self.add_quantity(metric, value, unit, (start, end), source),
            Sample::Sleep { stage, start, end } => match stage {
                SleepStage::Asleep if end > start => {
                    self.sleep.push((start, end));
                    if self.sleep.len() >= SLEEP_COMPACT_AT {
                        merge_intervals(&mut self.sleep);
                    }
                    true
                }
                SleepStage::Asleep => false,
                // Read, and rightly not counted as sleep.
                SleepStage::InBed | SleepStage::Awake => return,
            },
            Sample::BloodPressure {
                systolic,
                diastolic,
                at,
            } => {
                if !(systolic.is_finite() && diastolic.is_finite()) {
                    false
                } else if let Some(day) = self.day_at(at) {
                    keep_last(&mut day.pressure, at, (systolic, diastolic));
                    true
                } else {
                    false
                }
            }
            Sample::Workout { start } => match self.day_at(start) {
                Some(day) => {
                    day.workout = true;
                    true
                }
                None => false,
            },
            Sample::Skipped { kind } => {
                let key = if self.tally.skipped_types.len() < MAX_SKIPPED_TYPES
                    || self.tally.skipped_types.contains_key(kind)
                {
                    kind
                } else {
                    OTHER_TYPES
                };
                match self.tally.skipped_types.get_mut(key) {
                    Some(count) => *count += 1,
                    None => {
                        self.tally.skipped_types.insert(key.to_owned(), 1);
                    }
                }
                return;
            }
            Sample::Unreadable => false,
        };
        if used {
            self.tally.records_used += 1;
        } else {
            self.tally.dropped += 1;
        }
    }

    /// Counted on the day `start` falls on; the last of a day is the one that ends last (a resting
    /// heart rate runs from midnight to when it was worked out).
    fn add_quantity(&mut self, metric: Metric, value: f64, unit: &str, (start, end): (i64, i64), source: &str) -> bool {
        // A negative amount is no measurement (and would lower a sum).
        let Some(value) = metric.convert(value, unit).filter(|v| *v >= 0.0) else {
            return false;
        };
        let source = if metric == Metric::Steps {
            self.source_id(source)
        } else {
            0
        };
        let Some(day) = self.day_at(start) else {
            return false;
        };
        match metric {
            Metric::Steps => match day.steps.iter_mut().find(|(id, _)| *id == source) {
                Some((_, steps)) => *steps += value,
                None => day.steps.push((source, value)),
            },
            Metric::HeartRate => {
                day.heart_sum += value;
                day.heart_count += 1;
            }
            Metric::RestingHeartRate => keep_last(&mut day.resting, end, value),
            Metric::BodyMass => keep_last(&mut day.weight, end, value),
            Metric::ActiveEnergy => add_to(&mut day.active_energy, value),
            Metric::DietaryEnergy => add_to(&mut day.calories, value),
            Metric::Water => add_to(&mut day.water, value),
        }
        true
    }

    /// Applies the per-day rules: the device with the most steps, the mean heart rate, the last
    /// resting rate, weight and blood pressure, the sums, the merged sleep on the day it ends; each
    /// value checked by its field's rule (outside it: dropped, the rest of the day kept).
    pub fn finish(mut self) -> DeviceDays {
        merge_intervals(&mut self.sleep);
        for (start, end) in std::mem::take(&mut self.sleep) {
            match self.day_at(end) {
                Some(day) => day.sleep_secs += end - start,
                None => self.tally.dropped += 1,
            }
        }
        let mut days = BTreeMap::new();
        let tally = &mut self.tally;
        for (date, acc) in self.days {
            let mut day = DeviceDay {
                workouts: acc.workout,
                ..DeviceDay::default()
            };
            let mut put = |measure: Measure, value: Option<f64>| {
                if let Some(value) = value {
                    if measure.spec().rule.allows(value) {
                        day.set(measure, value);
                    } else {
                        tally.dropped += 1;
                    }
                }
            };
            let steps = acc
                .steps
                .iter()
                .map(|(_, steps)| *steps)
                .fold(None, |most: Option<f64>, s| Some(most.map_or(s, |m| m.max(s))));
            put(Measure::Steps, steps.map(f64::round));
            put(
                Measure::HeartRate,
                (acc.heart_count > 0).then(|| (acc.heart_sum / acc.heart_count as f64).round()),
            );
            put(Measure::RestingHeartRate, acc.resting.map(|(_, v)| v.round()));
            put(Measure::Weight, acc.weight.map(|(_, kg)| round_to(kg, 2)));
            put(Measure::ActiveEnergy, acc.active_energy.map(f64::round));
            put(Measure::Calories, acc.calories.map(f64::round));
            put(Measure::WaterIntake, acc.water.map(|cups| round_to(cups, 1)));
            put(
                Measure::Sleep,
                (acc.sleep_secs > 0).then(|| round_to(acc.sleep_secs as f64 / 3600.0, 2)),
            );
            if let Some((_, (systolic, diastolic))) = acc.pressure {
                let (systolic, diastolic) = (systolic.round(), diastolic.round());
                if blood_pressure_allowed(systolic, diastolic) {
                    day.set(Measure::Systolic, systolic);
                    day.set(Measure::Diastolic, diastolic);
                } else {
                    tally.dropped += 1;
                }
            }
            if !day.is_empty() {
                days.insert(date, day);
            }
        }
        DeviceDays {
            days,
            tally: self.tally,
        }
    }
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Sorts and merges overlapping (or touching) intervals in place.
fn merge_intervals(intervals: &mut Vec<(i64, i64)>) {
    intervals.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(intervals.len());
    for &(start, end) in intervals.iter() {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    *intervals = merged;
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
