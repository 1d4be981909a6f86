//! Golden fixtures for a transformer (Fluvio `smdk test` style): each `<case>.input.json` in a
//! folder is one raw record; `<case>.expected.json` is what must come out of the built
//! transformer and projector — the element (or skip) and the dialog — or `<case>.error.txt` the
//! per-record error. `fixtures/parties.csv` resolves party ids. Run through the same runtime
//! the host uses; `dialogsync component test` and `tests/golden.rs` both call [`run`].

use crate::runtime::bindings::types::{Party, ProjectionContext, SourceRecord, SyncMode, Transformed};
use crate::runtime::{Projector, Runtime, Transformer};
use crate::sources::RecordKeys;
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Fixed "now" so expectations don't age: 2026-01-01T00:00:00Z.
pub const NOW: i64 = 1_767_225_600_000_000;

/// One case's verdict; `diff` is a unified diff (expected → actual) when it failed.
pub struct Case {
    pub name: String,
    pub diff: Option<String>,
}

/// Runs every case in `dir`. With `update`, writes the actual outputs as the expectations.
pub fn run(runtime: &Runtime, transformer: &Transformer, projector: &Projector, keys: &RecordKeys, dir: &Path, update: bool) -> Result<Vec<Case>> {
    let parties: HashMap<String, String> = match std::fs::read_to_string(dir.join("parties.csv")) {
        Ok(text) => crate::parties::parse("parties.csv", &text)?.into_iter().collect(),
        Err(_) => HashMap::new(),
    };
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading fixtures {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    inputs.retain(|p| p.to_string_lossy().ends_with(".input.json"));
    inputs.sort();
    let mut cases = Vec::new();
    for input in inputs {
        let name = input.file_name().unwrap().to_string_lossy().trim_end_matches(".input.json").to_string();
        let (actual, is_error) = output(runtime, transformer, projector, keys, &parties, &input)?;
        let (json_path, error_path) = (dir.join(format!("{name}.expected.json")), dir.join(format!("{name}.error.txt")));
        let (path, stale) = if is_error { (error_path, json_path) } else { (json_path, error_path) };
        if update {
            std::fs::write(&path, &actual)?;
            let _ = std::fs::remove_file(stale);
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        let diff = (expected.trim() != actual.trim()).then(|| {
            similar::TextDiff::from_lines(expected.as_str(), actual.as_str())
                .unified_diff()
                .header(&path.display().to_string(), "actual")
                .to_string()
        });
        cases.push(Case { name, diff });
    }
    Ok(cases)
}

/// The actual output of one case, as text, and whether it is an error.
fn output(runtime: &Runtime, transformer: &Transformer, projector: &Projector, keys: &RecordKeys, parties: &HashMap<String, String>, input: &Path) -> Result<(String, bool)> {
    let raw = match keys.record(std::fs::read(input)?, input.display().to_string()) {
        Ok(r) => r,
        Err(f) => return Ok((format!("{}\n", f.error), true)),
    };
    let record = SourceRecord { source_id: raw.source_id, source_version: raw.version, payload: raw.payload, content_type: raw.content_type };
    let value = match runtime.transform(transformer, &[record]).remove(0) {
        Err(e) => return Ok((format!("{e}\n"), true)),
        Ok(Transformed::Skip(skip)) => json!({ "skip": skip }),
        Ok(Transformed::Element(mut element)) => {
            let as_json = serde_json::to_value(&element)?;
            if let Party::PartyId(id) = &element.party {
                let urn = parties.get(id).with_context(|| format!("{}: party {id} is not in parties.csv", input.display()))?;
                element.party = Party::Urn(urn.clone());
            }
            let ctx = ProjectionContext { now: NOW, mode: SyncMode::Historic };
            match runtime.project(projector, ctx, &[element]).remove(0) {
                Ok(d) => json!({ "element": as_json, "dialog": serde_json::from_str::<Value>(&d.document)? }),
                Err(e) => return Ok((format!("projector: {e}\n"), true)),
            }
        }
    };
    Ok((serde_json::to_string_pretty(&value)? + "\n", false))
}
