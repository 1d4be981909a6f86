//! Altinn Events into a running host: `dialogsync subscribe` creates the subscriptions at the
//! simulator's Events, whose validation event the host answers; then an app instance's
//! `app.instance.process.completed` and a correspondence's
//! `no.altinn.correspondence.correspondencereceiverread` change their dialogs at once (ticks
//! are an hour apart); a push with a wrong `code` is refused with 401 and fetches nothing.

use super::common::{self, Host, Sim};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CODE: &str = "s3cret";

fn post(url: &str, event: &Value) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    agent.post(url).header("Content-Type", "application/cloudevents+json").send(event.to_string()).unwrap().status().as_u16()
}

/// Waits until `done`, or fails naming `what`.
fn wait(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < until, "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The dialog with `label`, if any.
fn dialog(env: &common::Env, label: &str) -> Option<Value> {
    env.ok(&["dialogs", "search", "--label", label]).lines().next().map(|l| serde_json::from_str(l).unwrap())
}

#[test]
fn subscribed_events_change_their_dialogs_at_once_and_a_wrong_code_applies_nothing() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let sim = Sim::start(96, &["--days", "2", "--per-day", "12"], &[]);
    let sources = [("a3-app-instances", common::component("a3-app-instances")), ("a3-correspondence", common::component("a3-correspondence"))];
    let sync = format!("interval = \"1h\"\nlisten = \"{listen}\"\npush_delay = \"1s\"");
    let env = common::run_env(&sim, &sources, "3d", &sync, "rate_limit = 1000");
    let events = format!("events_code = \"{CODE}\"\nevents_url = \"{}/events/api/v1\"", sim.url);
    let text = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace(
            &format!("connector = \"http\"\nurl = \"{}/a3-app-instances\"", sim.url),
            &format!("connector = \"altinn-storage\"\nurl = \"{}/storage/api/v1/instances\"\norg = \"ttd\"\napps_domain = \"apps.tt02.altinn.no\"\n{events}", sim.url),
        )
        .replace(
            &format!("connector = \"http\"\nurl = \"{}/a3-correspondence\"", sim.url),
            &format!("connector = \"altinn-correspondence\"\nurl = \"{}/correspondence/api/v1/correspondence\"\nresources = [\"skd-vedtak\", \"nav-melding\", \"brg-varsel\"]\n{events}", sim.url),
        );
    assert_eq!(text.matches("events_code").count(), 2, "{text}");
    std::fs::write(&env.config, text).unwrap();
    env.ok(&["parties", "import", sim.parties(env.dir.path()).to_str().unwrap()]);
    let _host = Host::start(&env, &[]);
    env.wait_for("the first ticks and the history", 90, |s| common::history_complete(s) && s["sources"].as_array().unwrap().iter().all(|s| !s["last_tick"].is_null()));

    // Subscribing: Events validates each endpoint with its handshake event, which the host answers.
    for source in ["a3-app-instances", "a3-correspondence"] {
        let endpoint = format!("http://{listen}/sources/{source}/events");
        let created: Vec<Value> = env.ok(&["subscribe", "--source", source, "--endpoint", &endpoint]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(created.len(), if source == "a3-app-instances" { 1 } else { 3 }, "{created:?}");
        for s in &created {
            assert_eq!(s["endPoint"], format!("{endpoint}?code={CODE}"), "{s}");
            let id = s["id"].as_u64().unwrap();
            wait(&format!("subscription {id} validated"), 30, || sim.get(&format!("/events/api/v1/subscriptions/{id}"))["validated"] == true);
        }
    }
    let corr = created_filters(&sim);
    assert!(corr.contains(&"https://ttd.apps.tt02.altinn.no/ttd/%25".to_string()), "{corr:?}");

    // Changes until an instance of ttd completes its process and a correspondence is read.
    let (mut completed, mut read) = (None, None);
    for _ in 0..3000 {
        if completed.is_some() && read.is_some() {
            break;
        }
        for c in sim.post("/_sim/advance?steps=1")["changes"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_string();
            if c["source"] == "a3-app-instances" && completed.is_none() {
                let i = sim.get(&format!("/storage/api/v1/instances/{id}"));
                if i["org"] == "ttd" && i["process"]["ended"].is_string() && c["kind"] == "changed" {
                    completed = Some((id, i["lastChanged"].as_str().unwrap().to_string()));
                }
            } else if c["source"] == "a3-correspondence" && read.is_none() {
                let d = sim.get(&format!("/correspondence/api/v1/correspondence/{id}/details"));
                if d["status"] == "Read" && c["kind"] == "changed" {
                    read = Some((id, d["statusChanged"].as_str().unwrap().to_string()));
                }
            }
        }
    }
    let (instance, ended) = completed.expect("an instance of ttd completes");
    let (correspondence, read_at) = read.expect("a correspondence is read");
    let current = |label: &str, at: &str| dialog(&env, label).is_some_and(|d| d["updatedAt"].as_str().unwrap_or_default().get(..19) == at.get(..19));
    wait("the completed instance's dialog", 60, || current(&format!("urn:altinn:integration:storage:{instance}"), &ended));
    wait("the read correspondence's dialog", 60, || current(&format!("urn:altinn:correspondence-id:{correspondence}"), &read_at));
    let d = dialog(&env, &format!("urn:altinn:correspondence-id:{correspondence}")).unwrap();
    assert!(d["activities"].as_array().unwrap().iter().any(|a| a["type"] == "CorrespondenceOpened"), "{d}");

    // A wrong code, or none: 401, and nothing is fetched.
    let fetches = || sim.get("/_sim/stats")["item_fetches"]["a3-correspondence"].as_u64().unwrap();
    let mut before = fetches();
    wait("deliveries settle", 30, || {
        std::thread::sleep(Duration::from_secs(2));
        let now = fetches();
        std::mem::replace(&mut before, now) == now
    });
    let event = json!({ "specversion": "1.0", "id": "e1", "type": "no.altinn.correspondence.correspondencereceiverread", "source": "https://platform.tt02.altinn.no/correspondence/api/v1/correspondence", "resourceinstance": correspondence });
    let url = format!("http://{listen}/sources/a3-correspondence/events");
    assert_eq!(post(&format!("{url}?code=wrong"), &event), 401);
    assert_eq!(post(&url, &event), 401);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(fetches(), before, "a refused push fetches nothing");
    // The handshake alone, with the code: 200.
    let validate = json!({ "specversion": "1.0", "id": "v", "type": "platform.events.validatesubscription", "source": "https://platform.tt02.altinn.no/events/api/v1/subscriptions/9" });
    assert_eq!(post(&format!("{url}?code={CODE}"), &validate), 200);
}

/// The source filters of the simulator's subscriptions 1…n.
fn created_filters(sim: &Sim) -> Vec<String> {
    (1..=4).filter_map(|i| sim.get(&format!("/events/api/v1/subscriptions/{i}"))["sourceFilter"].as_str().map(str::to_string)).collect()
}
