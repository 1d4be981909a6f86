//! End to end over the built binary and the built components: the 58 real Altinn 3 instances,
//! idempotence, party resolution, and bad input.

#[path = "common.rs"]
mod common;
/// The Dialogporten sink, host to host.
mod sink;

use common::{Env, counts, create_dialog_schema, instance, read_json, shared_altinn};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use dialogsync_core::status::plural;

/// The rules of DESIGN.md "Dialog rules", checked independently of the host's own validator.
fn assert_dialog_rules(d: &Value) {
    let s = |k: &str| d[k].as_str().unwrap_or_else(|| panic!("{k} missing in {d}"));
    let party = s("party");
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    assert!(
        party.strip_prefix("urn:altinn:person:identifier-no:").is_some_and(|p| digits(p, 11))
            || party.strip_prefix("urn:altinn:organization:identifier-no:").is_some_and(|p| digits(p, 9)),
        "party {party}"
    );
    assert!(s("serviceResource").starts_with("urn:altinn:resource:"));
    assert!(["InProgress", "Draft", "RequiresAttention", "Completed", "NotApplicable", "Awaiting"].contains(&s("status")));
    assert!(["Default", "Bin", "Archive"].contains(&s("systemLabel")));
    let title = d["content"]["title"]["value"].as_array().unwrap();
    assert!(!title.is_empty() && title.iter().all(|t| (1..=255).contains(&t["value"].as_str().unwrap().chars().count())));
    let t = |k: &str| d[k].as_str().map(|v| chrono::DateTime::parse_from_rfc3339(v).unwrap());
    let now = chrono::Utc::now().fixed_offset();
    assert!(t("createdAt").unwrap() <= now && t("updatedAt").unwrap() <= now);
    assert!(t("updatedAt").unwrap() >= t("createdAt").unwrap());
    if let (Some(v), Some(due)) = (t("visibleFrom"), t("dueAt")) {
        assert!(due >= v);
    }
    let labels = d["serviceOwnerContext"]["serviceOwnerLabels"].as_array().unwrap();
    assert!(labels.len() <= 20 && labels.iter().all(|l| (3..=255).contains(&l["value"].as_str().unwrap().len())));
    assert_eq!(d["id"].as_str().unwrap().as_bytes()[14], b'7', "UUIDv7 id");
}

#[test]
fn the_58_real_instances_all_end_as_dialogs_or_counted_skips() {
    let Some(altinn) = shared_altinn("the_58_real_instances_all_end_as_dialogs_or_counted_skips") else { return };
    let input = altinn.join("storage-instances");

    // What the data says, read independently of dialogsync.
    let mut instances: Vec<Value> = std::fs::read_dir(&input).unwrap().map(|e| read_json(&e.unwrap().path())).collect();
    instances.sort_by_key(|i| i["id"].as_str().unwrap().to_string());
    assert_eq!(instances.len(), 58);
    let hard_deleted = |i: &Value| i["status"]["isHardDeleted"] == true;
    let party_only = |i: &Value| i["instanceOwner"]["personNumber"].is_null() && i["instanceOwner"]["organisationNumber"].is_null();
    assert_eq!(instances.iter().filter(|i| party_only(i)).count(), 18, "18 name only a party id");
    let n_hard = instances.iter().filter(|i| hard_deleted(i)).count() as u64;
    // A hard-deleted instance is skipped whoever owns it; the other party-only ones wait.
    let n_waiting = instances.iter().filter(|i| party_only(i) && !hard_deleted(i)).count() as u64;
    let waiting_ids: BTreeSet<String> = instances.iter().filter(|i| party_only(i) && !hard_deleted(i)).map(|i| i["instanceOwner"]["partyId"].as_str().unwrap().to_string()).collect();
    let expected_dialogs: BTreeSet<&str> = instances.iter().filter(|i| !hard_deleted(i)).map(|i| i["id"].as_str().unwrap()).collect();

    // 1. Without the register: party-only records wait, named; nothing else is lost.
    let env = Env::new("a3-app-instances", "");
    let first = env.backfill(&input);
    assert_eq!(counts(&first)[0], 58);
    assert_eq!(first["skipped"], n_hard, "{first}");
    assert_eq!(first["skip_reasons"]["hard-deleted in Altinn Storage"], n_hard);
    assert_eq!(first["waiting"], n_waiting, "{first}");
    assert_eq!(first["dead"], 0, "{first}");
    let waiting: BTreeSet<String> = serde_json::from_value(first["waiting_party_ids"].clone()).unwrap();
    assert_eq!(waiting, waiting_ids);

    // 2. Import a register covering those party ids: the waiting records migrate.
    let register: String = waiting_ids.iter().enumerate().map(|(k, id)| format!("{id},91000{k:04}\n")).collect();
    let register_file = env.dir.path().join("parties.csv");
    std::fs::write(&register_file, format!("partyId,organisationNumber\n{register}")).unwrap();
    let said = env.ok(&["parties", "import", register_file.to_str().unwrap()]);
    // Identical files are one staged version, so the register unblocks each distinct one once.
    let distinct_waiting: BTreeSet<Vec<u8>> = std::fs::read_dir(&input)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .filter(|bytes| {
            let i: Value = serde_json::from_slice(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).unwrap();
            party_only(&i) && !hard_deleted(&i)
        })
        .map(|bytes| bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes).to_vec())
        .collect();
    assert!(said.contains(&format!("imported {}; {} can now", plural(waiting_ids.len() as i64, "party", "parties"), plural(distinct_waiting.len() as i64, "waiting record", "waiting records"))), "{said}");
    let second = env.backfill(&input);
    assert_eq!(counts(&second)[4..], [0, 0], "none waiting or dead: {second}");
    assert!(second["migrated"].as_u64().unwrap() >= waiting_ids.len() as u64, "{second}");

    // Every non-deleted instance is exactly one dialog; the hard-deleted have none.
    let dialogs = env.dialogs();
    let label_of = |d: &Value| d["serviceOwnerContext"]["serviceOwnerLabels"][0]["value"].as_str().unwrap().to_string();
    let by_guid: BTreeMap<String, &Value> = dialogs.iter().map(|d| (label_of(d).rsplit('/').next().unwrap().to_string(), d)).collect();
    assert_eq!(dialogs.len(), expected_dialogs.len());
    assert_eq!(by_guid.keys().map(String::as_str).collect::<BTreeSet<_>>(), expected_dialogs);

    // Every dialog fits Dialogporten's contract and its rules.
    let schema = create_dialog_schema(&altinn);
    for d in &dialogs {
        let errors: Vec<String> = schema.iter_errors(d).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "dialog {} breaks CreateDialog: {errors:?}", d["id"]);
        assert_dialog_rules(d);
    }

    // Altinn's mapping (DESIGN.md "Dialog rules"), computed here from each raw instance on its
    // own, for every one of them. Ids stored in several files must match one of their versions.
    let expected = |i: &Value| {
        let st = &i["status"];
        let archived = st["isArchived"] == true;
        let confirmed = i["completeConfirmations"].as_array().is_some_and(|c| !c.is_empty());
        let ended = !i["process"]["ended"].is_null();
        let task = if ended { "" } else { i["process"]["currentTask"]["altinnTaskType"].as_str().unwrap_or("") };
        let status = match (archived, confirmed, task) {
            (true, true, _) => "Completed",
            (true, false, _) => "Awaiting",
            (_, _, "reject") => "RequiresAttention",
            (_, _, "feedback") => "Awaiting",
            (_, _, "confirmation" | "signing") => "InProgress",
            _ => "Draft",
        };
        let label = if st["isSoftDeleted"] == true { "Bin" } else if archived { "Archive" } else { "Default" };
        (status.to_string(), label.to_string())
    };
    let mut checked = 0;
    for (guid, d) in &by_guid {
        let got = (d["status"].as_str().unwrap().to_string(), d["systemLabel"].as_str().unwrap().to_string());
        let versions: Vec<(String, String)> = instances.iter().filter(|i| i["id"] == guid.as_str()).map(expected).collect();
        assert!(versions.contains(&got), "{guid}: got {got:?}, the mapping says one of {versions:?}");
        checked += 1;
    }
    assert_eq!(checked, expected_dialogs.len());

    // And some cases by name.
    let status = |guid: &str| {
        let d = by_guid[guid];
        (d["status"].as_str().unwrap(), d["systemLabel"].as_str().unwrap())
    };
    assert_eq!(status("6323a337-26e7-4d40-89e8-f5bb3d80be3a"), ("Awaiting", "Default"), "feedback task");
    assert_eq!(status("20b1353e-91cf-44d6-8ff7-f68993638ffe"), ("Awaiting", "Archive"), "archived, unconfirmed");
    assert_eq!(status("67f568ce-f114-48e7-ba12-dd422f73667a"), ("Draft", "Bin"), "soft-deleted");
    assert_eq!(status("ef1b16fc-4566-4577-b2d8-db74fbee4f7c"), ("Draft", "Default"), "data task, confirmed by owner");
    let k = waiting_ids.iter().position(|p| p == "1337").unwrap();
    assert_eq!(by_guid["ef1b16fc-4566-4577-b2d8-db74fbee4f7c"]["party"], format!("urn:altinn:organization:identifier-no:91000{k:04}"), "resolved through the register");

    // Reading them back: by id, and by party.
    let one = &dialogs[0];
    let got: Value = serde_json::from_str(env.ok(&["dialogs", "get", one["id"].as_str().unwrap()]).trim()).unwrap();
    assert_eq!(&got, one);
    let party = one["party"].as_str().unwrap();
    let of_party = env.ok(&["dialogs", "search", "--party", party]).lines().count();
    assert_eq!(of_party, dialogs.iter().filter(|d| d["party"] == party).count());
    assert!(!env.run(&["dialogs", "get", "00000000-0000-7000-8000-000000000000"]).status.success());

    // 3. The same backfill again changes nothing.
    let third = env.backfill(&input);
    assert_eq!(counts(&third), [58, 0, 58, 0, 0, 0], "{third}");
    assert_eq!(env.dialogs(), dialogs);

    // 4. A fresh store gets the very same dialog ids (deterministic UUIDv7).
    let fresh = Env::new("a3-app-instances", "");
    fresh.ok(&["parties", "import", register_file.to_str().unwrap()]);
    let once = fresh.backfill(&input);
    assert_eq!(counts(&once)[4..], [0, 0]);
    let ids = |ds: &[Value]| ds.iter().map(|d| d["id"].as_str().unwrap().to_string()).collect::<BTreeSet<_>>();
    assert_eq!(ids(&fresh.dialogs()), ids(&dialogs));
}

#[test]
fn bad_input_becomes_named_dead_letters_and_the_rest_migrates() {
    let env = Env::new("a3-app-instances", "");
    let input = env.dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let mut no_app = instance(3, "no appId");
    no_app.as_object_mut().unwrap().remove("appId");
    let lines = [
        instance(1, "first").to_string(),
        "{\"id\": \"broken".to_string(),
        serde_json::json!({ "created": "2024-01-01T00:00:00Z" }).to_string(),
        instance(2, "second").to_string(),
        no_app.to_string(),
    ];
    std::fs::write(input.join("records.ndjson"), lines.join("\n")).unwrap();
    std::fs::write(input.join("truncated.json"), "{\"instances\": [").unwrap();

    let s = env.backfill(&input);
    assert_eq!(counts(&s), [6, 2, 0, 0, 0, 4], "{s}");
    let dead = env.dead_letters();
    let find = |origin_end: &str| {
        dead.iter().find(|d| d["origin"].as_str().unwrap().ends_with(origin_end)).unwrap_or_else(|| panic!("no dead letter at {origin_end}: {dead:?}"))
    };
    assert!(find("records.ndjson:2")["error"].as_str().unwrap().contains("invalid JSON"));
    assert_eq!(find("records.ndjson:3")["error"], "no `id` field naming the record");
    let transform = find("records.ndjson:5");
    assert_eq!(transform["phase"], "transform");
    assert_eq!(transform["error"], "missing required field `appId`");
    assert!(transform["component"].as_str().unwrap().starts_with("a3-app-instances.wasm@"));
    assert!(find("truncated.json")["error"].as_str().unwrap().contains("invalid JSON"));
    assert_eq!(env.dialogs().len(), 2);

    // Again: the good ones are unchanged, the bad ones dead again, each letter kept once.
    let again = env.backfill(&input);
    assert_eq!(counts(&again), [6, 0, 2, 0, 0, 4], "{again}");
    let dead = env.dead_letters();
    assert_eq!(dead.len(), 4);
    assert!(dead.iter().all(|d| d["attempts"] == 2));

    // Fixing the record resolves its dead letter.
    std::fs::write(input.join("records.ndjson"), [lines[0].clone(), lines[3].clone(), instance(3, "fixed").to_string()].join("\n")).unwrap();
    std::fs::remove_file(input.join("truncated.json")).unwrap();
    let fixed = env.backfill(&input);
    assert_eq!(counts(&fixed), [3, 1, 2, 0, 0, 0], "{fixed}");
    let left: Vec<String> = env.dead_letters().iter().map(|d| d["origin"].as_str().unwrap().rsplit('/').next().unwrap().to_string()).collect();
    // Lines 2 and 3 now read fine and the fixed record migrated: their letters are gone. The
    // removed file's letter stays for an operator to see.
    assert_eq!(left, ["truncated.json"]);
}

/// A backfill commits a page while the next goes through the components. With one record a
/// page, each page names the record the page before wrote, and must read what that commit left:
/// the counts and events are those of the pages one after the other (an older version after a
/// newer one is unchanged, not migrated), and the dialogs those of the same records in one page.
#[test]
fn pages_in_flight_see_what_the_page_before_wrote() {
    let version = |n: u32, title: &str, changed: &str| {
        let mut i = instance(n, title);
        i["lastChanged"] = changed.into();
        i
    };
    let mut deleted = version(1, "fourth", "2024-07-04T00:00:00Z");
    deleted["status"]["isHardDeleted"] = true.into();
    let records = [
        version(1, "second", "2024-07-02T00:00:00Z"),
        version(1, "first", "2024-07-01T00:00:00Z"),
        version(1, "third", "2024-07-03T00:00:00Z"),
        version(1, "third", "2024-07-03T00:00:00Z"),
        version(2, "other", "2024-07-01T00:00:00Z"),
        version(2, "other, changed", "2024-07-05T00:00:00Z"),
        deleted,
        version(1, "second again", "2024-07-02T12:00:00Z"),
    ];
    let run = |limits: &str| {
        let env = Env::new("a3-app-instances", limits);
        let input = env.dir.path().join("input");
        std::fs::create_dir(&input).unwrap();
        std::fs::write(input.join("r.ndjson"), records.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")).unwrap();
        let summary = env.backfill(&input);
        let events: Vec<(String, String)> = env
            .ok(&["events"])
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|e| (e["dialog_id"].as_str().unwrap().to_string(), e["kind"].as_str().unwrap().to_string()))
            .collect();
        (summary, env.dialogs(), events)
    };
    let (paged, paged_dialogs, paged_events) = run("batch_size = 1\ncommit_records = 1");
    // The pages 2, 3, 4, 6 and 8 name the instance the page before wrote: each was prepared
    // again after that commit (the debug log says so), whichever finished first.
    let env = Env::new("a3-app-instances", "batch_size = 1\ncommit_records = 1");
    let input = env.dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("r.ndjson"), records.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync"))
        .arg("--config").arg(&env.config)
        .args(["backfill", "--source", "a3-app-instances", "--input", input.to_str().unwrap()])
        .env("DIALOGSYNC_LOG", "dialogsync=debug")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).matches("prepared again").count(), 5, "{}", String::from_utf8_lossy(&out.stderr));
    // One after the other: second, third and both of the other instance's versions migrate;
    // the older first and the repeated third are unchanged; the delete and the version older
    // than it are skipped.
    assert_eq!(counts(&paged), [8, 4, 2, 2, 0, 0], "{paged}");
    assert_eq!(paged["skip_reasons"]["removed at the source by a newer version"], 1);
    let kinds: Vec<&str> = paged_events.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds, ["created", "activity", "updated", "created", "activity", "updated", "deleted"]);
    // In one page the delete is known before the versions are written; the dialogs end the same.
    let (_, whole_dialogs, _) = run("batch_size = 256");
    assert_eq!(paged_dialogs, whole_dialogs);
    assert_eq!(paged_dialogs.len(), 1);
    assert_eq!(paged_dialogs[0]["content"]["title"]["value"][0]["value"], "other, changed");
}

#[test]
fn newer_versions_win_whatever_the_order_and_hard_deletes_remove() {
    let env = Env::new("a3-app-instances", "");
    let dir = |name: &str, records: &[Value]| {
        let d = env.dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("r.ndjson"), records.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")).unwrap();
        d
    };
    let version = |title: &str, changed: &str| {
        let mut i = instance(1, title);
        i["lastChanged"] = changed.into();
        i
    };
    let title = || env.dialogs()[0]["content"]["title"]["value"][0]["value"].as_str().unwrap().to_string();

    let newer = env.backfill(&dir("newer", &[version("second", "2024-07-02T00:00:00Z")]));
    assert_eq!(counts(&newer), [1, 1, 0, 0, 0, 0]);
    // A historic window replaying an older version later leaves the newer dialog alone.
    let older = env.backfill(&dir("older", &[version("first", "2024-07-01T00:00:00Z")]));
    assert_eq!(counts(&older), [1, 0, 1, 0, 0, 0], "{older}");
    assert_eq!(title(), "second");
    let newest = env.backfill(&dir("newest", &[version("third", "2024-07-03T00:00:00Z")]));
    assert_eq!(counts(&newest), [1, 1, 0, 0, 0, 0]);
    assert_eq!(title(), "third");

    // Gone at the source: the dialog made from it is removed; the skip is counted with its reason.
    let mut deleted = version("third", "2024-07-04T00:00:00Z");
    deleted["status"]["isHardDeleted"] = true.into();
    let gone = env.backfill(&dir("gone", &[deleted]));
    assert_eq!(counts(&gone), [1, 0, 0, 1, 0, 0]);
    assert_eq!(gone["skip_reasons"]["hard-deleted in Altinn Storage"], 1);
    assert!(env.dialogs().is_empty());
    // An older version arriving after the delete does not bring it back.
    let late = env.backfill(&dir("late", &[version("second again", "2024-07-02T12:00:00Z")]));
    assert_eq!(counts(&late), [1, 0, 0, 1, 0, 0], "{late}");
    assert_eq!(late["skip_reasons"]["removed at the source by a newer version"], 1);
    assert!(env.dialogs().is_empty());
    // One change event per change, in order, and one per new activity (the created dialog's
    // one); the older version and the late one made none.
    let kinds: Vec<String> = env.ok(&["events"]).lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["created", "activity", "updated", "deleted"]);
}

#[test]
fn init_writes_a_config_that_backfill_uses_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dialogsync.toml");
    let run = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync")).arg("--config").arg(&config).args(args).output().unwrap();
    assert!(run(&["init"]).status.success());
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[sources.a3-app-instances]") && text.contains("store = \"sqlite://dialogsync.db\""));
    let again = run(&["init"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists (use --force"));
    assert!(run(&["init", "--force"]).status.success());
    // The written config is the one commands read: its store lands beside it.
    let root = common::root();
    let components = root.join("target/components");
    let edited = text
        .replace("\"target/components/", &format!("\"{}/", components.display()))
        .replace("\"examples/a3-app-instances\"", &format!("\"{}\"", root.join("examples/a3-app-instances").display()));
    std::fs::write(&config, edited).unwrap();
    let out = run(&["backfill", "--source", "a3-app-instances", "--summary-json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["fetched"], 8, "{s}");
    assert!(dir.path().join("dialogsync.db").exists());
}

/// The backfill's output is the one recorded before issue 18's speed work
/// (`tests/output/backfill-4000.sha256`): 4,000 generated records of the four sources at a fixed
/// "now", every dialog id and document, dead letter and count byte for byte
/// (`scripts/same-output.sh`; BENCHMARKS.md compares 200,000 the same way).
#[test]
fn a_backfill_writes_what_it_wrote_before_it_was_made_faster() {
    let root = common::root();
    assert!(root.join("tests/output/backfill-4000.sha256").is_file(), "the recorded digest is in the repository");
    let out = std::process::Command::new("bash").arg(root.join("scripts/same-output.sh")).arg("4000").arg(env!("CARGO_BIN_EXE_dialogsync")).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("same as"), "{stdout}");
}
