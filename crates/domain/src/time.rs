//! Time formats of contract §6.2: RFC 3339 in UTC with `Z`; `eventTime` with seven fractional digits as in the seed.

use chrono::{DateTime, SecondsFormat, Utc};

/// `2020-05-13T09:33:16.8811358Z`: seven fractional digits (100 ns), as the seed's payload shows.
pub fn format_event_time(t: DateTime<Utc>) -> String {
    let base = t.format("%Y-%m-%dT%H:%M:%S");
    let ticks = t.timestamp_subsec_nanos() / 100;
    format!("{base}.{ticks:07}Z")
}

/// RFC 3339 with `Z` and whole seconds, for API models (`created`, `modified`, ...).
pub fn format_api_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// RFC 3339 with milliseconds, for log records, where attempts a few milliseconds apart must stay distinguishable.
pub fn format_log_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses RFC 3339 with any offset and returns it in UTC.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Microseconds since the Unix epoch: how the store keeps instants (the same on every backend).
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_has_seven_fractional_digits() {
        let t = parse_rfc3339("2020-05-13T09:33:16.8811358Z").unwrap();
        assert_eq!(format_event_time(t), "2020-05-13T09:33:16.8811358Z");
        let t = parse_rfc3339("2020-05-13T10:33:16+01:00").unwrap();
        assert_eq!(format_event_time(t), "2020-05-13T09:33:16.0000000Z");
    }

    #[test]
    fn api_time_is_utc_with_z() {
        let t = parse_rfc3339("2026-01-01T01:00:00.123+01:00").unwrap();
        assert_eq!(format_api_time(t), "2026-01-01T00:00:00Z");
        assert_eq!(format_log_time(t), "2026-01-01T00:00:00.123Z");
    }
}
