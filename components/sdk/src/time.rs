//! Instants as the contract carries them: microseconds since the Unix epoch, UTC.

use crate::types::Timestamp;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Europe::Oslo;

/// Parses an RFC 3339 time with an offset (`2020-01-23T13:00:38.7425926Z`). Times without an
/// offset are refused here: which zone they are in is the source's business (Altinn 2 uses
/// Europe/Oslo), never a silent UTC.
pub fn parse_instant(s: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .map_err(|e| format!("`{s}` is not an RFC 3339 time with an offset: {e}"))
}

/// Parses an Altinn 2 time. Altinn 2 writes Norwegian wall time (Europe/Oslo) without an
/// offset; a time that does carry one (`Z`, `+01:00`) is taken as it says.
///
/// The rule for the hours DST makes odd (docs/sources/time.md):
/// - **missing hour** (last Sunday of March, 02:00–02:59 does not exist): read with the offset in
///   force before the gap, +01:00 — `02:30` is `01:30Z`, the instant a clock that missed the
///   change would have meant;
/// - **repeated hour** (last Sunday of October, 02:00–02:59 happens twice): the first
///   occurrence, +02:00 — `02:30` is `00:30Z`.
pub fn parse_oslo(s: &str) -> Result<Timestamp, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_micros());
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .ok_or_else(|| format!("`{s}` is not a date and time (YYYY-MM-DDTHH:MM:SS)"))?;
    oslo_to_utc(naive).ok_or_else(|| format!("`{s}` is outside the time zone database's range"))
}

/// Europe/Oslo wall time → instant, with the rule of [`parse_oslo`].
pub fn oslo_to_utc(naive: NaiveDateTime) -> Option<Timestamp> {
    use chrono::LocalResult::*;
    match Oslo.from_local_datetime(&naive) {
        Single(t) => Some(t.timestamp_micros()),
        Ambiguous(first, _) => Some(first.timestamp_micros()),
        None => {
            // In the gap: the offset three hours earlier is the one in force before it.
            let before = Oslo.from_local_datetime(&(naive - chrono::Duration::hours(3))).earliest()?;
            let offset = chrono::Offset::fix(before.offset()).local_minus_utc();
            Some((naive - chrono::Duration::seconds(offset.into())).and_utc().timestamp_micros())
        }
    }
}

/// Formats an instant as Altinn 2 writes it: Europe/Oslo wall time without an offset.
pub fn format_oslo(t: Timestamp) -> String {
    let utc = DateTime::<Utc>::from_timestamp_micros(t).unwrap_or_default();
    utc.with_timezone(&Oslo).format("%Y-%m-%dT%H:%M:%S%.f").to_string()
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

    fn oslo(s: &str) -> String {
        format_instant(parse_oslo(s).unwrap())
    }

    #[test]
    fn oslo_wall_time_lands_on_the_right_instant_and_date() {
        // Winter +01:00, summer +02:00.
        assert_eq!(oslo("2024-01-15T12:00:00"), "2024-01-15T11:00:00Z");
        assert_eq!(oslo("2024-07-15 12:00:00.250"), "2024-07-15T10:00:00.250Z");
        // Midnight in Oslo is the previous day in UTC: the date must not move in the inbox.
        assert_eq!(oslo("2024-01-01T00:30:00"), "2023-12-31T23:30:00Z");
        assert_eq!(oslo("2024-06-01T00:00:00"), "2024-05-31T22:00:00Z");
        // Spring forward, 2024-03-31: 01:59 is +01:00, 02:00–02:59 don't exist, 03:00 is +02:00.
        assert_eq!(oslo("2024-03-31T01:59:59"), "2024-03-31T00:59:59Z");
        assert_eq!(oslo("2024-03-31T02:00:00"), "2024-03-31T01:00:00Z");
        assert_eq!(oslo("2024-03-31T02:30:00"), "2024-03-31T01:30:00Z");
        assert_eq!(oslo("2024-03-31T03:00:00"), "2024-03-31T01:00:00Z");
        // Fall back, 2024-10-27: 02:00–02:59 twice; the first (+02:00) is taken.
        assert_eq!(oslo("2024-10-27T01:59:59"), "2024-10-26T23:59:59Z");
        assert_eq!(oslo("2024-10-27T02:30:00"), "2024-10-27T00:30:00Z");
        assert_eq!(oslo("2024-10-27T03:00:00"), "2024-10-27T02:00:00Z");
        // An explicit offset is honoured; nonsense is refused.
        assert_eq!(oslo("2024-03-31T02:30:00Z"), "2024-03-31T02:30:00Z");
        assert!(parse_oslo("31.03.2024 02:30").is_err());
    }
}
