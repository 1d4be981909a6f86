//! The pipeline for one source: fetched records → stage (content hash: unchanged is a no-op)
//! → transformer → party register → projector → rule check → newer-version-wins upsert,
//! committed per page with change events, dead letters and the cursor or window progress.
//!
//! The decisions are the sync core's ([`dialogsync_core::Page`]), shared with the Spin tick
//! components; this module does the host's I/O around them: the store's reads, and the
//! components' calls on wasmtime (on blocking threads).
//!
//! Every fetched record ends in exactly one bucket of [`Summary`]:
//! fetched = migrated + unchanged + skipped + waiting + dead.

use crate::runtime::bindings::types::{Dialog, Element, Party, ProjectionContext, SourceRecord, SyncMode, Transformed};
use crate::runtime::{CallFailure, Projector, Runtime, Transformer};
use crate::sources::Fetched;
use crate::sources::http::{Http, Page};
use crate::store::{Commit, Store, StoreDb};
use anyhow::Context;
use dialogsync_core::Transform;
use dialogsync_core::flow;
use dialogsync_core::page::{Components, Settings};
use std::sync::Arc;

pub use dialogsync_core::Summary;

impl dialogsync_core::page::Element for Element {
    fn source_id(&self) -> &str {
        &self.source_id
    }
    fn party_id(&self) -> Option<&str> {
        match &self.party {
            Party::PartyId(p) => Some(p),
            Party::Urn(_) => None,
        }
    }
    fn set_party_urn(&mut self, urn: String) {
        self.party = Party::Urn(urn);
    }
}

fn transform_result(r: Result<Transformed, CallFailure>) -> Result<Transform<Element>, String> {
    match r {
        Ok(Transformed::Element(e)) => Ok(Transform::Element(e)),
        Ok(Transformed::Skip(s)) => Ok(Transform::Skip { reason: s.reason, remove_existing: s.remove_existing }),
        Err(f) => Err(f.to_string()),
    }
}

fn dialog_result(r: Result<Dialog, CallFailure>) -> Result<dialogsync_sdk::types::Dialog, String> {
    let d = r.map_err(|f| f.to_string())?;
    Ok(dialogsync_sdk::types::Dialog {
        id: d.id,
        party: d.party,
        service_resource: d.service_resource,
        status: d.status,
        system_label: d.system_label,
        created_at: d.created_at,
        updated_at: d.updated_at,
        document: d.document,
    })
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
    /// The sink's settings, when one is configured: changed dialogs are queued for it.
    pub sink: Option<crate::config::SinkConfig>,
}

impl Pipeline {
    /// The pipeline of `source` with its configured transformer and the projector.
    pub fn load(config: &crate::config::Config, runtime: &Arc<Runtime>, store: &Store, source: &str, mode: SyncMode) -> anyhow::Result<Pipeline> {
        let sc = config.source(source)?;
        let transformer = crate::config::Config::component_file(&format!("the {source} transformer"), &sc.component, &sc.component_from)?;
        let projector = crate::config::Config::component_file("the projector", &config.projector, &config.projector_from)?;
        Ok(Pipeline {
            transformer: Arc::new(runtime.load_transformer(&transformer)?),
            projector: Arc::new(runtime.load_projector(&projector)?),
            runtime: runtime.clone(),
            source: source.to_string(),
            store: store.clone(),
            mode,
            now: crate::clock::micros(),
            replay: false,
            silent: sc.silent,
            sink: config.sink.clone().map(|s| s.for_source(sc.sink_silent)),
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
            sink: self.sink.clone(),
        }
    }

    /// Runs every fetched record through the pipeline, a page of `commit_records` at a time
    /// (its component calls of `batch_size` each); `progress` is called after each committed page.
    ///
    /// Page k commits while page k + 1 goes through the components, so the store's writer and
    /// wasmtime keep the two cores busy at once. Page k + 1 reads the store before page k is
    /// committed: where it read a record that page k writes (its versions, its tombstone, its
    /// dialog), it is prepared again after that commit, so every page sees what one-after-the-
    /// other would have shown it.
    pub async fn run(&self, records: impl Iterator<Item = Fetched>, mut progress: impl FnMut(&Summary)) -> anyhow::Result<Summary> {
        let limits = self.runtime.limits();
        let size = limits.commit_records.max(1);
        tracing::info!(source = %self.source, transformer = %self.transformer.label(), projector = %self.projector.label(), batch_size = limits.batch_size, commit_records = size, "sync started");
        let mut committed = Summary::default();
        let mut fetched = 0u64;
        let mut records = records.peekable();
        let mut flight: Option<(Commit, Summary)> = None;
        while records.peek().is_some() {
            let batch: Vec<Fetched> = records.by_ref().take(size).collect();
            let started = std::time::Instant::now();
            let (mut commit, s) = match flight.take() {
                None => self.prepare(batch).await?,
                Some((previous, s)) => {
                    // The commit runs as a task of its own, on another runtime thread: its
                    // statements never wait behind this page's work on this one.
                    let (store, source) = (self.store.clone(), self.source.clone());
                    let committing = tokio::spawn(async move {
                        let r = store.commit(&source, &previous).await;
                        (r, previous, started.elapsed())
                    });
                    let prepared = self.prepare_reading(batch.clone()).await;
                    let prepare_ms = started.elapsed().as_millis() as u64;
                    let (done, previous, commit_took) = committing.await.context("the commit's task")?;
                    tracing::debug!(source = %self.source, records = s.fetched, commit_ms = commit_took.as_millis() as u64, prepare_ms, "page committed beside the next one's components");
                    done?;
                    committed.add(&s);
                    progress(&committed);
                    let (commit, s, read) = prepared?;
                    let writes = previous.writes();
                    if read.iter().any(|id| writes.contains(id.as_str())) {
                        tracing::debug!(source = %self.source, "a page read records the page before it wrote: prepared again");
                        self.prepare(batch).await?
                    } else {
                        (commit, s)
                    }
                }
            };
            fetched += s.fetched;
            commit.checkpoint = Some(("backfill".into(), serde_json::json!({ "fetched": fetched }).to_string()));
            flight = Some((commit, s));
        }
        if let Some((last, s)) = flight {
            self.store.commit(&self.source, &last).await?;
            committed.add(&s);
            progress(&committed);
        }
        let summary = committed;
        tracing::info!(source = %self.source, fetched = summary.fetched, migrated = summary.migrated, unchanged = summary.unchanged,
            skipped = summary.skipped, waiting = summary.waiting, dead = summary.dead, "sync finished");
        Ok(summary)
    }

    /// How the sync core runs this pipeline's pages: its components, its mode, "now".
    pub fn settings(&self) -> Settings {
        Settings {
            source: self.source.clone(),
            components: Components {
                transformer_label: self.transformer.label(),
                transformer_hash: self.transformer.hash.clone(),
                projector_label: self.projector.label(),
                projector_hash: self.projector.hash.clone(),
            },
            now: self.now,
            replay: self.replay,
            silent: self.silent,
            sink: self.sink.as_ref().and_then(|s| s.queue(self.mode == SyncMode::Historic)),
            mode: match self.mode {
                SyncMode::Live => dialogsync_sdk::types::SyncMode::Live,
                SyncMode::Historic => dialogsync_sdk::types::SyncMode::Historic,
            },
        }
    }

    /// The host's I/O for the sync core: this pipeline's store and components, and `http` as
    /// the source where there is one.
    pub fn shell(&self, http: Option<Arc<Http>>) -> HostShell<'_> {
        HostShell { db: self.store.db(), runtime: self.runtime.clone(), transformer: self.transformer.clone(), projector: self.projector.clone(), http }
    }

    /// Runs one page of fetched records through the components (in calls of at most
    /// `batch_size` records) and returns what to commit, without committing it: the caller
    /// adds its cursor or window progress so they land in the same transaction.
    pub async fn prepare(&self, items: Vec<Fetched>) -> anyhow::Result<(Commit, Summary)> {
        flow::prepare(&mut self.shell(None), self.settings(), items).await
    }

    /// [`Pipeline::prepare`], and the source ids the page read from the store.
    async fn prepare_reading(&self, items: Vec<Fetched>) -> anyhow::Result<(Commit, Summary, std::collections::HashSet<String>)> {
        flow::prepare_reading(&mut self.shell(None), self.settings(), items).await
    }
}

/// The host's I/O under the sync core ([`flow::Shell`]): sqlx, the HTTP connector, and the
/// components on wasmtime (on blocking threads, in calls of at most `batch_size` records).
pub struct HostShell<'a> {
    db: StoreDb<'a>,
    runtime: Arc<Runtime>,
    transformer: Arc<Transformer>,
    projector: Arc<Projector>,
    http: Option<Arc<Http>>,
}

impl<'a> flow::Shell for HostShell<'a> {
    type Element = Element;
    type Db = StoreDb<'a>;
    type Error = anyhow::Error;

    fn db(&mut self) -> &mut StoreDb<'a> {
        &mut self.db
    }

    async fn fetch(&mut self, url: &str) -> anyhow::Result<Page> {
        let http = self.http.clone().context("this pipeline has no http source")?;
        let url = url.to_string();
        Ok(tokio::task::spawn_blocking(move || http.page(&url)).await??)
    }

    async fn transform(&mut self, input: Vec<dialogsync_sdk::types::SourceRecord>) -> anyhow::Result<(Vec<dialogsync_sdk::types::SourceRecord>, Vec<Result<Transform<Element>, String>>)> {
        // Payloads travel to the blocking call and back rather than being copied.
        let inputs: Vec<SourceRecord> = input
            .into_iter()
            .map(|r| SourceRecord { source_id: r.source_id, source_version: r.source_version, payload: r.payload, content_type: r.content_type })
            .collect();
        let (rt, t) = (self.runtime.clone(), self.transformer.clone());
        let (inputs, results) = tokio::task::spawn_blocking(move || {
            let out: Vec<_> = on_cores(&inputs, rt.limits().batch_size, |c| rt.transform(&t, c)).into_iter().map(transform_result).collect();
            (inputs, out)
        })
        .await?;
        let inputs = inputs
            .into_iter()
            .map(|r| dialogsync_sdk::types::SourceRecord { source_id: r.source_id, source_version: r.source_version, payload: r.payload, content_type: r.content_type })
            .collect();
        Ok((inputs, results))
    }

    async fn project(&mut self, ctx: dialogsync_sdk::types::ProjectionContext, elements: Vec<Element>) -> anyhow::Result<Vec<Result<dialogsync_sdk::types::Dialog, String>>> {
        let mode = match ctx.mode {
            dialogsync_sdk::types::SyncMode::Live => SyncMode::Live,
            dialogsync_sdk::types::SyncMode::Historic => SyncMode::Historic,
        };
        let ctx = ProjectionContext { now: ctx.now, mode };
        let (rt, p) = (self.runtime.clone(), self.projector.clone());
        Ok(tokio::task::spawn_blocking(move || on_cores(&elements, rt.limits().batch_size, |c| rt.project(&p, ctx, c)).into_iter().map(dialog_result).collect::<Vec<_>>()).await?)
    }

    fn stamp(&self) -> String {
        crate::clock::stamp()
    }

    fn now_micros(&self) -> i64 {
        crate::clock::micros()
    }
}

/// `call` over `items` in calls of at most `size`, the calls of a page larger than one (a live
/// tick's page of 1,000) spread over the machine's cores; the results in the items' order.
fn on_cores<I: Sync, O: Send>(items: &[I], size: usize, call: impl Fn(&[I]) -> Vec<O> + Sync) -> Vec<O> {
    let calls: Vec<&[I]> = items.chunks(size.max(1)).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(calls.len());
    if threads <= 1 {
        return calls.into_iter().flat_map(&call).collect();
    }
    let call = &call;
    std::thread::scope(|scope| {
        let parts: Vec<_> = calls.chunks(calls.len().div_ceil(threads)).map(|part| scope.spawn(move || part.iter().flat_map(|c| call(c)).collect::<Vec<O>>())).collect();
        parts.into_iter().flat_map(|p| p.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}
