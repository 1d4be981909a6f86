//! Altinn Events over the simulator's A3 changes (`../shared/altinn/real-apis.md` §2, §3.4):
//!
//! - `POST /events/api/v1/subscriptions` `{endPoint, sourceFilter, resourceFilter, typeFilter, …}`
//!   → 201 with the subscription; `endPoint` must be an absolute URI (https, or http on this
//!   machine's loopback, which Events would refuse) and a source or resource filter is needed
//!   (400 otherwise). Events then posts the `platform.events.validatesubscription` CloudEvent
//!   to the endpoint; a 2xx reply validates it (`GET …/subscriptions/{id}` shows `validated`),
//!   any other is tried again, three times at most here.
//! - Each A3 change then goes, as an `application/cloudevents+json` POST, to every validated
//!   subscription it matches (`sourceFilter` a prefix, `%25` a wildcard at its end;
//!   `resourceFilter` and `typeFilter` equal), and to `--push`:
//!   - an app instance's: `app.instance.created`, `app.instance.process.completed` (its
//!     process ended) or `app.instance.process.movedTo.{task}`, `source` the instance's URL
//!     on its app (`https://{org}.apps.tt02.altinn.no/{org}/{app}/instances/{partyId}/{guid}`),
//!     `resourceinstance` `{partyId}/{guid}`;
//!   - a correspondence's: `no.altinn.correspondence.` + its last status's event
//!     (`correspondencepublished`, `correspondencereceiverread`, …), `source` the
//!     simulator's Correspondence URL (`http://ADDR/correspondence/api/v1/correspondence`),
//!     `resourceinstance` its id.
//!   Delivery is tried three times, a second apart (Events' own schedule goes on for a day).
//! - With Maskinporten clients registered, subscribing needs `altinn:events.subscribe`.

use super::storage::{PUBLIC, authorized};
use super::{Shared, bad_request};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Value, json};

const VALIDATE: &str = "platform.events.validatesubscription";

#[derive(Clone)]
pub(super) struct Subscription {
    id: u64,
    end_point: String,
    source_filter: Option<String>,
    resource_filter: Option<String>,
    type_filter: Option<String>,
    validated: bool,
}

impl Subscription {
    fn json(&self) -> Value {
        json!({ "id": self.id, "endPoint": self.end_point, "sourceFilter": self.source_filter, "resourceFilter": self.resource_filter, "typeFilter": self.type_filter, "validated": self.validated })
    }

    fn matches(&self, e: &Value) -> bool {
        let field = |k: &str| e[k].as_str().unwrap_or_default();
        let source_ok = self.source_filter.as_deref().is_none_or(|f| match f.strip_suffix("%25") {
            Some(prefix) => field("source").starts_with(prefix),
            None => field("source") == f || field("source").starts_with(&format!("{f}/")),
        });
        source_ok && self.resource_filter.as_deref().is_none_or(|r| field("resource") == r) && self.type_filter.as_deref().is_none_or(|t| field("type") == t)
    }
}

fn absolute(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost")
}

pub(super) async fn subscribe(State(sim): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Ok(b) = serde_json::from_slice::<Value>(&body) else { return bad_request("the body is not a subscription request".into()) };
    let text = |k: &str| b[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let Some(end_point) = text("endPoint").filter(|e| absolute(e)) else { return bad_request("Missing or invalid endpoint to push events towards.".into()) };
    let (source_filter, resource_filter) = (text("sourceFilter"), text("resourceFilter"));
    if source_filter.is_none() && resource_filter.is_none() {
        return bad_request("A valid source filter or resource filter is required.".into());
    }
    if source_filter.as_deref().is_some_and(|s| !absolute(s)) {
        return bad_request("Source filter must be an absolute URI.".into());
    }
    let sub = {
        let mut guard = sim.lock().unwrap();
        if let Err(r) = authorized(&guard, &headers, &["altinn:events.subscribe"]) {
            return r;
        }
        let id = guard.subscriptions.len() as u64 + 1;
        let sub = Subscription { id, end_point, source_filter, resource_filter, type_filter: text("typeFilter"), validated: false };
        guard.subscriptions.push(sub.clone());
        sub
    };
    let validation = json!({
        "specversion": "1.0",
        "id": crate::runtime::sha256_hex(format!("validate/{}", sub.id).as_bytes()),
        "type": VALIDATE,
        "source": format!("{PUBLIC}/events/api/v1/subscriptions/{}", sub.id),
        "time": crate::clock::stamp(),
    });
    let (sim2, id, url) = (sim.clone(), sub.id, sub.end_point.clone());
    std::thread::spawn(move || {
        if deliver(&url, &validation) {
            if let Some(s) = sim2.lock().unwrap().subscriptions.iter_mut().find(|s| s.id == id) {
                s.validated = true;
            }
        }
    });
    (StatusCode::CREATED, Json(sub.json())).into_response()
}

pub(super) async fn subscription(State(sim): State<Shared>, Path(id): Path<u64>) -> Response {
    match sim.lock().unwrap().subscriptions.iter().find(|s| s.id == id) {
        Some(s) => Json(s.json()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "title": "Not Found", "status": 404 }))).into_response(),
    }
}

/// POSTs one CloudEvent, up to three times; whether a 2xx came back.
fn deliver(url: &str, event: &Value) -> bool {
    for attempt in 0..3 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        match ureq::post(url).header("Content-Type", "application/cloudevents+json").send(event.to_string()) {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => tracing::warn!(url = %url, status = r.status().as_u16(), "an event was refused"),
            Err(e) => tracing::warn!(url = %url, error = %e, "could not deliver an event"),
        }
    }
    false
}

/// The CloudEvent Altinn would publish for a change of an A3 record (`value`, its new version).
pub(super) fn cloud_event(origin: &str, source: &str, id: &str, kind: &str, value: &Value) -> Option<Value> {
    let event_id = crate::runtime::sha256_hex(format!("{source}/{id}/{}", crate::clock::micros()).as_bytes());
    let mut e = json!({ "specversion": "1.0", "id": event_id, "time": crate::clock::stamp(), "resourceinstance": id });
    match source {
        "a3-app-instances" => {
            let (org, app) = (value["org"].as_str()?, value["appId"].as_str()?);
            e["type"] = match (kind, value["process"]["ended"].is_string(), value["process"]["currentTask"]["elementId"].as_str()) {
                ("created", _, _) => "app.instance.created".into(),
                (_, true, _) => "app.instance.process.completed".into(),
                (_, _, Some(task)) => format!("app.instance.process.movedTo.{task}").into(),
                _ => "app.instance.substatus.changed".into(),
            };
            e["source"] = format!("https://{org}.apps.tt02.altinn.no/{app}/instances/{id}").into();
            e["resource"] = format!("urn:altinn:resource:app_{}", app.replace('/', "_")).into();
            e["subject"] = format!("/party/{}", id.split('/').next().unwrap_or_default()).into();
        }
        "a3-correspondence" => {
            let last = value["statusHistory"].as_array().and_then(|h| h.iter().max_by(|a, b| a["statusChanged"].as_str().cmp(&b["statusChanged"].as_str())))?;
            let event = match last["status"].as_str()? {
                "Initialized" => "correspondenceinitialized",
                "Published" => "correspondencepublished",
                "Read" => "correspondencereceiverread",
                "Confirmed" => "correspondencereceiverconfirmed",
                "Replied" => "correspondencereceiverreplied",
                "Reserved" => "correspondencereceiverreserved",
                "Archived" => "correspondencearchived",
                "PurgedByRecipient" | "PurgedByAltinn" => "correspondencepurged",
                "Failed" => "correspondencepublishfailed",
                _ => return None,
            };
            e["type"] = format!("no.altinn.correspondence.{event}").into();
            // Correspondence names its own base URL: here, the simulator's.
            e["source"] = format!("{origin}/correspondence/api/v1/correspondence").into();
            e["resource"] = format!("urn:altinn:resource:{}", value["resourceId"].as_str()?).into();
        }
        _ => return None,
    }
    Some(e)
}

/// Delivers the events of `changes` to `push` (every one) and to the subscriptions each matches.
pub(super) fn publish(sim: &Shared, events: Vec<(String, Value)>) {
    let (push, subs) = {
        let s = sim.lock().unwrap();
        (s.push.clone(), s.subscriptions.iter().filter(|s| s.validated).cloned().collect::<Vec<_>>())
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    for (source, e) in events {
        if let Some(push) = &push {
            out.push((format!("{}/sources/{source}/events", push.trim_end_matches('/')), e.clone()));
        }
        out.extend(subs.iter().filter(|s| s.matches(&e)).map(|s| (s.end_point.clone(), e.clone())));
    }
    if !out.is_empty() {
        std::thread::spawn(move || {
            for (url, e) in out {
                deliver(&url, &e);
            }
        });
    }
}
