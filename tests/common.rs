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

/// The store a test uses: SQLite in its folder, or a fresh database on the PostgreSQL server
/// `DIALOGSYNC_TEST_POSTGRES` names (`scripts/test.sh` runs the store's tests once on each).
pub fn store_url(dir: &Path) -> String {
    match std::env::var("DIALOGSYNC_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let name = format!("t{}_{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let out = Command::new("psql").args([server.as_str(), "-qc", &format!("CREATE DATABASE {name}")]).output().expect("psql");
            assert!(out.status.success(), "creating {name}: {}", String::from_utf8_lossy(&out.stderr));
            let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}", dir.join("store.db").display()),
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
        let k = dialogsync::config::known(source).expect("known source");
        let (id_field, versions) = (k.id_field, k.version_fields);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("dialogsync.toml");
        let text = format!(
            "store = \"{db}\"\ncache_dir = \"{cache}\"\nprojector = \"{projector}\"\n[limits]\n{limits}\n\
             [sources.{source}]\ncomponent = \"{transformer}\"\nid_field = \"{id_field}\"\nversion_fields = {versions:?}\n",
            db = store_url(dir.path()),
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

/// Starts a command that prints `listening on URL` first; returns it and the URL.
fn listening(mut cmd: Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{cmd:?} said {line:?}")).to_string();
    (child, url)
}

/// `dialogsync simulate` on a free port, killed when dropped.
pub struct Sim {
    child: std::process::Child,
    pub url: String,
}

impl Sim {
    /// Starts a simulator; `args` are extra flags (`--days`, `--per-day`, `--today`…).
    pub fn start(seed: u64, args: &[&str], envs: &[(&str, &str)]) -> Sim {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogsync"));
        cmd.args(["simulate", "--listen", "127.0.0.1:0", "--seed", &seed.to_string(), "--change-every", "0s"]).args(args).envs(envs.iter().copied());
        let (child, url) = listening(cmd);
        Sim { child, url }
    }

    pub fn get(&self, path: &str) -> Value {
        let mut r = ureq::get(format!("{}{path}", self.url)).call().unwrap();
        serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap()
    }

    pub fn post(&self, path: &str) -> Value {
        let mut r = ureq::post(format!("{}{path}", self.url)).send_empty().unwrap();
        let body = r.body_mut().read_to_vec().unwrap();
        if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap() }
    }

    /// The register of party ids, as a file to import.
    pub fn parties(&self, dir: &Path) -> PathBuf {
        let mut r = ureq::get(format!("{}/parties.csv", self.url)).call().unwrap();
        let p = dir.join("parties.csv");
        std::fs::write(&p, r.body_mut().read_to_vec().unwrap()).unwrap();
        p
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config syncing `sources` (name → transformer component path) from the simulator.
pub fn run_env(sim: &Sim, sources: &[(&str, PathBuf)], back_to: &str, sync: &str, source_extra: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dialogsync.toml");
    let mut text = format!(
        "store = \"{db}\"\ncache_dir = \"{cache}\"\nprojector = \"{projector}\"\n[sync]\n{sync}\n",
        db = store_url(dir.path()),
        cache = root().join("target/test-component-cache").display(),
        projector = component("dialog-projector").display(),
    );
    for (name, transformer) in sources {
        text += &format!(
            "[sources.{name}]\ncomponent = \"{}\"\nconnector = \"http\"\nurl = \"{}/{name}\"\nback_to = \"{back_to}\"\n{source_extra}\n",
            transformer.display(),
            sim.url
        );
    }
    std::fs::write(&config, text).unwrap();
    Env { dir, config, source: sources[0].0.to_string() }
}

/// A running `dialogsync run`; SIGKILLed when dropped.
pub struct Host {
    pub child: std::process::Child,
}

impl Host {
    pub fn start(env: &Env, args: &[&str]) -> Host {
        Host::start_as(env, args, &format!("test-{}", std::process::id()))
    }

    /// A host named `name` among the hosts sharing the store.
    pub fn start_as(env: &Env, args: &[&str], name: &str) -> Host {
        Host::start_with(env, args, name, &[])
    }

    /// A host named `name`, with more environment (`DIALOGSYNC_NOW`).
    pub fn start_with(env: &Env, args: &[&str], name: &str, envs: &[(&str, &str)]) -> Host {
        let child = Command::new(env!("CARGO_BIN_EXE_dialogsync"))
            .arg("--config")
            .arg(&env.config)
            .arg("run")
            .args(args)
            .env("DIALOGSYNC_LOG", std::env::var("TEST_HOST_LOG").unwrap_or_else(|_| "error".into()))
            .env("DIALOGSYNC_HOST", name)
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Host { child }
    }

    /// SIGTERM, and the exit status: a clean stop after the page in flight.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::forget(self);
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Env {
    pub fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--format", "json"])).unwrap()
    }

    /// The status entry of `source`.
    pub fn source_status(&self, source: &str) -> Value {
        self.status()["sources"].as_array().unwrap().iter().find(|s| s["source"] == source).cloned().unwrap_or(Value::Null)
    }

    /// Polls until `done(status)` holds; fails the test after `secs` seconds (a hang, not
    /// a timing assertion: the condition itself is what is tested).
    pub fn wait_for(&self, what: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_at(None, what, secs, done)
    }

    /// `status --format json` as of `now` (`DIALOGSYNC_NOW`; none: the real clock).
    pub fn status_at(&self, now: Option<&str>) -> Value {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogsync"));
        cmd.arg("--config").arg(&self.config).args(["status", "--format", "json"]);
        if let Some(t) = now {
            cmd.env("DIALOGSYNC_NOW", t);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// [`Env::wait_for`], with the status read as of `now`.
    pub fn wait_for_at(&self, now: Option<&str>, what: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let s = self.status_at(now);
            if done(&s) {
                return s;
            }
            assert!(std::time::Instant::now() < until, "gave up waiting for {what}: {s:#}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

/// Every synced source's historic goal reached (a files source has none).
pub fn history_complete(status: &Value) -> bool {
    status["sources"].as_array().unwrap().iter().filter(|s| s["live"] != "files").all(|s| {
        let h = &s["historic"];
        h["windows_total"].as_u64().unwrap() > 0 && h["migrated_back_to"] == h["back_to"]
    })
}

/// `dialogsync serve` on a free port; killed when dropped.
pub struct Server {
    child: std::process::Child,
    pub url: String,
}

impl Server {
    pub fn start(env: &Env) -> Server {
        Server::start_with(env, &[])
    }

    /// A server whose "now" is `now` (`DIALOGSYNC_NOW`).
    pub fn start_at(env: &Env, now: &str) -> Server {
        Server::start_with(env, &[("DIALOGSYNC_NOW", now)])
    }

    fn start_with(env: &Env, envs: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialogsync"));
        cmd.arg("--config").arg(&env.config).args(["serve", "--listen", "127.0.0.1:0"]).envs(envs.iter().copied()).stderr(std::process::Stdio::null());
        let (child, url) = listening(cmd);
        Server { child, url }
    }

    /// GET with an optional bearer token: (status, JSON body or Null, content type).
    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, Value, String) {
        let r = self.send("GET", path, token, &[], None);
        (r.status, r.body, r.headers.get("content-type").cloned().unwrap_or_default())
    }

    /// Any request, with an optional bearer token, more headers and a JSON body.
    pub fn send(&self, method: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: Option<&Value>) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut req = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let sent = match body {
            Some(b) => agent.run(req.header("Content-Type", "application/json").body(b.to_string()).unwrap()),
            None => agent.run(req.body(()).unwrap()),
        };
        let mut r = sent.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string())).collect();
        let bytes = r.body_mut().read_to_vec().unwrap();
        Reply { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers }
    }
}

/// An HTTP answer: status, JSON body (Null if none), headers by lower-case name.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: std::collections::BTreeMap<String, String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
