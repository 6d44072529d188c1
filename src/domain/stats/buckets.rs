//! Buckets: the range cut into days, ISO weeks or calendar months (the first and last clipped to
//! the range), each summed up in one pass over the day figures.

use chrono::{Datelike, NaiveDate};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::DayFigures;
use super::query::{Bucket, StatsQuery};
use crate::domain::day::Day;
use crate::domain::entry::rules::Trend;
use crate::domain::entry::{Measure, MoodCounts};
use crate::domain::goals::Goals;
use crate::domain::numbers::{serialize_js_number, serialize_optional_js_number};

/// One metric over a bucket: `avg`, `min` and `max` over the logged days whose value is not 0 (0 is
/// what a blank form field stores, not a measurement), `null` when there is none; `sum` over every
/// logged day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Metric {
    /// Rounded to 2 decimals.
    #[serde(serialize_with = "serialize_optional_js_number")]
    pub avg: Option<f64>,
    #[serde(serialize_with = "serialize_optional_js_number")]
    pub min: Option<f64>,
    #[serde(serialize_with = "serialize_optional_js_number")]
    pub max: Option<f64>,
    #[serde(serialize_with = "serialize_js_number")]
    pub sum: f64,
    /// The first and last measurement of the bucket, oldest first (written for the measures whose
    /// trend follows a change: `weight`).
    #[serde(skip)]
    pub first: Option<f64>,
    #[serde(skip)]
    pub last: Option<f64>,
}

impl Metric {
    /// `last − first`, rounded to 2 decimals; `null` without a measurement.
    pub fn change(&self) -> Option<f64> {
        Some(round_to(self.last? - self.first?, 2))
    }
}

/// A metric with its `first`, `last` and `change`.
struct WithChange(Metric);

impl Serialize for WithChange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Number(Option<f64>);
        impl Serialize for Number {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_optional_js_number(&self.0, serializer)
            }
        }
        let Metric {
            avg,
            min,
            max,
            sum,
            first,
            last,
        } = self.0;
        let mut map = serializer.serialize_map(Some(7))?;
        map.serialize_entry("avg", &Number(avg))?;
        map.serialize_entry("min", &Number(min))?;
        map.serialize_entry("max", &Number(max))?;
        map.serialize_entry("sum", &Number(Some(sum)))?;
        map.serialize_entry("first", &Number(first))?;
        map.serialize_entry("last", &Number(last))?;
        map.serialize_entry("change", &Number(self.0.change()))?;
        map.end()
    }
}

/// `{<measure>: days}` for each goal set.
struct GoalDays<'a>(&'a [Option<u32>; Measure::COUNT]);

impl Serialize for GoalDays<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for measure in Measure::goals() {
            if let Some(days) = self.0[measure as usize] {
                map.serialize_entry(measure.name(), &days)?;
            }
        }
        map.end()
    }
}

/// One measure's metric as a bucket writes it.
struct MetricOf<'a>(&'a BucketStats, Measure);

impl Serialize for MetricOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let metric = self.0.metric(self.1);
        match self.1.spec().trend {
            Trend::SumsAndChange => WithChange(metric).serialize(serializer),
            _ => metric.serialize(serializer),
        }
    }
}

/// The metrics of the parts of one object (`bloodPressure: {systolic, diastolic}`).
struct PartsOf<'a>(&'a BucketStats, &'static str);

impl Serialize for PartsOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for measure in Measure::trends().filter(|m| m.spec().parent == Some(self.1)) {
            map.serialize_entry(measure.name(), &MetricOf(self.0, measure))?;
        }
        map.end()
    }
}

/// One bucket: its span, its days, and a [`Metric`] for each trend measure of the field table
/// (`calories`, `sleep`, …: written under the measure's name).
#[derive(Clone, Debug, PartialEq)]
pub struct BucketStats {
    /// The bucket's first day inside the range (YYYY-MM-DD).
    pub start: String,
    /// Its last day inside the range.
    pub end: String,
    /// Days of the bucket inside the range.
    pub days: u32,
    pub days_logged: u32,
    /// Logged days with `workouts: true`.
    pub workout_days: u32,
    pub moods: MoodCounts,
    /// By measure; only the trend measures are written.
    metrics: [Metric; Measure::COUNT],
    /// By measure, the logged days that met its goal (`None`: no goal on it).
    goals_met: [Option<u32>; Measure::COUNT],
}

impl BucketStats {
    pub fn metric(&self, measure: Measure) -> Metric {
        self.metrics[measure as usize]
    }

    /// The logged days of the bucket that met the goal on `measure`.
    pub fn goal_days(&self, measure: Measure) -> Option<u32> {
        self.goals_met[measure as usize]
    }
}

crate::domain::entry::table_schema!(BucketStats => "BucketStats");

impl Serialize for BucketStats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("start", &self.start)?;
        map.serialize_entry("end", &self.end)?;
        map.serialize_entry("days", &self.days)?;
        map.serialize_entry("daysLogged", &self.days_logged)?;
        map.serialize_entry("workoutDays", &self.workout_days)?;
        map.serialize_entry("moods", &self.moods)?;
        let mut parent = None;
        for measure in Measure::trends() {
            match measure.spec().parent {
                None => map.serialize_entry(measure.name(), &MetricOf(self, measure))?,
                Some(name) if parent != Some(name) => {
                    map.serialize_entry(name, &PartsOf(self, name))?;
                    parent = Some(name);
                }
                Some(_) => {}
            }
        }
        map.serialize_entry("goalsMet", &GoalDays(&self.goals_met))?;
        map.end()
    }
}

/// Running totals of one metric.
#[derive(Clone, Copy, Default)]
struct Tally {
    measured: u32,
    sum: f64,
    min: f64,
    max: f64,
    first: f64,
    last: f64,
}

impl Tally {
    /// Adds a day's value (days oldest first).
    fn add(&mut self, value: f64) {
        if value == 0.0 {
            return;
        }
        if self.measured == 0 {
            (self.min, self.max, self.first) = (value, value, value);
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.last = value;
        self.measured += 1;
        self.sum += value;
    }

    fn metric(&self) -> Metric {
        let measured = self.measured > 0;
        Metric {
            avg: measured.then(|| round_to(self.sum / f64::from(self.measured), 2)),
            min: measured.then_some(self.min),
            max: measured.then_some(self.max),
            // Sums of decimals (sleep, water) lose binary noise (`15.600000000000001`), not precision.
            sum: round_to(self.sum, 6),
            first: measured.then_some(self.first),
            last: measured.then_some(self.last),
        }
    }
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Every bucket of `query`'s range, in order, from the figures of the days logged in it (oldest
/// first; days outside the range are ignored), with the days that met each of `goals`.
pub fn buckets(query: &StatsQuery, figures: &[DayFigures], goals: &Goals) -> Vec<BucketStats> {
    let mut out = Vec::new();
    let mut figures = figures.iter().skip_while(|f| f.day < query.from).peekable();
    let mut start = query.from;
    loop {
        let end = last_day_of(query.bucket, start).min(query.to);
        let (mut logged, mut workouts, mut moods) = (0, 0, MoodCounts::default());
        let mut tallies = [Tally::default(); Measure::COUNT];
        let mut goals_met = [None; Measure::COUNT];
        for (measure, _) in goals.iter() {
            goals_met[measure as usize] = Some(0);
        }
        while let Some(day) = figures.next_if(|f| f.day <= end) {
            logged += 1;
            workouts += u32::from(day.workouts);
            moods.add(day.mood);
            for (tally, (_, value)) in tallies.iter_mut().zip(day.measures.iter()) {
                tally.add(value.unwrap_or(0.0));
            }
            if !goals.is_empty() {
                let met = goals.met(&day.measures);
                for (days, measure) in goals_met.iter_mut().zip(Measure::all()) {
                    if let Some(days) = days
                        && met.contains(measure)
                    {
                        *days += 1;
                    }
                }
            }
        }
        out.push(BucketStats {
            start: start.to_ymd(),
            end: end.to_ymd(),
            days: (end.days_since(start) + 1) as u32,
            days_logged: logged,
            workout_days: workouts,
            moods,
            metrics: tallies.map(|t| t.metric()),
            goals_met,
        });
        if end >= query.to {
            return out;
        }
        start = end.plus_days(1);
    }
}

/// The last day of the bucket `day` is in: itself, the Sunday of its ISO week, the end of its month.
fn last_day_of(bucket: Bucket, day: Day) -> Day {
    let date = day.date();
    match bucket {
        Bucket::Day => day,
        Bucket::Week => day.plus_days(u64::from(6 - date.weekday().num_days_from_monday())),
        Bucket::Month => {
            let next_month = if date.month() == 12 {
                NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
            };
            next_month.map_or(day, |first| Day::from_date(first).minus_days(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entry::{Measures, Mood};

    fn day(s: &str) -> Day {
        Day::parse_ymd(s).expect("a day")
    }

    fn query(from: &str, to: &str, bucket: Bucket) -> StatsQuery {
        StatsQuery {
            from: day(from),
            to: day(to),
            bucket,
        }
    }

    fn figures(on: &str, calories: i64, sleep: f64) -> DayFigures {
        DayFigures {
            day: day(on),
            workouts: false,
            mood: Mood::Neutral,
            measures: Measures::default()
                .with(Measure::Calories, calories as f64)
                .with(Measure::Sleep, sleep),
        }
    }

    fn spans(buckets: &[BucketStats]) -> Vec<(&str, &str, u32)> {
        buckets
            .iter()
            .map(|b| (b.start.as_str(), b.end.as_str(), b.days))
            .collect()
    }

    #[test]
    fn iso_weeks_are_clipped_to_the_range_across_a_year_boundary() {
        // 2026-12-30 is a Wednesday; ISO week 53 of 2026 runs Monday 28 December to Sunday 3 January.
        let weeks = buckets(&query("2026-12-30", "2027-01-12", Bucket::Week), &[], &Goals::default());
        assert_eq!(
            spans(&weeks),
            [
                ("2026-12-30", "2027-01-03", 5),
                ("2027-01-04", "2027-01-10", 7),
                ("2027-01-11", "2027-01-12", 2)
            ]
        );
    }

    #[test]
    fn months_are_calendar_months_with_the_leap_day() {
        let months = buckets(
            &query("2028-01-15", "2028-03-02", Bucket::Month),
            &[],
            &Goals::default(),
        );
        assert_eq!(
            spans(&months),
            [
                ("2028-01-15", "2028-01-31", 17),
                ("2028-02-01", "2028-02-29", 29),
                ("2028-03-01", "2028-03-02", 2)
            ]
        );
        let december = buckets(
            &query("2026-12-01", "2026-12-31", Bucket::Month),
            &[],
            &Goals::default(),
        );
        assert_eq!(spans(&december), [("2026-12-01", "2026-12-31", 31)]);
        let days = buckets(&query("2028-02-28", "2028-03-01", Bucket::Day), &[], &Goals::default());
        assert_eq!(spans(&days).len(), 3);
    }

    #[test]
    fn zeros_are_not_measurements_and_empty_buckets_have_no_average() {
        let logged = [
            figures("2026-11-02", 2000, 7.5),
            figures("2026-11-03", 0, 8.1),
            figures("2026-11-04", 1501, 0.0),
            figures("2026-11-05", 0, 7.5),
        ];
        let weeks = buckets(
            &query("2026-11-02", "2026-11-15", Bucket::Week),
            &logged,
            &Goals::default(),
        );
        let first = &weeks[0];
        assert_eq!((first.days, first.days_logged), (7, 4));
        assert_eq!(
            first.metric(Measure::Calories),
            Metric {
                avg: Some(1750.5),
                min: Some(1501.0),
                max: Some(2000.0),
                sum: 3501.0,
                first: Some(2000.0),
                last: Some(1501.0),
            }
        );
        assert_eq!(first.metric(Measure::Sleep).avg, Some(7.7));
        assert_eq!(first.metric(Measure::Sleep).sum, 23.1);
        assert_eq!(
            first.metric(Measure::Steps),
            Metric {
                avg: None,
                min: None,
                max: None,
                sum: 0.0,
                first: None,
                last: None,
            }
        );
        assert_eq!(first.moods.neutral, 4);
        let second = &weeks[1];
        assert_eq!((second.days_logged, second.metric(Measure::Calories).avg), (0, None));
    }

    #[test]
    fn averages_are_rounded_to_two_decimals() {
        let logged = [
            figures("2026-11-02", 1000, 7.0),
            figures("2026-11-03", 1000, 7.0),
            figures("2026-11-04", 1001, 8.0),
        ];
        let week = &buckets(
            &query("2026-11-02", "2026-11-08", Bucket::Week),
            &logged,
            &Goals::default(),
        )[0];
        assert_eq!(week.metric(Measure::Calories).avg, Some(1000.33));
        assert_eq!(week.metric(Measure::Sleep).avg, Some(7.33));
    }

    #[test]
    fn days_outside_the_range_are_ignored() {
        let logged = [
            figures("2026-10-31", 9999, 9.0),
            figures("2026-11-01", 1000, 7.0),
            figures("2026-11-03", 5, 5.0),
        ];
        let days = buckets(
            &query("2026-11-01", "2026-11-02", Bucket::Day),
            &logged,
            &Goals::default(),
        );
        assert_eq!(days.iter().map(|d| d.days_logged).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(days[0].metric(Measure::Calories).sum, 1000.0);
    }
}
