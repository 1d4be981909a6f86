//! `dialogsync simulate`: the four legacy sources over HTTP, from generated data, so the whole
//! pipeline runs against something that behaves like Altinn with no Altinn access.
//!
//! Each source holds `days` days of history (`per_day` records a day, created on that day)
//! and serves the `http` connector's requests (sources/http.rs). Changes arrive over time —
//! every `change_every`, or on `POST /_sim/advance?steps=N` — and are the records' own later
//! versions (read, confirmed, archived, deleted…) or new records, stamped with the time they
//! happen. Which change comes next depends only on the seed, so two simulators with the same
//! seed and steps hold the same records (up to those stamps).
//!
//! Also: `GET /parties.csv` (the register for records that name only a party id),
//! `POST /_sim/fail?source=S&count=N` (the next N requests to S fail with 503),
//! `GET /_sim/stats` (requests and single-item fetches per source, steps applied),
//! `GET /_sim/ids?source=S` (every id the source holds), and
//! Altinn Storage's own instance query over the app instances (`simulate/storage.rs`) and
//! Altinn 3 Correspondence's list and details over the A3 correspondences
//! (`simulate/correspondence.rs`).

/// The Maskinporten-like token endpoint.
pub mod token;
/// Altinn Storage's instance query over the app instances.
mod storage;
/// Altinn 3 Correspondence's list and details over the A3 correspondences.
mod correspondence;
/// Altinn Events: subscriptions, their validation, and the A3 changes delivered to them.
mod events;

use crate::config::known;
use crate::generate::Versions;
use crate::sources::RecordKeys;
use anyhow::Result;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, NaiveDate};
use dialogsync_sdk::time::{format_oslo, parse_oslo};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

pub struct Options {
    pub seed: u64,
    pub days: u32,
    pub per_day: usize,
    /// The last day of history is the day before this one.
    pub today: NaiveDate,
    /// Time between changes; zero: only on `POST /_sim/advance`.
    pub change_every: std::time::Duration,
    /// Where to push CloudEvents for changes of the A3 sources (a `dialogsync run --listen`
    /// address, `http://HOST:PORT`).
    pub push: Option<String>,
    /// Fraction of records served without their id (the connector must dead-letter them).
    pub bad_ratio: f64,
    /// Clients the Maskinporten-like token endpoint knows ([`token`]).
    pub maskinporten_clients: Vec<token::Client>,
    /// How long its access tokens live.
    pub token_ttl: std::time::Duration,
    /// App instances more, of organisation `ttd`, all changed at one instant (the day before
    /// `today`, 12:00 UTC): ties for Storage's paging. Every tenth is an Altinn 2 one
    /// (`altinnMainVersion` 2), which Storage returns only when asked for every version.
    pub storage_ties: usize,
    /// Instances read from this folder (JSON documents as Storage stores them) are the app
    /// instances instead of generated ones, served with Storage's `{partyId}/{guid}` ids.
    pub storage_instances: Option<std::path::PathBuf>,
    /// A3 correspondences more, of resource `skd-vedtak`, all published on the day before
    /// `today` in groups of `correspondence_tie_size` that share one publish time: ties for
    /// Correspondence's capped list.
    pub correspondence_ties: usize,
    pub correspondence_tie_size: usize,
}

struct Item {
    created: i64,
    changed: i64,
    value: Value,
    /// Later versions not yet happened, oldest first.
    pending: VecDeque<Value>,
    /// Served without its id (fixed per record).
    bad: bool,
}

struct Source {
    keys: RecordKeys,
    /// Key of the record list in a page (`instances` for app instances).
    list: String,
    versions: Versions,
    items: BTreeMap<String, Item>,
    next_index: usize,
    requests: u64,
    item_fetches: u64,
    fail: u32,
}

struct Sim {
    sources: BTreeMap<String, Source>,
    rng: ChaCha8Rng,
    steps: u64,
    last_stamp: i64,
    bad_ratio: f64,
    today: NaiveDate,
    push: Option<String>,
    /// With Maskinporten clients: Storage's endpoints take only the token endpoint's tokens.
    storage_keys: Option<crate::api::auth::Keys>,
    subscriptions: Vec<events::Subscription>,
    /// Where it listens (`http://HOST:PORT`): its Correspondence's base URL, named by its events.
    origin: String,
}

type Shared = Arc<Mutex<Sim>>;

/// Whether record `id` of `source` is one of the `ratio` served malformed (fixed per id).
fn malformed(ratio: f64, source: &str, id: &str) -> bool {
    if ratio <= 0.0 {
        return false;
    }
    let h = u64::from_str_radix(&crate::runtime::sha256_hex(format!("{source}/{id}").as_bytes())[..12], 16).unwrap_or(0);
    (h % 10_000) as f64 / 10_000.0 < ratio
}

/// Replaces every time in `v` later than `now` with `now`, in the style it was written in
/// (Altinn 2 wall time, or RFC 3339 UTC): nothing the simulator serves lies in the future.
/// Due dates (`dueDate`, `dueBefore`, `dueDateTime`) are not things that happened, and stay:
/// moved to "now", they fell due while being synced, and whether a live tick kept one (it
/// drops due dates already past) hung on the wall clock.
fn restamp(v: &mut Value, now: i64) {
    match v {
        Value::String(s) => {
            if let Ok(t) = parse_oslo(s)
                && t > now
            {
                *s = stamp_like(s, now);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| restamp(x, now)),
        Value::Object(o) => o.iter_mut().filter(|(k, _)| !k.starts_with("due")).for_each(|(_, x)| restamp(x, now)),
        _ => {}
    }
}

fn stamp_like(old: &str, t: i64) -> String {
    if DateTime::parse_from_rfc3339(old).is_ok() {
        crate::clock::format_micros(t)
    } else {
        format_oslo(t)
    }
}

impl Source {
    fn new(name: &str, seed: u64) -> Result<Source> {
        let k = known(name).expect("known source");
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Ok(Source {
            keys: RecordKeys { id_field: k.id_field.into(), version_fields: strings(k.version_fields), created_fields: strings(k.created_fields) },
            list: k.items.trim_start_matches('/').into(),
            versions: Versions::new(name, seed)?,
            items: BTreeMap::new(),
            next_index: 0,
            requests: 0,
            item_fetches: 0,
            fail: 0,
        })
    }

    /// The record's id, version and creation time as the host will read them.
    fn keys_of(&self, v: &Value) -> Option<(String, i64, i64)> {
        let r = self.keys.record(v.to_string().into_bytes(), String::new()).ok()?;
        Some((r.source_id, r.version, r.created.unwrap_or(r.version)))
    }

    fn served(&self, item: &Item) -> Value {
        let mut v = item.value.clone();
        if item.bad && let Some(o) = v.as_object_mut() {
            o.remove(&self.keys.id_field);
        }
        v
    }
}

impl Sim {
    fn new(o: &Options) -> Result<Sim> {
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        let now = crate::clock::micros();
        let mut sources = BTreeMap::new();
        for k in crate::config::KNOWN_SOURCES {
            let mut s = Source::new(k.name, o.seed)?;
            for d in (1..=o.days).rev() {
                let day = o.today - Duration::days(d as i64);
                for _ in 0..o.per_day {
                    let i = s.next_index;
                    s.next_index += 1;
                    let mut versions: VecDeque<Value> = s.versions.record(i, day).into();
                    // History holds some prefix of the record's life; the rest is yet to happen.
                    let keep = rng.random_range(1..=versions.len());
                    let mut pending = versions.split_off(keep);
                    let mut value = versions.pop_back().expect("a record has a version");
                    // A version whose times lie ahead of now has not happened yet either.
                    while let Some((_, changed, _)) = s.keys_of(&value)
                        && changed > now
                        && let Some(earlier) = versions.pop_back()
                    {
                        pending.push_front(std::mem::replace(&mut value, earlier));
                    }
                    restamp(&mut value, now);
                    let Some((id, changed, created)) = s.keys_of(&value) else { continue };
                    let bad = malformed(o.bad_ratio, k.name, &id);
                    s.items.insert(id, Item { created, changed, value, pending, bad });
                }
            }
            sources.insert(k.name.to_string(), s);
        }
        if let Some(dir) = &o.storage_instances {
            let s = sources.get_mut("a3-app-instances").expect("the app instances");
            s.items.clear();
            let mut files: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f)?;
                let mut value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                // Storage's database keeps the bare guid; its API answers `{partyId}/{guid}`.
                let (party, id) = (value["instanceOwner"]["partyId"].as_str().unwrap_or_default().to_string(), value["id"].as_str().unwrap_or_default().to_string());
                if !id.contains('/') {
                    value["id"] = format!("{party}/{id}").into();
                }
                let Some((id, changed, created)) = s.keys_of(&value) else { continue };
                // Two versions of one instance: Storage holds the newer.
                if s.items.get(&id).is_none_or(|i| i.changed < changed) {
                    s.items.insert(id, Item { created, changed, value, pending: VecDeque::new(), bad: false });
                }
            }
        }
        if o.storage_ties > 0 {
            let s = sources.get_mut("a3-app-instances").expect("the app instances");
            let day = o.today - Duration::days(1);
            let at = day.and_hms_micro_opt(12, 0, 0, 123_456).expect("noon").and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            for k in 0..o.storage_ties {
                let i = s.next_index;
                s.next_index += 1;
                let mut value = s.versions.record(i, day).into_iter().next().expect("a record has a version");
                value["org"] = "ttd".into();
                value["appId"] = "ttd/endring-av-navn".into();
                value["created"] = at.clone().into();
                value["lastChanged"] = at.clone().into();
                // Saved once by its owner: an event only Storage's events resource tells.
                value["instanceEvents"] = json!([{ "eventType": "Saved", "created": at, "user": { "nationalIdentityNumber": value["instanceOwner"]["personNumber"] } }]);
                // Every tenth migrated from Altinn 2 (Storage's `altinnMainVersion` column).
                if k % 10 == 9 {
                    value["altinnMainVersion"] = 2.into();
                }
                let Some((id, changed, created)) = s.keys_of(&value) else { continue };
                s.items.insert(id, Item { created, changed, value, pending: VecDeque::new(), bad: false });
            }
        }
        if o.correspondence_ties > 0 {
            let s = sources.get_mut("a3-correspondence").expect("the A3 correspondences");
            let day = o.today - Duration::days(1);
            let size = o.correspondence_tie_size.max(1);
            let groups = o.correspondence_ties.div_ceil(size) as i64;
            let utc = |t: i64| crate::clock::format_micros(t);
            for k in 0..o.correspondence_ties {
                let i = s.next_index;
                s.next_index += 1;
                // Group g publishes at one instant; the groups spread over the day.
                let g = (k / size) as i64;
                let at = crate::clock::day_start(day) + g * (86_400_000_000 / groups) + 123_456;
                let mut value = s.versions.record(i, day).into_iter().next().expect("a record has a version");
                value["resourceId"] = "skd-vedtak".into();
                value["created"] = utc(at - 300_000_000).into();
                value["requestedPublishTime"] = utc(at).into();
                value["statusHistory"] = json!([{ "status": "Initialized", "statusChanged": utc(at - 300_000_000) }, { "status": "Published", "statusChanged": utc(at) }]);
                value["lastChanged"] = utc(at).into();
                let Some((id, changed, created)) = s.keys_of(&value) else { continue };
                s.items.insert(id, Item { created, changed, value, pending: VecDeque::new(), bad: false });
            }
        }
        Ok(Sim { sources, rng, steps: 0, last_stamp: now, bad_ratio: o.bad_ratio, today: o.today, push: o.push.clone(), storage_keys: None, subscriptions: Vec::new(), origin: String::new() })
    }

    /// One change, chosen by the seed: a new record (a third of the time) or the next version
    /// of a record that has one. Returns (source, id, what happened).
    fn step(&mut self) -> (String, String, &'static str) {
        self.steps += 1;
        let names: Vec<String> = self.sources.keys().cloned().collect();
        let name = names[self.rng.random_range(0..names.len())].clone();
        let now = crate::clock::micros().max(self.last_stamp + 1);
        self.last_stamp = now;
        let with_pending: Vec<String> = self.sources[&name].items.iter().filter(|(_, i)| !i.pending.is_empty()).map(|(id, _)| id.clone()).collect();
        let new = with_pending.is_empty() || self.rng.random_bool(1.0 / 3.0);
        let (today, ratio) = (self.today, self.bad_ratio);
        let s = self.sources.get_mut(&name).expect("source");
        let version_field = s.keys.version_fields[0].clone();
        let (mut value, kind, pending) = if new {
            let i = s.next_index;
            s.next_index += 1;
            let mut versions: VecDeque<Value> = s.versions.record(i, today).into();
            let first = versions.pop_front().expect("a record has a version");
            (first, "created", versions)
        } else {
            let id = &with_pending[self.rng.random_range(0..with_pending.len())];
            let item = s.items.get_mut(id).expect("item");
            let next = item.pending.pop_front().expect("pending version");
            (next, "changed", std::mem::take(&mut item.pending))
        };
        // It happens now: its change time (and a new record's creation time) is now, and
        // nothing in it lies later.
        restamp(&mut value, now);
        let mut stamped = vec![version_field];
        if new {
            stamped.extend(s.keys.created_fields.iter().cloned());
        }
        for field in stamped {
            if let Some(Value::String(old)) = value.get(&field).cloned() {
                value[&field] = Value::String(stamp_like(&old, now));
            }
        }
        // A correspondence's new status happens now too (its publish time, once published).
        if let Some(last) = value.get_mut("statusHistory").and_then(Value::as_array_mut).and_then(|h| h.last_mut()).filter(|_| !new) {
            last["statusChanged"] = Value::String(crate::clock::format_micros(now));
        }
        let Some((id, changed, created)) = s.keys_of(&value) else { return (name, String::new(), "unreadable") };
        let created = s.items.get(&id).map_or(created, |i| i.created);
        let bad = malformed(ratio, &name, &id);
        s.items.insert(id.clone(), Item { created, changed, value, pending, bad });
        (name, id, kind)
    }
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "changedSince")]
    changed_since: Option<String>,
    #[serde(rename = "createdFrom")]
    created_from: Option<String>,
    #[serde(rename = "createdBefore")]
    created_before: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

fn bad_request(m: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": m }))).into_response()
}

fn instant(s: &Option<String>, name: &str) -> Result<Option<i64>, Response> {
    s.as_deref().map(|v| parse_oslo(v).map_err(|e| bad_request(format!("{name}: {e}")))).transpose()
}

/// Counts a request; a source told to fail answers 503.
fn admit<'a>(sim: &'a mut Sim, source: &str) -> Result<&'a mut Source, Response> {
    let s = sim.sources.get_mut(source).ok_or_else(|| (StatusCode::NOT_FOUND, format!("no source {source}")).into_response())?;
    s.requests += 1;
    if s.fail > 0 {
        s.fail -= 1;
        return Err((StatusCode::SERVICE_UNAVAILABLE, "simulated outage").into_response());
    }
    Ok(s)
}

async fn list(State(sim): State<Shared>, Path(source): Path<String>, Query(q): Query<ListQuery>) -> Response {
    let since = match instant(&q.changed_since, "changedSince") { Ok(v) => v, Err(r) => return r };
    let from = match instant(&q.created_from, "createdFrom") { Ok(v) => v, Err(r) => return r };
    let before = match instant(&q.created_before, "createdBefore") { Ok(v) => v, Err(r) => return r };
    let mut guard = sim.lock().unwrap();
    let s = match admit(&mut guard, &source) { Ok(s) => s, Err(r) => return r };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    // Live queries go by change time, windows by id; either way the keyset is `after`.
    let mut rows: Vec<(String, &Item)> = s
        .items
        .iter()
        .filter(|(_, i)| since.is_none_or(|t| i.changed >= t) && from.is_none_or(|t| i.created >= t) && before.is_none_or(|t| i.created < t))
        .map(|(id, i)| (if since.is_some() { format!("{:020}:{id}", i.changed) } else { id.clone() }, i))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let start = q.after.as_ref().map_or(0, |a| rows.partition_point(|r| r.0 <= *a));
    let page = &rows[start.min(rows.len())..(start + limit).min(rows.len())];
    let items: Vec<Value> = page.iter().map(|(_, i)| s.served(i)).collect();
    let next = (start + limit < rows.len()).then(|| {
        let mut qs = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("changedSince", &q.changed_since), ("createdFrom", &q.created_from), ("createdBefore", &q.created_before)] {
            if let Some(v) = v {
                qs.append_pair(k, v);
            }
        }
        qs.append_pair("limit", &limit.to_string()).append_pair("after", &page.last().expect("a full page").0);
        format!("?{}", qs.finish())
    });
    let mut body = json!({ "next": next, "count": items.len() });
    body[&s.list] = Value::Array(items);
    Json(body).into_response()
}

#[derive(Deserialize)]
struct IdQuery {
    id: String,
}

async fn item(State(sim): State<Shared>, Path(source): Path<String>, Query(q): Query<IdQuery>) -> Response {
    let mut guard = sim.lock().unwrap();
    let s = match admit(&mut guard, &source) { Ok(s) => s, Err(r) => return r };
    s.item_fetches += 1;
    match s.items.get(&q.id) {
        Some(i) => Json(s.served(i)).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({ "error": "no such record" }))).into_response(),
    }
}

#[derive(Deserialize)]
struct DaysQuery {
    from: NaiveDate,
    to: NaiveDate,
}

async fn counts(State(sim): State<Shared>, Path(source): Path<String>, Query(q): Query<DaysQuery>) -> Response {
    let mut guard = sim.lock().unwrap();
    let s = match admit(&mut guard, &source) { Ok(s) => s, Err(r) => return r };
    let mut days: BTreeMap<String, u64> = BTreeMap::new();
    for i in s.items.values() {
        if let Some(d) = crate::clock::day_of(i.created).filter(|d| *d >= q.from && *d <= q.to) {
            *days.entry(d.to_string()).or_default() += 1;
        }
    }
    Json(days).into_response()
}

async fn parties(State(sim): State<Shared>) -> String {
    let sim = sim.lock().unwrap();
    let mut all: BTreeMap<&String, &String> = BTreeMap::new();
    for s in sim.sources.values() {
        all.extend(s.versions.parties());
    }
    let rows: String = all.iter().map(|(id, org)| format!("{id},{org}\n")).collect();
    format!("partyId,identifier\n{rows}")
}

#[derive(Deserialize)]
struct StepsQuery {
    steps: Option<u64>,
}

/// Applies changes; publishes CloudEvents for the A3 ones (`simulate/events.rs`).
fn advance(sim: &Shared, steps: u64) -> Vec<(String, String, &'static str)> {
    let (changes, events) = {
        let mut sim = sim.lock().unwrap();
        let changes: Vec<_> = (0..steps).map(|_| sim.step()).collect();
        let events: Vec<(String, Value)> = changes
            .iter()
            .filter(|(_, id, _)| !id.is_empty())
            .filter_map(|(s, id, kind)| Some((s.clone(), events::cloud_event(&sim.origin, s, id, kind, &sim.sources.get(s)?.items.get(id)?.value)?)))
            .collect();
        (changes, events)
    };
    events::publish(sim, events);
    changes
}

async fn advance_handler(State(sim): State<Shared>, Query(q): Query<StepsQuery>) -> Json<Value> {
    let changes = advance(&sim, q.steps.unwrap_or(1));
    let steps = sim.lock().unwrap().steps;
    Json(json!({
        "steps": steps,
        "changes": changes.iter().map(|(s, id, k)| json!({ "source": s, "id": id, "kind": k })).collect::<Vec<_>>(),
    }))
}

#[derive(Deserialize)]
struct FailQuery {
    source: String,
    count: u32,
}

async fn fail(State(sim): State<Shared>, Query(q): Query<FailQuery>) -> Response {
    match sim.lock().unwrap().sources.get_mut(&q.source) {
        Some(s) => {
            s.fail = q.count;
            StatusCode::NO_CONTENT.into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no source {}", q.source)).into_response(),
    }
}

#[derive(Deserialize)]
struct SourceQuery {
    source: String,
}

/// Every id a source holds, for tests that must know what "all" is.
async fn ids(State(sim): State<Shared>, Query(q): Query<SourceQuery>) -> Response {
    match sim.lock().unwrap().sources.get(&q.source) {
        Some(s) => Json(s.items.keys().collect::<Vec<_>>()).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no source {}", q.source)).into_response(),
    }
}

async fn stats(State(sim): State<Shared>) -> Json<Value> {
    let sim = sim.lock().unwrap();
    let per = |f: fn(&Source) -> u64| sim.sources.iter().map(|(n, s)| (n.clone(), json!(f(s)))).collect::<serde_json::Map<_, _>>();
    Json(json!({
        "steps": sim.steps,
        "requests": per(|s| s.requests),
        "item_fetches": per(|s| s.item_fetches),
        "records": per(|s| s.items.len() as u64),
    }))
}

/// Serves until the process ends; prints `listening on http://ADDR` first.
pub async fn serve(listen: &str, o: Options) -> Result<()> {
    let sim: Shared = Arc::new(Mutex::new(Sim::new(&o)?));
    let app = Router::new()
        .route("/parties.csv", get(parties))
        .route("/storage/api/v1/instances", get(storage::query))
        .route("/storage/api/v1/instances/{party}/{guid}", get(storage::instance))
        .route("/storage/api/v1/instances/{party}/{guid}/events", get(storage::events))
        .route("/correspondence/api/v1/correspondence", get(correspondence::list))
        .route("/correspondence/api/v1/correspondence/{id}/details", get(correspondence::details))
        .route("/events/api/v1/subscriptions", post(events::subscribe))
        .route("/events/api/v1/subscriptions/{id}", get(events::subscription))
        .route("/_sim/advance", post(advance_handler))
        .route("/_sim/fail", post(fail))
        .route("/_sim/stats", get(stats))
        .route("/_sim/ids", get(ids))
        .route("/{source}", get(list))
        .route("/{source}/item", get(item))
        .route("/{source}/counts", get(counts))
        .with_state(sim.clone());
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
    let issuer = token::Issuer::new(format!("http://{}/maskinporten/", listener.local_addr()?), &o.maskinporten_clients, o.token_ttl.as_secs() as i64)?;
    sim.lock().unwrap().origin = format!("http://{}", listener.local_addr()?);
    if !o.maskinporten_clients.is_empty() {
        sim.lock().unwrap().storage_keys = Some(crate::api::auth::Keys::from_jwks(&issuer.jwks)?);
    }
    let app = app.merge(Router::new().route("/maskinporten/token", post(token::token)).route("/maskinporten/jwks", get(token::jwks)).with_state(Arc::new(issuer)));
    println!("listening on http://{}", listener.local_addr()?);
    use std::io::Write;
    std::io::stdout().flush()?;
    if !o.change_every.is_zero() {
        let sim = sim.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(o.change_every);
            every.tick().await;
            loop {
                every.tick().await;
                let sim = sim.clone();
                let _ = tokio::task::spawn_blocking(move || advance(&sim, 1)).await;
            }
        });
    }
    axum::serve(listener, app).await?;
    Ok(())
}
