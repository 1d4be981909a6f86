//! `dialogsync.toml`: the store, the limits and, per source, its component and connector.
//! Every value has a default, so a one-off run needs no file; command-line flags override both.

use crate::runtime::Limits;
use crate::sources::RecordKeys;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The sources this version knows, with the JSON fields that name a record's id and version.
pub const KNOWN_SOURCES: &[(&str, &str, &[&str])] = &[
    ("a2-archived-forms", "archiveReference", &["lastChanged", "archivedDate"]),
    ("a2-correspondence", "correspondenceId", &["lastChanged", "createdDate"]),
    ("a3-app-instances", "id", &["lastChanged", "created"]),
    ("a3-correspondence", "correspondenceId", &["lastChanged", "created"]),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Store URL; `sqlite://FILE` is the embedded default.
    #[serde(default = "default_store")]
    pub store: String,
    /// Where compiled components are cached between runs.
    #[serde(default = "default_cache_dir")]
    pub cache_dir: PathBuf,
    /// The dialog projector component.
    #[serde(default = "default_projector")]
    pub projector: PathBuf,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The source transformer component.
    pub component: PathBuf,
    /// `files`: a folder of NDJSON, JSON documents or Storage query pages.
    #[serde(default = "default_connector")]
    pub connector: String,
    /// The folder the `files` connector reads.
    pub input: Option<PathBuf>,
    /// `id_field`: the JSON field holding each record's id; `version_fields`: the fields holding
    /// its version (a time or a number), the first present winning.
    #[serde(flatten)]
    pub keys: RecordKeys,
}

fn default_store() -> String {
    "sqlite://dialogsync.db".into()
}
fn default_cache_dir() -> PathBuf {
    ".dialogsync/cache".into()
}
fn default_projector() -> PathBuf {
    "target/components/dialog-projector.wasm".into()
}
fn default_connector() -> String {
    "files".into()
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
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
        rel(&mut c.projector);
        for s in c.sources.values_mut() {
            rel(&mut s.component);
            if let Some(i) = s.input.as_mut() {
                rel(i);
            }
        }
        if let Some(file) = c.store.strip_prefix("sqlite://") {
            if Path::new(file).is_relative() && !file.starts_with(':') {
                c.store = format!("sqlite://{}", base.join(file).display());
            }
        }
        Ok(c)
    }

    /// The named source's settings: from the file, else the built-in defaults for a known source.
    pub fn source(&self, name: &str) -> anyhow::Result<SourceConfig> {
        if let Some(s) = self.sources.get(name) {
            return Ok(s.clone());
        }
        let (_, id, versions) = KNOWN_SOURCES.iter().find(|(n, ..)| *n == name).ok_or_else(|| {
            let known: Vec<&str> = KNOWN_SOURCES.iter().map(|(n, ..)| *n).chain(self.sources.keys().map(String::as_str)).collect();
            anyhow::anyhow!("unknown source `{name}` (known: {})", known.join(", "))
        })?;
        Ok(SourceConfig {
            component: format!("target/components/{name}.wasm").into(),
            connector: default_connector(),
            input: None,
            keys: RecordKeys { id_field: id.to_string(), version_fields: versions.iter().map(|v| v.to_string()).collect() },
        })
    }
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
projector = "target/components/dialog-projector.wasm"

[limits]
# Longest one call into a component may run; a record that exceeds it becomes a dead letter.
call_timeout_ms = 5000
# Most linear memory one component instance may use.
memory_mib = 256
# Records per call across the WebAssembly boundary.
batch_size = 256

# One section per source: its transformer component and where its records come from.
[sources.a3-app-instances]
component = "target/components/a3-app-instances.wasm"
# `files`: a folder of NDJSON files, JSON documents, or Altinn Storage query pages.
connector = "files"
input = "examples/a3-app-instances"
# The JSON field naming each record, and the fields giving its version (first present wins).
id_field = "id"
version_fields = ["lastChanged", "created"]

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
        assert_eq!(s.component, dir.path().join("target/components/a3-app-instances.wasm"));
        assert!(c.source("nope").is_err());
        let typo = TEMPLATE.replace("connector = \"files\"", "conector = \"files\"");
        std::fs::write(&path, typo).unwrap();
        let err = Config::load(&path, true).unwrap_err().to_string();
        assert!(err.contains("conector"), "a misspelt key is refused: {err}");
        assert!(Config::load(&dir.path().join("absent.toml"), true).is_err());
        assert_eq!(Config::load(&dir.path().join("absent.toml"), false).unwrap().store, "sqlite://dialogsync.db");
    }
}
