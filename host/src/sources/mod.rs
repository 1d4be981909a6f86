//! Source connectors: where raw records come from. Each yields [`Fetched`] items one at a
//! time (streaming), each either a record or a failure that names where it was read.

pub mod files;
pub mod http;

use dialogsync_sdk::time::parse_oslo;
use serde_json::Value;

pub use dialogsync_core::record::{Fetched, RawRecord, ReadFailure};

/// Which JSON fields identify a record and its version (a source's `id_field` and
/// `version_fields` in the config).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RecordKeys {
    #[serde(default)]
    pub id_field: String,
    #[serde(default)]
    pub version_fields: Vec<String>,
    #[serde(default)]
    pub created_fields: Vec<String>,
}

impl RecordKeys {
    /// Makes a raw record of one JSON payload, naming the field when one is missing or bad.
    pub fn record(&self, payload: Vec<u8>, origin: String) -> Fetched {
        let fail = |error: String, payload: Vec<u8>| Err(ReadFailure { origin: origin.clone(), error, payload: Some(payload) });
        let value: Value = match serde_json::from_slice(&payload) {
            Ok(v) => v,
            Err(e) => return fail(format!("invalid JSON: {e}"), payload),
        };
        let source_id = match value.get(&self.id_field) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return fail(format!("no `{}` field naming the record", self.id_field), payload),
        };
        let first_time = |fields: &[String]| {
            fields.iter().find_map(|f| match value.get(f)? {
                Value::Number(n) => Some(n.as_i64().ok_or_else(|| format!("`{f}` is not an integer"))),
                // Altinn 2 times are wall times without an offset: Oslo, as everywhere in Altinn 2.
                Value::String(s) => Some(parse_oslo(s).map_err(|e| format!("`{f}`: {e}"))),
                _ => None,
            })
        };
        let created = first_time(&self.created_fields).and_then(Result::ok);
        match first_time(&self.version_fields) {
            Some(Ok(version)) => Ok(RawRecord { source_id, version, created, payload, content_type: "application/json".into(), origin }),
            Some(Err(e)) => fail(format!("bad version: {e}"), payload),
            None => fail(format!("no version field ({})", self.version_fields.join(", ")), payload),
        }
    }
}
