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

/// Spin's interfaces, as the test provides them to a tick component under wasmtime.
mod spin_host {
    wasmtime::component::bindgen!({
        inline: "
            package dialogsync:spin-test;
            world spin-host {
                import fermyon:spin/sqlite@2.0.0;
                import fermyon:spin/postgres@2.0.0;
                import fermyon:spin/variables@2.0.0;
                include fermyon:spin-cron/spin-cron@2.0.0;
            }
        ",
        path: ["../wit", "../components/spin-tick/wit"],
        world: "dialogsync:spin-test/spin-host",
        with: {
            "fermyon:spin/sqlite.connection": super::SqliteConnection,
            "fermyon:spin/postgres.connection": super::PgConnection,
        },
    });
}

use dialogsync::store::{Connection, Store};
use dialogsync_core::db::{Db, Param, Statement, Value as DbValue};
use spin_host::fermyon::spin::{postgres, rdbms_types, sqlite, variables};
use std::collections::BTreeMap;
use wasmtime::component::{Component, Linker, Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// A connection of Spin's SQLite: here one connection of the project's own store.
pub struct SqliteConnection(Connection);
/// Spin's PostgreSQL is not served in this test.
pub struct PgConnection;

/// What a tick component sees of Spin.
struct SpinHost {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    rt: std::sync::Arc<tokio::runtime::Runtime>,
    store: Store,
    variables: BTreeMap<String, String>,
}

impl WasiView for SpinHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for SpinHost {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}

impl sqlite::Host for SpinHost {}

impl sqlite::HostConnection for SpinHost {
    fn open(&mut self, database: String) -> Result<Resource<SqliteConnection>, sqlite::Error> {
        if database != "default" {
            return Err(sqlite::Error::NoSuchDatabase);
        }
        let conn = self.rt.block_on(self.store.connection()).map_err(|e| sqlite::Error::Io(e.to_string()))?;
        self.table.push(SqliteConnection(conn)).map_err(|e| sqlite::Error::Io(e.to_string()))
    }

    fn execute(&mut self, conn: Resource<SqliteConnection>, statement: String, parameters: Vec<sqlite::Value>) -> Result<sqlite::QueryResult, sqlite::Error> {
        let params = parameters
            .into_iter()
            .map(|v| match v {
                sqlite::Value::Integer(i) => Param::Int(Some(i)),
                sqlite::Value::Text(t) => Param::Text(Some(t)),
                sqlite::Value::Blob(b) => Param::Blob(Some(b)),
                sqlite::Value::Null => Param::Text(None),
                sqlite::Value::Real(r) => Param::Text(Some(r.to_string())),
            })
            .collect();
        let rt = self.rt.clone();
        let SqliteConnection(c) = self.table.get_mut(&conn).map_err(|_| sqlite::Error::InvalidConnection)?;
        let rows = rt.block_on(c.query(Statement { sql: statement, params, reuse: true })).map_err(|e| sqlite::Error::Io(e.to_string()))?;
        let rows = rows
            .into_iter()
            .map(|r| sqlite::RowResult {
                values: r
                    .0
                    .into_iter()
                    .map(|v| match v {
                        DbValue::Null => sqlite::Value::Null,
                        DbValue::Int(i) => sqlite::Value::Integer(i),
                        DbValue::Real(f) => sqlite::Value::Real(f),
                        DbValue::Text(t) => sqlite::Value::Text(t),
                        DbValue::Blob(b) => sqlite::Value::Blob(b),
                    })
                    .collect(),
            })
            .collect();
        // Column names are not read by the tick (it reads by position).
        Ok(sqlite::QueryResult { columns: Vec::new(), rows })
    }

    fn drop(&mut self, conn: Resource<SqliteConnection>) -> wasmtime::Result<()> {
        self.table.delete(conn)?;
        Ok(())
    }
}

impl rdbms_types::Host for SpinHost {}
impl spin_host::fermyon::spin_cron::cron_types::Host for SpinHost {}
impl postgres::Host for SpinHost {}

impl postgres::HostConnection for SpinHost {
    fn open(&mut self, _address: String) -> Result<Resource<PgConnection>, rdbms_types::Error> {
        Err(rdbms_types::Error::ConnectionFailed("this test serves only Spin's SQLite".into()))
    }
    fn query(&mut self, _c: Resource<PgConnection>, _s: String, _p: Vec<rdbms_types::ParameterValue>) -> Result<rdbms_types::RowSet, rdbms_types::Error> {
        Err(rdbms_types::Error::ConnectionFailed("no PostgreSQL here".into()))
    }
    fn execute(&mut self, _c: Resource<PgConnection>, _s: String, _p: Vec<rdbms_types::ParameterValue>) -> Result<u64, rdbms_types::Error> {
        Err(rdbms_types::Error::ConnectionFailed("no PostgreSQL here".into()))
    }
    fn drop(&mut self, c: Resource<PgConnection>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

impl variables::Host for SpinHost {
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        self.variables.get(&name).cloned().ok_or(variables::Error::Undefined(name))
    }
}

/// A wall clock stopped at one instant: the tick's "now" is the host's `DIALOGSYNC_NOW`.
struct Stopped(std::time::Duration);

impl wasmtime_wasi::HostWallClock for Stopped {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_micros(1)
    }
    fn now(&self) -> std::time::Duration {
        self.0
    }
}

/// One cron event of `component` with `variables`, the store `store` as Spin's SQLite.
fn cron_event(component: &std::path::Path, store: &Store, rt: &std::sync::Arc<tokio::runtime::Runtime>, variables: BTreeMap<String, String>, now: std::time::Duration) -> Result<(), String> {
    // The store's connections go back to their pool inside the runtime that made them.
    let _runtime = rt.enter();
    let engine = wasmtime::Engine::default();
    let component = Component::from_file(&engine, component).unwrap();
    let mut linker: Linker<SpinHost> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker).unwrap();
    spin_host::SpinHost::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |h| h).unwrap();
    let wasi = wasmtime_wasi::WasiCtxBuilder::new().wall_clock(Stopped(now)).build();
    let host = SpinHost { table: ResourceTable::new(), wasi, http: WasiHttpCtx::new(), rt: rt.clone(), store: store.clone(), variables };
    let mut s = wasmtime::Store::new(&engine, host);
    let tick = spin_host::SpinHost::instantiate(&mut s, &component, &linker).unwrap();
    let metadata = spin_host::fermyon::spin_cron::cron_types::Metadata { timestamp: now.as_secs() };
    tick.call_handle_cron_event(&mut s, metadata).unwrap().map_err(|spin_host::fermyon::spin_cron::cron_types::Error::Other(e)| e)
}

/// The host's dialogs after `run --once` of `source` at `now`, and the store after one cron
/// event of the composed tick component at the same `now` and on the same simulator.
fn host_and_one_event(sim: &common::Sim, source: &str, back_to: &str, now: &str, window_days: u32) -> (BTreeMap<String, serde_json::Value>, Store, std::sync::Arc<tokio::runtime::Runtime>, tempfile::TempDir) {
    use common::{component, run_env};
    let work = tempfile::tempdir().unwrap();
    let parties = sim.parties(work.path());

    let env = run_env(sim, &[(source, component(source))], back_to, "", &format!("rate_limit = 1000\nwindow_days = {window_days}"));
    env.ok(&["parties", "import", parties.to_str().unwrap()]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync"))
        .args(["--config", env.config.to_str().unwrap(), "run", "--once"])
        .env("DIALOGSYNC_NOW", now)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let host: BTreeMap<String, serde_json::Value> = env.dialogs().into_iter().map(|d| (d["id"].as_str().unwrap().to_string(), d)).collect();
    assert!(host.len() > 10, "the host migrated the history: {}", host.len());

    // The tick: the composed component, Spin's SQLite served by the project's own store code,
    // outbound HTTP to the simulator, its configuration as Spin variables, the clock at `now`.
    // The database starts empty: the tick migrates it, as sqlx would.
    let rt = std::sync::Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap());
    let url = format!("sqlite://{}", work.path().join("spin.db").display());
    let store = rt.block_on(Store::open_unmigrated(&url)).unwrap();
    let variables: BTreeMap<String, String> = [
        ("source", source.to_string()),
        ("source_url", format!("{}/{source}", sim.url)),
        ("back_to", back_to.to_string()),
        ("window_days", window_days.to_string()),
        ("page_size", "5".into()),
        ("max_pages", "1".into()),
        ("budget_ms", "600000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let at = std::time::Duration::from_secs(chrono::DateTime::parse_from_rfc3339(now).unwrap().timestamp() as u64);
    let composed = common::root().join(format!("target/components/composed/tick-{source}.wasm"));
    // A first event while the source is down: the schema is made and the failed tick recorded.
    let mut first = variables.clone();
    first.insert("source_url".into(), format!("http://127.0.0.1:9/{source}"));
    let failed = cron_event(&composed, &store, &rt, first, at).expect_err("the source is down");
    assert!(failed.contains("GET http://127.0.0.1:9/"), "the error names the request: {failed}");
    // The host's own migrator accepts what the tick made (sqlx compares every checksum).
    let store = rt.block_on(Store::open(&url)).expect("the store opens the tick's database as migrated");
    let register = dialogsync::parties::parse("parties.csv", &std::fs::read_to_string(&parties).unwrap()).unwrap();
    rt.block_on(store.import_parties(&register)).unwrap();
    cron_event(&composed, &store, &rt, variables, at).expect("the cron event succeeds");
    (host, store, rt, work)
}

/// The tick's dialogs (id → document) equal the host's dialogs of those ids, and there are `n`.
fn same_dialogs(store: &Store, rt: &tokio::runtime::Runtime, host: &BTreeMap<String, serde_json::Value>, n: i64) {
    let rows = rt.block_on(store.db().query(Statement::new("SELECT id, document FROM dialogs"))).unwrap();
    let tick: BTreeMap<String, serde_json::Value> = rows.iter().map(|r| (r.text(0), serde_json::from_str(&r.text(1)).unwrap())).collect();
    assert_eq!(tick.len() as i64, n, "every migrated record of the page is a dialog");
    assert!(!tick.is_empty());
    for (id, doc) in &tick {
        let host_doc = host.get(id).unwrap_or_else(|| panic!("the host has no dialog {id}"));
        assert_eq!(doc, host_doc, "dialog {id}");
    }
}

#[test]
fn one_cron_event_migrates_a_page_exactly_as_the_host_does() {
    let source = "a3-app-instances";
    let back_to = "2026-11-07";
    let sim = common::Sim::start(21, &["--days", "3", "--per-day", "12", "--today", "2026-11-10"], &[]);
    let rows = |store: &Store, rt: &tokio::runtime::Runtime, sql: &str| rt.block_on(store.db().query(Statement::new(sql))).unwrap();

    // Live: at the start of 10.11 the simulator's records change during the day, so the event
    // takes one page of changes (of five) and leaves the rest to the next event.
    let (host, store, rt, _work) = host_and_one_event(&sim, source, back_to, "2026-11-10T00:00:01Z", 1);
    let staged = rows(&store, &rt, "SELECT origin, outcome FROM raw_records");
    assert_eq!(staged.len(), 5, "one page of five: {staged:?}");
    assert!(staged.iter().all(|r| r.text(0).contains("changedSince=")), "a live page: {staged:?}");
    let cursor = rows(&store, &rt, "SELECT value FROM checkpoints WHERE name = 'live'");
    assert_eq!(cursor.len(), 1, "the cursor is committed with the page");
    assert!(rows(&store, &rt, "SELECT * FROM windows").is_empty(), "live pages were left: no history this event");
    let migrated = staged.iter().filter(|r| r.text(1) == "migrated").count() as i64;
    same_dialogs(&store, &rt, &host, migrated);

    // History: two days later nothing changes any more; the live tick finds nothing, and the
    // event works one page of the newest window.
    let (host, store, rt, _work) = host_and_one_event(&sim, source, back_to, "2026-11-12T00:00:00Z", 10);
    let windows = rows(&store, &rt, "SELECT first_day, state, pages, fetched, migrated, next_url FROM windows");
    assert_eq!(windows.len(), 1, "{windows:?}");
    let w = &windows[0];
    assert_eq!((w.text(0).as_str(), w.text(1).as_str(), w.int(2), w.int(3)), (back_to, "running", 1, 5), "one page of five: {w:?}");
    assert!(w.opt_text(5).is_some_and(|u| u.contains("/a3-app-instances")), "the window's next page is kept for the next event: {w:?}");
    assert_eq!(rows(&store, &rt, "SELECT COUNT(*) FROM raw_records")[0].int(0), 5);
    same_dialogs(&store, &rt, &host, w.int(4));
    let hosts = rows(&store, &rt, "SELECT id FROM hosts");
    assert_eq!(hosts.iter().map(|r| r.text(0)).collect::<Vec<_>>(), ["spin-a3-app-instances"], "the tick is a host of the store");
    let state = rows(&store, &rt, "SELECT state, failures, last_error FROM source_state");
    assert_eq!((state[0].text(0).as_str(), state[0].int(1), state[0].opt_text(2)), ("running", 0, None), "{state:?}");
}

#[test]
fn spin_toml_ticks_every_source_every_five_minutes_with_the_built_files() {
    let root = common::root();
    let manifest: toml::Value = toml::from_str(&std::fs::read_to_string(root.join("spin.toml")).unwrap()).unwrap();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let declared: BTreeSet<&str> = manifest["variables"].as_table().unwrap().keys().map(String::as_str).collect();
    let templates = |text: &str| -> Vec<String> { text.split("{{").skip(1).filter_map(|t| t.split_once("}}")).map(|(v, _)| v.trim().to_string()).collect() };
    let crons = manifest["trigger"]["cron"].as_array().unwrap();
    for source in SOURCES {
        let id = format!("tick-{source}");
        let cron = crons.iter().find(|c| c["component"].as_str() == Some(&id)).unwrap_or_else(|| panic!("no cron trigger for {id}"));
        assert_eq!(cron["cron_expression"].as_str(), Some("0 */5 * * * *"), "{id}: every 5 minutes (seconds first)");
        let c = &manifest["component"][&id];
        assert_eq!(c["source"].as_str(), Some("target/components/spin-tick.wasm"));
        assert!(root.join(c["source"].as_str().unwrap()).exists());
        assert_eq!(c["sqlite_databases"].as_array().unwrap()[0].as_str(), Some("default"));
        assert_eq!(c["build"]["command"].as_str(), Some("scripts/build-components.sh"));
        assert!(c.get("dependencies_inherit_configuration").is_none(), "{id}: dependencies stay deny-all");
        let deps = c["dependencies"].as_table().unwrap();
        let dep = |interface: &str| deps[interface]["path"].as_str().unwrap().to_string();
        assert_eq!(dep("dialogsync:pipeline/transformer@0.1.0"), format!("target/components/{source}.wasm"));
        assert_eq!(dep("dialogsync:pipeline/projector@0.1.0"), "target/components/dialog-projector.wasm");
        assert!(deps.values().all(|d| root.join(d["path"].as_str().unwrap()).exists()));
        let vars = c["variables"].as_table().unwrap();
        assert_eq!(vars["source"].as_str(), Some(source));
        let mut used: Vec<String> = vars.values().flat_map(|v| templates(v.as_str().unwrap())).collect();
        used.extend(c["allowed_outbound_hosts"].as_array().unwrap().iter().flat_map(|h| templates(h.as_str().unwrap())));
        for v in used {
            assert!(declared.contains(v.as_str()), "{id} uses the undeclared variable {v}");
        }
    }
}
