//! Streaks: runs of consecutive calendar days, over the user's whole history (a streak does not
//! stop where the requested range does).

use serde::Serialize;

use super::LoggedDay;
use crate::domain::day::Day;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Streaks {
    /// Consecutive logged days ending today (0 when today is not logged yet).
    pub current_logging: u32,
    /// The longest run of consecutive logged days.
    pub longest_logging: u32,
    /// Consecutive days with a workout ending today.
    pub current_workout: u32,
    pub longest_workout: u32,
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

/// `days`: each logged day once, oldest first.
pub fn streaks(days: &[LoggedDay], today: Day) -> Streaks {
    let (mut logging, mut workout) = (Runs::default(), Runs::default());
    for logged in days {
        logging.add(logged.day, today);
        if logged.workouts {
            workout.add(logged.day, today);
        }
    }
    Streaks {
        current_logging: logging.current,
        longest_logging: logging.longest,
        current_workout: workout.current,
        longest_workout: workout.longest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(spec: &[(&str, bool)]) -> Vec<LoggedDay> {
        spec.iter()
            .map(|(day, workouts)| LoggedDay {
                day: Day::parse_ymd(day).expect("a day"),
                workouts: *workouts,
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
            streaks(&history, today()),
            Streaks {
                current_logging: 3,
                longest_logging: 4,
                current_workout: 1,
                longest_workout: 3
            }
        );
    }

    #[test]
    fn nothing_today_means_no_current_streak() {
        let history = days(&[("2026-02-27", true), ("2026-02-28", true), ("2026-03-01", true)]);
        let streaks = streaks(&history, today());
        assert_eq!((streaks.current_logging, streaks.longest_logging), (0, 3));
        assert_eq!((streaks.current_workout, streaks.longest_workout), (0, 3));
        assert_eq!(super::streaks(&[], today()), Streaks::default());
    }

    #[test]
    fn a_leap_day_is_a_day_of_the_run() {
        let history = days(&[("2028-02-28", false), ("2028-02-29", false), ("2028-03-01", false)]);
        let today = Day::parse_ymd("2028-03-01").expect("a day");
        assert_eq!(streaks(&history, today).current_logging, 3);
    }
}
