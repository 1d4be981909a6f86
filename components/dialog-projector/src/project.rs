//! Canonical element → Dialogporten dialog, in the service-owner API's `CreateDialog` shape.

use crate::ids::uuid7;
use dialogsync_sdk::rules::{self, clamp};
use dialogsync_sdk::time::format_instant;
use dialogsync_sdk::types::{
    ActorKind, Dialog, Element, ElementKind, EventKind, LegacyRef, Localized, Party, ProcessTask,
    ProjectionContext, RecordError, SyncMode, Timestamp,
};
use serde_json::{Map, Value, json};

/// Projects one element. Pure: the same element and context always give the same dialog.
pub fn project(ctx: &ProjectionContext, e: &Element) -> Result<Dialog, RecordError> {
    let party = match &e.party {
        Party::Urn(urn) if rules::valid_party(urn) => urn.clone(),
        Party::Urn(urn) => return Err(RecordError::RuleViolation(format!("party `{urn}` is not a person or organisation URN"))),
        Party::PartyId(id) => return Err(RecordError::RuleViolation(format!("party id {id} was not resolved to a URN"))),
    };
    if !e.service_resource.starts_with("urn:altinn:resource:") {
        return Err(RecordError::RuleViolation(format!("service resource `{}` is not urn:altinn:resource:…", e.service_resource)));
    }
    if e.title.iter().all(|t| t.value.trim().is_empty()) {
        return Err(RecordError::MissingField("title".into()));
    }

    // Dates: never in the future, updated never before created.
    let created_at = e.created_at.min(ctx.now);
    let updated_at = e.updated_at.clamp(created_at, ctx.now);
    let keep = |t: Option<Timestamp>| t.filter(|t| ctx.mode == SyncMode::Historic || *t >= ctx.now);
    let visible_from = keep(e.visible_from);
    let due_at = keep(e.due_at).filter(|due| visible_from.is_none_or(|v| *due >= v));

    let id = dialog_id(e);
    let status = status(e);
    let system_label = if e.state.soft_deleted {
        "Bin"
    } else if e.state.archived {
        "Archive"
    } else {
        "Default"
    };

    let mut doc = Map::new();
    doc.insert("id".into(), json!(id));
    doc.insert("serviceResource".into(), json!(e.service_resource));
    doc.insert("party".into(), json!(party));
    doc.insert("status".into(), json!(status));
    doc.insert("systemLabel".into(), json!(system_label));
    doc.insert("createdAt".into(), json!(format_instant(created_at)));
    doc.insert("updatedAt".into(), json!(format_instant(updated_at)));
    if let Some(t) = visible_from {
        doc.insert("visibleFrom".into(), json!(format_instant(t)));
    }
    if let Some(t) = due_at {
        doc.insert("dueAt".into(), json!(format_instant(t)));
    }
    doc.insert("content".into(), content(e));
    let tags = search_tags(e);
    if !tags.is_empty() {
        doc.insert("searchTags".into(), json!(tags));
    }
    doc.insert("serviceOwnerContext".into(), json!({ "serviceOwnerLabels": labels(e) }));
    let (activities, transmissions) = history(e, &id, &party, ctx.now);
    if !transmissions.is_empty() {
        doc.insert("transmissions".into(), Value::Array(transmissions));
    }
    if !activities.is_empty() {
        doc.insert("activities".into(), Value::Array(activities));
    }
    if !e.attachments.is_empty() {
        doc.insert("attachments".into(), attachments(e, &id));
    }
    if !e.links.is_empty() {
        doc.insert("guiActions".into(), gui_actions(e, &id));
    }

    Ok(Dialog {
        id,
        party,
        service_resource: e.service_resource.clone(),
        status: status.into(),
        system_label: system_label.into(),
        created_at,
        updated_at,
        document: Value::Object(doc).to_string(),
    })
}

/// Altinn's own status mapping (DESIGN.md "Dialog rules").
fn status(e: &Element) -> &'static str {
    let s = &e.state;
    match e.kind {
        ElementKind::Correspondence if s.confirmation_needed && !s.confirmed => "RequiresAttention",
        ElementKind::Correspondence => "NotApplicable",
        ElementKind::Form if s.archived && s.confirmed => "Completed",
        ElementKind::Form if s.archived => "Awaiting",
        ElementKind::Form => match s.task {
            ProcessTask::Reject => "RequiresAttention",
            ProcessTask::Feedback => "Awaiting",
            ProcessTask::Confirmation | ProcessTask::Signing => "InProgress",
            _ => "Draft",
        },
    }
}

fn localized(values: &[Localized], max: usize) -> Value {
    let values: Vec<Value> = values
        .iter()
        .filter(|l| !l.value.trim().is_empty())
        .map(|l| json!({ "languageCode": l.language, "value": clamp(l.value.trim(), max) }))
        .collect();
    json!(values)
}

fn content_value(values: &[Localized], max: usize) -> Value {
    json!({ "value": localized(values, max), "mediaType": "text/plain" })
}

fn content(e: &Element) -> Value {
    let mut c = Map::new();
    c.insert("title".into(), content_value(&e.title, rules::MAX_TEXT));
    if e.summary.iter().any(|s| !s.value.trim().is_empty()) {
        c.insert("summary".into(), content_value(&e.summary, rules::MAX_TEXT));
    }
    if let Some(sender) = e.sender_name.as_deref().filter(|s| !s.trim().is_empty()) {
        let sender = [Localized { language: "nb".into(), value: sender.into() }];
        c.insert("senderName".into(), content_value(&sender, rules::MAX_TEXT));
    }
    if e.body.iter().any(|s| !s.value.trim().is_empty()) {
        c.insert("additionalInfo".into(), content_value(&e.body, rules::MAX_ADDITIONAL_INFO));
    }
    if let Some(sub) = e.state.sub_status.as_deref().filter(|s| !s.trim().is_empty()) {
        let sub = [Localized { language: "nb".into(), value: sub.into() }];
        c.insert("extendedStatus".into(), content_value(&sub, rules::MAX_EXTENDED_STATUS));
    }
    Value::Object(c)
}

/// The dialog's id, a UUIDv7 at the element's creation. An Altinn 3 correspondence migrated
/// from Altinn 2 (`altinn2CorrespondenceId`) takes its Altinn 2 record's id, so the one message
/// in both sources is one dialog: Altinn's migration carried the A2 creation time over.
fn dialog_id(e: &Element) -> String {
    let a2 = e.legacy_refs.iter().find_map(|r| match r {
        LegacyRef::A2CorrespondenceId(i) if e.kind == ElementKind::Correspondence => Some(i.as_str()),
        _ => None,
    });
    match a2 {
        Some(i) => uuid7(e.created_at, &["a2-correspondence", i]),
        None => uuid7(e.created_at, &[&e.source, &e.source_id]),
    }
    .to_string()
}

/// Every legacy reference as a service-owner label, so the dialog can be found by any of them.
fn labels(e: &Element) -> Vec<Value> {
    let mut out: Vec<String> = Vec::new();
    for r in &e.legacy_refs {
        let label = match r {
            LegacyRef::A3Instance(i) => format!("urn:altinn:integration:storage:{i}"),
            LegacyRef::A3CorrespondenceId(i) => format!("urn:altinn:correspondence-id:{i}"),
            LegacyRef::A2CorrespondenceId(i) => format!("urn:altinn:a2:correspondence-id:{i}"),
            LegacyRef::ReporteeElementId(i) => format!("urn:altinn:a2:reportee-element-id:{i}"),
            LegacyRef::ArchiveReference(i) => format!("urn:altinn:a2:archive-reference:{i}"),
        };
        if rules::LABEL_LEN.contains(&label.chars().count()) && !out.contains(&label) && out.len() < rules::MAX_LABELS {
            out.push(label);
        }
    }
    out.into_iter().map(|value| json!({ "value": value })).collect()
}

/// Legacy numbers people search by (archive reference, A2 correspondence id).
fn search_tags(e: &Element) -> Vec<Value> {
    let mut out: Vec<&str> = Vec::new();
    for r in &e.legacy_refs {
        if let LegacyRef::ArchiveReference(v) | LegacyRef::A2CorrespondenceId(v) = r {
            if rules::SEARCH_TAG_LEN.contains(&v.chars().count()) && !out.contains(&v.as_str()) {
                out.push(v);
            }
        }
    }
    out.into_iter().map(|value| json!({ "value": value })).collect()
}

fn actor(kind: Option<ActorKind>, id: Option<&str>, name: Option<&str>, party: &str) -> Value {
    match kind.unwrap_or(ActorKind::ServiceOwner) {
        // Dialogporten: a service owner actor carries neither id nor name.
        ActorKind::ServiceOwner => json!({ "actorType": "ServiceOwner" }),
        // A party representative needs an id or a name; when the source names no one, the
        // party itself acted.
        ActorKind::PartyRepresentative => match (id, name) {
            (None, None) => json!({ "actorType": "PartyRepresentative", "actorId": party }),
            (id, name) => {
                let mut a = Map::new();
                a.insert("actorType".into(), json!("PartyRepresentative"));
                if let Some(id) = id {
                    a.insert("actorId".into(), json!(id));
                }
                if let Some(name) = name {
                    a.insert("actorName".into(), json!(clamp(name, rules::MAX_TEXT)));
                }
                Value::Object(a)
            }
        },
    }
}

/// Activities from the dated history, oldest first, each once; submissions also become
/// transmissions that their activity points to.
fn history(e: &Element, dialog_id: &str, party: &str, now: Timestamp) -> (Vec<Value>, Vec<Value>) {
    let correspondence = e.kind == ElementKind::Correspondence;
    let mut events: Vec<_> = e.events.iter().collect();
    events.sort_by_key(|ev| (ev.at, ev.kind as u8));
    events.dedup_by_key(|ev| (ev.at, ev.kind as u8));
    let (mut activities, mut transmissions) = (Vec::new(), Vec::new());
    for ev in events {
        let kind = match ev.kind {
            EventKind::Created => "DialogCreated",
            EventKind::Saved => "FormSaved",
            EventKind::Submitted => "FormSubmitted",
            EventKind::Signed => "SignatureProvided",
            EventKind::Read if correspondence => "CorrespondenceOpened",
            EventKind::Read => "DialogOpened",
            EventKind::Confirmed if correspondence => "CorrespondenceConfirmed",
            EventKind::Confirmed => "DialogClosed",
            EventKind::SoftDeleted => "DialogDeleted",
            EventKind::Restored => "DialogRestored",
            EventKind::SentToSigning => "SentToSigning",
            EventKind::PaymentMade => "PaymentMade",
            EventKind::Published | EventKind::Archived | EventKind::Replied | EventKind::AttachmentsDownloaded => continue,
        };
        let at = ev.at.min(now);
        let when = format_instant(at);
        let key = format!("{kind}@{}", ev.at);
        let (actor_kind, actor_id, actor_name) = match &ev.actor {
            Some(a) => (Some(a.kind), a.id.as_deref(), a.name.as_deref()),
            None => (None, None, None),
        };
        let performed_by = actor(actor_kind, actor_id, actor_name, party);
        let mut activity = json!({
            "id": uuid7(at, &[dialog_id, "activity", &key]).to_string(),
            "createdAt": when,
            "type": kind,
            "performedBy": performed_by,
        });
        if ev.kind == EventKind::Submitted {
            let tid = uuid7(at, &[dialog_id, "transmission", &key]).to_string();
            transmissions.push(json!({
                "id": tid,
                "createdAt": when,
                "type": "Submission",
                "sender": performed_by,
                "content": { "title": content_value(&e.title, rules::MAX_TEXT) },
            }));
            activity["transmissionId"] = json!(tid);
        }
        activities.push(activity);
    }
    (activities, transmissions)
}

fn attachments(e: &Element, dialog_id: &str) -> Value {
    let list: Vec<Value> = e
        .attachments
        .iter()
        .map(|a| {
            let mut url = json!({ "url": a.url, "consumerType": match a.consumer {
                dialogsync_sdk::types::Consumer::Gui => "Gui",
                dialogsync_sdk::types::Consumer::Api => "Api",
            }});
            if let Some(m) = &a.media_type {
                url["mediaType"] = json!(m);
            }
            json!({
                "id": uuid7(e.created_at, &[dialog_id, "attachment", &a.id]).to_string(),
                "displayName": localized(&a.display_name, rules::MAX_TEXT),
                "urls": [url],
            })
        })
        .collect();
    json!(list)
}

fn gui_actions(e: &Element, dialog_id: &str) -> Value {
    let list: Vec<Value> = e
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "id": uuid7(e.created_at, &[dialog_id, "gui-action", &l.url]).to_string(),
                "action": "read",
                "url": l.url,
                "priority": if i == 0 { "Primary" } else { "Secondary" },
                "title": localized(&l.title, rules::MAX_TEXT),
            })
        })
        .collect();
    json!(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialogsync_sdk::types::*;

    const NOW: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
    const DAY: i64 = 86_400_000_000;

    fn element() -> Element {
        Element {
            source: "a3-app-instances".into(),
            source_id: "20475edd-dc38-4ae0-bd64-1b20643f506c".into(),
            source_version: 1,
            kind: ElementKind::Form,
            legacy_refs: vec![LegacyRef::A3Instance("1337/20475edd-dc38-4ae0-bd64-1b20643f506c".into())],
            party: Party::Urn("urn:altinn:organization:identifier-no:725736800".into()),
            service_resource: "urn:altinn:resource:app_ttd_x".into(),
            service_owner: "ttd".into(),
            sender_name: None,
            created_at: NOW - 10 * DAY,
            updated_at: NOW - 5 * DAY,
            visible_from: Some(NOW - 9 * DAY),
            due_at: Some(NOW - 8 * DAY),
            title: vec![Localized { language: "nb".into(), value: "T".repeat(300) }],
            summary: vec![],
            body: vec![],
            state: ElementState {
                archived: false,
                soft_deleted: false,
                read: false,
                confirmation_needed: false,
                confirmed: false,
                task: ProcessTask::Data,
                sub_status: None,
            },
            events: vec![
                ElementEvent { kind: EventKind::Submitted, at: NOW - 6 * DAY, actor: None },
                ElementEvent { kind: EventKind::Created, at: NOW - 10 * DAY, actor: Some(Actor { kind: ActorKind::PartyRepresentative, id: None, name: None }) },
                ElementEvent { kind: EventKind::Created, at: NOW - 10 * DAY, actor: None },
            ],
            attachments: vec![],
            links: vec![],
        }
    }

    fn ctx(mode: SyncMode) -> ProjectionContext {
        ProjectionContext { now: NOW, mode }
    }

    fn doc(d: &Dialog) -> Value {
        serde_json::from_str(&d.document).unwrap()
    }

    #[test]
    fn status_and_label_follow_altinns_mapping() {
        let mut e = element();
        let s = |e: &Element| project(&ctx(SyncMode::Historic), e).unwrap();
        assert_eq!((s(&e).status.as_str(), s(&e).system_label.as_str()), ("Draft", "Default"));
        e.state.task = ProcessTask::Feedback;
        assert_eq!(s(&e).status, "Awaiting");
        e.state.task = ProcessTask::Reject;
        assert_eq!(s(&e).status, "RequiresAttention");
        e.state.task = ProcessTask::Signing;
        assert_eq!(s(&e).status, "InProgress");
        e.state.archived = true;
        assert_eq!((s(&e).status.as_str(), s(&e).system_label.as_str()), ("Awaiting", "Archive"));
        e.state.confirmed = true;
        assert_eq!(s(&e).status, "Completed");
        e.state.soft_deleted = true;
        assert_eq!(s(&e).system_label, "Bin");
        e.kind = ElementKind::Correspondence;
        e.state.confirmation_needed = true;
        e.state.confirmed = false;
        assert_eq!(s(&e).status, "RequiresAttention");
        e.state.confirmed = true;
        assert_eq!(s(&e).status, "NotApplicable");
    }

    #[test]
    fn dates_clamped_and_live_drops_past_due_dates() {
        let mut e = element();
        e.created_at = NOW + DAY;
        e.updated_at = NOW - DAY;
        let d = project(&ctx(SyncMode::Historic), &e).unwrap();
        assert_eq!((d.created_at, d.updated_at), (NOW, NOW), "no future created; updated ≥ created");
        let historic = doc(&project(&ctx(SyncMode::Historic), &element()).unwrap());
        assert!(historic.get("dueAt").is_some() && historic.get("visibleFrom").is_some());
        let live = doc(&project(&ctx(SyncMode::Live), &element()).unwrap());
        assert!(live.get("dueAt").is_none() && live.get("visibleFrom").is_none());
        let mut e = element();
        e.due_at = Some(NOW - 9 * DAY - 1);
        let d = doc(&project(&ctx(SyncMode::Historic), &e).unwrap());
        assert!(d.get("dueAt").is_none(), "dueAt before visibleFrom is dropped");
    }

    #[test]
    fn content_clamped_labels_and_history() {
        let d = project(&ctx(SyncMode::Historic), &element()).unwrap();
        let v = doc(&d);
        assert_eq!(v["content"]["title"]["value"][0]["value"].as_str().unwrap().chars().count(), 255);
        assert_eq!(v["serviceOwnerContext"]["serviceOwnerLabels"][0]["value"], "urn:altinn:integration:storage:1337/20475edd-dc38-4ae0-bd64-1b20643f506c");
        let types: Vec<&str> = v["activities"].as_array().unwrap().iter().map(|a| a["type"].as_str().unwrap()).collect();
        assert_eq!(types, vec!["DialogCreated", "FormSubmitted"], "sorted, duplicate created dropped");
        assert_eq!(v["activities"][1]["transmissionId"], v["transmissions"][0]["id"]);
        assert_eq!(v["activities"][0]["performedBy"]["actorId"], "urn:altinn:organization:identifier-no:725736800");
        assert_eq!(v["id"], d.id.as_str());
        assert_eq!(d, project(&ctx(SyncMode::Historic), &element()).unwrap(), "deterministic");
    }

    #[test]
    fn unresolved_or_bad_party_is_refused() {
        let mut e = element();
        e.party = Party::PartyId("1337".into());
        assert!(matches!(project(&ctx(SyncMode::Historic), &e), Err(RecordError::RuleViolation(m)) if m.contains("1337")));
        e.party = Party::Urn("urn:altinn:organization:identifier-no:1".into());
        assert!(project(&ctx(SyncMode::Historic), &e).is_err());
    }
}
