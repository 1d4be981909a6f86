//! Helpers shared by the end-to-end tests: the built binary, the built components, a private
//! store per test, and the real Altinn material in ../shared when it is there.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A built component; the test command builds them first (scripts/test.sh).
pub fn component(name: &str) -> PathBuf {
    let p = root().join("target/components").join(format!("{name}.wasm"));
    assert!(p.exists(), "{} is not built: run scripts/build-components.sh (scripts/test.sh does)", p.display());
    p
}

/// ../shared/altinn beside the clone, or None, said plainly so a skip is never silent.
pub fn shared_altinn(test: &str) -> Option<PathBuf> {
    let p = root().join("../shared/altinn");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED {test}: {} is not there (it is beside CI's clone, not a user's)", p.display());
        None
    }
}

/// Reads a JSON file, allowing a BOM.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One test's world: its own store and config, the shared compiled-component cache.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub source: String,
}

impl Env {
    /// A config whose source `a3-app-instances` uses `transformer` (a component name).
    pub fn new(transformer: &str, limits: &str) -> Env {
        Env::for_source("a3-app-instances", transformer, limits)
    }

    /// A config with one source, of the built-in kind `source`, using `transformer`.
    pub fn for_source(source: &str, transformer: &str, limits: &str) -> Env {
        let (_, id_field, versions) = dialogsync::config::KNOWN_SOURCES.iter().find(|(n, ..)| *n == source).expect("known source");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("dialogsync.toml");
        let text = format!(
            "store = \"sqlite://{db}\"\ncache_dir = \"{cache}\"\nprojector = \"{projector}\"\n[limits]\n{limits}\n\
             [sources.{source}]\ncomponent = \"{transformer}\"\nid_field = \"{id_field}\"\nversion_fields = {versions:?}\n",
            db = dir.path().join("store.db").display(),
            cache = root().join("target/test-component-cache").display(),
            projector = component("dialog-projector").display(),
            transformer = component(transformer).display(),
        );
        std::fs::write(&config, text).unwrap();
        Env { dir, config, source: source.to_string() }
    }

    /// Runs `dialogsync --config … ARGS`; returns stdout, failing the test on a non-zero exit.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "dialogsync {args:?} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_dialogsync"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }

    /// `backfill --summary-json` of `input`.
    pub fn backfill(&self, input: &Path) -> Value {
        let out = self.ok(&["backfill", "--source", &self.source, "--input", input.to_str().unwrap(), "--summary-json"]);
        let summary: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("summary {out:?}: {e}"));
        let n = |k: &str| summary[k].as_u64().unwrap();
        assert_eq!(
            n("fetched"),
            n("migrated") + n("unchanged") + n("skipped") + n("waiting") + n("dead"),
            "nothing lost: {summary}"
        );
        summary
    }

    /// Every stored dialog document.
    pub fn dialogs(&self) -> Vec<Value> {
        self.ok(&["dialogs", "search", "--limit", "100000"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    pub fn dead_letters(&self) -> Vec<Value> {
        self.ok(&["dead-letters", "list", "--json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

/// The six counters of a summary, in order: fetched, migrated, unchanged, skipped, waiting, dead.
pub fn counts(s: &Value) -> [u64; 6] {
    ["fetched", "migrated", "unchanged", "skipped", "waiting", "dead"].map(|k| s[k].as_u64().unwrap())
}

/// A small synthetic app instance (organisation-owned, data task) whose title is `title`.
pub fn instance(n: u32, title: &str) -> Value {
    serde_json::json!({
        "id": format!("50001/00000000-0000-4000-8000-{n:012}"),
        "instanceOwner": { "partyId": "50001", "organisationNumber": "910000001" },
        "appId": "ttd/sample-app",
        "org": "ttd",
        "title": { "nb": title },
        "process": { "currentTask": { "altinnTaskType": "data", "elementId": "Task_1" } },
        "status": { "isArchived": false, "isSoftDeleted": false, "isHardDeleted": false },
        "created": format!("2024-05-{:02}T10:00:00Z", 1 + n % 28),
        "lastChanged": format!("2024-06-{:02}T10:00:00Z", 1 + n % 28),
    })
}

/// The CreateDialog schema of the real service-owner spec, as a JSON Schema with its refs.
pub fn create_dialog_schema(altinn: &std::path::Path) -> jsonschema::Validator {
    let spec = read_json(&altinn.join("dialogporten/openapi.v1.serviceowner.verified.json"));
    let schema = serde_json::json!({
        "$ref": "#/components/schemas/CreateDialog",
        "components": spec["components"],
    });
    jsonschema::options().build(&schema).expect("CreateDialog schema compiles")
}
