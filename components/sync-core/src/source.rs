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
    KnownSource { name: "a3-correspondence", id_field: "correspondenceId", version_fields: &["lastChanged", "created"], created_fields: &["created"], items: "/items" },
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
}

impl Api {
    pub fn new(base: &str, items: Option<&str>, next: &str, page_size: u32, keys: RecordKeys) -> Api {
        Api { base: base.trim_end_matches('/').to_string(), items: items.unwrap_or("/items").to_string(), next: next.to_string(), page_size: page_size.max(1), keys }
    }

    /// Records changed at or after `since` (live ticks), oldest change first.
    pub fn changed_url(&self, since: i64) -> String {
        format!("{}?{}", self.base, query(&[("changedSince", &format_micros(since)), ("limit", &self.page_size.to_string())]))
    }

    /// Records created on the days `[first, last]`.
    pub fn window_url(&self, first: NaiveDate, last: NaiveDate) -> String {
        let from = format_micros(day_start(first));
        let before = format_micros(day_start(last + Duration::days(1)));
        format!("{}?{}", self.base, query(&[("createdFrom", &from), ("createdBefore", &before), ("limit", &self.page_size.to_string())]))
    }

    /// One record by its id.
    pub fn item_url(&self, id: &str) -> String {
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
        Ok(Page { records, next })
    }

    /// A relative continuation (`?after=…`, `/path?…`) made absolute against the base URL.
    pub fn absolute(&self, next: &str) -> String {
        if next.contains("://") {
            return next.into();
        }
        if let Some(q) = next.strip_prefix('?') {
            return format!("{}?{q}", self.base);
        }
        let origin_end = self.base.find("://").map(|i| i + 3).and_then(|i| self.base[i..].find('/').map(|j| i + j)).unwrap_or(self.base.len());
        format!("{}{next}", &self.base[..origin_end])
    }
}
