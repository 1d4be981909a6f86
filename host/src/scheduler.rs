//! `dialogsync run`: per source, a live tick every `interval` and historic windows newest first
//! in between, plus pushed events applied at once (DESIGN.md "Scheduling").
//!
//! - **Live tick**: records changed since the source's cursor, page by page; each page commits
//!   its dialogs, change events and the new cursor in one transaction.
//! - **Historic windows** (`window_days`, default one day) from the day live sync began back to
//!   `back_to`, newest first, one page at a time so ticks and pushes stay timely; each page
//!   commits its dialogs with the window's counts and next-page URL, so a restart resumes the
//!   window where it stood.
//! - **Boundaries**: between pages the worker reads the source's state (an operator may pause
//!   it from another process), picks up changed component files, and stops on SIGINT/SIGTERM.
//! - **Several hosts, one store**: a host ticks a source only while it holds the source's `live`
//!   lease, and works a window only while it holds that window's lease; every page it commits
//!   renews the lease in the same transaction and fails if another host has taken it. A host
//!   that dies leaves leases that expire (`sync.lease`), and another host picks up its window
//!   where its last committed page left it (store/lease.rs).

use crate::clock;
use crate::config::{Config, SourceConfig};
use crate::runtime::bindings::types::SyncMode;
use crate::runtime::Runtime;
use crate::sources::http::Http;
use crate::sources::Fetched;
use crate::store::{Store, StoreError};
use crate::sync::{Pipeline, Summary};
use anyhow::{Context, Result};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use dialogsync_core::flow::{self, Bounds, Historic, History, Leases};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// What `run` should do.
pub struct RunOptions {
    /// Finish every historic window and one live tick per source, then exit.
    pub once: bool,
    /// Sources to run (empty: every configured source).
    pub sources: Vec<String>,
    /// This host's name in the store's hosts and leases.
    pub host: String,
}

/// The default host name: the machine's name and the process id.
pub fn host_name() -> String {
    format!("{}-{}", crate::store::lease::machine_name(), std::process::id())
}

/// Whether an error is a lease that passed to another host (not a failure of the source).
fn lease_lost(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<StoreError>(), Some(StoreError::LeaseLost { .. }))
        || matches!(e.downcast_ref::<dialogsync_core::db::Error<sqlx::Error>>(), Some(dialogsync_core::db::Error::LeaseLost { .. }))
}

pub use dialogsync_core::plan::{watermark, windows};

/// Items announced by pushed events and not yet applied, per source, coalesced.
#[derive(Default)]
pub struct Pushed {
    pending: Mutex<BTreeSet<String>>,
    notify: Notify,
}

/// The running sources' pushed items, and the secret each source's pushes must carry.
pub struct PushMap {
    pending: HashMap<String, Arc<Pushed>>,
    codes: HashMap<String, String>,
}

/// Altinn Events' check of a new subscription's endpoint: any 2xx validates it.
const VALIDATE: &str = "platform.events.validatesubscription";

/// The item a CloudEvent names: an app's `app.instance.*` event its instance in `source`
/// (`https://{org}.apps…/{org}/{app}/instances/{partyId}/{guid}`), else `resourceinstance`
/// (Correspondence's id; an app event's `{partyId}/{guid}`), else `subject`.
fn named_item(e: &Value) -> Option<String> {
    let field = |k: &str| e.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let app = field("type").is_some_and(|t| t.starts_with("app.instance."));
    let from_source = field("source").filter(|_| app).and_then(|s| s.rsplit_once("/instances/")).map(|(_, id)| id.trim_end_matches('/').to_string()).filter(|id| id.contains('/'));
    from_source.or_else(|| ["resourceinstance", "subject"].iter().find_map(|k| field(k)).map(str::to_string))
}

/// Accepts CloudEvents (one, or a batch array) as Altinn Events delivers them: answers the
/// subscription's validation event, checks the source's `?code=` secret (wrong or missing:
/// 401, nothing applied), and queues each named item to be fetched and applied, coalesced.
async fn receive(State(push): State<Arc<PushMap>>, Path(source): Path<String>, Query(q): Query<HashMap<String, String>>, body: axum::body::Bytes) -> axum::response::Response {
    let refuse = |code: StatusCode, error: String| (code, axum::Json(json!({ "error": error }))).into_response();
    let Some(p) = push.pending.get(&source) else {
        return refuse(StatusCode::NOT_FOUND, format!("no running source {source}"));
    };
    if let Some(code) = push.codes.get(&source)
        && q.get("code") != Some(code)
    {
        tracing::warn!(source = %source, "pushed events refused: wrong or missing code");
        return refuse(StatusCode::UNAUTHORIZED, format!("events for {source} need its code (?code=)"));
    }
    let events: Vec<Value> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(a)) => a,
        Ok(v @ Value::Object(_)) => vec![v],
        Ok(_) => return refuse(StatusCode::BAD_REQUEST, "expected a CloudEvent or an array of them".into()),
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
    };
    let mut ids = Vec::new();
    let mut validated = 0;
    for (i, e) in events.iter().enumerate() {
        if e.get("type").and_then(Value::as_str) == Some(VALIDATE) {
            tracing::info!(source = %source, subscription = %e.get("source").and_then(serde_json::Value::as_str).unwrap_or_default(), "Altinn Events subscription validated");
            validated += 1;
            continue;
        }
        match named_item(e) {
            Some(id) => ids.push(id),
            None => return refuse(StatusCode::BAD_REQUEST, format!("event {i} names no item (an app instance in source, resourceinstance or subject)")),
        }
    }
    if ids.is_empty() && validated > 0 {
        return (StatusCode::OK, axum::Json(json!({ "validated": validated }))).into_response();
    }
    let (accepted, coalesced) = {
        let mut pending = p.pending.lock().unwrap();
        let before = pending.len();
        pending.extend(ids.iter().cloned());
        (ids.len(), ids.len() - (pending.len() - before))
    };
    p.notify.notify_one();
    (StatusCode::ACCEPTED, axum::Json(json!({ "accepted": accepted, "coalesced": coalesced }))).into_response()
}

fn file_stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// One source's worker.
struct Worker {
    name: String,
    sc: SourceConfig,
    config: Arc<Config>,
    store: Store,
    http: Arc<Http>,
    /// The source's pipeline with its current components (swapped at page boundaries).
    base: Pipeline,
    stamps: [Option<(SystemTime, u64)>; 2],
    pushed: Arc<Pushed>,
    stop: watch::Receiver<bool>,
    host: Arc<str>,
    /// The window this host is working, kept until it is done.
    current: Option<NaiveDate>,
}

impl Worker {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    fn pipeline(&self, mode: SyncMode) -> Pipeline {
        self.base.with_mode(mode)
    }

    /// Waits until `until`, a push, or a stop.
    async fn wait(&mut self, until: Instant) {
        let pushed = self.pushed.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = pushed.notify.notified() => {}
            _ = self.stop.changed() => {}
        }
    }

    async fn run(mut self, once: bool) -> Result<()> {
        let state = self.store.begin_source(&self.name).await?;
        let live_since = state.live_since.unwrap_or_else(clock::micros);
        let interval = self.config.sync.interval;
        let poll = interval.min(Duration::from_secs(2));
        let mut next_tick = Instant::now();
        let mut ticked = false;
        tracing::info!(source = %self.name, transformer = %self.base.transformer.label(), "source started");
        while !self.stopped() {
            let state = self.store.source_state(&self.name).await?.context("source state")?;
            if state.state != "running" {
                if once {
                    println!("{}: {} ({}), not run", self.name, state.state, state.reason.unwrap_or_default());
                    break;
                }
                self.wait(Instant::now() + poll).await;
                continue;
            }
            // A tick boundary: pick up changed component files.
            self.swap_if_changed().await?;
            if !self.pushed.pending.lock().unwrap().is_empty() {
                if let Err(e) = self.apply_pushed().await {
                    tracing::warn!(source = %self.name, error = %format!("{e:#}"), "pushed events failed; the next tick catches up");
                }
                continue;
            }
            if Instant::now() >= next_tick {
                ticked = true;
                if !self.store.acquire(&self.name, "live", &self.host, self.leases().live().ttl_micros).await? {
                    tracing::debug!(source = %self.name, "another host ticks this source");
                    next_tick = Instant::now() + interval;
                    continue;
                }
                let started = Instant::now();
                let result = self.tick(live_since).await;
                let took_ms = started.elapsed().as_millis() as i64;
                // Counted from the tick's end: a tick slower than the interval leaves room for
                // history.
                next_tick = Instant::now() + interval;
                let error = result.as_ref().err().map(|e| format!("{e:#}"));
                match &result {
                    Ok(s) => {
                        // Lag: the age of the newest change the source has shown this tick or before.
                        let cursor = self.store.cursor_micros(&self.name).await?.unwrap_or(live_since);
                        let lag = (clock::micros() - cursor).max(0) / 1_000_000;
                        tracing::info!(source = %self.name, fetched = s.fetched, migrated = s.migrated, unchanged = s.unchanged, skipped = s.skipped, waiting = s.waiting, dead = s.dead, lag = %dialogsync_core::status::span(lag), took_ms, "live tick")
                    }
                    Err(e) if lease_lost(e) => {
                        tracing::warn!(source = %self.name, error = %format!("{e:#}"), "live tick stopped: another host ticks this source now");
                        continue;
                    }
                    Err(e) => tracing::warn!(source = %self.name, error = %format!("{e:#}"), "live tick failed"),
                }
                if let Some(reason) = self.store.tick_finished(&self.name, &self.host, error.as_deref(), self.config.sync.max_failed_ticks, took_ms).await? {
                    tracing::error!(source = %self.name, reason = %reason, "source paused itself");
                }
                continue;
            }
            match self.historic_page(live_since).await {
                Ok(Historic::Worked) => continue,
                Ok(Historic::Done) if once && ticked => break,
                Ok(Historic::Done) => {}
                // Windows other hosts hold: look again soon (a dead host's lease expires).
                Ok(Historic::Held) => {
                    self.wait(next_tick.min(Instant::now() + poll)).await;
                    continue;
                }
                Err(e) if lease_lost(&e) => {
                    tracing::warn!(source = %self.name, error = %format!("{e:#}"), "historic page dropped: another host works this window now");
                    self.current = None;
                    continue;
                }
                Err(e) => {
                    // Retried after the next tick; a source that is down fails its ticks too.
                    tracing::warn!(source = %self.name, error = %format!("{e:#}"), "historic page failed");
                    if once {
                        return Err(e.context("historic window"));
                    }
                }
            }
            self.wait(next_tick).await;
        }
        tracing::info!(source = %self.name, "source stopped");
        Ok(())
    }

    /// The leases this host works under: the live one must outlast the time between two ticks.
    fn leases(&self) -> Leases {
        Leases {
            holder: self.host.to_string(),
            live_ttl_micros: (self.config.sync.interval + self.config.sync.lease).as_micros() as i64,
            window_ttl_micros: self.config.sync.lease.as_micros() as i64,
        }
    }

    /// Live tick (the sync core's [`flow::live_tick`]): the records that waited for a party,
    /// then every page of changes since the cursor, each committed with its cursor.
    async fn tick(&mut self, live_since: i64) -> Result<Summary> {
        let pipeline = self.pipeline(SyncMode::Live);
        let mut shell = pipeline.shell(Some(self.http.clone()));
        let overlap = self.config.sync.live_overlap.as_micros() as i64;
        let stop = self.stop.clone();
        let stopped = move || *stop.borrow();
        let bounds = Bounds { max_pages: None, stop: &stopped };
        let (summary, _) = flow::live_tick(&mut shell, &pipeline.settings(), self.http.api(), &self.leases(), live_since, overlap, &bounds).await?;
        Ok(summary)
    }

    /// One page of a historic window (the sync core's [`flow::historic_step`]).
    async fn historic_page(&mut self, live_since: i64) -> Result<Historic> {
        let history = History { live_since, back_to: self.sc.back_to_day(live_since), window_days: self.sc.window_days };
        let pipeline = self.pipeline(SyncMode::Historic);
        let mut shell = pipeline.shell(Some(self.http.clone()));
        flow::historic_step(&mut shell, &pipeline.settings(), self.http.api(), &self.leases(), &history, &mut self.current).await
    }

    /// Fetches the items pushed events announced (each once, however often announced) and
    /// applies them as live changes.
    async fn apply_pushed(&mut self) -> Result<()> {
        tokio::time::sleep(self.config.sync.push_delay).await;
        let ids: Vec<String> = std::mem::take(&mut *self.pushed.pending.lock().unwrap()).into_iter().collect();
        let http = self.http.clone();
        let fetched: Vec<Fetched> = tokio::task::spawn_blocking(move || -> Result<Vec<Fetched>> {
            let mut out = Vec::new();
            for id in &ids {
                match http.item(id)? {
                    Some(f) => out.push(f),
                    None => tracing::info!(item = %id, "pushed item no longer exists at the source; the next tick settles it"),
                }
            }
            Ok(out)
        })
        .await??;
        let (commit, s) = self.pipeline(SyncMode::Live).prepare(fetched).await?;
        self.store.commit(&self.name, &commit).await?;
        tracing::info!(source = %self.name, fetched = s.fetched, migrated = s.migrated, "pushed events applied");
        Ok(())
    }

    /// Reloads a component whose file changed; the changelog records the swap.
    async fn swap_if_changed(&mut self) -> Result<()> {
        let paths = [self.sc.component.clone(), self.config.projector.clone()];
        for (k, path) in paths.iter().enumerate() {
            let stamp = file_stamp(path);
            if stamp == self.stamps[k] {
                continue;
            }
            let (rt, p) = (self.base.runtime.clone(), path.clone());
            let old = if k == 0 { self.base.transformer.label() } else { self.base.projector.label() };
            let loaded = tokio::task::spawn_blocking(move || {
                if k == 0 { rt.load_transformer(&p).map(|t| (Some(t), None)) } else { rt.load_projector(&p).map(|p| (None, Some(p))) }
            })
            .await?;
            match loaded {
                Ok((t, p)) => {
                    self.stamps[k] = stamp;
                    let new = match (t, p) {
                        (Some(t), _) if t.hash != self.base.transformer.hash => {
                            let l = t.label();
                            self.base.transformer = Arc::new(t);
                            l
                        }
                        (_, Some(p)) if p.hash != self.base.projector.hash => {
                            let l = p.label();
                            self.base.projector = Arc::new(p);
                            l
                        }
                        _ => continue,
                    };
                    let role = if k == 0 { "transformer" } else { "projector" };
                    tracing::info!(source = %self.name, component = %new, old = %old, "component swapped");
                    let data = json!({ "role": role, "from": old, "to": new });
                    self.store.log_data(Some(&self.name), "component", &format!("{role} swapped: {old} → {new}"), Some(data)).await?;
                }
                // A file caught half-written: keep the running component, try again next boundary.
                Err(e) => tracing::warn!(source = %self.name, path = %path.display(), error = %e, "changed component does not load; keeping the running one"),
            }
        }
        Ok(())
    }
}

/// Runs every source until `stop` (or, with `once`, until each has finished its history).
pub async fn run(config: Config, store: Store, opts: RunOptions, stop: watch::Receiver<bool>) -> Result<()> {
    let asked: Vec<String> = if opts.sources.is_empty() { config.sources.keys().cloned().collect() } else { opts.sources.clone() };
    anyhow::ensure!(!asked.is_empty(), "no sources configured: add [sources.NAME] sections with connector = \"http\" (see `dialogsync init`)");
    // Live sync reads an API; a files source is migrated by `backfill` instead.
    let mut names = Vec::new();
    for name in asked {
        match config.source(&name)?.connector.as_str() {
            "http" | "altinn-storage" | "altinn-correspondence" => names.push(name),
            other => eprintln!("{name}: connector `{other}` has no live sync; skipped (migrate it with `dialogsync backfill --source {name}`)"),
        }
    }
    anyhow::ensure!(!names.is_empty(), "no source to run: `run` syncs sources with connector = \"http\"; files sources are migrated by `dialogsync backfill`");
    let config = Arc::new(config);
    let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
    let mut pushed: HashMap<String, Arc<Pushed>> = HashMap::new();
    // One Maskinporten client for every source that reads Altinn with its tokens.
    let maskinporten = config.maskinporten.as_ref().map(crate::maskinporten::Maskinporten::new).transpose()?.map(Arc::new);
    let mut workers = Vec::new();
    for name in &names {
        let sc = config.source(name)?;
        let p = Arc::new(Pushed::default());
        pushed.insert(name.clone(), p.clone());
        workers.push(Worker {
            name: name.clone(),
            http: Arc::new(Http::new(name, &sc)?.with_maskinporten(&sc, maskinporten.as_ref())),
            base: Pipeline::load(&config, &runtime, &store, name, SyncMode::Live).with_context(|| format!("source {name}"))?,
            stamps: [file_stamp(&sc.component), file_stamp(&config.projector)],
            sc,
            config: config.clone(),
            store: store.clone(),
            pushed: p,
            stop: stop.clone(),
            host: opts.host.as_str().into(),
            current: None,
        });
    }
    // One name, one process: a second `run --host NAME` while NAME runs would share its leases.
    if store.host_alive(&opts.host).await? {
        anyhow::bail!(
            "host `{}` is already running on this store (seen within its {} heartbeat); stop it, or give this one another --host (a killed host counts as gone once its heartbeat lapses)",
            opts.host,
            humantime::format_duration(config.sync.lease)
        );
    }
    store.register_host(&opts.host, config.sync.lease).await?;
    let beat = {
        let (store, host, every) = (store.clone(), opts.host.clone(), (config.sync.lease / 3).max(Duration::from_millis(200)));
        let mut stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                if let Err(e) = store.heartbeat(&host).await {
                    tracing::warn!(host = %host, error = %e, "heartbeat not recorded");
                }
            }
        })
    };
    // The Dialogporten sink's sender: always draining while the host runs (`--once`: at the end).
    let sink = crate::sink::Sink::from_config(&config, &opts.host)?.map(Arc::new);
    let sender = match (&sink, opts.once) {
        (Some(sink), false) => Some(tokio::spawn(crate::sink::keep_sending(sink.clone(), store.clone(), stop.clone()))),
        _ => None,
    };
    tracing::info!(host = %opts.host, sources = %names.join(", "), interval = %humantime::format_duration(config.sync.interval), "run started");
    if let Some(listen) = &config.sync.listen {
        // The same address serves the API (as `dialogsync serve`) and takes pushed events.
        let api = Arc::new(crate::api::ApiState { keys: crate::api::keys(&config)?, store: store.clone(), config: (*config).clone() });
        let mut codes = HashMap::new();
        for name in &names {
            if let Some(code) = config.source(name)?.events_code {
                codes.insert(name.clone(), code);
            }
        }
        let push = axum::Router::new().route("/sources/{source}/events", axum::routing::post(receive)).with_state(Arc::new(PushMap { pending: pushed, codes }));
        let app = crate::api::router(api).merge(push);
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
        tracing::info!(address = %listener.local_addr()?, "accepting pushed events");
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "event endpoint failed");
            }
        });
    }
    let tasks: Vec<_> = workers.into_iter().map(|w| tokio::spawn(w.run(opts.once))).collect();
    let mut failed = Vec::new();
    for (name, t) in names.iter().zip(tasks) {
        if let Err(e) = t.await? {
            failed.push(format!("{name}: {e:#}"));
        }
    }
    if let Some(sender) = sender {
        let _ = sender.await;
    } else if let Some(sink) = &sink {
        let sent = sink.drain(&store).await?;
        tracing::info!(sink = "dialogporten", created = sent.created, updated = sent.updated, deleted = sent.deleted, purged = sent.purged, retried = sent.retried, dead = sent.dead, scheduled = sent.scheduled, busy = sent.busy, "sent to Dialogporten");
    }
    beat.abort();
    store.host_stopped(&opts.host).await?;
    anyhow::ensure!(failed.is_empty(), "{}", failed.join("; "));
    Ok(())
}
