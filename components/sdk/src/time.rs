//! Instants as the contract carries them: microseconds since the Unix epoch, UTC.

use crate::types::Timestamp;
use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 time with an offset (`2020-01-23T13:00:38.7425926Z`). Times without an
/// offset are refused here: which zone they are in is the source's business (Altinn 2 uses
/// Europe/Oslo), never a silent UTC.
pub fn parse_instant(s: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .map_err(|e| format!("`{s}` is not an RFC 3339 time with an offset: {e}"))
}

/// Formats an instant as RFC 3339 UTC with microseconds, e.g. `2020-01-23T13:00:38.742592Z`.
pub fn format_instant(t: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_micros(t)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_microseconds_and_converts_offsets() {
        let t = parse_instant("2020-01-23T13:00:38.7425926Z").unwrap();
        assert_eq!(format_instant(t), "2020-01-23T13:00:38.742592Z");
        assert_eq!(format_instant(parse_instant("2025-03-30T03:30:00+02:00").unwrap()), "2025-03-30T01:30:00Z");
        assert!(parse_instant("2025-03-30T03:30:00").is_err());
    }
}
