//! The `altinn-storage` connector against the simulator's Storage instance query, which pages
//! as Storage does (`order`, `size`, `continuationToken`, `next` an absolute public URL, set only
//! on a full page): 1,500 instances sharing one `lastChanged` across page boundaries migrate
//! whole, and so do the changes that arrive while it runs.

use super::common::{self, Sim};
use serde_json::Value;
use std::collections::BTreeSet;

/// Every instance id of organisation `org` the simulator's Storage holds, read in one page.
fn all_ids(sim: &Sim, org: &str) -> BTreeSet<String> {
    let page = sim.get(&format!("/storage/api/v1/instances?org={org}&order=asc:lastChanged&size=100000&mainVersionExclude=0"));
    page["instances"].as_array().unwrap().iter().filter(|i| i["status"]["isHardDeleted"] != true).map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

/// The instance ids of A's dialogs (from their Storage labels).
fn migrated(dialogs: &[Value]) -> BTreeSet<String> {
    dialogs
        .iter()
        .flat_map(|d| d["serviceOwnerContext"]["serviceOwnerLabels"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| l["value"].as_str()?.strip_prefix("urn:altinn:integration:storage:").map(str::to_string))
        .collect()
}

/// Pages of a query, following `next` with its origin made the simulator's.
fn follow(sim: &Sim, first: &str) -> Vec<String> {
    let (mut ids, mut url) = (Vec::new(), Some(first.to_string()));
    while let Some(u) = url {
        let page = sim.get(&u);
        ids.extend(page["instances"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()));
        url = page["next"].as_str().map(|n| {
            assert!(n.starts_with("https://platform.tt02.altinn.no/storage/api/v1/instances?"), "{n}");
            n.trim_start_matches("https://platform.tt02.altinn.no").to_string()
        });
    }
    ids
}

#[test]
fn ties_across_page_boundaries_are_neither_lost_nor_repeated() {
    let sim = Sim::start(91, &["--days", "2", "--per-day", "6", "--storage-ties", "1500"], &[]);
    let expected = all_ids(&sim, "ttd");
    assert!(expected.len() > 1500, "{}", expected.len());

    // The simulator is Storage's: descending pages (Altinn's own history migration) lose and
    // repeat ties; ascending ones are whole.
    let desc = follow(&sim, "/storage/api/v1/instances?org=ttd&order=desc:lastChanged&size=100&mainVersionExclude=0");
    let distinct: BTreeSet<&String> = desc.iter().collect();
    assert!(distinct.len() < expected.len() && distinct.len() < desc.len(), "descending: {} rows, {} distinct of {}", desc.len(), distinct.len(), expected.len());
    let asc = follow(&sim, "/storage/api/v1/instances?org=ttd&order=asc:lastChanged&size=100&mainVersionExclude=0");
    assert_eq!(asc.len(), expected.len());
    // Without its operator a date expression is ignored (Storage reads an unknown parameter).
    assert_eq!(sim.get("/storage/api/v1/instances?org=ttd&lastChanged=2000-01-01T00:00:00Z&size=100000&mainVersionExclude=0")["count"].as_u64(), Some(expected.len() as u64));

    let source = [("a3-app-instances", common::component("a3-app-instances"))];
    let a = common::run_env(&sim, &source, "3d", "", "rate_limit = 1000\npage_size = 100");
    // The http source run_env writes, made Storage's instance query for organisation ttd.
    let text = std::fs::read_to_string(&a.config)
        .unwrap()
        .replace(&format!("connector = \"http\"\nurl = \"{}/a3-app-instances\"", sim.url), &format!("connector = \"altinn-storage\"\nurl = \"{}/storage/api/v1/instances\"\norg = \"ttd\"", sim.url));
    assert!(text.contains("altinn-storage"), "{text}");
    std::fs::write(&a.config, text).unwrap();
    a.ok(&["parties", "import", sim.parties(a.dir.path()).to_str().unwrap()]);
    a.ok(&["run", "--once"]);
    // Changes arrive (new instances and new versions), then the next run's live tick.
    sim.post("/_sim/advance?steps=60");
    a.ok(&["run", "--once"]);

    let expected = all_ids(&sim, "ttd");
    let dialogs = a.dialogs();
    assert_eq!(migrated(&dialogs), expected, "every instance of ttd is a dialog");
    assert_eq!(dialogs.len(), expected.len(), "one dialog each");
    assert!(a.dead_letters().is_empty(), "{:?}", a.dead_letters());
    // Instances carry no events in Storage's answers: each dialog has the activities of the
    // events fetched with it (`…/events`; the tied instances were each saved once).
    let saved: Vec<&String> = expected
        .iter()
        .filter(|id| sim.get(&format!("/storage/api/v1/instances/{id}/events"))["instanceEvents"].as_array().is_some_and(|e| e.iter().any(|e| e["eventType"] == "Saved")))
        .collect();
    assert!(saved.len() >= 1500 && sim.get(&format!("/storage/api/v1/instances/{}", saved[0])).get("instanceEvents").is_none(), "{}", saved.len());
    for d in dialogs.iter().filter(|d| migrated(std::slice::from_ref(d)).iter().any(|id| saved.contains(&id))) {
        assert!(d["activities"].as_array().unwrap().iter().any(|a| a["type"] == "FormSaved"), "{d}");
    }
    // Storage's default leaves out instances migrated from Altinn 2; asked for, only A3 ones come.
    let a2: BTreeSet<String> = sim.get("/storage/api/v1/instances?org=ttd&mainVersionInclude=2&size=100000")["instances"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(a2.len(), 150, "a tenth of the ties");
    assert!(a2.is_subset(&migrated(&dialogs)), "included by default (mainVersionExclude=0)");
    let only_a3 = common::run_env(&sim, &source, "3d", "", "rate_limit = 1000\npage_size = 100");
    let text = std::fs::read_to_string(&only_a3.config)
        .unwrap()
        .replace(&format!("connector = \"http\"\nurl = \"{}/a3-app-instances\"", sim.url), &format!("connector = \"altinn-storage\"\nurl = \"{}/storage/api/v1/instances\"\norg = \"ttd\"\nmain_version_exclude = -1", sim.url));
    std::fs::write(&only_a3.config, text).unwrap();
    only_a3.ok(&["parties", "import", sim.parties(only_a3.dir.path()).to_str().unwrap()]);
    only_a3.ok(&["run", "--once"]);
    assert_eq!(migrated(&only_a3.dialogs()), expected.difference(&a2).cloned().collect::<BTreeSet<_>>(), "main_version_exclude = -1: Altinn 3 only");
    let status = a.status();
    let s = status["sources"].as_array().unwrap().iter().find(|s| s["source"] == "a3-app-instances").unwrap().clone();
    assert_eq!(s["dialogs"].as_u64(), Some(expected.len() as u64), "{s:#}");
}

/// The 58 real instances of `../shared/altinn/storage-instances/`, served through Storage's
/// query (organisations ttd and tdd, one source section each) migrate to exactly the dialogs
/// a backfill of the same files makes.
#[test]
fn the_real_instances_through_the_query_migrate_as_from_files() {
    let Some(altinn) = common::shared_altinn("the_real_instances_through_the_query_migrate_as_from_files") else { return };
    let input = altinn.join("storage-instances");
    let files = common::Env::new("a3-app-instances", "");
    files.backfill(&input);

    let sim = Sim::start(92, &["--days", "0", "--storage-instances", input.to_str().unwrap()], &[]);
    let a = common::Env::new("a3-app-instances", "");
    let mut text = std::fs::read_to_string(&a.config).unwrap();
    // Two sections of the one source kind: one query per organisation.
    let section = text.split_off(text.find("[sources.a3-app-instances]").unwrap());
    for org in ["ttd", "tdd"] {
        text += &section.replace("[sources.a3-app-instances]", &format!("[sources.a3-{org}]"));
        text += &format!("connector = \"altinn-storage\"\nurl = \"{}/storage/api/v1/instances\"\norg = \"{org}\"\nback_to = \"2019-01-01\"\nwindow_days = 400\npage_size = 5\ncreated_fields = [\"created\"]\nrate_limit = 1000\n", sim.url);
    }
    std::fs::write(&a.config, text).unwrap();
    a.ok(&["run", "--once"]);

    let by_id = |env: &common::Env| -> std::collections::BTreeMap<String, Value> { env.dialogs().into_iter().map(|d| (d["id"].as_str().unwrap().to_string(), d)).collect() };
    let (ours, expected) = (by_id(&a), by_id(&files));
    assert!(expected.len() > 30, "{}", expected.len());
    assert_eq!(ours.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "the same dialogs");
    assert_eq!(ours, expected, "the same documents");
}

/// With Maskinporten clients, the simulator's Storage takes only its token endpoint's tokens
/// with an instance-reading scope, as Storage does; the connector gets them from the
/// configured `[maskinporten]` client.
#[test]
fn the_connector_reads_storage_with_maskinporten_tokens() {
    let fixture = |f: &str| common::root().join("tests/fixtures/maskinporten").join(f);
    let registered = format!("storage-client:912345678:{}", fixture("client.jwks.json").display());
    let sim = Sim::start(93, &["--days", "2", "--per-day", "8", "--maskinporten-client", &registered], &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let anonymous = agent.get(format!("{}/storage/api/v1/instances?org=ttd", sim.url)).call().unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    let source = [("a3-app-instances", common::component("a3-app-instances"))];
    let a = common::run_env(&sim, &source, "3d", "", "rate_limit = 1000");
    let text = std::fs::read_to_string(&a.config)
        .unwrap()
        .replace(&format!("connector = \"http\"\nurl = \"{}/a3-app-instances\"", sim.url), &format!("connector = \"altinn-storage\"\nurl = \"{}/storage/api/v1/instances\"\norg = \"ttd\"", sim.url))
        + &format!("[maskinporten]\nclient_id = \"storage-client\"\nkey = \"{}\"\nenvironment = \"{}/maskinporten\"\n", fixture("client.pem").display(), sim.url);
    std::fs::write(&a.config, text).unwrap();
    a.ok(&["parties", "import", sim.parties(a.dir.path()).to_str().unwrap()]);
    a.ok(&["run", "--once"]);
    assert_eq!(migrated(&a.dialogs()), all_ids_with_token(&sim, &a), "every instance of ttd, read with tokens");
}

/// `all_ids`, with a token from A's Maskinporten client.
fn all_ids_with_token(sim: &Sim, a: &common::Env) -> BTreeSet<String> {
    let token = a.ok(&["maskinporten", "--scope", "altinn:serviceowner/instances.read"]).trim().to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent.get(format!("{}/storage/api/v1/instances?org=ttd&order=asc:lastChanged&size=100000&mainVersionExclude=0", sim.url)).header("Authorization", format!("Bearer {token}")).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page: Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
    let ids: BTreeSet<String> = page["instances"].as_array().unwrap().iter().filter(|i| i["status"]["isHardDeleted"] != true).map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert!(!ids.is_empty());
    ids
}
