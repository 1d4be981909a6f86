//! The Dialogporten sink end to end over real HTTP on 127.0.0.1: host A syncs the simulator
//! with its sink aimed at host B's `serve` (a Dialogporten service-owner API); B ends with
//! exactly A's dialogs, each created once, every request body valid against Dialogporten's
//! schemas (B refuses any other with 400, which A would keep as a dead letter). B sits behind
//! a proxy that counts what it answers (creates per id, statuses, tokens) and fails on order.

use super::common::{self, Env, Sim};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const ORG: &str = "912345678";

/// B: a Dialogporten for organisation ORG, which owns every resource; `jwks`: the issuer it
/// trusts (default: its own development key, whose token is returned).
fn dialogporten(jwks: Option<&std::path::Path>) -> (Env, common::Server, String) {
    let env = Env::new("a3-app-instances", "");
    let token = env.ok(&["token", "--org", ORG, "--ttl", "2h"]).trim().to_string();
    let mut text = std::fs::read_to_string(&env.config).unwrap() + &format!("[api.service_owners.{ORG}]\nresources = [\"urn:altinn:resource:*\"]\n");
    if let Some(j) = jwks {
        text = text.replacen("[limits]", &format!("[api]\njwks = \"{}\"\n[limits]", j.display()), 1);
    }
    std::fs::write(&env.config, text).unwrap();
    let server = common::Server::start(&env);
    (env, server, token)
}

fn urlencoding(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn by_id(dialogs: Vec<Value>) -> BTreeMap<String, Value> {
    dialogs.into_iter().map(|d| (d["id"].as_str().unwrap().to_string(), d)).collect()
}

fn without_updated_at(d: &Value) -> Value {
    let mut d = d.clone();
    d.as_object_mut().unwrap().remove("updatedAt");
    d
}

/// A's config with its sink aimed at `url`.
fn sink_to(a: &Env, url: &str, auth: &str) {
    let text = std::fs::read_to_string(&a.config).unwrap() + &format!("[sink]\nkind = \"dialogporten\"\nurl = \"{url}\"\n{auth}\nrate_limit = 2000\n");
    std::fs::write(&a.config, text).unwrap();
}

/// What the proxy saw B answer.
#[derive(Default, Debug)]
struct Seen {
    /// 201s to `POST …/dialogs`, per dialog id.
    creates: BTreeMap<String, usize>,
    statuses: BTreeMap<u16, u64>,
    /// Requests per bearer token.
    tokens: BTreeMap<String, u64>,
}

/// A proxy in front of B: 503 to every `fail_every`-th request (0: none) and to all while
/// `down`; 401 to a token's requests after its first `token_uses` (0: no limit), as a
/// Dialogporten whose clock runs ahead of the issuer's.
struct Proxy {
    url: String,
    down: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    _runtime: tokio::runtime::Runtime,
}

fn proxy(target: &str, fail_every: u64, token_uses: u64) -> Proxy {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (down, seen, count) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Seen::default())), Arc::new(AtomicU64::new(0)));
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (target, d, s) = (target.to_string(), down.clone(), seen.clone());
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (target, down, seen, count) = (target.clone(), d.clone(), s.clone(), count.clone());
        async move {
            let answer = |status: u16, body: &'static str| {
                seen.lock().unwrap().statuses.entry(status).and_modify(|n| *n += 1).or_insert(1);
                axum::http::Response::builder().status(status).body(axum::body::Body::from(body)).unwrap()
            };
            let n = count.fetch_add(1, Ordering::Relaxed);
            if down.load(Ordering::Relaxed) || (fail_every > 0 && n % fail_every == fail_every - 1) {
                return answer(503, "unavailable");
            }
            let token = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            let uses = *seen.lock().unwrap().tokens.entry(token).and_modify(|n| *n += 1).or_insert(1);
            if token_uses > 0 && uses > token_uses {
                return answer(401, "token expired");
            }
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 26).await.unwrap();
            let create = parts.method == "POST" && parts.uri.path() == "/api/v1/serviceowner/dialogs";
            let seen = seen.clone();
            tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let mut out = ureq::http::Request::builder().method(parts.method.as_str()).uri(format!("{target}{}", parts.uri));
                for (k, v) in &parts.headers {
                    if k != "host" && k != "content-length" {
                        out = out.header(k.as_str(), v.as_bytes());
                    }
                }
                let mut r = agent.run(out.body(body.to_vec()).unwrap()).unwrap();
                let status = r.status().as_u16();
                let mut back = axum::http::Response::builder().status(status);
                for (k, v) in r.headers() {
                    if k != "content-length" && k != "transfer-encoding" {
                        back = back.header(k.as_str(), v.as_bytes());
                    }
                }
                let bytes = r.body_mut().read_to_vec().unwrap();
                let mut seen = seen.lock().unwrap();
                *seen.statuses.entry(status).or_default() += 1;
                if create && status == 201 {
                    *seen.creates.entry(serde_json::from_slice::<String>(&bytes).unwrap()).or_default() += 1;
                }
                back.body(axum::body::Body::from(bytes)).unwrap()
            })
            .await
            .unwrap()
        }
    });
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Proxy { url, down, seen, _runtime: runtime }
}

impl Proxy {
    /// Each dialog created at most once, and `held` (the dialogs B holds) every one created.
    fn created_once(&self, held: &BTreeMap<String, Value>) {
        let seen = self.seen.lock().unwrap();
        assert!(seen.creates.values().all(|n| *n == 1), "none created twice: {:?}", seen.creates.iter().filter(|c| *c.1 > 1).collect::<Vec<_>>());
        assert!(held.keys().all(|id| seen.creates.contains_key(id)), "every dialog B holds was created through the proxy");
    }

    fn status(&self, code: u16) -> u64 {
        self.seen.lock().unwrap().statuses.get(&code).copied().unwrap_or(0)
    }
}

/// B holds exactly A's dialogs, with A's content: an update's `updatedAt` is Dialogporten's
/// (UpdateDialog has none), the rest is ours.
fn same_dialogs(a: &Env, b: &Env) -> BTreeMap<String, Value> {
    let ours = by_id(a.dialogs());
    let theirs = by_id(b.dialogs());
    assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>(), "B holds exactly A's dialogs");
    for (id, doc) in &ours {
        assert_eq!(without_updated_at(&theirs[id]), without_updated_at(doc), "dialog {id}");
    }
    theirs
}

#[test]
fn a_host_with_its_sink_on_another_hosts_api_ends_with_the_same_dialogs_each_created_once() {
    let (b, server, token) = dialogporten(None);
    let front = proxy(&server.url, 0, 0);
    let sim = Sim::start(81, &["--days", "3", "--per-day", "8"], &[]);
    let sources: Vec<(&str, std::path::PathBuf)> = ["a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence"].iter().map(|s| (*s, common::component(s))).collect();
    let a = common::run_env(&sim, &sources, "3d", "", "rate_limit = 1000");
    sink_to(&a, &front.url, &format!("token = \"{token}\""));
    a.ok(&["parties", "import", sim.parties(a.dir.path()).to_str().unwrap()]);
    a.ok(&["run", "--once"]);
    let first = by_id(b.dialogs()).len();
    assert!(first > 30, "A migrated the history: {first}");
    // The sources change (reads, new versions, deletions): the next run sends the changes.
    let changes = sim.post("/_sim/advance?steps=40");
    assert!(changes["changes"].as_array().is_some_and(|c| !c.is_empty()), "{changes}");
    a.ok(&["run", "--once"]);

    let theirs = same_dialogs(&a, &b);
    assert!(a.dead_letters().is_empty(), "nothing refused: {:?}", a.dead_letters());
    front.created_once(&theirs);
    assert!(front.status(204) > 0, "the changed dialogs were updated at B, not created again");
    // A dialog in the bin at its source is deleted in Dialogporten (hidden from the end user).
    let binned: Vec<&String> = theirs.iter().filter(|(_, d)| d["systemLabel"] == "Bin").map(|(id, _)| id).collect();
    assert!(!binned.is_empty(), "the simulator soft-deletes some");
    for id in &binned {
        let got = server.send("GET", &format!("/api/v1/serviceowner/dialogs/{id}"), Some(&token), &[], None);
        assert!(got.body["deletedAt"].is_string(), "{id}: {got:?}");
    }

    // verify --sink: nothing differs. Another writer changes one dialog there: verify names
    // it; --repair meets 412 (its revision moved on), reads it, writes ours again.
    let source = "a3-app-instances";
    let clean = a.ok(&["verify", "--source", source, "--sink"]);
    assert!(clean.contains(" 0 differ from Dialogporten"), "{clean}");
    let ours = by_id(a.dialogs());
    let (id, doc) = ours.iter().find(|(_, d)| d["serviceResource"].as_str().unwrap().contains("app_") && d["systemLabel"] == "Default" && d["status"] != "Completed").expect("an open A3 dialog");
    let mut changed = dialogsync::api::serviceowner::fit("UpdateDialog", doc);
    changed["status"] = "Completed".into();
    changed.as_object_mut().unwrap().remove("activities");
    let r = server.send("PUT", &format!("/api/v1/serviceowner/dialogs/{id}"), Some(&token), &[], Some(&changed));
    assert_eq!(r.status, 204, "{r:?}");
    let out = a.run(&["verify", "--source", source, "--sink"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains(&format!("  {id}: status")), "{text}");
    let before = front.status(412);
    let repaired = a.ok(&["verify", "--source", source, "--sink", "--repair"]);
    assert!(repaired.contains(" 0 differ from Dialogporten") && repaired.contains("repaired: 0 created, 1 updated"), "{repaired}");
    assert!(front.status(412) > before, "the stale revision met 412");
    same_dialogs(&a, &b);

    // Dialogporten's service-owner search by label (the key repeated: every label must match).
    let labels: Vec<&str> = doc["serviceOwnerContext"]["serviceOwnerLabels"].as_array().unwrap().iter().map(|l| l["value"].as_str().unwrap()).collect();
    let query: String = labels.iter().map(|l| format!("serviceOwnerLabels={}", urlencoding(l))).collect::<Vec<_>>().join("&");
    let found = server.send("GET", &format!("/api/v1/serviceowner/dialogs?{query}"), Some(&token), &[], None);
    let ids: Vec<&str> = found.body["items"].as_array().unwrap_or_else(|| panic!("{found:?}")).iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str()], "{labels:?}");
    let none = server.send("GET", &format!("/api/v1/serviceowner/dialogs?{query}&serviceOwnerLabels=urn:altinn:nothing"), Some(&token), &[], None);
    assert_eq!(none.body["items"].as_array().map(Vec::len), Some(0), "{none:?}");

    // A's metrics: sends by outcome, requests by status and their seconds.
    let metrics_of_a = common::Server::start(&a);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let metrics = agent.get(format!("{}/metrics", metrics_of_a.url)).call().unwrap().body_mut().read_to_string().unwrap();
    for line in ["dialogsync_sink_dialogs_total{outcome=\"created\"}", "dialogsync_sink_requests_total{status=\"201\"}", "dialogsync_sink_request_seconds_total{status=\"201\"}", "dialogsync_outbox_waiting{} 0"] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

/// B behind a proxy that fails every fifth request, and is down at first: A's outbox grows and
/// its status page says so; then B is back, the outbox drains, and B holds A's dialogs, each
/// created once.
#[test]
fn the_outbox_rides_out_failures_and_an_outage_and_drains() {
    let (b, server, token) = dialogporten(None);
    let front = proxy(&server.url, 5, 0);
    front.down.store(true, Ordering::Relaxed);
    let sim = Sim::start(82, &["--days", "2", "--per-day", "8"], &[]);
    let sources: Vec<(&str, std::path::PathBuf)> = ["a3-app-instances", "a2-correspondence"].iter().map(|s| (*s, common::component(s))).collect();
    let a = common::run_env(&sim, &sources, "2d", "interval = \"1s\"", "rate_limit = 1000");
    sink_to(&a, &front.url, &format!("token = \"{token}\""));
    a.ok(&["parties", "import", sim.parties(a.dir.path()).to_str().unwrap()]);
    let _host = common::Host::start(&a, &[]);

    let down = a.wait_for("the outbox to hold what cannot be sent", 60, |s| s["dialogporten"]["waiting"].as_i64() > Some(10) && s["dialogporten"]["last_error"].is_string());
    let page = a.ok(&["status"]);
    assert!(page.contains("⚠ Dialogporten — ") && page.contains("waiting to be sent") && page.contains("HTTP 503"), "{page}");
    assert!(down["problems"].as_array().unwrap().iter().any(|p| p.as_str().is_some_and(|p| p.starts_with("Dialogporten: "))), "{down:#}");
    front.down.store(false, Ordering::Relaxed);

    let synced = a.wait_for("the outbox to drain", 120, |s| common::history_complete(s) && s["dialogporten"]["waiting"] == 0);
    assert_eq!(synced["dialogporten"]["sent"].as_i64(), Some(a.dialogs().len() as i64), "{synced:#}");
    assert!(a.ok(&["status"]).contains("✔ Dialogporten — in sync"));
    assert!(front.status(503) > 10, "the proxy failed requests");
    let theirs = same_dialogs(&a, &b);
    front.created_once(&theirs);
}

/// Tokens from a Maskinporten-like issuer (the simulator's) that B trusts by its JWKS; B
/// refuses each token after 10 requests (401) as if it had expired there: A gets a new one and
/// goes on, nothing refused, nothing created twice.
#[test]
fn tokens_that_expire_mid_run_are_renewed_and_nothing_is_lost() {
    let fixture = |f: &str| common::root().join("tests/fixtures/maskinporten").join(f);
    let registered = format!("sink-client:{ORG}:{}", fixture("client.jwks.json").display());
    let sim = Sim::start(83, &["--days", "2", "--per-day", "10", "--maskinporten-client", &registered, "--token-ttl", "60s"], &[]);
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("issuer-jwks.json");
    std::fs::write(&jwks, sim.get("/maskinporten/jwks").to_string()).unwrap();
    let (b, server, _) = dialogporten(Some(&jwks));
    let front = proxy(&server.url, 0, 10);
    let sources: Vec<(&str, std::path::PathBuf)> = ["a3-app-instances", "a2-correspondence"].iter().map(|s| (*s, common::component(s))).collect();
    let a = common::run_env(&sim, &sources, "2d", "", "rate_limit = 1000");
    let text = std::fs::read_to_string(&a.config).unwrap()
        + &format!("[maskinporten]\nclient_id = \"sink-client\"\nkey = \"{}\"\nenvironment = \"{}/maskinporten\"\n", fixture("client.pem").display(), sim.url);
    std::fs::write(&a.config, text).unwrap();
    sink_to(&a, &front.url, "parallel = 4");
    a.ok(&["parties", "import", sim.parties(a.dir.path()).to_str().unwrap()]);
    a.ok(&["run", "--once"]);

    let theirs = same_dialogs(&a, &b);
    assert!(theirs.len() > 30, "{}", theirs.len());
    assert!(a.dead_letters().is_empty(), "nothing refused: {:?}", a.dead_letters());
    let tokens = front.seen.lock().unwrap().tokens.len();
    assert!(front.status(401) > 0 && tokens >= 3, "tokens refused {}, tokens used {tokens}", front.status(401));
    front.created_once(&theirs);
}

/// `kill -9` of a backfill with the sink on at 10 instants, each time started again, then run
/// to its end: B ends equal to the B of a clean run, and no dialog was created twice.
#[test]
fn a_backfill_killed_at_ten_instants_sends_each_dialog_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("records");
    let source = "a2-correspondence";
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync"))
        .args(["generate", "--source", source, "--count", "1500", "--out", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    let parties = serde_json::from_slice::<Value>(&generated.stdout).unwrap()["parties_file"].as_str().unwrap().to_string();
    let backfill = |kills: &[u64]| {
        let (b, server, token) = dialogporten(None);
        let front = proxy(&server.url, 0, 0);
        let a = Env::for_source(source, source, "");
        sink_to(&a, &front.url, &format!("token = \"{token}\""));
        a.ok(&["parties", "import", &parties]);
        for ms in kills {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync"))
                .arg("--config")
                .arg(&a.config)
                .args(["backfill", "--source", source, "--input", input.to_str().unwrap()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(*ms));
            let _ = child.kill();
            child.wait().unwrap();
        }
        a.backfill(&input);
        assert_eq!(a.status()["dialogporten"]["waiting"], 0, "the outbox drained");
        (a, b, front, server)
    };
    let (clean_a, clean_b, clean_front, _clean) = backfill(&[]);
    // Ten instants spread over reading, committing and sending (a fixed pseudo-random draw).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let kills: Vec<u64> = (0..10).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; 150 + x % 2500 }).collect();
    let (a, b, front, _server) = backfill(&kills);

    eprintln!("kills at {kills:?} ms; B answered {:?}", front.seen.lock().unwrap().statuses);
    let (clean_b, killed_b) = (by_id(clean_b.dialogs()), same_dialogs(&a, &b));
    assert!(killed_b.len() > 1000, "{}", killed_b.len());
    assert_eq!(killed_b, clean_b, "B after the kills is B after a clean run");
    assert_eq!(by_id(clean_a.dialogs()).len(), clean_b.len());
    clean_front.created_once(&clean_b);
    front.created_once(&killed_b);
    assert!(a.dead_letters().is_empty(), "{:?}", a.dead_letters());
}

/// A dialog whose visibleFrom is ahead waits in the outbox until then, and is then created
/// with the source's dates (Dialogporten would have moved them to visibleFrom); dialogs
/// Dialogporten refuses (403: not the organisation's resource) are dead letters in phase
/// `sink`, and `dead-letters retry` sends them again once that is put right.
#[test]
fn a_dialog_not_yet_visible_waits_for_it_and_refused_ones_are_retried() {
    const LATER: &str = "2099-01-02T00:00:00Z";
    let source = "a2-correspondence";
    let a = Env::for_source(source, source, "");
    let input = a.dir.path().join("records");
    std::fs::create_dir(&input).unwrap();
    let fixture: Value = common::read_json(&common::root().join("components/a2-correspondence/fixtures/confirmed-dst-spring.input.json"));
    let lines: String = (0..3)
        .map(|i| {
            let mut r = fixture.clone();
            r["correspondenceId"] = (51234567 + i).into();
            if i == 2 {
                r["visibleDate"] = "2099-01-01T00:00:00".into();
            }
            r.to_string() + "\n"
        })
        .collect();
    std::fs::write(input.join("records.jsonl"), lines).unwrap();

    // B, at a "now" after that visibleFrom, first owning none of these resources.
    let b = Env::new("a3-app-instances", "");
    let token = b.ok(&["token", "--org", ORG, "--ttl", "2h"]).trim().to_string();
    let base = std::fs::read_to_string(&b.config).unwrap();
    let owns = |resources: &str| std::fs::write(&b.config, format!("{base}[api.service_owners.{ORG}]\nresources = [\"{resources}\"]\n")).unwrap();
    owns("urn:altinn:resource:none-of-these");
    let server = common::Server::start_at(&b, LATER);
    sink_to(&a, &server.url, &format!("token = \"{token}\""));
    let summary = a.backfill(&input);
    assert_eq!(summary["migrated"], 3, "{summary}");
    let dead = a.dead_letters();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead.iter().all(|d| d["phase"] == "sink" && d["error"].as_str().unwrap().contains("HTTP 403")), "{dead:?}");
    let status = a.status();
    assert_eq!((status["dialogporten"]["waiting"].as_i64(), status["dialogporten"]["scheduled"].as_i64()), (Some(0), Some(1)), "{status:#}");
    assert!(a.ok(&["status"]).contains("1 dialog to be sent when they become visible (visibleFrom)."));

    // Put right: B owns them; the retry queues the refused ones, the next drain sends them.
    let old = server.url.clone();
    drop(server);
    owns("urn:altinn:resource:*");
    let server = common::Server::start_at(&b, LATER);
    let text = std::fs::read_to_string(&a.config).unwrap().replace(&old, &server.url);
    std::fs::write(&a.config, text).unwrap();
    let retried = a.ok(&["dead-letters", "retry"]);
    assert!(retried.contains("dialogporten: 2 dialogs queued to be sent again"), "{retried}");
    a.backfill(&input);
    assert!(a.dead_letters().is_empty());
    assert_eq!(b.dialogs().len(), 2, "the one not yet visible still waits");

    // Its visibleFrom passed: sent, with the source's createdAt and updatedAt.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync"))
        .arg("--config")
        .arg(&a.config)
        .args(["backfill", "--source", source, "--input", input.to_str().unwrap()])
        .env("DIALOGSYNC_NOW", LATER)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    drop(server);
    same_dialogs(&a, &b);
    let later = by_id(b.dialogs()).into_values().find(|d| d["visibleFrom"].as_str() > Some("2098")).expect("the late one");
    assert!(later["createdAt"].as_str().unwrap().starts_with("2024-03-31"), "{later}");
}
