//! The Dialogporten sink: sends the dialogs the outbox holds to Dialogporten's service-owner
//! API, as Altinn's adapter does (`../shared/altinn/real-apis.md` §4). Per dialog, one at a
//! time and in order; many dialogs at once (`parallel`), under a requests-per-second limit.
//!
//! - A dialog Dialogporten has not had from us is created with our id
//!   (`POST …/dialogs?isSilentUpdate=`); a create that may have happened before a crash is
//!   found by that id (409/422 "exists" → read it, then update).
//! - A dialog it has is updated with `If-Match` of the revision we last saw, sending only the
//!   activities and transmissions it does not have yet (they are immutable there); 412 → read
//!   it, apply again; 410 (soft-deleted there) → restore, apply again.
//! - A dialog soft-deleted at its source (in the bin) is deleted there too (`DELETE`, after
//!   it is created or updated with the Bin label); one back from the bin is restored first.
//! - A dialog gone from the store (removed at its source) is purged.
//! - A dialog whose `visibleFrom` is still ahead waits in the outbox until then: Dialogporten
//!   would move its `createdAt`/`updatedAt` to `visibleFrom`, and it is hidden until then anyway.
//! - One sender per store: the sender holds the lease `dialogporten/sink` while it sends.
//! - 401 → a new token, once; 429 → `Retry-After`; 5xx and timeouts → back off and keep
//!   trying; 400 and a 422 that persists → a dead letter in phase `sink`.

use crate::config::SinkConfig;
use crate::maskinporten::Maskinporten;
use crate::store::Store;
use crate::store::sink::{Held, Queued};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a sender authenticates.
pub enum Auth {
    Token(String),
    Maskinporten(Arc<Maskinporten>, String),
}

pub struct Sink {
    /// Who holds the sender's lease (a host's name).
    holder: String,
    lease_micros: i64,
    /// Requests by status since the last round's flush: (count, seconds).
    requests: Mutex<std::collections::BTreeMap<String, (i64, f64)>>,
    base: String,
    auth: Auth,
    agent: ureq::Agent,
    parallel: usize,
    spacing: Duration,
    last: Mutex<Instant>,
}

/// What one round of sending did.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sent {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub purged: u64,
    pub retried: u64,
    pub dead: u64,
    /// Held back until their visibleFrom.
    pub scheduled: u64,
    /// Another sender holds the lease: nothing was sent.
    pub busy: bool,
}

impl Sent {
    fn done(&self) -> u64 {
        self.created + self.updated + self.deleted + self.purged + self.dead
    }
}

/// The outcome of one HTTP request.
struct Reply {
    status: u16,
    etag: Option<String>,
    retry_after: Option<u64>,
    body: String,
}

enum Outcome {
    Done(Option<Held>, &'static str),
    Retry(String, Duration),
    Dead(String),
    /// Not before this instant (microseconds): its visibleFrom.
    Later(i64),
}

impl Sink {
    pub fn new(c: &SinkConfig, maskinporten: Option<Arc<Maskinporten>>, holder: &str, lease: Duration) -> anyhow::Result<Sink> {
        anyhow::ensure!(c.kind == "dialogporten", "[sink] kind `{}`: the one sink is `dialogporten`", c.kind);
        let auth = match (&c.token, maskinporten) {
            (Some(t), _) => Auth::Token(t.clone()),
            (None, Some(m)) => Auth::Maskinporten(m, c.scopes.clone()),
            (None, None) => anyhow::bail!("[sink] needs a token: a [maskinporten] client, or `token` (development)"),
        };
        let agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).http_status_as_error(false).build().into();
        Ok(Sink {
            holder: holder.to_string(),
            lease_micros: lease.as_micros() as i64,
            requests: Mutex::default(),
            base: c.url.trim_end_matches('/').to_string(),
            auth,
            agent,
            parallel: c.parallel.max(1),
            spacing: Duration::from_secs_f64(1.0 / c.rate_limit.max(0.001)),
            last: Mutex::new(Instant::now() - Duration::from_secs(1)),
        })
    }

    /// The configured sink, if there is one (`[sink]`, with `[maskinporten]` for its tokens),
    /// sending as `holder` under the lease `sync.lease`.
    pub fn from_config(config: &crate::config::Config, holder: &str) -> anyhow::Result<Option<Sink>> {
        let Some(sc) = &config.sink else { return Ok(None) };
        let maskinporten = match (&sc.token, &config.maskinporten) {
            (None, Some(m)) => Some(Arc::new(Maskinporten::new(m)?)),
            _ => None,
        };
        Ok(Some(Sink::new(sc, maskinporten, holder, config.sync.lease)?))
    }

    fn token(&self) -> anyhow::Result<String> {
        Ok(match &self.auth {
            Auth::Token(t) => t.clone(),
            Auth::Maskinporten(m, scopes) => m.token(scopes)?,
        })
    }

    fn forget_token(&self) {
        if let Auth::Maskinporten(m, scopes) = &self.auth {
            m.forget(scopes);
        }
    }

    fn pace(&self) {
        let wait = {
            let mut last = self.last.lock().unwrap();
            let due = *last + self.spacing;
            let now = Instant::now();
            *last = due.max(now);
            due.saturating_duration_since(now)
        };
        std::thread::sleep(wait);
    }

    /// One request; a 401 gets one more try with a new token.
    fn request(&self, method: &str, path: &str, if_match: Option<&str>, body: Option<&Value>) -> Result<Reply, String> {
        for attempt in 0..2 {
            self.pace();
            let token = self.token().map_err(|e| format!("{e:#}"))?;
            let url = format!("{}{path}", self.base);
            let mut req = ureq::http::Request::builder().method(method).uri(&url).header("Authorization", format!("Bearer {token}")).header("Accept", "application/json");
            if let Some(r) = if_match {
                req = req.header("If-Match", r);
            }
            let started = Instant::now();
            let sent = match body {
                Some(b) => self.agent.run(req.header("Content-Type", "application/json").body(b.to_string()).map_err(|e| e.to_string())?),
                None => self.agent.run(req.body(()).map_err(|e| e.to_string())?),
            };
            let status = sent.as_ref().map_or("transport".to_string(), |r| r.status().as_u16().to_string());
            {
                let mut requests = self.requests.lock().unwrap();
                let e = requests.entry(status).or_default();
                *e = (e.0 + 1, e.1 + started.elapsed().as_secs_f64());
            }
            let mut r = sent.map_err(|e| format!("{method} {url}: {e}"))?;
            let status = r.status().as_u16();
            let header = |h: &str| r.headers().get(h).and_then(|v| v.to_str().ok()).map(|s| s.trim_matches('"').to_string());
            let (etag, retry_after) = (header("etag"), header("retry-after").and_then(|s| s.parse().ok()));
            let body = r.body_mut().read_to_string().unwrap_or_default();
            if status == 401 && attempt == 0 {
                self.forget_token();
                continue;
            }
            return Ok(Reply { status, etag, retry_after, body });
        }
        unreachable!()
    }

    /// What Dialogporten holds of dialog `id` (None: not there).
    fn read(&self, id: &str) -> Result<Option<(Held, Value)>, Outcome> {
        let r = self.request("GET", &format!("/api/v1/serviceowner/dialogs/{id}"), None, None).map_err(|e| Outcome::Retry(e, Duration::ZERO))?;
        match r.status {
            200 => {
                let doc: Value = serde_json::from_str(&r.body).unwrap_or_default();
                let ids = |k: &str| doc[k].as_array().map(|a| a.iter().filter_map(|x| x["id"].as_str().map(str::to_string)).collect()).unwrap_or_default();
                let revision = r.etag.clone().or_else(|| doc["revision"].as_str().map(str::to_string));
                let held = Held { revision, deleted: !doc["deletedAt"].is_null(), activities: ids("activities"), transmissions: ids("transmissions") };
                Ok(Some((held, doc)))
            }
            404 => Ok(None),
            410 => Ok(Some((Held { deleted: true, ..Held::default() }, Value::Null))),
            _ => Err(failure(&r, "GET")),
        }
    }

    /// Sends one queued dialog's current state.
    fn send(&self, q: &Queued, document: Option<&str>, held: Option<Held>) -> Outcome {
        let silent = if q.silent { "?isSilentUpdate=true" } else { "?isSilentUpdate=false" };
        let id = &q.dialog_id;
        let Some(document) = document else {
            // Gone at the source: purged there (nothing to do if Dialogporten never had it).
            let mut revision = held.and_then(|h| h.revision);
            for _ in 0..4 {
                let r = match self.request("POST", &format!("/api/v1/serviceowner/dialogs/{id}/actions/purge{silent}"), revision.as_deref(), None) {
                    Ok(r) => r,
                    Err(e) => return Outcome::Retry(e, Duration::ZERO),
                };
                match r.status {
                    204 | 404 => return Outcome::Done(None, "purged"),
                    // Changed there since: purged at the revision it has now.
                    412 => match self.read(id) {
                        Ok(Some((h, _))) => revision = h.revision,
                        Ok(None) => return Outcome::Done(None, "purged"),
                        Err(o) => return o,
                    },
                    _ => return failure(&r, "purge"),
                }
            }
            return Outcome::Retry(format!("dialog {id} kept changing in Dialogporten while it was purged"), Duration::ZERO);
        };
        let mut doc: Value = match serde_json::from_str(document) {
            Ok(d) => d,
            Err(e) => return Outcome::Dead(format!("the stored document is not JSON: {e}")),
        };
        let now = crate::clock::micros();
        let visible = doc["visibleFrom"].as_str().and_then(|t| dialogsync_sdk::time::parse_instant(t).ok());
        if let Some(v) = visible.filter(|v| *v > now) {
            return Outcome::Later(v);
        }
        // A loud write's visibleFrom must lie ahead; one behind (the dialog waited for it) is moot.
        if !q.silent && visible.is_some()
            && let Some(d) = doc.as_object_mut()
        {
            d.remove("visibleFrom");
        }
        let in_bin = doc["systemLabel"] == "Bin";
        let mut held = held;
        let mut created = false;
        for _ in 0..6 {
            let mut h = match held.clone() {
                Some(h) => h,
                None => {
                    let r = match self.request("POST", &format!("/api/v1/serviceowner/dialogs{silent}"), None, Some(&crate::api::serviceowner::fit("CreateDialog", &doc))) {
                        Ok(r) => r,
                        Err(e) => return Outcome::Retry(e, Duration::ZERO),
                    };
                    match r.status {
                        201 => {
                            created = true;
                            Held { revision: r.etag, deleted: false, activities: ids(&doc, "activities"), transmissions: ids(&doc, "transmissions") }
                        }
                        // Created before (a crash between the create and its record): read it, update.
                        409 | 422 if r.body.contains(id.as_str()) || r.body.to_lowercase().contains("exist") => {
                            match self.read(id) {
                                Ok(Some((found, _))) => held = Some(found),
                                Ok(None) => return failure(&r, "create"),
                                Err(o) => return o,
                            }
                            continue;
                        }
                        _ => return failure(&r, "create"),
                    }
                }
            };
            let what = if created { "created" } else { "updated" };
            if h.deleted && in_bin {
                // Deleted at both ends; Dialogporten refuses writes to a deleted dialog (410).
                return Outcome::Done(Some(h), what);
            }
            if h.deleted {
                let r = match self.request("POST", &format!("/api/v1/serviceowner/dialogs/{id}/actions/restore{silent}"), h.revision.as_deref(), None) {
                    Ok(r) => r,
                    Err(e) => return Outcome::Retry(e, Duration::ZERO),
                };
                match r.status {
                    204 => held = Some(Held { revision: r.etag, deleted: false, ..h }),
                    412 => held = self.read(id).ok().flatten().map(|x| x.0),
                    _ => return failure(&r, "restore"),
                }
                continue;
            }
            if !created {
                match self.update(id, silent, &doc, &h) {
                    Ok(Some(revision)) => h = Held { revision, deleted: false, activities: ids(&doc, "activities"), transmissions: ids(&doc, "transmissions") },
                    // Changed there by another writer, or deleted there: read, apply again.
                    Ok(None) => {
                        match self.read(id) {
                            Ok(found) => held = found.map(|x| x.0),
                            Err(o) => return o,
                        }
                        continue;
                    }
                    Err(o) => return o,
                }
            }
            if in_bin {
                let r = match self.request("DELETE", &format!("/api/v1/serviceowner/dialogs/{id}{silent}"), h.revision.as_deref(), None) {
                    Ok(r) => r,
                    Err(e) => return Outcome::Retry(e, Duration::ZERO),
                };
                match r.status {
                    204 | 410 => return Outcome::Done(Some(Held { revision: r.etag.or(h.revision), deleted: true, ..h }), "deleted"),
                    412 => {
                        held = self.read(id).ok().flatten().map(|x| x.0);
                        created = false;
                        continue;
                    }
                    _ => return failure(&r, "delete"),
                }
            }
            return Outcome::Done(Some(h), what);
        }
        Outcome::Retry(format!("dialog {id} kept changing in Dialogporten while it was sent"), Duration::ZERO)
    }

    /// An update of a dialog Dialogporten has (`h`), then its system label: the new revision,
    /// or None when it changed or was deleted there meanwhile (412, 410, 404).
    fn update(&self, id: &str, silent: &str, doc: &Value, h: &Held) -> Result<Option<Option<String>>, Outcome> {
        // Activities and transmissions are immutable there: only the new ones.
        let mut update = crate::api::serviceowner::fit("UpdateDialog", doc);
        for (k, have) in [("activities", &h.activities), ("transmissions", &h.transmissions)] {
            if let Some(a) = update.get_mut(k).and_then(Value::as_array_mut) {
                a.retain(|x| !x["id"].as_str().is_some_and(|i| have.iter().any(|h| h == i)));
            }
        }
        let r = self.request("PUT", &format!("/api/v1/serviceowner/dialogs/{id}{silent}"), h.revision.as_deref(), Some(&update)).map_err(|e| Outcome::Retry(e, Duration::ZERO))?;
        match r.status {
            204 | 200 => {}
            412 | 410 | 404 => return Ok(None),
            _ => return Err(failure(&r, "update")),
        }
        // The system label is the end user's context there, not in UpdateDialog: set apart.
        let mut revision = r.etag;
        if let Some(label) = doc["systemLabel"].as_str() {
            let body = serde_json::json!({ "addLabels": [label] });
            let r = self.request("PUT", &format!("/api/v1/serviceowner/dialogs/{id}/endusercontext/systemlabels{silent}"), revision.as_deref(), Some(&body)).map_err(|e| Outcome::Retry(e, Duration::ZERO))?;
            match r.status {
                204 | 200 => revision = r.etag.or(revision),
                412 | 410 | 404 => return Ok(None),
                _ => return Err(failure(&r, "set the system label")),
            }
        }
        Ok(Some(revision))
    }

    /// One round: up to `parallel × 4` due dialogs, `parallel` at a time, under the sender's
    /// lease. Returns what was done.
    pub async fn round(self: &Arc<Self>, store: &Store) -> anyhow::Result<Sent> {
        let mut sent = Sent::default();
        let due = store.due(crate::clock::micros(), (self.parallel * 4) as i64).await?;
        // The lease is taken only to send: an idle sender writes nothing.
        if due.is_empty() {
            return Ok(sent);
        }
        if !store.acquire("dialogporten", "sink", &self.holder, self.lease_micros).await? {
            sent.busy = true;
            return Ok(sent);
        }
        for chunk in due.chunks(self.parallel) {
            let mut tasks = Vec::new();
            for q in chunk.iter().cloned() {
                let (sink, store) = (self.clone(), store.clone());
                tasks.push(tokio::spawn(async move {
                    let document = store.document(&q.dialog_id).await?;
                    let held = store.held(&q.dialog_id).await?;
                    let s = sink.clone();
                    let q2 = q.clone();
                    let outcome = tokio::task::spawn_blocking(move || s.send(&q2, document.as_deref(), held)).await?;
                    anyhow::Ok((q, outcome))
                }));
            }
            for t in tasks {
                let (q, outcome) = t.await??;
                match outcome {
                    Outcome::Done(held, what) => {
                        store.sent(&q, held.as_ref()).await?;
                        match what {
                            "created" => sent.created += 1,
                            "updated" => sent.updated += 1,
                            "deleted" => sent.deleted += 1,
                            _ => sent.purged += 1,
                        }
                    }
                    Outcome::Later(at) => {
                        store.hold_until(&q, at).await?;
                        sent.scheduled += 1;
                    }
                    // A 422 that persists through its retries is Dialogporten's final word.
                    Outcome::Retry(error, _) if q.attempts >= 8 && error.contains("HTTP 422") => {
                        tracing::warn!(sink = "dialogporten", dialog = %q.dialog_id, error = %error, "Dialogporten refused the dialog");
                        store.sink_dead(&q, &error).await?;
                        sent.dead += 1;
                    }
                    Outcome::Retry(error, after) => {
                        // Back off: 1 s, 2 s, 4 s … at most 2 min, or what Retry-After said.
                        let backoff = Duration::from_secs(1 << q.attempts.clamp(0, 7)).min(Duration::from_secs(120));
                        let wait = if after.is_zero() { backoff } else { after };
                        tracing::warn!(sink = "dialogporten", dialog = %q.dialog_id, attempts = q.attempts + 1, error = %error, "send failed; will retry");
                        store.send_failed(&q, &error, crate::clock::micros() + wait.as_micros() as i64).await?;
                        sent.retried += 1;
                    }
                    Outcome::Dead(error) => {
                        tracing::warn!(sink = "dialogporten", dialog = %q.dialog_id, error = %error, "Dialogporten refused the dialog");
                        store.sink_dead(&q, &error).await?;
                        sent.dead += 1;
                    }
                }
            }
        }
        let requests = std::mem::take(&mut *self.requests.lock().unwrap());
        let outcomes = [("created", sent.created), ("updated", sent.updated), ("deleted", sent.deleted), ("purged", sent.purged), ("retried", sent.retried), ("dead", sent.dead), ("scheduled", sent.scheduled)];
        store.count_sends(&outcomes, &requests).await?;
        Ok(sent)
    }

    /// Sends until nothing is due (`run --once`, a backfill's end); stops early when a round
    /// only retried (Dialogporten is down: the rest waits in the outbox), or another sender
    /// holds the lease (it sends them).
    pub async fn drain(self: &Arc<Self>, store: &Store) -> anyhow::Result<Sent> {
        let mut total = Sent::default();
        loop {
            let s = self.round(store).await?;
            total.created += s.created;
            total.updated += s.updated;
            total.deleted += s.deleted;
            total.purged += s.purged;
            total.retried += s.retried;
            total.dead += s.dead;
            total.scheduled += s.scheduled;
            total.busy |= s.busy;
            if s.done() == 0 {
                return Ok(total);
            }
        }
    }
}

/// One dialog that differs between the store and Dialogporten.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Differs {
    pub id: String,
    /// `missing`, `deleted there`, `not deleted there`, or the fields that differ.
    pub what: String,
}

/// `verify --sink`: a source's dialogs in the store against Dialogporten's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SinkVerified {
    pub source: String,
    pub dialogs: u64,
    pub differ: Vec<Differs>,
    /// What `--repair` sent (before it, `differ` listed them).
    pub repaired: Option<Sent>,
}

/// Fields Dialogporten sets itself, or sends elsewhere, and so are not compared.
const THEIRS: [&str; 5] = ["updatedAt", "idempotentKey", "visibleFrom", "activities", "transmissions"];

/// How Dialogporten's copy `theirs` differs from `ours`: the create's fields (those it owns
/// aside), every activity and transmission of ours there (by id), and the deletion.
pub fn compare(ours: &Value, theirs: &Value) -> Option<String> {
    let (a, b) = (crate::api::serviceowner::fit("CreateDialog", ours), crate::api::serviceowner::fit("CreateDialog", theirs));
    let mut fields: Vec<String> = a
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| !THEIRS.contains(&k.as_str()) && !v.is_null() && b.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in ["activities", "transmissions"] {
        let there = ids(theirs, k);
        if ids(ours, k).iter().any(|i| !there.contains(i)) {
            fields.push(k.to_string());
        }
    }
    let deleted = !theirs["deletedAt"].is_null();
    match (ours["systemLabel"] == "Bin", deleted) {
        (true, false) => fields.push("not deleted there".into()),
        (false, true) => fields.push("deleted there".into()),
        _ => {}
    }
    (!fields.is_empty()).then(|| fields.join(", "))
}

impl Sink {
    /// Compares each of `source`'s dialogs with Dialogporten's (`parallel` reads at once); with
    /// `repair`, sends those that differ again (the missing ones created) and compares again.
    pub async fn verify(self: &Arc<Self>, store: &Store, source: &str, repair: bool) -> anyhow::Result<SinkVerified> {
        let mut v = self.compare_all(store, source).await?;
        if repair && !v.differ.is_empty() {
            let ids: Vec<String> = v.differ.iter().map(|d| d.id.clone()).collect();
            store.queue_again(source, &ids).await?;
            let sent = self.drain(store).await?;
            v = self.compare_all(store, source).await?;
            v.repaired = Some(sent);
        }
        Ok(v)
    }

    async fn compare_all(self: &Arc<Self>, store: &Store, source: &str) -> anyhow::Result<SinkVerified> {
        let (mut differ, mut dialogs, mut after) = (Vec::new(), 0, String::new());
        loop {
            let chunk = store.documents_of(source, &after, (self.parallel * 8) as i64).await?;
            let Some(last) = chunk.last() else { break };
            (after, dialogs) = (last.0.clone(), dialogs + chunk.len() as u64);
            let sink = self.clone();
            let found = tokio::task::spawn_blocking(move || {
                std::thread::scope(|scope| {
                    let per = chunk.len().div_ceil(sink.parallel).max(1);
                    let handles: Vec<_> = chunk.chunks(per).map(|part| scope.spawn(|| part.iter().map(|(id, doc)| sink.differs(id, doc)).collect::<Vec<_>>())).collect();
                    handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect::<Vec<_>>()
                })
            })
            .await?;
            for d in found {
                differ.push(d?);
            }
        }
        let differ = differ.into_iter().flatten().collect();
        Ok(SinkVerified { source: source.to_string(), dialogs, differ, repaired: None })
    }

    fn differs(&self, id: &str, document: &str) -> anyhow::Result<Option<Differs>> {
        let ours: Value = serde_json::from_str(document)?;
        let what = match self.read(id) {
            Ok(None) => Some("missing".to_string()),
            Ok(Some((h, theirs))) if theirs.is_null() => (h.deleted && ours["systemLabel"] != "Bin").then(|| "deleted there".to_string()),
            Ok(Some((_, theirs))) => compare(&ours, &theirs),
            Err(Outcome::Retry(e, _) | Outcome::Dead(e)) => anyhow::bail!("reading dialog {id} from Dialogporten: {e}"),
            Err(Outcome::Done(..) | Outcome::Later(_)) => None,
        };
        Ok(what.map(|what| Differs { id: id.to_string(), what }))
    }
}

fn ids(doc: &Value, k: &str) -> Vec<String> {
    doc[k].as_array().map(|a| a.iter().filter_map(|x| x["id"].as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// A reply that is not a success, sorted into the adapter's retry classes.
fn failure(r: &Reply, what: &str) -> Outcome {
    let detail = format!("{what}: HTTP {}: {}", r.status, r.body.chars().take(500).collect::<String>());
    match r.status {
        429 => Outcome::Retry(detail, Duration::from_secs(r.retry_after.unwrap_or(5))),
        400 | 403 => Outcome::Dead(detail),
        // Everything else is tried again; a 422 that persists becomes a dead letter in `round`.
        _ => Outcome::Retry(detail, Duration::ZERO),
    }
}

/// Sends while the host runs: a round whenever dialogs are due, a short sleep when none are,
/// until `stop`; the round in flight is finished.
pub async fn keep_sending(sink: Arc<Sink>, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let idle = match sink.round(&store).await {
            Ok(s) => s.done() == 0,
            Err(e) => {
                tracing::warn!(sink = "dialogporten", error = %format!("{e:#}"), "sending failed");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::compare;
    use serde_json::json;

    fn dialog() -> serde_json::Value {
        json!({
            "id": "01900000-0000-7000-8000-000000000001", "party": "urn:altinn:organization:identifier-no:912345678",
            "serviceResource": "urn:altinn:resource:x", "status": "InProgress", "systemLabel": "Default",
            "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-02T00:00:00Z",
            "content": { "title": { "value": [{ "languageCode": "nb", "value": "Tittel" }] } },
            "activities": [{ "id": "01900000-0000-7000-8000-0000000000a1", "type": "DialogCreated", "createdAt": "2024-01-01T00:00:00Z", "performedBy": { "actorType": "ServiceOwner" } }],
        })
    }

    #[test]
    fn what_dialogporten_owns_is_not_a_difference_and_the_rest_is() {
        let ours = dialog();
        let mut theirs = dialog();
        theirs["updatedAt"] = "2026-01-01T00:00:00Z".into();
        theirs["revision"] = "0b6d3c7e-0000-4000-8000-000000000000".into();
        theirs["activities"].as_array_mut().unwrap().push(json!({ "id": "01900000-0000-7000-8000-0000000000a2", "type": "Information" }));
        assert_eq!(compare(&ours, &theirs), None);
        theirs["status"] = "Completed".into();
        theirs["activities"] = json!([]);
        assert_eq!(compare(&ours, &theirs).as_deref(), Some("status, activities"));
        let mut binned = dialog();
        binned["systemLabel"] = "Bin".into();
        let mut deleted = binned.clone();
        deleted["deletedAt"] = "2024-02-01T00:00:00Z".into();
        assert_eq!(compare(&binned, &deleted), None);
        assert_eq!(compare(&binned, &dialog()).as_deref(), Some("systemLabel, not deleted there"));
        assert_eq!(compare(&ours, &{ let mut d = dialog(); d["deletedAt"] = "2024-02-01T00:00:00Z".into(); d }).as_deref(), Some("deleted there"));
    }
}
