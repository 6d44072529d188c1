//! `GET /entries` query: an optional day range and a page size.

use crate::domain::day::Day;
use crate::domain::validation::{FieldError, Problems};

/// `GET /entries` query: an optional day range and a page size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntryRange {
    pub from: Option<Day>,
    pub to: Option<Day>,
    pub limit: u32,
}

impl EntryRange {
    pub const DEFAULT_LIMIT: u32 = 30;
    pub const MAX_LIMIT: u32 = 366;

    pub fn parse(from: Option<&str>, to: Option<&str>, limit: Option<&str>) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::new();
        let from_day = problems.query_day("from", from).flatten();
        let to_day = problems.query_day("to", to).flatten();
        let limit = problems
            .query_count("limit", limit, Self::MAX_LIMIT)
            .flatten()
            .unwrap_or(Self::DEFAULT_LIMIT);
        problems.finish(|| Self {
            from: from_day,
            to: to_day,
            limit,
        })
    }

    /// The last `days` days up to and including `today`.
    pub fn last_days(today: Day, days: u64) -> Self {
        Self {
            from: Some(today.minus_days(days.saturating_sub(1))),
            to: Some(today),
            limit: days as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_query_rules() {
        assert_eq!(EntryRange::parse(None, None, None).map(|r| r.limit), Ok(30));
        // An empty range is not an error: it just has no entries.
        assert!(EntryRange::parse(Some("2026-11-30"), Some("2026-11-01"), None).is_ok());
        assert!(EntryRange::parse(None, None, Some("0")).is_err());
        assert!(EntryRange::parse(None, None, Some("367")).is_err());
        assert!(EntryRange::parse(Some("yesterday"), None, None).is_err());
    }
}
