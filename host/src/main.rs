//! `dialogsync`: the command line. Edges only: parse flags, open the store and runtime, call
//! the pipeline, print.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dialogsync::config::{Config, TEMPLATE};
use dialogsync::runtime::{Runtime, bindings::types::SyncMode};
use dialogsync::sources::files;
use dialogsync::store::Store;
use dialogsync::sync::{Pipeline, Summary};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "dialogsync", version, about = "Moves Altinn inbox history into Dialogporten dialogs through sandboxed WebAssembly components")]
struct Cli {
    /// Configuration file (written by `dialogsync init`); defaults apply when it is absent.
    #[arg(long, global = true, env = "DIALOGSYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Store URL, e.g. sqlite://dialogsync.db (overrides the config).
    #[arg(long, global = true, env = "DIALOGSYNC_STORE")]
    store: Option<String>,
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
    /// Work on components in isolation.
    Component {
        #[command(subcommand)]
        command: ComponentCommand,
    },
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
}

#[derive(Subcommand)]
enum PartiesCommand {
    /// Import a register file (CSV `partyId,identifier`, JSON or NDJSON).
    Import { file: PathBuf },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("DIALOGSYNC_LOG").unwrap_or_else(|_| "error".into()))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let config_path = cli.config.clone().unwrap_or_else(|| "dialogsync.toml".into());
    if let Command::Init { force } = cli.command {
        if config_path.exists() && !force {
            anyhow::bail!("{} exists (use --force to replace it)", config_path.display());
        }
        std::fs::write(&config_path, TEMPLATE).with_context(|| format!("writing {}", config_path.display()))?;
        println!("wrote {}", config_path.display());
        return Ok(());
    }
    let mut config = Config::load(&config_path, cli.config.is_some())?;
    if let Some(url) = cli.store {
        config.store = url;
    }
    if let Command::Generate { source, count, from, to, seed, bad_ratio, out } = cli.command {
        let report = dialogsync::generate::generate(dialogsync::generate::Options { source, count, from, to, seed, bad_ratio, out })?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if let Command::Component { command: ComponentCommand::Test { component, fixtures, source, update } } = cli.command {
        return component_test(&config, &component, &fixtures, source, update);
    }
    let store = Store::open(&config.store).await?;

    match cli.command {
        Command::Init { .. } | Command::Component { .. } | Command::Generate { .. } => unreachable!(),
        Command::Backfill { source, input, summary_json } => {
            let sc = config.source(&source)?;
            let input = input.or(sc.input.clone()).with_context(|| format!("source {source} has no input folder: pass --input DIR"))?;
            anyhow::ensure!(sc.connector == "files", "source {source}: connector `{}` is not available in this version (use `files`)", sc.connector);
            let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
            let hint = "build the components with scripts/build-components.sh";
            let pipeline = Pipeline {
                transformer: Arc::new(runtime.load_transformer(&sc.component).context(hint)?),
                projector: Arc::new(runtime.load_projector(&config.projector).context(hint)?),
                runtime,
                source: source.clone(),
                store: store.clone(),
                mode: SyncMode::Historic,
                now: chrono::Utc::now().timestamp_micros(),
            };
            let records = files::read(&input, sc.keys).with_context(|| format!("reading {}", input.display()))?;
            let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}")?);
            let summary = pipeline.run(records, |s| bar.set_message(line(s))).await?;
            bar.finish_and_clear();
            store.log(Some(&source), "backfill", &format!("backfill from {}: {}", input.display(), line(&summary))).await?;
            if summary_json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                println!("{source}: {}", line(&summary));
                for (reason, n) in &summary.skip_reasons {
                    println!("  skipped {n}: {reason}");
                }
                if !summary.waiting_party_ids.is_empty() {
                    let ids: Vec<&str> = summary.waiting_party_ids.iter().map(String::as_str).collect();
                    println!("  waiting for party ids not in the register: {} (import them with `dialogsync parties import FILE`)", ids.join(", "));
                }
                if summary.dead > 0 {
                    println!("  {} dead letters: see `dialogsync dead-letters list`", summary.dead);
                }
            }
        }
        Command::Dialogs { command: DialogsCommand::Get { id } } => {
            let doc = store.dialog(&id).await?.with_context(|| format!("no dialog {id}"))?;
            println!("{doc}");
        }
        Command::Dialogs { command: DialogsCommand::Search { party, source, label, limit } } => {
            for doc in store.search(party.as_deref(), source.as_deref(), label.as_deref(), limit).await? {
                println!("{doc}");
            }
        }
        Command::Events { after, limit } => {
            for e in store.events(after, limit).await? {
                println!("{}", serde_json::to_string(&e)?);
            }
        }
        Command::DeadLetters { command: DeadLettersCommand::List { source, json } } => {
            for d in store.dead_letters(source.as_deref()).await? {
                if json {
                    println!("{}", serde_json::to_string(&d)?);
                } else {
                    let component = d.component.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
                    println!("#{} {} {} ({}{}, {} attempts): {}", d.id.unwrap_or_default(), d.source, d.origin, d.phase, component, d.attempts, d.error);
                }
            }
        }
        Command::Parties { command: PartiesCommand::Import { file } } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let entries = dialogsync::parties::parse(&file.display().to_string(), &text)?;
            let unblocked = store.import_parties(&entries).await?;
            store.log(None, "parties", &format!("imported {} parties from {}", entries.len(), file.display())).await?;
            println!("imported {} parties; {unblocked} waiting records can now migrate on the next run", entries.len());
        }
    }
    Ok(())
}

fn component_test(config: &Config, component: &std::path::Path, fixtures: &std::path::Path, source: Option<String>, update: bool) -> Result<()> {
    let source = source.or_else(|| component.file_stem().map(|s| s.to_string_lossy().into_owned())).unwrap_or_default();
    let sc = config.source(&source).context("pass --source to say whose record keys the fixtures use")?;
    let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
    let transformer = runtime.load_transformer(component)?;
    let projector = runtime.load_projector(&config.projector)?;
    let cases = dialogsync::fixtures::run(&runtime, &transformer, &projector, &sc.keys, fixtures, update)?;
    let failed: Vec<_> = cases.iter().filter(|c| c.diff.is_some()).collect();
    for c in &failed {
        println!("FAIL {}\n{}", c.name, c.diff.as_deref().unwrap_or_default());
    }
    for c in cases.iter().filter(|c| c.diff.is_none()) {
        println!("ok   {}", c.name);
    }
    println!("{} passed, {} failed", cases.len() - failed.len(), failed.len());
    anyhow::ensure!(failed.is_empty() || update, "{} of {} fixtures differ", failed.len(), cases.len());
    Ok(())
}

fn line(s: &Summary) -> String {
    format!(
        "fetched {} · migrated {} · unchanged {} · skipped {} · waiting {} · dead {}",
        s.fetched, s.migrated, s.unchanged, s.skipped, s.waiting, s.dead
    )
}
