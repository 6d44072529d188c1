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
use super::entry::{Measures, Mood};
use super::goals::{Goals, GoalsMet};

/// What the trends need of one logged day: its trend measures (the others are left unrecorded).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayFigures {
    pub day: Day,
    pub workouts: bool,
    pub mood: Mood,
    pub measures: Measures,
}

/// A logged day, as the streaks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggedDay {
    pub day: Day,
    pub workouts: bool,
    /// The goals the day met (of the goals the streaks are asked about).
    pub goals_met: GoalsMet,
}

impl DayFigures {
    /// The day as the streaks see it, with the goals of `goals` it met.
    pub fn logged(&self, goals: &Goals) -> LoggedDay {
        LoggedDay {
            day: self.day,
            workouts: self.workouts,
            goals_met: goals.met(&self.measures),
        }
    }
}
