//! Reading timestamps that Mem0 (any version) or this plugin stored as text.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Parses a stored timestamp: RFC 3339 with any offset (Mem0 ≥1.0.7 writes UTC, older versions
/// US/Pacific), or a naive ISO 8601 / SQLite `YYYY-MM-DD HH:MM:SS[.f]` read as UTC.
pub fn parse_stored_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Some(at.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%:z"]
        .iter()
        .find_map(|format| {
            DateTime::parse_from_str(raw, format)
                .map(|at| at.with_timezone(&Utc))
                .ok()
                .or_else(|| NaiveDateTime::parse_from_str(raw, format).ok().map(|naive| naive.and_utc()))
        })
}

/// Parses an expiration date: a timestamp as [`parse_stored_timestamp`] reads it, or a calendar
/// date `YYYY-MM-DD` (as Mem0 writes it), which expires when that day (UTC) is over.
pub fn parse_expiration(raw: &str) -> Option<DateTime<Utc>> {
    parse_stored_timestamp(raw).or_else(|| {
        chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|day| day.succ_opt())
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .map(|midnight| midnight.and_utc())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn mem0_formats_parse_to_utc() {
        let utc = Utc.with_ymd_and_hms(2026, 11, 26, 11, 25, 56).unwrap();
        assert_eq!(parse_stored_timestamp("2026-11-26T11:25:56+00:00"), Some(utc));
        assert_eq!(parse_stored_timestamp("2026-11-26T03:25:56-08:00"), Some(utc));
        assert_eq!(parse_stored_timestamp("2026-11-26 11:25:56"), Some(utc));
        assert_eq!(parse_stored_timestamp("2026-11-26T11:25:56"), Some(utc));
        let micros = parse_stored_timestamp("2026-11-26T11:25:56.565713+00:00").unwrap();
        assert_eq!(micros.timestamp_subsec_micros(), 565_713);
        assert_eq!(parse_stored_timestamp("yesterday"), None);
    }

    #[test]
    fn an_expiration_date_lasts_the_whole_day() {
        assert_eq!(parse_expiration("2026-11-26"), Some(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap()));
        assert_eq!(
            parse_expiration("2026-11-26T10:00:00Z"),
            Some(Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap())
        );
        assert_eq!(parse_expiration("soon"), None);
    }
}
