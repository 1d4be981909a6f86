//! Golden fixtures (Fluvio `smdk test` style): every `components/<source>/fixtures/<case>.input.json`
//! runs through the built transformer and projector, via the host's own runtime, and must give
//! `<case>.expected.json` exactly: the element (or skip) and the dialog document. Component
//! authors run just this with `cargo test --test golden`; `UPDATE_GOLDEN=1` rewrites the
//! expectations after a deliberate change (review the diff).

#[path = "common.rs"]
mod common;

use dialogsync::runtime::Runtime;
use dialogsync::runtime::bindings::types::{Party, ProjectionContext, SourceRecord, SyncMode, Transformed};
use dialogsync::sources::RecordKeys;
use serde_json::{Value, json};

/// Fixed "now" so expectations don't age: 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000_000;

#[test]
fn fixtures_give_their_expected_elements_and_dialogs() {
    let runtime = Runtime::new(Default::default(), common::root().join("target/test-component-cache")).unwrap();
    let projector = runtime.load_projector(&common::component("dialog-projector")).unwrap();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases = 0;
    for (source, id_field, versions) in dialogsync::config::KNOWN_SOURCES {
        let dir = common::root().join("components").join(source).join("fixtures");
        let transformer = runtime.load_transformer(&common::component(source)).unwrap();
        let parties = match std::fs::read_to_string(dir.join("parties.csv")) {
            Ok(text) => dialogsync::parties::parse("parties.csv", &text).unwrap().into_iter().collect(),
            Err(_) => std::collections::HashMap::new(),
        };
        let keys = RecordKeys { id_field: id_field.to_string(), version_fields: versions.iter().map(|v| v.to_string()).collect() };
        let mut inputs: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().ends_with(".input.json")).collect();
        inputs.sort();
        for input in inputs {
            cases += 1;
            let raw = keys.record(std::fs::read(&input).unwrap(), input.display().to_string()).expect("fixture reads");
            let record = SourceRecord { source_id: raw.source_id, source_version: raw.version, payload: raw.payload, content_type: raw.content_type };
            let actual = match runtime.transform(&transformer, &[record]).remove(0) {
                Err(e) => json!({ "error": e.to_string() }),
                Ok(Transformed::Skip(skip)) => json!({ "skip": skip }),
                Ok(Transformed::Element(mut element)) => {
                    let as_json = serde_json::to_value(&element).unwrap();
                    if let Party::PartyId(id) = &element.party {
                        element.party = Party::Urn(parties.get(id).cloned().unwrap_or_else(|| panic!("{}: party {id} not in fixtures/parties.csv", input.display())));
                    }
                    let ctx = ProjectionContext { now: NOW, mode: SyncMode::Historic };
                    let dialog = match runtime.project(&projector, ctx, &[element]).remove(0) {
                        Ok(d) => serde_json::from_str::<Value>(&d.document).unwrap(),
                        Err(e) => json!({ "error": e.to_string() }),
                    };
                    json!({ "element": as_json, "dialog": dialog })
                }
            };
            let expected_path = input.with_file_name(input.file_name().unwrap().to_string_lossy().replace(".input.json", ".expected.json"));
            if update {
                std::fs::write(&expected_path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
                continue;
            }
            assert!(expected_path.exists(), "{} has no expected output: run with UPDATE_GOLDEN=1 and review it", input.display());
            let expected = common::read_json(&expected_path);
            assert!(actual == expected, "{} differs from {}:\n{}", input.display(), expected_path.display(), serde_json::to_string_pretty(&actual).unwrap());
        }
    }
    assert!(cases >= 4, "only {cases} golden cases found");
}
