//! The changelog: which change events a commit appends, decided against what is stored inside
//! the commit's transaction (so a concurrent writer never lets an older version win).

use crate::commit::{Current, DialogRow};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// A change event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub dialog_id: String,
    /// created, updated, deleted, restored, activity.
    pub kind: &'static str,
    pub party: String,
    pub service_resource: String,
    /// An activity event's `{activityId, activityType}`.
    pub detail: Option<Value>,
}

/// Activities of `new` that `old` lacks (by id), as `{activityId, activityType}`: each gets its
/// activity event. Only the activities are read from the documents.
pub fn new_activities(old: Option<&str>, new: &str) -> Vec<Value> {
    #[derive(serde::Deserialize, Default)]
    struct Doc {
        #[serde(default)]
        activities: Vec<Activity>,
    }
    #[derive(serde::Deserialize)]
    struct Activity {
        id: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let read = |d: &str| serde_json::from_str::<Doc>(d).unwrap_or_default().activities;
    let known: HashSet<Option<String>> = old.map(read).unwrap_or_default().into_iter().map(|a| a.id).collect();
    read(new)
        .into_iter()
        .filter(|a| !known.contains(&a.id))
        .map(|a| serde_json::json!({ "activityId": a.id, "activityType": a.kind }))
        .collect()
}

/// A stored dialog, as a commit reads it for its element.
#[derive(Debug, Clone)]
pub struct StoredDialog {
    pub current: Current,
    pub party: String,
    pub service_resource: String,
}

/// What a commit does with its dialogs.
#[derive(Debug, Default)]
pub struct Upserts<'a> {
    /// Dialogs to delete: their element's creation time, and with it the id, changed.
    pub gone: Vec<String>,
    /// Rows to write: newer than what is stored.
    pub write: Vec<&'a DialogRow>,
    pub events: Vec<NewEvent>,
}

/// Newer version wins, row by row, against `stored` (element id → stored dialog) and earlier
/// rows of the same commit; events for each dialog created, updated or deleted, and for each
/// new activity.
pub fn upserts<'a>(rows: &'a [DialogRow], mut stored: HashMap<String, StoredDialog>, replay: bool) -> Upserts<'a> {
    let mut out = Upserts::default();
    for d in rows {
        let before = stored.get(&d.source_id);
        let kind = match before {
            None => "created",
            Some(s) if !s.current.replaced_by(d.source_version, &d.content_hash, replay) => continue,
            Some(s) if s.current.id == d.id && s.current.document == d.document => "unchanged",
            Some(s) if s.current.id != d.id => "created",
            Some(_) => "updated",
        };
        let mut old_document = before.map(|b| b.current.document.as_str());
        if let Some(old) = before.filter(|b| b.current.id != d.id) {
            out.gone.push(old.current.id.clone());
            out.events.push(NewEvent { dialog_id: old.current.id.clone(), kind: "deleted", party: old.party.clone(), service_resource: old.service_resource.clone(), detail: None });
            old_document = None;
        }
        if kind != "unchanged" {
            let event = |kind, detail| NewEvent { dialog_id: d.id.clone(), kind, party: d.party.clone(), service_resource: d.service_resource.clone(), detail };
            out.events.push(event(kind, None));
            out.events.extend(new_activities(old_document, &d.document).into_iter().map(|a| event("activity", Some(a))));
        }
        let current = Current { id: d.id.clone(), source_version: d.source_version, content_hash: d.content_hash.clone(), document: d.document.clone() };
        stored.insert(d.source_id.clone(), StoredDialog { current, party: d.party.clone(), service_resource: d.service_resource.clone() });
        out.write.push(d);
    }
    out
}
