//! `GET /metrics`: Prometheus text exposition, read from the store at each scrape (so every
//! host and every command's work counts, not just this process's).

use super::ApiState;
use super::problem::Problem;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;
use std::sync::Arc;

fn family(out: &mut String, name: &str, kind: &str, help: &str, rows: impl IntoIterator<Item = (String, f64)>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in rows {
        let _ = writeln!(out, "{name}{{{labels}}} {v}");
    }
}

pub async fn metrics(State(state): State<Arc<ApiState>>) -> Result<impl IntoResponse, Problem> {
    let report = crate::status::report(&state.config, &state.store).await.map_err(Problem::internal)?;
    let outcomes = state.store.outcomes().await?;
    let states = state.store.source_states().await?;
    let mut out = String::new();
    family(&mut out, "dialogsync_records", "gauge", "Staged record versions by source and outcome.",
        outcomes.iter().map(|(s, o, n)| (format!("source=\"{s}\",outcome=\"{o}\""), *n as f64)));
    let src = |s: &str| format!("source=\"{s}\"");
    family(&mut out, "dialogsync_dialogs", "gauge", "Dialogs by source.", report.sources.iter().map(|s| (src(&s.source), s.dialogs as f64)));
    family(&mut out, "dialogsync_dead_letters", "gauge", "Open dead letters by source.",
        report.sources.iter().map(|s| (src(&s.source), s.dead_letters.values().sum::<i64>() as f64)));
    family(&mut out, "dialogsync_waiting_records", "gauge", "Records waiting for a party the register does not know.",
        report.sources.iter().map(|s| (src(&s.source), s.waiting as f64)));
    family(&mut out, "dialogsync_live_lag_seconds", "gauge", "Seconds since the source's last successful live tick.",
        report.sources.iter().filter_map(|s| Some((src(&s.source), s.lag_seconds? as f64))));
    // As the status page judges it: a live host holds the source and its last tick is recent.
    let synced = || report.sources.iter().filter(|s| s.live != "files");
    family(&mut out, "dialogsync_live_running", "gauge", "1 while a live host syncs the source and its last tick is recent; 0 when stalled, stopped, paused or failing.",
        synced().map(|s| (src(&s.source), if s.ok { 1.0 } else { 0.0 })));
    family(&mut out, "dialogsync_live_stale", "gauge", "1 when the source should be syncing but no live host holds it or its last tick is older than stale_after.",
        synced().map(|s| (src(&s.source), if s.live == "stalled" { 1.0 } else { 0.0 })));
    family(&mut out, "dialogsync_tick_duration_seconds", "gauge", "How long the source's last live tick took.",
        states.iter().filter_map(|s| Some((src(&s.source), s.last_tick_ms? as f64 / 1000.0))));
    family(&mut out, "dialogsync_historic_windows_done", "gauge", "Historic windows done.",
        report.sources.iter().map(|s| (src(&s.source), s.historic.windows_done as f64)));
    family(&mut out, "dialogsync_historic_windows", "gauge", "Historic windows planned (back to the goal).",
        report.sources.iter().map(|s| (src(&s.source), s.historic.windows_total as f64)));
    if let Some(d) = &report.dialogporten {
        let age = d.oldest.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0) as f64);
        family(&mut out, "dialogsync_outbox_waiting", "gauge", "Dialogs waiting in the outbox to be sent to Dialogporten.", [(String::new(), d.waiting as f64)]);
        family(&mut out, "dialogsync_outbox_oldest_seconds", "gauge", "Age of the oldest dialog waiting in the outbox.", age.map(|a| (String::new(), a)));
        family(&mut out, "dialogsync_dialogporten_dialogs", "gauge", "Dialogs Dialogporten holds, by source, as it last answered.",
            report.sources.iter().filter_map(|s| Some((src(&s.source), s.in_dialogporten? as f64))));
        family(&mut out, "dialogsync_outbox_scheduled", "gauge", "Dialogs held in the outbox until their visibleFrom.", [(String::new(), d.scheduled as f64)]);
    }
    let counts = state.store.sink_counts().await?;
    let by = |prefix: &str| counts.iter().filter_map(move |(name, n, secs)| Some((name.strip_prefix(prefix)?.to_string(), *n, *secs))).collect::<Vec<_>>();
    let (outcomes, statuses) = (by("outcome:"), by("status:"));
    if !outcomes.is_empty() || !statuses.is_empty() {
        family(&mut out, "dialogsync_sink_dialogs_total", "counter", "Dialogs the Dialogporten sink handled, by outcome (created, updated, deleted, purged, retried, dead, scheduled).",
            outcomes.iter().map(|(o, n, _)| (format!("outcome=\"{o}\""), *n as f64)));
        family(&mut out, "dialogsync_sink_requests_total", "counter", "Requests the Dialogporten sink made, by HTTP status (transport: no answer).",
            statuses.iter().map(|(s, n, _)| (format!("status=\"{s}\""), *n as f64)));
        family(&mut out, "dialogsync_sink_request_seconds_total", "counter", "Seconds the Dialogporten sink's requests took, by HTTP status (divided by the requests: the mean latency).",
            statuses.iter().map(|(s, _, secs)| (format!("status=\"{s}\""), *secs)));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
