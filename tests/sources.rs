//! Every source end to end on generated data with real data's defects, plus its fixtures:
//! nothing lost, every dialog valid against the real Dialogporten contract, and versions
//! applied in any order converge on the same dialogs.

#[path = "common.rs"]
mod common;
/// The Maskinporten client every source and the sink get their tokens from.
mod maskinporten;
/// The altinn-storage connector against Storage's own instance query.
mod storage;
/// The altinn-correspondence connector against Correspondence's capped list.
mod correspondence;
/// Altinn Events: subscriptions and their deliveries into a running host.
mod events;
/// One message in Altinn 2 and 3: one dialog.
mod one_message;

use common::{Env, counts, shared_altinn};
use serde_json::Value;
use std::path::Path;

fn generate(env: &Env, source: &str, count: usize, seed: u64, bad_ratio: f64) -> (std::path::PathBuf, Value) {
    let out = env.dir.path().join("generated");
    let report = env.ok(&["generate", "--source", source, "--count", &count.to_string(), "--seed", &seed.to_string(), "--bad-ratio", &bad_ratio.to_string(), "--out", out.to_str().unwrap()]);
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    if report["parties"].as_u64().unwrap() > 0 {
        env.ok(&["parties", "import", report["parties_file"].as_str().unwrap()]);
    }
    (out, report)
}

#[test]
fn generated_data_and_fixtures_of_every_source_migrate_and_validate() {
    let schema = shared_altinn("generated_data_…: contract validation").map(|a| common::create_dialog_schema(&a));
    for source in dialogsync::config::KNOWN_SOURCES.iter().map(|k| k.name) {
        let env = Env::for_source(source, source, "");
        let (input, report) = generate(&env, source, 10_000, 11, 0.02);
        let s = env.backfill(&input);
        assert_eq!(s["fetched"], 10_000, "{source}: {s}");
        assert_eq!(s["dead"], report["malformed"], "{source}: only the malformed records die: {s}");
        assert_eq!(s["waiting"], 0, "{source}: the generated register covers every party id: {s}");
        assert!(s["migrated"].as_u64().unwrap() > 7_000, "{source}: {s}");
        if report["out_of_order"].as_u64().unwrap() > 0 {
            assert!(s["unchanged"].as_u64().unwrap() > 0, "{source}: older versions after newer ones change nothing: {s}");
        }

        // The component's own fixtures, as a source folder of their own.
        let fixtures = common::root().join("components").join(source).join("fixtures");
        let folder = env.dir.path().join("fixtures");
        std::fs::create_dir(&folder).unwrap();
        let mut errors = 0;
        for e in std::fs::read_dir(&fixtures).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".input.json") {
                std::fs::copy(&p, folder.join(&name)).unwrap();
            }
            errors += name.ends_with(".error.txt") as u64;
            if name == "parties.csv" {
                env.ok(&["parties", "import", p.to_str().unwrap()]);
            }
        }
        let f = env.backfill(&folder);
        assert_eq!((f["dead"].as_u64().unwrap(), f["waiting"].as_u64().unwrap()), (errors, 0), "{source} fixtures: {f}");

        let dialogs = env.dialogs();
        assert!(dialogs.len() > 7_000);
        if let Some(schema) = &schema {
            for d in &dialogs {
                let errs: Vec<String> = schema.iter_errors(d).map(|e| format!("{e} at {}", e.instance_path())).collect();
                assert!(errs.is_empty(), "{source}: dialog {} breaks CreateDialog: {errs:?}", d["id"]);
            }
        }
    }
}

/// The lines of a generated file, the well-formed ones, ordered by their version.
fn by_version(file: &Path, field: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            Some((v.get(field)?.as_str()?.to_string(), l.to_string()))
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn versions_applied_in_any_order_end_in_the_same_dialogs() {
    for source in ["a2-correspondence", "a3-correspondence", "a3-app-instances"] {
        let forward = Env::for_source(source, source, "batch_size = 64\ncommit_records = 64");
        let (input, report) = generate(&forward, source, 3_000, 5, 0.0);
        assert!(report["out_of_order"].as_u64().unwrap() > 100, "{report}");
        let lines = by_version(&input.join(format!("{source}.ndjson")), "lastChanged");
        let write = |env: &Env, name: &str, lines: Vec<&String>| {
            let dir = env.dir.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("r.ndjson"), lines.into_iter().cloned().collect::<Vec<_>>().join("\n")).unwrap();
            dir
        };
        let oldest_first = write(&forward, "oldest-first", lines.iter().map(|(_, l)| l).collect());
        forward.backfill(&oldest_first);

        let backward = Env::for_source(source, source, "batch_size = 64\ncommit_records = 64");
        if report["parties"].as_u64().unwrap() > 0 {
            backward.ok(&["parties", "import", report["parties_file"].as_str().unwrap()]);
        }
        let newest_first = write(&backward, "newest-first", lines.iter().rev().map(|(_, l)| l).collect());
        let s = backward.backfill(&newest_first);
        assert_eq!(counts(&s)[4..], [0, 0]);

        let (a, b) = (forward.dialogs(), backward.dialogs());
        assert!(a.len() > 1_000);
        assert_eq!(a.len(), b.len(), "{source}");
        let key = |ds: &[Value]| {
            let mut v: Vec<String> = ds.iter().map(Value::to_string).collect();
            v.sort();
            v
        };
        assert!(key(&a) == key(&b), "{source}: the same dialogs whatever the order");
    }
}

#[test]
fn later_versions_change_state_and_keep_earlier_activities() {
    let env = Env::for_source("a2-correspondence", "a2-correspondence", "");
    let base = serde_json::json!({
        "correspondenceId": 777, "reporteeElementId": 888, "serviceCode": "4503", "serviceEditionCode": 2,
        "reportee": { "ssn": "01044091042" }, "sender": { "serviceOwnerCode": "skd" }, "title": "Vedtak",
        "createdDate": "2024-10-27T02:30:00", "confirmationNeeded": true, "lastChanged": "2024-10-27T02:30:00",
    });
    let with = |events: Value, changed: &str| {
        let mut v = base.clone();
        v["statusEvents"] = events;
        v["lastChanged"] = changed.into();
        v
    };
    let read = serde_json::json!([{ "status": "Read", "time": "2024-10-28T08:00:00" }]);
    let confirmed_archived = serde_json::json!([
        { "status": "Read", "time": "2024-10-28T08:00:00" },
        { "status": "Confirmed", "time": "2024-10-28T08:01:00" },
        { "status": "Archived", "time": "2024-10-29T00:30:00" }
    ]);
    let deleted = serde_json::json!([
        { "status": "Read", "time": "2024-10-28T08:00:00" },
        { "status": "Confirmed", "time": "2024-10-28T08:01:00" },
        { "status": "Archived", "time": "2024-10-29T00:30:00" },
        { "status": "Deleted", "time": "2024-11-01T10:00:00" }
    ]);
    let step = |name: &str, v: Value| {
        let dir = env.dir.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("r.json"), v.to_string()).unwrap();
        let s = env.backfill(&dir);
        assert_eq!(s["migrated"], 1, "{name}: {s}");
        let d = env.dialogs().remove(0);
        let activities: Vec<(String, String)> = d["activities"].as_array().unwrap().iter().map(|a| (a["id"].as_str().unwrap().into(), a["type"].as_str().unwrap().into())).collect();
        (d["status"].as_str().unwrap().to_string(), d["systemLabel"].as_str().unwrap().to_string(), activities)
    };
    let (s1, l1, a1) = step("v1", base.clone());
    assert_eq!((s1.as_str(), l1.as_str()), ("RequiresAttention", "Default"));
    let (s2, _, a2) = step("v2", with(read, "2024-10-28T08:00:00"));
    assert_eq!(s2, "RequiresAttention");
    let (s3, l3, a3) = step("v3", with(confirmed_archived, "2024-10-29T00:30:00"));
    assert_eq!((s3.as_str(), l3.as_str()), ("NotApplicable", "Archive"));
    let (_, l4, a4) = step("v4", with(deleted, "2024-11-01T10:00:00"));
    assert_eq!(l4, "Bin");
    // Each version keeps every earlier activity, with the same id, and adds its own.
    for (earlier, later) in [(&a1, &a2), (&a2, &a3), (&a3, &a4)] {
        assert!(earlier.iter().all(|a| later.contains(a)), "{earlier:?} not kept in {later:?}");
        assert!(later.len() > earlier.len());
    }
    // Found by either legacy reference, and by nothing else.
    for label in ["urn:altinn:a2:correspondence-id:777", "URN:ALTINN:A2:REPORTEE-ELEMENT-ID:888"] {
        assert_eq!(env.ok(&["dialogs", "search", "--label", label]).lines().count(), 1, "{label}");
    }
    assert_eq!(env.ok(&["dialogs", "search", "--label", "urn:altinn:a2:correspondence-id:77"]).lines().count(), 0);
    let types: Vec<&str> = a4.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(types, ["DialogCreated", "CorrespondenceOpened", "CorrespondenceConfirmed", "DialogDeleted"]);
}
