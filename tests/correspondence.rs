//! The `altinn-correspondence` connector against the simulator's Correspondence, whose list
//! returns at most 1000 ids, newest first, with no continuation and publish-time bounds
//! exclusive at both ends: 2,500 correspondences published on one day in groups that share a
//! publish time are all listed and migrated; a single instant holding more than the cap is an
//! error naming it, never a silent loss.

use super::common::{self, Sim};
use serde_json::Value;
use std::collections::BTreeSet;

const RESOURCES: &str = "resources = [\"skd-vedtak\", \"nav-melding\", \"brg-varsel\"]";

/// A config reading the A3 correspondences through Correspondence's API.
fn env(sim: &Sim, extra: &str) -> common::Env {
    let source = [("a3-correspondence", common::component("a3-correspondence"))];
    let a = common::run_env(sim, &source, "3d", "", "rate_limit = 10000");
    let text = std::fs::read_to_string(&a.config).unwrap().replace(
        &format!("connector = \"http\"\nurl = \"{}/a3-correspondence\"", sim.url),
        &format!("connector = \"altinn-correspondence\"\nurl = \"{}/correspondence/api/v1/correspondence\"\n{RESOURCES}", sim.url),
    ) + extra;
    assert!(text.contains("altinn-correspondence"), "{text}");
    std::fs::write(&a.config, text).unwrap();
    a
}

/// The ids of A's dialogs (from their Correspondence labels).
fn migrated(dialogs: &[Value]) -> BTreeSet<String> {
    dialogs
        .iter()
        .flat_map(|d| d["serviceOwnerContext"]["serviceOwnerLabels"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| l["value"].as_str()?.strip_prefix("urn:altinn:correspondence-id:").map(str::to_string))
        .collect()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn get(url: &str, token: &str) -> (u16, Value) {
    let mut r = agent().get(url).header("Authorization", format!("Bearer {token}")).call().unwrap();
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_vec().unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[test]
fn a_day_of_tied_publish_times_over_the_cap_is_listed_whole_with_tokens() {
    let fixture = |f: &str| common::root().join("tests/fixtures/maskinporten").join(f);
    let registered = format!("corr-client:912345678:{}", fixture("client.jwks.json").display());
    let sim = Sim::start(94, &["--days", "2", "--per-day", "30", "--correspondence-ties", "2500", "--maskinporten-client", &registered], &[]);
    let api = format!("{}/correspondence/api/v1/correspondence", sim.url);
    assert_eq!(agent().get(format!("{api}?resourceId=skd-vedtak&role=Sender")).call().unwrap().status().as_u16(), 401, "anonymous");

    let a = env(&sim, &format!("[maskinporten]\nclient_id = \"corr-client\"\nkey = \"{}\"\nenvironment = \"{}/maskinporten\"\n", fixture("client.pem").display(), sim.url));
    let token = a.ok(&["maskinporten", "--scope", "altinn:correspondence.write"]).trim().to_string();
    // The simulator is Correspondence's: the day's list stops at the cap, and without its
    // resource or role it is refused.
    let (status, day) = get(&format!("{api}?resourceId=skd-vedtak&role=Sender"), &token);
    assert_eq!((status, day["ids"].as_array().map(Vec::len)), (200, Some(1000)), "capped at 1000");
    assert_eq!(get(&format!("{api}?role=Sender"), &token).0, 400);
    assert_eq!(get(&format!("{api}?resourceId=skd-vedtak"), &token).0, 400);
    assert_eq!(get(&format!("{api}?resourceId=skd-vedtak&role=Sender&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"), &token).0, 400);

    a.ok(&["run", "--once"]);
    // New correspondences published meanwhile come with the next run's live tick.
    sim.post("/_sim/advance?steps=60");
    a.ok(&["run", "--once"]);

    let all: Vec<String> = serde_json::from_value(sim.get("/_sim/ids?source=a3-correspondence")).unwrap();
    assert!(all.len() > 2500, "{}", all.len());
    // Published, as its sender reads it, is what the transformer migrates.
    let published: BTreeSet<String> = all
        .iter()
        .filter(|id| {
            let (status, d) = get(&format!("{api}/{id}/details"), &token);
            assert_eq!(status, 200, "{id}");
            d["statusHistory"].as_array().unwrap().iter().any(|h| h["status"] == "Published")
        })
        .cloned()
        .collect();
    let dialogs = a.dialogs();
    let got = migrated(&dialogs);
    let (missing, extra): (Vec<_>, Vec<_>) = (published.difference(&got).take(5).collect(), got.difference(&published).take(5).collect());
    assert!(missing.is_empty() && extra.is_empty(), "every published correspondence is a dialog: {} published, {} migrated; missing {missing:?}, extra {extra:?}", published.len(), got.len());
    assert_eq!(dialogs.len(), published.len(), "one dialog each");
    assert!(a.dead_letters().is_empty(), "{:?}", a.dead_letters());
    let status = a.status();
    let s = status["sources"].as_array().unwrap().iter().find(|s| s["source"] == "a3-correspondence").unwrap().clone();
    assert_eq!(s["dialogs"].as_u64(), Some(published.len() as u64), "{s:#}");
    assert!(common::history_complete(&status), "{s:#}");
}

#[test]
fn one_instant_over_the_cap_is_an_error_naming_it() {
    let sim = Sim::start(95, &["--days", "1", "--per-day", "3", "--correspondence-ties", "1001", "--correspondence-tie-size", "1001"], &[]);
    let a = env(&sim, "");
    let out = a.run(&["run", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    assert!(stderr.contains(&format!("at least 1000 ids at the one instant {yesterday}T00:00:00.123456Z")), "{stderr}");
    // Nothing of that day counts as done: its window stays open for a run that can list it.
    let status = a.status();
    let s = status["sources"].as_array().unwrap().iter().find(|s| s["source"] == "a3-correspondence").unwrap().clone();
    assert!(!common::history_complete(&status), "{s:#}");
}
