//! Change events as CloudEvents, in commit order: `GET /api/v1/events?after=SEQ` pages them,
//! `GET /api/v1/events/stream` sends them as server-sent events (each with its sequence number
//! as the SSE id, so a client reconnecting with `Last-Event-ID`, or `?after=`, resumes where it
//! stood). End users get the events of the parties they may represent, service owners those of
//! their own service resources.

use super::ApiState;
use super::auth::SERVICEOWNER_SCOPE;
use super::enduser::{EndUser, bearer};
use super::problem::Problem;
use super::serviceowner::ServiceOwner;
use crate::store::service::hash_uuid;
use crate::store::{Audience, ChangeEvent};
use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
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

/// The CloudEvent type of a change: `dialogporten.dialog.created.v1`…, and for activities
/// `dialogporten.dialog.activity.{type in kebab case}.v1` (`…activity.correspondence-opened.v1`).
pub fn event_type(e: &ChangeEvent) -> String {
    match e.detail.as_ref().and_then(|d| d["activityType"].as_str()) {
        Some(t) if e.kind == "activity" => {
            let mut kebab = String::new();
            for (i, c) in t.chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    kebab.push('-');
                }
                kebab.extend(c.to_lowercase());
            }
            format!("dialogporten.dialog.activity.{kebab}.v1")
        }
        _ => format!("dialogporten.dialog.{}.v1", e.kind),
    }
}

/// One change as a Dialogporten CloudEvent.
pub fn cloud_event(e: &ChangeEvent) -> Value {
    let mut v = json!({
        "specversion": "1.0",
        "id": hash_uuid(&format!("{}/{}", e.seq, e.dialog_id)),
        "type": event_type(e),
        "time": e.at,
        "source": format!("urn:dialogsync:source:{}", e.source),
        "resourceinstance": e.dialog_id,
        "sequence": e.seq,
        "data": { "dialogId": e.dialog_id, "source": e.source },
    });
    if let Some(id) = e.detail.as_ref().map(|d| &d["activityId"]).filter(|id| !id.is_null()) {
        v["data"]["activityId"] = id.clone();
    }
    if let Some(r) = &e.service_resource {
        v["resource"] = r.clone().into();
    }
    if let Some(p) = &e.party {
        v["subject"] = p.clone().into();
    }
    v
}

/// Whose events a caller reads: an end user's parties', a service owner's resources'.
pub struct Reader(Audience);

impl FromRequestParts<Arc<ApiState>> for Reader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, Problem> {
        let claims = bearer(parts, &state.keys)?;
        if claims.scope.split_whitespace().any(|s| s == SERVICEOWNER_SCOPE) {
            let owner = ServiceOwner::from_claims(&claims, &state.config)?;
            return Ok(Reader(Audience::Resources(owner.resources)));
        }
        let user = EndUser::from_claims(claims, state).await?;
        Ok(Reader(Audience::Parties(user.parties)))
    }
}

pub async fn list(State(state): State<Arc<ApiState>>, Reader(audience): Reader, Query(p): Query<Params>) -> Result<Json<Value>, Problem> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "a number from 1 to 1000"));
    }
    let after = p.after.unwrap_or(0);
    let events = state.store.events_of(&audience, after, limit).await?;
    let last = events.last().map_or(after, |e| e.seq);
    Ok(Json(json!({ "events": events.iter().map(cloud_event).collect::<Vec<_>>(), "after": last })))
}

/// How often the stream looks for new events.
const POLL: Duration = Duration::from_millis(500);

pub async fn stream(
    State(state): State<Arc<ApiState>>,
    Reader(audience): Reader,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let after = resume.or(p.after).unwrap_or(0);
    let stream = futures_util::stream::unfold((state, audience, after, Vec::<ChangeEvent>::new()), |(state, audience, mut after, mut queue)| async move {
        loop {
            if !queue.is_empty() {
                let e = queue.remove(0);
                let event = Event::default().id(e.seq.to_string()).event(event_type(&e)).data(cloud_event(&e).to_string());
                return Some((Ok(event), (state, audience, after, queue)));
            }
            match state.store.events_of(&audience, after, 500).await {
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
