//! `dialogsync.toml`: the store, the limits and, per source, its component and connector.
//! Every value has a default, so a one-off run needs no file; command-line flags override both.

use crate::runtime::Limits;
use crate::sources::RecordKeys;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use dialogsync_core::source::{KNOWN_SOURCES, KnownSource, known};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Store URL; `sqlite://FILE` is the embedded default.
    #[serde(default = "default_store")]
    pub store: String,
    /// Where compiled components are cached between runs.
    #[serde(default = "default_cache_dir")]
    pub cache_dir: PathBuf,
    /// The dialog projector component (default: `dialog-projector.wasm` in the components folder).
    #[serde(default)]
    pub projector: PathBuf,
    /// Where `projector` came from, for an error that says so.
    #[serde(skip)]
    pub projector_from: String,
    /// The folder of built components that default component paths are in, and why that one.
    #[serde(skip)]
    pub components: Components,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub api: ApiConfig,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    /// The one Maskinporten client every connector and the sink get tokens from.
    #[serde(default)]
    pub maskinporten: Option<crate::maskinporten::MaskinportenConfig>,
    /// Where the dialogs go besides the store (`[sink] kind = "dialogporten"`); none: the store only.
    #[serde(default)]
    pub sink: Option<SinkConfig>,
}

/// `[sink]`: Dialogporten's service-owner API (docs/dialogporten.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `dialogporten`.
    pub kind: String,
    /// Dialogporten's base URL, e.g. `https://platform.tt02.altinn.no/dialogporten`.
    pub url: String,
    /// Get tokens from `[maskinporten]` with these scopes (the default), …
    #[serde(default = "default_sink_scopes")]
    pub scopes: String,
    /// … or send this bearer token as it is (development: `dialogsync token --org`).
    #[serde(default)]
    pub token: Option<String>,
    /// Dialogs sent at once.
    #[serde(default = "default_sink_parallel")]
    pub parallel: usize,
    /// Requests per second at most.
    #[serde(default = "default_sink_rate")]
    pub rate_limit: f64,
    /// `isSilentUpdate` for what historic windows and backfills migrate (no end-user events,
    /// `updatedAt` and the system label kept) …
    #[serde(default = "yes")]
    pub silent_history: bool,
    /// … and for live changes.
    #[serde(default)]
    pub silent_live: bool,
}

fn default_sink_scopes() -> String {
    "digdir:dialogporten.serviceprovider digdir:dialogporten.serviceprovider.search".into()
}
fn default_sink_parallel() -> usize {
    16
}
fn default_sink_rate() -> f64 {
    100.0
}
fn yes() -> bool {
    true
}

impl SinkConfig {
    /// How a change made in `mode` is queued: `Some(isSilentUpdate)`.
    pub fn queue(&self, historic: bool) -> Option<bool> {
        Some(if historic { self.silent_history } else { self.silent_live })
    }

    /// The sink as a source with `sink_silent` sends to it.
    pub fn for_source(mut self, silent: Option<bool>) -> SinkConfig {
        if let Some(s) = silent {
            (self.silent_history, self.silent_live) = (s, s);
        }
        self
    }
}

/// `dialogsync serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub listen: String,
    /// Public keys (a JWKS file) that bearer tokens must be signed by; none: the development
    /// key `dialogsync token` mints with.
    pub jwks: Option<PathBuf>,
    /// Organisation number → the service resources it owns, as the Resource Registry would
    /// say: what its service-owner token may write and read.
    pub service_owners: BTreeMap<String, ServiceOwnerConfig>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { listen: "127.0.0.1:8080".into(), jwks: None, service_owners: BTreeMap::new() }
    }
}

/// `[api.service_owners.ORGNR]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceOwnerConfig {
    /// Resource URNs; one ending `*` stands for every resource that starts so
    /// (`urn:altinn:resource:app_skd_*`).
    pub resources: Vec<String>,
}

/// Whether `resource` is one of `patterns` (a pattern ending `*` matches every resource that
/// starts with the rest).
pub fn owns(patterns: &[String], resource: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => resource.starts_with(prefix),
        None => resource == p,
    })
}

/// How `dialogsync run` schedules the work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Time between live ticks ("5m", "1s").
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// The status page calls live sync stalled when its last tick is older than this
    /// (default: twice `interval`).
    #[serde(with = "humantime_serde")]
    pub stale_after: Option<Duration>,
    /// A live tick re-reads this much before its cursor, for changes the source stamped late;
    /// re-read records are unchanged no-ops.
    #[serde(with = "humantime_serde")]
    pub live_overlap: Duration,
    /// Failed ticks (or historic pages) in a row before a source pauses itself.
    pub max_failed_ticks: u32,
    /// Address for pushed CloudEvents (`POST /sources/{source}/events`); none: ticks only.
    pub listen: Option<String>,
    /// Pushed notifications for the same item within this time are applied once.
    #[serde(with = "humantime_serde")]
    pub push_delay: Duration,
    /// Hosts sharing a store: a historic window's lease lasts this long past its holder's last
    /// page, then another host takes the window over (a source's live lease: one interval more).
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            interval: Duration::from_secs(300),
            stale_after: None,
            live_overlap: Duration::from_secs(60),
            max_failed_ticks: 5,
            listen: None,
            push_delay: Duration::from_millis(200),
            lease: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The source transformer component (default: `NAME.wasm` in the components folder).
    #[serde(default)]
    pub component: PathBuf,
    /// Where `component` came from, for an error that says so.
    #[serde(skip)]
    pub component_from: String,
    /// `files`: a folder of NDJSON, JSON documents or Storage query pages; `http`: a paged
    /// JSON API (docs/operations.md "The http connector"); `altinn-storage`: Altinn Storage's
    /// instance query (docs/sources/a3-app-instances.md); `altinn-correspondence`: Altinn 3
    /// Correspondence's list and details (docs/sources/a3-correspondence.md).
    #[serde(default = "default_connector")]
    pub connector: String,
    /// The folder the `files` connector reads.
    pub input: Option<PathBuf>,
    /// The `http` connector's base URL; `altinn-storage`'s `…/storage/api/v1/instances`.
    pub url: Option<String>,
    /// `altinn-storage`: the organisation whose instances are read (`org`) …
    #[serde(default)]
    pub org: Option<String>,
    /// … or one app's (`appId`, `org/app`).
    #[serde(default)]
    pub app_id: Option<String>,
    /// `altinn-storage`: `mainVersionExclude` (default 0: migrated A1/A2 instances too; -1: send
    /// none, and Storage returns Altinn 3 instances only).
    #[serde(default)]
    pub main_version_exclude: Option<i64>,
    /// `altinn-correspondence`: the resources whose correspondences are read (the list takes
    /// one `resourceId` a request).
    #[serde(default)]
    pub resources: Vec<String>,
    /// The scopes its Maskinporten tokens ask for (with `[maskinporten]`; default
    /// `altinn:serviceowner/instances.read` for `altinn-storage`, `altinn:correspondence.write`
    /// for `altinn-correspondence`).
    #[serde(default)]
    pub scopes: Option<String>,
    /// The secret pushed events must carry (`POST /sources/NAME/events?code=…`, as Altinn apps'
    /// event receivers take it); none: any push is taken.
    #[serde(default)]
    pub events_code: Option<String>,
    /// `dialogsync subscribe`: Altinn Events' API (`…/events/api/v1`) …
    #[serde(default)]
    pub events_url: Option<String>,
    /// … and the apps' domain an `altinn-storage` source's events come from (`apps.altinn.no`;
    /// tt02: `apps.tt02.altinn.no`).
    #[serde(default)]
    pub apps_domain: Option<String>,
    /// JSON pointer to a page's records (default: `/instances` for a3-app-instances, else `/items`).
    pub items: Option<String>,
    /// JSON pointer to a page's continuation URL.
    #[serde(default = "default_next")]
    pub next: String,
    /// Records asked for per page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Most requests per second to the source.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: f64,
    /// Historic windows go back to this day ("2024-12-01"), or this long before the day live
    /// sync began ("30d"); none: no historic backfill.
    pub back_to: Option<BackTo>,
    /// Days per historic window.
    #[serde(default = "default_window_days")]
    pub window_days: u32,
    /// Write this source's dialogs without change events (like Dialogporten's silent updates).
    #[serde(default)]
    pub silent: bool,
    /// `isSilentUpdate` for this source's dialogs in Dialogporten, history and live alike
    /// (overrides `[sink] silent_history` / `silent_live`).
    #[serde(default)]
    pub sink_silent: Option<bool>,
    /// `id_field`: the JSON field holding each record's id; `version_fields`: the fields holding
    /// its version (a time or a number), the first present winning.
    #[serde(flatten)]
    pub keys: RecordKeys,
}

/// How far back a source's history goes: a day, or a span before live sync began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BackTo {
    Day(NaiveDate),
    Before(Duration),
}

impl<'de> Deserialize<'de> for BackTo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if let Ok(day) = s.parse::<NaiveDate>() {
            return Ok(BackTo::Day(day));
        }
        humantime::parse_duration(&s)
            .map(BackTo::Before)
            .map_err(|e| serde::de::Error::custom(format!("back_to `{s}` is neither a day (2024-12-01) nor a span (30d): {e}")))
    }
}

impl SourceConfig {
    /// The first day of history, for live sync that began at `live_since` (microseconds).
    pub fn back_to_day(&self, live_since: i64) -> Option<NaiveDate> {
        match self.back_to? {
            BackTo::Day(d) => Some(d),
            BackTo::Before(span) => {
                let start = crate::clock::day_of(live_since)?;
                Some(start - chrono::Duration::days((span.as_secs() / 86_400) as i64))
            }
        }
    }
}

fn default_store() -> String {
    "sqlite://dialogsync.db".into()
}
fn default_cache_dir() -> PathBuf {
    ".dialogsync/cache".into()
}
/// The folder of built components: `--components` / `DIALOGSYNC_COMPONENTS`, else the
/// checkout the binary was built in (`target/components` beside `target/debug`), else
/// `target/components` in the working folder.
#[derive(Debug, Clone, Default)]
pub struct Components {
    pub dir: PathBuf,
    pub from: String,
}

impl Components {
    /// Component `name`'s default path in this folder, and where it came from.
    pub fn default_for(&self, name: &str) -> (PathBuf, String) {
        let from = format!("the default, {name}.wasm in {} (the components folder, from {})", self.dir.display(), self.from);
        (self.dir.join(format!("{name}.wasm")), from)
    }

    pub fn find() -> Components {
        if let Some(dir) = std::env::var_os("DIALOGSYNC_COMPONENTS").filter(|d| !d.is_empty()) {
            return Components { dir: absolute(Path::new(&dir)), from: "DIALOGSYNC_COMPONENTS".into() };
        }
        let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.join("components"))).filter(|d| d.is_dir());
        match beside {
            Some(dir) => Components { dir, from: "the checkout the binary was built in".into() },
            None => Components { dir: absolute(Path::new("target/components")), from: "the working folder".into() },
        }
    }
}

/// `path` made absolute against the working folder, `..` and `.` resolved by their names.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
fn default_connector() -> String {
    "files".into()
}
fn default_next() -> String {
    "/next".into()
}
fn default_page_size() -> u32 {
    100
}
fn default_rate_limit() -> f64 {
    10.0
}
fn default_window_days() -> u32 {
    1
}

impl Default for Config {
    fn default() -> Self {
        let mut c: Config = toml::from_str("").expect("defaults");
        c.use_components(Components::find());
        c
    }
}

impl Config {
    /// Reads `path`, or the defaults when `path` is the default name and absent. Relative paths
    /// in a file are relative to the file's folder.
    pub fn load(path: &Path, explicit: bool) -> anyhow::Result<Config> {
        if !explicit && !path.exists() {
            return Ok(Config::default());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading config {}: {e}", path.display()))?;
        let mut c: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        rel(&mut c.cache_dir);
        let file = absolute(path);
        let set_in = |what: &str| format!("set by `{what}` in {}", file.display());
        if !c.projector.as_os_str().is_empty() {
            rel(&mut c.projector);
            c.projector_from = set_in("projector");
        }
        if let Some(j) = c.api.jwks.as_mut() {
            rel(j);
        }
        if let Some(m) = c.maskinporten.as_mut() {
            rel(&mut m.key);
        }
        if c.sources.contains_key(crate::store::service::SOURCE) {
            anyhow::bail!("config {}: `{}` is the service-owner API's own source; give the source another name", path.display(), crate::store::service::SOURCE);
        }
        for (org, o) in &c.api.service_owners {
            if !crate::parties::is_org(org) {
                anyhow::bail!("config {}: api.service_owners.{org}: the key must be a 9-digit organisation number", path.display());
            }
            if let Some(bad) = o.resources.iter().find(|r| !r.starts_with("urn:altinn:resource:") || r.trim_end_matches('*').contains('*')) {
                anyhow::bail!("config {}: api.service_owners.{org}: `{bad}` is not a resource URN (urn:altinn:resource:…, `*` only at the end)", path.display());
            }
        }
        for (name, s) in c.sources.iter_mut() {
            if let Some(k) = known(name) {
                if s.keys.id_field.is_empty() {
                    s.keys.id_field = k.id_field.into();
                }
                if s.keys.version_fields.is_empty() {
                    s.keys.version_fields = k.version_fields.iter().map(|f| f.to_string()).collect();
                }
                if s.keys.created_fields.is_empty() {
                    s.keys.created_fields = k.created_fields.iter().map(|f| f.to_string()).collect();
                }
                s.items.get_or_insert_with(|| k.items.to_string());
            }
            if s.keys.id_field.is_empty() || s.keys.version_fields.is_empty() {
                let known: Vec<&str> = KNOWN_SOURCES.iter().map(|k| k.name).collect();
                anyhow::bail!(
                    "config {}: [sources.{name}] is not one of the built-in sources{} (those are {}); a source of your own needs `id_field` and `version_fields`",
                    path.display(),
                    suggest(name, &known),
                    known.join(", ")
                );
            }
            if !s.component.as_os_str().is_empty() {
                rel(&mut s.component);
                s.component_from = set_in(&format!("component` of `[sources.{name}]"));
            }
            if let Some(i) = s.input.as_mut() {
                rel(i);
            }
        }
        // Relative to the file like every other path ("sqlite://../x.db" is beside the file's
        // folder), and absolute: sqlx's URL form would read `..` as a host name.
        if let Some(file) = c.store.strip_prefix("sqlite://").or_else(|| c.store.strip_prefix("sqlite:")) {
            let (file, query) = file.split_once('?').map_or((file, None), |(f, q)| (f, Some(q)));
            if !file.starts_with(':') && !file.is_empty() {
                let path = absolute(&base.join(file));
                c.store = format!("sqlite://{}{}", path.display(), query.map(|q| format!("?{q}")).unwrap_or_default());
            }
        }
        c.use_components(Components::find());
        Ok(c)
    }

    /// Puts every component path not set in the file (none yet, or the previous folder's
    /// default) in `components`.
    pub fn use_components(&mut self, components: Components) {
        let old = std::mem::replace(&mut self.components, components);
        let defaulted = |path: &Path, from: &str, name: &str| path.as_os_str().is_empty() || from == old.default_for(name).1;
        if defaulted(&self.projector, &self.projector_from, "dialog-projector") {
            (self.projector, self.projector_from) = self.components.default_for("dialog-projector");
        }
        for (name, s) in self.sources.iter_mut() {
            if defaulted(&s.component, &s.component_from, name) {
                (s.component, s.component_from) = self.components.default_for(name);
            }
        }
    }

    /// The component at `path` (from `from`), or an error naming the absolute path tried, where
    /// it came from, and what to do.
    pub fn component_file(what: &str, path: &Path, from: &str) -> anyhow::Result<PathBuf> {
        let abs = absolute(path);
        anyhow::ensure!(
            abs.is_file(),
            "{what}: {} does not exist ({from}); build the components (scripts/build-components.sh) or say where they are with --components DIR / DIALOGSYNC_COMPONENTS",
            abs.display()
        );
        Ok(abs)
    }

    /// Where the development token key lives: beside the compiled-component cache.
    pub fn dev_key_dir(&self) -> PathBuf {
        self.cache_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf()
    }

    /// The named source's settings: from the file, else the built-in defaults for a known source.
    pub fn source(&self, name: &str) -> anyhow::Result<SourceConfig> {
        if let Some(s) = self.sources.get(name) {
            return Ok(s.clone());
        }
        let k = known(name).ok_or_else(|| {
            let names: BTreeSet<&str> = KNOWN_SOURCES.iter().map(|k| k.name).chain(self.sources.keys().map(String::as_str)).collect();
            let names: Vec<&str> = names.into_iter().collect();
            anyhow::anyhow!("unknown source `{name}`{} (known: {})", suggest(name, &names), names.join(", "))
        })?;
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        let (component, component_from) = self.components.default_for(name);
        Ok(SourceConfig {
            component,
            component_from,
            connector: default_connector(),
            input: None,
            url: None,
            items: Some(k.items.into()),
            org: None,
            app_id: None,
            main_version_exclude: None,
            resources: Vec::new(),
            events_code: None,
            events_url: None,
            apps_domain: None,
            scopes: None,
            next: default_next(),
            page_size: default_page_size(),
            rate_limit: default_rate_limit(),
            back_to: None,
            window_days: default_window_days(),
            silent: false,
            sink_silent: None,
            keys: RecordKeys { id_field: k.id_field.into(), version_fields: strings(k.version_fields), created_fields: strings(k.created_fields) },
        })
    }
}

/// ", did you mean `x`?" when one of `names` is a likely spelling of `name`.
pub fn suggest(name: &str, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| (strsim::levenshtein(name, n), n))
        .filter(|(d, n)| *d <= 3.max(n.len() / 4))
        .min()
        .map(|(_, n)| format!(", did you mean `{n}`?"))
        .unwrap_or_default()
}

/// The commented file `dialogsync init` writes.
pub const TEMPLATE: &str = r#"# dialogsync configuration. Command-line flags override these values; relative paths are
# relative to this file.

# Where dialogs, staged records, checkpoints and dead letters are kept. The embedded SQLite
# file is created on first use.
store = "sqlite://dialogsync.db"

# Compiled components are cached here, so each is compiled once, not on every run.
cache_dir = ".dialogsync/cache"

# The dialog projector component (element -> Dialogporten dialog), shared by all sources.
# Components default to the built ones (target/components of the checkout, or --components DIR):
# projector = "target/components/dialog-projector.wasm"

[limits]
# Longest one call into a component may run; a record that exceeds it becomes a dead letter.
call_timeout_ms = 5000
# Most linear memory one component instance may use.
memory_mib = 256
# Records per call across the WebAssembly boundary.
batch_size = 256
# Records a backfill writes in one transaction (its calls stay `batch_size` each): larger
# transactions write a shared index page once for many records, at the cost of memory.
commit_records = 1024

[sync]
# `dialogsync run`: a live tick per source every `interval` ("5m", "30s"); each re-reads
# `live_overlap` before its cursor. After `max_failed_ticks` failures in a row a source pauses
# itself (`dialogsync resume SOURCE` restarts it).
interval = "5m"
live_overlap = "1m"
# The status page says live sync has stalled when its last tick is older than this
# (default: twice `interval`):
# stale_after = "15m"
max_failed_ticks = 5
# Accept pushed CloudEvents (A3 sources) at POST http://ADDR/sources/{source}/events:
# listen = "127.0.0.1:8480"
# Several hosts on one store (PostgreSQL) share the work by leases: a window whose host has
# been silent this long is taken over by another.
lease = "60s"

[api]
# `dialogsync serve` (docs/api.md). Tokens are checked against `jwks`; without it, against the
# development key `dialogsync token` mints with.
listen = "127.0.0.1:8080"
# jwks = "/etc/dialogsync/jwks.json"
# Service owners (organisation number) and the resources they own: what they may write.
# [api.service_owners.991825827]
# resources = ["urn:altinn:resource:digdir-*"]

# One section per source: its transformer component and where its records come from.
[sources.a3-app-instances]
# component = "target/components/a3-app-instances.wasm"
# `files`: a folder of NDJSON files, JSON documents, or Altinn Storage query pages.
connector = "files"
input = "examples/a3-app-instances"
# The JSON field naming each record, and the fields giving its version (first present wins).
id_field = "id"
version_fields = ["lastChanged", "created"]

# `http` instead: a paged JSON API (see docs/operations.md), e.g. `dialogsync simulate`:
# connector = "http"
# url = "http://127.0.0.1:8490/a3-app-instances"
# back_to = "2025-01-01"     # historic windows, newest first, back to this day (or "90d")
# rate_limit = 10            # requests per second

# The other sources, with their defaults; uncomment and set `input` to use one.
# [sources.a3-correspondence]
# component = "target/components/a3-correspondence.wasm"
# input = "path/to/a3-correspondence"
# id_field = "correspondenceId"
# version_fields = ["lastChanged", "created"]
#
# [sources.a2-correspondence]
# component = "target/components/a2-correspondence.wasm"
# input = "path/to/a2-correspondence"
# id_field = "correspondenceId"
# version_fields = ["lastChanged", "createdDate"]    # Altinn 2 wall times: read as Europe/Oslo
#
# [sources.a2-archived-forms]
# component = "target/components/a2-archived-forms.wasm"
# input = "path/to/a2-archived-forms"
# id_field = "archiveReference"
# version_fields = ["lastChanged", "archivedDate"]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_and_paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dialogsync.toml");
        std::fs::write(&path, TEMPLATE).unwrap();
        let c = Config::load(&path, true).unwrap();
        assert_eq!(c.limits.batch_size, 256);
        assert_eq!(c.store, format!("sqlite://{}", dir.path().join("dialogsync.db").display()));
        let s = c.source("a3-app-instances").unwrap();
        assert_eq!(s.component, c.components.dir.join("a3-app-instances.wasm"), "not set in the file: the built one");
        assert!(s.component_from.starts_with("the default"), "{}", s.component_from);
        assert!(c.source("nope").is_err());
        // A relative store path resolves like every other path: `..` included.
        let sub = dir.path().join("examples");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("x.toml"), "store = \"sqlite://../up.db\"\n").unwrap();
        assert_eq!(Config::load(&sub.join("x.toml"), true).unwrap().store, format!("sqlite://{}", dir.path().join("up.db").display()));
        let typo = TEMPLATE.replace("connector = \"files\"", "conector = \"files\"");
        std::fs::write(&path, typo).unwrap();
        let err = Config::load(&path, true).unwrap_err().to_string();
        assert!(err.contains("conector"), "a misspelt key is refused: {err}");
        assert!(Config::load(&dir.path().join("absent.toml"), true).is_err());
        assert_eq!(Config::load(&dir.path().join("absent.toml"), false).unwrap().store, "sqlite://dialogsync.db");
    }
}
