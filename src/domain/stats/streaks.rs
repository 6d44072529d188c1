//! Streaks: runs of consecutive calendar days, over the user's whole history (a streak does not
//! stop where the requested range does).

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::LoggedDay;
use crate::domain::day::Day;
use crate::domain::entry::Measure;
use crate::domain::goals::Goals;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streaks {
    /// Consecutive logged days ending today (0 when today is not logged yet).
    pub current_logging: u32,
    /// The longest run of consecutive logged days.
    pub longest_logging: u32,
    /// Consecutive days with a workout ending today.
    pub current_workout: u32,
    pub longest_workout: u32,
    /// Per goal set, the runs of days that met it: `(current, longest)`.
    pub goals: [Option<(u32, u32)>; Measure::COUNT],
}

impl Streaks {
    /// The runs of days that met the goal on `measure` (`None`: no such goal).
    pub fn goal(&self, measure: Measure) -> Option<(u32, u32)> {
        self.goals[measure as usize]
    }
}

crate::domain::entry::table_schema!(Streaks => "Streaks");

impl Serialize for Streaks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Runs([Option<(u32, u32)>; Measure::COUNT]);
        impl Serialize for Runs {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(None)?;
                for measure in Measure::goals() {
                    if let Some((current, longest)) = self.0[measure as usize] {
                        map.serialize_entry(
                            measure.name(),
                            &serde_json::json!({"current": current, "longest": longest}),
                        )?;
                    }
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("currentLogging", &self.current_logging)?;
        map.serialize_entry("longestLogging", &self.longest_logging)?;
        map.serialize_entry("currentWorkout", &self.current_workout)?;
        map.serialize_entry("longestWorkout", &self.longest_workout)?;
        map.serialize_entry("goals", &Runs(self.goals))?;
        map.end()
    }
}

/// Runs of consecutive days, as they are read oldest first.
#[derive(Default)]
struct Runs {
    last: Option<Day>,
    length: u32,
    longest: u32,
    current: u32,
}

impl Runs {
    fn add(&mut self, day: Day, today: Day) {
        self.length = match self.last {
            Some(last) if day.days_since(last) == 1 => self.length + 1,
            _ => 1,
        };
        self.last = Some(day);
        self.longest = self.longest.max(self.length);
        if day == today {
            self.current = self.length;
        }
    }
}

/// `days`: each logged day once, oldest first, with the goals it met (of `goals`).
pub fn streaks(days: &[LoggedDay], today: Day, goals: &Goals) -> Streaks {
    let (mut logging, mut workout) = (Runs::default(), Runs::default());
    let mut met: [Runs; Measure::COUNT] = Default::default();
    for logged in days {
        logging.add(logged.day, today);
        if logged.workouts {
            workout.add(logged.day, today);
        }
        for (measure, _) in goals.iter() {
            if logged.goals_met.contains(measure) {
                met[measure as usize].add(logged.day, today);
            }
        }
    }
    let mut goal_runs = [None; Measure::COUNT];
    for (measure, _) in goals.iter() {
        let runs = &met[measure as usize];
        goal_runs[measure as usize] = Some((runs.current, runs.longest));
    }
    Streaks {
        current_logging: logging.current,
        longest_logging: logging.longest,
        current_workout: workout.current,
        longest_workout: workout.longest,
        goals: goal_runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::goals::GoalsMet;

    fn days(spec: &[(&str, bool)]) -> Vec<LoggedDay> {
        spec.iter()
            .map(|(day, workouts)| LoggedDay {
                day: Day::parse_ymd(day).expect("a day"),
                workouts: *workouts,
                goals_met: GoalsMet::default(),
            })
            .collect()
    }

    fn today() -> Day {
        Day::parse_ymd("2026-03-02").expect("a day")
    }

    #[test]
    fn current_runs_end_today_and_longest_runs_anywhere() {
        let history = days(&[
            ("2026-02-20", true),
            ("2026-02-21", true),
            ("2026-02-22", true),
            ("2026-02-23", false),
            ("2026-02-25", true),
            // Across the end of February into March.
            ("2026-02-28", true),
            ("2026-03-01", false),
            ("2026-03-02", true),
        ]);
        assert_eq!(
            streaks(&history, today(), &Goals::default()),
            Streaks {
                current_logging: 3,
                longest_logging: 4,
                current_workout: 1,
                longest_workout: 3,
                goals: [None; Measure::COUNT],
            }
        );
    }

    #[test]
    fn nothing_today_means_no_current_streak() {
        let history = days(&[("2026-02-27", true), ("2026-02-28", true), ("2026-03-01", true)]);
        let streaks = streaks(&history, today(), &Goals::default());
        assert_eq!((streaks.current_logging, streaks.longest_logging), (0, 3));
        assert_eq!((streaks.current_workout, streaks.longest_workout), (0, 3));
        assert_eq!(super::streaks(&[], today(), &Goals::default()), Streaks::default());
    }

    #[test]
    fn a_leap_day_is_a_day_of_the_run() {
        let history = days(&[("2028-02-28", false), ("2028-02-29", false), ("2028-03-01", false)]);
        let today = Day::parse_ymd("2028-03-01").expect("a day");
        assert_eq!(streaks(&history, today, &Goals::default()).current_logging, 3);
    }
}
