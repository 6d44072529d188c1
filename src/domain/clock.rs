//! What time it is, for the one question the calendar asks: which day is "today" for a user. The
//! server reads the system clock; tests set a clock of their own to stand on a daylight-saving
//! change or beside the date line without waiting for one. Token lifetimes and record timestamps
//! keep the system clock: other machines check them against theirs.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::day::Day;
use super::timezone::TimeZone;

#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands at `at` until it is [`set`](Self::set) again.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(Mutex::new(at))))
    }

    /// Moves a fixed clock (and every copy of it); a system clock ignores it.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(fixed) = &self.0 {
            *fixed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = at;
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(fixed) => *fixed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    /// The calendar day it is in `zone` now.
    pub fn today_in(&self, zone: TimeZone) -> Day {
        Day::at(self.now(), zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_set() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .expect("time")
        };
        let clock = Clock::fixed(at("2026-03-08T06:59:59Z"));
        let copy = clock.clone();
        let new_york = TimeZone::parse("America/New_York").expect("zone");
        assert_eq!(copy.today_in(new_york).to_ymd(), "2026-03-08");
        clock.set(at("2026-03-09T03:59:59Z"));
        assert_eq!(copy.today_in(new_york).to_ymd(), "2026-03-08");
        clock.set(at("2026-03-09T04:00:00Z"));
        assert_eq!(copy.today_in(new_york).to_ymd(), "2026-03-09");
        assert!((Clock::system().now() - Utc::now()).num_seconds().abs() < 5);
    }
}
