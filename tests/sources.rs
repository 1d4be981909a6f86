//! Every source end to end on generated data with real data's defects, plus its fixtures:
//! nothing lost, every dialog valid against the real Dialogporten contract, and versions
//! applied in any order converge on the same dialogs.

#[path = "common.rs"]
mod common;

use common::{Env, counts, shared_altinn};
use serde_json::Value;
use std::path::Path;

fn generate(env: &Env, source: &str, count: usize, seed: u64, bad_ratio: f64) -> (std::path::PathBuf, Value) {
    let out = env.dir.path().join("generated");
    let report = env.ok(&["generate", "--source", source, "--count", &count.to_string(), "--seed", &seed.to_string(), "--bad-ratio", &bad_ratio.to_string(), "--out", out.to_str().unwrap()]);
    let report: Value = serde_json::from_str(report.trim()).unwrap();
    env.ok(&["parties", "import", report["parties_file"].as_str().unwrap()]);
    (out, report)
}

#[test]
fn generated_data_and_fixtures_of_every_source_migrate_and_validate() {
    let schema = shared_altinn("generated_data_…: contract validation").map(|a| common::create_dialog_schema(&a));
    for (source, ..) in dialogsync::config::KNOWN_SOURCES {
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
        let forward = Env::for_source(source, source, "batch_size = 64");
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

        let backward = Env::for_source(source, source, "batch_size = 64");
        backward.ok(&["parties", "import", report["parties_file"].as_str().unwrap()]);
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
