//! One page of fetched records through the pipeline, as steps without I/O:
//!
//! ```text
//! Page::new(records)                      hashes; unreadable records become dead letters
//! stage_keys()      → shell reads which (id, hash) are settled → settled()
//! transform_input() → shell calls the transformer              → transformed()
//! tombstone_ids()   → shell reads tombstones                   → tombstones()
//! party_ids()       → shell reads the party register           → parties()
//! project_input()   → shell calls the projector, reads stored  → projected()
//! finish()          → the Commit to write and the Summary
//! ```
//!
//! Every record ends in exactly one bucket of the summary, and every staged row names its
//! outcome; newer-version-wins is decided in [`Page::projected`] (and again by the store inside
//! its transaction, with [`Current::replaced_by`]).

use crate::commit::{Commit, Current, DeadLetter, DialogRow, Outcome, Staged};
use crate::record::{Fetched, RawRecord, sha256_hex, unreadable_key};
use crate::summary::Summary;
use crate::validate;
use dialogsync_sdk::types::{Dialog, SourceRecord, SyncMode};

/// A mode as the store records it.
pub fn mode_name(mode: SyncMode) -> &'static str {
    match mode {
        SyncMode::Live => "live",
        SyncMode::Historic => "historic",
    }
}
use std::collections::{HashMap, HashSet};

/// What a transformer made of one record (the shell maps its component's result onto this).
pub enum Transform<E> {
    Element(E),
    /// Not a dialog, for a reason that is counted; `remove_existing` deletes a dialog made
    /// from an earlier version (the record is gone at the source).
    Skip { reason: String, remove_existing: bool },
}

/// What the pipeline reads of an element: its id and its party.
pub trait Element {
    fn source_id(&self) -> &str;
    /// The legacy party id, while the party is not yet a URN.
    fn party_id(&self) -> Option<&str>;
    fn set_party_urn(&mut self, urn: String);
}

impl Element for dialogsync_sdk::types::Element {
    fn source_id(&self) -> &str {
        &self.source_id
    }
    fn party_id(&self) -> Option<&str> {
        match &self.party {
            dialogsync_sdk::types::Party::PartyId(p) => Some(p),
            dialogsync_sdk::types::Party::Urn(_) => None,
        }
    }
    fn set_party_urn(&mut self, urn: String) {
        self.party = dialogsync_sdk::types::Party::Urn(urn);
    }
}

/// The components a page runs through: labels for people and dead letters, hashes for rows.
#[derive(Debug, Clone, Default)]
pub struct Components {
    pub transformer_label: String,
    pub transformer_hash: String,
    pub projector_label: String,
    pub projector_hash: String,
}

/// How a page runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub source: String,
    pub components: Components,
    /// "Now" for the page, microseconds (validation's "not in the future").
    pub now: i64,
    /// Re-run records already settled (replay, retry): the same version may be written again.
    pub replay: bool,
    /// Write without change events.
    pub silent: bool,
    /// Queue changed dialogs for the Dialogporten sink: `Some(silent)` when one is configured
    /// (sent with `isSilentUpdate=silent`), None when not.
    pub sink: Option<bool>,
    /// Live (a due date already past is dropped) or historic projection.
    pub mode: SyncMode,
}

/// A record's fate inside a page.
struct Fate {
    outcome: Outcome,
    reason: Option<String>,
    waiting_party: Option<String>,
    dialog_id: Option<String>,
}

impl Fate {
    fn new(outcome: Outcome, reason: Option<String>) -> Fate {
        Fate { outcome, reason, waiting_party: None, dialog_id: None }
    }
}

/// One page on its way through the pipeline.
pub struct Page<E> {
    settings: Settings,
    summary: Summary,
    commit: Commit,
    /// Readable records with their content hash.
    records: Vec<(RawRecord, String)>,
    fates: Vec<Option<Fate>>,
    /// Elements by record index, while they go through tombstones and parties.
    elements: Vec<(usize, E)>,
    /// Record indices and element ids of what went to the projector, in order.
    projecting: Vec<(usize, String)>,
}

impl<E: Element> Page<E> {
    /// Takes a page of fetched records: content hashes, and a dead letter for each record that
    /// could not be read.
    pub fn new(settings: Settings, items: Vec<Fetched>) -> Page<E> {
        let mut summary = Summary { fetched: items.len() as u64, ..Summary::default() };
        let mut commit = Commit { replay: settings.replay, silent: settings.silent, sink: settings.sink, ..Commit::default() };
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(r) => {
                    let hash = sha256_hex(&r.payload);
                    // A file line that reads fine now was fixed; a position in an HTTP page is
                    // not a stable place, so there only the same content resolves a read failure.
                    if !r.origin.starts_with("http") {
                        commit.read_ok.push(r.origin.clone());
                    }
                    commit.read_ok.push(unreadable_key(&hash));
                    records.push((r, hash));
                }
                Err(f) => {
                    tracing::warn!(source = %settings.source, origin = %f.origin, error = %f.error, "unreadable record");
                    summary.dead += 1;
                    // Keyed by content where there is some, so re-reading the same bad record
                    // (another page URL, another tick) does not make a second dead letter.
                    let record_key = match &f.payload {
                        Some(p) => unreadable_key(&sha256_hex(p)),
                        None => f.origin.clone(),
                    };
                    commit.dead.push(DeadLetter {
                        id: None,
                        source: settings.source.clone(),
                        record_key,
                        source_id: None,
                        origin: f.origin,
                        phase: "read".into(),
                        component: None,
                        error: f.error,
                        payload: f.payload,
                        attempts: 1,
                    });
                }
            }
        }
        Page { settings, summary, commit, records, fates: Vec::new(), elements: Vec::new(), projecting: Vec::new() }
    }

    /// `(source id, content hash)` of each record, to look up which are settled already (none
    /// on a replay, which runs them again).
    pub fn stage_keys(&self) -> Vec<(String, String)> {
        if self.settings.replay {
            return Vec::new();
        }
        self.records.iter().map(|(r, h)| (r.source_id.clone(), h.clone())).collect()
    }

    /// Drops the record versions already settled: each is `unchanged`, a no-op.
    pub fn settled(&mut self, settled: &HashSet<(String, String)>) {
        let before = self.records.len();
        if !settled.is_empty() {
            self.records.retain(|(r, h)| !settled.contains(&(r.source_id.clone(), h.clone())));
        }
        self.summary.unchanged += (before - self.records.len()) as u64;
        self.fates = self.records.iter().map(|_| None).collect();
    }

    /// The transformer's input; the payloads move out and come back with [`Page::transformed`].
    pub fn transform_input(&mut self) -> Vec<SourceRecord> {
        if self.fates.len() != self.records.len() {
            self.settled(&HashSet::new());
        }
        self.records
            .iter_mut()
            .map(|(r, _)| SourceRecord { source_id: r.source_id.clone(), source_version: r.version, payload: std::mem::take(&mut r.payload), content_type: r.content_type.clone() })
            .collect()
    }

    /// Takes the transformer's results, one per input, in order (an error is the component's
    /// message): skips are counted, failures become dead letters.
    pub fn transformed(&mut self, input: Vec<SourceRecord>, results: Vec<Result<Transform<E>, String>>) {
        for ((r, _), back) in self.records.iter_mut().zip(input) {
            r.payload = back.payload;
        }
        let mut results = results.into_iter();
        for i in 0..self.records.len() {
            let result = results.next().unwrap_or_else(|| Err("the transformer returned no result for this record".into()));
            match result {
                Ok(Transform::Element(e)) => self.elements.push((i, e)),
                Ok(Transform::Skip { reason, remove_existing }) => {
                    let r = &self.records[i].0;
                    if remove_existing {
                        self.commit.deletes.push((r.source_id.clone(), r.version));
                    }
                    *self.summary.skip_reasons.entry(reason.clone()).or_default() += 1;
                    self.commit.resolved.push(r.source_id.clone());
                    self.fates[i] = Some(Fate::new(Outcome::Skipped, Some(reason)));
                }
                Err(error) => {
                    let label = self.settings.components.transformer_label.clone();
                    self.kill(i, "transform", label, error);
                }
            }
        }
    }

    fn kill(&mut self, i: usize, phase: &str, component: String, error: String) {
        let (r, hash) = &self.records[i];
        tracing::warn!(source = %self.settings.source, record = %r.source_id, origin = %r.origin, phase, error = %error, "dead letter");
        self.commit.dead.push(DeadLetter {
            id: None,
            source: self.settings.source.clone(),
            record_key: format!("{}@{}", r.source_id, &hash[..16]),
            source_id: Some(r.source_id.clone()),
            origin: r.origin.clone(),
            phase: phase.into(),
            component: Some(component),
            error: error.clone(),
            payload: Some(r.payload.clone()),
            attempts: 1,
        });
        self.fates[i] = Some(Fate::new(Outcome::Dead, Some(error)));
    }

    /// Raw source ids of the elements, to look up tombstones.
    pub fn tombstone_ids(&self) -> Vec<String> {
        self.elements.iter().map(|(i, _)| self.records[*i].0.source_id.clone()).collect()
    }

    /// Gone at the source: an older version fetched later must not bring the dialog back.
    /// `removed` maps raw source ids to the version that removed them.
    pub fn tombstones(&mut self, mut removed: HashMap<String, i64>) {
        for (id, version) in &self.commit.deletes {
            let v = removed.entry(id.clone()).or_insert(*version);
            *v = (*v).max(*version);
        }
        let (records, fates, summary) = (&self.records, &mut self.fates, &mut self.summary);
        self.elements.retain(|(i, _)| {
            let r = &records[*i].0;
            match removed.get(&r.source_id) {
                Some(v) if *v >= r.version => {
                    let reason = "removed at the source by a newer version".to_string();
                    *summary.skip_reasons.entry(reason.clone()).or_default() += 1;
                    fates[*i] = Some(Fate::new(Outcome::Skipped, Some(reason)));
                    false
                }
                _ => true,
            }
        });
    }

    /// Legacy party ids to resolve through the party register.
    pub fn party_ids(&self) -> Vec<String> {
        self.elements.iter().filter_map(|(_, e)| e.party_id().map(str::to_string)).collect()
    }

    /// Resolves legacy party ids to URNs; an unknown one waits, never guessed.
    pub fn parties(&mut self, known: &HashMap<String, String>) {
        for (i, e) in std::mem::take(&mut self.elements) {
            let mut e = e;
            if let Some(p) = e.party_id().map(str::to_string) {
                match known.get(&p) {
                    Some(urn) => e.set_party_urn(urn.clone()),
                    None => {
                        self.summary.waiting_party_ids.insert(p.clone());
                        let mut fate = Fate::new(Outcome::Waiting, Some(format!("party id {p} is not in the party register")));
                        fate.waiting_party = Some(p);
                        self.fates[i] = Some(fate);
                        continue;
                    }
                }
            }
            self.elements.push((i, e));
        }
    }

    /// The projector's input. [`Page::project_ids`] then names the stored dialogs to read.
    pub fn project_input(&mut self) -> Vec<E> {
        let (projecting, elements): (Vec<(usize, String)>, Vec<E>) = std::mem::take(&mut self.elements).into_iter().map(|(i, e)| ((i, e.source_id().to_string()), e)).unzip();
        self.projecting = projecting;
        elements
    }

    /// Element ids of what went to the projector: the dialogs to read for newer-version-wins.
    pub fn project_ids(&self) -> Vec<String> {
        self.projecting.iter().map(|(_, id)| id.clone()).collect()
    }

    /// Takes the projector's results, one per input, in order, and what is stored for those
    /// elements: each dialog is checked against Dialogporten's rules, then newer version wins,
    /// against the store and against earlier records of this same page.
    pub fn projected(&mut self, results: Vec<Result<Dialog, String>>, mut current: HashMap<String, Current>) {
        let mut results = results.into_iter();
        let label = self.settings.components.projector_label.clone();
        for (i, element_id) in std::mem::take(&mut self.projecting) {
            let dialog = match results.next().unwrap_or_else(|| Err("the projector returned no result for this element".into())) {
                Ok(d) => d,
                Err(error) => {
                    self.kill(i, "project", label.clone(), error);
                    continue;
                }
            };
            let problems = validate::check(&dialog, self.settings.now);
            if !problems.is_empty() {
                self.kill(i, "validate", label.clone(), format!("dialog breaks Dialogporten's rules: {}", problems.join("; ")));
                continue;
            }
            let (r, hash) = &self.records[i];
            let c = &self.settings.components;
            let row = DialogRow {
                id: dialog.id,
                source_id: element_id.clone(),
                source_version: r.version,
                content_hash: hash.clone(),
                party: dialog.party,
                service_resource: dialog.service_resource,
                status: dialog.status,
                system_label: dialog.system_label,
                created_at: dialog.created_at,
                updated_at: dialog.updated_at,
                transformer_hash: c.transformer_hash.clone(),
                projector_hash: c.projector_hash.clone(),
                document: dialog.document,
                sync_mode: Some(mode_name(self.settings.mode).into()),
            };
            let (outcome, write) = match current.get(&element_id) {
                None => (Outcome::Migrated, true),
                // Written even when the document is the same: the row records the components.
                Some(c) if c.replaced_by(r.version, hash, self.settings.replay) => {
                    (if c.id == row.id && c.document == row.document { Outcome::Unchanged } else { Outcome::Migrated }, true)
                }
                // An older (or the same) version: the stored dialog stays.
                Some(_) => (Outcome::Unchanged, false),
            };
            self.commit.resolved.push(r.source_id.clone());
            let mut fate = Fate::new(outcome, None);
            fate.dialog_id = Some(row.id.clone());
            self.fates[i] = Some(fate);
            if write {
                current.insert(element_id, Current { id: row.id.clone(), source_version: r.version, content_hash: hash.clone(), document: row.document.clone() });
                self.commit.upserts.push(row);
            }
        }
    }

    /// What to commit and the page's summary. A record no step gave a fate (a shell that
    /// skipped a step) is counted dead, never lost.
    pub fn finish(mut self) -> (Commit, Summary) {
        if self.fates.len() != self.records.len() {
            self.settled(&HashSet::new());
        }
        for i in 0..self.records.len() {
            if self.fates[i].is_none() {
                self.kill(i, "sync", "dialogsync".into(), "the record left the pipeline without an outcome".into());
            }
        }
        let fates = std::mem::take(&mut self.fates);
        for ((r, hash), fate) in std::mem::take(&mut self.records).into_iter().zip(fates) {
            let fate = fate.expect("every record has a fate");
            self.summary.count(fate.outcome);
            self.commit.staged.push(Staged { record: r, content_hash: hash, outcome: fate.outcome, reason: fate.reason, waiting_party: fate.waiting_party, dialog_id: fate.dialog_id });
        }
        (self.commit, self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ReadFailure;
    use dialogsync_sdk::types as g;

    const NOW: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../a3-app-instances/fixtures/{name}.input.json", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn record(id: &str, version: i64, payload: Vec<u8>) -> Fetched {
        Ok(RawRecord { source_id: id.into(), version, created: None, payload, content_type: "application/json".into(), origin: format!("test.ndjson:{id}") })
    }

    /// Runs a page through every step as a shell would, with the components' logic natively and
    /// the store's answers given.
    fn run(items: Vec<Fetched>, settled: HashSet<(String, String)>, removed: HashMap<String, i64>, current: HashMap<String, Current>) -> (Commit, Summary) {
        let components = Components { transformer_label: "t@1".into(), projector_label: "p@1".into(), ..Components::default() };
        let settings = Settings { source: "a3-app-instances".into(), now: NOW, components, replay: false, silent: false, sink: None, mode: g::SyncMode::Historic };
        let mut page: Page<g::Element> = Page::new(settings, items);
        page.settled(&settled);
        let input = page.transform_input();
        let results = input
            .iter()
            .map(|r| match a3_app_instances::instance::transform(r) {
                Ok(g::Transformed::Element(e)) => Ok(Transform::Element(e)),
                Ok(g::Transformed::Skip(s)) => Ok(Transform::Skip { reason: s.reason, remove_existing: s.remove_existing }),
                Err(e) => Err(e.to_string()),
            })
            .collect();
        page.transformed(input, results);
        page.tombstones(removed);
        assert_eq!(page.party_ids(), ["1337"], "only the party-only record asks the register");
        page.parties(&HashMap::new());
        let ctx = g::ProjectionContext { now: NOW, mode: g::SyncMode::Historic };
        let results = page.project_input().iter().map(|e| dialog_projector::project::project(&ctx, e).map_err(|e| e.to_string())).collect();
        page.projected(results, current);
        page.finish()
    }

    #[test]
    fn every_record_ends_in_one_bucket_with_its_reason() {
        let draft = fixture("draft-person");
        let draft_hash = sha256_hex(&draft);
        let items = vec![
            record("draft", 10, draft.clone()),
            record("party-only", 10, fixture("soft-deleted-party-only")),
            record("hard-deleted", 10, fixture("hard-deleted")),
            record("no-app", 10, fixture("missing-app-id")),
            record("settled", 10, draft.clone()),
            Err(ReadFailure { origin: "test.ndjson:9".into(), error: "not JSON".into(), payload: Some(b"{".to_vec()) }),
        ];
        let settled: HashSet<_> = [("settled".to_string(), draft_hash.clone())].into();
        let (commit, summary) = run(items, settled, HashMap::new(), HashMap::new());

        assert_eq!((summary.fetched, summary.migrated, summary.unchanged, summary.skipped, summary.waiting, summary.dead), (6, 1, 1, 1, 1, 2));
        assert!(summary.balanced());
        assert_eq!(summary.waiting_party_ids, ["1337".to_string()].into());
        assert_eq!(summary.skip_reasons.keys().collect::<Vec<_>>(), ["hard-deleted in Altinn Storage"]);

        let outcome = |id: &str| commit.staged.iter().find(|s| s.record.source_id == id).map(|s| s.outcome);
        assert_eq!(commit.staged.len(), 4, "the settled record and the unreadable one are not staged again");
        assert_eq!(outcome("draft"), Some(Outcome::Migrated));
        assert_eq!(outcome("party-only"), Some(Outcome::Waiting));
        assert_eq!(outcome("hard-deleted"), Some(Outcome::Skipped));
        assert_eq!(outcome("no-app"), Some(Outcome::Dead));
        assert_eq!(commit.deletes, [("hard-deleted".to_string(), 10)]);
        assert_eq!(commit.upserts.len(), 1);
        assert_eq!(commit.upserts[0].source_id, "3e0d7a51-2c4b-4e1f-9a0d-5b6c7d8e9f01", "dialogs are keyed by the element's id");

        let phases: Vec<_> = commit.dead.iter().map(|d| (d.phase.as_str(), d.source_id.as_deref(), d.component.as_deref())).collect();
        assert_eq!(phases, [("read", None, None), ("transform", Some("no-app"), Some("t@1"))]);
        assert!(commit.dead[1].error.contains("appId"), "the error names the field: {}", commit.dead[1].error);
        assert!(commit.dead[1].record_key.starts_with("no-app@"));
    }

    #[test]
    fn newer_version_wins_against_the_store_and_within_the_page() {
        let draft = fixture("draft-person");
        let mut edited: serde_json::Value = serde_json::from_slice(&draft).unwrap();
        edited["title"]["nb"] = "Ny tittel".into();
        let edited = serde_json::to_vec(&edited).unwrap();
        let id = "3e0d7a51-2c4b-4e1f-9a0d-5b6c7d8e9f01";
        let stored = |version| [(id.to_string(), Current { id: "x".into(), source_version: version, content_hash: "h".into(), document: "{}".into() })].into();
        let party_only = record("party-only", 1, fixture("soft-deleted-party-only"));

        // Stored at version 20: versions 10 and 15 change nothing.
        let (commit, s) = run(vec![record("draft", 10, draft.clone()), record("draft", 15, edited.clone()), party_only.clone()], HashSet::new(), HashMap::new(), stored(20));
        assert!(commit.upserts.is_empty());
        assert_eq!(s.unchanged, 2);

        // Stored at 5: 15 then 10 in one page; 15 wins, 10 is older than the page's own 15.
        let (commit, s) = run(vec![record("draft", 15, edited), record("draft", 10, draft.clone()), party_only.clone()], HashSet::new(), HashMap::new(), stored(5));
        assert_eq!(commit.upserts.iter().map(|u| u.source_version).collect::<Vec<_>>(), [15]);
        assert!(commit.upserts[0].document.contains("Ny tittel"));
        assert_eq!((s.migrated, s.unchanged), (1, 1));

        // A tombstone at version 12 keeps version 10 out.
        let (commit, s) = run(vec![record("draft", 10, draft), party_only], HashSet::new(), [("draft".to_string(), 12)].into(), HashMap::new());
        assert!(commit.upserts.is_empty());
        assert_eq!(s.skip_reasons.get("removed at the source by a newer version"), Some(&1));
    }
}
