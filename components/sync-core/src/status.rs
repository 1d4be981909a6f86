//! The status report, written from the store and never by hand (DESIGN.md "Status report"),
//! in the form of Altinn's own migration status page: per source a ✔/⚠ line with its live
//! state, a "Historic data" table, open problems, and a dated changelog. The host serves it
//! (`dialogsync status`, `/status`) and so does a Spin deployment (`/status`, `/status.md`),
//! from the same queries and the same rendering.

use crate::db::{self, Db, Row, SourceState, Statement, Window};
use crate::plan::{watermark, windows};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The source of dialogs service owners write through the API.
pub const SERVICE_OWNER_SOURCE: &str = "dialog-services";

#[derive(Debug, Serialize)]
pub struct Report {
    pub generated_at: String,
    /// Dialogs service owners wrote through the API (the "dialog services" source), not deleted.
    pub dialog_services: i64,
    /// The synchronised sources.
    pub sources: Vec<SourceReport>,
    pub problems: Vec<String>,
    /// Every host that has run on this store, newest first, with the leases it holds.
    pub hosts: Vec<HostReport>,
    /// Newest day first.
    pub changelog: Vec<ChangelogDay>,
    /// The Dialogporten sink, once anything was queued for it (docs/dialogporten.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialogporten: Option<SinkReport>,
}

/// What the Dialogporten sink has sent and what waits in its outbox.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct SinkReport {
    /// Dialogs waiting to be sent.
    pub waiting: i64,
    /// When the oldest of them was queued.
    pub oldest: Option<String>,
    /// The last error a send met, of those still waiting.
    pub last_error: Option<String>,
    /// Dialogs Dialogporten holds, as last answered.
    pub sent: i64,
    /// Dialogs held back until their `visibleFrom` (sent then, so Dialogporten does not move
    /// their dates to it): not waiting on anything that could fail.
    pub scheduled: i64,
}

#[derive(Debug, Serialize)]
pub struct SourceReport {
    pub source: String,
    pub title: String,
    /// Live sync runs (a live host holds it, its last tick succeeded and is recent), or a files
    /// source has been backfilled.
    pub ok: bool,
    /// running, stalled (meant to run, but no live host holds it or its last tick is older
    /// than `stale_after`), paused, auto-paused, failing, starting, not started; `files` for a
    /// source read from files.
    pub live: String,
    /// A files source's last backfill.
    pub last_backfill: Option<String>,
    pub reason: Option<String>,
    pub last_tick: Option<String>,
    /// The host that ran it.
    pub last_tick_by: Option<String>,
    pub lag_seconds: Option<i64>,
    pub dialogs: i64,
    pub waiting: i64,
    pub waiting_party_ids: Vec<String>,
    /// Open dead letters per phase.
    pub dead_letters: BTreeMap<String, i64>,
    /// Dead letters an operator discarded (`dialogsync dead-letters discard`).
    pub discarded: i64,
    pub missing: Vec<String>,
    pub historic: Historic,
    /// Of this source's dialogs, those Dialogporten holds (a sink configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_dialogporten: Option<i64>,
    /// Which components made the dialogs: (transformer hash, projector hash) → dialogs.
    pub made_by: Vec<MadeBy>,
}

#[derive(Debug, Serialize)]
pub struct Historic {
    /// The configured goal (`back_to`).
    pub back_to: Option<NaiveDate>,
    /// The watermark: every window from this day up to when live sync began is done (for a
    /// files source: every record from this day to the newest is settled).
    pub migrated_back_to: Option<NaiveDate>,
    /// A files source: the oldest day its records were created.
    pub oldest_record: Option<NaiveDate>,
    pub windows_done: usize,
    pub windows_total: usize,
    /// Every window begun, newest first, with its counts.
    pub windows: Vec<Window>,
}

/// A host (a `dialogsync run` process, or a Spin tick component) as the store knows it.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub id: String,
    pub started_at: String,
    pub seen_at: String,
    pub stopped_at: Option<String>,
    /// The longest it goes between heartbeats (microseconds).
    pub heartbeat_micros: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct HostReport {
    #[serde(flatten)]
    pub host: Host,
    /// running, gone (killed: seen longer ago than its heartbeat), stopped.
    pub state: String,
    /// The leases it holds, `SOURCE live`, `SOURCE window DAY`: none when it is not running.
    pub leases: Vec<String>,
}

/// A host's heartbeat when it recorded none (registered before heartbeats were recorded):
/// the default interval and lease.
const DEFAULT_HEARTBEAT_MICROS: i64 = 360_000_000;

/// Whether a host seen at `seen_at` with heartbeat `heartbeat_micros` is alive at `now_micros`.
pub fn alive(seen_at: &str, heartbeat_micros: Option<i64>, now_micros: i64) -> bool {
    parse(seen_at).is_some_and(|t| now_micros - t.timestamp_micros() <= heartbeat_micros.unwrap_or(DEFAULT_HEARTBEAT_MICROS))
}

#[derive(Debug, Serialize)]
pub struct MadeBy {
    pub transformer: String,
    pub projector: String,
    pub dialogs: i64,
}

#[derive(Debug, Serialize)]
pub struct ChangelogDay {
    pub day: NaiveDate,
    pub entries: Vec<String>,
}

/// A dated changelog entry.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub at: String,
    pub source: Option<String>,
    pub kind: String,
    pub message: String,
    pub data: Option<serde_json::Value>,
}

/// One source day's reconciliation (`dialogsync verify`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reconciled {
    pub source: String,
    pub day: String,
    pub at_source: i64,
    pub staged: i64,
    pub dialogs: i64,
    pub missing_ids: Vec<String>,
}

/// What the shell's configuration expects of a source: its history goal and its live ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goal {
    /// The day history goes back to, for a source whose live sync began at the given instant.
    pub back_to: Option<NaiveDate>,
    pub window_days: u32,
    /// Time between live ticks.
    pub interval_micros: i64,
    /// A last tick older than this is stale (by default twice the interval).
    pub stale_after_micros: i64,
    /// Read from files by `backfill`, not synced live.
    pub files: bool,
}

/// `a2-archived-forms` → `A2 Archived forms`; the service-owner API's `Dialog services`.
pub fn title(source: &str) -> String {
    if source == SERVICE_OWNER_SOURCE {
        return "Dialog services".into();
    }
    let mut words = source.split('-');
    let first = words.next().unwrap_or_default().to_uppercase();
    let rest: Vec<&str> = words.collect();
    let mut rest = rest.join(" ");
    if let Some(c) = rest.get(..1) {
        rest = format!("{}{}", c.to_uppercase(), &rest[1..]);
    }
    format!("{first} {rest}").trim().to_string()
}

fn date(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

fn parse(stamp: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(stamp).ok().map(|t| t.with_timezone(&Utc))
}

fn when(stamp: &str) -> String {
    parse(stamp).map(|t| t.format("%d.%m.%Y %H:%M UTC").to_string()).unwrap_or_else(|| stamp.into())
}

// ---- What the report reads ----

/// Per source: dialogs not deleted, and records waiting for a party with the party ids.
async fn totals<D: Db>(db: &mut D) -> db::Result<BTreeMap<String, (i64, i64, Vec<String>)>, D::Error> {
    let mut out: BTreeMap<String, (i64, i64, Vec<String>)> = BTreeMap::new();
    for r in db.query(Statement::new("SELECT source, COUNT(*) FROM dialogs WHERE deleted_at IS NULL GROUP BY source")).await? {
        out.entry(r.text(0)).or_default().0 = r.int(1);
    }
    // A record waits while its newest staged version waits.
    let waiting = db
        .query(Statement::new(
            "SELECT source, waiting_party, COUNT(*) FROM (
               SELECT source, outcome, waiting_party, ROW_NUMBER() OVER (PARTITION BY source, source_id ORDER BY source_version DESC, last_seen DESC) AS n
               FROM raw_records) AS t WHERE n = 1 AND outcome = 'waiting' GROUP BY source, waiting_party ORDER BY source, waiting_party",
        ))
        .await?;
    for r in waiting {
        let e = out.entry(r.text(0)).or_default();
        e.1 += r.int(2);
        e.2.extend(r.opt_text(1));
    }
    Ok(out)
}

/// Open dead letters per (source, phase), and the discarded ones (phase `discarded`).
async fn dead_letters<D: Db>(db: &mut D) -> db::Result<Vec<(String, String, i64)>, D::Error> {
    let rows = db
        .query(Statement::new(
            "SELECT source, CASE WHEN discarded_at IS NULL THEN phase ELSE 'discarded' END AS p, COUNT(*) FROM dead_letters GROUP BY source, p ORDER BY source, p",
        ))
        .await?;
    Ok(rows.iter().map(|r| (r.text(0), r.text(1), r.int(2))).collect())
}

/// Per day a source's records were created, newest first: records, and records not settled
/// (their newest version waits or is dead).
async fn settled_days<D: Db>(db: &mut D, source: &str) -> db::Result<Vec<(NaiveDate, i64, i64)>, D::Error> {
    let rows = db
        .query(
            Statement::new(
                "SELECT created_day, COUNT(*), SUM(CASE WHEN outcome IN ('waiting', 'dead') THEN 1 ELSE 0 END) FROM (
                   SELECT created_day, outcome, ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY source_version DESC, last_seen DESC) AS n
                   FROM raw_records WHERE source = $1) AS t WHERE n = 1 AND created_day IS NOT NULL GROUP BY created_day ORDER BY created_day DESC",
            )
            .bind(source),
        )
        .await?;
    Ok(rows.iter().filter_map(|r| Some((r.text(0).parse().ok()?, r.int(1), r.int(2)))).collect())
}

/// When each source was last backfilled from files.
async fn last_backfills<D: Db>(db: &mut D) -> db::Result<BTreeMap<String, String>, D::Error> {
    let rows = db.query(Statement::new("SELECT source, MAX(at) FROM changelog WHERE kind = 'backfill' AND source IS NOT NULL GROUP BY source")).await?;
    Ok(rows.iter().map(|r| (r.text(0), r.text(1))).collect())
}

/// Source days whose last reconciliation found records missing.
async fn missing<D: Db>(db: &mut D) -> db::Result<Vec<Reconciled>, D::Error> {
    let rows = db.query(Statement::new("SELECT source, day, at_source, staged, dialogs, missing_ids FROM reconciliation WHERE missing_ids <> '[]' ORDER BY source, day")).await?;
    let reconciled = |r: &Row| Reconciled {
        source: r.text(0),
        day: r.text(1),
        at_source: r.int(2),
        staged: r.int(3),
        dialogs: r.int(4),
        missing_ids: serde_json::from_str(&r.text(5)).unwrap_or_default(),
    };
    Ok(rows.iter().map(reconciled).collect())
}

/// Dialogs per (source, transformer hash, projector hash): which components made them.
async fn made_by<D: Db>(db: &mut D) -> db::Result<Vec<(String, String, String, i64)>, D::Error> {
    let rows = db
        .query(Statement::new(
            "SELECT source, transformer_hash, projector_hash, COUNT(*) FROM dialogs GROUP BY source, transformer_hash, projector_hash ORDER BY source, 4 DESC",
        ))
        .await?;
    Ok(rows.iter().map(|r| (r.text(0), r.text(1), r.text(2), r.int(3))).collect())
}

/// The whole changelog, oldest first.
async fn changelog_entries<D: Db>(db: &mut D) -> db::Result<Vec<LogEntry>, D::Error> {
    let rows = db.query(Statement::new("SELECT at, source, kind, message, data FROM changelog ORDER BY id")).await?;
    let entry = |r: &Row| LogEntry { at: r.text(0), source: r.opt_text(1), kind: r.text(2), message: r.text(3), data: r.opt_text(4).and_then(|d| serde_json::from_str(&d).ok()) };
    Ok(rows.iter().map(entry).collect())
}

/// Every host that has run, newest first, whether it runs at `now_micros`, and the leases a
/// running one holds (`SOURCE live`, `SOURCE window DAY`); a lease whose holder is gone or
/// that expired is held by nobody.
async fn hosts<D: Db>(db: &mut D, now_micros: i64) -> db::Result<Vec<HostReport>, D::Error> {
    let sql = format!("SELECT source, name, holder FROM leases WHERE expires_at > {} ORDER BY source, name", db.dialect().now_micros());
    let leases = db.query(Statement::new(sql)).await?;
    let rows = db.query(Statement::new("SELECT id, started_at, seen_at, stopped_at, heartbeat_micros FROM hosts ORDER BY started_at DESC, id")).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let host = Host { id: r.text(0), started_at: r.text(1), seen_at: r.text(2), stopped_at: r.opt_text(3), heartbeat_micros: r.opt_int(4) };
            let state = match (&host.stopped_at, alive(&host.seen_at, host.heartbeat_micros, now_micros)) {
                (Some(_), _) => "stopped",
                (None, true) => "running",
                (None, false) => "gone",
            };
            let leases = match state {
                "running" => leases.iter().filter(|l| l.text(2) == host.id).map(|l| format!("{} {}", l.text(0), l.text(1).replace(':', " "))).collect(),
                _ => Vec::new(),
            };
            HostReport { host, state: state.into(), leases }
        })
        .collect())
}

/// A span as the page words it: its two largest units ("27m 21s", "3h", "2d 4h").
pub fn span(secs: i64) -> String {
    let secs = secs.max(0);
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let parts: Vec<String> = units
        .iter()
        .scan(secs, |left, (size, unit)| {
            let n = *left / size;
            *left %= size;
            Some((n, unit))
        })
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() { "0s".into() } else { parts.join(" ") }
}

/// 22021 → "22,021".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = if n < 0 { "-".to_string() } else { String::new() };
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 day", "2 days".
pub fn plural(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

// ---- The report ----

/// Waiting party ids named on the page and in a summary; the JSON report keeps them all.
pub const SHOWN_PARTY_IDS: usize = 10;

/// `ids` for a line: the first [`SHOWN_PARTY_IDS`], then "… and N more".
pub fn some_ids(ids: &[String]) -> String {
    let shown = ids.iter().take(SHOWN_PARTY_IDS).map(String::as_str).collect::<Vec<_>>().join(", ");
    match ids.len().saturating_sub(SHOWN_PARTY_IDS) {
        0 => shown,
        more => format!("{shown} … and {more} more"),
    }
}

/// A source's live line: (live, reason, ok).
fn liveness(state: Option<&SourceState>, goal: Option<Goal>, hosts: &[HostReport], source: &str, now_micros: i64) -> (String, Option<String>, bool) {
    let Some(s) = state else { return ("not started".into(), None, false) };
    if s.state != "running" {
        return (s.state.clone(), s.reason.clone(), false);
    }
    if s.failures > 0 {
        let attempts = plural(s.failures, "failed tick", "failed ticks");
        return ("failing".into(), Some(format!("{attempts} in a row; last: {}", s.last_error.clone().unwrap_or_default())), false);
    }
    let interval = goal.map_or(300_000_000, |g| g.interval_micros);
    let stale_after = goal.map_or(2 * interval, |g| g.stale_after_micros);
    let every = span(interval / 1_000_000);
    let lease = format!("{source} live");
    let holder = hosts.iter().find(|h| h.leases.contains(&lease)).or_else(|| hosts.iter().find(|h| s.last_tick_by.as_deref() == Some(h.host.id.as_str()) && h.state == "running"));
    let last = s.last_tick_at.as_deref();
    let Some(_) = holder else {
        let since = last.map(|t| format!(" since {}", when(t))).unwrap_or_default();
        let who = s.last_tick_by.as_deref().and_then(|by| hosts.iter().find(|h| h.host.id == by));
        let last_host = match who {
            Some(h) if h.state == "stopped" => format!("; {} stopped {}", h.host.id, when(h.host.stopped_at.as_deref().unwrap_or_default())),
            Some(h) => format!("; {} is gone, last seen {}", h.host.id, when(&h.host.seen_at)),
            None => String::new(),
        };
        return ("stalled".into(), Some(format!("no host has run live sync{since} (interval {every}){last_host}")), false);
    };
    let age = s.last_tick_ok_at.as_deref().and_then(parse).map(|t| now_micros - t.timestamp_micros());
    match age {
        Some(a) if a <= stale_after => ("running".into(), None, true),
        Some(a) => ("stalled".into(), Some(format!("last tick {} ago (interval {every})", span(a / 1_000_000))), false),
        None => ("starting".into(), Some("no live tick has finished yet".into()), false),
    }
}

/// The report at `now_micros`: every source configured (`configured`), with a state, or with
/// dialogs; `goal` gives what the configuration expects of a source whose live sync began at
/// the given instant.
pub async fn report<D: Db>(db: &mut D, now_micros: i64, configured: &[String], goal: impl Fn(&str, i64) -> Option<Goal>) -> db::Result<Report, D::Error> {
    let now = DateTime::from_timestamp_micros(now_micros).unwrap_or_default();
    let states: BTreeMap<String, SourceState> = db::source_states(db).await?.into_iter().map(|s| (s.source.clone(), s)).collect();
    let totals = totals(db).await?;
    let mut names: BTreeSet<String> = configured.iter().cloned().collect();
    names.extend(states.keys().cloned());
    names.extend(totals.keys().filter(|s| *s != SERVICE_OWNER_SOURCE).cloned());
    let all_windows = db::windows(db, None).await?;
    let dead = dead_letters(db).await?;
    let missing = missing(db).await?;
    let made_by = made_by(db).await?;
    let hosts = hosts(db, now_micros).await?;
    let backfills = last_backfills(db).await?;
    let short = |h: &str| h.get(..12).unwrap_or(h).to_string();

    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for name in &names {
        let state = states.get(name);
        let (dialogs, waiting, waiting_party_ids) = totals.get(name).cloned().unwrap_or_default();
        let mut dead_letters: BTreeMap<String, i64> = dead.iter().filter(|d| d.0 == *name).map(|d| (d.1.clone(), d.2)).collect();
        let discarded = dead_letters.remove("discarded").unwrap_or(0);
        let missing_ids: Vec<String> = missing.iter().filter(|m| m.source == *name).flat_map(|m| m.missing_ids.clone()).collect();
        let goal = goal(name, state.and_then(|s| s.live_since).unwrap_or(now_micros));
        // A source the store shows live ticks for is live-synced, whatever a config that does
        // not name it defaults to (`status --store URL` of a deployment has no config).
        let files = goal.is_some_and(|g| g.files) && !state.is_some_and(|s| s.last_tick_at.is_some());
        let back_to = goal.and_then(|g| g.back_to);
        let (mut migrated_back_to, mut windows_done, mut windows_total, mut oldest_record) = (None, 0, 0, None);
        if files {
            // The oldest day from which every record up to the newest is settled.
            let days = settled_days(db, name).await?;
            oldest_record = days.last().map(|d| d.0);
            migrated_back_to = days.iter().take_while(|d| d.2 == 0).last().map(|d| d.0);
        } else if let (Some(b), Some(live)) = (back_to, state.and_then(|s| s.live_since)) {
            let plan = windows(live, b, goal.map_or(1, |g| g.window_days));
            let done: BTreeSet<String> = all_windows.iter().filter(|w| w.source == *name && w.state == "done").map(|w| w.first_day.clone()).collect();
            windows_done = plan.iter().filter(|(f, _)| done.contains(&f.to_string())).count();
            windows_total = plan.len();
            migrated_back_to = watermark(&plan, &done);
        }
        let last_backfill = backfills.get(name).cloned();
        let (live, reason, ok) = match (files, &last_backfill) {
            (true, Some(_)) => ("files".into(), None, true),
            (true, None) => ("files".into(), Some(format!("not backfilled yet: `dialogsync backfill --source {name}`")), false),
            (false, _) => liveness(state, goal, &hosts, name, now_micros),
        };
        let last_tick = state.and_then(|s| s.last_tick_at.clone());
        let lag_seconds = state.and_then(|s| s.last_tick_ok_at.as_deref()).and_then(parse).map(|t| (now - t).num_seconds().max(0));
        let t = title(name);
        if !missing_ids.is_empty() {
            let days = missing.iter().filter(|m| m.source == *name).count();
            problems.push(format!("{t}: {} missing on {} (found by `dialogsync verify`; `--repair` fetches them).", plural(missing_ids.len() as i64, "record", "records"), plural(days as i64, "day", "days")));
        }
        if !dead_letters.is_empty() {
            let n: i64 = dead_letters.values().sum();
            let phases: Vec<String> = dead_letters.iter().map(|(p, n)| format!("{p} {n}")).collect();
            problems.push(format!("{t}: {} ({}); see `dialogsync dead-letters list --source {name}`.", plural(n, "dead letter", "dead letters"), phases.join(", ")));
        }
        if waiting > 0 {
            let verb = if waiting == 1 { "waits" } else { "wait" };
            problems.push(format!("{t}: {} {verb} for party ids not in the register ({}).", plural(waiting, "record", "records"), some_ids(&waiting_party_ids)));
        }
        if let (Some(r), false) = (&reason, ok) {
            problems.push(format!("{t}: live sync {live}: {r}"));
        }
        sources.push(SourceReport {
            source: name.clone(),
            title: t,
            ok,
            live,
            last_backfill,
            reason,
            last_tick,
            last_tick_by: state.and_then(|s| s.last_tick_by.clone()),
            lag_seconds,
            dialogs,
            waiting,
            waiting_party_ids,
            dead_letters,
            discarded,
            missing: missing_ids,
            historic: Historic {
                back_to,
                migrated_back_to,
                oldest_record,
                windows_done,
                windows_total,
                windows: all_windows.iter().filter(|w| w.source == *name).cloned().collect(),
            },
            in_dialogporten: None,
            made_by: made_by
                .iter()
                .filter(|m| m.0 == *name)
                .map(|m| MadeBy { transformer: short(&m.1), projector: short(&m.2), dialogs: m.3 })
                .collect(),
        });
    }
    let dialog_services = totals.get(SERVICE_OWNER_SOURCE).map_or(0, |t| t.0);
    let (dialogporten, per_source) = sink(db, now_micros).await?;
    if let Some(d) = &dialogporten {
        for s in &mut sources {
            s.in_dialogporten = Some(per_source.get(&s.source).copied().unwrap_or(0));
        }
        if d.waiting > 0
            && let Some(e) = &d.last_error
        {
            let since = d.oldest.as_deref().map(when).unwrap_or_default();
            problems.push(format!("Dialogporten: {} waiting to be sent (the oldest since {since}); last error: {e}", plural(d.waiting, "dialog", "dialogs")));
        }
    }
    Ok(Report {
        dialogporten,
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        dialog_services,
        hosts,
        sources,
        problems,
        changelog: changelog(&changelog_entries(db).await?),
    })
}

/// The sink's outbox and what Dialogporten holds, per source; None when nothing was ever queued.
pub async fn sink<D: Db>(db: &mut D, now_micros: i64) -> Result<(Option<SinkReport>, BTreeMap<String, i64>), D::Error> {
    // A row held back for its visibleFrom has a `not_before` still ahead and no error.
    let held = format!("last_error IS NULL AND not_before > {now_micros}");
    let queued = db.query(Statement::new(format!("SELECT COUNT(*), MIN(queued_at) FROM outbox WHERE NOT ({held})"))).await?;
    let (waiting, oldest) = queued.first().map_or((0, None), |r| (r.int(0), r.opt_text(1)));
    let scheduled = db.query(Statement::new(format!("SELECT COUNT(*) FROM outbox WHERE {held}"))).await?.first().map_or(0, |r| r.int(0));
    let per_source: BTreeMap<String, i64> = db.query(Statement::new("SELECT source, COUNT(*) FROM sink_dialogs GROUP BY source")).await?.iter().map(|r| (r.text(0), r.int(1))).collect();
    if waiting == 0 && scheduled == 0 && per_source.is_empty() {
        return Ok((None, per_source));
    }
    let last_error = db
        .query(Statement::new("SELECT last_error FROM outbox WHERE last_error IS NOT NULL ORDER BY attempts DESC, queued_at LIMIT 1"))
        .await?
        .first()
        .and_then(|r| r.opt_text(0));
    let sent = per_source.values().sum();
    Ok((Some(SinkReport { waiting, oldest, last_error, sent, scheduled }), per_source))
}

/// Groups the changelog by day, newest first; a source's watermark moves of one day become one
/// line, "migrated back to X (was Y)", as the status page words them.
fn changelog(entries: &[LogEntry]) -> Vec<ChangelogDay> {
    // In time order; sources that logged in the same millisecond, by name.
    let mut entries: Vec<&LogEntry> = entries.iter().collect();
    entries.sort_by(|a, b| (&a.at, &a.source).cmp(&(&b.at, &b.source)));
    let mut days: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    let mut moves: BTreeMap<(NaiveDate, String), (Option<String>, String, usize)> = BTreeMap::new();
    for e in entries {
        let Some(day) = parse(&e.at).map(|t| t.date_naive()) else { continue };
        let who = e.source.as_deref().map(title).map(|t| format!("{t}: ")).unwrap_or_default();
        let lines = days.entry(day).or_default();
        if e.kind == "watermark" {
            let data = e.data.clone().unwrap_or_default();
            let to = data["to"].as_str().unwrap_or_default().to_string();
            let key = (day, e.source.clone().unwrap_or_default());
            match moves.get_mut(&key) {
                Some(m) => m.1 = to,
                None => {
                    lines.push(String::new());
                    moves.insert(key, (data["from"].as_str().map(str::to_string), to, lines.len() - 1));
                }
            }
            continue;
        }
        lines.push(format!("{who}{}", e.message));
    }
    for ((day, source), (from, to, at)) in moves {
        let d = |s: &str| s.parse().map(date).unwrap_or_else(|_| s.to_string());
        let was = from.map(|f| format!(" (was {})", d(&f))).unwrap_or_default();
        days.get_mut(&day).expect("day")[at] = format!("{}: historic data migrated back to {}{was}", title(&source), d(&to));
    }
    days.into_iter().rev().map(|(day, entries)| ChangelogDay { day, entries }).collect()
}

/// The report as markdown, in the seed page's form.
pub fn markdown(r: &Report) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "## Status\n");
    let generated = r.generated_at.parse::<DateTime<Utc>>().map(|t| t.format("%d.%m.%Y %H:%M UTC").to_string()).unwrap_or_default();
    let _ = writeln!(m, "Written from the store at {generated}.\n");
    // Dialog services first, as on Altinn's page.
    let _ = writeln!(m, "✔ {} — written through the service-owner API, available at once. {} dialogs.\n", title(SERVICE_OWNER_SOURCE), r.dialog_services);
    if let Some(d) = &r.dialogporten {
        let there = plural(d.sent, "dialog", "dialogs");
        let later = match d.scheduled {
            0 => String::new(),
            n => format!(" {} to be sent when they become visible (visibleFrom).", plural(n, "dialog", "dialogs")),
        };
        match (d.waiting, &d.oldest) {
            (0, _) => {
                let _ = writeln!(m, "✔ Dialogporten — in sync: {there} sent, none waiting.{later}\n");
            }
            (n, oldest) => {
                let since = oldest.as_deref().map(|t| format!(", the oldest since {}", when(t))).unwrap_or_default();
                let error = d.last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default();
                let _ = writeln!(m, "⚠ Dialogporten — {} waiting to be sent{since}{error}. {there} sent.{later}\n", plural(n, "dialog", "dialogs"));
            }
        }
    }
    for s in &r.sources {
        let mark = if s.ok { "✔" } else { "⚠" };
        if s.live == "files" {
            let mut line = format!("{mark} {} — backfilled from files: {} dialogs", s.title, s.dialogs);
            match &s.last_backfill {
                Some(t) => {
                    let _ = write!(line, ", last backfill {}", when(t));
                }
                None => line = format!("{mark} {} — read from files, {}", s.title, s.reason.as_deref().unwrap_or_default()),
            }
            let _ = writeln!(m, "{line}.\n");
            continue;
        }
        let mut line = format!("{mark} {} — live sync {}", s.title, s.live);
        if let Some(reason) = &s.reason {
            let _ = write!(line, ": {reason}");
        }
        if let Some(t) = &s.last_tick {
            let _ = write!(line, "; last tick {}", when(t));
        }
        if let Some(lag) = s.lag_seconds {
            let _ = write!(line, ", lag {}", span(lag));
        }
        let there = s.in_dialogporten.map(|n| format!(", {n} in Dialogporten")).unwrap_or_default();
        let _ = writeln!(m, "{line}. {} dialogs{there}.\n", s.dialogs);
    }
    let _ = writeln!(m, "### Historic data\n");
    let _ = writeln!(m, "| Source | Migrated back to | Goal |");
    let _ = writeln!(m, "|----------|----------|----------|");
    for s in &r.sources {
        let h = &s.historic;
        let back = match h.migrated_back_to {
            Some(d) => date(d),
            None if h.windows_total > 0 || h.oldest_record.is_some() => "not yet".into(),
            None => "—".into(),
        };
        let goal = match (h.back_to, h.oldest_record) {
            (_, Some(o)) if h.migrated_back_to == Some(o) => format!("the files' oldest record, {} (reached)", date(o)),
            (_, Some(o)) => format!("the files' oldest record, {}", date(o)),
            (Some(b), _) if h.migrated_back_to == Some(b) => format!("{} (reached)", date(b)),
            (Some(b), _) => format!("{} ({} of {} windows done)", date(b), h.windows_done, h.windows_total),
            (None, _) => "none set".into(),
        };
        let _ = writeln!(m, "| {} | {back} | {goal} |", s.title);
    }
    let shown: Vec<&HostReport> = r.hosts.iter().filter(|h| h.state != "stopped").collect();
    if !shown.is_empty() {
        let _ = writeln!(m, "\n### Hosts\n");
        for h in shown {
            if h.state == "gone" {
                let _ = writeln!(m, "- {} (since {}): gone, last seen {}; holds nothing", h.host.id, when(&h.host.started_at), when(&h.host.seen_at));
                continue;
            }
            let holds = if h.leases.is_empty() { "no leases".to_string() } else { h.leases.join(", ") };
            let _ = writeln!(m, "- {} (since {}, last seen {}): {holds}", h.host.id, when(&h.host.started_at), when(&h.host.seen_at));
        }
    }
    let _ = writeln!(m, "\n### Open problems\n");
    if r.problems.is_empty() {
        let _ = writeln!(m, "None.");
    }
    for p in &r.problems {
        let _ = writeln!(m, "- {p}");
    }
    let _ = writeln!(m, "\n## Changelog");
    for d in &r.changelog {
        let _ = writeln!(m, "\n{}:", date(d.day));
        for e in &d.entries {
            let _ = writeln!(m, "- {e}");
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_read_like_the_status_page() {
        assert_eq!(title("a2-archived-forms"), "A2 Archived forms");
        assert_eq!(title("a3-app-instances"), "A3 App instances");
        assert_eq!(title("a2-correspondence"), "A2 Correspondence");
        assert_eq!(title(SERVICE_OWNER_SOURCE), "Dialog services");
    }

    #[test]
    fn spans_plurals_and_long_id_lists_read_well() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(5), "5s");
        assert_eq!(span(27 * 60 + 21), "27m 21s");
        assert_eq!(span(21 * 3600), "21h");
        assert_eq!(span(2 * 86_400 + 4 * 3600 + 7), "2d 4h");
        assert_eq!(plural(1, "day", "days"), "1 day");
        assert_eq!(plural(0, "day", "days"), "0 days");
        let ids: Vec<String> = (0..1715).map(|i| i.to_string()).collect();
        assert_eq!(some_ids(&ids), "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 … and 1705 more");
        assert_eq!(some_ids(&ids[..2]), "0, 1");
    }

    #[test]
    fn a_host_is_alive_within_its_heartbeat() {
        let seen = "2026-03-02T12:00:00.000Z";
        let at = |t: &str| parse(t).unwrap().timestamp_micros();
        assert!(alive(seen, Some(60_000_000), at("2026-03-02T12:01:00Z")));
        assert!(!alive(seen, Some(60_000_000), at("2026-03-02T12:01:01Z")));
        assert!(alive(seen, None, at("2026-03-02T12:05:00Z")), "no heartbeat recorded: the default");
    }
}
