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
    Rfc3339::new(t).as_str().to_string()
}

/// An instant as [`format_instant`] writes it, on the stack: the projector writes several per
/// dialog, and chrono's formatter with a `String` each was a tenth of its time.
#[derive(Clone, Copy)]
pub struct Rfc3339 {
    buf: [u8; 40],
    len: u8,
}

impl Rfc3339 {
    /// Years 0–9999 are written here; others (which no source has) as chrono writes them.
    pub fn new(t: Timestamp) -> Self {
        const DAY: i64 = 86_400_000_000;
        let mut out = Rfc3339 { buf: [0; 40], len: 0 };
        // 0000-01-01 ..= 9999-12-31, in days since the epoch.
        let days = t.div_euclid(DAY);
        if !(-719_528..=2_932_896).contains(&days) {
            let s = DateTime::<Utc>::from_timestamp_micros(t).unwrap_or_default().to_rfc3339_opts(SecondsFormat::AutoSi, true);
            out.buf[..s.len()].copy_from_slice(s.as_bytes());
            out.len = s.len() as u8;
            return out;
        }
        let (y, m, d) = civil(days);
        let in_day = t.rem_euclid(DAY);
        let (secs, micros) = (in_day / 1_000_000, in_day % 1_000_000);
        out.digits(y, 4);
        out.push(b'-');
        out.digits(m, 2);
        out.push(b'-');
        out.digits(d, 2);
        out.push(b'T');
        out.digits(secs / 3600, 2);
        out.push(b':');
        out.digits(secs / 60 % 60, 2);
        out.push(b':');
        out.digits(secs % 60, 2);
        // chrono's AutoSi: no fraction, milliseconds, or microseconds, whichever is exact.
        if micros != 0 {
            out.push(b'.');
            if micros % 1000 == 0 { out.digits(micros / 1000, 3) } else { out.digits(micros, 6) }
        }
        out.push(b'Z');
        out
    }

    fn push(&mut self, c: u8) {
        self.buf[self.len as usize] = c;
        self.len += 1;
    }

    fn digits(&mut self, mut n: i64, width: usize) {
        let start = self.len as usize;
        for i in (0..width).rev() {
            self.buf[start + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.len += width as u8;
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators, or chrono's own text, are written.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default()
    }
}

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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

    #[test]
    fn formats_as_chrono_does() {
        let chrono = |t: Timestamp| DateTime::<Utc>::from_timestamp_micros(t).unwrap_or_default().to_rfc3339_opts(SecondsFormat::AutoSi, true);
        // Edges (epoch, before it, leap days, the ends of the range and beyond), then a spread.
        let mut ts = vec![0, -1, 1, 999, 1000, 1_000_000, -86_400_000_000, 951_782_400_000_000, 951_868_799_999_999, 4_107_542_400_000_000];
        ts.extend([-62_167_219_200_000_000, -62_167_219_200_000_001, 253_402_300_799_999_999, 253_402_300_800_000_000, i64::MAX, i64::MIN]);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // ± 3,000 years, and as often a round millisecond or second.
            let t = (x % 190_000_000_000_000_000) as i64 - 95_000_000_000_000_000;
            ts.push(match x % 3 { 0 => t, 1 => t - t.rem_euclid(1000), _ => t - t.rem_euclid(1_000_000) });
        }
        for t in ts {
            assert_eq!(Rfc3339::new(t).as_str(), chrono(t), "{t}");
        }
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
