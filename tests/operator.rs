//! What a new operator meets: errors that name the thing once, output that behaves like a
//! Unix tool, and input that is refused when it is wrong (issue 14's rough edges).

#[path = "common.rs"]
mod common;

use common::{Env, Host, Sim, component, instance, run_env};
use serde_json::Value;
use std::process::{Command, Stdio};

fn dialogsync() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dialogsync"))
}

/// stderr of a command that must fail, checked to be one line.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "{cmd:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn errors_name_the_thing_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A store file that is not SQLite, and one whose header is SQLite's but the rest is not.
    std::fs::write(d.join("notes.db"), "these are my notes, not a database\n").unwrap();
    let err = fails(dialogsync().args(["--store", &format!("sqlite://{}/notes.db", d.display()), "status"]));
    assert!(err.contains(&format!("{}/notes.db is not a SQLite database", d.display())), "{err}");
    let mut damaged = b"SQLite format 3\0".to_vec();
    damaged.extend(std::iter::repeat_n(0xA5u8, 8192));
    std::fs::write(d.join("damaged.db"), damaged).unwrap();
    let err = fails(dialogsync().args(["--store", &format!("sqlite://{}/damaged.db", d.display()), "dialogs", "search"]));
    assert!(err.contains("damaged.db is damaged"), "{err}");

    // A cause is said once.
    let err = fails(dialogsync().args(["--store", &common::store_url(d), "parties", "import", "/no/such/register.csv"]));
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");

    // A file that is not a component, as the component under test.
    std::fs::write(d.join("notes.wasm"), "not wasm").unwrap();
    let fixtures = common::root().join("components/a3-app-instances/fixtures");
    let err = fails(dialogsync().args(["component", "test", d.join("notes.wasm").to_str().unwrap(), "--fixtures", fixtures.to_str().unwrap(), "--source", "a3-app-instances"]));
    assert!(err.contains("notes.wasm is not a WebAssembly component"), "{err}");

    // A misspelt source, on the command line and in a config; the known names once each.
    let err = fails(dialogsync().args(["--store", &common::store_url(d), "backfill", "--source", "a3-app-instance", "--input", "x"]));
    assert!(err.contains("did you mean `a3-app-instances`?"), "{err}");
    let config = d.join("dialogsync.toml");
    std::fs::write(&config, "[sources.a3-app-instances]\ninput = \"x\"\n").unwrap();
    let err = fails(dialogsync().arg("--config").arg(&config).args(["pause", "a2-corespondence", "--reason", "x"]));
    assert!(err.contains("did you mean `a2-correspondence`?"), "{err}");
    assert_eq!(err.matches("a3-app-instances").count(), 1, "no repeats in the known names: {err}");
    std::fs::write(&config, "[sources.a3-app-instanses]\ninput = \"x\"\n").unwrap();
    let err = fails(dialogsync().arg("--config").arg(&config).arg("status"));
    assert!(err.contains("[sources.a3-app-instanses] is not one of the built-in sources, did you mean `a3-app-instances`?"), "{err}");
}

/// No config file, a folder other than the checkout: the built components are found.
#[test]
fn a_one_off_run_from_any_folder_finds_the_built_components() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("one.json"), instance(7, "one-off").to_string()).unwrap();
    let store = common::store_url(dir.path());
    let backfill = |extra: &[&str]| {
        let mut c = dialogsync();
        c.current_dir(dir.path()).args(["--store", &store]).args(extra).args(["backfill", "--source", "a3-app-instances", "--input", input.to_str().unwrap()]);
        c
    };
    let out = backfill(&[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("fetched 1 · migrated 1 · unchanged 0 · skipped 0 · waiting 0 · dead 0"));
    // Elsewhere, by flag or environment: the absolute path tried, and where it came from.
    let nowhere = dir.path().join("nowhere");
    let err = fails(backfill(&["--components", nowhere.to_str().unwrap()]).env_remove("DIALOGSYNC_COMPONENTS"));
    assert!(err.contains(&format!("{}/a3-app-instances.wasm does not exist (the default, a3-app-instances.wasm in {} (the components folder, from --components)", nowhere.display(), nowhere.display())), "{err}");
    let err = fails(backfill(&[]).env("DIALOGSYNC_COMPONENTS", &nowhere));
    assert!(err.contains("from DIALOGSYNC_COMPONENTS"), "{err}");
    let out = backfill(&[]).env("DIALOGSYNC_COMPONENTS", common::root().join("target/components")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A store with `n` generated dialogs.
fn generated(n: usize) -> Env {
    let env = Env::for_source("a2-correspondence", "a2-correspondence", "");
    let out = env.dir.path().join("gen");
    let report: Value = serde_json::from_str(&env.ok(&["generate", "--source", "a2-correspondence", "--count", &n.to_string(), "--out", out.to_str().unwrap()])).unwrap();
    env.ok(&["parties", "import", report["parties_file"].as_str().unwrap()]);
    env.backfill(&out);
    env
}

#[test]
fn listings_behave_like_unix_tools() {
    let env = generated(400);
    let total = env.dialogs().len();
    assert!(total > 100, "{total}");
    // A listing cut at its default limit says so; --limit 0 streams them all.
    let out = env.run(&["dialogs", "search"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 100);
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), format!("first 100 of {total}; --limit 0 for all"));
    let out = env.run(&["dialogs", "search", "--limit", "0"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), total);
    assert!(out.stderr.is_empty());
    let events = env.run(&["events", "--limit", "0"]);
    let n_events = String::from_utf8_lossy(&events.stdout).lines().count();
    assert!(n_events > 1000, "{n_events}");
    let out = env.run(&["events"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), format!("first 1,000 of {}; --limit 0 for all", dialogsync_core::status::thousands(n_events as i64)));

    // A reader that stops reading (`| head -1`) ends the listing quietly, exit 0.
    let fixtures = common::root().join("components/a2-correspondence/fixtures");
    let closed = |args: &[&str]| {
        let mut child = dialogsync().arg("--config").arg(&env.config).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success() && !err.contains("panicked"), "{args:?}: {:?} {err}", out.status);
    };
    closed(&["dialogs", "search", "--limit", "0"]);
    closed(&["events", "--limit", "0"]);
    closed(&["status"]);
    closed(&["component", "test", component("a2-correspondence").to_str().unwrap(), "--fixtures", fixtures.to_str().unwrap()]);
}

#[test]
fn wrong_input_is_refused_and_judged_letters_can_be_settled() {
    let env = Env::new("a3-app-instances", "");
    let d = env.dir.path();
    // parties import: only what this import resolves is counted.
    env.backfill(&common::root().join("examples/a3-app-instances"));
    let unrelated = d.join("unrelated.csv");
    std::fs::write(&unrelated, "999999,910000009\n").unwrap();
    assert!(env.ok(&["parties", "import", common::root().join("examples/parties.csv").to_str().unwrap()]).contains("; 2 waiting records can now migrate"), "both waiting records name party 1337");
    assert!(env.ok(&["parties", "import", unrelated.to_str().unwrap()]).contains("; 0 waiting records can now migrate"), "the record waiting for another party is not this import's");
    std::fs::write(d.join("empty.csv"), "").unwrap();
    fails(Command::new(env!("CARGO_BIN_EXE_dialogsync")).arg("--config").arg(&env.config).args(["parties", "import", d.join("empty.csv").to_str().unwrap()]));

    // generate refuses a folder with another source's records, and a parties.csv not its own.
    let generated_dir = d.join("gen");
    env.ok(&["generate", "--source", "a2-correspondence", "--count", "50", "--out", generated_dir.to_str().unwrap()]);
    let err = fails(dialogsync().args(["generate", "--source", "a3-correspondence", "--count", "5", "--out", generated_dir.to_str().unwrap()]));
    assert!(err.contains("already holds other records"), "{err}");
    let own = d.join("own");
    std::fs::create_dir(&own).unwrap();
    std::fs::write(own.join("parties.csv"), "1,910000001\n").unwrap();
    fails(dialogsync().args(["generate", "--source", "a3-correspondence", "--count", "5", "--out", own.to_str().unwrap()]));
    assert_eq!(std::fs::read_to_string(own.join("parties.csv")).unwrap(), "1,910000001\n", "not overwritten");

    // Another source's records as input: every one fails, and the backfill says so loudly.
    let out = env.run(&["backfill", "--source", "a3-app-instances", "--input", generated_dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: every one of the 50 records failed: is --input"), "{err}");

    // Those dead letters, judged and discarded: counted, no longer open problems.
    let status = env.status();
    assert!(status["problems"].as_array().unwrap().iter().any(|p| p.as_str().unwrap().contains("50 dead letters")), "{status}");
    assert!(env.ok(&["dead-letters", "discard", "--source", "a3-app-instances", "--reason", "wrong folder"]).contains("discarded 50 dead letters"));
    let status = env.status();
    assert!(!status["problems"].as_array().unwrap().iter().any(|p| p.as_str().unwrap().contains("dead letters")), "{status}");
    assert_eq!(status["sources"][0]["discarded"], 50);
    assert!(env.dead_letters().is_empty());

    // token --person checks the number as `parties grant` does.
    let err = fails(Command::new(env!("CARGO_BIN_EXE_dialogsync")).arg("--config").arg(&env.config).args(["token", "--person", "1234"]));
    assert!(err.contains("11 digits"), "{err}");
}

#[test]
fn a_files_source_is_verified_against_its_files_and_verify_fails_while_records_are_missing() {
    let env = Env::for_source("a2-correspondence", "a2-correspondence", "");
    let d = env.dir.path();
    let all = d.join("all");
    let report: Value = serde_json::from_str(&env.ok(&["generate", "--source", "a2-correspondence", "--count", "60", "--out", all.to_str().unwrap()])).unwrap();
    env.ok(&["parties", "import", report["parties_file"].as_str().unwrap()]);
    // Only the first 40 lines migrated.
    let part = d.join("part");
    std::fs::create_dir(&part).unwrap();
    let text = std::fs::read_to_string(all.join("a2-correspondence.ndjson")).unwrap();
    std::fs::write(part.join("a.ndjson"), text.lines().take(40).collect::<Vec<_>>().join("\n")).unwrap();
    env.backfill(&part);
    let out = env.run(&["verify", "--source", "a2-correspondence", "--input", all.to_str().unwrap(), "--json"]);
    assert!(!out.status.success(), "records are missing: non-zero");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let missing = v["missing"].as_u64().unwrap();
    assert!(missing > 0 && missing <= 20, "{v:#}");
    let named: usize = v["days"].as_array().unwrap().iter().map(|d| d["missing_ids"].as_array().unwrap().len()).sum();
    assert_eq!(named as u64, missing);
    let repaired: Value = serde_json::from_str(&env.ok(&["verify", "--source", "a2-correspondence", "--input", all.to_str().unwrap(), "--repair", "--json"])).unwrap();
    assert_eq!(repaired["missing"], 0, "{repaired:#}");
    env.ok(&["verify", "--source", "a2-correspondence", "--input", all.to_str().unwrap()]);
}

#[test]
fn a_host_name_runs_once_and_the_api_names_every_bad_parameter() {
    let sim = Sim::start(41, &["--days", "1", "--per-day", "2"], &[]);
    let env = run_env(&sim, &[("a3-correspondence", component("a3-correspondence"))], "1d", "interval = \"1h\"", "");
    let _host = Host::start_as(&env, &[], "only-one");
    env.wait_for("the host to run", 60, |s| s["hosts"].as_array().unwrap().iter().any(|h| h["id"] == "only-one" && h["state"] == "running"));
    let err = fails(dialogsync().arg("--config").arg(&env.config).args(["run", "--host", "only-one"]));
    assert!(err.contains("host `only-one` is already running on this store"), "{err}");

    let server = common::Server::start(&env);
    let token = env.ok(&["token", "--person", "01017012345"]);
    let (status, body, _) = server.get("/api/v1/enduser/dialogs?status=Nope&limit=0&createdAfter=yesterday", Some(token.trim()));
    assert_eq!(status, 400, "{body}");
    let errors = &body["errors"];
    for field in ["status", "limit", "createdAfter"] {
        assert!(errors.get(field).is_some(), "{field} reported: {body}");
    }
}

/// The README's quick start, in a copy of the checkout's scripts and examples (the binary and
/// components built already): twice in a row, each leaving no process behind, its simulator run
/// landing in the `dialogsync.db` the README names.
#[test]
fn the_quickstart_leaves_a_clean_machine_and_runs_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = common::root();
    std::fs::create_dir(d.join("scripts")).unwrap();
    std::fs::copy(root.join("scripts/quickstart.sh"), d.join("scripts/quickstart.sh")).unwrap();
    assert!(Command::new("cp").arg("-r").arg(root.join("examples")).arg(d).status().unwrap().success());
    std::os::unix::fs::symlink(root.join("target"), d.join("target")).unwrap();
    for run in 1..=2 {
        let out = Command::new("bash").arg(d.join("scripts/quickstart.sh")).env("QUICKSTART_PREBUILT", "1").output().unwrap();
        assert!(out.status.success(), "run {run}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        // Nothing left listening on the simulator's port.
        assert!(std::net::TcpListener::bind("127.0.0.1:8490").is_ok(), "run {run}: the simulator outlived the quick start");
    }
    assert!(!d.join("examples/dialogsync.db").exists(), "the simulator run went beside the config, not where the README says");
    let status: Value = serde_json::from_slice(&dialogsync().current_dir(d).args(["--config", "examples/simulator.toml", "status", "--format", "json"]).output().unwrap().stdout).unwrap();
    let sources: Vec<&str> = status["sources"].as_array().unwrap().iter().map(|s| s["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence"], "{status:#}");
    let dialogs: i64 = status["sources"].as_array().unwrap().iter().map(|s| s["dialogs"].as_i64().unwrap()).sum();
    assert!(dialogs > 1000, "the simulator's history is in dialogsync.db: {dialogs}");
    // The same store, by the README's own `dialogsync status` from the checkout.
    let plain: Value = serde_json::from_slice(&dialogsync().current_dir(d).args(["status", "--format", "json"]).output().unwrap().stdout).unwrap();
    assert_eq!(plain["sources"].as_array().unwrap().len(), 4, "{plain:#}");
}

/// `run` says it started, logs one line per tick per source at the default level and a WARN for
/// each failed tick, with no colours when stderr is not a terminal.
#[test]
fn run_logs_each_tick_and_warns_for_each_failure() {
    let sim = Sim::start(43, &["--days", "1", "--per-day", "3"], &[]);
    let env = run_env(&sim, &[("a3-correspondence", component("a3-correspondence"))], "1d", "interval = \"1h\"", "");
    // A second source at a port where nothing listens: its every tick fails.
    let mut config = std::fs::read_to_string(&env.config).unwrap();
    config += &format!("[sources.a2-correspondence]\ncomponent = \"{}\"\nconnector = \"http\"\nurl = \"http://127.0.0.1:9/a2-correspondence\"\nback_to = \"1d\"\n", component("a2-correspondence").display());
    std::fs::write(&env.config, config).unwrap();
    let out = dialogsync().arg("--config").arg(&env.config).args(["run", "--once"]).env_remove("RUST_LOG").output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "a source that cannot be reached fails the run: {err}");
    assert!(!err.contains('\x1b'), "no ANSI colours into a pipe: {err}");
    let lines: Vec<&str> = err.lines().collect();
    let count = |pred: &dyn Fn(&str) -> bool| lines.iter().filter(|l| pred(l)).count();
    assert_eq!(count(&|l| l.contains(" INFO ") && l.contains("run started")), 1, "{err}");
    assert_eq!(count(&|l| l.contains(" INFO ") && l.contains("live tick source=a3-correspondence fetched=")), 1, "{err}");
    assert_eq!(count(&|l| l.contains(" WARN ") && l.contains("live tick failed source=a2-correspondence")), 1, "{err}");
    assert_eq!(count(&|l| l.contains(" WARN ") && l.contains("historic page failed source=a2-correspondence")), 1, "{err}");
    let last = lines.last().unwrap();
    assert!(last.starts_with("error: a2-correspondence: historic window: GET http://127.0.0.1:9/"), "{err}");
    assert_eq!(last.matches("a2-correspondence:").count(), 1, "the source named once: {last}");
    assert!(last.contains("Connection refused"), "{last}");
}

/// The read commands work on a store in a folder its reader cannot write (run as `nobody` when
/// the tests run as root, since root writes anywhere).
#[test]
fn read_commands_work_on_a_read_only_store_folder() {
    use std::os::unix::fs::PermissionsExt;
    if std::env::var("DIALOGSYNC_TEST_POSTGRES").is_ok_and(|s| !s.is_empty()) {
        eprintln!("SKIPPED read_commands_work_on_a_read_only_store_folder: a store folder is SQLite's matter");
        return;
    }
    let env = generated(20);
    let dir = env.dir.path();
    let dialogs = env.ok(&["dialogs", "search", "--limit", "0"]);
    let events = env.ok(&["events", "--limit", "0"]);
    assert!(dialogs.lines().count() > 10, "{dialogs}");
    // A reader must pass through the folders above; a tempdir is 0700.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        }
    }
    // Root writes anywhere: as root, read as `nobody`.
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir).unwrap()) == 0;
    let as_reader = |args: &[&str]| {
        let bin = env!("CARGO_BIN_EXE_dialogsync");
        let mut c = Command::new(if root { "setpriv" } else { bin });
        if root {
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", bin]);
        }
        c.current_dir("/").args(["--store", &common::store_url(dir)]).args(args);
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?} on a read-only store: {err}");
        String::from_utf8(out.stdout).unwrap()
    };
    let status: Value = serde_json::from_str(&as_reader(&["status", "--format", "json"])).unwrap();
    assert_eq!(status["sources"][0]["dialogs"], dialogs.lines().count(), "{status:#}");
    assert_eq!(as_reader(&["dialogs", "search", "--limit", "0"]), dialogs, "every dialog, as its writer sees them");
    assert_eq!(as_reader(&["events", "--limit", "0"]), events);
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(!files.iter().any(|f| f.to_string_lossy().ends_with("-shm")), "nothing written beside the store: {files:?}");
}
