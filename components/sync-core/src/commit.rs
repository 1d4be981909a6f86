//! What one page writes: every row of it in one transaction, so a page is all there or not at
//! all (a restart resumes after the last committed page).

use crate::record::RawRecord;
use crate::summary::Summary;
use serde::Serialize;

/// What became of a fetched record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Migrated,
    Unchanged,
    Skipped,
    Waiting,
    Dead,
}

impl Outcome {
    /// The name stored in `staged.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Migrated => "migrated",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Waiting => "waiting",
            Outcome::Dead => "dead",
        }
    }
}

/// A fetched record version and its outcome.
#[derive(Debug, Clone)]
pub struct Staged {
    pub record: RawRecord,
    pub content_hash: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub waiting_party: Option<String>,
    pub dialog_id: Option<String>,
}

/// A dialog row: the indexed columns and the document.
#[derive(Debug, Clone, PartialEq)]
pub struct DialogRow {
    pub id: String,
    pub source_id: String,
    pub source_version: i64,
    pub content_hash: String,
    pub party: String,
    pub service_resource: String,
    pub status: String,
    pub system_label: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub transformer_hash: String,
    pub projector_hash: String,
    pub document: String,
    /// `live` or `historic`: the mode the projector made it in (none: the service-owner API).
    pub sync_mode: Option<String>,
}

/// The version of a dialog already stored, for the newer-version-wins decision.
#[derive(Debug, Clone)]
pub struct Current {
    pub id: String,
    pub source_version: i64,
    pub content_hash: String,
    pub document: String,
}

impl Current {
    /// Whether a record `(version, hash)` replaces this stored version: a larger version, or
    /// the same version with a larger content hash (two sources of one version settle the same
    /// way everywhere), or the very same one on a replay (newer components rewrite it).
    pub fn replaced_by(&self, version: i64, hash: &str, replay: bool) -> bool {
        let (mine, theirs) = ((version, hash), (self.source_version, self.content_hash.as_str()));
        mine > theirs || (replay && mine == theirs)
    }
}

/// A record that failed, for the dead-letter table.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub source: String,
    /// `source_id@hash` for records that were read, the origin for ones that could not be.
    pub record_key: String,
    pub source_id: Option<String>,
    pub origin: String,
    /// read, transform, party, project, validate.
    pub phase: String,
    pub component: Option<String>,
    pub error: String,
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    pub attempts: i64,
}

/// One page of a historic window, committed with the dialogs it made.
#[derive(Debug, Clone)]
pub struct WindowPage {
    pub first_day: String,
    pub last_day: String,
    /// Where the window's next page is; none when this page was its last.
    pub next_url: Option<String>,
    pub counts: Summary,
}

/// The lease a commit must still hold: it is renewed in the commit's transaction, and the
/// commit fails if another host holds it now.
#[derive(Debug, Clone)]
pub struct Fence {
    pub name: String,
    pub holder: String,
    pub ttl_micros: i64,
}

/// Everything one page writes, committed together.
#[derive(Debug, Default)]
pub struct Commit {
    pub staged: Vec<Staged>,
    /// Dialogs to write if they are newer than what is stored (checked again inside the
    /// transaction, so concurrent writers never let an older version win).
    pub upserts: Vec<DialogRow>,
    /// A replay: the same source version may be written again (by newer components).
    pub replay: bool,
    /// Write dialogs without change events (a source configured `silent`, as Dialogporten's
    /// silent updates).
    pub silent: bool,
    /// Queue the changed dialogs for the Dialogporten sink (`Some(silent)`), in this transaction.
    pub sink: Option<bool>,
    pub window: Option<WindowPage>,
    /// Raw source ids whose record is gone at the source, with the version that says so:
    /// dialogs made from them are deleted and a tombstone keeps older versions out.
    pub deletes: Vec<(String, i64)>,
    pub dead: Vec<DeadLetter>,
    /// Source ids that succeeded: their dead letters are resolved.
    pub resolved: Vec<String>,
    /// Origins and content keys of records read fine this time: their read failures are resolved.
    pub read_ok: Vec<String>,
    pub checkpoint: Option<(String, String)>,
    /// The lease this work is done under (several hosts): renewed with the commit, which fails
    /// if another host holds it now.
    pub fence: Option<Fence>,
}

impl Commit {
    /// The source ids whose rows this commit writes: staged records, dialogs, tombstones,
    /// resolved dead letters.
    pub fn writes(&self) -> std::collections::HashSet<&str> {
        let staged = self.staged.iter().map(|s| s.record.source_id.as_str());
        let dialogs = self.upserts.iter().map(|d| d.source_id.as_str());
        let deletes = self.deletes.iter().map(|(id, _)| id.as_str());
        staged.chain(dialogs).chain(deletes).chain(self.resolved.iter().map(String::as_str)).collect()
    }
}
