//! The sync engine against the source simulator, through the built binary: live ticks,
//! newest-first historic windows, pause and resume, a SIGKILL mid-run, reconciliation,
//! pushed events, auto-pause, component swap and replay, and the status page.

#[path = "common.rs"]
mod common;

use common::{Env, Host, Sim, component, history_complete, run_env};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const SOURCES: [&str; 4] = ["a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence"];

fn all_sources() -> Vec<(&'static str, PathBuf)> {
    SOURCES.iter().map(|s| (*s, component(s))).collect()
}

fn days_ago(n: i64) -> String {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(n)).to_string()
}

/// Every dialog document, by id; fails on a duplicated id.
fn dialogs_by_id(env: &Env) -> BTreeMap<String, Value> {
    let docs = env.dialogs();
    let n = docs.len();
    let by_id: BTreeMap<String, Value> = docs.into_iter().map(|d| (d["id"].as_str().unwrap().to_string(), d)).collect();
    assert_eq!(by_id.len(), n, "no dialog id appears twice");
    by_id
}

/// `verify --json`; it exits non-zero exactly when records are missing.
fn verify(env: &Env, source: &str, from: &str) -> Value {
    let out = env.run(&["verify", "--source", source, "--from", from, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.success(), v["missing"] == 0, "exit status and missing agree: {v}");
    v
}

#[test]
fn run_survives_pause_kill_and_restart_and_equals_one_uninterrupted_run() {
    let sim = Sim::start(5, &["--days", "30", "--per-day", "6"], &[]);
    let back_to = days_ago(30);
    // One record a page, four pages a second: a window takes over a second, so the kill
    // lands inside windows.
    let slow = "page_size = 1\nrate_limit = 4";
    let env = run_env(&sim, &all_sources(), &back_to, "interval = \"1s\"\nlive_overlap = \"2s\"", slow);
    env.ok(&["parties", "import", sim.parties(env.dir.path()).to_str().unwrap()]);

    let host = Host::start(&env, &[]);
    env.wait_for("a few historic windows", 120, |s| s["sources"].as_array().unwrap().iter().all(|s| s["historic"]["windows_done"].as_u64().unwrap() >= 2));
    // Live changes while the history is being migrated.
    sim.post("/_sim/advance?steps=25");
    env.ok(&["pause", "a2-correspondence", "--reason", "wrong dates in summer time"]);
    let s = env.source_status("a2-correspondence");
    assert_eq!((s["live"].as_str(), s["reason"].as_str()), (Some("paused"), Some("wrong dates in summer time")), "{s}");
    env.wait_for("more windows", 120, |s| s["sources"].as_array().unwrap().iter().filter(|s| s["historic"]["windows_done"].as_u64().unwrap() >= 4).count() >= 3);
    host.kill();
    let at_kill = env.status();
    assert!(!history_complete(&at_kill), "the kill interrupted the history: {at_kill:#}");
    let cut: Vec<Value> = at_kill["sources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["historic"]["windows"].as_array().unwrap().clone())
        .filter(|w| w["state"] == "running" && w["pages"].as_u64().unwrap() > 0)
        .collect();
    assert!(!cut.is_empty(), "killed inside a window: some window has pages committed and pages left: {at_kill:#}");
    // Faster from here on; a window cut short continues from its stored next page.
    let config = std::fs::read_to_string(&env.config).unwrap().replace(slow, "page_size = 3\nrate_limit = 200");
    std::fs::write(&env.config, config).unwrap();

    // Changes while the host is down; then it starts again from its checkpoints.
    sim.post("/_sim/advance?steps=25");
    let host = Host::start(&env, &[]);
    assert_eq!(env.source_status("a2-correspondence")["live"], "paused", "a pause outlives the process");
    env.ok(&["resume", "a2-correspondence"]);
    sim.post("/_sim/advance?steps=25");
    // New records may name parties the register learns only now: they wait, then migrate.
    env.ok(&["parties", "import", sim.parties(env.dir.path()).to_str().unwrap()]);
    let last_change = chrono::Utc::now();
    env.wait_for("the whole history and a tick after the last change", 300, |s| {
        history_complete(s)
            && s["sources"].as_array().unwrap().iter().all(|s| {
                s["live"] == "running"
                    && s["last_tick"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok()).is_some_and(|t| t > last_change + chrono::Duration::seconds(4))
            })
    });
    // The tick that ended after that may have begun before the last change (a slow tick on a
    // loaded machine); the next one began after it ended.
    let after = chrono::Utc::now();
    env.wait_for("a tick begun after the last change", 120, |s| {
        s["sources"].as_array().unwrap().iter().all(|s| s["last_tick"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok()).is_some_and(|t| t > after))
    });
    assert!(host.terminate().success(), "SIGTERM stops the host cleanly");

    let mut at_source_per_day: BTreeMap<(String, String), u64> = BTreeMap::new();
    for source in SOURCES {
        let v = verify(&env, source, &back_to);
        for d in v["days"].as_array().unwrap() {
            at_source_per_day.insert((source.to_string(), d["day"].as_str().unwrap().to_string()), d["at_source"].as_u64().unwrap());
        }
        assert_eq!(v["missing"], 0, "{source}: {v:#}");
        let at_source: i64 = v["days"].as_array().unwrap().iter().map(|d| d["at_source"].as_i64().unwrap()).sum();
        let staged: i64 = v["days"].as_array().unwrap().iter().map(|d| d["staged"].as_i64().unwrap()).sum();
        assert_eq!(at_source, staged, "{source}: every record the source counts is staged");
        assert!(at_source >= 150, "{source}: {at_source}");
    }
    // Per window, nothing lost: fetched = migrated + unchanged + skipped + waiting + dead.
    for source in env.status()["sources"].as_array().unwrap() {
        for w in source["historic"]["windows"].as_array().unwrap() {
            let n = |k: &str| w[k].as_u64().unwrap();
            assert_eq!(n("fetched"), n("migrated") + n("unchanged") + n("skipped") + n("waiting") + n("dead"), "{w}");
            assert_eq!(w["state"], "done", "{w}");
        }
    }
    // A window cut by the kill went on from its next page: had it started over, it would
    // have fetched its first pages twice. (Days before today gain no records.)
    let today = chrono::Utc::now().date_naive().to_string();
    for w in cut.iter().filter(|w| w["first_day"].as_str().unwrap() < today.as_str()) {
        let (source, day) = (w["source"].as_str().unwrap().to_string(), w["first_day"].as_str().unwrap().to_string());
        let now = env.status()["sources"].as_array().unwrap().iter().find(|s| s["source"] == source.as_str()).unwrap()["historic"]["windows"]
            .as_array().unwrap().iter().find(|x| x["first_day"] == day.as_str()).unwrap().clone();
        assert_eq!(now["fetched"].as_u64(), at_source_per_day.get(&(source, day)).copied(), "each record of the cut window fetched once: {w} → {now}");
    }
    let interrupted = dialogs_by_id(&env);
    assert!(interrupted.len() > 400, "{}", interrupted.len());

    // The same data, one uninterrupted run into a fresh store.
    let fresh = run_env(&sim, &all_sources(), &back_to, "interval = \"1s\"", "page_size = 50\nrate_limit = 1000");
    fresh.ok(&["parties", "import", sim.parties(fresh.dir.path()).to_str().unwrap()]);
    fresh.ok(&["run", "--once"]);
    let uninterrupted = dialogs_by_id(&fresh);
    let only = |a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>| a.keys().filter(|k| !b.contains_key(*k)).cloned().collect::<Vec<_>>();
    assert_eq!(only(&interrupted, &uninterrupted), Vec::<String>::new(), "dialogs only the interrupted run has");
    assert_eq!(only(&uninterrupted, &interrupted), Vec::<String>::new(), "dialogs only the uninterrupted run has");
    let differ: Vec<&String> = interrupted.keys().filter(|k| interrupted[*k] != uninterrupted[*k]).collect();
    assert!(differ.is_empty(), "{} dialogs differ, e.g. {:#}\nvs {:#}", differ.len(), interrupted[differ[0]], uninterrupted[differ[0]]);

    // The changelog tells the story.
    let log: Vec<String> = env.status()["changelog"].as_array().unwrap().iter().flat_map(|d| d["entries"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string())).collect();
    assert!(log.iter().any(|e| e == "A2 Correspondence: paused: wrong dates in summer time"), "{log:?}");
    assert!(log.iter().any(|e| e == "A2 Correspondence: live sync resumed"), "{log:?}");
    let back = chrono::NaiveDate::parse_from_str(&back_to, "%Y-%m-%d").unwrap().format("%d.%m.%Y").to_string();
    assert!(log.iter().any(|e| e.starts_with("A3 App instances: historic data migrated back to ") && e.contains(&back)), "{log:?}");
}

#[test]
fn pushed_events_apply_at_once_and_repeated_notifications_fetch_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let sim = Sim::start(8, &["--days", "2", "--per-day", "5", "--push", &format!("http://{listen}")], &[]);
    // Ticks an hour apart: only the push can bring the change in time.
    let sync = format!("interval = \"1h\"\nlisten = \"{listen}\"\npush_delay = \"2s\"");
    let env = run_env(&sim, &[("a3-app-instances", component("a3-app-instances"))], &days_ago(2), &sync, "");
    let _host = Host::start(&env, &[]);
    env.wait_for("the first tick and the history", 60, |s| history_complete(s) && !s["sources"][0]["last_tick"].is_null());
    let fetches_before = sim.get("/_sim/stats")["item_fetches"]["a3-app-instances"].as_u64().unwrap();

    // Step the simulator until an app instance changes; it pushes one event for it, and we
    // repeat the notification four times more within the coalescing delay.
    let change = (0..200)
        .find_map(|_| sim.post("/_sim/advance?steps=1")["changes"].as_array().unwrap().iter().find(|c| c["source"] == "a3-app-instances").cloned())
        .expect("an app instance changes");
    let id = change["id"].as_str().unwrap();
    let event = serde_json::json!({ "specversion": "1.0", "id": "x", "source": "test", "type": "app.instance.changed", "resourceinstance": id });
    for _ in 0..3 {
        ureq::post(format!("http://{listen}/sources/a3-app-instances/events")).header("Content-Type", "application/cloudevents+json").send(event.to_string()).unwrap();
    }
    let batch = serde_json::json!([event, event]);
    let mut r = ureq::post(format!("http://{listen}/sources/a3-app-instances/events")).header("Content-Type", "application/cloudevents-batch+json").send(batch.to_string()).unwrap();
    let answer: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(answer["accepted"], 2, "{answer}");

    let label = format!("urn:altinn:integration:storage:{id}");
    let item = sim.get(&format!("/a3-app-instances/item?id={}", id.replace('/', "%2F")));
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let fetches_for_test = 1; // the test's own GET above
    loop {
        let found: Vec<Value> = env.ok(&["dialogs", "search", "--label", &label]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let current = found.first().is_some_and(|d| {
            let updated = d["updatedAt"].as_str().unwrap_or_default();
            let changed = item["lastChanged"].as_str().unwrap_or_default();
            updated.get(..19) == changed.get(..19)
        });
        if current {
            break;
        }
        assert!(std::time::Instant::now() < until, "the pushed change never arrived: {found:?} vs {item}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let fetches = sim.get("/_sim/stats")["item_fetches"]["a3-app-instances"].as_u64().unwrap() - fetches_before - fetches_for_test;
    assert_eq!(fetches, 1, "six notifications of one item fetch it once");

    // The same address serves the API.
    let t = env.ok(&["token", "--person", "01017012345"]);
    let mut r = ureq::get(format!("http://{listen}/api/v1/enduser/parties")).header("Authorization", format!("Bearer {}", t.trim())).call().unwrap();
    let parties: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(parties["authorizedParties"][0]["party"], "urn:altinn:person:identifier-no:01017012345");

    // A push to a source this host does not run is refused, by name.
    let err = ureq::post(format!("http://{listen}/sources/nope/events")).header("Content-Type", "application/cloudevents+json").send(event.to_string()).unwrap_err().to_string();
    assert!(err.contains("404"), "{err}");
}

#[test]
fn a_failing_source_pauses_itself_and_resumes_on_request() {
    let sim = Sim::start(4, &["--days", "2", "--per-day", "3"], &[]);
    let env = run_env(&sim, &[("a2-archived-forms", component("a2-archived-forms"))], &days_ago(2), "interval = \"1s\"\nmax_failed_ticks = 3", "");
    sim.post("/_sim/fail?source=a2-archived-forms&count=100000");
    let host = Host::start(&env, &[]);
    let s = env.wait_for("the circuit breaker", 60, |s| s["sources"][0]["live"] == "auto-paused");
    let reason = s["sources"][0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("3 failed ticks in a row; last: ") && reason.contains("HTTP 503"), "{reason}");
    let md = env.ok(&["status"]);
    assert!(md.contains("⚠ A2 Archived forms — live sync auto-paused: 3 failed ticks in a row"), "{md}");

    sim.post("/_sim/fail?source=a2-archived-forms&count=0");
    env.ok(&["resume", "a2-archived-forms"]);
    let s = env.wait_for("a good tick and the history", 60, |s| s["sources"][0]["ok"] == true && history_complete(s));
    assert_eq!(s["sources"][0]["live"], "running");
    assert!(host.terminate().success());
    let log = env.ok(&["status"]);
    assert!(log.contains("A2 Archived forms: auto-paused: 3 failed ticks in a row"), "{log}");
}

#[test]
fn a_component_swapped_in_while_running_and_a_replay_correct_exactly_the_wrong_dialogs() {
    // History from mid October to early November 2026: summer time ends on 25 October, so the
    // buggy transformer (tests/guests/a2-dst-bug) gets some dialogs wrong, not all.
    let sim = Sim::start(12, &["--days", "30", "--per-day", "5", "--today", "2026-11-10"], &[]);
    let work = tempfile::tempdir().unwrap();
    let component_file = work.path().join("a2-correspondence.wasm");
    std::fs::copy(component("a2-dst-bug"), &component_file).unwrap();
    let env = run_env(&sim, &[("a2-correspondence", component_file.clone())], "2026-10-11", "interval = \"1s\"", "rate_limit = 1000");
    let host = Host::start(&env, &[]);
    env.wait_for("the history", 120, history_complete);
    let buggy = dialogs_by_id(&env);

    let reference = run_env(&sim, &[("a2-correspondence", component("a2-correspondence"))], "2026-10-11", "", "rate_limit = 1000");
    reference.ok(&["run", "--once"]);
    let right = dialogs_by_id(&reference);
    assert_eq!(buggy.len(), right.len());
    let wrong: BTreeSet<&String> = buggy.iter().filter(|(id, d)| right.get(*id) != Some(d)).map(|(id, _)| id).collect();
    assert!(!wrong.is_empty() && wrong.len() < buggy.len(), "some, not all, are wrong: {} of {}", wrong.len(), buggy.len());
    eprintln!("the buggy transformer got {} of {} dialogs wrong", wrong.len(), buggy.len());

    // Swap the fixed component in (atomically, as a deploy would) while the host runs.
    let tmp = env.dir.path().join("incoming.wasm");
    std::fs::copy(component("a2-correspondence"), &tmp).unwrap();
    std::fs::rename(&tmp, &component_file).unwrap();
    env.wait_for("the swap", 60, |s| {
        s["changelog"].as_array().unwrap().iter().any(|d| d["entries"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains("transformer swapped: a2-correspondence.wasm@")))
    });
    let seq_before = env.ok(&["events", "--limit", "1000000"]).lines().count();
    let replay: Value = serde_json::from_str(&env.ok(&["replay", "--source", "a2-correspondence", "--from", "2026-10-01", "--to", "2026-11-30", "--json"])).unwrap();
    assert_eq!(replay["changed"].as_u64().unwrap() as usize, wrong.len(), "{replay}");
    assert!(host.terminate().success());

    let replayed = dialogs_by_id(&env);
    assert_eq!(replayed, right, "after the replay the store holds exactly what the fixed component makes");
    // Change events name only the corrected dialogs (a new creation time is a new id: the old
    // one is deleted, the new one created).
    let events: Vec<Value> = env.ok(&["events", "--limit", "1000000"]).lines().skip(seq_before).map(|l| serde_json::from_str(l).unwrap()).collect();
    let touched: BTreeSet<String> = events.iter().map(|e| e["dialog_id"].as_str().unwrap().to_string()).collect();
    let expected: BTreeSet<String> = wrong.iter().map(|id| id.to_string()).chain(right.keys().filter(|id| !buggy.contains_key(*id)).cloned()).collect();
    assert_eq!(touched, expected);
    // Every dialog now records the fixed component.
    let hash = dialogsync::runtime::sha256_hex(&std::fs::read(component("a2-correspondence")).unwrap());
    let made_by = &env.status()["sources"][0]["made_by"];
    assert_eq!(made_by.as_array().unwrap().len(), 1, "{made_by}");
    assert_eq!(made_by[0]["transformer"].as_str().unwrap(), &hash[..12]);
    assert_eq!(made_by[0]["dialogs"].as_u64().unwrap() as usize, right.len());
}

#[test]
fn three_hosts_share_the_work_and_a_killed_hosts_window_is_finished_once_by_another() {
    let sim = Sim::start(8, &["--days", "12", "--per-day", "8"], &[]);
    let back_to = days_ago(12);
    let sources: Vec<(&str, PathBuf)> = all_sources().into_iter().filter(|(s, _)| ["a2-correspondence", "a3-app-instances"].contains(s)).collect();
    // One record a page, four pages a second per host: a window takes two seconds. A lease
    // lapses two seconds after its holder's last page.
    let env = run_env(&sim, &sources, &back_to, "interval = \"1s\"\nlease = \"2s\"", "page_size = 1\nrate_limit = 4");
    env.ok(&["parties", "import", sim.parties(env.dir.path()).to_str().unwrap()]);
    let mut hosts: BTreeMap<&str, Host> = ["h1", "h2", "h3"].into_iter().map(|h| (h, Host::start_as(&env, &[], h))).collect();

    // h2 is inside a window: it holds the window's lease, and the window has pages committed
    // and pages left.
    let window_of = |s: &Value, host: &str| -> Option<(String, String)> {
        let leases = s["hosts"].as_array()?.iter().find(|h| h["id"] == host)?["leases"].as_array()?.clone();
        leases.iter().filter_map(|l| l.as_str()).find_map(|l| {
            let (source, day) = l.split_once(" window ")?;
            let w = s["sources"].as_array()?.iter().find(|x| x["source"] == source)?["historic"]["windows"].as_array()?.iter().find(|w| w["first_day"] == day)?.clone();
            (w["state"] == "running" && w["pages"].as_u64()? > 0).then(|| (source.to_string(), day.to_string()))
        })
    };
    env.wait_for("h2 inside a window", 120, |s| window_of(s, "h2").is_some());
    hosts.remove("h2").unwrap().kill();
    let at_kill = env.status();
    let (cut_source, cut_day) = window_of(&at_kill, "h2").expect("h2 was killed inside a window and still holds its lease");
    let busy: BTreeSet<String> = at_kill["hosts"].as_array().unwrap().iter().filter(|h| !h["leases"].as_array().unwrap().is_empty()).map(|h| h["id"].as_str().unwrap().to_string()).collect();
    assert!(busy.len() >= 2, "the hosts share the work: {busy:?}");

    env.wait_for("the whole history, h2's window taken over", 300, history_complete);
    for (_, h) in hosts {
        assert!(h.terminate().success());
    }

    let mut at_source_per_day: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (source, _) in &sources {
        let v = verify(&env, source, &back_to);
        assert_eq!(v["missing"], 0, "{source}: {v:#}");
        for d in v["days"].as_array().unwrap() {
            at_source_per_day.insert((source.to_string(), d["day"].as_str().unwrap().to_string()), d["at_source"].as_u64().unwrap());
        }
    }
    // Every window done once: each of its records fetched once, by whichever hosts held it
    // (a window started over, or worked by two hosts at once, would have fetched some twice).
    let today = chrono::Utc::now().date_naive().to_string();
    let status = env.status();
    let mut windows = 0;
    for source in status["sources"].as_array().unwrap() {
        for w in source["historic"]["windows"].as_array().unwrap() {
            let n = |k: &str| w[k].as_u64().unwrap();
            assert_eq!(w["state"], "done", "{w}");
            assert_eq!(n("fetched"), n("migrated") + n("unchanged") + n("skipped") + n("waiting") + n("dead"), "{w}");
            let key = (source["source"].as_str().unwrap().to_string(), w["first_day"].as_str().unwrap().to_string());
            if key.1 < today {
                assert_eq!(Some(n("fetched")), at_source_per_day.get(&key).copied(), "{key:?} fetched each record once: {w}");
                assert_eq!(n("pages"), n("fetched").max(1), "{key:?}: one page per record, each committed once: {w}");
            }
            windows += 1;
        }
    }
    assert_eq!(windows, 2 * 13);
    assert!(cut_day.as_str() < today.as_str() || at_source_per_day.contains_key(&(cut_source.clone(), cut_day.clone())));
    // No dialog twice, and no lease left behind by the hosts that stopped cleanly.
    let dialogs = dialogs_by_id(&env);
    let staged: u64 = at_source_per_day.values().sum();
    assert!(dialogs.len() as u64 <= staged && dialogs.len() > 100, "{} dialogs of {staged} records", dialogs.len());
    let hosts = status["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3, "{hosts:#?}");
    for h in hosts {
        match h["id"].as_str().unwrap() {
            "h2" => assert!(h["stopped_at"].is_null(), "a killed host never says it stopped"),
            _ => assert!(h["stopped_at"].is_string() && h["leases"].as_array().unwrap().is_empty(), "{h}"),
        }
    }
}

#[test]
fn status_page_of_a_known_scenario_matches_its_golden_file() {
    // Everything pinned: the simulator's data (seed), and "now" for every stamp.
    // A fixed host name too: the default one is the machine's.
    let at = |t: &str| vec![("DIALOGSYNC_NOW", t.to_string()), ("DIALOGSYNC_HOST", "h".to_string())];
    let sim = Sim::start(21, &["--days", "4", "--per-day", "5", "--today", "2026-03-02", "--bad-ratio", "0.1"], &[("DIALOGSYNC_NOW", "2026-03-02T12:00:00Z")]);
    let mut sources = all_sources();
    sources.retain(|(s, _)| *s != "a2-archived-forms");
    let env = run_env(&sim, &sources, "2026-02-26", "interval = \"1s\"", "rate_limit = 1000");
    // One source without a historic goal.
    let text = std::fs::read_to_string(&env.config).unwrap()
        + &format!("[sources.a2-archived-forms]\ncomponent = \"{}\"\nconnector = \"http\"\nurl = \"{}/a2-archived-forms\"\n", component("a2-archived-forms").display(), sim.url);
    std::fs::write(&env.config, text).unwrap();
    let run = |t: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync")).arg("--config").arg(&env.config).args(args).envs(at(t)).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    run("2026-03-02T12:00:00Z", &["run", "--once"]);
    run("2026-03-02T13:30:00Z", &["pause", "a2-correspondence", "--reason", "wrong dates in summer time"]);
    // Records are missing: verify says so, and exits non-zero.
    let v = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync")).arg("--config").arg(&env.config).args(["verify", "--source", "a3-app-instances", "--from", "2026-02-26", "--to", "2026-03-02"]).envs(at("2026-03-03T08:00:00Z")).output().unwrap();
    assert!(!v.status.success() && String::from_utf8_lossy(&v.stderr).contains("a3-app-instances: 3 records missing"), "{}", String::from_utf8_lossy(&v.stderr));
    let md = run("2026-03-03T09:00:00Z", &["status"]);
    let golden = common::root().join("tests/golden/status.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &md).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    if md != expected {
        let diff = similar::TextDiff::from_lines(&expected, &md).unified_diff().header("expected", "actual").to_string();
        panic!("status page differs from tests/golden/status.md (UPDATE_GOLDEN=1 rewrites it):\n{diff}");
    }
}

/// A historic window and a live tick touching the same record, in either order — and in the
/// race where the window fetched the old version before the tick committed the new one and
/// commits after it — leave the newest version.
#[tokio::test]
async fn a_window_and_a_tick_in_either_order_leave_the_newest_version() {
    use dialogsync::runtime::bindings::types::SyncMode::{Historic, Live};
    use dialogsync::sources::RawRecord;
    let old = common::instance(1, "first version");
    let mut new = old.clone();
    new["status"]["isArchived"] = true.into();
    new["status"]["archived"] = "2024-06-20T10:00:00Z".into();
    new["lastChanged"] = "2024-06-20T10:00:00Z".into();
    let keys = dialogsync::config::Config::default().source("a3-app-instances").unwrap().keys;
    let record = |v: &Value| -> RawRecord { keys.record(v.to_string().into_bytes(), "test".into()).unwrap() };
    let (v_old, v_new) = (record(&old), record(&new));
    assert!(v_new.version > v_old.version);

    for order in ["window first", "tick first", "window commits last"] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = dialogsync::config::Config::default();
        config.projector = component("dialog-projector");
        config.cache_dir = common::root().join("target/test-component-cache");
        config.sources.insert("a3-app-instances".into(), {
            let mut sc = config.source("a3-app-instances").unwrap();
            sc.component = component("a3-app-instances");
            sc
        });
        let store = dialogsync::store::Store::open(&common::store_url(dir.path())).await.unwrap();
        let runtime = dialogsync::runtime::Runtime::new(config.limits.clone(), &config.cache_dir).unwrap();
        let window = dialogsync::sync::Pipeline::load(&config, &runtime, &store, "a3-app-instances", Historic).unwrap();
        let tick = window.with_mode(Live);
        let run = |p: &dialogsync::sync::Pipeline, r: &RawRecord| {
            let (p, r) = (p.with_mode(p.mode), r.clone());
            async move {
                let (commit, _) = p.prepare(vec![Ok(r)]).await.unwrap();
                p.store.commit(&p.source, &commit).await.unwrap();
            }
        };
        match order {
            "window first" => {
                run(&window, &v_old).await;
                run(&tick, &v_new).await;
            }
            "tick first" => {
                run(&tick, &v_new).await;
                run(&window, &v_old).await;
            }
            _ => {
                // Both decided against an empty store; the old one commits last.
                let (late, _) = window.prepare(vec![Ok(v_old.clone())]).await.unwrap();
                let (early, _) = tick.prepare(vec![Ok(v_new.clone())]).await.unwrap();
                store.commit("a3-app-instances", &early).await.unwrap();
                store.commit("a3-app-instances", &late).await.unwrap();
            }
        }
        let docs = store.search(None, None, None, 10).await.unwrap();
        assert_eq!(docs.len(), 1, "{order}: one dialog");
        let doc: Value = serde_json::from_str(&docs[0]).unwrap();
        assert_eq!(doc["status"], "Awaiting", "{order}: the newest version (archived, unconfirmed) stays");
        assert!(doc["updatedAt"].as_str().unwrap().starts_with("2024-06-20T10:00:00"), "{order}: {doc}");
        let events = store.events(0, 100).await.unwrap();
        assert!(events.iter().all(|e| e.kind != "deleted"), "{order}: {events:?}");
    }
}

#[test]
fn verify_lists_what_the_store_lacks_and_repair_fetches_it() {
    let sim = Sim::start(6, &["--days", "8", "--per-day", "4"], &[]);
    // History only back to 3 days before live sync began; the source has 8 days.
    let env = run_env(&sim, &[("a3-correspondence", component("a3-correspondence"))], "3d", "interval = \"1s\"", "rate_limit = 1000");
    env.ok(&["run", "--once"]);
    let before = env.dialogs().len();
    let v = verify(&env, "a3-correspondence", &days_ago(8));
    let missing = v["missing"].as_u64().unwrap();
    let short: Vec<&Value> = v["days"].as_array().unwrap().iter().filter(|d| !d["missing_ids"].as_array().unwrap().is_empty()).collect();
    assert!(missing >= 16, "the five days before the goal are missing: {v:#}");
    // A day short is one before the goal, and it lists exactly the ids not staged: a record of
    // such a day that changed within the live tick's reach (the simulator's history reaches
    // now) was staged by it, and is not missing.
    let listed = |d: &Value| d["staged"].as_u64().unwrap() + d["missing_ids"].as_array().unwrap().len() as u64;
    assert!(short.iter().all(|d| d["day"].as_str().unwrap() < days_ago(3).as_str() && listed(d) == d["at_source"].as_u64().unwrap()), "{short:#?}");
    let md = env.ok(&["status"]);
    assert!(md.contains(&format!("A3 Correspondence: {missing} records missing on {} days", short.len())), "{md}");

    let repaired: Value = serde_json::from_str(&env.ok(&["verify", "--source", "a3-correspondence", "--from", &days_ago(8), "--repair", "--json"])).unwrap();
    assert_eq!(repaired["missing"], 0, "{repaired:#}");
    assert_eq!(repaired["repaired"]["fetched"].as_u64(), Some(missing));
    assert!(env.dialogs().len() > before);
    assert_eq!(verify(&env, "a3-correspondence", &days_ago(8))["missing"], 0);
    assert!(!env.ok(&["status"]).contains("records missing"), "the problem is gone from the status page");
}

/// A host whose lease lapsed and was taken over cannot commit the page it was working on:
/// nothing of it is written, and the new holder's page is.
#[tokio::test]
async fn a_page_under_a_lease_another_host_took_is_refused_whole() {
    use dialogsync::store::{Commit, Fence, Store, StoreError, WindowPage};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&common::store_url(dir.path())).await.unwrap();
    let lease = "window:2026-01-01";
    assert!(store.acquire("s", lease, "a", 1).await.unwrap(), "free: a takes it, for a microsecond");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(store.acquire("s", lease, "b", 60_000_000).await.unwrap(), "lapsed: b takes it");
    assert!(!store.acquire("s", lease, "a", 60_000_000).await.unwrap(), "held by b: a cannot take it back");
    let page = |holder: &str| Commit {
        window: Some(WindowPage { first_day: "2026-01-01".into(), last_day: "2026-01-01".into(), next_url: Some("next".into()), counts: Default::default() }),
        checkpoint: Some(("probe".into(), holder.into())),
        fence: Some(Fence { name: lease.into(), holder: holder.into(), ttl_micros: 60_000_000 }),
        ..Commit::default()
    };
    let err = store.commit("s", &page("a")).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost { ref holder, .. } if holder == "a"), "{err}");
    assert!(store.window("s", "2026-01-01").await.unwrap().is_none() && store.checkpoint("s", "probe").await.unwrap().is_none(), "nothing of a's page");
    store.commit("s", &page("b")).await.unwrap();
    assert_eq!(store.window("s", "2026-01-01").await.unwrap().unwrap().pages, 1);
    assert_eq!(store.checkpoint("s", "probe").await.unwrap().as_deref(), Some("b"));
}

/// Every commit settles dead letters by the ids and lines it wrote and read: those deletes
/// search an index, so they cost the same with a million dead letters as with none (SQLite's
/// plan; a scan of the source's letters is what it was before).
#[tokio::test]
async fn a_commit_settles_dead_letters_by_index_not_by_scan() {
    use dialogsync::store::Store;
    use dialogsync_core::db::{Db, Statement, settle_dead_letters};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("plan.db").display())).await.unwrap();
    let mut db = store.db();
    let statements = settle_dead_letters(db.dialect(), "s", &["id-1".into()], &["f.ndjson:1".into()]);
    assert_eq!(statements.len(), 3);
    for (s, column) in statements.into_iter().zip(["source_id", "record_key", "origin"]) {
        let plan = db.query(Statement { sql: format!("EXPLAIN QUERY PLAN {}", s.sql), ..s.clone() }).await.unwrap();
        let steps: Vec<String> = plan.iter().map(|r| r.text(3)).collect();
        // The index is searched by the source and the looked-up column, not by the source alone.
        let searched = format!("(source=? AND {column}=?)");
        assert!(steps.iter().any(|p| p.starts_with("SEARCH dead_letters USING ") && p.ends_with(&searched)), "{}: {steps:?}", s.sql);
    }
}

/// Each search first deletes expired snapshots: by the index on their time, so a search costs
/// no more when millions of snapshot rows are kept (SQLite's plan; it was a scan).
#[tokio::test]
async fn a_search_expires_snapshots_by_index_not_by_scan() {
    use dialogsync::store::{EXPIRE_SNAPSHOTS, Store};
    use dialogsync_core::db::{Db, Statement};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("plan.db").display())).await.unwrap();
    let plan = store.db().query(Statement::new(format!("EXPLAIN QUERY PLAN {EXPIRE_SNAPSHOTS}")).bind("2026-01-01T00:00:00.000Z")).await.unwrap();
    let steps: Vec<String> = plan.iter().map(|r| r.text(3)).collect();
    assert!(steps.iter().any(|p| p.starts_with("SEARCH search_snapshots USING ") && p.ends_with("(created_at<?)")), "{steps:?}");
}

/// A reader's page cache is kept to 8 MiB and the writer's to 32 MiB: a reader's lookups land
/// all over a growing file and fill whatever it may hold (a 1M backfill peaked at 125 MiB with
/// the readers at 32 MiB, at 105 MiB with 8; BENCHMARKS.md).
#[tokio::test]
async fn readers_keep_smaller_page_caches_than_the_writer() {
    use dialogsync::store::Store;
    use dialogsync_core::db::{Db, Statement};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("cache.db").display())).await.unwrap();
    let mut db = store.db();
    // Negative: KiB rather than pages.
    assert_eq!(db.query(Statement::new("PRAGMA cache_size")).await.unwrap()[0].int(0), -8 * 1024, "a reader");
    db.begin("s").await.unwrap();
    assert_eq!(db.query(Statement::new("PRAGMA cache_size")).await.unwrap()[0].int(0), -32 * 1024, "the writer");
    db.rollback().await.unwrap();
}

/// A commit reads its page's stored dialogs by dialog id or by source id: each by its index, on
/// both stores. PostgreSQL could not use an index for two `IN` subqueries joined by `OR` and
/// scanned every dialog in every commit (a 100,000-record backfill: 41.2 s, 15.6 s by index).
/// PostgreSQL's planner is told to avoid scans, so only a plan that cannot use an index has one.
#[tokio::test]
async fn a_commit_reads_its_stored_dialogs_by_index_on_both_stores() {
    use dialogsync::store::Store;
    use dialogsync_core::db::{Db, Dialect, Statement, stored_rows_statement};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&common::store_url(dir.path())).await.unwrap();
    let mut conn = store.connection().await.unwrap();
    let s = stored_rows_statement(conn.dialect(), "s", &["0191b1c9-963b-71f9-9bb3-62ad5b929455"], &["record-1"]);
    let steps: Vec<String> = match conn.dialect() {
        Dialect::Sqlite => conn.query(Statement { sql: format!("EXPLAIN QUERY PLAN {}", s.sql), ..s.clone() }).await.unwrap().iter().map(|r| r.text(3)).collect(),
        Dialect::Postgres => {
            conn.execute(Statement::new("SET enable_seqscan = off")).await.unwrap();
            conn.query(Statement { sql: format!("EXPLAIN {}", s.sql), ..s.clone() }).await.unwrap().iter().map(|r| r.text(0)).collect()
        }
    };
    assert!(steps.iter().any(|p| p.contains("dialogs")), "{steps:?}");
    assert!(!steps.iter().any(|p| p.starts_with("SCAN dialogs") || p.contains("Seq Scan on dialogs")), "{steps:?}");
}

/// A page looks its records up by (source, source id) — their staged versions, their dialogs,
/// their tombstones — each by the key, on both stores, even while PostgreSQL's statistics say
/// the source has no rows (taken before its first ones went in, as when a backfill moves on to
/// its next source). A join with the list, or `= ANY` of it, then let PostgreSQL filter every
/// row of the source on every page: a 100,000-record backfill took 40.8 s, 12.0 s by the key.
#[tokio::test]
async fn a_page_looks_its_records_up_by_key_on_both_stores() {
    use dialogsync::store::Store;
    use dialogsync_core::db::{Db, Dialect, Statement, staged_final_statement, stored_dialogs_statement, tombstones_statement};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&common::store_url(dir.path())).await.unwrap();
    let mut conn = store.connection().await.unwrap();
    let d = conn.dialect();
    let (numbers, payload) = match d {
        Dialect::Sqlite => ("WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 3000) SELECT n FROM g", "X'00'"),
        Dialect::Postgres => ("SELECT generate_series(1, 3000) AS n", "'\\x00'::bytea"),
    };
    let fill = |source: &str| {
        [
            format!("INSERT INTO raw_records (source, source_id, content_hash, source_version, content_type, payload, origin, outcome, first_seen, last_seen, created_day)
                     SELECT '{source}', 'r' || n, 'h' || n, 1, 'application/json', {payload}, 'o', 'migrated', 't', 't', '2025-01-' || (10 + n % 20) FROM ({numbers}) AS g"),
            format!("INSERT INTO dialogs (id, source, source_id, source_version, content_hash, party, service_resource, status, system_label, created_at, updated_at, transformer_hash, projector_hash, document)
                     SELECT '{source}' || n, '{source}', 'r' || n, 1, 'h', 'p' || (n % 97), 'res', 'New', 'Default', n, n, 't', 'p', '{{}}' FROM ({numbers}) AS g"),
            format!("INSERT INTO tombstones (source, source_id, source_version, at) SELECT '{source}', 'r' || n, 1, 't' FROM ({numbers}) AS g"),
        ]
    };
    for sql in fill("a") {
        conn.execute(Statement::new(sql)).await.unwrap();
    }
    if d == Dialect::Postgres {
        conn.execute(Statement::new("ANALYZE")).await.unwrap();
    }
    for sql in fill("b") {
        conn.execute(Statement::new(sql)).await.unwrap();
    }
    let ids = ["r1", "r2"];
    let pairs = [("r1".to_string(), "h1".to_string()), ("r2".to_string(), "h2".to_string())];
    for (table, s) in [("raw_records", staged_final_statement(d, "b", &pairs)), ("dialogs", stored_dialogs_statement(d, "b", &ids)), ("tombstones", tombstones_statement(d, "b", &ids))] {
        let plan: Vec<String> = match d {
            Dialect::Sqlite => conn.query(Statement { sql: format!("EXPLAIN QUERY PLAN {}", s.sql), ..s }).await.unwrap().iter().map(|r| r.text(3)).collect(),
            Dialect::Postgres => conn.query(Statement { sql: format!("EXPLAIN {}", s.sql), ..s }).await.unwrap().iter().map(|r| r.text(0)).collect(),
        };
        // The staged lookup by the whole key: by id alone, a live record's every version came back.
        let (sqlite_key, postgres_key) = match table {
            "raw_records" => ("(source=? AND source_id=? AND content_hash=?)", "AND (content_hash = (k.value ->> 1)))"),
            _ => ("(source=? AND source_id=?)", "AND (source_id = (k.value"),
        };
        let by_key = match d {
            Dialect::Sqlite => plan.iter().any(|p| p.starts_with("SEARCH t USING ") && p.contains(&format!("{table}_")) && p.contains(sqlite_key)),
            Dialect::Postgres => plan.iter().any(|p| p.contains(&format!(" on {table}"))) && plan.iter().any(|p| p.contains("Index Cond: ((source = ") && p.contains(postgres_key)),
        };
        assert!(by_key, "{table}: {plan:?}");
    }
    // And what the staged lookup finds: the pairs asked for, not a record's other versions.
    let keys = [("r1".to_string(), "h1".to_string()), ("r2".to_string(), "other".to_string())];
    assert_eq!(store.staged_final("b", &keys).await.unwrap(), [("r1".to_string(), "h1".to_string())].into_iter().collect());
    let current = store.current("b", &["r1".to_string(), "r9999".to_string()]).await.unwrap();
    assert_eq!(current.keys().collect::<Vec<_>>(), ["r1"]);
    assert_eq!(current["r1"].id, "b1");
    assert_eq!(store.tombstones("b", &["r2".to_string()]).await.unwrap(), [("r2".to_string(), 1)].into_iter().collect());
}

/// `status` (markdown) as of `now`, the simulator's address written `SIM`.
fn status_md(env: &Env, now: &str, sim: &Sim) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync")).arg("--config").arg(&env.config).arg("status").env("DIALOGSYNC_NOW", now).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().replace(&sim.url, "SIM").replace(&common::root().display().to_string(), "ROOT")
}

/// Compares `md` with `tests/golden/status/NAME.md` (`UPDATE_GOLDEN=1` rewrites it).
fn golden(name: &str, md: &str) {
    let path = common::root().join(format!("tests/golden/status/{name}.md"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, md).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if md != expected {
        let diff = similar::TextDiff::from_lines(expected.as_str(), md).unified_diff().header("expected", "actual").to_string();
        panic!("status page differs from {} (UPDATE_GOLDEN=1 rewrites it):\n{diff}", path.display());
    }
}

fn live_line(status: &Value, source: &str) -> (bool, String) {
    let s = status["sources"].as_array().unwrap().iter().find(|s| s["source"] == source).unwrap();
    (s["ok"].as_bool().unwrap(), s["live"].as_str().unwrap().to_string())
}

/// The status page in each state a source can be in — running, stopped cleanly, stalled after
/// `kill -9`, paused, auto-paused, and a files source — at fixed instants: ✔ only while a live
/// host holds the source and its last tick is recent; a killed host shows as gone, holding
/// nothing; `/metrics` agrees.
#[test]
fn the_status_page_says_no_more_than_the_store_shows_in_every_state() {
    const T0: &str = "2026-03-02T12:00:00Z";
    let sim = Sim::start(31, &["--days", "2", "--per-day", "3", "--today", "2026-03-02"], &[("DIALOGSYNC_NOW", T0)]);
    let env = run_env(&sim, &[("a3-correspondence", component("a3-correspondence"))], "2026-02-28", "interval = \"1m\"", "rate_limit = 1000");
    // A files source beside it: `run` skips it and says so; its line says what it is.
    let text = std::fs::read_to_string(&env.config).unwrap()
        + &format!("[sources.a3-app-instances]\nconnector = \"files\"\ninput = \"{}\"\n", common::root().join("examples/a3-app-instances").display());
    std::fs::write(&env.config, text).unwrap();
    let at = |t: &str| [("DIALOGSYNC_NOW", t.to_string())];
    let cmd = |t: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync")).arg("--config").arg(&env.config).args(args).envs(at(t)).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    cmd(T0, &["parties", "import", common::root().join("examples/parties.csv").to_str().unwrap()]);
    cmd(T0, &["backfill", "--source", "a3-app-instances"]);

    // Running: a live host holds the source, its last tick 10 s old (interval 1 min).
    let host = Host::start_with(&env, &[], "h1", &[("DIALOGSYNC_NOW", T0)]);
    let soon = "2026-03-02T12:00:10Z";
    let s = env.wait_for_at(Some(soon), "history and a live tick", 120, |s| history_complete(s) && s["sources"][1]["last_tick_by"] == "h1");
    assert_eq!(live_line(&s, "a3-correspondence"), (true, "running".into()));
    golden("running", &status_md(&env, soon, &sim));
    let server = common::Server::start_at(&env, soon);
    let metrics = |server: &common::Server| -> String {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        agent.get(format!("{}/metrics", server.url)).call().unwrap().body_mut().read_to_string().unwrap()
    };
    let m = metrics(&server);
    assert!(m.contains("dialogsync_live_running{source=\"a3-correspondence\"} 1") && m.contains("dialogsync_live_stale{source=\"a3-correspondence\"} 0"), "{m}");
    drop(server);

    // Stopped cleanly (SIGTERM): no host runs it, whatever its last tick says.
    assert!(host.terminate().success());
    let s = env.status_at(Some(soon));
    assert_eq!(live_line(&s, "a3-correspondence"), (false, "stalled".into()));
    golden("stopped", &status_md(&env, soon, &sim));
    let m = metrics(&common::Server::start_at(&env, soon));
    assert!(m.contains("dialogsync_live_running{source=\"a3-correspondence\"} 0") && m.contains("dialogsync_live_stale{source=\"a3-correspondence\"} 1"), "{m}");

    // Killed (-9) after its tick: 10 minutes on, its heartbeat (the 60 s lease) has lapsed.
    let host = Host::start_with(&env, &[], "h2", &[("DIALOGSYNC_NOW", T0)]);
    env.wait_for_at(Some(soon), "h2's live tick", 120, |s| s["sources"][1]["last_tick_by"] == "h2");
    host.kill();
    let later = "2026-03-02T12:10:00Z";
    let s = env.status_at(Some(later));
    let h2 = s["hosts"].as_array().unwrap().iter().find(|h| h["id"] == "h2").unwrap();
    assert_eq!((h2["state"].as_str(), h2["leases"].as_array().map(Vec::len)), (Some("gone"), Some(0)), "a killed host holds nothing: {h2}");
    golden("killed", &status_md(&env, later, &sim));

    // Paused by an operator.
    cmd(later, &["pause", "a3-correspondence", "--reason", "wrong dates in summer time"]);
    golden("paused", &status_md(&env, later, &sim));

    // Auto-paused: a source whose every tick fails pauses itself after `max_failed_ticks`.
    let broken = run_env(&sim, &[("a2-correspondence", component("a2-correspondence"))], "2026-02-28", "interval = \"100ms\"\nmax_failed_ticks = 3", "rate_limit = 1000");
    let text = std::fs::read_to_string(&broken.config).unwrap().replace(&format!("{}/a2-correspondence", sim.url), &format!("{}/no-such-source", sim.url));
    std::fs::write(&broken.config, text).unwrap();
    let host = Host::start_with(&broken, &[], "h3", &[("DIALOGSYNC_NOW", T0)]);
    broken.wait_for_at(Some(soon), "auto-pause", 120, |s| s["sources"][0]["live"] == "auto-paused");
    assert!(host.terminate().success());
    golden("auto-paused", &status_md(&broken, soon, &sim));
}

/// A replay with the components unchanged changes nothing, though some dialogs were made by
/// live ticks (which drop due dates already past) and others by historic windows (which keep
/// them): each record is projected again in the mode its dialog was made in.
#[test]
fn a_replay_with_unchanged_components_reports_no_change() {
    let sim = Sim::start(8, &["--days", "45", "--per-day", "4"], &[]);
    let env = run_env(&sim, &[("a2-correspondence", component("a2-correspondence"))], &days_ago(45), "interval = \"1s\"", "rate_limit = 1000");
    env.ok(&["parties", "import", sim.parties(env.dir.path()).to_str().unwrap()]);
    let host = Host::start(&env, &[]);
    env.wait_for("the history", 120, history_complete);
    // Changes to old records, taken by live ticks.
    let changed = sim.post("/_sim/advance?steps=60")["changes"].as_array().unwrap().iter().filter(|c| c["source"] == "a2-correspondence").count();
    assert!(changed > 0);
    let after = chrono::Utc::now();
    env.wait_for("a tick after the changes", 120, |s| s["sources"][0]["last_tick"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok()).is_some_and(|t| t > after + chrono::Duration::seconds(1)));
    assert!(host.terminate().success());
    let before = dialogs_by_id(&env);
    let replay: Value = serde_json::from_str(&env.ok(&["replay", "--source", "a2-correspondence", "--from", &days_ago(46), "--to", &days_ago(-1), "--json"])).unwrap();
    assert_eq!(replay["changed"], 0, "{replay}");
    assert!(replay["summary"]["fetched"].as_u64().unwrap() > 100, "{replay}");
    assert_eq!(dialogs_by_id(&env), before);
}
