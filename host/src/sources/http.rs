//! The `http` connector: a paged JSON API with a continuation URL, in the shape of Altinn
//! Storage's instance query (`{"instances": [...], "next": URL}`); where a page keeps its
//! records and its next URL are JSON pointers in the source's config.
//!
//! Requests a source answers (docs/operations.md, "The http connector"):
//! - `GET {url}?changedSince=T&limit=N`: records changed at or after instant `T` (live ticks),
//!   oldest change first;
//! - `GET {url}?createdFrom=T&createdBefore=U&limit=N`: records created in `[T, U)` (historic
//!   windows);
//! - `GET {url}/item?id=ID`: one record (pushed events; repair), 404 when it does not exist;
//! - `GET {url}/counts?from=D&to=E`: `{"YYYY-MM-DD": n, …}`, records per creation day in
//!   `[D, E]` (reconciliation).
//!
//! Calls block (ureq); the engine runs them off the async threads. Each source's requests are
//! spaced by its `rate_limit`.

use super::Fetched;
use dialogsync_core::source::{Api, CORRESPONDENCE_CAP, CorrespondenceQuery, Span, StorageQuery};
use chrono::NaiveDate;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("source {source_name} has no `url` (the http connector needs one)")]
    NoUrl { source_name: String },
    #[error("source {source_name}: connector `altinn-storage` needs `org` or `app_id` (Storage: \"Org or AppId must be defined.\")")]
    NoOrg { source_name: String },
    #[error("GET {url}: {message}")]
    Get { url: String, message: String },
    #[error("GET {url}: HTTP {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("GET {url}: {message}")]
    Body { url: String, message: String },
    #[error("source {source_name}: connector `altinn-correspondence` needs `resources` (Correspondence's list requires a resourceId)")]
    NoResources { source_name: String },
    #[error("GET {url}: at least {count} ids at the one instant {instant}: Correspondence lists at most {count} and cannot page within an instant, so the rest cannot be listed")]
    OverCap { url: String, instant: String, count: usize },
}

pub use dialogsync_core::source::Page;

pub struct Http {
    agent: ureq::Agent,
    /// Bearer tokens for its requests: the Maskinporten client and the scopes.
    auth: Option<(std::sync::Arc<crate::maskinporten::Maskinporten>, String)>,
    api: Api,
    spacing: Duration,
    last: Mutex<Option<Instant>>,
}

impl Http {
    pub fn new(source: &str, sc: &crate::config::SourceConfig) -> Result<Http, HttpError> {
        let base = sc.url.clone().ok_or_else(|| HttpError::NoUrl { source_name: source.into() })?;
        if sc.connector == "altinn-storage" && sc.org.is_none() && sc.app_id.is_none() {
            return Err(HttpError::NoOrg { source_name: source.into() });
        }
        if sc.connector == "altinn-correspondence" && sc.resources.is_empty() {
            return Err(HttpError::NoResources { source_name: source.into() });
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Http {
            agent,
            auth: None,
            api: match sc.connector.as_str() {
                "altinn-storage" => Api::new(&base, Some("/instances"), "/next", sc.page_size, sc.keys.clone()).with_storage(StorageQuery {
                    org: sc.org.clone(),
                    app_id: sc.app_id.clone(),
                    main_version_exclude: match sc.main_version_exclude.unwrap_or(0) {
                        n if n < 0 => None,
                        n => Some(n),
                    },
                }),
                "altinn-correspondence" => Api::new(&base, None, "/next", sc.page_size, sc.keys.clone()).with_correspondence(CorrespondenceQuery { resources: sc.resources.clone() }),
                _ => Api::new(&base, sc.items.as_deref(), &sc.next, sc.page_size, sc.keys.clone()),
            },
            spacing: Duration::from_secs_f64(1.0 / sc.rate_limit.max(0.001)),
            last: Mutex::new(None),
        })
    }

    /// Its requests with Maskinporten tokens (Altinn's APIs, with `[maskinporten]`): the
    /// source's `scopes`, by default the one its API reads with.
    pub fn with_maskinporten(mut self, sc: &crate::config::SourceConfig, m: Option<&std::sync::Arc<crate::maskinporten::Maskinporten>>) -> Http {
        let default = match sc.connector.as_str() {
            "altinn-storage" => "altinn:serviceowner/instances.read",
            "altinn-correspondence" => "altinn:correspondence.write",
            _ => return self,
        };
        if let Some(m) = m {
            self.auth = Some((m.clone(), sc.scopes.clone().unwrap_or_else(|| default.into())));
        }
        self
    }

    /// The source's API as the sync core reads it.
    pub fn api(&self) -> &Api {
        &self.api
    }

    pub fn changed_url(&self, since: i64) -> String {
        self.api.changed_url(since)
    }

    /// Records created on the days `[first, last]`.
    pub fn window_url(&self, first: NaiveDate, last: NaiveDate) -> String {
        self.api.window_url(first, last)
    }

    /// Waits for the source's rate limit.
    fn pace(&self) {
        let mut last = self.last.lock().unwrap();
        if let Some(t) = *last {
            let due = t + self.spacing;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        *last = Some(Instant::now());
    }

    /// GET `url`; `None` on 404. With tokens, a 401 gets one more try with a new one.
    fn get(&self, url: &str) -> Result<Option<Vec<u8>>, HttpError> {
        let get = |message: String| HttpError::Get { url: url.into(), message };
        let mut attempt = 0;
        let mut response = loop {
            self.pace();
            let mut req = self.agent.get(url).header("Accept", "application/json");
            if let Some((m, scopes)) = &self.auth {
                req = req.header("Authorization", format!("Bearer {}", m.token(scopes).map_err(|e| get(format!("{e:#}")))?));
            }
            let response = req.call().map_err(|e| get(e.to_string()))?;
            match (&self.auth, response.status().as_u16(), attempt) {
                (Some((m, scopes)), 401, 0) => {
                    m.forget(scopes);
                    attempt += 1;
                }
                _ => break response,
            }
        };
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(256 << 20).read_to_vec().map_err(|e| get(e.to_string()))?;
        match status {
            200..=299 => Ok(Some(body)),
            404 => Ok(None),
            _ => Err(HttpError::Status { url: url.into(), status, body: String::from_utf8_lossy(&body).chars().take(300).collect() }),
        }
    }

    fn json(&self, url: &str) -> Result<Value, HttpError> {
        let body = self.get(url)?.ok_or_else(|| HttpError::Status { url: url.into(), status: 404, body: "not found".into() })?;
        serde_json::from_slice(&body).map_err(|e| HttpError::Body { url: url.into(), message: format!("invalid JSON: {e}") })
    }

    /// One page of records (read by the sync core's [`Api::page`]); from Storage, each
    /// instance with its events; from Correspondence, a span's list and each one's details.
    pub fn page(&self, url: &str) -> Result<Page, HttpError> {
        if self.api.correspondence.is_some() {
            return self.correspondence_page(url);
        }
        let body = self.get(url)?.ok_or_else(|| HttpError::Status { url: url.into(), status: 404, body: "not found".into() })?;
        let mut page = self.api.page(url, &body).map_err(|message| HttpError::Body { url: url.into(), message })?;
        if self.api.storage.is_some() {
            page.records = self.with_events(page.records)?;
        }
        Ok(page)
    }

    /// One record by its id, `None` when the source no longer has it.
    pub fn item(&self, id: &str) -> Result<Option<Fetched>, HttpError> {
        let url = self.api.item_url(id);
        let Some(record) = self.get(&url)?.map(|body| self.api.keys.record(body, url)) else { return Ok(None) };
        if self.api.storage.is_none() {
            // Correspondence's details and the `http` connector's item are the whole record.
            return Ok(Some(record));
        }
        Ok(self.with_events(vec![record])?.pop())
    }

    /// One span of publish times (`url` is the connector's own, [`Api::span_url`]): the ids
    /// of every configured resource, the span halved while any list comes back at the cap (a
    /// list that long may have left some out), then each one's details. The next page is the
    /// window's next span; a live tick's open span ends at the instant it is first asked, and
    /// the cursor moves to the end of each span listed.
    fn correspondence_page(&self, url: &str) -> Result<Page, HttpError> {
        let q = self.api.correspondence.as_ref().expect("a Correspondence source");
        let span = self.api.span(url).map_err(|message| HttpError::Body { url: url.into(), message })?;
        let lo = span.lo;
        let mut hi = span.hi.unwrap_or_else(crate::clock::micros).max(lo + 1);
        let end = span.end.unwrap_or(hi);
        let ids = 'listed: loop {
            let mut ids: Vec<String> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for resource in &q.resources {
                let list = self.api.list_url(lo, hi, resource);
                let body = self.get(&list)?.ok_or_else(|| HttpError::Status { url: list.clone(), status: 404, body: "not found".into() })?;
                let got = Api::ids(&body).map_err(|message| HttpError::Body { url: list.clone(), message })?;
                if got.len() >= CORRESPONDENCE_CAP {
                    match Span::halve(lo, hi) {
                        Some(mid) => {
                            tracing::debug!(url = %list, ids = got.len(), "list at the cap; the span halved");
                            hi = mid;
                            continue 'listed;
                        }
                        None => return Err(HttpError::OverCap { url: list, instant: dialogsync_core::source::format_micros(lo), count: got.len() }),
                    }
                }
                ids.extend(got.into_iter().filter(|id| seen.insert(id.clone())));
            }
            break ids;
        };
        let records = self.each(ids, |id| self.item(&id))?.into_iter().flatten().collect();
        let next = Span::after(lo, hi, end).map(|(a, b)| self.api.span_url(a, Some(b), Some(end)));
        Ok(Page { records, next, cursor: Some(hi) })
    }

    /// `f` over `items`, EACH_AT_ONCE at a time, in their order; the first failure fails all.
    fn each<T: Send + Clone + Sync, R: Send>(&self, items: Vec<T>, f: impl Fn(T) -> Result<R, HttpError> + Sync) -> Result<Vec<R>, HttpError> {
        const EACH_AT_ONCE: usize = 8;
        let per = items.len().div_ceil(EACH_AT_ONCE).max(1);
        let f = &f;
        let parts: Vec<Result<Vec<R>, HttpError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = items.chunks(per).map(|part| scope.spawn(move || part.iter().cloned().map(f).collect::<Result<Vec<_>, _>>())).collect();
            handles.into_iter().map(|h| h.join().expect("a request panicked")).collect()
        });
        Ok(parts.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect())
    }

    /// Storage's instances with their events (`GET …/instances/{partyId}/{guid}/events`, which
    /// the transformer maps to activities) in `instanceEvents`, a few requests at a time. A
    /// failed events request fails the page (it is fetched again), so no instance goes without
    /// its events; one gone meanwhile (404) goes as it is.
    fn with_events(&self, records: Vec<Fetched>) -> Result<Vec<Fetched>, HttpError> {
        self.each(records, |r| self.one_with_events(r))
    }

    fn one_with_events(&self, record: Fetched) -> Result<Fetched, HttpError> {
        let Ok(mut r) = record else { return Ok(record) };
        let url = format!("{}/{}/events", self.api.base, r.source_id);
        let Some(body) = self.get(&url)? else { return Ok(Ok(r)) };
        let events: Value = serde_json::from_slice(&body).map_err(|e| HttpError::Body { url: url.clone(), message: format!("invalid JSON: {e}") })?;
        let Ok(mut instance) = serde_json::from_slice::<Value>(&r.payload) else { return Ok(Ok(r)) };
        if let Some(o) = instance.as_object_mut() {
            o.insert("instanceEvents".into(), events.get("instanceEvents").cloned().unwrap_or_else(|| Value::Array(vec![])));
            r.payload = instance.to_string().into_bytes();
        }
        Ok(Ok(r))
    }

    /// The source's own count of records per creation day in `[from, to]`.
    pub fn counts(&self, from: NaiveDate, to: NaiveDate) -> Result<BTreeMap<NaiveDate, u64>, HttpError> {
        let url = self.api.counts_url(from, to);
        let v = self.json(&url)?;
        let bad = |message: String| HttpError::Body { url: url.clone(), message };
        let obj = v.as_object().ok_or_else(|| bad("expected an object of day → count".into()))?;
        obj.iter()
            .map(|(day, n)| {
                let d = day.parse::<NaiveDate>().map_err(|e| bad(format!("`{day}` is not a day: {e}")))?;
                let n = n.as_u64().ok_or_else(|| bad(format!("count of {day} is not a number")))?;
                Ok((d, n))
            })
            .collect()
    }
}
