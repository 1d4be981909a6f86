//! Golden fixtures of every source transformer (`components/<source>/fixtures`), run against the
//! built `.wasm` files through the host's own runtime (`host/src/fixtures.rs`). After a
//! deliberate change: `UPDATE_GOLDEN=1 cargo test --test golden`, then review the diff.

#[path = "common.rs"]
mod common;

use dialogsync::runtime::Runtime;

#[test]
fn every_source_fixture_gives_its_expected_output() {
    let runtime = Runtime::new(Default::default(), common::root().join("target/test-component-cache")).unwrap();
    let projector = runtime.load_projector(&common::component("dialog-projector")).unwrap();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for source in dialogsync::config::KNOWN_SOURCES.iter().map(|k| k.name) {
        let transformer = runtime.load_transformer(&common::component(source)).unwrap();
        let keys = dialogsync::config::Config::default().source(source).unwrap().keys;
        let dir = common::root().join("components").join(source).join("fixtures");
        let cases = dialogsync::fixtures::run(&runtime, &transformer, &projector, &keys, &dir, update).unwrap();
        assert!(cases.len() >= 3, "{source}: only {} fixtures", cases.len());
        failures.extend(cases.into_iter().filter_map(|c| c.diff.map(|d| format!("{source}/{}:\n{d}", c.name))));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn component_test_command_prints_a_diff_and_fails_on_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::root().join("components/a2-correspondence/fixtures");
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync"))
            .current_dir(common::root())
            .args(["component", "test", common::component("a2-correspondence").to_str().unwrap(), "--fixtures", dir.path().to_str().unwrap()])
            .output()
            .unwrap()
    };
    let ok = run();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("4 passed, 0 failed"));

    let case = dir.path().join("confirmed-dst-spring.expected.json");
    let text = std::fs::read_to_string(&case).unwrap().replace("2024-03-31T01:30:00Z", "2024-03-31T02:30:00Z");
    std::fs::write(&case, text).unwrap();
    let failed = run();
    let out = String::from_utf8_lossy(&failed.stdout);
    assert!(!failed.status.success());
    assert!(out.contains("FAIL confirmed-dst-spring") && out.contains("3 passed, 1 failed"), "{out}");
    assert!(out.lines().any(|l| l.starts_with('-') && l.contains("2024-03-31T02:30:00Z")), "{out}");
    assert!(out.lines().any(|l| l.starts_with('+') && l.contains("2024-03-31T01:30:00Z")), "{out}");
}
