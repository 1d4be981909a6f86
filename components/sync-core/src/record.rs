//! What a source connector yields: a record, or a failure to read one.

use sha2::{Digest, Sha256};

/// One record as fetched, before any component has seen it.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The record's id at its source.
    pub source_id: String,
    /// Orderable version: larger is newer (microseconds for timestamps).
    pub version: i64,
    /// When the record was created at its source (microseconds), if it says: its day places
    /// it in a historic window and in reconciliation.
    pub created: Option<i64>,
    /// Bytes exactly as the source gave them.
    pub payload: Vec<u8>,
    pub content_type: String,
    /// Where it was read, for people: `file.ndjson:12`, `page.json#instances[3]`.
    pub origin: String,
}

/// A record that could not even be read: a dead letter before any component runs.
#[derive(Debug, Clone)]
pub struct ReadFailure {
    pub origin: String,
    pub error: String,
    pub payload: Option<Vec<u8>>,
}

pub type Fetched = Result<RawRecord, ReadFailure>;

/// Lower-case hex SHA-256: content hashes of payloads, component files and documents.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The dead-letter key of a record that could not be read, by its content.
pub fn unreadable_key(hash: &str) -> String {
    format!("unreadable@{}", &hash[..16])
}
