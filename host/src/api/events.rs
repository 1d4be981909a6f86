//! Change events as CloudEvents, in commit order: `GET /api/v1/events?after=SEQ` pages them,
//! `GET /api/v1/events/stream` sends them as server-sent events (each with its sequence number
//! as the SSE id, so a client reconnecting with `Last-Event-ID`, or `?after=`, resumes where it
//! stood). End users get the events of the parties they may represent.

use super::ApiState;
use super::enduser::EndUser;
use super::problem::Problem;
use crate::store::ChangeEvent;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[derive(Deserialize)]
pub struct Params {
    after: Option<i64>,
    limit: Option<i64>,
}

/// One change as a Dialogporten CloudEvent (`dialogporten.dialog.created.v1`…).
pub fn cloud_event(e: &ChangeEvent) -> Value {
    let h = crate::runtime::sha256_hex(format!("{}/{}", e.seq, e.dialog_id).as_bytes());
    let mut v = json!({
        "specversion": "1.0",
        "id": format!("{}-{}-4{}-8{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]),
        "type": format!("dialogporten.dialog.{}.v1", e.kind),
        "time": e.at,
        "source": format!("urn:dialogsync:source:{}", e.source),
        "resourceinstance": e.dialog_id,
        "sequence": e.seq,
        "data": { "dialogId": e.dialog_id, "source": e.source },
    });
    if let Some(r) = &e.service_resource {
        v["resource"] = r.clone().into();
    }
    if let Some(p) = &e.party {
        v["subject"] = p.clone().into();
    }
    v
}

pub async fn list(State(state): State<Arc<ApiState>>, user: EndUser, Query(p): Query<Params>) -> Result<Json<Value>, Problem> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "a number from 1 to 1000"));
    }
    let after = p.after.unwrap_or(0);
    let events = state.store.events_of(Some(&user.parties), after, limit).await?;
    let last = events.last().map_or(after, |e| e.seq);
    Ok(Json(json!({ "events": events.iter().map(cloud_event).collect::<Vec<_>>(), "after": last })))
}

/// How often the stream looks for new events.
const POLL: Duration = Duration::from_millis(500);

pub async fn stream(
    State(state): State<Arc<ApiState>>,
    user: EndUser,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let after = resume.or(p.after).unwrap_or(0);
    let parties = user.parties;
    let stream = futures_util::stream::unfold((state, parties, after, Vec::<ChangeEvent>::new()), |(state, parties, mut after, mut queue)| async move {
        loop {
            if !queue.is_empty() {
                let e = queue.remove(0);
                let event = Event::default().id(e.seq.to_string()).event(format!("dialogporten.dialog.{}.v1", e.kind)).data(cloud_event(&e).to_string());
                return Some((Ok(event), (state, parties, after, queue)));
            }
            match state.store.events_of(Some(&parties), after, 500).await {
                Ok(events) if !events.is_empty() => {
                    after = events.last().map_or(after, |e| e.seq);
                    queue = events;
                }
                Ok(_) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    tracing::warn!(error = %e, "event stream: store read failed");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
