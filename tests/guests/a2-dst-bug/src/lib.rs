//! A buggy a2-correspondence transformer for the replay tests: it reads Altinn 2 wall times at
//! a fixed +01:00, ignoring summer time, so every instant that falls in Norwegian summer time
//! comes out an hour late — the "wrong dates" of the migration status page. Records whose times
//! are all in winter time come out right, so a replay with the fixed component must change
//! exactly the summer ones.
use chrono::{Offset, TimeZone};
use chrono_tz::Europe::Oslo;
use dialogsync_sdk::types::{RecordError, SourceRecord, Timestamp, Transformed};

const HOUR: Timestamp = 3_600_000_000;

/// What a fixed +01:00 reading makes of the correct instant `t`.
pub fn fixed_offset(t: Timestamp) -> Timestamp {
    let summer = Oslo.timestamp_micros(t).single().is_some_and(|l| l.offset().fix().local_minus_utc() == 7200);
    if summer { t + HOUR } else { t }
}

pub fn transform(record: &SourceRecord) -> Result<Transformed, RecordError> {
    let mut out = a2_correspondence::correspondence::transform(record)?;
    if let Transformed::Element(e) = &mut out {
        e.created_at = fixed_offset(e.created_at);
        e.updated_at = fixed_offset(e.updated_at);
        e.due_at = e.due_at.map(fixed_offset);
        e.visible_from = e.visible_from.map(fixed_offset);
        for ev in &mut e.events {
            ev.at = fixed_offset(ev.at);
        }
    }
    Ok(out)
}

dialogsync_sdk::export_transformer!(transform);
