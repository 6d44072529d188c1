//! The export's timestamps: `2024-06-01 23:30:00 -0700` (local time and its offset).

use chrono::{DateTime, NaiveDate};

/// Seconds since the Unix epoch, or `None` when `text` is not such a timestamp.
pub fn parse_timestamp(text: &[u8]) -> Option<i64> {
    // The export's one layout, read by position: it is parsed for every record.
    let t = trim(text);
    if t.len() == 25 && t[4] == b'-' && t[7] == b'-' && t[10] == b' ' && t[13] == b':' && t[16] == b':' && t[19] == b' '
    {
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            t[range]
                .iter()
                .try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
        };
        let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
        let local = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
        let sign = match t[20] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (hours, minutes) = (num(21..23)?, num(23..25)?);
        if minutes >= 60 {
            return None;
        }
        let offset = sign * i64::from(hours * 3600 + minutes * 60);
        return Some(local.and_utc().timestamp() - offset);
    }
    // Anything else a reader may meet: RFC 3339, or the same layout with a colon in the offset.
    let text = std::str::from_utf8(t).ok()?;
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %:z"))
        .ok()
        .map(|instant| instant.timestamp())
}

fn trim(text: &[u8]) -> &[u8] {
    text.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone as _, Utc};

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .map(|t| t.timestamp())
            .unwrap_or_default()
    }

    #[test]
    fn the_exports_layout_with_its_offset() {
        // 23:30 at -07:00 is 06:30 UTC the next day.
        assert_eq!(
            parse_timestamp(b"2024-06-01 23:30:00 -0700"),
            Some(utc(2024, 6, 2, 6, 30))
        );
        assert_eq!(
            parse_timestamp(b"2024-06-01 08:00:00 +0530"),
            Some(utc(2024, 6, 1, 2, 30))
        );
        assert_eq!(
            parse_timestamp(b"2024-01-01 00:00:00 +0000"),
            Some(utc(2024, 1, 1, 0, 0))
        );
    }

    #[test]
    fn other_spellings_readers_meet() {
        assert_eq!(
            parse_timestamp(b"2024-06-01T23:30:00-07:00"),
            Some(utc(2024, 6, 2, 6, 30))
        );
        assert_eq!(
            parse_timestamp(b"2024-06-01 23:30:00 -07:00"),
            Some(utc(2024, 6, 2, 6, 30))
        );
    }

    #[test]
    fn nonsense_is_none() {
        for bad in [
            &b""[..],
            b"yesterday",
            b"2024-13-01 00:00:00 -0700",
            b"2024-02-30 00:00:00 -0700",
            b"2024-06-01 24:00:00 -0700",
            b"2024-06-01 23:30:00 *0700",
            b"2024-06-01 23:30:00 -0790",
            b"2O24-06-01 23:30:00 -0700",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
