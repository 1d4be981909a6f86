//! The Spin deployment, proven without the Spin CLI (it is not in the package registries):
//! the tick components composed with their transformer and the projector import only what
//! Spin provides, and a composed tick run under wasmtime with those interfaces migrates a page
//! exactly as the host does.

mod common;

use std::collections::BTreeSet;

const SOURCES: [&str; 4] = ["a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence"];

/// The interfaces Spin provides to a component: the imports of the `platform` world in the
/// WIT that ships inside the spin-sdk crate (`scripts/test.sh` fetches it into the cargo
/// registry), or None, said plainly.
fn spin_provides(test: &str) -> Option<BTreeSet<String>> {
    let home = std::env::var("CARGO_HOME").map(std::path::PathBuf::from).unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let wit = std::fs::read_dir(home.join("registry/src")).ok()?.flatten().map(|d| d.path().join("spin-sdk-5.2.0/wit")).find(|p| p.is_dir());
    let Some(wit) = wit else {
        eprintln!("SKIPPED {test}: spin-sdk 5.2.0 is not in the cargo registry (cargo fetch --manifest-path tests/spin-sdk/Cargo.toml; scripts/test.sh does)");
        return None;
    };
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(&wit).unwrap_or_else(|e| panic!("{}: {e:#}", wit.display()));
    let world = resolve.select_world(&[pkg], Some("platform")).expect("spin-sdk's platform world");
    Some(resolve.worlds[world].imports.keys().map(|k| resolve.name_world_key(k)).collect())
}

/// What the cron trigger gives the component it calls: the imports of its world (its types).
fn cron_trigger_provides() -> BTreeSet<String> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(common::root().join("components/spin-tick/wit/deps/spin-cron@2.0.0")).unwrap();
    let world = resolve.select_world(&[pkg], Some("spin-cron")).unwrap();
    resolve.worlds[world].imports.keys().map(|k| resolve.name_world_key(k)).collect()
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(common::component(name)).unwrap()
}

#[test]
fn composed_tick_components_import_only_what_spin_provides() {
    let Some(provided) = spin_provides("composed_tick_components_import_only_what_spin_provides") else { return };
    assert!(provided.contains("fermyon:spin/sqlite@2.0.0") && provided.contains("wasi:http/outgoing-handler@0.2.0"), "{provided:?}");
    let trigger = cron_trigger_provides();
    let tick = read("spin-tick");
    let projector = read("dialog-projector");

    // Uncomposed, the tick imports the pipeline: Spin's component dependencies satisfy it.
    let bare = xtask::surface(&tick).unwrap();
    let pipeline: Vec<&str> = bare.imports.iter().map(|(i, _)| i.as_str()).filter(|i| i.starts_with("dialogsync:pipeline/")).collect();
    assert!(pipeline.contains(&"dialogsync:pipeline/transformer@0.1.0") && pipeline.contains(&"dialogsync:pipeline/projector@0.1.0"), "{pipeline:?}");

    for source in SOURCES {
        let composed = xtask::compose_tick(&tick, &read(source), &projector, &common::root().join("wit")).unwrap_or_else(|e| panic!("{source}: {e:#}"));
        let s = xtask::surface(&composed).unwrap();
        let imports: Vec<&str> = s.imports.iter().map(|(i, _)| i.as_str()).collect();
        assert!(!imports.iter().any(|i| i.starts_with("dialogsync:pipeline")), "{source}: the pipeline is composed in, yet imported: {imports:?}");
        for i in &imports {
            // The cron trigger's own types (`metadata`, `error`) come with the trigger.
            assert!(provided.contains(*i) || trigger.contains(*i), "{source}: imports {i}, which neither Spin nor its cron trigger provides");
        }
        assert_eq!(s.exports, ["handle-cron-event"], "{source}");
        eprintln!("{source}: composed tick imports {imports:?}");
        // What the build wrote for SpinKube is this same composition.
        assert_eq!(composed, std::fs::read(common::root().join(format!("target/components/composed/tick-{source}.wasm"))).unwrap(), "{source}");
    }
}
