//! The Spin deployment. With the real Spin CLI where one is found (`spin_cli`), and without it
//! (it is not in the package registries):
//! the tick components composed with their transformer and the projector, and the status
//! component, import only what Spin provides; a composed tick run under wasmtime with those
//! interfaces migrates a page exactly as the host does, on a cron event and on a manual tick
//! (`POST /tick/SOURCE`); and the status component serves the host's own status report.

mod common;
/// The same deployment on the real Spin CLI.
mod spin_cli;

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
    let (pkg, _) = resolve.push_dir(common::root().join("components/spin-shell/wit/deps/spin-cron@2.0.0")).unwrap();
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

    // Uncomposed, the tick imports the transformer and the projector by plain names (Spin's
    // component dependencies `transformer` and `projector` satisfy them) and the contract's
    // types, which hold no functions.
    let bare = xtask::surface(&tick).unwrap();
    let pipeline: Vec<&(String, bool)> = bare.imports.iter().filter(|(i, _)| i.starts_with("dialogsync:") || i == "transformer" || i == "projector").collect();
    let expected = [("transformer".to_string(), true), ("projector".to_string(), true), ("dialogsync:pipeline/types@0.1.0".to_string(), false)];
    assert_eq!(pipeline.len(), 3, "{pipeline:?}");
    assert!(expected.iter().all(|e| pipeline.contains(&e)), "{pipeline:?}");

    for source in SOURCES {
        let composed = xtask::compose_tick(&tick, &read(source), &projector, &common::root().join("wit")).unwrap_or_else(|e| panic!("{source}: {e:#}"));
        let s = xtask::surface(&composed).unwrap();
        let imports: Vec<&str> = s.imports.iter().map(|(i, _)| i.as_str()).collect();
        assert!(!imports.iter().any(|i| i.starts_with("dialogsync:pipeline")), "{source}: the pipeline is composed in, yet imported: {imports:?}");
        for i in &imports {
            // The cron trigger's own types (`metadata`, `error`) come with the trigger.
            assert!(provided.contains(*i) || trigger.contains(*i), "{source}: imports {i}, which neither Spin nor its cron trigger provides");
        }
        assert_eq!(s.exports, ["handle-cron-event", HTTP_HANDLER], "{source}: the cron trigger's handler, and the HTTP trigger's (a manual tick)");
        eprintln!("{source}: composed tick imports {imports:?}");
        // What the build wrote for SpinKube is this same composition.
        assert_eq!(composed, std::fs::read(common::root().join(format!("target/components/composed/tick-{source}.wasm"))).unwrap(), "{source}");
    }

    // The status component, on Spin's HTTP trigger: Spin's interfaces, nothing of the pipeline.
    let s = xtask::surface(&read("spin-status")).unwrap();
    assert_eq!(s.exports, [HTTP_HANDLER]);
    let imports: Vec<&str> = s.imports.iter().map(|(i, _)| i.as_str()).collect();
    for i in &imports {
        assert!(provided.contains(*i), "spin-status imports {i}, which Spin does not provide");
    }
    assert!(imports.contains(&"fermyon:spin/sqlite@2.0.0"), "{imports:?}");
    eprintln!("spin-status imports {imports:?}");
}

const HTTP_HANDLER: &str = "wasi:http/incoming-handler@0.2.0";

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
        path: ["../wit", "../components/spin-shell/wit"],
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
/// A connection of Spin's PostgreSQL: one connection of the project's own store, when the
/// tests run on PostgreSQL (`scripts/test.sh`'s second run).
pub struct PgConnection(Connection);

/// What a tick component sees of Spin.
struct SpinHost {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    rt: std::sync::Arc<tokio::runtime::Runtime>,
    store: Store,
    /// The store's address when it is PostgreSQL (served as Spin's PostgreSQL).
    postgres: Option<String>,
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
        assert!(self.postgres.is_none(), "the component's `store` is PostgreSQL, yet it opens Spin's SQLite");
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
        let value = |v| match v {
            DbValue::Null => sqlite::Value::Null,
            DbValue::Int(i) => sqlite::Value::Integer(i),
            DbValue::Real(f) => sqlite::Value::Real(f),
            DbValue::Text(t) => sqlite::Value::Text(t),
            DbValue::Blob(b) => sqlite::Value::Blob(b),
        };
        let rows = rows.into_iter().map(|r| sqlite::RowResult { values: r.0.into_iter().map(value).collect() }).collect();
        // Column names are not read by the components (they read by position).
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

/// A statement of a component on Spin's PostgreSQL, as the store runs it.
fn pg_statement(sql: String, parameters: Vec<rdbms_types::ParameterValue>) -> Result<Statement, rdbms_types::Error> {
    use rdbms_types::ParameterValue as P;
    let params = parameters
        .into_iter()
        .map(|v| match v {
            P::Int64(i) => Ok(Param::Int(Some(i))),
            P::Str(t) => Ok(Param::Text(Some(t))),
            P::Binary(b) => Ok(Param::Blob(Some(b))),
            P::DbNull => Ok(Param::Text(None)),
            other => Err(rdbms_types::Error::ValueConversionFailed(format!("{other:?}: the components bind only int64, str, binary and null"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Statement { sql, params, reuse: true })
}

impl postgres::HostConnection for SpinHost {
    fn open(&mut self, address: String) -> Result<Resource<PgConnection>, rdbms_types::Error> {
        assert_eq!(Some(address.as_str()), self.postgres.as_deref(), "the component opens the PostgreSQL its `store` variable names");
        let conn = self.rt.block_on(self.store.connection()).map_err(|e| rdbms_types::Error::ConnectionFailed(e.to_string()))?;
        self.table.push(PgConnection(conn)).map_err(|e| rdbms_types::Error::Other(e.to_string()))
    }
    fn query(&mut self, c: Resource<PgConnection>, sql: String, params: Vec<rdbms_types::ParameterValue>) -> Result<rdbms_types::RowSet, rdbms_types::Error> {
        use rdbms_types::DbValue as V;
        let statement = pg_statement(sql, params)?;
        let rt = self.rt.clone();
        let PgConnection(conn) = self.table.get_mut(&c).map_err(|e| rdbms_types::Error::Other(e.to_string()))?;
        let rows = rt.block_on(conn.query(statement)).map_err(|e| rdbms_types::Error::QueryFailed(e.to_string()))?;
        let value = |v| match v {
            DbValue::Null => V::DbNull,
            DbValue::Int(i) => V::Int64(i),
            DbValue::Real(f) => V::Floating64(f),
            DbValue::Text(t) => V::Str(t),
            DbValue::Blob(b) => V::Binary(b),
        };
        Ok(rdbms_types::RowSet { columns: Vec::new(), rows: rows.into_iter().map(|r| r.0.into_iter().map(value).collect()).collect() })
    }
    fn execute(&mut self, c: Resource<PgConnection>, sql: String, params: Vec<rdbms_types::ParameterValue>) -> Result<u64, rdbms_types::Error> {
        let statement = pg_statement(sql, params)?;
        let rt = self.rt.clone();
        let PgConnection(conn) = self.table.get_mut(&c).map_err(|e| rdbms_types::Error::Other(e.to_string()))?;
        rt.block_on(conn.execute(statement)).map_err(|e| rdbms_types::Error::QueryFailed(e.to_string()))
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

/// What a component is given: its store (Spin's SQLite, or Spin's PostgreSQL when the tests run
/// on it), its variables, and "now".
struct Spin<'a> {
    store: &'a Store,
    url: &'a str,
    rt: &'a std::sync::Arc<tokio::runtime::Runtime>,
    variables: BTreeMap<String, String>,
    now: std::time::Duration,
}

impl Spin<'_> {
    /// `component` instantiated as Spin would, with the test's interfaces; on the cron trigger
    /// (`cron`) with its types, on the HTTP trigger without (it knows nothing of them). The caller
    /// is inside the tokio runtime (the store's connections go back to their pool inside the
    /// runtime that made them).
    fn instantiate(&self, component: &std::path::Path, cron: bool) -> (wasmtime::Store<SpinHost>, wasmtime::component::Instance) {
        let engine = wasmtime::Engine::default();
        let component = Component::from_file(&engine, component).unwrap();
        let mut linker: Linker<SpinHost> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker).unwrap();
        if cron {
            spin_host::SpinHost::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |h| h).unwrap();
        } else {
            use spin_host::fermyon::spin as spin;
            type Me = wasmtime::component::HasSelf<SpinHost>;
            spin::rdbms_types::add_to_linker::<_, Me>(&mut linker, |h| h).unwrap();
            spin::sqlite::add_to_linker::<_, Me>(&mut linker, |h| h).unwrap();
            spin::postgres::add_to_linker::<_, Me>(&mut linker, |h| h).unwrap();
            spin::variables::add_to_linker::<_, Me>(&mut linker, |h| h).unwrap();
        }
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().wall_clock(Stopped(self.now)).build();
        let mut variables = self.variables.clone();
        let postgres = self.url.starts_with("postgres").then(|| self.url.to_string());
        variables.insert("store".into(), postgres.clone().unwrap_or_else(|| "sqlite".into()));
        let host = SpinHost { table: ResourceTable::new(), wasi, http: WasiHttpCtx::new(), rt: self.rt.clone(), store: self.store.clone(), postgres, variables };
        let mut s = wasmtime::Store::new(&engine, host);
        let instance = linker.instantiate(&mut s, &component).unwrap();
        (s, instance)
    }

    /// One cron event of the tick `component`.
    fn cron_event(&self, component: &std::path::Path) -> Result<(), String> {
        let _runtime = self.rt.enter();
        let (mut s, instance) = self.instantiate(component, true);
        let tick = spin_host::SpinHost::new(&mut s, &instance).unwrap();
        let metadata = spin_host::fermyon::spin_cron::cron_types::Metadata { timestamp: self.now.as_secs() };
        tick.call_handle_cron_event(&mut s, metadata).unwrap().map_err(|spin_host::fermyon::spin_cron::cron_types::Error::Other(e)| e)
    }

    /// One request to `component` on Spin's HTTP trigger: its status and body.
    fn request(&self, component: &std::path::Path, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        use http_body_util::BodyExt;
        let _runtime = self.rt.enter();
        let (mut s, instance) = self.instantiate(component, false);
        let mut request = hyper::Request::builder().method(method).uri(format!("http://127.0.0.1:3000{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
        let request = s.data_mut().http().new_incoming_request(wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http, request).unwrap();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let out = s.data_mut().http().new_response_outparam(sender).unwrap();
        // The body is read as the component writes it.
        let response = self.rt.spawn(async move {
            let response = receiver.await.expect("the component answered").expect("a response, not an error");
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.expect("the whole body").to_bytes();
            (status, String::from_utf8(body.to_vec()).expect("UTF-8"))
        });
        let handler = instance.get_export_index(&mut s, None, HTTP_HANDLER).expect("exports the HTTP handler");
        let handle = instance.get_export_index(&mut s, Some(&handler), "handle").unwrap();
        type Handle = (Resource<wasmtime_wasi_http::p2::types::HostIncomingRequest>, Resource<wasmtime_wasi_http::p2::types::HostResponseOutparam>);
        let handle = instance.get_typed_func::<Handle, ()>(&mut s, &handle).unwrap();
        handle.call(&mut s, (request, out)).unwrap();
        drop(s);
        self.rt.block_on(response).unwrap()
    }
}

/// A scenario: the host's `run --once` of `source` at `now`, and beside it a store of a Spin
/// deployment after one cron event of the composed tick component at the same `now`, on the
/// same simulator.
struct Scenario {
    /// The host's dialogs, id → document.
    host: BTreeMap<String, serde_json::Value>,
    /// The host's configuration.
    env: common::Env,
    /// The deployment's store.
    store: Store,
    url: String,
    rt: std::sync::Arc<tokio::runtime::Runtime>,
    /// The tick components' variables.
    variables: BTreeMap<String, String>,
    now: String,
    _work: tempfile::TempDir,
}

impl Scenario {
    fn spin(&self, variables: BTreeMap<String, String>) -> Spin<'_> {
        let now = std::time::Duration::from_secs(chrono::DateTime::parse_from_rfc3339(&self.now).unwrap().timestamp() as u64);
        Spin { store: &self.store, url: &self.url, rt: &self.rt, variables, now }
    }

    fn rows(&self, sql: &str) -> Vec<dialogsync_core::db::Row> {
        self.rt.block_on(self.store.db().query(Statement::new(sql))).unwrap()
    }
}

fn composed(source: &str) -> std::path::PathBuf {
    common::root().join(format!("target/components/composed/tick-{source}.wasm"))
}

fn host_and_one_event(sim: &common::Sim, source: &str, back_to: &str, now: &str, window_days: u32) -> Scenario {
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

    // The tick: the composed component, Spin's SQLite (or PostgreSQL) served by the project's
    // own store code, outbound HTTP to the simulator, its configuration as Spin variables, the
    // clock at `now`. The database starts empty: the tick migrates it, as sqlx would.
    let rt = std::sync::Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap());
    let url = common::store_url(work.path());
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
    let mut scenario = Scenario { host, env, store, url: url.clone(), rt, variables: variables.clone(), now: now.into(), _work: work };
    // A first event while the source is down: the schema is made and the failed tick recorded.
    let mut first = variables.clone();
    first.insert("source_url".into(), format!("http://127.0.0.1:9/{source}"));
    let failed = scenario.spin(first).cron_event(&composed(source)).expect_err("the source is down");
    assert!(failed.contains("GET http://127.0.0.1:9/"), "the error names the request: {failed}");
    // The host's own migrator accepts what the tick made (sqlx compares every checksum).
    scenario.store = scenario.rt.block_on(Store::open(&url)).expect("the store opens the tick's database as migrated");
    let register = dialogsync::parties::parse("parties.csv", &std::fs::read_to_string(&parties).unwrap()).unwrap();
    scenario.rt.block_on(scenario.store.import_parties(&register)).unwrap();
    scenario.spin(variables).cron_event(&composed(source)).expect("the cron event succeeds");
    scenario
}

/// The tick's dialogs (id → document) equal the host's dialogs of those ids, and there are `n`.
fn same_dialogs(s: &Scenario, n: i64) {
    let (host, rows) = (&s.host, s.rows("SELECT id, document FROM dialogs"));
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

    // Live: at the start of 10.11 the simulator's records change during the day, so the event
    // takes one page of changes (of five) and leaves the rest to the next event.
    let s = host_and_one_event(&sim, source, back_to, "2026-11-10T00:00:01Z", 1);
    let staged = s.rows("SELECT origin, outcome FROM raw_records");
    assert_eq!(staged.len(), 5, "one page of five: {staged:?}");
    assert!(staged.iter().all(|r| r.text(0).contains("changedSince=")), "a live page: {staged:?}");
    let cursor = s.rows("SELECT value FROM checkpoints WHERE name = 'live'");
    assert_eq!(cursor.len(), 1, "the cursor is committed with the page");
    assert!(s.rows("SELECT * FROM windows").is_empty(), "live pages were left: no history this event");
    let migrated = staged.iter().filter(|r| r.text(1) == "migrated").count() as i64;
    same_dialogs(&s, migrated);

    // History: two days later nothing changes any more; the live tick finds nothing, and the
    // event works one page of the newest window.
    let s = host_and_one_event(&sim, source, back_to, "2026-11-12T00:00:00Z", 10);
    let windows = s.rows("SELECT first_day, state, pages, fetched, migrated, next_url FROM windows");
    assert_eq!(windows.len(), 1, "{windows:?}");
    let w = &windows[0];
    assert_eq!((w.text(0).as_str(), w.text(1).as_str(), w.int(2), w.int(3)), (back_to, "running", 1, 5), "one page of five: {w:?}");
    assert!(w.opt_text(5).is_some_and(|u| u.contains("/a3-app-instances")), "the window's next page is kept for the next event: {w:?}");
    assert_eq!(s.rows("SELECT COUNT(*) FROM raw_records")[0].int(0), 5);
    same_dialogs(&s, w.int(4));
    let hosts = s.rows("SELECT id FROM hosts");
    assert_eq!(hosts.iter().map(|r| r.text(0)).collect::<Vec<_>>(), ["spin-a3-app-instances"], "the tick is a host of the store");
    assert!(s.rows("SELECT * FROM leases").is_empty(), "the event gave up its leases (live, and the unfinished window's): the next worker takes them at once");
    let state = s.rows("SELECT state, failures, last_error FROM source_state");
    assert_eq!((state[0].text(0).as_str(), state[0].int(1), state[0].opt_text(2)), ("running", 0, None), "{state:?}");
    if s.url.starts_with("postgres") {
        eprintln!("the tick ran on Spin's PostgreSQL interface (served by the store on {})", s.url);
    }
}

/// On Spin's HTTP trigger: `POST /tick/SOURCE` runs one more bounded tick of the composed tick
/// component, and the status component serves `/healthz`, and `/status` and `/status.md` equal
/// to what `dialogsync status` writes of the same store at the same "now".
#[test]
fn a_manual_tick_and_the_status_pages_on_the_http_trigger() {
    let source = "a3-app-instances";
    let back_to = "2026-11-07";
    let sim = common::Sim::start(22, &["--days", "3", "--per-day", "12", "--today", "2026-11-10"], &[]);
    let s = host_and_one_event(&sim, source, back_to, "2026-11-12T00:00:00Z", 10);
    let mut variables = s.variables.clone();
    variables.insert("tick_token".into(), "s3cret".into());
    let tick = s.spin(variables);
    let route = format!("/tick/{source}");

    // Without the deployment's tick token: refused, nothing done.
    let (status, body) = tick.request(&composed(source), "POST", &route, &[("authorization", "Bearer guess")]);
    assert_eq!(status, 401, "{body}");
    assert_eq!(s.rows("SELECT pages FROM windows")[0].int(0), 1);

    // A manual tick: the window's second page.
    let (status, body) = tick.request(&composed(source), "POST", &route, &[("authorization", "Bearer s3cret")]);
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["source"], source);
    assert_eq!(answer["tick"]["historic_pages"], 1, "{answer}");
    let w = &s.rows("SELECT pages, fetched, migrated FROM windows")[0];
    assert_eq!((w.int(0), w.int(1)), (2, 10), "the manual tick worked the window's next page: {w:?}");
    assert!(s.rows("SELECT * FROM leases").is_empty());
    same_dialogs(&s, s.rows("SELECT COUNT(*) FROM dialogs")[0].int(0));
    let (status, body) = tick.request(&composed(source), "GET", &route, &[]);
    assert_eq!(status, 405, "a tick is a POST: {body}");

    // The status component, as spin.toml configures it: the store, the sources, the goal.
    let status_component = common::component("spin-status");
    let variables: BTreeMap<String, String> =
        [("sources", source), ("back_to", back_to), ("window_days", "10")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let spin = s.spin(variables);
    assert_eq!(spin.request(&status_component, "GET", "/healthz", &[]), (200, "ok\n".to_string()));
    let (code, body) = spin.request(&status_component, "GET", "/nowhere", &[]);
    assert_eq!(code, 404, "{body}");

    // The host's `status` of the deployment's store, at the same "now".
    let config = std::fs::read_to_string(&s.env.config).unwrap();
    let config: String = config.lines().map(|l| if l.starts_with("store = ") { format!("store = \"{}\"\n", s.url) } else { format!("{l}\n") }).collect();
    let config_path = s.env.dir.path().join("deployment.toml");
    std::fs::write(&config_path, config).unwrap();
    let host_status = |format: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dialogsync"))
            .args(["--config", config_path.to_str().unwrap(), "status", "--format", format])
            .env("DIALOGSYNC_NOW", &s.now)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let (code, markdown) = spin.request(&status_component, "GET", "/status.md", &[]);
    assert_eq!(code, 200, "{markdown}");
    assert_eq!(markdown, host_status("markdown"));
    assert!(markdown.contains("✔ A3 App instances — live sync running"), "{markdown}");
    assert!(markdown.contains("| A3 App instances | not yet | 07.11.2026 (0 of 1 windows done) |"), "{markdown}");
    assert!(markdown.contains("- spin-a3-app-instances (since 12.11.2026 00:00 UTC"), "the tick is among the hosts: {markdown}");
    assert!(markdown.contains("- spin-a3-app-instances-manual (since 12.11.2026 00:00 UTC"), "and the manual tick: {markdown}");
    let (code, json) = spin.request(&status_component, "GET", "/status", &[]);
    assert_eq!(code, 200, "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json, serde_json::from_str::<serde_json::Value>(&host_status("json")).unwrap());
    assert_eq!(json["sources"][0]["historic"]["windows"][0]["pages"], 2);
}

#[test]
fn spin_toml_ticks_every_source_every_five_minutes_and_serves_status_with_the_built_files() {
    let root = common::root();
    let manifest: toml::Value = toml::from_str(&std::fs::read_to_string(root.join("spin.toml")).unwrap()).unwrap();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let declared: BTreeSet<&str> = manifest["variables"].as_table().unwrap().keys().map(String::as_str).collect();
    let templates = |text: &str| -> Vec<String> { text.split("{{").skip(1).filter_map(|t| t.split_once("}}")).map(|(v, _)| v.trim().to_string()).collect() };
    let crons = manifest["trigger"]["cron"].as_array().unwrap();
    let routes: BTreeMap<&str, &str> = manifest["trigger"]["http"].as_array().unwrap().iter().map(|t| (t["route"].as_str().unwrap(), t["component"].as_str().unwrap())).collect();
    let check_variables = |id: &str, c: &toml::Value| {
        let mut used: Vec<String> = c["variables"].as_table().unwrap().values().flat_map(|v| templates(v.as_str().unwrap())).collect();
        used.extend(c["allowed_outbound_hosts"].as_array().unwrap().iter().flat_map(|h| templates(h.as_str().unwrap())));
        for v in used {
            assert!(declared.contains(v.as_str()), "{id} uses the undeclared variable {v}");
        }
    };
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
        // Named as the tick imports them, each taking its file's `dialogsync:pipeline` export.
        let dep = |name: &str| (deps[name]["path"].as_str().unwrap().to_string(), deps[name]["export"].as_str().unwrap().to_string());
        assert_eq!(deps.len(), 2, "{id}: {deps:?}");
        assert_eq!(dep("transformer"), (format!("target/components/{source}.wasm"), "dialogsync:pipeline/transformer@0.1.0".to_string()));
        assert_eq!(dep("projector"), ("target/components/dialog-projector.wasm".to_string(), "dialogsync:pipeline/projector@0.1.0".to_string()));
        assert!(deps.values().all(|d| root.join(d["path"].as_str().unwrap()).exists()));
        assert_eq!(c["variables"]["source"].as_str(), Some(source));
        check_variables(&id, c);
        assert_eq!(routes.get(format!("/tick/{source}").as_str()), Some(&id.as_str()), "{id}: a manual tick on the HTTP trigger");
    }
    // Everything else on the HTTP trigger is the status component's, which has no dependencies.
    assert_eq!(routes.get("/..."), Some(&"status"));
    let c = &manifest["component"]["status"];
    assert_eq!(c["source"].as_str(), Some("target/components/spin-status.wasm"));
    assert!(root.join(c["source"].as_str().unwrap()).exists());
    assert!(c.get("dependencies").is_none());
    assert_eq!(c["variables"]["sources"].as_str().unwrap().split(',').collect::<Vec<_>>(), SOURCES);
    check_variables("status", c);
}
