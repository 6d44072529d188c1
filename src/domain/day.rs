//! Calendar days. An entry belongs to one UTC calendar day and is returned as that day's UTC
//! midnight (`2026-11-28T00:00:00.000Z`); the old backend used the server's local midnight, which
//! made the same day differ between servers.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Day(NaiveDate);

impl Day {
    pub fn today() -> Self {
        Self(Utc::now().date_naive())
    }

    pub const fn from_date(date: NaiveDate) -> Self {
        Self(date)
    }

    pub const fn date(&self) -> NaiveDate {
        self.0
    }

    /// `YYYY-MM-DD`, or any RFC 3339 timestamp (its UTC date).
    pub fn parse(input: &str) -> Option<Self> {
        let input = input.trim();
        if input.len() == 10 {
            return Self::parse_ymd(input);
        }
        DateTime::parse_from_rfc3339(input)
            .ok()
            .map(|t| Self(t.with_timezone(&Utc).date_naive()))
    }

    /// Exactly `YYYY-MM-DD` (query parameters): four, two and two ASCII digits.
    pub fn parse_ymd(input: &str) -> Option<Self> {
        let b = input.as_bytes();
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return None;
        }
        NaiveDate::parse_from_str(input, "%Y-%m-%d").ok().map(Self)
    }

    /// The day `n` days earlier.
    pub fn minus_days(&self, n: u64) -> Self {
        Self(self.0.checked_sub_days(chrono::Days::new(n)).unwrap_or(NaiveDate::MIN))
    }

    /// The day's UTC midnight.
    pub fn midnight_utc(&self) -> DateTime<Utc> {
        self.0.and_time(chrono::NaiveTime::MIN).and_utc()
    }

    /// The wire form: UTC midnight with milliseconds, as JavaScript's `Date#toISOString` writes it.
    pub fn to_iso_midnight(&self) -> String {
        format_timestamp(self.midnight_utc())
    }

    /// `YYYY-MM-DD`.
    pub fn to_ymd(&self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// A timestamp as JavaScript's `Date#toISOString` writes it (millisecond precision, `Z`).
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_days_and_timestamps() {
        let day = Day::parse("2026-11-28").map(|d| d.to_iso_midnight());
        assert_eq!(day.as_deref(), Some("2026-11-28T00:00:00.000Z"));
        // A local-time timestamp counts for its UTC day.
        assert_eq!(
            Day::parse("2026-11-28T23:30:00-02:00").map(|d| d.to_ymd()).as_deref(),
            Some("2026-11-29")
        );
        assert_eq!(
            Day::parse("2026-11-28T00:00:00.000Z").map(|d| d.to_ymd()).as_deref(),
            Some("2026-11-28")
        );
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
        ] {
            assert!(Day::parse(bad).is_none(), "{bad}");
        }
    }
}
