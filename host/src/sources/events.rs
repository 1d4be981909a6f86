//! Altinn Events for a source (`../shared/altinn/real-apis.md` §2): `dialogsync subscribe`
//! creates the subscriptions that deliver its changes to a host's
//! `POST /sources/{source}/events` (the scheduler's receiver), one for each organisation or app
//! of an `altinn-storage` source and one for each resource of an `altinn-correspondence` one.

use crate::config::SourceConfig;
use crate::maskinporten::Maskinporten;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("source {source_name} has no `events_url` (Altinn Events' API, e.g. https://platform.tt02.altinn.no/events/api/v1)")]
    NoEventsUrl { source_name: String },
    #[error("source {source_name}: connector `{connector}` has no Altinn events (altinn-storage and altinn-correspondence have)")]
    NoEvents { source_name: String, connector: String },
    #[error("source {source_name}: a Maskinporten token (altinn:events.subscribe): {message}")]
    Token { source_name: String, message: String },
    #[error("POST {url}: {message}")]
    Post { url: String, message: String },
    #[error("POST {url}: HTTP {status}: {body}")]
    Refused { url: String, status: u16, body: String },
}

/// The subscription requests for `source`'s changes to reach `endpoint` (its `events_code`
/// added as `?code=`).
pub fn requests(source: &str, sc: &SourceConfig, endpoint: &str) -> Result<Vec<Value>, SubscribeError> {
    let end_point = match &sc.events_code {
        Some(code) => format!("{endpoint}{}code={}", if endpoint.contains('?') { '&' } else { '?' }, form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()),
        None => endpoint.to_string(),
    };
    match sc.connector.as_str() {
        "altinn-storage" => {
            let domain = sc.apps_domain.as_deref().unwrap_or("apps.altinn.no");
            // An app subscription's source is `{app base}/{org}/{app}`; `%25` is Events' wildcard.
            let filters: Vec<String> = match (&sc.app_id, &sc.org) {
                (Some(app), _) => vec![format!("https://{}.{domain}/{app}", app.split('/').next().unwrap_or(app))],
                (None, Some(org)) => vec![format!("https://{org}.{domain}/{org}/%25")],
                (None, None) => vec![],
            };
            Ok(filters.into_iter().map(|f| json!({ "endPoint": end_point, "sourceFilter": f })).collect())
        }
        "altinn-correspondence" => {
            let source_filter = sc.url.clone().unwrap_or_default().trim_end_matches('/').to_string();
            Ok(sc.resources.iter().map(|r| json!({ "endPoint": end_point, "sourceFilter": source_filter, "resourceFilter": format!("urn:altinn:resource:{r}") })).collect())
        }
        other => Err(SubscribeError::NoEvents { source_name: source.into(), connector: other.into() }),
    }
}

/// Creates the subscriptions (`POST {events_url}/subscriptions`), with a Maskinporten token
/// when a client is configured; returns what Events answered for each.
pub fn subscribe(source: &str, sc: &SourceConfig, endpoint: &str, maskinporten: Option<&Maskinporten>) -> Result<Vec<Value>, SubscribeError> {
    let base = sc.events_url.as_deref().ok_or_else(|| SubscribeError::NoEventsUrl { source_name: source.into() })?;
    let url = format!("{}/subscriptions", base.trim_end_matches('/'));
    let token = maskinporten
        .map(|m| m.token("altinn:events.subscribe").map_err(|e| SubscribeError::Token { source_name: source.into(), message: format!("{e:#}") }))
        .transpose()?;
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(std::time::Duration::from_secs(60))).http_status_as_error(false).build().into();
    let mut out = Vec::new();
    for body in requests(source, sc, endpoint)? {
        let mut req = agent.post(&url).header("Content-Type", "application/json");
        if let Some(t) = &token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let post = |message: String| SubscribeError::Post { url: url.clone(), message };
        let mut r = req.send(body.to_string()).map_err(|e| post(e.to_string()))?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().map_err(|e| post(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(SubscribeError::Refused { url: url.clone(), status, body: text.chars().take(300).collect() });
        }
        out.push(serde_json::from_str(&text).unwrap_or(Value::String(text)));
    }
    Ok(out)
}
