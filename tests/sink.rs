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
