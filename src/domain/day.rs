//! Calendar days. An entry belongs to one calendar day and is returned as that day's UTC midnight
//! (`2026-11-28T00:00:00.000Z`); the old backend used the server's local midnight, which made the
//! same day differ between servers. Which day a moment falls on is the user's time zone's business
//! ([`TimeZone`]).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, SecondsFormat, Utc};

use super::timezone::TimeZone;

/// A calendar day. Every day a client sends, and every day the server works out, lies in
/// [`Day::MIN`]..=[`Day::MAX`] (the years a `YYYY-MM-DD` can spell); only a day read back from a
/// row stored by an older version, which let others in, can lie outside ([`Day::from_stored`]).
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

    /// Whether the day lies in [`Day::MIN`]..=[`Day::MAX`], the only days that are accepted.
    pub fn is_in_range(&self) -> bool {
        (Self::MIN..=Self::MAX).contains(self)
    }

    /// A day as a store wrote it (`YYYY-MM-DD`), including the signed years (`-0001-12-31`,
    /// `+10000-01-01`) and year 0 that an older version let in: such a row is still served (and
    /// `migrate` reports it), never a failure of every read of the account.
    pub fn from_stored(text: &str) -> Option<Self> {
        Self::parse_ymd(text).or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(Self))
    }

    pub const fn date(&self) -> NaiveDate {
        self.0
    }

    /// The calendar day it is in `zone` at `instant`.
    pub fn at(instant: DateTime<Utc>, zone: TimeZone) -> Self {
        Self(instant.with_timezone(&zone.zone()).date_naive())
    }

    /// `YYYY-MM-DD`, or an RFC 3339 timestamp: the day it falls on in `zone`. A timestamp at exactly
    /// UTC midnight written with `Z` or `+00:00` is the wire form of a day (what this API returns as
    /// an entry's `date`) and stands for that day, so a client that sends a date it was given back
    /// does not move the entry a day west of Greenwich. Any other offset says where the moment was
    /// written, not which day is meant (`2026-01-15T19:00:00-05:00` is midnight UTC, and still the
    /// 15th in New York), so it is placed in `zone` like any other moment. `None` unless the day
    /// lies in [`Day::MIN`]..=[`Day::MAX`] once placed.
    pub fn parse_in(input: &str, zone: TimeZone) -> Option<Self> {
        let input = input.trim();
        if input.len() == 10 {
            return Self::parse_ymd(input);
        }
        let instant = DateTime::parse_from_rfc3339(input).ok()?.with_timezone(&Utc);
        let day = if instant.time() == NaiveTime::MIN && is_utc_designator(input) {
            Self(instant.date_naive())
        } else {
            Self::at(instant, zone)
        };
        day.is_in_range().then_some(day)
    }

    /// Exactly `YYYY-MM-DD` (query parameters, stored days) of a day in [`Day::MIN`]..=
    /// [`Day::MAX`]: four, two and two ASCII digits, year 0 refused. Read by hand: chrono's
    /// format-string parser was a fifth of a trends request that reads a year of stored days.
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
        if year == 0 {
            return None;
        }
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day).map(Self)
    }

    /// The day `n` days later ([`Day::MAX`], past it).
    pub fn plus_days(&self, n: u64) -> Self {
        self.0
            .checked_add_days(chrono::Days::new(n))
            .map_or(Self::MAX, Self)
            .min(Self::MAX)
    }

    /// Days from `earlier` to this day (negative when `earlier` is later).
    pub fn days_since(&self, earlier: Day) -> i64 {
        (self.0 - earlier.0).num_days()
    }

    /// The day `n` days earlier ([`Day::MIN`], before it).
    pub fn minus_days(&self, n: u64) -> Self {
        self.0
            .checked_sub_days(chrono::Days::new(n))
            .map_or(Self::MIN, Self)
            .max(Self::MIN)
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

/// Whether an RFC 3339 timestamp is written in UTC itself: `Z` (either case) or `+00:00`. (`-00:00`
/// is RFC 3339's "the offset to local time is unknown", and any other offset names a place.)
fn is_utc_designator(timestamp: &str) -> bool {
    timestamp.ends_with(['Z', 'z']) || timestamp.ends_with("+00:00")
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
    fn the_day_follows_the_zone() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T20:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let day = |name: &str| Day::at(now, zone(name)).to_ymd();
        assert_eq!(day("Asia/Kolkata"), "2026-12-01");
        assert_eq!(day("UTC"), "2026-11-30");
        assert_eq!(day("Pacific/Pago_Pago"), "2026-11-30");
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
        assert_eq!(
            day_in("2026-11-28T00:00:00.000+00:00", "America/New_York").as_deref(),
            Some("2026-11-28")
        );
        assert_eq!(
            day_in("2026-11-28T00:00:00z", "America/New_York").as_deref(),
            Some("2026-11-28")
        );
    }

    #[test]
    fn utc_midnight_written_with_another_offset_is_placed_in_the_zone() {
        // 19:00 in New York is 00:00 UTC the next day: still the 15th there.
        assert_eq!(
            day_in("2026-01-15T19:00:00-05:00", "America/New_York").as_deref(),
            Some("2026-01-15")
        );
        assert_eq!(
            day_in("2026-01-15T19:00:00-05:00", "UTC").as_deref(),
            Some("2026-01-16")
        );
        // RFC 3339's "-00:00" (offset unknown) is not the API's form either.
        assert_eq!(
            day_in("2026-01-16T00:00:00-00:00", "America/New_York").as_deref(),
            Some("2026-01-15")
        );
        assert_eq!(
            day_in("2026-01-16T05:30:00+05:30", "Asia/Kolkata").as_deref(),
            Some("2026-01-16")
        );
        assert_eq!(
            day_in("2026-01-16T05:30:00+05:30", "America/New_York").as_deref(),
            Some("2026-01-15")
        );
    }

    #[test]
    fn only_years_1_to_9999_once_placed() {
        for (input, zone) in [
            ("0000-01-01T00:30:00+01:00", "UTC"),
            ("9999-12-31T23:30:00-01:00", "UTC"),
            ("9999-12-31T12:00:00Z", "Pacific/Kiritimati"),
            ("0001-01-01T03:00:00Z", "America/New_York"),
            ("0000-12-31", "UTC"),
            ("0000-12-31T00:00:00Z", "UTC"),
        ] {
            assert_eq!(day_in(input, zone), None, "{input} in {zone}");
        }
        for (input, zone, day) in [
            ("0001-01-01", "UTC", "0001-01-01"),
            ("9999-12-31", "Pacific/Kiritimati", "9999-12-31"),
            ("9999-12-31T09:59:59Z", "Pacific/Kiritimati", "9999-12-31"),
            ("0001-01-01T11:00:00Z", "America/New_York", "0001-01-01"),
            ("0001-01-01T00:00:00Z", "America/New_York", "0001-01-01"),
        ] {
            assert_eq!(day_in(input, zone).as_deref(), Some(day), "{input} in {zone}");
        }
        assert_eq!(Day::parse_ymd("0000-06-01"), None);
    }

    #[test]
    fn arithmetic_stays_within_the_years() {
        assert_eq!(Day::MAX.plus_days(1), Day::MAX);
        assert_eq!(Day::MAX.minus_days(1).plus_days(5), Day::MAX);
        assert_eq!(Day::MIN.minus_days(1), Day::MIN);
        assert_eq!(Day::MIN.plus_days(1).minus_days(u64::MAX), Day::MIN);
        assert!(Day::MIN.is_in_range() && Day::MAX.is_in_range());
    }

    #[test]
    fn stored_days_outside_the_years_still_read() {
        for text in ["-0001-12-31", "+10000-01-01", "0000-06-01"] {
            let day = Day::from_stored(text).expect(text);
            assert!(!day.is_in_range(), "{text}");
            assert_eq!(day.to_ymd(), text);
        }
        assert_eq!(
            Day::from_stored("-0001-12-31").map(|d| d.to_iso_midnight()).as_deref(),
            Some("-0001-12-31T00:00:00.000Z")
        );
        assert_eq!(Day::from_stored("2026-11-28"), Day::parse_ymd("2026-11-28"));
        assert_eq!(Day::from_stored("2026-11-31"), None);
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
