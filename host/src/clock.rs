//! "Now" for the whole process: the real clock, or the fixed instant in `DIALOGSYNC_NOW`
//! (RFC 3339), so a status report or a test scenario can be reproduced to the character.
//! Only stamps and the projector's "now" use it; waiting between ticks is real time.

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::OnceLock;

static FIXED: OnceLock<Option<DateTime<Utc>>> = OnceLock::new();

pub fn now() -> DateTime<Utc> {
    let fixed = FIXED.get_or_init(|| {
        let v = std::env::var("DIALOGSYNC_NOW").ok()?;
        match DateTime::parse_from_rfc3339(&v) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(e) => {
                tracing::warn!(value = %v, error = %e, "DIALOGSYNC_NOW is not an RFC 3339 instant; using the real clock");
                None
            }
        }
    });
    fixed.unwrap_or_else(Utc::now)
}

/// Microseconds since the epoch, the pipeline's timestamp.
pub fn micros() -> i64 {
    now().timestamp_micros()
}

/// The bookkeeping stamp stored with every row: RFC 3339, milliseconds, UTC.
pub fn stamp() -> String {
    now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn today() -> NaiveDate {
    now().date_naive()
}

/// The UTC day of a microsecond timestamp.
pub fn day_of(micros: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp_micros(micros).map(|t| t.date_naive())
}

/// Midnight UTC starting `day`, in microseconds.
pub fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros()
}

/// A microsecond timestamp as RFC 3339 UTC with microseconds.
pub fn format_micros(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)).unwrap_or_default()
}
