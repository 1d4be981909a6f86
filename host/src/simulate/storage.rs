//! Altinn Storage's instance query over the simulator's app instances, as Storage answers it
//! (`../shared/altinn/real-apis.md` §1.2–1.5), quirks included:
//!
//! - `GET /storage/api/v1/instances?org=|appId=…`: neither → 400 "Org or AppId must be defined.";
//!   `lastChanged` / `created` date expressions `{op}:{date}` (gt, gte, lt, lte, eq; repeat the
//!   key for a range) — a value without an operator names an unknown parameter and is silently
//!   ignored, a bad date is 400; `order` (`desc:…` descending, anything else ascending; the
//!   default descending); `size` (default 100, no maximum); `mainVersionInclude` /
//!   `mainVersionExclude` (neither: Altinn 3 only; an instance's version is its
//!   `altinnMainVersion`, 3 when it has none).
//! - Rows are ordered by `lastChanged` that way and then by id, **always ascending**; the
//!   continuation `{lastChanged};{id}` of a page's last row goes on with `lastChanged > c OR
//!   (lastChanged = c AND id > cid)` ascending and with `<`, `<` descending — so descending
//!   pages skip and repeat rows that share a `lastChanged` across a boundary, as Storage's do.
//! - `next` is set only when a page is full (a last page that is exactly full is followed by an
//!   empty one), and is an absolute public URL on `platform.tt02.altinn.no` whatever address was
//!   asked, its token URL-encoded twice.
//! - `GET /storage/api/v1/instances/{partyId}/{guid}`: one instance, 404 when there is none.
//! - With Maskinporten clients registered, every request needs a token of the simulator's
//!   token endpoint with `altinn:serviceowner/instances.read` or
//!   `altinn:storage/instances.syncadapter` (else 401, or 403 without the scope).
//! - `GET /storage/api/v1/instances/{partyId}/{guid}/events`: `{"instanceEvents": [...]}`, the
//!   instance's events, which the instance itself does not carry (as Storage's do not).

use super::{Shared, admit, bad_request};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Value, json};

const SOURCE: &str = "a3-app-instances";
/// The public origin Storage's `next` links name.
pub const PUBLIC: &str = "https://platform.tt02.altinn.no";

/// A date expression's test of an instant (microseconds).
struct Expr {
    op: &'static str,
    at: i64,
}

impl Expr {
    fn holds(&self, t: i64) -> bool {
        match self.op {
            "gt" => t > self.at,
            "gte" => t >= self.at,
            "lt" => t < self.at,
            "lte" => t <= self.at,
            _ => t == self.at,
        }
    }
}

/// `{op}:{date}`; None when the operator is unknown (Storage ignores such a parameter).
fn expr(key: &str, v: &str) -> Result<Option<Expr>, Response> {
    let Some((op, date)) = v.split_once(':') else { return Ok(None) };
    let op = match op {
        "gt" => "gt",
        "gte" => "gte",
        "lt" => "lt",
        "lte" => "lte",
        "eq" => "eq",
        _ => return Ok(None),
    };
    let at = chrono::DateTime::parse_from_rfc3339(date)
        .map(|t| t.timestamp_micros())
        .or_else(|_| date.parse::<chrono::NaiveDateTime>().map(|t| t.and_utc().timestamp_micros()))
        .map_err(|_| bad_request(format!("Invalid date expression: {v} for query key: {key}")))?;
    Ok(Some(Expr { op, at }))
}

/// Storage's scopes for reading instances (`AuthorizeOrgCaller`).
const SCOPES: [&str; 2] = ["altinn:serviceowner/instances.read", "altinn:storage/instances.syncadapter"];

/// The caller's token, where the simulator has Maskinporten clients: 401 without a valid one,
/// 403 without one of `scopes`.
pub(super) fn authorized(sim: &super::Sim, headers: &HeaderMap, scopes: &[&str]) -> Result<(), Response> {
    let Some(keys) = &sim.storage_keys else { return Ok(()) };
    let refuse = |code: StatusCode, m: String| Err((code, Json(json!({ "title": m, "status": code.as_u16() }))).into_response());
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else { return refuse(StatusCode::UNAUTHORIZED, "a bearer token is required".into()) };
    match keys.verify(token) {
        Ok(c) if c.scope.split_whitespace().any(|s| scopes.contains(&s)) => Ok(()),
        Ok(c) => refuse(StatusCode::FORBIDDEN, format!("scope `{}` is none of {}", c.scope, scopes.join(", "))),
        Err(e) => refuse(StatusCode::UNAUTHORIZED, e.detail.unwrap_or_else(|| e.title.to_string())),
    }
}

/// Source `source` for a caller with one of `scopes`, the request counted.
pub(super) fn open<'a>(sim: &'a mut super::Sim, headers: &HeaderMap, scopes: &[&str], source: &str) -> Result<&'a mut super::Source, Response> {
    authorized(sim, headers, scopes)?;
    admit(sim, source)
}

pub(super) fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "title": "Not Found", "status": 404 }))).into_response()
}

pub(super) async fn query(State(sim): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    let one = |k: &str| pairs.iter().find(|(x, _)| x.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    let (org, app_id) = (one("org"), one("appId"));
    if org.is_none() && app_id.is_none() {
        return bad_request("Org or AppId must be defined.".into());
    }
    let mut changed = Vec::new();
    let mut created = Vec::new();
    for (k, v) in &pairs {
        let list = match k.as_str() {
            "lastChanged" => &mut changed,
            "created" => &mut created,
            _ => continue,
        };
        match expr(k, v) {
            Ok(Some(e)) => list.push(e),
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    let descending = one("order").unwrap_or_else(|| "desc:lastChanged".into()).starts_with("desc:");
    let size: usize = match one("size").map(|s| s.parse()) {
        None => 100,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return bad_request("size must be a positive number".into()),
    };
    let include = one("mainVersionInclude").and_then(|v| v.parse::<i64>().ok());
    let exclude = one("mainVersionExclude").and_then(|v| v.parse::<i64>().ok());
    let version_ok = |v: i64| match (include, exclude) {
        (Some(i), _) => v == i,
        (None, Some(x)) => v != x,
        (None, None) => v == 3,
    };
    // One UrlDecode on input (the query string's own decoding is the other).
    let after = match one("continuationToken") {
        None => None,
        Some(t) => {
            let t: String = form_urlencoded::parse(format!("t={t}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
            match t.split_once(';').and_then(|(c, id)| Some((c.parse::<i64>().ok()?, id.to_string()))) {
                Some(c) => Some(c),
                None => return bad_request(format!("continuationToken `{t}` is not one this server gave")),
            }
        }
    };

    let mut guard = sim.lock().unwrap();
    let s = match open(&mut guard, &headers, &SCOPES, SOURCE) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut rows: Vec<(i64, &String, Value)> = s
        .items
        .iter()
        .filter(|(_, i)| {
            let v = &i.value;
            org.as_ref().is_none_or(|o| v["org"].as_str() == Some(o.as_str()))
                && app_id.as_ref().is_none_or(|a| v["appId"].as_str() == Some(a.as_str()))
                && version_ok(v["altinnMainVersion"].as_i64().unwrap_or(3))
                && changed.iter().all(|e| e.holds(i.changed))
                && created.iter().all(|e| e.holds(i.created))
        })
        .map(|(id, i)| (i.changed, id, without_events(s.served(i))))
        .collect();
    rows.sort_by(|a, b| if descending { b.0.cmp(&a.0).then(a.1.cmp(b.1)) } else { a.0.cmp(&b.0).then(a.1.cmp(b.1)) });
    if let Some((c, cid)) = &after {
        rows.retain(|(t, id, _)| if descending { *t < *c || (*t == *c && id.as_str() < cid.as_str()) } else { *t > *c || (*t == *c && id.as_str() > cid.as_str()) });
    }
    rows.truncate(size);
    let next = (rows.len() == size).then(|| {
        let (t, id, _) = rows.last().expect("a full page");
        let token = format!("{t};{id}");
        let once: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "continuationToken") {
            q.append_pair(k, v);
        }
        q.append_pair("continuationToken", &once);
        format!("{PUBLIC}/storage/api/v1/instances?{}", q.finish())
    });
    let instances: Vec<Value> = rows.into_iter().map(|r| r.2).collect();
    let mut body = json!({ "count": instances.len(), "self": format!("{PUBLIC}/storage/api/v1/instances?{raw}"), "instances": instances });
    if let Some(n) = next {
        body["next"] = n.into();
    }
    Json(body).into_response()
}

pub(super) async fn instance(State(sim): State<Shared>, headers: HeaderMap, Path((party, guid)): Path<(String, String)>) -> Response {
    let mut guard = sim.lock().unwrap();
    let s = match open(&mut guard, &headers, &SCOPES, SOURCE) {
        Ok(s) => s,
        Err(r) => return r,
    };
    s.item_fetches += 1;
    match s.items.get(&format!("{party}/{guid}")) {
        Some(i) => Json(without_events(s.served(i))).into_response(),
        None => not_found(),
    }
}

/// An instance as Storage's instance endpoints return it: its events are a resource of their own.
fn without_events(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("instanceEvents");
    }
    v
}

pub(super) async fn events(State(sim): State<Shared>, headers: HeaderMap, Path((party, guid)): Path<(String, String)>) -> Response {
    let mut guard = sim.lock().unwrap();
    let s = match open(&mut guard, &headers, &SCOPES, SOURCE) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match s.items.get(&format!("{party}/{guid}")) {
        Some(i) => Json(json!({ "instanceEvents": i.value.get("instanceEvents").cloned().unwrap_or_else(|| json!([])) })).into_response(),
        None => not_found(),
    }
}
