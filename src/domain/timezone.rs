//! A user's time zone: an IANA name from the tz database (`Asia/Kolkata`, `America/New_York`,
//! `UTC`), which follows the zone's daylight-saving rules. Fixed offsets (`GMT+4`, `Etc/GMT-5`) are
//! refused: they look like a zone but drift from the user's clock twice a year.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeZone(Tz);

pub const TIMEZONE_RULE: &str =
    "Timezone must be an IANA time zone name such as Asia/Kolkata, America/New_York or UTC (not a fixed offset)";

impl TimeZone {
    pub const UTC: TimeZone = TimeZone(Tz::UTC);

    /// An IANA name, in any case (stored as the database spells it).
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        let zone = Tz::from_str(name)
            .or_else(|_| Tz::from_str_insensitive(name))
            .map_err(|_| TIMEZONE_RULE.to_owned())?;
        if is_fixed_offset(zone.name()) {
            return Err(TIMEZONE_RULE.to_owned());
        }
        Ok(Self(zone))
    }

    /// A name read back from storage; `None` (served as the default) if it is not a zone any more.
    pub fn from_stored(name: &str) -> Option<Self> {
        Self::parse(name).ok()
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    pub fn zone(&self) -> Tz {
        self.0
    }

    /// Every name `parse` accepts, as the tz database spells them (for the API documentation).
    pub fn names() -> impl Iterator<Item = &'static str> {
        chrono_tz::TZ_VARIANTS
            .iter()
            .map(|zone| zone.name())
            .filter(|name| !is_fixed_offset(name))
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The tz database's fixed-offset entries: `Etc/GMT+4` (whose sign is inverted, too), `GMT-0`, and
/// the old US abbreviations without daylight saving (`EST`, `MST`, `HST`). `UTC`/`GMT` themselves
/// are fine: they are what they say.
fn is_fixed_offset(name: &str) -> bool {
    let gmt_offset = |rest: &str| rest.starts_with(['+', '-']) || rest.starts_with(|c: char| c.is_ascii_digit());
    name.strip_prefix("Etc/GMT").is_some_and(gmt_offset)
        || name.strip_prefix("GMT").is_some_and(gmt_offset)
        || matches!(name, "EST" | "MST" | "HST")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_only() {
        for good in [
            "Asia/Kolkata",
            "America/New_York",
            "UTC",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "GMT",
        ] {
            assert_eq!(TimeZone::parse(good).map(|z| z.name()), Ok(good), "{good}");
        }
        assert_eq!(TimeZone::parse(" asia/kolkata ").map(|z| z.name()), Ok("Asia/Kolkata"));
        for bad in [
            "GMT+4",
            "Etc/GMT+4",
            "Etc/GMT-14",
            "GMT-0",
            "EST",
            "+05:30",
            "Mars/Olympus_Mons",
            "",
        ] {
            assert!(TimeZone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_documented_name_is_accepted() {
        let names: Vec<&str> = TimeZone::names().collect();
        assert!(names.len() > 300 && names.contains(&"Asia/Kolkata") && !names.contains(&"Etc/GMT+4"));
        for name in names {
            assert_eq!(TimeZone::parse(name).map(|zone| zone.name()), Ok(name));
        }
    }
}
