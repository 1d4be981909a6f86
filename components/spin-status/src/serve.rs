//! The routes: `GET /healthz` (the store answers), `GET /status` (the report as JSON) and
//! `GET /status.md` (as markdown), the very report `dialogsync status` writes, from the same
//! sync-core functions.

use dialogsync_core::db::{Db, Statement};
use dialogsync_core::source::KNOWN_SOURCES;
use dialogsync_core::status::{self, Goal, Report};
use spin_shell::db::SpinDb;
use spin_shell::env::{back_to, list, now_micros, number, run_now, var};
use spin_shell::http::{json, method_and_path, respond};
use spin_shell::wasi::http::types::{IncomingRequest, Method, ResponseOutparam};

const TEXT: &str = "text/plain; charset=utf-8";

pub fn handle(request: &IncomingRequest, out: ResponseOutparam) {
    let (method, path) = method_and_path(request);
    if !matches!(method, Method::Get) {
        return respond(out, 405, TEXT, b"GET only\n");
    }
    match path.as_str() {
        // A probe, called often: one read, no schema work.
        "/healthz" => match SpinDb::open(&store_address()).and_then(|mut db| run_now(db.query(Statement::new("SELECT 1")))?) {
            Ok(_) => respond(out, 200, TEXT, b"ok\n"),
            Err(e) => respond(out, 503, TEXT, format!("{e}\n").as_bytes()),
        },
        "/status" => match report() {
            Ok(r) => json(out, 200, &r),
            Err(e) => respond(out, 500, TEXT, format!("{e}\n").as_bytes()),
        },
        "/status.md" => match report() {
            Ok(r) => respond(out, 200, "text/markdown; charset=utf-8", status::markdown(&r).as_bytes()),
            Err(e) => respond(out, 500, TEXT, format!("{e}\n").as_bytes()),
        },
        _ => respond(out, 404, TEXT, format!("{path}: not here; see /healthz, /status, /status.md\n").as_bytes()),
    }
}

fn store_address() -> String {
    var("store").unwrap_or_else(|| "sqlite".into())
}

/// The store (the `store` variable, as the tick components have it), with the schema: a
/// deployment's status is readable before its first tick, as the host's is.
fn store() -> Result<SpinDb, String> {
    let mut db = SpinDb::open(&store_address())?;
    run_now(dialogsync_core::migrate::migrate(&mut db))?.map_err(|e| e.to_string())?;
    Ok(db)
}

/// The report of the sources in `sources` (by default the built-in four, as spin.toml ticks
/// them), with the deployment's `back_to`, `window_days` and `interval_secs` for every source.
fn report() -> Result<Report, String> {
    let mut db = store()?;
    let names: Vec<&str> = KNOWN_SOURCES.iter().map(|k| k.name).collect();
    let configured = list(var("sources"), &names);
    let interval_micros = number::<i64>("interval_secs", 300)? * 1_000_000;
    let goal = Goal {
        back_to: back_to()?,
        window_days: number("window_days", 1)?,
        interval_micros,
        stale_after_micros: 2 * interval_micros,
        files: false,
    };
    run_now(status::report(&mut db, now_micros(), &configured, |_, _| Some(goal)))?.map_err(|e| e.to_string())
}
