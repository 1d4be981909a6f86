//! The Dialogporten sink end to end over real HTTP on 127.0.0.1: host A syncs the simulator
//! with its sink aimed at host B's `serve` (a Dialogporten service-owner API); B ends with
//! exactly A's dialogs, each created once, every request body valid against Dialogporten's
//! schemas (B refuses any other with 400, which A would keep as a dead letter).

use super::common::{self, Env, Sim};
use serde_json::Value;
use std::collections::BTreeMap;

const ORG: &str = "912345678";

/// B: a Dialogporten for organisation ORG, which owns every resource.
fn dialogporten() -> (Env, common::Server, String) {
    let env = Env::new("a3-app-instances", "");
    let text = std::fs::read_to_string(&env.config).unwrap() + &format!("[api.service_owners.{ORG}]\nresources = [\"urn:altinn:resource:*\"]\n");
    std::fs::write(&env.config, text).unwrap();
    let token = env.ok(&["token", "--org", ORG, "--ttl", "2h"]).trim().to_string();
    let server = common::Server::start(&env);
    (env, server, token)
}

fn by_id(dialogs: Vec<Value>) -> BTreeMap<String, Value> {
    dialogs.into_iter().map(|d| (d["id"].as_str().unwrap().to_string(), d)).collect()
}

#[test]
fn a_host_with_its_sink_on_another_hosts_api_ends_with_the_same_dialogs_each_created_once() {
    let (b, server, token) = dialogporten();
    let sim = Sim::start(81, &["--days", "3", "--per-day", "8"], &[]);
    let sources: Vec<(&str, std::path::PathBuf)> = ["a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence"].iter().map(|s| (*s, common::component(s))).collect();
    let a = common::run_env(&sim, &sources, "3d", "", "rate_limit = 1000");
    let text = std::fs::read_to_string(&a.config).unwrap() + &format!("[sink]\nkind = \"dialogporten\"\nurl = \"{}\"\ntoken = \"{token}\"\nrate_limit = 1000\n", server.url);
    std::fs::write(&a.config, text).unwrap();
    a.ok(&["parties", "import", sim.parties(a.dir.path()).to_str().unwrap()]);
    a.ok(&["run", "--once"]);
    let first = by_id(b.dialogs()).len();
    // The sources change (reads, new versions, deletions): the next run sends the changes.
    let changes = sim.post("/_sim/advance?steps=40");
    assert!(changes["changes"].as_array().is_some_and(|c| !c.is_empty()), "{changes}");
    a.ok(&["run", "--once"]);

    let ours = by_id(a.dialogs());
    let theirs = by_id(b.dialogs());
    assert!(ours.len() > 30, "A migrated the history: {}", ours.len());
    assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>(), "B holds exactly A's dialogs");
    // An update's `updatedAt` is Dialogporten's (UpdateDialog has none): the rest is ours.
    let without_updated_at = |d: &Value| {
        let mut d = d.clone();
        d.as_object_mut().unwrap().remove("updatedAt");
        d
    };
    for (id, doc) in &ours {
        assert_eq!(without_updated_at(&theirs[id]), without_updated_at(doc), "dialog {id}");
    }
    assert!(a.dead_letters().is_empty(), "nothing refused: {:?}", a.dead_letters());
    // Each created once at B.
    let events: Vec<Value> = b.ok(&["events", "--limit", "0"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut creates: BTreeMap<String, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e["kind"] == "created") {
        *creates.entry(e["dialog_id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert!(creates.len() >= ours.len() && first > 30, "{} created, {} held", creates.len(), ours.len());
    assert!(creates.values().all(|n| *n == 1), "{creates:?}");
    let updates = events.iter().filter(|e| e["kind"] == "updated").count();
    assert!(updates > 0, "the changed dialogs were updated at B, not created again: {events:?}");
}

/// A proxy in front of B that answers 503 to every fifth request, and to all while `down`.
struct Faulty {
    url: String,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    failed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

fn faulty(target: &str) -> Faulty {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (down, failed, count) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (target, d, f) = (target.to_string(), down.clone(), failed.clone());
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (target, down, failed, count) = (target.clone(), d.clone(), f.clone(), count.clone());
        async move {
            let n = count.fetch_add(1, Ordering::Relaxed);
            if down.load(Ordering::Relaxed) || n % 5 == 4 {
                failed.fetch_add(1, Ordering::Relaxed);
                return axum::http::Response::builder().status(503).body(axum::body::Body::from("unavailable")).unwrap();
            }
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 26).await.unwrap();
            tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let mut out = ureq::http::Request::builder().method(parts.method.as_str()).uri(format!("{target}{}", parts.uri));
                for (k, v) in &parts.headers {
                    if k != "host" && k != "content-length" {
                        out = out.header(k.as_str(), v.as_bytes());
                    }
                }
                let mut r = agent.run(out.body(body.to_vec()).unwrap()).unwrap();
                let mut back = axum::http::Response::builder().status(r.status().as_u16());
                for (k, v) in r.headers() {
                    if k != "content-length" && k != "transfer-encoding" {
                        back = back.header(k.as_str(), v.as_bytes());
                    }
                }
                back.body(axum::body::Body::from(r.body_mut().read_to_vec().unwrap())).unwrap()
            })
            .await
            .unwrap()
        }
    });
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Faulty { url, down, failed, _runtime: runtime }
}

/// B behind a proxy that fails every fifth request, and is down at first: A's outbox grows and
/// its status page says so; then B is back, the outbox drains, and B holds A's dialogs, each
/// created once.
#[test]
fn the_outbox_rides_out_failures_and_an_outage_and_drains() {
    use std::sync::atomic::Ordering;
    let (b, server, token) = dialogporten();
    let proxy = faulty(&server.url);
    proxy.down.store(true, Ordering::Relaxed);
    let sim = Sim::start(82, &["--days", "2", "--per-day", "8"], &[]);
    let sources: Vec<(&str, std::path::PathBuf)> = ["a3-app-instances", "a2-correspondence"].iter().map(|s| (*s, common::component(s))).collect();
    let a = common::run_env(&sim, &sources, "2d", "interval = \"1s\"", "rate_limit = 1000");
    let text = std::fs::read_to_string(&a.config).unwrap() + &format!("[sink]\nkind = \"dialogporten\"\nurl = \"{}\"\ntoken = \"{token}\"\nrate_limit = 1000\n", proxy.url);
    std::fs::write(&a.config, text).unwrap();
    a.ok(&["parties", "import", sim.parties(a.dir.path()).to_str().unwrap()]);
    let _host = common::Host::start(&a, &[]);

    let down = a.wait_for("the outbox to hold what cannot be sent", 60, |s| s["dialogporten"]["waiting"].as_i64() > Some(10) && s["dialogporten"]["last_error"].is_string());
    let page = a.ok(&["status"]);
    assert!(page.contains("⚠ Dialogporten — ") && page.contains("waiting to be sent") && page.contains("HTTP 503"), "{page}");
    assert!(down["problems"].as_array().unwrap().iter().any(|p| p.as_str().is_some_and(|p| p.starts_with("Dialogporten: "))), "{down:#}");
    proxy.down.store(false, Ordering::Relaxed);

    let synced = a.wait_for("the outbox to drain", 120, |s| common::history_complete(s) && s["dialogporten"]["waiting"] == 0);
    assert_eq!(synced["dialogporten"]["sent"].as_i64(), Some(a.dialogs().len() as i64), "{synced:#}");
    assert!(a.ok(&["status"]).contains("✔ Dialogporten — in sync"));
    assert!(proxy.failed.load(Ordering::Relaxed) > 10, "the proxy failed requests");
    let ours = by_id(a.dialogs());
    let theirs = by_id(b.dialogs());
    assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>(), "B holds exactly A's dialogs");
    let events: Vec<Value> = b.ok(&["events", "--limit", "0"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut creates: BTreeMap<String, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e["kind"] == "created") {
        *creates.entry(e["dialog_id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert!(creates.values().all(|n| *n == 1), "none created twice: {creates:?}");
}
