//! One point of a metric, and one workout, as samples.

use std::borrow::Cow;

use chrono::{NaiveDate, TimeZone as _};
use serde::Deserialize;

use super::Kind;
use crate::devices::aggregate::DayAggregator;
use crate::devices::apple::parse_timestamp;
use crate::devices::sample::{Metric, Sample, SleepStage};
use crate::domain::timezone::TimeZone;

/// Every field a mapped metric's point may carry (the three sleep shapes included); the others are
/// ignored. A field of the wrong JSON type makes the point unreadable.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Point<'a> {
    #[serde(borrow, default)]
    date: Option<Cow<'a, str>>,
    #[serde(default)]
    qty: Option<f64>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(rename = "Avg", default)]
    avg: Option<f64>,
    #[serde(default)]
    systolic: Option<f64>,
    #[serde(default)]
    diastolic: Option<f64>,
    // Sleep, aggregated (with stages, or the older shape where `asleep` is the total).
    #[serde(default)]
    total_sleep: Option<f64>,
    #[serde(default)]
    asleep: Option<f64>,
    #[serde(default)]
    core: Option<f64>,
    #[serde(default)]
    deep: Option<f64>,
    #[serde(default)]
    rem: Option<f64>,
    #[serde(borrow, default)]
    sleep_end: Option<Cow<'a, str>>,
    // Sleep, one point per Health sample.
    #[serde(borrow, default)]
    start_date: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    end_date: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value: Option<Cow<'a, str>>,
}

/// A workout, version 1 or 2: only its start matters (`workouts` is true on the day it starts).
#[derive(Deserialize)]
pub(super) struct Workout<'a> {
    #[serde(borrow, default)]
    pub start: Option<Cow<'a, str>>,
}

impl Point<'_> {
    pub(super) fn feed(&self, kind: Kind, unit: &str, zone: TimeZone, aggregator: &mut DayAggregator) {
        let at = self.date.as_deref().and_then(|date| instant(date, zone));
        let sample = match (kind, at) {
            (Kind::Quantity(metric), Some(at)) => {
                // Heart rate points are `{Min, Avg, Max}`; a resting rate is `qty`, or `Avg` in
                // one captured payload.
                let value = match metric {
                    Metric::HeartRate => self.avg.or(self.qty),
                    _ => self.qty.or(self.avg),
                };
                match value {
                    Some(value) => Sample::Quantity {
                        metric,
                        value,
                        unit,
                        start: at,
                        end: at,
                        source: self.source.as_deref().unwrap_or(""),
                    },
                    None => Sample::Unreadable,
                }
            }
            (Kind::BloodPressure, Some(at)) => match (self.systolic, self.diastolic) {
                (Some(systolic), Some(diastolic)) => Sample::BloodPressure {
                    systolic,
                    diastolic,
                    at,
                },
                _ => Sample::Unreadable,
            },
            (Kind::Sleep, _) => self.sleep(unit, at, zone),
            (_, None) => Sample::Unreadable,
        };
        aggregator.add(sample);
    }

    /// The three shapes of `sleep_analysis` (docs/health-auto-export-format.md).
    fn sleep(&self, unit: &str, date: Option<i64>, zone: TimeZone) -> Sample<'static> {
        // Unaggregated: one Health sample, merged with the others by the aggregator.
        if let Some(stage) = self.value.as_deref() {
            let start = self.start_date.as_deref().and_then(|t| instant(t, zone));
            let end = self.end_date.as_deref().and_then(|t| instant(t, zone));
            return match (sleep_stage(stage), start, end) {
                (Some(stage), Some(start), Some(end)) => Sample::Sleep { stage, start, end },
                _ => Sample::Unreadable,
            };
        }
        // Aggregated: the night's hours asleep, as one interval ending when the sleep ended, so
        // that it lands on the day the sleep ends (and two sources' totals of one night overlap
        // rather than add up).
        let staged = self.core.is_some() || self.deep.is_some() || self.rem.is_some();
        let hours = match self.total_sleep {
            Some(total) => Some(total),
            None if staged => Some(
                [self.core, self.deep, self.rem, self.asleep]
                    .iter()
                    .map(|part| part.unwrap_or(0.0))
                    .sum(),
            ),
            // Before sleep stages, `asleep` was the total.
            None => self.asleep,
        };
        let end = self.sleep_end.as_deref().and_then(|t| instant(t, zone)).or(date);
        let (Some(hours), Some(end), Some(secs_per_unit)) = (hours, end, seconds_per(unit)) else {
            return Sample::Unreadable;
        };
        let secs = hours * secs_per_unit;
        if !(0.0..=48.0 * 3600.0).contains(&secs) {
            return Sample::Unreadable;
        }
        let secs = secs.round() as i64;
        if secs == 0 {
            // A night without sleep: read, nothing to count.
            return Sample::Sleep {
                stage: SleepStage::Awake,
                start: end,
                end,
            };
        }
        Sample::Sleep {
            stage: SleepStage::Asleep,
            start: end - secs,
            end,
        }
    }
}

/// `value` of an unaggregated sleep point.
fn sleep_stage(value: &str) -> Option<SleepStage> {
    let value = value.trim();
    let is = |name: &str| value.eq_ignore_ascii_case(name);
    if is("Core") || is("Deep") || is("REM") || is("Asleep") || is("Unspecified") {
        Some(SleepStage::Asleep)
    } else if is("In Bed") || is("InBed") {
        Some(SleepStage::InBed)
    } else if is("Awake") {
        Some(SleepStage::Awake)
    } else {
        None
    }
}

/// Seconds in one unit of a sleep duration (`hr` is what the app sends).
fn seconds_per(unit: &str) -> Option<f64> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "hr" | "h" | "hour" | "hours" | "" => Some(3600.0),
        "min" | "minutes" => Some(60.0),
        "s" | "sec" => Some(1.0),
        _ => None,
    }
}

/// The unit as the mapping spells it: the app's strings are HealthKit's, compared here without
/// regard to case; an unknown unit is passed on (and refused by the mapping, counted as dropped).
pub(super) fn canonical_unit(unit: &str) -> &str {
    let lower = unit.trim().to_ascii_lowercase();
    match lower.as_str() {
        "count" => "count",
        "count/min" | "bpm" | "beats/min" => "count/min",
        "kg" => "kg",
        "lb" | "lbs" => "lb",
        "g" => "g",
        "kcal" => "kcal",
        "kj" => "kJ",
        "ml" => "mL",
        "l" => "L",
        "fl_oz_us" | "fl oz" | "fl_oz" | "floz" | "fl oz us" => "fl_oz_us",
        "cup_us" | "cup" | "cups" => "cup_us",
        _ => unit,
    }
}

/// A point's time in seconds since the epoch: `yyyy-MM-dd HH:mm:ss Z` (or RFC 3339), or a bare
/// `yyyy-MM-dd`. A date at local midnight is how a daily-aggregated point names its day (and a bare
/// date names a day): it stands for the whole day, so it is read as that day's noon — in its own
/// offset, or for a bare date in the user's zone — and stays on its day in the user's zone when that
/// zone lies a few hours west of the phone's.
pub(super) fn instant(text: &str, zone: TimeZone) -> Option<i64> {
    let text = text.trim();
    if text.len() == 10 {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        let noon = date.and_hms_opt(12, 0, 0)?;
        return zone.zone().from_local_datetime(&noon).earliest().map(|t| t.timestamp());
    }
    let at = parse_timestamp(text.as_bytes())?;
    let midnight = text
        .get(10..20)
        .is_some_and(|time| time == " 00:00:00 " || time == "T00:00:00");
    Some(if midnight { at + 12 * 3600 } else { at })
}
