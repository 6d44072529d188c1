//! `GET /entries/stats` query: a day range (default the last 28 days ending today) and a bucket size.

use serde::Serialize;
use serde_json::Value;

use crate::domain::day::Day;
use crate::domain::validation::{FieldError, Problems};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl Bucket {
    pub const ALL: [Bucket; 3] = [Bucket::Day, Bucket::Week, Bucket::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatsQuery {
    pub from: Day,
    pub to: Day,
    pub bucket: Bucket,
}

impl StatsQuery {
    pub const DEFAULT_DAYS: u64 = 28;
    pub const MAX_DAYS: i64 = 3660;
    pub const DEFAULT_BUCKET: Bucket = Bucket::Week;

    /// `to` defaults to `today` (the user's), `from` to the 28 days ending on `to`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        bucket: Option<&str>,
        today: Day,
    ) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::new();
        let (from_day, to_day) = (problems.query_day("from", from), problems.query_day("to", to));
        let bucket = match bucket {
            None => Some(Self::DEFAULT_BUCKET),
            Some(raw) => {
                let bucket = Bucket::parse(raw);
                if bucket.is_none() {
                    problems.add(
                        "bucket",
                        "bucket must be one of: day, week, month",
                        Some(&Value::from(raw)),
                    );
                }
                bucket
            }
        };
        // A day that failed to parse is reported above; the range rules need both days.
        let to = match to_day {
            None => Some(today),
            Some(parsed) => parsed,
        };
        let from = match from_day {
            None => to.map(|to| to.minus_days(Self::DEFAULT_DAYS - 1)),
            Some(parsed) => parsed,
        };
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                problems.add("from", "from must not be after to", Some(&Value::from(from.to_ymd())));
            } else if to.days_since(from) + 1 > Self::MAX_DAYS {
                problems.add(
                    "from",
                    format!("The range may cover at most {} days", Self::MAX_DAYS),
                    Some(&Value::from(from.to_ymd())),
                );
            }
        }
        match (from, to, bucket) {
            (Some(from), Some(to), Some(bucket)) => problems.finish(|| Self { from, to, bucket }),
            _ => Err(problems.into_vec()),
        }
    }

    /// Days in the range, both ends included.
    pub fn days(&self) -> i64 {
        self.to.days_since(self.from) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        Day::parse_ymd(s).expect("a day")
    }

    fn paths(result: Result<StatsQuery, Vec<FieldError>>) -> Vec<String> {
        result.err().unwrap_or_default().into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn defaults_are_the_last_28_days_by_week() {
        let today = day("2026-12-01");
        let query = StatsQuery::parse(None, None, None, today).expect("defaults");
        assert_eq!(
            (query.from, query.to, query.bucket),
            (day("2026-11-04"), today, Bucket::Week)
        );
        assert_eq!(query.days(), 28);
        // Only `to`: the 28 days ending there. Only `from`: up to today.
        let query = StatsQuery::parse(None, Some("2026-02-28"), Some("day"), today).expect("to only");
        assert_eq!((query.from, query.to), (day("2026-02-01"), day("2026-02-28")));
        let query = StatsQuery::parse(Some("2026-11-30"), None, Some("month"), today).expect("from only");
        assert_eq!(
            (query.from, query.to, query.bucket),
            (day("2026-11-30"), today, Bucket::Month)
        );
    }

    #[test]
    fn bad_queries_name_each_parameter() {
        let today = day("2026-12-01");
        assert_eq!(
            paths(StatsQuery::parse(Some("2026-13-01"), None, None, today)),
            ["from"]
        );
        assert_eq!(
            paths(StatsQuery::parse(None, Some("yesterday"), Some("year"), today)),
            ["to", "bucket"]
        );
        assert_eq!(
            paths(StatsQuery::parse(Some("2026-12-02"), Some("2026-12-01"), None, today)),
            ["from"]
        );
        // After today, with no `to`: an empty range, refused the same way.
        assert_eq!(
            paths(StatsQuery::parse(Some("2026-12-02"), None, None, today)),
            ["from"]
        );
        assert_eq!(paths(StatsQuery::parse(None, None, Some("WEEK"), today)), ["bucket"]);
    }

    #[test]
    fn at_most_3660_days() {
        let today = day("2026-12-01");
        let longest = StatsQuery::parse(Some("2016-11-24"), Some("2026-12-01"), None, today).expect("3660 days");
        assert_eq!(longest.days(), 3660);
        assert_eq!(
            paths(StatsQuery::parse(Some("2016-11-23"), Some("2026-12-01"), None, today)),
            ["from"]
        );
        let one = StatsQuery::parse(Some("2026-12-01"), Some("2026-12-01"), Some("day"), today).expect("one day");
        assert_eq!(one.days(), 1);
    }
}
