//! One cron event: tick one source through the sync core, bounded (the cron trigger sets no
//! deadline): at most `max_pages` pages and `budget_ms` of time; live changes first, then at
//! most one historic window. What is left waits for the next event.

use crate::spin::{SpinShell, TickError};
use dialogsync_core::db;
use dialogsync_core::flow::{self, Bounds, Historic, History, Leases};
use dialogsync_core::page::{Components, Settings};
use dialogsync_core::source::{Api, RecordKeys, known};
use dialogsync_sdk::types::SyncMode;
use serde::Serialize;
use spin_shell::db::SpinDb;
use spin_shell::env::{back_to, list, now_micros, number, run_now, stamp, var};
use spin_shell::http::{json, method_and_path, respond};
use spin_shell::wasi::clocks::monotonic_clock;
use spin_shell::wasi::http::types::{IncomingRequest, Method, ResponseOutparam};

/// The tick's configuration: Spin variables of its component (docs/deploy-spin.md).
pub struct Config {
    pub source: String,
    pub store: String,
    pub api: Api,
    pub holder: String,
    pub interval_secs: i64,
    pub lease_secs: i64,
    pub overlap_secs: i64,
    pub back_to: Option<chrono::NaiveDate>,
    pub window_days: u32,
    pub max_pages: usize,
    pub budget_ms: u64,
    pub batch_size: usize,
    pub max_failed_ticks: u32,
    pub silent: bool,
    pub components: Components,
}

impl Config {
    pub fn from_variables() -> Result<Config, String> {
        let source = var("source").ok_or("variable `source` is not set: name the source this component ticks")?;
        let url = var("source_url").ok_or_else(|| format!("variable `source_url` is not set: where {source}'s records are"))?;
        let k = known(&source);
        let keys = RecordKeys {
            id_field: var("id_field").or(k.map(|k| k.id_field.to_string())).ok_or_else(|| format!("{source} is not a built-in source: set `id_field`"))?,
            version_fields: list(var("version_fields"), k.map_or(&[][..], |k| k.version_fields)),
            created_fields: list(var("created_fields"), k.map_or(&[][..], |k| k.created_fields)),
        };
        if keys.version_fields.is_empty() {
            return Err(format!("{source} is not a built-in source: set `version_fields`"));
        }
        let items = var("items").or(k.map(|k| k.items.to_string()));
        let api = Api::new(&url, items.as_deref(), &var("next").unwrap_or_else(|| "/next".into()), number("page_size", 200)?, keys);
        let back_to = back_to()?;
        let transformer = var("transformer").unwrap_or_else(|| source.clone());
        Ok(Config {
            store: var("store").unwrap_or_else(|| "sqlite".into()),
            holder: var("host").unwrap_or_else(|| format!("spin-{source}")),
            interval_secs: number("interval_secs", 300)?,
            lease_secs: number("lease_secs", 60)?,
            overlap_secs: number("live_overlap_secs", 5)?,
            back_to,
            window_days: number("window_days", 1)?,
            max_pages: number("max_pages", 10)?,
            budget_ms: number("budget_ms", 20_000)?,
            batch_size: number("batch_size", 100)?,
            max_failed_ticks: number("max_failed_ticks", 5)?,
            silent: var("silent").is_some_and(|v| v == "true"),
            components: Components {
                transformer_label: format!("{transformer}@spin"),
                transformer_hash: var("transformer_hash").unwrap_or_default(),
                projector_label: "dialog-projector@spin".into(),
                projector_hash: var("projector_hash").unwrap_or_default(),
            },
            api,
            source,
        })
    }
}

/// What one event did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub live_pages_left: bool,
    pub live: dialogsync_core::Summary,
    pub historic_pages: usize,
}

/// The cron event.
pub fn run(_timestamp: u64) -> Result<(), String> {
    let config = Config::from_variables()?;
    tick(&config).map(|_| ())
}

/// A manual tick (`POST` on the component's route, `/tick/SOURCE` in spin.toml): one bounded
/// tick, as a cron event does, answered with what it did.
pub fn manual(request: &IncomingRequest, out: ResponseOutparam) {
    let (method, path) = method_and_path(request);
    if !matches!(method, Method::Post) {
        return respond(out, 405, "text/plain", format!("{path}: POST runs one tick of this component's source\n").as_bytes());
    }
    // With a `tick_token`, only a caller that has it may tick (the route is as public as the app).
    if let Some(token) = var("tick_token") {
        let given = request.headers().get("authorization");
        if !given.iter().any(|v| v.as_slice() == format!("Bearer {token}").as_bytes()) {
            return respond(out, 401, "text/plain", b"a manual tick needs `authorization: Bearer TICK_TOKEN`\n");
        }
    }
    let mut config = match Config::from_variables() {
        Ok(c) => c,
        Err(e) => return respond(out, 500, "text/plain", format!("{e}\n").as_bytes()),
    };
    // A worker of its own: a manual tick and a cron event running at once exclude each other
    // through the source's leases, as two hosts do.
    config.holder = format!("{}-manual", config.holder);
    match tick(&config) {
        Ok(report) => json(out, 200, &serde_json::json!({ "source": config.source, "tick": report })),
        Err(e) => respond(out, 502, "text/plain", format!("{e}\n").as_bytes()),
    }
}

/// One bounded tick of `config.source`.
pub fn tick(config: &Config) -> Result<Report, String> {
    let started = monotonic_clock::now();
    let budget_ns = config.budget_ms.saturating_mul(1_000_000);
    let spent = move || monotonic_clock::now().saturating_sub(started) >= budget_ns;
    let mut shell = SpinShell { db: SpinDb::open(&config.store)?, api: config.api.clone(), batch_size: config.batch_size };
    run_now(async { run_tick(config, &mut shell, &spent).await.map_err(|e| format!("{}: {}", config.source, e.0)) })?
}

async fn run_tick(config: &Config, shell: &mut SpinShell, spent: &(dyn Fn() -> bool + Sync)) -> Result<Report, TickError> {
    let source = &config.source;
    // A new database gets the store's schema; a host opening it later finds it migrated.
    dialogsync_core::migrate::migrate(&mut shell.db).await?;
    let now = now_micros();
    let state = db::begin_source(&mut shell.db, source, &stamp(), now).await?;
    // Seen in the status page's hosts, as a `dialogsync run` process is.
    // Alive until one interval and a lease after this event: the next cron event renews it.
    db::register_host(&mut shell.db, &config.holder, &stamp(), (config.interval_secs + config.lease_secs) * 1_000_000, None).await?;
    let mut report = Report::default();
    if state.state != "running" {
        return Ok(report);
    }
    let live_since = state.live_since.unwrap_or(now);
    let settings = Settings { source: source.clone(), components: config.components.clone(), now, replay: false, silent: config.silent, sink: None, mode: SyncMode::Live };
    let leases = Leases {
        holder: config.holder.clone(),
        live_ttl_micros: (config.interval_secs + config.lease_secs) * 1_000_000,
        window_ttl_micros: config.lease_secs * 1_000_000,
    };
    let bounds = Bounds { max_pages: Some(config.max_pages.max(1)), stop: spent };

    if db::acquire(&mut shell.db, source, "live", &leases.holder, leases.live_ttl_micros).await? {
        let t0 = monotonic_clock::now();
        let result = flow::live_tick(shell, &settings, &config.api, &leases, live_since, config.overlap_secs * 1_000_000, &bounds).await;
        let took_ms = (monotonic_clock::now().saturating_sub(t0) / 1_000_000) as i64;
        let error = result.as_ref().err().map(|e| e.0.clone());
        db::tick_finished(&mut shell.db, source, &leases.holder, error.as_deref(), config.max_failed_ticks, took_ms, &stamp()).await?;
        // Unlike a host, which keeps live sync between its ticks, an event ends here: the next
        // one (a cron event, a manual tick, or a host) takes the lease at once.
        db::release(&mut shell.db, source, "live", &leases.holder).await?;
        let (summary, left) = result?;
        report.live = summary;
        report.live_pages_left = left;
        if left {
            return Ok(report);
        }
    }

    // History with what is left of the event: one window at most.
    let history = History { live_since, back_to: config.back_to, window_days: config.window_days };
    let mut current = None;
    while report.historic_pages < config.max_pages && !spent() {
        match flow::historic_step(shell, &settings, &config.api, &leases, &history, &mut current).await? {
            Historic::Worked => report.historic_pages += 1,
            Historic::Held | Historic::Done => break,
        }
        if current.is_none() {
            break;
        }
    }
    // The window left unfinished is free for whoever comes next (it resumes at its next page).
    if let Some(first) = current {
        let fence = leases.window(first);
        db::release(&mut shell.db, source, &fence.name, &fence.holder).await?;
    }
    Ok(report)
}
