//! The pipeline for one source: fetched records → stage (content hash: unchanged is a no-op)
//! → transformer → party register → projector → rule check → newer-version-wins upsert,
//! committed per page with change events, dead letters and the cursor or window progress.
//!
//! Every fetched record ends in exactly one bucket of [`Summary`]:
//! fetched = migrated + unchanged + skipped + waiting + dead.

use crate::runtime::bindings::types::{Element, Party, ProjectionContext, SourceRecord, SyncMode, Transformed};
use crate::runtime::{Projector, Runtime, Transformer, sha256_hex};
use crate::sources::{Fetched, RawRecord};
use crate::store::{Commit, DeadLetter, DialogRow, Outcome, Staged, Store};
use crate::validate;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The dead-letter key of a record that could not be read, by its content.
fn unreadable_key(hash: &str) -> String {
    format!("unreadable@{}", &hash[..16])
}

/// What a run did, per bucket.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub fetched: u64,
    pub migrated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub waiting: u64,
    pub dead: u64,
    /// Skips by reason.
    pub skip_reasons: BTreeMap<String, u64>,
    /// Party ids that records are waiting for.
    pub waiting_party_ids: BTreeSet<String>,
}

impl Summary {
    /// Adds another summary's counts to this one.
    pub fn add(&mut self, o: &Summary) {
        self.fetched += o.fetched;
        self.migrated += o.migrated;
        self.unchanged += o.unchanged;
        self.skipped += o.skipped;
        self.waiting += o.waiting;
        self.dead += o.dead;
        for (r, n) in &o.skip_reasons {
            *self.skip_reasons.entry(r.clone()).or_default() += n;
        }
        self.waiting_party_ids.extend(o.waiting_party_ids.iter().cloned());
    }

    /// `fetched 10 · migrated 8 · …`, for people.
    pub fn line(&self) -> String {
        format!(
            "fetched {} · migrated {} · unchanged {} · skipped {} · waiting {} · dead {}",
            self.fetched, self.migrated, self.unchanged, self.skipped, self.waiting, self.dead
        )
    }

    fn count(&mut self, o: Outcome) {
        match o {
            Outcome::Migrated => self.migrated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Waiting => self.waiting += 1,
            Outcome::Dead => self.dead += 1,
        }
    }
}

/// One source's pipeline.
pub struct Pipeline {
    pub source: String,
    pub store: Store,
    pub runtime: Arc<Runtime>,
    pub transformer: Arc<Transformer>,
    pub projector: Arc<Projector>,
    pub mode: SyncMode,
    /// "Now" for the whole run, microseconds (the projector's clamping rules use it).
    pub now: i64,
    /// Re-run records already settled (replay, retry): the same source version may be
    /// written again, by the current components.
    pub replay: bool,
    /// Write without change events (the source's `silent` setting).
    pub silent: bool,
}

/// A record's fate inside a batch.
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

impl Pipeline {
    /// The pipeline of `source` with its configured transformer and the projector.
    pub fn load(config: &crate::config::Config, runtime: &Arc<Runtime>, store: &Store, source: &str, mode: SyncMode) -> anyhow::Result<Pipeline> {
        use anyhow::Context;
        let sc = config.source(source)?;
        let hint = "build the components with scripts/build-components.sh";
        Ok(Pipeline {
            transformer: Arc::new(runtime.load_transformer(&sc.component).context(hint)?),
            projector: Arc::new(runtime.load_projector(&config.projector).context(hint)?),
            runtime: runtime.clone(),
            source: source.to_string(),
            store: store.clone(),
            mode,
            now: crate::clock::micros(),
            replay: false,
            silent: sc.silent,
        })
    }

    /// This pipeline with another mode, "now" read afresh.
    pub fn with_mode(&self, mode: SyncMode) -> Pipeline {
        Pipeline {
            source: self.source.clone(),
            store: self.store.clone(),
            runtime: self.runtime.clone(),
            transformer: self.transformer.clone(),
            projector: self.projector.clone(),
            mode,
            now: crate::clock::micros(),
            replay: self.replay,
            silent: self.silent,
        }
    }

    /// Runs every fetched record through the pipeline, batch by batch; `progress` is called
    /// after each committed batch.
    pub async fn run(&self, records: impl Iterator<Item = Fetched>, mut progress: impl FnMut(&Summary)) -> anyhow::Result<Summary> {
        let size = self.runtime.limits().batch_size.max(1);
        tracing::info!(source = %self.source, transformer = %self.transformer.label(), projector = %self.projector.label(), batch_size = size, "sync started");
        let mut summary = Summary::default();
        let mut batch = Vec::with_capacity(size);
        let mut records = records.peekable();
        while records.peek().is_some() {
            batch.extend(records.by_ref().take(size));
            let (mut commit, s) = self.prepare(std::mem::take(&mut batch)).await?;
            summary.add(&s);
            commit.checkpoint = Some(("backfill".into(), serde_json::json!({ "fetched": summary.fetched }).to_string()));
            self.store.commit(&self.source, &commit).await?;
            progress(&summary);
        }
        tracing::info!(source = %self.source, fetched = summary.fetched, migrated = summary.migrated, unchanged = summary.unchanged,
            skipped = summary.skipped, waiting = summary.waiting, dead = summary.dead, "sync finished");
        Ok(summary)
    }

    fn dead(&self, r: &RawRecord, hash: &str, phase: &str, component: Option<String>, error: String) -> DeadLetter {
        tracing::warn!(source = %self.source, record = %r.source_id, origin = %r.origin, phase, error = %error, "dead letter");
        DeadLetter {
            id: None,
            source: self.source.clone(),
            record_key: format!("{}@{}", r.source_id, &hash[..16]),
            source_id: Some(r.source_id.clone()),
            origin: r.origin.clone(),
            phase: phase.into(),
            component,
            error,
            payload: Some(r.payload.clone()),
            attempts: 1,
        }
    }

    /// Runs one page of fetched records through the components (in calls of at most
    /// `batch_size` records) and returns what to commit, without committing it: the caller
    /// adds its cursor or window progress so they land in the same transaction.
    pub async fn prepare(&self, items: Vec<Fetched>) -> anyhow::Result<(Commit, Summary)> {
        let mut summary = Summary::default();
        let summary = &mut summary;
        summary.fetched += items.len() as u64;
        let mut commit = Commit { replay: self.replay, silent: self.silent, ..Commit::default() };
        let mut records: Vec<(RawRecord, String)> = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok(r) => {
                    let hash = sha256_hex(&r.payload);
                    // A file line that reads fine now was fixed; a position in an HTTP page is not a
                    // stable place, so there only the same content resolves a read failure.
                    if !r.origin.starts_with("http") {
                        commit.read_ok.push(r.origin.clone());
                    }
                    commit.read_ok.push(unreadable_key(&hash));
                    records.push((r, hash));
                }
                Err(f) => {
                    tracing::warn!(source = %self.source, origin = %f.origin, error = %f.error, "unreadable record");
                    summary.dead += 1;
                    // Keyed by content where there is some, so re-reading the same bad record
                        // (another page URL, another tick) does not make a second dead letter.
                        let record_key = match &f.payload {
                            Some(p) => unreadable_key(&sha256_hex(p)),
                            None => f.origin.clone(),
                        };
                    commit.dead.push(DeadLetter {
                        id: None,
                        source: self.source.clone(),
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

        // Stage: a record version already settled is a no-op.
        let keys: Vec<(String, String)> = records.iter().map(|(r, h)| (r.source_id.clone(), h.clone())).collect();
        let settled = if self.replay { Default::default() } else { self.store.staged_final(&self.source, &keys).await? };
        records.retain(|(r, h)| !settled.contains(&(r.source_id.clone(), h.clone())));
        summary.unchanged += (keys.len() - records.len()) as u64;
        let mut fates: Vec<Option<Fate>> = records.iter().map(|_| None).collect();

        // Transform.
        // Payloads travel to the blocking call and back rather than being copied.
        let inputs: Vec<SourceRecord> = records
            .iter_mut()
            .map(|(r, _)| SourceRecord { source_id: r.source_id.clone(), source_version: r.version, payload: std::mem::take(&mut r.payload), content_type: r.content_type.clone() })
            .collect();
        let (rt, t) = (self.runtime.clone(), self.transformer.clone());
        let (inputs, transformed) = tokio::task::spawn_blocking(move || {
            let size = rt.limits().batch_size.max(1);
            let out: Vec<_> = inputs.chunks(size).flat_map(|c| rt.transform(&t, c)).collect();
            (inputs, out)
        })
        .await?;
        for ((r, _), input) in records.iter_mut().zip(inputs) {
            r.payload = input.payload;
        }
        let mut elements: Vec<(usize, Element)> = Vec::new();
        for (i, result) in transformed.into_iter().enumerate() {
            let (r, hash) = &records[i];
            match result {
                Ok(Transformed::Element(e)) => elements.push((i, e)),
                Ok(Transformed::Skip(skip)) => {
                    if skip.remove_existing {
                        commit.deletes.push((r.source_id.clone(), r.version));
                    }
                    *summary.skip_reasons.entry(skip.reason.clone()).or_default() += 1;
                    commit.resolved.push(r.source_id.clone());
                    fates[i] = Some(Fate::new(Outcome::Skipped, Some(skip.reason)));
                }
                Err(failure) => {
                    let error = failure.to_string();
                    commit.dead.push(self.dead(r, hash, "transform", Some(self.transformer.label()), error.clone()));
                    fates[i] = Some(Fate::new(Outcome::Dead, Some(error)));
                }
            }
        }

        // Gone at the source: an older version fetched later must not bring the dialog back.
        let raw_ids: Vec<String> = elements.iter().map(|(i, _)| records[*i].0.source_id.clone()).collect();
        let mut removed = self.store.tombstones(&self.source, &raw_ids).await?;
        for (id, version) in &commit.deletes {
            let v = removed.entry(id.clone()).or_insert(*version);
            *v = (*v).max(*version);
        }
        elements.retain(|(i, _)| {
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

        // Resolve legacy party ids through the register; unknown ones wait, never guessed.
        let wanted: Vec<String> = elements.iter().filter_map(|(_, e)| match &e.party { Party::PartyId(p) => Some(p.clone()), _ => None }).collect();
        let known = self.store.parties(&wanted).await?;
        let mut ready: Vec<(usize, Element)> = Vec::with_capacity(elements.len());
        for (i, mut e) in elements {
            if let Party::PartyId(p) = &e.party {
                match known.get(p) {
                    Some(urn) => e.party = Party::Urn(urn.clone()),
                    None => {
                        summary.waiting_party_ids.insert(p.clone());
                        let mut fate = Fate::new(Outcome::Waiting, Some(format!("party id {p} is not in the party register")));
                        fate.waiting_party = Some(p.clone());
                        fates[i] = Some(fate);
                        continue;
                    }
                }
            }
            ready.push((i, e));
        }

        // Project.
        let ctx = ProjectionContext { now: self.now, mode: self.mode };
        let (indices, to_project): (Vec<usize>, Vec<Element>) = ready.into_iter().unzip();
        let ids: Vec<String> = to_project.iter().map(|e| e.source_id.clone()).collect();
        let (rt, p) = (self.runtime.clone(), self.projector.clone());
        let projected = tokio::task::spawn_blocking(move || {
            let size = rt.limits().batch_size.max(1);
            to_project.chunks(size).flat_map(|c| rt.project(&p, ctx, c)).collect::<Vec<_>>()
        })
        .await?;

        // Newer version wins: compare (version, content hash) with what is stored, and with
        // earlier records of this same batch.
        let mut current = self.store.current(&self.source, &ids).await?;
        for ((i, element_id), result) in indices.into_iter().zip(ids).zip(projected) {
            let (r, hash) = &records[i];
            let dialog = match result {
                Ok(d) => d,
                Err(failure) => {
                    let error = failure.to_string();
                    commit.dead.push(self.dead(r, hash, "project", Some(self.projector.label()), error.clone()));
                    fates[i] = Some(Fate::new(Outcome::Dead, Some(error)));
                    continue;
                }
            };
            let problems = validate::check(&dialog, self.now);
            if !problems.is_empty() {
                let error = format!("dialog breaks Dialogporten's rules: {}", problems.join("; "));
                commit.dead.push(self.dead(r, hash, "validate", Some(self.projector.label()), error.clone()));
                fates[i] = Some(Fate::new(Outcome::Dead, Some(error)));
                continue;
            }
            let row = DialogRow {
                id: dialog.id.clone(),
                source_id: element_id.clone(),
                source_version: r.version,
                content_hash: hash.clone(),
                party: dialog.party,
                service_resource: dialog.service_resource,
                status: dialog.status,
                system_label: dialog.system_label,
                created_at: dialog.created_at,
                updated_at: dialog.updated_at,
                transformer_hash: self.transformer.hash.clone(),
                projector_hash: self.projector.hash.clone(),
                document: dialog.document,
            };
            let newer = |c: &crate::store::Current| {
                let (mine, theirs) = ((r.version, hash.as_str()), (c.source_version, c.content_hash.as_str()));
                mine > theirs || (self.replay && mine == theirs)
            };
            let (outcome, write) = match current.get(&element_id) {
                None => (Outcome::Migrated, true),
                // Written even when the document is the same: the row records the components.
                Some(c) if newer(c) => (if c.id == row.id && c.document == row.document { Outcome::Unchanged } else { Outcome::Migrated }, true),
                // An older (or the same) version: the stored dialog stays.
                Some(_) => (Outcome::Unchanged, false),
            };
            commit.resolved.push(r.source_id.clone());
            let mut fate = Fate::new(outcome, None);
            fate.dialog_id = Some(row.id.clone());
            fates[i] = Some(fate);
            if write {
                current.insert(element_id, crate::store::Current { id: row.id.clone(), source_version: r.version, content_hash: hash.clone(), document: row.document.clone() });
                commit.upserts.push(row);
            }
        }

        for ((r, hash), fate) in records.into_iter().zip(fates) {
            let fate = fate.expect("every record has a fate");
            summary.count(fate.outcome);
            commit.staged.push(Staged {
                record: r,
                content_hash: hash,
                outcome: fate.outcome,
                reason: fate.reason,
                waiting_party: fate.waiting_party,
                dialog_id: fate.dialog_id,
            });
        }
        Ok((commit, std::mem::take(summary)))
    }
}
