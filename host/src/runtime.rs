//! The one place components run (Spin's `crates/core` style): one `Engine`, each component
//! compiled once (and cached on disk across runs), one `InstancePre` per component, a fresh
//! `Store` per batch, every limit in [`Limits`]. Guests are granted nothing: the linker is
//! empty, so a component importing anything fails to load.

use serde::Deserialize;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};

/// Host bindings of `wit/pipeline.wit`.
pub mod bindings {
    pub mod transformer {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "source-transformer",
            additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        });
    }
    pub mod projector {
        wasmtime::component::bindgen!({
            path: "../wit",
            world: "dialog-projector",
            with: { "dialogsync:pipeline/types": super::transformer::dialogsync::pipeline::types },
        });
    }
    pub use transformer::dialogsync::pipeline::types;
}

use bindings::types::{Dialog, Element, ProjectionContext, RecordError, SourceRecord, Transformed};

/// SHA-256 of `bytes`, hex: how components, payloads and records are named by content.
pub use dialogsync_core::sha256_hex;

/// Every limit a guest runs under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest one call may run (enforced by epoch interruption).
    pub call_timeout_ms: u64,
    /// Most linear memory one instance may grow to.
    pub memory_mib: usize,
    /// Records per call.
    pub batch_size: usize,
    /// Records a backfill writes in one transaction (its calls are still `batch_size` each):
    /// an index page many records of a transaction touch is written to the log once.
    pub commit_records: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { call_timeout_ms: 5000, memory_mib: 256, batch_size: 256, commit_records: 1024 }
    }
}

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Errors name the phase and the component.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("reading component {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a WebAssembly component: {what}")]
    NotComponent { path: PathBuf, what: &'static str },
    #[error("compiling component {component}: {source:#}")]
    Compile { component: String, source: wasmtime::Error },
    #[error("linking component {component} (a guest may import nothing, and must export {world}): {source:#}")]
    Link { component: String, world: &'static str, source: wasmtime::Error },
    #[error("component {component}: {message}")]
    Call { component: String, message: String },
}

/// Why one record failed inside a component.
#[derive(Debug, Clone, PartialEq)]
pub enum CallFailure {
    /// The component refused the record (its own per-record error).
    Refused(RecordError),
    /// The component trapped, ran out of time or memory on this record alone.
    Trapped(String),
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Refused(e) => match e {
                RecordError::Malformed(m) => write!(f, "malformed: {m}"),
                RecordError::MissingField(p) => write!(f, "missing required field `{p}`"),
                RecordError::InvalidField(e) => write!(f, "invalid field `{}`: {}", e.field, e.message),
                RecordError::RuleViolation(m) => write!(f, "rule violation: {m}"),
            },
            CallFailure::Trapped(m) => write!(f, "{m}"),
        }
    }
}

pub struct HostState {
    limits: StoreLimits,
}

/// A loaded component: its name, content hash and pre-linked instance.
pub struct Loaded<P> {
    /// File name, e.g. `a3-app-instances.wasm`.
    pub name: String,
    /// SHA-256 of the file, hex: recorded on every dialog it makes.
    pub hash: String,
    pre: P,
}

/// A source transformer ready to run.
pub type Transformer = Loaded<bindings::transformer::SourceTransformerPre<HostState>>;
/// The projector ready to run.
pub type Projector = Loaded<bindings::projector::DialogProjectorPre<HostState>>;

impl<P> Loaded<P> {
    /// `name@hash-prefix`, as errors and logs show it.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, &self.hash[..12])
    }
}

pub struct Runtime {
    engine: Engine,
    limits: Limits,
    cache_dir: PathBuf,
    compiled: Mutex<HashMap<String, Component>>,
    /// Calls that ran out of time, since start.
    timeouts: std::sync::atomic::AtomicU64,
}

impl Runtime {
    pub fn new(limits: Limits, cache_dir: impl Into<PathBuf>) -> Result<Arc<Runtime>, RuntimeError> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        // `DIALOGSYNC_PERFMAP=1`: `/tmp/perf-PID.map` names the components' functions for `perf`.
        if std::env::var_os("DIALOGSYNC_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|source| RuntimeError::Compile { component: "(engine)".into(), source })?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .expect("spawning the epoch ticker");
        Ok(Arc::new(Runtime { engine, limits, cache_dir: cache_dir.into(), compiled: Mutex::new(HashMap::new()), timeouts: Default::default() }))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many calls have run out of time (each cost one `call_timeout_ms`).
    pub fn timeouts(&self) -> u64 {
        self.timeouts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Compiles `bytes` once: from this process's memory, else the on-disk cache, else Cranelift.
    fn compile(&self, name: &str, hash: &str, bytes: &[u8]) -> Result<Component, RuntimeError> {
        if let Some(c) = self.compiled.lock().unwrap().get(hash) {
            return Ok(c.clone());
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let cached = self.cache_dir.join(format!("{hash}-{:016x}.cwasm", h.finish()));
        // SAFETY: the cache holds only files this function serialized from this engine
        // configuration (the name includes the engine's compatibility hash); a file that fails
        // to load is recompiled.
        let component = match unsafe { Component::deserialize_file(&self.engine, &cached) } {
            Ok(c) => c,
            Err(_) => {
                let c = Component::new(&self.engine, bytes)
                    .map_err(|source| RuntimeError::Compile { component: name.into(), source })?;
                if let Ok(serialized) = c.serialize() {
                    let tmp = cached.with_extension("tmp");
                    let written = std::fs::create_dir_all(&self.cache_dir)
                        .and_then(|_| std::fs::write(&tmp, serialized))
                        .and_then(|_| std::fs::rename(&tmp, &cached));
                    if let Err(e) = written {
                        tracing::warn!(component = name, error = %e, "could not cache the compiled component");
                    }
                }
                c
            }
        };
        self.compiled.lock().unwrap().insert(hash.into(), component.clone());
        Ok(component)
    }

    fn load<P>(
        &self,
        path: &Path,
        world: &'static str,
        pre: impl FnOnce(InstancePre<HostState>) -> wasmtime::Result<P>,
    ) -> Result<Loaded<P>, RuntimeError> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Read { path: path.into(), source })?;
        // The preamble says what a file is: a component (layer 1), a core module, or neither.
        let what = match bytes.get(..8) {
            Some([0, b'a', b's', b'm', _, _, 1, 0]) => None,
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Some("it is a core module (wrap it into a component: `cargo run -p xtask -- componentize IN OUT EXPORT`, as scripts/build-components.sh does)"),
            _ => Some("it does not start with WebAssembly's preamble"),
        };
        if let Some(what) = what {
            return Err(RuntimeError::NotComponent { path: path.into(), what });
        }
        let hash = sha256_hex(&bytes);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let component = self.compile(&name, &hash, &bytes)?;
        let linker: Linker<HostState> = Linker::new(&self.engine);
        let link = |source| RuntimeError::Link { component: name.clone(), world, source };
        let instance_pre = linker.instantiate_pre(&component).map_err(link)?;
        let pre = pre(instance_pre).map_err(link)?;
        tracing::debug!(component = %name, hash = %&hash[..12], "component loaded");
        Ok(Loaded { name, hash, pre })
    }

    pub fn load_transformer(&self, path: &Path) -> Result<Transformer, RuntimeError> {
        self.load(path, "dialogsync:pipeline/source-transformer", bindings::transformer::SourceTransformerPre::new)
    }

    pub fn load_projector(&self, path: &Path) -> Result<Projector, RuntimeError> {
        self.load(path, "dialogsync:pipeline/dialog-projector", bindings::projector::DialogProjectorPre::new)
    }

    /// A fresh store: its own memory cap and deadline, so nothing leaks between batches.
    fn store(&self) -> Store<HostState> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_mib << 20)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&self.engine, HostState { limits });
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.limits.call_timeout_ms.div_ceil(EPOCH_TICK.as_millis() as u64).max(1));
        store.epoch_deadline_trap();
        store
    }

    /// Says what a trap means in words a person can act on, on one line (a dead letter's
    /// error); the whole chain, with the guest's backtrace, goes to the debug log.
    fn describe(&self, e: &wasmtime::Error) -> String {
        let full = format!("{e:?}");
        tracing::debug!(error = %full, "component call failed");
        let chain: String = e.chain().map(|c| c.to_string().lines().next().unwrap_or_default().to_string()).collect::<Vec<_>>().join(": ");
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => format!("exceeded the time limit of {} ms per call", self.limits.call_timeout_ms),
            Some(Trap::UnreachableCodeReached) => "trapped: the component panicked or aborted (wasm `unreachable`)".into(),
            _ if chain.contains("memory") && chain.contains("grow") => {
                format!("exceeded the memory limit of {} MiB: {chain}", self.limits.memory_mib)
            }
            Some(t) => format!("trapped: {t}"),
            None => format!("failed: {chain}"),
        }
    }

    pub fn transform(&self, t: &Transformer, records: &[SourceRecord]) -> Vec<Result<Transformed, CallFailure>> {
        self.bisect(records, &|batch| {
            let mut store = self.store();
            let instance = t.pre.instantiate(&mut store)?;
            instance.dialogsync_pipeline_transformer().call_transform(&mut store, batch)
        })
    }

    pub fn project(&self, p: &Projector, ctx: ProjectionContext, elements: &[Element]) -> Vec<Result<Dialog, CallFailure>> {
        self.bisect(elements, &|batch| {
            let mut store = self.store();
            let instance = p.pre.instantiate(&mut store)?;
            instance.dialogsync_pipeline_projector().call_project(&mut store, ctx, batch)
        })
    }

    /// Times `n` instantiations of `t` as a batch gets one: a fresh store, an instance from
    /// the `InstancePre` (the benchmark of `dialogsync bench`).
    pub fn time_instantiations(&self, t: &Transformer, n: usize) -> Vec<std::time::Duration> {
        (0..n)
            .map(|_| {
                let started = std::time::Instant::now();
                let mut store = self.store();
                let instance = t.pre.instantiate(&mut store);
                let took = started.elapsed();
                assert!(instance.is_ok(), "the transformer instantiates");
                took
            })
            .collect()
    }

    /// Calls `call` on the whole batch; if it traps, splits the batch in halves (fresh stores)
    /// until the record that traps is alone, so it costs only itself. A batch that ran out of
    /// time is not halved but run one record per call: a looping record then costs two call
    /// timeouts (its batch's and its own), not one per level of halving.
    fn bisect<I, O>(
        &self,
        items: &[I],
        call: &dyn Fn(&[I]) -> wasmtime::Result<Vec<Result<O, RecordError>>>,
    ) -> Vec<Result<O, CallFailure>> {
        if items.is_empty() {
            return vec![];
        }
        let result = call(items);
        if let Err(e) = &result {
            if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
                self.timeouts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        match result {
            Ok(out) if out.len() == items.len() => out.into_iter().map(|r| r.map_err(CallFailure::Refused)).collect(),
            Ok(out) => {
                let m = format!("broke the contract: {} results for {} records", out.len(), items.len());
                items.iter().map(|_| Err(CallFailure::Trapped(m.clone()))).collect()
            }
            Err(e) if items.len() == 1 => vec![Err(CallFailure::Trapped(self.describe(&e)))],
            Err(e) if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) => items.iter().flat_map(|i| self.bisect(std::slice::from_ref(i), call)).collect(),
            Err(_) => {
                let (a, b) = items.split_at(items.len() / 2);
                let mut out = self.bisect(a, call);
                out.extend(self.bisect(b, call));
                out
            }
        }
    }
}
