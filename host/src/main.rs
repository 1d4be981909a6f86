//! `dialogsync`: the command line. Edges only: parse flags, open the store and runtime, call
//! the pipeline, print.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dialogsync::config::{Config, TEMPLATE};
use dialogsync::runtime::{Runtime, bindings::types::SyncMode};
use dialogsync::sources::files;
use dialogsync::store::Store;
use dialogsync::sync::Pipeline;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// `println!` that hands a closed pipe back as an error (main exits 0 on it) instead of panicking.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)?
    }};
}
/// `print!`, likewise.
macro_rules! outp {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*)?
    }};
}

#[derive(Parser)]
#[command(name = "dialogsync", version, about = "Moves Altinn inbox history into Dialogporten dialogs through sandboxed WebAssembly components")]
struct Cli {
    /// Configuration file (written by `dialogsync init`); defaults apply when it is absent.
    #[arg(long, global = true, env = "DIALOGSYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Store URL, e.g. sqlite://dialogsync.db (overrides the config).
    #[arg(long, global = true, env = "DIALOGSYNC_STORE")]
    store: Option<String>,
    /// The folder of built components that default component paths are in (default:
    /// $DIALOGSYNC_COMPONENTS, else the checkout's target/components beside this binary).
    #[arg(long, global = true)]
    components: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented dialogsync.toml.
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Migrate a source's history: fetch, transform, project, store.
    Backfill {
        /// Source name, e.g. a3-app-instances.
        #[arg(long)]
        source: String,
        /// Folder to read (overrides the source's `input`).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Print the summary as one JSON object.
        #[arg(long)]
        summary_json: bool,
    },
    /// Sync every configured `http` source: a live tick every `sync.interval`, historic
    /// windows newest first in between, pushed events at once. Stops cleanly on Ctrl-C or
    /// SIGTERM after the page in flight; started again, it resumes where it stood.
    Run {
        /// Finish every historic window and one live tick per source, then exit.
        #[arg(long)]
        once: bool,
        /// Only these sources (repeatable; default: all configured).
        #[arg(long)]
        source: Vec<String>,
        /// Accept pushed CloudEvents at this address (overrides `sync.listen`).
        #[arg(long)]
        listen: Option<String>,
        /// Time between live ticks, e.g. 5m, 30s (overrides `sync.interval`).
        #[arg(long, value_parser = humantime::parse_duration)]
        interval: Option<std::time::Duration>,
        /// This host's name among the hosts sharing the store (default: HOSTNAME-PID).
        #[arg(long, env = "DIALOGSYNC_HOST")]
        host: Option<String>,
    },
    /// Serve the four legacy sources over HTTP from generated data, with changes arriving
    /// over time: a stand-in for Altinn to run the whole pipeline against.
    Simulate {
        /// Address to listen on (port 0: any free port; the first line printed says which).
        #[arg(long, default_value = "127.0.0.1:8490")]
        listen: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Days of history per source.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Records created per day per source.
        #[arg(long, default_value_t = 20)]
        per_day: usize,
        /// The day after the last day of history (default: today).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
        /// Time between changes (0: only on POST /_sim/advance).
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        change_every: std::time::Duration,
        /// Push CloudEvents for A3 changes to this `run --listen` base URL.
        #[arg(long)]
        push: Option<String>,
        /// Fraction of records served without their id.
        #[arg(long, default_value_t = 0.0)]
        bad_ratio: f64,
        /// A client of the Maskinporten-like token endpoint (POST /maskinporten/token):
        /// CLIENT_ID:ORGNR:JWKS_FILE, its public keys; repeatable.
        #[arg(long = "maskinporten-client")]
        maskinporten_clients: Vec<dialogsync::simulate::token::Client>,
        /// How long the token endpoint's access tokens live.
        #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
        token_ttl: std::time::Duration,
        /// App instances more (organisation ttd) that all share one `lastChanged`: ties for
        /// Storage's instance query (`/storage/api/v1/instances`).
        #[arg(long, default_value_t = 0)]
        storage_ties: usize,
        /// Serve these instances (a folder of JSON documents as Storage keeps them) as the app
        /// instances, instead of generated ones.
        #[arg(long)]
        storage_instances: Option<PathBuf>,
        /// A3 correspondences more (resource skd-vedtak), published yesterday in groups that
        /// share one publish time: ties for Correspondence's capped list
        /// (`/correspondence/api/v1/correspondence`).
        #[arg(long, default_value_t = 0)]
        correspondence_ties: usize,
        /// Correspondences per shared publish time.
        #[arg(long, default_value_t = 50)]
        correspondence_tie_size: usize,
    },
    /// Serve the Dialogporten-compatible API and the status page (/status).
    Serve {
        /// Address to listen on (overrides `api.listen`; port 0: any free port).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Mint a bearer token for development, signed by a locally generated key (accepted only
    /// by a server with no `api.jwks`).
    Token {
        /// An end user: their national identity number (11 digits).
        #[arg(long, conflicts_with = "org")]
        person: Option<String>,
        /// A service owner: its organisation number (9 digits).
        #[arg(long)]
        org: Option<String>,
        /// The scope (default: digdir:dialogporten, or digdir:dialogporten.serviceprovider with --org).
        #[arg(long)]
        scope: Option<String>,
        /// Lifetime, e.g. 1h (a negative lifetime, -1h, mints an expired token).
        #[arg(long, default_value = "1h", allow_hyphen_values = true)]
        ttl: String,
    },
    /// Get a token from Maskinporten with the configured client (`[maskinporten]`): the check
    /// that its key, id and scopes are right. Prints the token.
    Maskinporten {
        /// Space-separated scopes, e.g. "digdir:dialogporten.serviceprovider".
        #[arg(long)]
        scope: String,
    },
    /// Subscribe a host's event endpoint to a source's Altinn Events (`POST
    /// {events_url}/subscriptions`: one per organisation or app, or per resource), so its
    /// changes arrive at once. Prints each subscription Events created.
    Subscribe {
        #[arg(long)]
        source: String,
        /// The host's endpoint for the source, as Events will reach it:
        /// `https://HOST/sources/SOURCE/events` (the source's `events_code` is added).
        #[arg(long)]
        endpoint: String,
    },
    /// Stop syncing a source (a running host stops at its next page boundary).
    Pause {
        source: String,
        #[arg(long)]
        reason: String,
    },
    /// Start syncing a paused source again.
    Resume { source: String },
    /// Re-run the current components over a source's staged records created in a date range;
    /// reports how many dialogs changed.
    Replay {
        #[arg(long)]
        source: String,
        #[arg(long)]
        from: chrono::NaiveDate,
        #[arg(long)]
        to: chrono::NaiveDate,
        #[arg(long)]
        json: bool,
    },
    /// Compare per-day counts: the source's own, staged, dialogs; list missing ids.
    Verify {
        #[arg(long)]
        source: String,
        /// First day (default: the source's back_to, else 30 days ago).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day (default: today).
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// Fetch and migrate the missing records (with --sink: send what differs again).
        #[arg(long)]
        repair: bool,
        /// Compare the source's dialogs with Dialogporten's (`[sink]`) instead of the source's records.
        #[arg(long)]
        sink: bool,
        /// A files source's folder (overrides the source's `input`).
        #[arg(long)]
        input: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The status page, written from the store.
    Status {
        #[arg(long, value_enum, default_value = "markdown")]
        format: StatusFormat,
    },
    /// Read stored dialogs (printed as JSON, one per line, in Dialogporten's create shape).
    Dialogs {
        #[command(subcommand)]
        command: DialogsCommand,
    },
    /// Changes to dialogs (created, updated, deleted), in commit order, one JSON per line.
    Events {
        /// Only events after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Most events to print (0: all, streamed).
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
    /// Records that failed, with the phase, component and error.
    DeadLetters {
        #[command(subcommand)]
        command: DeadLettersCommand,
    },
    /// The party register (legacy party id → person or organisation).
    Parties {
        #[command(subcommand)]
        command: PartiesCommand,
    },
    /// Write realistic records of a source, with real data's defects (deterministic per seed).
    Generate {
        #[arg(long)]
        source: String,
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// First day (YYYY-MM-DD).
        #[arg(long, default_value = "2024-01-01")]
        from: chrono::NaiveDate,
        /// Last day (YYYY-MM-DD).
        #[arg(long, default_value = "2025-12-31")]
        to: chrono::NaiveDate,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Fraction of records written malformed.
        #[arg(long, default_value_t = 0.0)]
        bad_ratio: f64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmarks: backfill throughput (SQLite, PostgreSQL), WASM vs native, instantiation, a
    /// live tick of 1,000 changes, peak memory; prints one table (BENCHMARKS.md). Build with
    /// `--release`.
    Bench {
        /// Records in the backfill benchmarks, over the four sources.
        #[arg(long, default_value_t = 1_000_000)]
        records: usize,
        /// A second backfill size whose peak memory is compared with the first (0: skip).
        #[arg(long, default_value_t = 5_000_000)]
        memory_records: usize,
        /// A PostgreSQL server to benchmark too (its database `dialogsync_bench` is replaced).
        #[arg(long)]
        postgres: Option<String>,
        /// Records per source in the WASM-vs-native comparison.
        #[arg(long, default_value_t = 5_000)]
        sample: usize,
        /// Records in the sink benchmark: a backfill with the Dialogporten sink off, then on,
        /// aimed at a local `serve` (0: skip).
        #[arg(long, default_value_t = 20_000)]
        sink_records: usize,
        /// Where generated data and stores go (kept: generated data is reused).
        #[arg(long, default_value = "target/bench")]
        dir: PathBuf,
        /// Internal: run one backfill of this data folder and report it as JSON.
        #[arg(long, hide = true)]
        child_backfill: Option<PathBuf>,
    },
    /// Work on components in isolation.
    Component {
        #[command(subcommand)]
        command: ComponentCommand,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StatusFormat {
    Markdown,
    Json,
}

#[derive(Subcommand)]
enum ComponentCommand {
    /// Run a transformer's golden fixtures (`<case>.input.json` → `<case>.expected.json` or
    /// `<case>.error.txt`) through the same runtime the host uses; prints a diff for each
    /// failing case and exits non-zero if any fails.
    Test {
        /// The transformer component (.wasm).
        component: PathBuf,
        /// The fixtures folder.
        #[arg(long)]
        fixtures: PathBuf,
        /// Which source's record keys to use (default: from the component's file name).
        #[arg(long)]
        source: Option<String>,
        /// Write the actual outputs as the new expectations.
        #[arg(long)]
        update: bool,
    },
}

#[derive(Subcommand)]
enum DialogsCommand {
    /// One dialog by id.
    Get { id: String },
    /// Dialogs, newest updated first.
    Search {
        /// Party URN, e.g. urn:altinn:organization:identifier-no:912345678.
        #[arg(long)]
        party: Option<String>,
        /// Source name.
        #[arg(long)]
        source: Option<String>,
        /// A legacy reference label, e.g. urn:altinn:a2:correspondence-id:51234567.
        #[arg(long)]
        label: Option<String>,
        /// Most dialogs to print (0: all, streamed).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum DeadLettersCommand {
    /// List dead letters.
    List {
        #[arg(long)]
        source: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Run every dead letter that kept its payload through the current components again.
    Retry {
        #[arg(long)]
        source: Option<String>,
    },
    /// Settle dead letters an operator has judged: kept and counted as discarded, no longer
    /// open problems (a new failure of the same record opens it again).
    Discard {
        #[arg(long)]
        source: Option<String>,
        /// Only this dead letter (the number `list` shows).
        #[arg(long)]
        id: Option<i64>,
        /// Why: kept with the letter and in the changelog.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum PartiesCommand {
    /// Let a person represent a party (what the end-user API shows them).
    Grant {
        /// National identity number (11 digits).
        person: String,
        /// Party URN, e.g. urn:altinn:organization:identifier-no:912345678.
        party: String,
    },
    /// Import a register file (CSV `partyId,identifier`, JSON or NDJSON), or fetch it from
    /// an http(s) URL.
    Import { file: PathBuf },
}

fn main() {
    few_malloc_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("the tokio runtime");
    runtime.block_on(main_async());
}

/// glibc gives each thread that allocates its own arena (up to eight per core), and each
/// keeps what it freed: the sqlx connection threads, tokio's workers and the component threads
/// together held a quarter of a 5M backfill's peak memory that way. Two arenas are enough for
/// two busy threads. `MALLOC_ARENA_MAX` in the environment still decides when set.
fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt changes a malloc setting; it is called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

async fn main_async() {
    let cli = Cli::parse();
    // `run` and `serve` report their work (a line per tick, warnings); other commands print
    // their results and say only what went wrong.
    let default = match cli.command {
        Command::Run { .. } | Command::Serve { .. } => "warn,dialogsync=info,dialogsync_core=info,sqlx=off",
        _ => "warn,sqlx=off",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("DIALOGSYNC_LOG").unwrap_or_else(|_| default.into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = run(cli).await {
        // A closed pipe (`dialogsync dialogs search | head -1`) is the reader's choice, not a failure.
        if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) {
            std::process::exit(0);
        }
        eprintln!("error: {}", causes(&e));
        std::process::exit(1);
    }
}

/// An error's cause chain on one line, each cause once: a cause whose text its context already
/// carries ("reading x: No such file or directory", then "No such file or directory") is left out.
fn causes(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

async fn run(cli: Cli) -> Result<()> {
    let config_path = cli.config.clone().unwrap_or_else(|| "dialogsync.toml".into());
    if let Command::Init { force } = cli.command {
        if config_path.exists() && !force {
            anyhow::bail!("{} exists (use --force to replace it)", config_path.display());
        }
        std::fs::write(&config_path, TEMPLATE).with_context(|| format!("writing {}", config_path.display()))?;
        out!("wrote {}", config_path.display());
        return Ok(());
    }
    let mut config = Config::load(&config_path, cli.config.is_some())?;
    if let Some(url) = cli.store {
        config.store = url;
    }
    // The environment's folder is the config's already (`Components::find`); the flag overrides it.
    if let Some(dir) = &cli.components {
        config.use_components(dialogsync::config::Components { dir: dialogsync::config::absolute(dir), from: "--components".into() });
    }
    if let Command::Generate { source, count, from, to, seed, bad_ratio, out } = cli.command {
        let report = dialogsync::generate::generate(dialogsync::generate::Options { source, count, from, to, seed, bad_ratio, out })?;
        out!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if let Command::Component { command: ComponentCommand::Test { component, fixtures, source, update } } = cli.command {
        return component_test(&config, &component, &fixtures, source, update);
    }
    if let Command::Token { person, org, scope, ttl } = &cli.command {
        anyhow::ensure!(person.is_some() || org.is_some(), "say who the token is for: --person PID or --org ORGNR");
        if let Some(p) = person {
            anyhow::ensure!(dialogsync::parties::is_person(p), "--person: a national identity number is 11 digits, not `{p}`");
        }
        if let Some(o) = org {
            anyhow::ensure!(dialogsync::parties::is_org(o), "--org: an organisation number is 9 digits, not `{o}`");
        }
        let (negative, span) = match ttl.strip_prefix('-') { Some(t) => (true, t), None => (false, ttl.as_str()) };
        let secs = humantime::parse_duration(span).with_context(|| format!("--ttl {ttl}"))?.as_secs() as i64;
        let claims = dialogsync::api::auth::claims(person.as_deref(), org.as_deref(), scope.as_deref(), if negative { -secs } else { secs });
        let dev = dialogsync::api::auth::DevKey::at(&config.dev_key_dir());
        out!("{}", dev.mint(&claims)?);
        eprintln!("development token, signed by {} (trusted only by a server without api.jwks)", dev.pem.display());
        return Ok(());
    }
    if let Command::Maskinporten { scope } = &cli.command {
        let m = config.maskinporten.as_ref().context("no [maskinporten] section in the config (client_id, key, environment)")?;
        let client = dialogsync::maskinporten::Maskinporten::new(m)?;
        let scope = scope.clone();
        out!("{}", tokio::task::spawn_blocking(move || client.token(&scope)).await??);
        return Ok(());
    }
    if let Command::Subscribe { source, endpoint } = &cli.command {
        let sc = config.source(source)?;
        let client = config.maskinporten.as_ref().map(dialogsync::maskinporten::Maskinporten::new).transpose()?;
        let (source, endpoint) = (source.clone(), endpoint.clone());
        let created = tokio::task::spawn_blocking(move || dialogsync::sources::events::subscribe(&source, &sc, &endpoint, client.as_ref())).await??;
        for s in created {
            out!("{s}");
        }
        return Ok(());
    }
    if let Command::Simulate { listen, seed, days, per_day, today, change_every, push, bad_ratio, maskinporten_clients, token_ttl, storage_ties, storage_instances, correspondence_ties, correspondence_tie_size } = cli.command {
        let today = today.unwrap_or_else(dialogsync::clock::today);
        let options = dialogsync::simulate::Options { seed, days, per_day, today, change_every, push, bad_ratio, maskinporten_clients, token_ttl, storage_ties, storage_instances, correspondence_ties, correspondence_tie_size };
        return dialogsync::simulate::serve(&listen, options).await;
    }
    if let Command::Bench { records, memory_records, postgres, sample, dir, sink_records, child_backfill: None } = cli.command {
        if cfg!(debug_assertions) {
            eprintln!("warning: a debug build: build with `cargo build --release` for numbers worth recording");
        }
        let o = dialogsync::bench::Options { records, memory_records, postgres, sample, dir, sink_records };
        let table = dialogsync::bench::run(&config, cli.config.as_deref(), &o).await?;
        out!("{table}");
        return Ok(());
    }
    // Commands that only read work on a store in a folder they may not write.
    let store = match cli.command {
        Command::Status { .. } | Command::Dialogs { .. } | Command::Events { .. } => Store::open_for_reading(&config.store).await?,
        _ => Store::open(&config.store).await?,
    };

    // Every command ends by closing the store: SQLite folds its write-ahead log back into the
    // file, so a reader without write access (immutable) sees everything.
    let closer = store.clone();
    let done = async {
        match cli.command {
            Command::Init { .. } | Command::Component { .. } | Command::Generate { .. } | Command::Simulate { .. } | Command::Token { .. } | Command::Maskinporten { .. } | Command::Subscribe { .. } => unreachable!(),
            Command::Bench { child_backfill: None, .. } => unreachable!(),
            Command::Serve { listen } => {
                let listen = listen.unwrap_or_else(|| config.api.listen.clone());
                dialogsync::api::serve(config, store, &listen).await?;
            }
            Command::Parties { command: PartiesCommand::Grant { person, party } } => {
                anyhow::ensure!(dialogsync::parties::is_person(&person), "a person is 11 digits: `{person}`");
                anyhow::ensure!(dialogsync_sdk::rules::valid_party(&party), "`{party}` is not a party URN Dialogporten accepts");
                store.grant(&person, &party).await?;
                out!("{person} may represent {party}");
            }
            Command::Run { once, source, listen, interval, host } => {
                if listen.is_some() {
                    config.sync.listen = listen;
                }
                if let Some(i) = interval {
                    config.sync.interval = i;
                }
                let (tx, rx) = tokio::sync::watch::channel(false);
                tokio::spawn(async move {
                    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                    eprintln!("stopping after the pages in flight…");
                    let _ = tx.send(true);
                });
                dialogsync::scheduler::run(config, store, dialogsync::scheduler::RunOptions { once, sources: source, host: host.unwrap_or_else(dialogsync::scheduler::host_name) }, rx).await?;
            }
            Command::Pause { source, reason } => {
                config.source(&source)?;
                let changed = store.set_state(&source, "paused", Some(&reason)).await?;
                out!("{source}: {}", if changed { "paused" } else { "was already paused with that reason" });
            }
            Command::Resume { source } => {
                config.source(&source)?;
                let changed = store.set_state(&source, "running", None).await?;
                out!("{source}: {}", if changed { "resumed" } else { "was already running" });
            }
            Command::Replay { source, from, to, json } => {
                let s = dialogsync::replay::replay(&config, &store, &source, from, to).await?;
                if json {
                    out!("{}", serde_json::json!({ "source": source, "changed": s.migrated, "summary": s }));
                } else {
                    out!("{source}: replayed {from}..{to}: {} dialogs changed ({})", s.migrated, s.line());
                }
            }
            Command::Verify { source, sink: true, repair, json, .. } => {
                config.source(&source)?;
                let holder = format!("verify@{}", dialogsync::store::lease::machine_name());
                let sink = dialogsync::sink::Sink::from_config(&config, &holder)?.context("verify --sink needs a [sink] in the config")?;
                let v = std::sync::Arc::new(sink).verify(&store, &source, repair).await?;
                store.release("dialogporten", "sink", &holder).await?;
                if json {
                    out!("{}", serde_json::to_string(&v)?);
                } else {
                    out!("{source}: {} in the store, {} differ from Dialogporten", v.dialogs, v.differ.len());
                    for d in &v.differ {
                        out!("  {}: {}", d.id, d.what);
                    }
                    if let Some(r) = &v.repaired {
                        out!("  repaired: {} created, {} updated, {} deleted, {} retried, {} refused", r.created, r.updated, r.deleted, r.retried, r.dead);
                    }
                }
                anyhow::ensure!(v.differ.is_empty(), "{source}: {} differ from Dialogporten", dialogsync_core::status::plural(v.differ.len() as i64, "dialog", "dialogs"));
            }
            Command::Verify { source, from, to, repair, input, json, sink: false } => {
                let sc = config.source(&source)?;
                let v = if sc.connector == "files" {
                    let input = input.or(sc.input.clone()).with_context(|| format!("source {source} has no input folder: pass --input DIR"))?;
                    dialogsync::reconcile::verify_files(&config, &store, &source, &input, from, to, repair).await?
                } else {
                    let today = dialogsync::clock::today();
                    let live_since = store.source_state(&source).await?.and_then(|s| s.live_since).unwrap_or_else(dialogsync::clock::micros);
                    let from = from.or(sc.back_to_day(live_since)).unwrap_or(today - chrono::Duration::days(30));
                    dialogsync::reconcile::verify(&config, &store, &source, from, to.unwrap_or(today), repair).await?
                };
                if json {
                    out!("{}", serde_json::to_string(&v)?);
                } else {
                    out!("{source} {}..{}: {} missing", v.from, v.to, v.missing);
                    for d in v.days.iter().filter(|d| d.at_source != d.staged || !d.missing_ids.is_empty()) {
                        out!("  {}: source {} · staged {} · dialogs {} · missing {}", d.day, d.at_source, d.staged, d.dialogs, d.missing_ids.join(", "));
                    }
                    if let Some(r) = &v.repaired {
                        out!("  repaired: {}", r.line());
                    }
                }
                // Non-zero while anything is missing, so a scheduled verify can alert.
                anyhow::ensure!(v.missing == 0, "{source}: {} missing", dialogsync_core::status::plural(v.missing as i64, "record", "records"));
            }
            Command::Status { format } => {
                let report = dialogsync::status::report(&config, &store).await?;
                match format {
                    StatusFormat::Markdown => outp!("{}", dialogsync::status::markdown(&report)),
                    StatusFormat::Json => out!("{}", serde_json::to_string_pretty(&report)?),
                }
            }
            Command::DeadLetters { command: DeadLettersCommand::Discard { source, id, reason } } => {
                anyhow::ensure!(source.is_some() || id.is_some(), "say which dead letters to discard: --source S, --id N, or both");
                if let Some(s) = &source {
                    config.source(s)?;
                }
                let n = store.discard_dead_letters(source.as_deref(), id, &reason).await?;
                anyhow::ensure!(n > 0, "no open dead letter matches{}{}", source.map(|s| format!(" --source {s}")).unwrap_or_default(), id.map(|i| format!(" --id {i}")).unwrap_or_default());
                out!("discarded {}: {reason}", dialogsync_core::status::plural(n as i64, "dead letter", "dead letters"));
            }
            Command::DeadLetters { command: DeadLettersCommand::Retry { source } } => {
                // The sink's (phase `sink`): their dialogs queued to be sent again.
                if let Some(sc) = &config.sink {
                    let n = store.requeue_sink_dead(source.as_deref(), sc.silent_history, sc.silent_live).await?;
                    if n > 0 {
                        out!("dialogporten: {} queued to be sent again", dialogsync_core::status::plural(n as i64, "dialog", "dialogs"));
                    }
                }
                for (s, summary) in dialogsync::replay::retry(&config, &store, source.as_deref()).await? {
                    out!("{s}: {}", summary.line());
                }
            }
            Command::Backfill { source, input, summary_json } => {
                let sc = config.source(&source)?;
                let input = input.or(sc.input.clone()).with_context(|| format!("source {source} has no input folder: pass --input DIR"))?;
                anyhow::ensure!(sc.connector == "files", "source {source}: connector `{}` is not available in this version (use `files`)", sc.connector);
                let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
                let pipeline = Pipeline::load(&config, &runtime, &store, &source, SyncMode::Historic)?;
                let records = files::read(&input, sc.keys).with_context(|| format!("reading {}", input.display()))?;
                // Progress in bytes of the input: the records' bytes read of the files' total.
                let total = files::size(&input).unwrap_or(0);
                let bar = ProgressBar::new(total).with_style(ProgressStyle::with_template("{elapsed:>4} [{bar:20}] {percent:>3}% eta {eta:>4} {wide_msg}")?.progress_chars("=> "));
                let read = std::cell::Cell::new(0u64);
                let mut per_file = files::PerFile::default();
                let records = records.inspect(|f| {
                    read.set(read.get() + f.as_ref().map_or(0, |r| r.payload.len() as u64 + 1));
                    per_file.count(f);
                });
                let summary = pipeline
                    .run(records, |s| {
                        bar.set_position(read.get().min(total));
                        bar.set_message(format!("{} read · {} migrated · {} dead", s.fetched, s.migrated, s.dead));
                    })
                    .await?;
                bar.finish_and_clear();
                for file in per_file.unreadable() {
                    eprintln!("warning: no record of {file} could be read: is --input the folder of {source}'s records?");
                }
                if summary.fetched > 0 && summary.dead == summary.fetched {
                    eprintln!("warning: every one of the {} records failed: is --input {} the folder of {source}'s records?", summary.fetched, input.display());
                }
                store.log(Some(&source), "backfill", &format!("backfill from {}: {}", input.display(), summary.line())).await?;
                // With a sink: what the backfill changed goes to Dialogporten now (what cannot be
                // sent yet waits in the outbox for the next run or backfill).
                // The backfill sends as `backfill@MACHINE`: one killed and started again takes its lease back at once.
                let holder = format!("backfill@{}", dialogsync::store::lease::machine_name());
                if let Some(sink) = dialogsync::sink::Sink::from_config(&config, &holder)?.map(std::sync::Arc::new) {
                    let sent = sink.drain(&store).await?;
                    store.release("dialogporten", "sink", &holder).await?;
                    let waiting = store.outbox().await?.map_or(0, |o| o.waiting);
                    let busy = if sent.busy { " (another host holds the sender's lease and sends them)" } else { "" };
                    eprintln!(
                        "Dialogporten: {} created, {} updated, {} deleted, {} purged, {} refused; {waiting} waiting to be sent{busy}",
                        sent.created, sent.updated, sent.deleted, sent.purged, sent.dead
                    );
                }
                if summary_json {
                    out!("{}", serde_json::to_string(&summary)?);
                } else {
                    out!("{source}: {}", summary.line());
                    for (reason, n) in &summary.skip_reasons {
                        out!("  skipped {n}: {reason}");
                    }
                    if !summary.waiting_party_ids.is_empty() {
                        let ids: Vec<String> = summary.waiting_party_ids.iter().cloned().collect();
                        let ids = dialogsync_core::status::some_ids(&ids);
                        out!("  waiting for party ids not in the register: {ids} (import them with `dialogsync parties import FILE`)");
                    }
                    if summary.dead > 0 {
                        out!("  {} dead letters: see `dialogsync dead-letters list`", summary.dead);
                    }
                }
            }
            Command::Bench { child_backfill: Some(data), .. } => {
                let report = dialogsync::bench::child_backfill(&config, &store, &data).await?;
                out!("{}", serde_json::to_string(&report)?);
            }
            Command::Dialogs { command: DialogsCommand::Get { id } } => {
                let doc = store.dialog(&id).await?.with_context(|| format!("no dialog {id}"))?;
                out!("{doc}");
            }
            Command::Dialogs { command: DialogsCommand::Search { party, source, label, limit } } => {
                let (party, source, label) = (party.as_deref(), source.as_deref(), label.as_deref());
                let (mut stdout, mut failed) = (std::io::stdout().lock(), None);
                let n = store
                    .search_each(party, source, label, limit, |doc| match std::io::Write::write_all(&mut stdout, format!("{doc}\n").as_bytes()) {
                        Ok(()) => true,
                        Err(e) => {
                            failed = Some(e);
                            false
                        }
                    })
                    .await?;
                drop(stdout);
                if let Some(e) = failed {
                    return Err(e.into());
                }
                if limit > 0 && n as i64 == limit {
                    limited(limit, store.search_count(party, source, label).await?);
                }
            }
            Command::Events { mut after, limit } => {
                let start = after;
                // In pages, so `--limit 0` streams every event without holding them all.
                let mut left = if limit <= 0 { i64::MAX } else { limit };
                while left > 0 {
                    let page = store.events(after, left.min(1000)).await?;
                    for e in &page {
                        out!("{}", serde_json::to_string(e)?);
                    }
                    left -= page.len() as i64;
                    match page.last() {
                        Some(e) if page.len() == 1000 => after = e.seq,
                        _ => break,
                    }
                }
                if limit > 0 && left == 0 {
                    limited(limit, store.events_count(start).await?);
                }
            }
            Command::DeadLetters { command: DeadLettersCommand::List { source, json } } => {
                for d in store.dead_letters(source.as_deref(), false).await? {
                    if json {
                        out!("{}", serde_json::to_string(&d)?);
                    } else {
                        let component = d.component.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
                        out!("#{} {} {} ({}{}, {} attempts): {}", d.id.unwrap_or_default(), d.source, d.origin, d.phase, component, d.attempts, d.error);
                    }
                }
            }
            Command::Parties { command: PartiesCommand::Import { file } } => {
                let name = file.display().to_string();
                let text = if name.starts_with("http://") || name.starts_with("https://") {
                    let get = || -> Result<String> { Ok(ureq::get(&name).call()?.body_mut().read_to_string()?) };
                    get().with_context(|| format!("fetching {name}"))?
                } else {
                    std::fs::read_to_string(&file).with_context(|| format!("reading {name}"))?
                };
                let entries = dialogsync::parties::parse(&file.display().to_string(), &text)?;
                let unblocked = store.import_parties(&entries).await?;
                let parties = dialogsync_core::status::plural(entries.len() as i64, "party", "parties");
                store.log(None, "parties", &format!("imported {parties} from {}", file.display())).await?;
                let waiting = dialogsync_core::status::plural(unblocked as i64, "waiting record", "waiting records");
                out!("imported {parties}; {waiting} can now migrate on the next run");
            }
        }
        Ok::<(), anyhow::Error>(())
    }
    .await;
    closer.close().await;
    done
}

/// Says on stderr that a listing stopped at its limit, when more were there.
fn limited(limit: i64, total: i64) {
    if total > limit {
        eprintln!("first {} of {}; --limit 0 for all", dialogsync_core::status::thousands(limit), dialogsync_core::status::thousands(total));
    }
}

fn component_test(config: &Config, component: &std::path::Path, fixtures: &std::path::Path, source: Option<String>, update: bool) -> Result<()> {
    let source = source.or_else(|| component.file_stem().map(|s| s.to_string_lossy().into_owned())).unwrap_or_default();
    let sc = config.source(&source).context("pass --source to say whose record keys the fixtures use")?;
    let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
    let transformer = runtime.load_transformer(&Config::component_file("the component under test", component, "given on the command line")?)?;
    let projector = runtime.load_projector(&Config::component_file("the projector", &config.projector, &config.projector_from)?)?;
    let cases = dialogsync::fixtures::run(&runtime, &transformer, &projector, &sc.keys, fixtures, update)?;
    let failed: Vec<_> = cases.iter().filter(|c| c.diff.is_some()).collect();
    for c in &failed {
        out!("FAIL {}\n{}", c.name, c.diff.as_deref().unwrap_or_default());
    }
    for c in cases.iter().filter(|c| c.diff.is_none()) {
        out!("ok   {}", c.name);
    }
    out!("{} passed, {} failed", cases.len() - failed.len(), failed.len());
    anyhow::ensure!(failed.is_empty() || update, "{} of {} fixtures differ", failed.len(), cases.len());
    Ok(())
}
