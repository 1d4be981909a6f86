//! The `http` connector's protocol without the calls: request URLs, and a page's JSON read into
//! records and the next page's URL (docs/operations.md, "The http connector"). The host's
//! connector and the Spin tick components each do the GET their own way.

use crate::record::{Fetched, RawRecord, ReadFailure};
use chrono::{DateTime, Duration, NaiveDate};
use dialogsync_sdk::time::parse_oslo;
use serde_json::Value;

/// Which JSON fields identify a record and its version (a source's `id_field` and
/// `version_fields` in the config).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RecordKeys {
    #[serde(default)]
    pub id_field: String,
    #[serde(default)]
    pub version_fields: Vec<String>,
    #[serde(default)]
    pub created_fields: Vec<String>,
}

impl RecordKeys {
    /// Makes a raw record of one JSON payload, naming the field when one is missing or bad.
    pub fn record(&self, payload: Vec<u8>, origin: String) -> Fetched {
        let fail = |error: String, payload: Vec<u8>| Err(ReadFailure { origin: origin.clone(), error, payload: Some(payload) });
        let value: Value = match serde_json::from_slice(&payload) {
            Ok(v) => v,
            Err(e) => return fail(format!("invalid JSON: {e}"), payload),
        };
        let source_id = match value.get(&self.id_field) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return fail(format!("no `{}` field naming the record", self.id_field), payload),
        };
        let first_time = |fields: &[String]| {
            fields.iter().find_map(|f| match value.get(f)? {
                Value::Number(n) => Some(n.as_i64().ok_or_else(|| format!("`{f}` is not an integer"))),
                // Altinn 2 times are wall times without an offset: Oslo, as everywhere in Altinn 2.
                Value::String(s) => Some(parse_oslo(s).map_err(|e| format!("`{f}`: {e}"))),
                _ => None,
            })
        };
        let created = first_time(&self.created_fields).and_then(Result::ok);
        match first_time(&self.version_fields) {
            Some(Ok(version)) => Ok(RawRecord { source_id, version, created, payload, content_type: "application/json".into(), origin }),
            Some(Err(e)) => fail(format!("bad version: {e}"), payload),
            None => fail(format!("no version field ({})", self.version_fields.join(", ")), payload),
        }
    }
}

/// A source this version knows: the JSON fields naming a record's id, version and creation
/// time (its day, for historic windows and reconciliation), and where an HTTP page keeps its
/// records.
pub struct KnownSource {
    pub name: &'static str,
    pub id_field: &'static str,
    pub version_fields: &'static [&'static str],
    pub created_fields: &'static [&'static str],
    /// JSON pointer to the records in a page.
    pub items: &'static str,
}

pub const KNOWN_SOURCES: &[KnownSource] = &[
    KnownSource { name: "a2-archived-forms", id_field: "archiveReference", version_fields: &["lastChanged", "archivedDate"], created_fields: &["archivedDate"], items: "/items" },
    KnownSource { name: "a2-correspondence", id_field: "correspondenceId", version_fields: &["lastChanged", "createdDate"], created_fields: &["createdDate"], items: "/items" },
    // Altinn Storage's instance query page: {"instances": [...], "next": URL}.
    KnownSource { name: "a3-app-instances", id_field: "id", version_fields: &["lastChanged", "created"], created_fields: &["created"], items: "/instances" },
    // Correspondence's details carry no `lastChanged`: their `statusChanged` is the last change.
    KnownSource { name: "a3-correspondence", id_field: "correspondenceId", version_fields: &["lastChanged", "statusChanged", "created"], created_fields: &["created"], items: "/items" },
];

pub fn known(name: &str) -> Option<&'static KnownSource> {
    KNOWN_SOURCES.iter().find(|k| k.name == name)
}

/// A microsecond timestamp as RFC 3339 UTC with microseconds.
pub fn format_micros(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)).unwrap_or_default()
}

/// Midnight UTC starting `day`, in microseconds.
pub fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros()
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

/// One page: its records, and where the next one is.
pub struct Page {
    pub records: Vec<Fetched>,
    pub next: Option<String>,
    /// Where a live cursor stands after this page, when the source says (Correspondence's
    /// list is by publish time, not by the records' versions); None: the newest version read.
    pub cursor: Option<i64>,
}

/// Altinn Storage's instance query (`connector = "altinn-storage"`,
/// `../shared/altinn/real-apis.md` §1): whose instances, and which Altinn versions.
#[derive(Debug, Clone, Default)]
pub struct StorageQuery {
    pub org: Option<String>,
    pub app_id: Option<String>,
    /// `mainVersionExclude` (0: every Altinn version, migrated A1/A2 instances too); None sends
    /// none, and Storage then returns Altinn 3 instances only (`mainVersionInclude=3`).
    pub main_version_exclude: Option<i64>,
}

impl StorageQuery {
    /// The query's fixed part: whose instances, ascending by `lastChanged` (Storage's id
    /// tie-break is ascending either way; descending pages skip and repeat ties), the page size
    /// and the versions.
    fn pairs(&self, size: u32) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(o) = &self.org {
            p.push(("org", o.clone()));
        }
        if let Some(a) = &self.app_id {
            p.push(("appId", a.clone()));
        }
        p.push(("order", "asc:lastChanged".into()));
        p.push(("size", size.to_string()));
        if let Some(v) = self.main_version_exclude {
            p.push(("mainVersionExclude", v.to_string()));
        }
        p
    }
}

/// Altinn 3 Correspondence as a source (`connector = "altinn-correspondence"`,
/// `../shared/altinn/real-apis.md` §3): `GET …/correspondence?resourceId=R&role=Sender&from=F&to=T`
/// lists the ids of the correspondences published strictly between F and T, newest first, at
/// most [`CORRESPONDENCE_CAP`] and with no continuation; `GET …/{id}/details` reads one.
#[derive(Debug, Clone, Default)]
pub struct CorrespondenceQuery {
    /// The resources whose correspondences are read (the list requires one `resourceId`).
    pub resources: Vec<String>,
}

/// The most ids Correspondence's list returns: a list this long may have left some out.
pub const CORRESPONDENCE_CAP: usize = 1000;

/// A span of publish times `[lo, hi)`, microseconds, as a page of the connector asks for it,
/// and where the window it belongs to ends. A live tick's first span is open (`hi` None: up to
/// the instant it is asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub lo: i64,
    pub hi: Option<i64>,
    pub end: Option<i64>,
}

impl Span {
    /// The earlier half of `[lo, hi)`, for a list that hit the cap; None when the span is one
    /// instant (one microsecond, Correspondence's precision) and cannot be split.
    pub fn halve(lo: i64, hi: i64) -> Option<i64> {
        (hi - lo > 1).then(|| lo + (hi - lo) / 2)
    }

    /// After `[lo, hi)` was listed under the cap: the next span of the window, twice as wide
    /// (the density is rarely even), up to the window's end.
    pub fn after(lo: i64, hi: i64, end: i64) -> Option<(i64, i64)> {
        (hi < end).then(|| (hi, end.min(hi.saturating_add(2 * (hi - lo).max(1)))))
    }
}

/// A source's HTTP API: where it is, and where a page keeps its records and next URL.
#[derive(Debug, Clone)]
pub struct Api {
    /// The base URL, without a trailing `/`.
    pub base: String,
    /// JSON pointer to a page's record list.
    pub items: String,
    /// JSON pointer to a page's next URL.
    pub next: String,
    pub page_size: u32,
    pub keys: RecordKeys,
    /// Altinn Storage's protocol instead of the simulator's own (`http`).
    pub storage: Option<StorageQuery>,
    /// Altinn 3 Correspondence's list and details instead.
    pub correspondence: Option<CorrespondenceQuery>,
}

impl Api {
    pub fn new(base: &str, items: Option<&str>, next: &str, page_size: u32, keys: RecordKeys) -> Api {
        Api { base: base.trim_end_matches('/').to_string(), items: items.unwrap_or("/items").to_string(), next: next.to_string(), page_size: page_size.max(1), keys, storage: None, correspondence: None }
    }

    /// The same API spoken as Altinn Storage's instance query (`base` is its
    /// `…/storage/api/v1/instances`; pages are `{"instances": [...], "next": URL}`).
    pub fn with_storage(mut self, q: StorageQuery) -> Api {
        self.storage = Some(q);
        self
    }

    /// The same API spoken as Altinn 3 Correspondence (`base` is its
    /// `…/correspondence/api/v1/correspondence`).
    pub fn with_correspondence(mut self, q: CorrespondenceQuery) -> Api {
        self.correspondence = Some(q);
        self
    }

    /// Records changed at or after `since` (live ticks), oldest change first.
    pub fn changed_url(&self, since: i64) -> String {
        if self.correspondence.is_some() {
            // Published since `since`, up to the instant the list is first asked.
            return self.span_url(since, None, None);
        }
        if let Some(q) = &self.storage {
            // `gte:`: the instant the last tick ended on again, so ties there are not lost
            // (their ids settled already come back unchanged).
            let mut p = q.pairs(self.page_size);
            p.push(("lastChanged", format!("gte:{}", format_micros(since))));
            return self.with(&p);
        }
        format!("{}?{}", self.base, query(&[("changedSince", &format_micros(since)), ("limit", &self.page_size.to_string())]))
    }

    /// Records created on the days `[first, last]`.
    pub fn window_url(&self, first: NaiveDate, last: NaiveDate) -> String {
        let from = format_micros(day_start(first));
        let before = format_micros(day_start(last + Duration::days(1)));
        if self.correspondence.is_some() {
            let end = day_start(last + Duration::days(1));
            return self.span_url(day_start(first), Some(end), Some(end));
        }
        if let Some(q) = &self.storage {
            let mut p = q.pairs(self.page_size);
            p.push(("created", format!("gte:{from}")));
            p.push(("created", format!("lt:{before}")));
            return self.with(&p);
        }
        format!("{}?{}", self.base, query(&[("createdFrom", &from), ("createdBefore", &before), ("limit", &self.page_size.to_string())]))
    }

    /// One record by its id.
    pub fn item_url(&self, id: &str) -> String {
        if self.correspondence.is_some() {
            return format!("{}/{id}/details", self.base);
        }
        if self.storage.is_some() {
            // Storage's instance id is `{partyId}/{guid}`: `GET …/instances/{partyId}/{guid}`.
            return format!("{}/{id}", self.base);
        }
        format!("{}/item?{}", self.base, query(&[("id", id)]))
    }

    /// The source's count of records per creation day in `[from, to]`.
    pub fn counts_url(&self, from: NaiveDate, to: NaiveDate) -> String {
        format!("{}/counts?{}", self.base, query(&[("from", &from.to_string()), ("to", &to.to_string())]))
    }

    /// Reads one page fetched from `url`. A record the page holds but that cannot be read is a
    /// failure naming the page and its position, never a reason to drop the page.
    pub fn page(&self, url: &str, body: &[u8]) -> Result<Page, String> {
        let page: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
        let empty = Vec::new();
        let items = match page.pointer(&self.items) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None if page.pointer(&self.next).is_some() => &empty,
            _ => return Err(format!("no record list at `{}`", self.items)),
        };
        let records = items.iter().enumerate().map(|(i, item)| self.keys.record(item.to_string().into_bytes(), format!("{url}#{}[{i}]", self.items))).collect();
        let next = match page.pointer(&self.next) {
            Some(Value::String(s)) if !s.is_empty() => Some(self.absolute(s)),
            _ => None,
        };
        Ok(Page { records, next, cursor: None })
    }

    /// The connector's own URL for a span: the list query without its `resourceId` (one request
    /// per configured resource is made of it), `to` left out while open, and the window's end
    /// in the fragment, which is never sent. The publish-time bounds are exclusive at both ends,
    /// so `from` is one microsecond before `lo`: `[lo, hi)` exactly, no tie at an edge lost.
    pub fn span_url(&self, lo: i64, hi: Option<i64>, end: Option<i64>) -> String {
        let mut p = vec![("role", "Sender".to_string()), ("from", format_micros(lo - 1))];
        if let Some(hi) = hi {
            p.push(("to", format_micros(hi)));
        }
        let url = self.with(&p);
        match end {
            Some(e) => format!("{url}#end={}", format_micros(e)),
            None => url,
        }
    }

    /// The span a [`Api::span_url`] names.
    pub fn span(&self, url: &str) -> Result<Span, String> {
        let (url, fragment) = url.split_once('#').unwrap_or((url, ""));
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let time = |k: &str, v: &str| chrono::DateTime::parse_from_rfc3339(v).map(|t| t.timestamp_micros()).map_err(|e| format!("`{k}={v}` is not an RFC 3339 time: {e}"));
        let mut span = Span { lo: i64::MIN, hi: None, end: None };
        for (k, v) in form_urlencoded::parse(query.as_bytes()).chain(form_urlencoded::parse(fragment.as_bytes())) {
            match k.as_ref() {
                "from" => span.lo = time(&k, &v)? + 1,
                "to" => span.hi = Some(time(&k, &v)?),
                "end" => span.end = Some(time(&k, &v)?),
                _ => {}
            }
        }
        if span.lo == i64::MIN {
            return Err("no `from` (the connector's list URLs always carry one)".into());
        }
        Ok(span)
    }

    /// The list request for `[lo, hi)` of one resource, as Correspondence takes it.
    pub fn list_url(&self, lo: i64, hi: i64, resource: &str) -> String {
        self.with(&[("resourceId", resource.to_string()), ("role", "Sender".into()), ("from", format_micros(lo - 1)), ("to", format_micros(hi))])
    }

    /// The ids of a list answer (`{"ids": [...]}`), lower-cased as the transformer keys them.
    pub fn ids(body: &[u8]) -> Result<Vec<String>, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
        let ids = v.get("ids").and_then(Value::as_array).ok_or("no `ids` list")?;
        ids.iter().map(|i| i.as_str().map(str::to_ascii_lowercase).ok_or_else(|| format!("id `{i}` is not a string"))).collect()
    }

    fn with(&self, pairs: &[(&str, String)]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        format!("{}?{}", self.base, q.finish())
    }

    /// The origin (`scheme://host:port`) of a URL.
    fn origin(url: &str) -> &str {
        let end = url.find("://").map(|i| i + 3).and_then(|i| url[i..].find('/').map(|j| i + j)).unwrap_or(url.len());
        &url[..end]
    }

    /// A relative continuation (`?after=…`, `/path?…`) made absolute against the base URL.
    /// Storage's `next` is an absolute public URL (`https://platform.{host}…`) even when it was
    /// asked at another address: its origin becomes the configured one, the rest is verbatim.
    pub fn absolute(&self, next: &str) -> String {
        if next.contains("://") {
            if self.storage.is_some() {
                return format!("{}{}", Self::origin(&self.base), &next[Self::origin(next).len()..]);
            }
            return next.into();
        }
        if let Some(q) = next.strip_prefix('?') {
            return format!("{}?{q}", self.base);
        }
        let origin_end = self.base.find("://").map(|i| i + 3).and_then(|i| self.base[i..].find('/').map(|j| i + j)).unwrap_or(self.base.len());
        format!("{}{next}", &self.base[..origin_end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage() -> Api {
        let q = StorageQuery { org: Some("ttd".into()), app_id: None, main_version_exclude: Some(0) };
        Api::new("http://127.0.0.1:9000/storage/api/v1/instances/", Some("/instances"), "/next", 100, RecordKeys::default()).with_storage(q)
    }

    #[test]
    fn storage_queries_page_ascending_with_explicit_operators_and_every_version() {
        let api = storage();
        let t = day_start("2026-01-02".parse().unwrap()) + 1;
        assert_eq!(
            api.changed_url(t),
            "http://127.0.0.1:9000/storage/api/v1/instances?org=ttd&order=asc%3AlastChanged&size=100&mainVersionExclude=0&lastChanged=gte%3A2026-01-02T00%3A00%3A00.000001Z"
        );
        let day = "2026-01-02".parse().unwrap();
        assert_eq!(
            api.window_url(day, day),
            "http://127.0.0.1:9000/storage/api/v1/instances?org=ttd&order=asc%3AlastChanged&size=100&mainVersionExclude=0&created=gte%3A2026-01-02T00%3A00%3A00.000000Z&created=lt%3A2026-01-03T00%3A00%3A00.000000Z"
        );
        assert_eq!(api.item_url("50001/0a1b"), "http://127.0.0.1:9000/storage/api/v1/instances/50001/0a1b");
    }

    fn correspondence() -> Api {
        Api::new("http://127.0.0.1:9000/correspondence/api/v1/correspondence", None, "/next", 100, RecordKeys::default())
            .with_correspondence(CorrespondenceQuery { resources: vec!["skd-vedtak".into()] })
    }

    #[test]
    fn correspondence_spans_cover_a_window_exactly_through_exclusive_bounds() {
        let api = correspondence();
        let day: NaiveDate = "2026-01-02".parse().unwrap();
        let url = api.window_url(day, day);
        assert_eq!(url, "http://127.0.0.1:9000/correspondence/api/v1/correspondence?role=Sender&from=2026-01-01T23%3A59%3A59.999999Z&to=2026-01-03T00%3A00%3A00.000000Z#end=2026-01-03T00:00:00.000000Z");
        let (lo, hi) = (day_start(day), day_start(day + Duration::days(1)));
        assert_eq!(api.span(&url).unwrap(), Span { lo, hi: Some(hi), end: Some(hi) });
        assert_eq!(api.list_url(lo, hi, "skd-vedtak"), "http://127.0.0.1:9000/correspondence/api/v1/correspondence?resourceId=skd-vedtak&role=Sender&from=2026-01-01T23%3A59%3A59.999999Z&to=2026-01-03T00%3A00%3A00.000000Z");
        let live = api.span(&api.changed_url(lo)).unwrap();
        assert_eq!(live, Span { lo, hi: None, end: None });
        assert_eq!(api.item_url("0192a3c5-0000-7000-8000-000000000001"), "http://127.0.0.1:9000/correspondence/api/v1/correspondence/0192a3c5-0000-7000-8000-000000000001/details");
        // Halving then widening walks the window without a gap or an overlap.
        let (mut at, mut covered) = (lo, Vec::new());
        let mut h = Span::halve(lo, hi).and_then(|m| Span::halve(lo, m)).unwrap();
        loop {
            covered.push((at, h));
            match Span::after(at, h, hi) {
                Some((a, b)) => (at, h) = (a, b),
                None => break,
            }
        }
        assert!(covered.windows(2).all(|w| w[0].1 == w[1].0) && covered[0].0 == lo && covered.last().unwrap().1 == hi);
        assert_eq!(Span::halve(lo, lo + 1), None);
        assert_eq!(Api::ids(br#"{"ids": ["0192A3C5-0000-7000-8000-000000000001"]}"#).unwrap(), vec!["0192a3c5-0000-7000-8000-000000000001"]);
    }

    #[test]
    fn storage_next_is_followed_verbatim_at_the_configured_origin() {
        let next = "https://platform.tt02.altinn.no/storage/api/v1/instances?org=ttd&size=100&continuationToken=638%253B17";
        assert_eq!(storage().absolute(next), "http://127.0.0.1:9000/storage/api/v1/instances?org=ttd&size=100&continuationToken=638%253B17");
        // The simulator's own protocol keeps an absolute next as it is.
        let plain = Api::new("http://127.0.0.1:9000/x", None, "/next", 10, RecordKeys::default());
        assert_eq!(plain.absolute(next), next);
    }
}
