//! Hostile guests (tests/guests/hostile): a panicking, an endless and a memory-hungry record in
//! one batch. Each costs only itself: a named dead letter; its neighbours migrate; the host
//! carries on; once a fixed component is in place, `dead-letters retry` migrates them.

#[path = "common.rs"]
mod common;

use common::{Env, counts, instance};

#[test]
fn panicking_looping_and_memory_hungry_records_cost_only_themselves() {
    let env = Env::new("hostile", "call_timeout_ms = 300\nmemory_mib = 32\nbatch_size = 16");
    let input = env.dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let mut lines: Vec<String> = (0..10).map(|n| instance(n, &format!("fine {n}")).to_string()).collect();
    lines.insert(2, instance(20, "@@panic@@").to_string());
    lines.insert(6, instance(21, "@@loop@@").to_string());
    lines.insert(9, instance(22, "@@alloc@@").to_string());
    std::fs::write(input.join("batch.ndjson"), lines.join("\n")).unwrap();

    let s = env.backfill(&input);
    assert_eq!(counts(&s), [13, 10, 0, 0, 0, 3], "{s}");
    let dead = env.dead_letters();
    let error_at = |line: usize| {
        let d = dead.iter().find(|d| d["origin"].as_str().unwrap().ends_with(&format!("batch.ndjson:{line}"))).unwrap_or_else(|| panic!("line {line}: {dead:?}"));
        assert_eq!(d["phase"], "transform");
        assert!(d["component"].as_str().unwrap().starts_with("hostile.wasm@"), "names the component: {d}");
        d["error"].as_str().unwrap().to_string()
    };
    assert!(error_at(3).contains("panicked"), "{}", error_at(3));
    assert!(error_at(7).contains("time limit of 300 ms"), "{}", error_at(7));
    assert!(error_at(10).contains("memory limit of 32 MiB"), "{}", error_at(10));
    assert_eq!(dead.len(), 3);
    let titles: Vec<String> = env.dialogs().iter().map(|d| d["content"]["title"]["value"][0]["value"].as_str().unwrap().to_string()).collect();
    assert_eq!(titles.len(), 10);
    assert!(titles.iter().all(|t| t.starts_with("fine ")));

    // Swap in the well-behaved transformer and retry: the three dead letters migrate.
    let config = std::fs::read_to_string(&env.config).unwrap();
    let fixed = config.replace(common::component("hostile").to_str().unwrap(), common::component("a3-app-instances").to_str().unwrap());
    assert_ne!(config, fixed);
    std::fs::write(&env.config, fixed).unwrap();
    let out = env.ok(&["dead-letters", "retry"]);
    assert!(out.contains("fetched 3 · migrated 3"), "{out}");
    assert!(env.dead_letters().is_empty(), "retried letters are resolved");
    assert_eq!(env.dialogs().len(), 13);
}

#[test]
fn a_component_for_the_wrong_world_is_refused_with_its_name() {
    // The projector is not a transformer: loading it as one fails at link time, by name.
    let runtime = dialogsync::runtime::Runtime::new(Default::default(), common::root().join("target/test-component-cache")).unwrap();
    let err = runtime.load_transformer(&common::component("dialog-projector")).err().expect("refused").to_string();
    assert!(err.contains("linking component dialog-projector.wasm"), "{err}");
    let missing = runtime.load_transformer(std::path::Path::new("no/such.wasm")).err().expect("refused").to_string();
    assert!(missing.starts_with("reading component no/such.wasm"), "{missing}");
}

#[test]
fn a_looping_record_costs_two_call_timeouts_not_one_per_halving() {
    use dialogsync::runtime::bindings::types::SourceRecord;
    let limits = dialogsync::runtime::Limits { call_timeout_ms: 200, memory_mib: 32, batch_size: 64, ..Default::default() };
    let runtime = dialogsync::runtime::Runtime::new(limits, common::root().join("target/test-component-cache")).unwrap();
    let t = runtime.load_transformer(&common::component("hostile")).unwrap();
    let mut records: Vec<SourceRecord> = (0..63)
        .map(|n| SourceRecord { source_id: format!("r{n}"), source_version: 1, content_type: "application/json".into(), payload: instance(n, &format!("fine {n}")).to_string().into_bytes() })
        .collect();
    records.insert(40, SourceRecord { source_id: "loop".into(), source_version: 1, content_type: "application/json".into(), payload: instance(99, "@@loop@@").to_string().into_bytes() });
    let out = runtime.transform(&t, &records);
    assert_eq!(out.iter().filter(|r| r.is_ok()).count(), 63, "its neighbours transform");
    assert!(out[40].is_err());
    // Halving 64 records down to the looping one would time out 7 times.
    assert_eq!(runtime.timeouts(), 2, "the batch's timeout and the record's own");
}

#[test]
fn a_file_that_is_not_a_component_is_named_as_such() {
    let runtime = dialogsync::runtime::Runtime::new(Default::default(), common::root().join("target/test-component-cache")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "not wasm at all").unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = runtime.load_transformer(&text).err().expect("refused").to_string();
    assert_eq!(err, format!("{} is not a WebAssembly component: it does not start with WebAssembly's preamble", text.display()));
    let err = runtime.load_transformer(&core).err().expect("refused").to_string();
    assert!(err.starts_with(&format!("{} is not a WebAssembly component: it is a core module", core.display())), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
