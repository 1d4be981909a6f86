//! Altinn 3 Correspondence over the simulator's A3 correspondences, as the service owner (the
//! sender) sees it (`../shared/altinn/real-apis.md` §3.1–3.3), quirks included:
//!
//! - `GET /correspondence/api/v1/correspondence?resourceId=R&role=Sender&from=F&to=T`:
//!   `{"ids": [...]}` of the correspondences of resource R whose requested publish time is
//!   strictly between F and T (both bounds exclusive; either may be left out), newest first,
//!   **at most 1000, with no continuation**. No `resourceId`, or a `role` other than
//!   Recipient, Sender or RecipientAndSender → 400; `from` after `to` → 400 (error 1027).
//!   A generated correspondence without a `requestedPublishTime` is listed by the time it was
//!   published (or, not yet published, created).
//! - `GET /correspondence/api/v1/correspondence/{id}/details`: the correspondence as a sender
//!   reads it: its `statusHistory` without the statuses senders are not shown (Archived,
//!   PurgedByRecipient, PurgedByAltinn), `status`/`statusChanged` its last shown one, no
//!   `lastChanged` (the API has none); 404 when there is none.
//! - With Maskinporten clients registered, every request needs a token of the simulator's
//!   token endpoint with `altinn:correspondence.write` or `altinn:serviceowner`.

use super::storage::{not_found, open};
use super::{Shared, bad_request};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{Value, json};

const SOURCE: &str = "a3-correspondence";
/// The list's `Take(1000)`.
pub const CAP: usize = 1000;
const SCOPES: [&str; 2] = ["altinn:correspondence.write", "altinn:serviceowner"];
/// Statuses a sender's view of the status history leaves out (`IsAvailableForSender`).
const HIDDEN: [&str; 3] = ["Archived", "PurgedByRecipient", "PurgedByAltinn"];

/// The time the list filters and orders by: the requested publish time, which Correspondence
/// publishes at; a generated correspondence without one was requested for when it was
/// published, or, not published, when it was created.
pub fn publish_time(v: &Value) -> Option<i64> {
    let published = v["statusHistory"].as_array().and_then(|h| h.iter().find(|s| s["status"] == "Published")).map(|s| &s["statusChanged"]);
    let t = v.get("requestedPublishTime").or(published).or_else(|| v.get("created"))?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.timestamp_micros())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListQuery {
    resource_id: Option<String>,
    role: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn time(v: &Option<String>, name: &str) -> Result<Option<i64>, Response> {
    v.as_deref()
        .map(|s| chrono::DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_micros()).map_err(|_| bad_request(format!("The value '{s}' is not valid for {name}."))))
        .transpose()
}

pub(super) async fn list(State(sim): State<Shared>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let Some(resource) = q.resource_id.filter(|r| !r.is_empty()) else { return bad_request("The resourceId field is required.".into()) };
    if !matches!(q.role.as_deref(), Some("Recipient" | "Sender" | "RecipientAndSender")) {
        return bad_request("The role field is required (Recipient, Sender or RecipientAndSender).".into());
    }
    let (from, to) = match (time(&q.from, "from"), time(&q.to, "to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return bad_request("From date cannot be after to date (1027)".into());
    }
    let mut guard = sim.lock().unwrap();
    let s = match open(&mut guard, &headers, &SCOPES, SOURCE) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut rows: Vec<(i64, &String)> = s
        .items
        .iter()
        .filter(|(_, i)| i.value["resourceId"].as_str() == Some(resource.as_str()))
        .filter_map(|(id, i)| Some((publish_time(&i.value)?, id)))
        .filter(|(t, _)| from.is_none_or(|f| *t > f) && to.is_none_or(|u| *t < u))
        .collect();
    // Newest first; ties in the database's order, which nothing fixes.
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    rows.truncate(CAP);
    Json(json!({ "ids": rows.iter().map(|r| r.1).collect::<Vec<_>>() })).into_response()
}

pub(super) async fn details(State(sim): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut guard = sim.lock().unwrap();
    let s = match open(&mut guard, &headers, &SCOPES, SOURCE) {
        Ok(s) => s,
        Err(r) => return r,
    };
    s.item_fetches += 1;
    match s.items.get(&id.to_ascii_lowercase()) {
        Some(i) => Json(as_sender_sees(s.served(i))).into_response(),
        None => not_found(),
    }
}

/// A correspondence as its sender reads it.
fn as_sender_sees(mut v: Value) -> Value {
    let Some(o) = v.as_object_mut() else { return v };
    o.remove("lastChanged");
    let mut history: Vec<Value> = o.get("statusHistory").and_then(Value::as_array).cloned().unwrap_or_default();
    history.retain(|h| !h["status"].as_str().is_some_and(|s| HIDDEN.contains(&s)));
    history.sort_by(|a, b| a["statusChanged"].as_str().cmp(&b["statusChanged"].as_str()));
    if let Some(last) = history.last() {
        o.insert("status".into(), last["status"].clone());
        o.insert("statusChanged".into(), last["statusChanged"].clone());
    }
    o.insert("statusHistory".into(), Value::Array(history));
    v
}
