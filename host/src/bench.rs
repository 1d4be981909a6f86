//! `dialogsync bench`: the measurements BENCHMARKS.md records, printed as one table.
//!
//! - **Backfill**: generated records of all four sources (the generator's realistic sizes and
//!   defects) from NDJSON files to committed rows, through the same pipeline `backfill` runs, on
//!   SQLite and (with `--postgres`) PostgreSQL. Each backfill runs in a child process of its
//!   own, so its peak resident memory is its own.
//! - **WASM vs native**: the same transformer and projector logic, compiled natively into this
//!   binary and as the built components, over the same records in one process.
//! - **Instantiate**: a fresh store and instance from the transformer's `InstancePre`.
//! - **Live tick**: 1,000 changed records through the live pipeline and one commit.
//! - **Memory**: peak resident set of a backfill at `--records` and at `--memory-records`.
//! - **Ceiling**: what the same store takes at most: rows as large as a record's payload and
//!   its dialog document (measured in the backfill's store), `limits.commit_records` a transaction,
//!   into one table with an integer key and nothing else; the backfill reads as a fraction of it.
//! - **Sink**: a backfill of `--sink-records` with the Dialogporten sink off, then on, aimed at
//!   a local `dialogsync serve` (its own SQLite store): the backfill's rate with the outbox
//!   queued in its commits, and the dialogs per second the sender delivers (`[sink] parallel`).

use crate::config::Config;
use crate::runtime::Runtime;
use crate::runtime::bindings::types::{Party, ProjectionContext, SourceRecord, SyncMode, Transformed};
use crate::sources::{Fetched, RawRecord, files};
use crate::store::Store;
use crate::sync::Pipeline;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const SOURCES: [&str; 4] = ["a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence"];

pub struct Options {
    /// Records in the backfill benchmarks (spread over the four sources).
    pub records: usize,
    /// A second, larger backfill whose peak memory is compared with the first (0: none).
    pub memory_records: usize,
    /// A PostgreSQL server (`postgres://USER@HOST:PORT/DB`): its backfill runs in a fresh
    /// database `dialogsync_bench` there.
    pub postgres: Option<String>,
    /// Records per source for the WASM-vs-native comparison.
    pub sample: usize,
    /// Where the generated data and the stores go.
    pub dir: PathBuf,
    /// Records in the sink benchmark (0: none).
    pub sink_records: usize,
}

/// What a backfill child reports.
#[derive(Debug, Serialize, Deserialize)]
pub struct Backfilled {
    pub records: u64,
    pub migrated: u64,
    pub seconds: f64,
    pub peak_rss_mib: f64,
    /// With a sink: dialogs it sent, and the seconds the sending took (after the backfill).
    #[serde(default)]
    pub sent: u64,
    #[serde(default)]
    pub send_seconds: f64,
}

/// Generated data for `n` records: `DIR/data-N/SOURCE/SOURCE.ndjson` and its `parties.csv`,
/// made once and kept.
fn data(dir: &Path, n: usize) -> Result<PathBuf> {
    let out = dir.join(format!("data-{n}"));
    let done = out.join(".complete");
    if done.exists() {
        return Ok(out);
    }
    for (i, source) in SOURCES.iter().enumerate() {
        let count = n / SOURCES.len() + usize::from(i < n % SOURCES.len());
        eprintln!("generating {count} {source} records…");
        crate::generate::generate(crate::generate::Options {
            source: source.to_string(),
            count,
            from: "2016-01-01".parse()?,
            to: "2025-12-31".parse()?,
            seed: 7 + i as u64,
            bad_ratio: 0.001,
            out: out.join(source),
        })?;
    }
    std::fs::write(&done, "")?;
    Ok(out)
}

/// Peak resident memory of this process so far.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

/// The child's side: backfills every source under `data` into `store`, after importing their
/// party registers.
pub async fn child_backfill(config: &Config, store: &Store, data: &Path) -> Result<Backfilled> {
    for source in SOURCES {
        let file = data.join(source).join("parties.csv");
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        // A source whose records name their parties directly has a register of no entries.
        if text.lines().skip(1).all(|l| l.trim().is_empty()) {
            continue;
        }
        store.import_parties(&crate::parties::parse(&file.display().to_string(), &text)?).await?;
    }
    let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
    let started = Instant::now();
    let (mut records, mut migrated) = (0, 0);
    for source in SOURCES {
        let pipeline = Pipeline::load(config, &runtime, store, source, SyncMode::Historic)?;
        let dir = data.join(source);
        let input = files::read(&dir, config.source(source)?.keys)?;
        let s = pipeline.run(input, |_| {}).await?;
        records += s.fetched;
        migrated += s.migrated;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (mut sent, mut send_seconds) = (0, 0.0);
    if let Some(sink) = crate::sink::Sink::from_config(config, "bench")?.map(std::sync::Arc::new) {
        let started = Instant::now();
        let s = sink.drain(store).await?;
        anyhow::ensure!(s.retried == 0 && s.dead == 0, "the sink failed sends: {s:?}");
        (sent, send_seconds) = (s.created + s.updated + s.deleted, started.elapsed().as_secs_f64());
    }
    Ok(Backfilled { records, migrated, seconds, peak_rss_mib: peak_rss_mib(), sent, send_seconds })
}

/// A local `dialogsync serve` for the sink to send to: its own store under `dir`, owning
/// every resource. Killed when dropped.
struct LocalDialogporten {
    child: std::process::Child,
    url: String,
    token: String,
}

impl LocalDialogporten {
    fn start(dir: &Path) -> Result<LocalDialogporten> {
        use std::io::BufRead;
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        // The store's path is read from the config's folder: absolute, so it is this one.
        let dir = &std::path::absolute(dir)?;
        let config = dir.join("dialogsync.toml");
        std::fs::write(&config, format!("store = \"sqlite://{}\"\n[api.service_owners.912345678]\nresources = [\"urn:altinn:resource:*\"]\n", dir.join("dialogporten.db").display()))?;
        let exe = std::env::current_exe()?;
        let out = std::process::Command::new(&exe).arg("--config").arg(&config).args(["token", "--org", "912345678", "--ttl", "12h"]).output()?;
        anyhow::ensure!(out.status.success(), "dialogsync token: {}", String::from_utf8_lossy(&out.stderr));
        let token = String::from_utf8(out.stdout)?.trim().to_string();
        let mut child = std::process::Command::new(&exe)
            .arg("--config")
            .arg(&config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DIALOGSYNC_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().context("serve's stdout")?).read_line(&mut line)?;
        let url = line.trim().strip_prefix("listening on ").with_context(|| format!("serve said {line:?}"))?.to_string();
        Ok(LocalDialogporten { child, url, token })
    }
}

impl Drop for LocalDialogporten {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rows of the sink benchmark: `n` records backfilled with the sink off, then on.
fn sink_rows(config_path: Option<&Path>, dir: &Path, n: usize, parallel: usize) -> Result<Vec<[String; 3]>> {
    let data = data(dir, n)?;
    let fresh = |name: &str| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
        }
        format!("sqlite://{}", dir.join(name).display())
    };
    eprintln!("backfill of {n} records, the sink off…");
    let off = backfill(config_path, &data, &fresh("sink-off.db"))?;
    let b = LocalDialogporten::start(&dir.join("dialogporten"))?;
    let base = config_path.map(std::fs::read_to_string).transpose()?.unwrap_or_default();
    let with_sink = dir.join("sink.toml");
    std::fs::write(&with_sink, format!("{base}\n[sink]\nkind = \"dialogporten\"\nurl = \"{}\"\ntoken = \"{}\"\nparallel = {parallel}\nrate_limit = 100000\n", b.url, b.token))?;
    eprintln!("backfill of {n} records, the sink on, to a local serve…");
    let on = backfill(Some(&with_sink), &data, &fresh("sink-on.db"))?;
    drop(b);
    let rate = |b: &Backfilled| thousands(b.records as f64 / b.seconds);
    Ok(vec![
        [format!("backfill, SQLite, {} records, sink off → on (outbox queued in each commit)", thousands(n as f64)), format!("**{} → {} records/s**", rate(&off), rate(&on)), "the outbox costs ≤ 10 %".into()],
        [
            format!("sink: dialogs sent to a local `serve` ({parallel} in parallel, SQLite behind it)"),
            format!("**{} dialogs/s** ({} in {:.0} s)", thousands(on.sent as f64 / on.send_seconds), thousands(on.sent as f64), on.send_seconds),
            "Dialogporten's own pace is the bound".into(),
        ],
    ])
}

/// Runs a backfill of `data` into `store` in a child process.
fn backfill(config_path: Option<&Path>, data: &Path, store: &str) -> Result<Backfilled> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    if let Some(c) = config_path {
        cmd.arg("--config").arg(c);
    }
    let out = cmd.args(["--store", store, "bench", "--child-backfill"]).arg(data).stderr(std::process::Stdio::inherit()).output()?;
    anyhow::ensure!(out.status.success(), "the backfill into {store} failed");
    serde_json::from_slice(&out.stdout).context("the backfill's report")
}

/// Mean bytes a record brought and left in the store `url` of a finished backfill: its raw
/// payload and its dialog document.
async fn bytes_per_record(url: &str) -> Result<usize> {
    use dialogsync_core::db::{Db, Statement};
    let store = Store::open(url).await?;
    let mut db = store.db();
    let mean = |sql: &'static str| Statement::new(sql);
    let payload = db.query(mean("SELECT CAST(COALESCE(AVG(LENGTH(payload)), 0) AS BIGINT) FROM raw_records")).await?;
    let document = db.query(mean("SELECT CAST(COALESCE(AVG(LENGTH(document)), 0) AS BIGINT) FROM dialogs")).await?;
    let n = (payload[0].int(0) + document[0].int(0)) as usize;
    store.close().await;
    Ok(n.max(1))
}

/// The store's ceiling: `rows` rows of `bytes` bytes each (random text, which neither database
/// compresses away), `batch` to a transaction as the backfill commits its pages, into one table
/// with an integer key and nothing else, on a connection opened as the backfill's. Rows/s.
async fn ceiling(url: &str, rows: usize, bytes: usize, batch: usize) -> Result<f64> {
    use dialogsync_core::db::{CHUNK, Db, Statement};
    use rand::{Rng, SeedableRng};
    let store = Store::open_unmigrated(url).await?;
    let mut db = store.db();
    db.execute(Statement::new("DROP TABLE IF EXISTS ceiling")).await?;
    db.execute(Statement::new("CREATE TABLE ceiling (id BIGINT PRIMARY KEY, bytes TEXT NOT NULL)")).await?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let texts: Vec<String> = (0..64).map(|_| (0..bytes).map(|_| char::from(rng.random_range(b'!'..=b'~'))).collect()).collect();
    let started = Instant::now();
    let mut id = 0i64;
    while (id as usize) < rows {
        let page = batch.min(rows - id as usize);
        db.begin("ceiling").await?;
        let mut left = page;
        while left > 0 {
            let n = left.min(CHUNK);
            let sql = format!("INSERT INTO ceiling (id, bytes) VALUES {}", db.dialect().values(n, 2));
            let mut q = Statement::once(sql);
            for _ in 0..n {
                q = q.bind(id).bind(&texts[id as usize % texts.len()]);
                id += 1;
            }
            db.execute(q).await?;
            left -= n;
        }
        db.commit().await?;
    }
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    db.execute(Statement::new("DROP TABLE ceiling")).await?;
    store.close().await;
    Ok(rate)
}

/// The ceiling row of the store `url`, and the backfill `b` as a fraction of it.
async fn ceiling_row(name: &str, url: &str, b: &Backfilled, batch: usize) -> Result<[String; 3]> {
    let bytes = bytes_per_record(url).await?;
    let rate = ceiling(url, b.records as usize, bytes, batch).await?;
    let backfill = b.records as f64 / b.seconds;
    Ok([
        format!("ceiling, {name}: {} rows of {bytes} bytes (payload + document), {batch} a transaction", thousands(b.records as f64)),
        format!("**{} rows/s**; the backfill is **{:.0} %** of it", thousands(rate), backfill / rate * 100.0),
        "backfill ≥ 60 % (SQLite), ≥ 50 % (PostgreSQL)".into(),
    ])
}

/// Searches of the store `url` after its backfill, as the API runs them (a snapshot of the
/// matches, then their first page of 100): `n` end users, each representing one party of the
/// stored dialogs; and `n` service-owner searches of one service resource each (up to the
/// snapshot's 100,000 matches). Each list of times in order.
async fn search_times(url: &str, n: usize) -> Result<(usize, Vec<Duration>, Vec<Duration>)> {
    use crate::store::{Audience, Deleted, Search};
    use dialogsync_core::db::{Db, Statement};
    let store = Store::open(url).await?;
    let texts = async |sql: &'static str| -> Result<Vec<String>> { Ok(store.db().query(Statement::new(sql)).await?.iter().map(|r| r.text(0)).collect()) };
    let parties = texts("SELECT party FROM dialogs ORDER BY id").await?;
    let resources = texts("SELECT DISTINCT service_resource FROM dialogs ORDER BY service_resource").await?;
    anyhow::ensure!(!parties.is_empty(), "no dialogs to search");
    let pick = |all: &[String], i: usize| all[(i * 7919) % all.len()].clone();
    let time = async |token: String, audience: Audience, search: Search| -> Result<Duration> {
        let started = Instant::now();
        store.begin_search(&token, &search).await?;
        let (page, _) = store.search_page(&token, 0, 100, &audience, Deleted::Exclude).await?;
        anyhow::ensure!(!page.is_empty(), "a search found nothing");
        Ok(started.elapsed())
    };
    let (mut users, mut owners) = (Vec::new(), Vec::new());
    for i in 0..n {
        let party = Audience::Parties(vec![pick(&parties, i)]);
        users.push(time(format!("bench-user-{i}"), party.clone(), Search::new(party)).await?);
        let resource = Audience::Resources(vec![pick(&resources, i)]);
        owners.push(time(format!("bench-owner-{i}"), resource.clone(), Search::new(resource)).await?);
    }
    store.close().await;
    Ok((parties.len(), users, owners))
}

/// The search rows of the store `url`.
async fn search_rows(name: &str, url: &str) -> Result<Vec<[String; 3]>> {
    let (dialogs, users, owners) = search_times(url, 50).await?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let row = |who: &str, t: Vec<Duration>| {
        [format!("{who}, {name}, {} dialogs, first page of 100", thousands(dialogs as f64)), format!("**{:.2} ms** p50, {:.2} ms p99", ms(median(t.clone())), ms(percentile(t, 0.99))), "no slower than before".into()]
    };
    Ok(vec![row("end-user search (one party)", users), row("service-owner search (one resource)", owners)])
}

/// A fresh database `dialogsync_bench` on the server `url` names; its URL.
async fn fresh_postgres(url: &str) -> Result<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(url).await.with_context(|| format!("connecting to {url}"))?;
    sqlx::query("DROP DATABASE IF EXISTS dialogsync_bench").execute(&mut admin).await?;
    sqlx::query("CREATE DATABASE dialogsync_bench").execute(&mut admin).await?;
    let base = url.split('?').next().unwrap_or(url);
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    Ok(format!("{base}/dialogsync_bench"))
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn percentile(mut xs: Vec<Duration>, p: f64) -> Duration {
    xs.sort();
    xs[((xs.len() as f64 * p).ceil() as usize).clamp(1, xs.len()) - 1]
}

/// The first `n` readable records of a source's generated file.
fn sample(config: &Config, data: &Path, source: &str, n: usize) -> Result<Vec<RawRecord>> {
    let dir = data.join(source);
    Ok(files::read(&dir, config.source(source)?.keys)?.filter_map(Fetched::ok).take(n).collect())
}

/// Any party id resolved to one organisation, on both sides alike (the register is the host's).
const BENCH_PARTY: &str = "urn:altinn:organization:identifier-no:910000001";

/// Seconds to transform `records`, and to project what they became: the built components
/// through the runtime.
fn wasm_pass(runtime: &Runtime, config: &Config, source: &str, records: &[RawRecord], now: i64) -> Result<Pass> {
    let t = runtime.load_transformer(&config.source(source)?.component)?;
    let p = runtime.load_projector(&config.projector)?;
    let inputs: Vec<SourceRecord> = records.iter().map(|r| SourceRecord { source_id: r.source_id.clone(), source_version: r.version, payload: r.payload.clone(), content_type: r.content_type.clone() }).collect();
    let size = runtime.limits().batch_size.max(1);
    let started = Instant::now();
    let mut elements = Vec::new();
    for chunk in inputs.chunks(size) {
        for out in runtime.transform(&t, chunk) {
            if let Ok(Transformed::Element(mut e)) = out {
                if let Party::PartyId(_) = e.party {
                    e.party = Party::Urn(BENCH_PARTY.into());
                }
                elements.push(e);
            }
        }
    }
    let transformed = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut dialogs = 0;
    for chunk in elements.chunks(size) {
        dialogs += runtime.project(&p, ProjectionContext { now, mode: SyncMode::Historic }, chunk).iter().filter(|d| d.is_ok()).count();
    }
    anyhow::ensure!(dialogs > 0, "{source}: no dialogs");
    Ok(Pass { transform: transformed, project: started.elapsed().as_secs_f64() })
}

/// A pass's seconds in the transformer and in the projector.
#[derive(Debug, Clone, Copy, Default)]
struct Pass {
    transform: f64,
    project: f64,
}

impl Pass {
    fn total(&self) -> f64 {
        self.transform + self.project
    }
    /// The better of two passes, phase by phase.
    fn best(self, o: Pass) -> Pass {
        Pass { transform: self.transform.min(o.transform), project: self.project.min(o.project) }
    }
}

/// The same, with the components' logic compiled natively into this binary.
fn native_pass(source: &str, records: &[RawRecord], now: i64) -> Result<Pass> {
    use dialogsync_sdk::types as g;
    let transform: fn(&g::SourceRecord) -> Result<g::Transformed, g::RecordError> = match source {
        "a2-archived-forms" => a2_archived_forms::form::transform,
        "a2-correspondence" => a2_correspondence::correspondence::transform,
        "a3-app-instances" => a3_app_instances::instance::transform,
        _ => a3_correspondence::correspondence::transform,
    };
    let inputs: Vec<g::SourceRecord> = records.iter().map(|r| g::SourceRecord { source_id: r.source_id.clone(), source_version: r.version, payload: r.payload.clone(), content_type: r.content_type.clone() }).collect();
    let ctx = g::ProjectionContext { now, mode: g::SyncMode::Historic };
    let started = Instant::now();
    let mut elements = Vec::new();
    for r in &inputs {
        if let Ok(g::Transformed::Element(mut e)) = transform(r) {
            if let g::Party::PartyId(_) = e.party {
                e.party = g::Party::Urn(BENCH_PARTY.into());
            }
            elements.push(e);
        }
    }
    let transformed = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let dialogs = elements.iter().filter(|e| dialog_projector::project::project(&ctx, e).is_ok()).count();
    anyhow::ensure!(dialogs > 0, "{source}: no dialogs");
    Ok(Pass { transform: transformed, project: started.elapsed().as_secs_f64() })
}

/// A live tick's work for `changes` records already stored: each comes back changed (a new
/// version and title), runs through the live pipeline, and commits at once.
/// Each round's whole time, and its two halves: the prepare (reads, components) and the commit.
async fn ticks(config: &Config, runtime: &std::sync::Arc<Runtime>, data: &Path, dir: &Path, changes: usize, rounds: usize) -> Result<Vec<[Duration; 3]>> {
    let url = format!("sqlite://{}", dir.join("tick.db").display());
    let _ = std::fs::remove_file(dir.join("tick.db"));
    let store = Store::open(&url).await?;
    let source = "a3-app-instances";
    let keys = config.source(source)?.keys;
    let base: Vec<Value> = sample(config, data, source, changes)?.iter().filter_map(|r| serde_json::from_slice(&r.payload).ok()).collect();
    let text = std::fs::read_to_string(data.join(source).join("parties.csv"))?;
    store.import_parties(&crate::parties::parse("parties.csv", &text)?).await?;
    let pipeline = Pipeline::load(config, runtime, &store, source, SyncMode::Live)?;
    let version = |round: usize| -> Vec<Fetched> {
        base.iter()
            .map(|v| {
                let mut v = v.clone();
                v["lastChanged"] = format!("2026-01-01T00:{:02}:{:02}Z", round / 60, round % 60).into();
                v["title"] = serde_json::json!({ "nb": format!("Endret {round}") });
                keys.record(v.to_string().into_bytes(), "bench".into())
            })
            .collect()
    };
    let mut times = Vec::new();
    for round in 0..=rounds {
        let records = version(round);
        let started = Instant::now();
        let (commit, s) = pipeline.prepare(records).await?;
        let prepared = started.elapsed();
        store.commit(source, &commit).await?;
        let took = started.elapsed();
        anyhow::ensure!(s.migrated as usize >= changes * 9 / 10, "round {round}: only {} of {changes} changed", s.migrated);
        // The first round only creates the dialogs.
        if round > 0 {
            times.push([took, prepared, took - prepared]);
        }
    }
    Ok(times)
}

fn thousands(n: f64) -> String {
    dialogsync_core::status::thousands(n.round() as i64)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu.lines().find_map(|l| l.strip_prefix("model name")).map(|m| m.trim_start_matches([' ', '\t', ':']).to_string()).unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let gib = mem.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).unwrap_or(0.0) / 1024.0 / 1024.0;
    format!("{cores} cores ({model}), {gib:.0} GiB")
}

/// Runs every benchmark; prints progress to stderr and returns the table (markdown).
pub async fn run(config: &Config, config_path: Option<&Path>, o: &Options) -> Result<String> {
    std::fs::create_dir_all(&o.dir)?;
    let mut rows: Vec<[String; 3]> = Vec::new();
    let n = o.records;
    let data_n = data(&o.dir, n)?;

    let sqlite = o.dir.join("backfill.db");
    for f in ["backfill.db", "backfill.db-wal", "backfill.db-shm"] {
        let _ = std::fs::remove_file(o.dir.join(f));
    }
    eprintln!("backfill of {n} records into SQLite…");
    let b1 = backfill(config_path, &data_n, &format!("sqlite://{}", sqlite.display()))?;
    rows.push([format!("backfill, SQLite, {} records", thousands(b1.records as f64)), format!("**{} records/s** ({:.0} s)", thousands(b1.records as f64 / b1.seconds), b1.seconds), "≥ 15,000 records/s".into()]);
    let batch = config.limits.commit_records;
    eprintln!("the SQLite ceiling…");
    rows.push(ceiling_row("SQLite", &format!("sqlite://{}", sqlite.display()), &b1, batch).await?);
    eprintln!("searches of the SQLite store…");
    rows.extend(search_rows("SQLite", &format!("sqlite://{}", sqlite.display())).await?);
    if let Some(pg) = &o.postgres {
        eprintln!("backfill of {n} records into PostgreSQL…");
        let url = fresh_postgres(pg).await?;
        let b = backfill(config_path, &data_n, &url)?;
        rows.push([format!("backfill, PostgreSQL, {} records", thousands(b.records as f64)), format!("**{} records/s** ({:.0} s)", thousands(b.records as f64 / b.seconds), b.seconds), "≥ 20,000 records/s".into()]);
        eprintln!("the PostgreSQL ceiling…");
        rows.push(ceiling_row("PostgreSQL", &url, &b, batch).await?);
        eprintln!("searches of the PostgreSQL store…");
        rows.extend(search_rows("PostgreSQL", &url).await?);
    }

    let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
    let now = crate::clock::micros();
    let (mut wasm, mut native, mut count) = (Pass::default(), Pass::default(), 0);
    let ratio = |w: f64, n: f64| format!("**{:.2}×** (WASM {:.0} ms, native {:.0} ms)", w / n, w * 1e3, n * 1e3);
    for source in SOURCES {
        let records = sample(config, &data_n, source, o.sample)?;
        count += records.len();
        // Warm both (compilation, caches), then the best of three, phase by phase.
        wasm_pass(&runtime, config, source, &records[..records.len().min(200)], now)?;
        let best = |f: &dyn Fn() -> Result<Pass>| -> Result<Pass> { Ok((0..3).map(|_| f()).collect::<Result<Vec<Pass>>>()?.into_iter().fold(Pass { transform: f64::MAX, project: f64::MAX }, Pass::best)) };
        let (w, nat) = (best(&|| wasm_pass(&runtime, config, source, &records, now))?, best(&|| native_pass(source, &records, now))?);
        rows.push([format!("transformer {source}, WASM vs native, {} records", thousands(records.len() as f64)), ratio(w.transform, nat.transform), "≤ 1.3×".into()]);
        (wasm, native) = (Pass { transform: wasm.transform + w.transform, project: wasm.project + w.project }, Pass { transform: native.transform + nat.transform, project: native.project + nat.project });
    }
    rows.push([format!("projector, WASM vs native, the same {} records", thousands(count as f64)), ratio(wasm.project, native.project), "≤ 1.3×".into()]);
    rows.push([format!("transformer + projector, WASM vs native, {} records", thousands(count as f64)), ratio(wasm.total(), native.total()), "≤ 1.3×".into()]);
    rows.push([
        "native transform + project, per record".into(),
        format!("**{:.1} µs** (transform {:.1} µs, project {:.1} µs)", native.total() / count as f64 * 1e6, native.transform / count as f64 * 1e6, native.project / count as f64 * 1e6),
        "≤ 6 µs".into(),
    ]);

    let t = runtime.load_transformer(&config.source("a3-app-instances")?.component)?;
    let times = runtime.time_instantiations(&t, 2000);
    rows.push(["instantiate from `InstancePre` (store + instance)".into(), format!("**{:.1} µs** p50, {:.1} µs p99", median(times.clone()).as_secs_f64() * 1e6, percentile(times, 0.99).as_secs_f64() * 1e6), "≤ 50 µs".into()]);

    let times = ticks(config, &runtime, &data_n, &o.dir, 1000, 40).await?;
    let (whole, prepare, commit): (Vec<Duration>, Vec<Duration>, Vec<Duration>) = (times.iter().map(|t| t[0]).collect(), times.iter().map(|t| t[1]).collect(), times.iter().map(|t| t[2]).collect());
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    rows.push([
        "live tick applying 1,000 changes (pipeline + commit, SQLite)".into(),
        format!("**{:.1} ms** p50, {:.1} ms p99 (p50s: prepare {:.1} ms, commit {:.1} ms)", ms(median(whole.clone())), ms(percentile(whole, 0.99)), ms(median(prepare)), ms(median(commit))),
        "p50 ≤ 50 ms".into(),
    ]);

    rows.push([format!("peak memory, backfill of {} records", thousands(b1.records as f64)), format!("**{:.0} MiB**", b1.peak_rss_mib), "≤ 256 MiB".into()]);
    if o.memory_records > 0 {
        let m = o.memory_records;
        let data_m = data(&o.dir, m)?;
        let big = o.dir.join("memory.db");
        for f in ["memory.db", "memory.db-wal", "memory.db-shm"] {
            let _ = std::fs::remove_file(o.dir.join(f));
        }
        eprintln!("backfill of {m} records into SQLite, for its memory…");
        let b2 = backfill(config_path, &data_m, &format!("sqlite://{}", big.display()))?;
        let growth = (b2.peak_rss_mib / b1.peak_rss_mib - 1.0) * 100.0;
        rows.push([
            format!("peak memory, backfill of {} records", thousands(b2.records as f64)),
            format!("**{:.0} MiB** ({growth:+.1} % from {} records; {} records/s)", b2.peak_rss_mib, thousands(b1.records as f64), thousands(b2.records as f64 / b2.seconds)),
            "≤ 10 % growth, ≤ 256 MiB".into(),
        ]);
        let _ = std::fs::remove_file(&big);
    }

    if o.sink_records > 0 {
        let parallel = config.sink.as_ref().map_or(16, |s| s.parallel);
        rows.extend(sink_rows(config_path, &o.dir, o.sink_records, parallel)?);
    }

    let mut table = format!("Machine: {}. Build: release.\n\n| benchmark | result | target |\n|---|---|---|\n", machine());
    for [a, b, c] in rows {
        table += &format!("| {a} | {b} | {c} |\n");
    }
    Ok(table)
}
