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

pub use dialogsync_core::plan::day_of;
pub use dialogsync_core::source::{day_start, format_micros};
