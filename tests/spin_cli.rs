//! The real Spin CLI runs the repository's own `spin.toml` (a copy that differs only in its cron
//! expressions, for a schedule of one second) against the simulator: cron events migrate live
//! changes and history into Spin's SQLite (or PostgreSQL, beside a running host) exactly as
//! `dialogsync run --once` does, the HTTP routes answer, and Ctrl-C leaves no process behind.
//! Where no Spin binary is found (`../shared/tools/spin/`, or `spin` on PATH with the
//! `trigger-cron` plugin), each test says SKIPPED and why.

use super::common::{self, Env, Sim};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// A Spin CLI, and the data directory its cron plugin is installed in (None: the user's own).
pub struct SpinCli {
    bin: PathBuf,
    data: Option<tempfile::TempDir>,
}

pub fn spin_cli(test: &str) -> Option<SpinCli> {
    let shared = common::root().join("../shared/tools/spin");
    if shared.join("spin").is_file() {
        // A throw-away data directory: the plugin installed there, nothing of the user's touched.
        let data = tempfile::tempdir().unwrap();
        let out = Command::new("bash").arg(shared.join("install-cron-plugin.sh")).arg(data.path()).output().unwrap();
        assert!(out.status.success(), "installing the cron plugin: {}", String::from_utf8_lossy(&out.stderr));
        return Some(SpinCli { bin: shared.join("spin"), data: Some(data) });
    }
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join("spin")).find(|p| p.is_file());
    let Some(bin) = on_path else {
        eprintln!("SKIPPED {test}: no Spin CLI ({} is not there, no `spin` on PATH)", shared.display());
        return None;
    };
    let plugins = Command::new(&bin).args(["plugins", "list", "--installed"]).output().unwrap();
    if !String::from_utf8_lossy(&plugins.stdout).contains("trigger-cron") {
        eprintln!("SKIPPED {test}: {} has no trigger-cron plugin (spin plugins install trigger-cron)", bin.display());
        return None;
    }
    Some(SpinCli { bin, data: None })
}

/// [`spin_cli`] for a test of Spin's SQLite, which the PostgreSQL pass skips (it has its own).
fn on_sqlite(test: &str) -> Option<SpinCli> {
    if std::env::var("DIALOGSYNC_TEST_POSTGRES").is_ok_and(|s| !s.is_empty()) {
        eprintln!("SKIPPED {test} on the PostgreSQL pass: it runs on Spin's SQLite");
        return None;
    }
    spin_cli(test)
}

/// Ctrl-C as a terminal sends it (SIGINT to the process group `child` leads), and its exit
/// status; None (and the group killed) when it has not ended 30 s later.
fn interrupt(child: &mut Child) -> Option<std::process::ExitStatus> {
    assert!(signal_group(child.id(), "INT"), "sending Ctrl-C");
    let status = (0..300).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        child.try_wait().unwrap()
    });
    if status.is_none() {
        signal_group(child.id(), "KILL");
        let _ = child.wait();
    }
    status
}

/// Where Spin's wasmtime keeps compiled components (`$XDG_CACHE_HOME/wasmtime`): in the
/// build's folder, not the user's home.
fn spin_cache() -> PathBuf {
    common::root().join("target/spin-cache")
}

/// The files spin.toml names, copied: a test may swap one without touching the checkout's.
const FILES: [&str; 7] = ["spin-tick", "spin-status", "a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence", "dialog-projector"];

/// An app directory holding a copy of spin.toml and its component files, and `spin up` on it.
pub struct Deployment<'a> {
    spin: &'a SpinCli,
    pub app: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
}

impl<'a> Deployment<'a> {
    pub fn new(spin: &'a SpinCli) -> Deployment<'a> {
        let root = common::root();
        let app = tempfile::tempdir().unwrap();
        let original = std::fs::read_to_string(root.join("spin.toml")).unwrap();
        let manifest = original.replace("cron_expression = \"0 */5 * * * *\"", "cron_expression = \"*/1 * * * * *\"");
        // The copy is the repository's manifest but for the schedule.
        let differs: Vec<(&str, &str)> = original.lines().zip(manifest.lines()).filter(|(a, b)| a != b).collect();
        assert_eq!(differs.len(), 4, "one cron expression per source: {differs:?}");
        assert!(differs.iter().all(|(a, _)| a.starts_with("cron_expression")), "{differs:?}");
        std::fs::write(app.path().join("spin.toml"), manifest).unwrap();
        let components = app.path().join("target/components");
        std::fs::create_dir_all(&components).unwrap();
        for f in FILES {
            std::fs::copy(common::component(f), components.join(format!("{f}.wasm"))).unwrap_or_else(|e| panic!("{f}.wasm: {e} (scripts/build-components.sh)"));
        }
        Deployment { spin, app, child: None, port: 0 }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.app.path().join("target/components").join(format!("{name}.wasm"))
    }

    /// Spin's default SQLite database (`--state-dir`), as a dialogsync store URL.
    pub fn sqlite(&self) -> String {
        format!("sqlite://{}", self.app.path().join("state/sqlite_db.db").display())
    }

    /// `spin up` with these application variables; returns once `/healthz` answers.
    pub fn up(&mut self, variables: &[(&str, String)]) {
        assert!(self.child.is_none());
        self.port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(self.app.path().join("spin.log")).unwrap();
        let mut cmd = Command::new(&self.spin.bin);
        cmd.current_dir(self.app.path())
            .args(["up", "-f", "spin.toml", "--listen", &format!("127.0.0.1:{}", self.port), "--state-dir", "state"])
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in variables {
            cmd.arg("--variable").arg(format!("{k}={v}"));
        }
        if let Some(d) = &self.spin.data {
            cmd.env("SPIN_DATA_DIR", d.path());
        }
        cmd.env("XDG_CACHE_HOME", spin_cache());
        // Its own process group: Ctrl-C reaches `spin up` and the trigger processes it starts.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        self.child = Some(cmd.spawn().unwrap());
        for _ in 0..600 {
            if self.request("GET", "/healthz", &[]).0 == 200 {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("spin up ended ({status}): {}", self.log());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("spin up did not serve /healthz within a minute: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.app.path().join("spin.log")).unwrap_or_default()
    }

    /// Ctrl-C, as a terminal sends it (SIGINT to the process group); `spin up` must end cleanly
    /// and leave no process that runs this app.
    pub fn down(&mut self) {
        let mut child = self.child.take().expect("spin is up");
        let Some(status) = interrupt(&mut child) else { panic!("spin up ignored Ctrl-C for 30 s: {}", self.log()) };
        assert!(status.success() || status.code().is_none() || status.code() == Some(130), "spin up stopped with {status}: {}", self.log());
        let left = processes_naming(self.app.path());
        assert!(left.is_empty(), "processes left running: {left:?}");
    }

    /// A request to the app: (status, body).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut req = ureq::http::Request::builder().method(method).uri(format!("http://127.0.0.1:{}{path}", self.port));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        match agent.run(req.body(()).unwrap()) {
            Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }
}

impl Drop for Deployment<'_> {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(child.id(), "KILL");
            let _ = child.wait();
        }
    }
}

/// Sends `signal` to the process group `pgid` leads (`kill -s SIG -- -PGID`).
fn signal_group(pgid: u32, signal: &str) -> bool {
    Command::new("kill").args(["-s", signal, "--", &format!("-{pgid}")]).status().is_ok_and(|s| s.success())
}

/// Processes whose command line names `dir` (`spin up`, `spin trigger …`, the cron plugin).
fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            // Relative paths: the working directory names the app too.
            let cwd = std::fs::read_link(entry.path().join("cwd")).ok();
            if cmdline.contains(&needle) || (cwd.is_some_and(|c| c.starts_with(dir)) && cmdline.contains("spin")) {
                found.push(cmdline);
            }
        }
    }
    found
}

/// The day `n` days before today, as the variables and the simulator take it.
fn days_ago(n: i64) -> String {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(n)).format("%Y-%m-%d").to_string()
}

const SOURCES: [&str; 4] = ["a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence"];

/// The application variables that point the deployment at `sim`, with history to `back_to`.
fn variables(sim: &Sim, back_to: &str) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("back_to", back_to.to_string()),
        ("window_days", "1".into()),
        ("interval_secs", "1".into()),
        ("tick_token", "s3cret".into()),
        ("sources_origin", sim.url.clone()),
    ];
    for (var, source) in [("a2_archived_forms_url", "a2-archived-forms"), ("a2_correspondence_url", "a2-correspondence"), ("a3_app_instances_url", "a3-app-instances"), ("a3_correspondence_url", "a3-correspondence")] {
        v.push((var, format!("{}/{source}", sim.url)));
    }
    v
}

/// The host's config for the same sources, goal and interval (so its status page is the one
/// Spin's status component writes), on `store`.
fn host_env(sim: &Sim, back_to: &str, store: Option<&str>) -> Env {
    let sources: Vec<(&str, PathBuf)> = SOURCES.iter().map(|s| (*s, common::component(s))).collect();
    let env = common::run_env(sim, &sources, back_to, "interval = \"1s\"", "rate_limit = 1000\nwindow_days = 1");
    if let Some(url) = store {
        let text: String = std::fs::read_to_string(&env.config).unwrap().lines().map(|l| if l.starts_with("store = ") { format!("store = \"{url}\"\n") } else { format!("{l}\n") }).collect();
        std::fs::write(&env.config, text).unwrap();
    }
    env
}

fn dialogs_of(store: &str, filter: &[&str]) -> BTreeMap<String, Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_dialogsync")).args(["--store", store, "dialogs", "search", "--limit", "0"]).args(filter).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).map(|d| (d["id"].as_str().unwrap().to_string(), d)).collect()
}

/// The reference: `dialogsync run --once` of the same sources and history, in its own store.
fn reference(sim: &Sim, back_to: &str, parties: &Path) -> BTreeMap<String, Value> {
    let env = host_env(sim, back_to, None);
    env.ok(&["parties", "import", parties.to_str().unwrap()]);
    env.ok(&["run", "--once"]);
    let dialogs: BTreeMap<String, Value> = env.dialogs().into_iter().map(|d| (d["id"].as_str().unwrap().to_string(), d)).collect();
    assert!(dialogs.len() > 40, "the host migrated the history: {}", dialogs.len());
    dialogs
}

/// A simulator with three days of history, all before today (its records change no more), its
/// party register, history back to the middle day, and the host's dialogs of it.
struct World {
    sim: Sim,
    work: tempfile::TempDir,
    parties: PathBuf,
    back_to: String,
    expected: BTreeMap<String, Value>,
}

fn world(seed: u64) -> World {
    let sim = Sim::start(seed, &["--days", "3", "--per-day", "15", "--today", &days_ago(3)], &[]);
    let work = tempfile::tempdir().unwrap();
    let parties = sim.parties(work.path());
    let back_to = days_ago(4);
    let expected = reference(&sim, &back_to, &parties);
    World { sim, work, parties, back_to, expected }
}

/// Waits (at most two minutes) until every source's history in `env`'s store is done back to
/// its goal; the status, or a panic naming what was still missing.
fn history_done(env: &Env, spin: &Deployment) -> Value {
    for _ in 0..240 {
        let s = env.status_at(None);
        let done = s["sources"].as_array().is_some_and(|a| {
            a.len() == SOURCES.len() && a.iter().all(|x| x["historic"]["windows_total"].as_i64() > Some(0) && x["historic"]["windows_done"] == x["historic"]["windows_total"])
        });
        if done {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("history not done in two minutes: {:#}\n{}", env.status_at(None), spin.log());
}

/// History done with every tick succeeding (a failing one is an open problem, and pauses its
/// source), and the store's dialogs exactly the host's: none missing, none twice, none else.
fn migrated_as_the_host_does(env: &Env, spin: &Deployment, store: &str, expected: &BTreeMap<String, Value>) -> (Value, BTreeMap<String, Value>) {
    let status = history_done(env, spin);
    assert_eq!(status["problems"], serde_json::json!([]), "{status:#}");
    let got = dialogs_of(store, &[]);
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "the same dialogs as the host's run --once");
    for (id, doc) in &got {
        assert_eq!(doc, &expected[id], "dialog {id}");
    }
    (status, got)
}

/// Spin's `/status.md` equals `dialogsync status` of the same store. Both read the clock (the
/// page says when it was written, how old the last tick is), and ticks land every second, so
/// the two are read back to back until one pair was written from the same state.
fn same_status_page(spin: &Deployment, env: &Env) {
    let mut last = (String::new(), String::new());
    for _ in 0..20 {
        let (code, page) = spin.request("GET", "/status.md", &[]);
        assert_eq!(code, 200, "{page}");
        let host = env.ok(&["status"]);
        if page == host {
            assert!(page.contains("✔ A3 App instances — live sync running"), "{page}");
            return;
        }
        last = (page, host);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    panic!("Spin's status page never equalled the host's:\n--- spin\n{}\n--- host\n{}", last.0, last.1);
}

#[test]
fn spin_up_runs_the_repository_manifest_and_a_swapped_transformer_without_a_rebuild() {
    let Some(spin) = on_sqlite("spin_up_runs_the_repository_manifest_and_a_swapped_transformer_without_a_rebuild") else { return };
    let World { sim, work: _work, parties, back_to, expected } = world(61);

    let mut app = Deployment::new(&spin);
    let store = app.sqlite();
    let env = host_env(&sim, &back_to, Some(&store));
    // The register first: the store is made by the host's migrator, and the tick accepts it.
    std::fs::create_dir(app.app.path().join("state")).unwrap();
    env.ok(&["parties", "import", parties.to_str().unwrap()]);
    let tick_file = std::fs::read(app.file("spin-tick")).unwrap();
    app.up(&variables(&sim, &back_to));

    // Cron events, one a second per source: live ticks, then each day's window, newest first.
    let (status, got) = migrated_as_the_host_does(&env, &app, &store, &expected);
    // Without a config, the store alone says what it is: live-synced sources, not files.
    let plain = Command::new(env!("CARGO_BIN_EXE_dialogsync")).args(["--store", &store, "status"]).output().unwrap();
    let plain = String::from_utf8(plain.stdout).unwrap();
    assert!(plain.contains("A3 App instances — live sync") && !plain.contains("read from files"), "{plain}");
    let hosts: Vec<&str> = status["hosts"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert!(SOURCES.iter().all(|s| hosts.contains(&format!("spin-{s}").as_str())), "each source's tick is a host of the store: {hosts:?}");

    // The HTTP trigger: a manual tick needs the deployment's token.
    let route = "/tick/a3-app-instances";
    assert_eq!(app.request("POST", route, &[]).0, 401);
    assert_eq!(app.request("POST", route, &[("authorization", "Bearer guess")]).0, 401);
    let (code, body) = app.request("POST", route, &[("authorization", "Bearer s3cret")]);
    assert_eq!(code, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["source"], "a3-app-instances", "{answer}");
    assert!(answer["tick"]["live"]["fetched"].is_u64(), "{answer}");
    assert_eq!(app.request("GET", "/healthz", &[]), (200, "ok\n".to_string()));
    same_status_page(&app, &env);
    app.down();
    let instances = dialogs_of(&store, &["--source", "a3-app-instances"]).len();
    assert!(instances > 0);

    // A transformer swapped for another file (here one that cannot read app instances), a day
    // more of history, and `spin up` again: no rebuild, and the next events use the new file.
    std::fs::copy(common::component("a3-correspondence"), app.file("a3-app-instances")).unwrap();
    let older = days_ago(5);
    app.up(&variables(&sim, &older));
    let env = host_env(&sim, &older, Some(&store));
    history_done(&env, &app);
    app.down();
    assert_eq!(std::fs::read(app.file("spin-tick")).unwrap(), tick_file, "the tick itself is the file the build wrote");
    let dead: Vec<Value> = env.dead_letters().into_iter().filter(|d| d["source"] == "a3-app-instances").collect();
    assert!(!dead.is_empty(), "the older day's instances went through the swapped transformer");
    assert!(dead.iter().all(|d| d["phase"] == "transform"), "{dead:?}");
    let after = dialogs_of(&store, &[]);
    for (id, doc) in &got {
        assert_eq!(after.get(id), Some(doc), "dialog {id} of the first run is untouched");
    }
    assert!(after.len() > got.len(), "the other sources migrated the older day");
    assert_eq!(dialogs_of(&store, &["--source", "a3-app-instances"]).len(), instances, "no app instance migrated through the swapped file");
}

#[test]
fn spin_up_shares_postgresql_with_a_running_host() {
    let test = "spin_up_shares_postgresql_with_a_running_host";
    let Some(server) = std::env::var("DIALOGSYNC_TEST_POSTGRES").ok().filter(|s| !s.is_empty()) else {
        eprintln!("SKIPPED {test}: no PostgreSQL (DIALOGSYNC_TEST_POSTGRES; scripts/test.sh runs it on its PostgreSQL pass)");
        return;
    };
    let Some(spin) = spin_cli(test) else { return };
    let World { sim, work, parties, back_to, expected } = world(62);

    // One database for both: a `dialogsync run` host and the Spin deployment share the work by leases.
    let store = common::store_url(work.path());
    let env = host_env(&sim, &back_to, Some(&store));
    env.ok(&["parties", "import", parties.to_str().unwrap()]);
    let mut app = Deployment::new(&spin);
    let pg_host = server.split('@').nth(1).and_then(|r| r.split('/').next()).expect("postgres://USER@HOST:PORT/DB").to_string();
    let mut vars = variables(&sim, &back_to);
    vars.push(("store", store.clone()));
    vars.push(("postgres_host", pg_host));
    app.up(&vars);
    // Spin's ticks first (one window per event), then a host joins and takes what is free.
    env.wait_for("Spin's first ticks", 60, |s| s["sources"].as_array().is_some_and(|a| a.iter().filter(|x| x["last_tick_by"].as_str().is_some_and(|b| b.starts_with("spin-"))).count() == SOURCES.len()));
    let _host = common::Host::start_as(&env, &[], "beside-spin");

    let (status, _) = migrated_as_the_host_does(&env, &app, &store, &expected);
    let hosts: Vec<&str> = status["hosts"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert!(hosts.contains(&"beside-spin") && hosts.iter().any(|h| h.starts_with("spin-")), "both worked on the store: {hosts:?}");
    let (code, body) = app.request("POST", "/tick/a2-correspondence", &[("authorization", "Bearer s3cret")]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(app.request("GET", "/healthz", &[]), (200, "ok\n".to_string()));
    let (code, json) = app.request("GET", "/status", &[]);
    assert_eq!(code, 200, "{json}");
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["sources"].as_array().unwrap().len(), 4, "{json:#}");
    same_status_page(&app, &env);
    app.down();
}

/// `scripts/spin-up.sh`, the demo a user runs, in a copy of the checkout (built already): it
/// installs the cron plugin from a local copy when it is missing, starts the simulator, runs
/// `spin up` and ticks every source once; Ctrl-C stops it all.
#[test]
fn the_spin_demo_script_migrates_at_once_and_stops_on_ctrl_c() {
    let Some(spin) = on_sqlite("the_spin_demo_script_migrates_at_once_and_stops_on_ctrl_c") else { return };
    let root = common::root();
    let copy = tempfile::tempdir().unwrap();
    let d = copy.path();
    std::fs::create_dir(d.join("scripts")).unwrap();
    std::fs::copy(root.join("scripts/spin-up.sh"), d.join("scripts/spin-up.sh")).unwrap();
    std::fs::copy(root.join("spin.toml"), d.join("spin.toml")).unwrap();
    std::os::unix::fs::symlink(root.join("target"), d.join("target")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(d.join("demo.log")).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(d.join("scripts/spin-up.sh")).env("SPIN", &spin.bin).env("SPIN_UP_PREBUILT", "1").env("SPIN_UP_LISTEN", format!("127.0.0.1:{port}"));
    if let Some(data) = &spin.data {
        // A data directory without the plugin: the script installs it from the local copy.
        let fresh = data.path().join("fresh");
        cmd.env("SPIN_DATA_DIR", &fresh).arg("--plugin").arg(root.join("../shared/tools/spin/trigger-cron-0.3.0-linux-amd64.tar.gz"));
    }
    cmd.env("XDG_CACHE_HOME", spin_cache()).stdout(log.try_clone().unwrap()).stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().unwrap();
    let said = || std::fs::read_to_string(d.join("demo.log")).unwrap_or_default();
    let store = format!("sqlite://{}", d.join(".spin/sqlite_db.db").display());
    let mut dialogs = 0;
    for _ in 0..600 {
        if said().contains("Ctrl-C stops") {
            dialogs = dialogs_of(&store, &[]).len();
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the demo ended: {}", said());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = interrupt(&mut child);
    let log = said();
    assert!(status.is_some(), "the demo ignored Ctrl-C: {log}");
    assert!(dialogs > 100, "the first ticks migrated the simulator's week: {dialogs} dialogs\n{log}");
    assert!(processes_naming(d).is_empty(), "left running: {:?}", processes_naming(d));
    assert!(std::net::TcpListener::bind("127.0.0.1:8490").is_ok(), "the simulator outlived the demo");
}
