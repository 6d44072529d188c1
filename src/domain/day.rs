//! Calendar days. An entry belongs to one calendar day and is returned as that day's UTC midnight
//! (`2026-11-28T00:00:00.000Z`); the old backend used the server's local midnight, which made the
//! same day differ between servers. Which day a moment falls on is the user's time zone's business
//! ([`TimeZone`]).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, SecondsFormat, Utc};

use super::timezone::TimeZone;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Day(NaiveDate);

impl Day {
    /// The first and last day an entry may have (API.md: years 0001–9999).
    pub const MIN: Day = Day(match NaiveDate::from_ymd_opt(1, 1, 1) {
        Some(date) => date,
        None => panic!("0001-01-01 is a date"),
    });
    pub const MAX: Day = Day(match NaiveDate::from_ymd_opt(9999, 12, 31) {
        Some(date) => date,
        None => panic!("9999-12-31 is a date"),
    });

    pub const fn from_date(date: NaiveDate) -> Self {
        Self(date)
    }

    pub const fn date(&self) -> NaiveDate {
        self.0
    }

    /// `YYYY-MM-DD`, or an RFC 3339 timestamp: the day it falls on in `zone`. A timestamp at exactly
    /// UTC midnight is the wire form of a day (what this API returns as an entry's `date`) and
    /// stands for that day, so a client that sends a date it was given back does not move the
    /// entry a day west of Greenwich.
    pub fn parse_in(input: &str, zone: TimeZone) -> Option<Self> {
        let input = input.trim();
        if input.len() == 10 {
            return Self::parse_ymd(input);
        }
        let instant = DateTime::parse_from_rfc3339(input).ok()?.with_timezone(&Utc);
        if instant.time() == NaiveTime::MIN {
            return Some(Self(instant.date_naive()));
        }
        Some(zone.day_at(instant))
    }

    /// Exactly `YYYY-MM-DD` (query parameters, stored days): four, two and two ASCII digits. Read
    /// by hand: chrono's format-string parser was a fifth of a trends request that reads a year of
    /// stored days.
    pub fn parse_ymd(input: &str) -> Option<Self> {
        let b = input.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let number = |digits: &[u8]| {
            digits
                .iter()
                .try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
        };
        let (year, month, day) = (number(&b[0..4])?, number(&b[5..7])?, number(&b[8..10])?);
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day).map(Self)
    }

    /// The day `n` days later (the last day there is, past it).
    pub fn plus_days(&self, n: u64) -> Self {
        Self(self.0.checked_add_days(chrono::Days::new(n)).unwrap_or(NaiveDate::MAX))
    }

    /// Days from `earlier` to this day (negative when `earlier` is later).
    pub fn days_since(&self, earlier: Day) -> i64 {
        (self.0 - earlier.0).num_days()
    }

    /// The day `n` days earlier.
    pub fn minus_days(&self, n: u64) -> Self {
        Self(self.0.checked_sub_days(chrono::Days::new(n)).unwrap_or(NaiveDate::MIN))
    }

    /// The day's UTC midnight.
    pub fn midnight_utc(&self) -> DateTime<Utc> {
        self.0.and_time(NaiveTime::MIN).and_utc()
    }

    /// The wire form: UTC midnight with milliseconds, as JavaScript's `Date#toISOString` writes it.
    pub fn to_iso_midnight(&self) -> String {
        format_timestamp(self.midnight_utc())
    }

    /// `YYYY-MM-DD` (years 0 to 9999, the only ones a day can be parsed from).
    pub fn to_ymd(&self) -> String {
        let (year, month, day) = (self.0.year(), self.0.month(), self.0.day());
        if !(0..=9999).contains(&year) {
            return self.0.format("%Y-%m-%d").to_string();
        }
        let mut out = String::with_capacity(10);
        for (value, width) in [(year as u32, 4), (month, 2), (day, 2)] {
            if !out.is_empty() {
                out.push('-');
            }
            for place in (0..width).rev() {
                out.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
            }
        }
        out
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_ymd())
    }
}

/// A timestamp as JavaScript's `Date#toISOString` writes it (millisecond precision, `Z`).
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::parse(name).expect("zone")
    }

    fn day_in(input: &str, name: &str) -> Option<String> {
        Day::parse_in(input, zone(name)).map(|d| d.to_ymd())
    }

    #[test]
    fn accepts_plain_days_and_timestamps() {
        let day = Day::parse_in("2026-11-28", TimeZone::UTC).map(|d| d.to_iso_midnight());
        assert_eq!(day.as_deref(), Some("2026-11-28T00:00:00.000Z"));
        // A plain day is that day in every zone.
        assert_eq!(
            day_in("2026-11-28", "Pacific/Kiritimati").as_deref(),
            Some("2026-11-28")
        );
        assert_eq!(day_in("2026-11-28", "Pacific/Pago_Pago").as_deref(), Some("2026-11-28"));
    }

    #[test]
    fn a_timestamp_lands_on_the_users_day() {
        // 23:30 at UTC-2 is 01:30 UTC the next day, and 20:30 in New York the same evening.
        assert_eq!(
            day_in("2026-11-28T23:30:00-02:00", "UTC").as_deref(),
            Some("2026-11-29")
        );
        assert_eq!(
            day_in("2026-11-28T23:30:00-02:00", "America/New_York").as_deref(),
            Some("2026-11-28")
        );
        // 19:00 UTC is already tomorrow at UTC+14 and still today at UTC-11.
        assert_eq!(
            day_in("2026-11-28T19:00:00Z", "Pacific/Kiritimati").as_deref(),
            Some("2026-11-29")
        );
        assert_eq!(
            day_in("2026-11-28T09:00:00Z", "Pacific/Pago_Pago").as_deref(),
            Some("2026-11-27")
        );
        // India, before 05:30: the new day there, the old one in UTC.
        assert_eq!(
            day_in("2026-11-28T20:00:00Z", "Asia/Kolkata").as_deref(),
            Some("2026-11-29")
        );
    }

    #[test]
    fn a_days_own_wire_form_stays_that_day() {
        for name in ["UTC", "America/Los_Angeles", "Pacific/Pago_Pago", "Pacific/Kiritimati"] {
            assert_eq!(
                day_in("2026-11-28T00:00:00.000Z", name).as_deref(),
                Some("2026-11-28"),
                "{name}"
            );
            assert_eq!(
                day_in("2026-11-28T00:00:00Z", name).as_deref(),
                Some("2026-11-28"),
                "{name}"
            );
        }
        // Midnight in another offset is a moment like any other.
        assert_eq!(
            day_in("2026-11-28T00:00:00+01:00", "UTC").as_deref(),
            Some("2026-11-27")
        );
    }

    #[test]
    fn daylight_saving_changes() {
        // New York springs forward on 2026-03-08 (02:00 EST → 03:00 EDT) and falls back on
        // 2026-11-01 (02:00 EDT → 01:00 EST): the day still ends at the zone's midnight.
        assert_eq!(
            day_in("2026-03-09T03:59:59Z", "America/New_York").as_deref(),
            Some("2026-03-08")
        );
        assert_eq!(
            day_in("2026-03-09T04:00:00Z", "America/New_York").as_deref(),
            Some("2026-03-09")
        );
        assert_eq!(
            day_in("2026-11-02T04:59:59Z", "America/New_York").as_deref(),
            Some("2026-11-01")
        );
        assert_eq!(
            day_in("2026-11-02T05:00:00Z", "America/New_York").as_deref(),
            Some("2026-11-02")
        );
    }

    #[test]
    fn days_read_and_write_as_yyyy_mm_dd() {
        for text in ["2026-11-28", "2028-02-29", "0001-01-01", "9999-12-31", "2026-01-09"] {
            assert_eq!(Day::parse_ymd(text).map(|d| d.to_ymd()).as_deref(), Some(text));
            assert_eq!(Day::parse_ymd(text).map(|d| d.to_string()).as_deref(), Some(text));
        }
    }

    #[test]
    fn refuses_impossible_dates() {
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "28/11/2026",
            "tomorrow",
            "",
            "2026-1-1",
            "+2026-1-01",
            "2026-1-011",
            "2027-02-29",
            "2026-00-10",
            "2026-11-00",
            "２０２６-11-28",
            "2026-11-2x",
            "-026-11-28",
        ] {
            assert!(Day::parse_in(bad, TimeZone::UTC).is_none(), "{bad}");
        }
    }
}
