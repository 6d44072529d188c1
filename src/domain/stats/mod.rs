//! Trends: a user's days summed up per day, ISO week or calendar month, and their streaks. The
//! rules live here once; each backend only reads the day figures of a range (one indexed scan) and
//! every bucket is made in one pass over them.

mod buckets;
mod query;
mod streaks;

pub use self::buckets::{BucketStats, Metric, buckets};
pub use self::query::{Bucket, StatsQuery};
pub use self::streaks::{Streaks, streaks};
pub use super::entry::MoodCounts;

use super::day::Day;
use super::entry::Mood;

/// What the trends need of one logged day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayFigures {
    pub day: Day,
    pub calories: i64,
    pub sleep: f64,
    pub workouts: bool,
    pub heart_rate: i64,
    pub steps: i64,
    pub water_intake: f64,
    pub mood: Mood,
}

/// A logged day, as the streaks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggedDay {
    pub day: Day,
    pub workouts: bool,
}
