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
}

#[derive(Debug, Serialize)]
pub struct SourceReport {
    pub source: String,
    pub title: String,
    /// Live sync is running and its last tick succeeded.
    pub ok: bool,
    /// running, paused, auto-paused, failing, not started.
    pub live: String,
    pub reason: Option<String>,
    pub last_tick: Option<String>,
    pub lag_seconds: Option<i64>,
    pub dialogs: i64,
    pub waiting: i64,
    pub waiting_party_ids: Vec<String>,
    pub dead_letters: BTreeMap<String, i64>,
    pub missing: Vec<String>,
    pub historic: Historic,
    /// Which components made the dialogs: (transformer hash, projector hash) → dialogs.
    pub made_by: Vec<MadeBy>,
}

#[derive(Debug, Serialize)]
pub struct Historic {
    /// The configured goal (`back_to`).
    pub back_to: Option<NaiveDate>,
    /// The watermark: every window from this day up to when live sync began is done.
    pub migrated_back_to: Option<NaiveDate>,
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
}

#[derive(Debug, Serialize)]
pub struct HostReport {
    #[serde(flatten)]
    pub host: Host,
    /// `SOURCE live`, `SOURCE window DAY`.
    pub leases: Vec<String>,
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

/// A source's history goal, as the shell's configuration sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goal {
    /// The day history goes back to, for a source whose live sync began at the given instant.
    pub back_to: Option<NaiveDate>,
    pub window_days: u32,
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

/// Dead letters per (source, phase).
async fn dead_letters<D: Db>(db: &mut D) -> db::Result<Vec<(String, String, i64)>, D::Error> {
    let rows = db.query(Statement::new("SELECT source, phase, COUNT(*) FROM dead_letters GROUP BY source, phase ORDER BY source, phase")).await?;
    Ok(rows.iter().map(|r| (r.text(0), r.text(1), r.int(2))).collect())
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

/// Every host that has run, newest first, with the leases it holds (`SOURCE live`,
/// `SOURCE window DAY`).
async fn hosts<D: Db>(db: &mut D) -> db::Result<Vec<HostReport>, D::Error> {
    let leases = db.query(Statement::new("SELECT source, name, holder FROM leases ORDER BY source, name")).await?;
    let rows = db.query(Statement::new("SELECT id, started_at, seen_at, stopped_at FROM hosts ORDER BY started_at DESC, id")).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let host = Host { id: r.text(0), started_at: r.text(1), seen_at: r.text(2), stopped_at: r.opt_text(3) };
            let leases = leases.iter().filter(|l| l.text(2) == host.id).map(|l| format!("{} {}", l.text(0), l.text(1).replace(':', " "))).collect();
            HostReport { host, leases }
        })
        .collect())
}

// ---- The report ----

/// The report at `now_micros`: every source configured (`configured`), with a state, or with
/// dialogs; `goal` gives a source's history goal from when its live sync began.
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
    let short = |h: &str| h.get(..12).unwrap_or(h).to_string();

    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for name in &names {
        let state = states.get(name);
        let (dialogs, waiting, waiting_party_ids) = totals.get(name).cloned().unwrap_or_default();
        let dead_letters: BTreeMap<String, i64> = dead.iter().filter(|d| d.0 == *name).map(|d| (d.1.clone(), d.2)).collect();
        let missing_ids: Vec<String> = missing.iter().filter(|m| m.source == *name).flat_map(|m| m.missing_ids.clone()).collect();
        let goal = goal(name, state.and_then(|s| s.live_since).unwrap_or(now_micros));
        let back_to = goal.and_then(|g| g.back_to);
        let (migrated_back_to, windows_done, windows_total) = match (back_to, state.and_then(|s| s.live_since)) {
            (Some(b), Some(live)) => {
                let plan = windows(live, b, goal.map_or(1, |g| g.window_days));
                let done: BTreeSet<String> =
                    all_windows.iter().filter(|w| w.source == *name && w.state == "done").map(|w| w.first_day.clone()).collect();
                let n = plan.iter().filter(|(f, _)| done.contains(&f.to_string())).count();
                (watermark(&plan, &done), n, plan.len())
            }
            _ => (None, 0, 0),
        };
        let (live, reason, ok) = match state {
            None => ("not started".to_string(), None, false),
            Some(s) if s.state != "running" => (s.state.clone(), s.reason.clone(), false),
            Some(s) if s.failures > 0 => ("failing".into(), Some(format!("{} failed ticks in a row; last: {}", s.failures, s.last_error.clone().unwrap_or_default())), false),
            Some(s) => ("running".into(), None, s.last_tick_ok_at.is_some()),
        };
        let last_tick = state.and_then(|s| s.last_tick_at.clone());
        let lag_seconds = state.and_then(|s| s.last_tick_ok_at.as_deref()).and_then(parse).map(|t| (now - t).num_seconds().max(0));
        let t = title(name);
        if !missing_ids.is_empty() {
            let days = missing.iter().filter(|m| m.source == *name).count();
            problems.push(format!("{t}: {} records missing on {days} days (found by `dialogsync verify`; `--repair` fetches them).", missing_ids.len()));
        }
        if !dead_letters.is_empty() {
            let n: i64 = dead_letters.values().sum();
            let phases: Vec<String> = dead_letters.iter().map(|(p, n)| format!("{p} {n}")).collect();
            problems.push(format!("{t}: {n} dead letters ({}); see `dialogsync dead-letters list --source {name}`.", phases.join(", ")));
        }
        if waiting > 0 {
            problems.push(format!("{t}: {waiting} records wait for party ids not in the register ({}).", waiting_party_ids.join(", ")));
        }
        if let (Some(r), false) = (&reason, ok) {
            problems.push(format!("{t}: live sync {live}: {r}"));
        }
        sources.push(SourceReport {
            source: name.clone(),
            title: t,
            ok,
            live,
            reason,
            last_tick,
            lag_seconds,
            dialogs,
            waiting,
            waiting_party_ids,
            dead_letters,
            missing: missing_ids,
            historic: Historic {
                back_to,
                migrated_back_to,
                windows_done,
                windows_total,
                windows: all_windows.iter().filter(|w| w.source == *name).cloned().collect(),
            },
            made_by: made_by
                .iter()
                .filter(|m| m.0 == *name)
                .map(|m| MadeBy { transformer: short(&m.1), projector: short(&m.2), dialogs: m.3 })
                .collect(),
        });
    }
    let dialog_services = totals.get(SERVICE_OWNER_SOURCE).map_or(0, |t| t.0);
    Ok(Report {
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        dialog_services,
        hosts: hosts(db).await?,
        sources,
        problems,
        changelog: changelog(&changelog_entries(db).await?),
    })
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
    for s in &r.sources {
        let mark = if s.ok { "✔" } else { "⚠" };
        let mut line = format!("{mark} {} — live sync {}", s.title, s.live);
        if let Some(reason) = &s.reason {
            let _ = write!(line, ": {reason}");
        }
        if let Some(t) = &s.last_tick {
            let _ = write!(line, "; last tick {}", when(t));
        }
        if let Some(lag) = s.lag_seconds {
            let _ = write!(line, ", lag {}", humantime::format_duration(std::time::Duration::from_secs(lag as u64)));
        }
        let _ = writeln!(m, "{line}. {} dialogs.\n", s.dialogs);
    }
    let _ = writeln!(m, "### Historic data\n");
    let _ = writeln!(m, "| Source | Migrated back to | Goal |");
    let _ = writeln!(m, "|----------|----------|----------|");
    for s in &r.sources {
        let h = &s.historic;
        let back = match h.migrated_back_to {
            Some(d) => date(d),
            None if h.windows_total > 0 => "not yet".into(),
            None => "—".into(),
        };
        let goal = match h.back_to {
            Some(b) if h.migrated_back_to == Some(b) => format!("{} (reached)", date(b)),
            Some(b) => format!("{} ({} of {} windows done)", date(b), h.windows_done, h.windows_total),
            None => "none set".into(),
        };
        let _ = writeln!(m, "| {} | {back} | {goal} |", s.title);
    }
    let running: Vec<&HostReport> = r.hosts.iter().filter(|h| h.host.stopped_at.is_none()).collect();
    if !running.is_empty() {
        let _ = writeln!(m, "\n### Hosts\n");
        for h in running {
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
}
