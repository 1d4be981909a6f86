//! Canonical element → Dialogporten dialog, in the service-owner API's `CreateDialog` shape.
//!
//! The document is written from typed structs that borrow the element's strings. Their fields
//! are declared in sorted order, the order in which a `serde_json::Map` prints its keys, so the
//! bytes are those of the `Value` tree this projector used to build (checked by a test).

use crate::ids::uuid7;
use dialogsync_sdk::rules::{self, clamp};
use dialogsync_sdk::time::Rfc3339;
use dialogsync_sdk::types::{
    ActorKind, Consumer, Dialog, Element, ElementKind, EventKind, LegacyRef, Localized, Party, ProcessTask,
    ProjectionContext, RecordError, SyncMode, Timestamp,
};
use serde::Serialize;
use std::borrow::Cow;
use uuid::Uuid;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    activities: Vec<Activity<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<AttachmentDoc<'a>>,
    content: Content<'a>,
    created_at: Rfc3339,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_at: Option<Rfc3339>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gui_actions: Vec<GuiAction<'a>>,
    id: &'a str,
    party: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    search_tags: Vec<Tag<&'a str>>,
    service_owner_context: ServiceOwnerContext,
    service_resource: &'a str,
    status: &'static str,
    system_label: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    transmissions: Vec<Transmission<'a>>,
    updated_at: Rfc3339,
    #[serde(skip_serializing_if = "Option::is_none")]
    visible_from: Option<Rfc3339>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_info: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_status: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_name: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Text<'a>>,
    title: Text<'a>,
}

/// A content value: its texts, plain.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Text<'a> {
    media_type: &'static str,
    value: Vec<Lang<'a>>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Lang<'a> {
    language_code: &'a str,
    value: Cow<'a, str>,
}

/// `{ "value": … }`, as labels and search tags are written.
#[derive(Serialize)]
struct Tag<T> {
    value: T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceOwnerContext {
    service_owner_labels: Vec<Tag<String>>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Performer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_name: Option<Cow<'a, str>>,
    actor_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Activity<'a> {
    created_at: Rfc3339,
    id: Id,
    performed_by: Performer<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transmission_id: Option<Id>,
    r#type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Transmission<'a> {
    content: TransmissionContent<'a>,
    created_at: Rfc3339,
    id: Id,
    sender: Performer<'a>,
    r#type: &'static str,
}

#[derive(Serialize)]
struct TransmissionContent<'a> {
    title: Text<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentDoc<'a> {
    display_name: Vec<Lang<'a>>,
    id: Id,
    urls: [Url<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Url<'a> {
    consumer_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'a str>,
    url: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GuiAction<'a> {
    action: &'static str,
    id: Id,
    priority: &'static str,
    title: Vec<Lang<'a>>,
    url: &'a str,
}

/// A UUID as its hyphenated text, written without a `String`.
#[derive(Clone, Copy)]
struct Id(Uuid);

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.hyphenated().encode_lower(&mut Uuid::encode_buffer()))
    }
}

/// Projects one element. Pure: the same element and context always give the same dialog.
pub fn project(ctx: &ProjectionContext, e: &Element) -> Result<Dialog, RecordError> {
    let party = match &e.party {
        Party::Urn(urn) if rules::valid_party(urn) => urn.as_str(),
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

    let id = dialog_id(e).to_string();
    let status = status(e);
    let system_label = if e.state.soft_deleted {
        "Bin"
    } else if e.state.archived {
        "Archive"
    } else {
        "Default"
    };

    let content = content(e);
    let (activities, transmissions) = history(e, &id, party, &content.title, ctx.now);
    let doc = Document {
        activities,
        attachments: attachments(e, &id),
        created_at: Rfc3339::new(created_at),
        due_at: due_at.map(Rfc3339::new),
        gui_actions: gui_actions(e, &id),
        id: &id,
        party,
        search_tags: search_tags(e),
        service_owner_context: ServiceOwnerContext { service_owner_labels: labels(e) },
        service_resource: &e.service_resource,
        status,
        system_label,
        transmissions,
        updated_at: Rfc3339::new(updated_at),
        visible_from: visible_from.map(Rfc3339::new),
        content,
    };
    // Strings and `&'static str`s only: serialising cannot fail.
    let document = serde_json::to_string(&doc).map_err(|e| RecordError::Malformed(format!("document: {e}")))?;

    Ok(Dialog {
        party: party.to_string(),
        id,
        service_resource: e.service_resource.clone(),
        status: status.into(),
        system_label: system_label.into(),
        created_at,
        updated_at,
        document,
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

/// The texts that are not blank, trimmed and cut to `max` characters.
fn localized(values: &[Localized], max: usize) -> Vec<Lang<'_>> {
    values
        .iter()
        .filter(|l| !l.value.trim().is_empty())
        .map(|l| Lang { language_code: &l.language, value: clamp(l.value.trim(), max) })
        .collect()
}

fn text(values: &[Localized], max: usize) -> Text<'_> {
    Text { media_type: "text/plain", value: localized(values, max) }
}

/// A text in Norwegian bokmål, unless blank.
fn nb(value: Option<&str>, max: usize) -> Option<Text<'_>> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    Some(Text { media_type: "text/plain", value: vec![Lang { language_code: "nb", value: clamp(value, max) }] })
}

fn content(e: &Element) -> Content<'_> {
    let any = |values: &[Localized]| values.iter().any(|s| !s.value.trim().is_empty());
    Content {
        additional_info: any(&e.body).then(|| text(&e.body, rules::MAX_ADDITIONAL_INFO)),
        extended_status: nb(e.state.sub_status.as_deref(), rules::MAX_EXTENDED_STATUS),
        sender_name: nb(e.sender_name.as_deref(), rules::MAX_TEXT),
        summary: any(&e.summary).then(|| text(&e.summary, rules::MAX_TEXT)),
        title: text(&e.title, rules::MAX_TEXT),
    }
}

/// The dialog's id, a UUIDv7 at the element's creation. An Altinn 3 correspondence migrated
/// from Altinn 2 (`altinn2CorrespondenceId`) takes its Altinn 2 record's id, so the one message
/// in both sources is one dialog: Altinn's migration carried the A2 creation time over.
fn dialog_id(e: &Element) -> Uuid {
    let a2 = e.legacy_refs.iter().find_map(|r| match r {
        LegacyRef::A2CorrespondenceId(i) if e.kind == ElementKind::Correspondence => Some(i.as_str()),
        _ => None,
    });
    match a2 {
        Some(i) => uuid7(e.created_at, &["a2-correspondence", i]),
        None => uuid7(e.created_at, &[&e.source, &e.source_id]),
    }
}

/// Every legacy reference as a service-owner label, so the dialog can be found by any of them.
fn labels(e: &Element) -> Vec<Tag<String>> {
    let mut out: Vec<Tag<String>> = Vec::new();
    for r in &e.legacy_refs {
        let label = match r {
            LegacyRef::A3Instance(i) => format!("urn:altinn:integration:storage:{i}"),
            LegacyRef::A3CorrespondenceId(i) => format!("urn:altinn:correspondence-id:{i}"),
            LegacyRef::A2CorrespondenceId(i) => format!("urn:altinn:a2:correspondence-id:{i}"),
            LegacyRef::ReporteeElementId(i) => format!("urn:altinn:a2:reportee-element-id:{i}"),
            LegacyRef::ArchiveReference(i) => format!("urn:altinn:a2:archive-reference:{i}"),
        };
        if rules::LABEL_LEN.contains(&label.chars().count()) && !out.iter().any(|l| l.value == label) && out.len() < rules::MAX_LABELS {
            out.push(Tag { value: label });
        }
    }
    out
}

/// Legacy numbers people search by (archive reference, A2 correspondence id).
fn search_tags(e: &Element) -> Vec<Tag<&str>> {
    let mut out: Vec<Tag<&str>> = Vec::new();
    for r in &e.legacy_refs {
        if let LegacyRef::ArchiveReference(v) | LegacyRef::A2CorrespondenceId(v) = r {
            if rules::SEARCH_TAG_LEN.contains(&v.chars().count()) && !out.iter().any(|t| t.value == v) {
                out.push(Tag { value: v });
            }
        }
    }
    out
}

fn actor<'a>(kind: Option<ActorKind>, id: Option<&'a str>, name: Option<&'a str>, party: &'a str) -> Performer<'a> {
    let actor = |actor_type, actor_id, actor_name| Performer { actor_id, actor_name, actor_type };
    match kind.unwrap_or(ActorKind::ServiceOwner) {
        // Dialogporten: a service owner actor carries neither id nor name.
        ActorKind::ServiceOwner => actor("ServiceOwner", None, None),
        // A party representative needs an id or a name; when the source names no one, the
        // party itself acted.
        ActorKind::PartyRepresentative => match (id, name) {
            (None, None) => actor("PartyRepresentative", Some(party), None),
            (id, name) => actor("PartyRepresentative", id, name.map(|n| clamp(n, rules::MAX_TEXT))),
        },
    }
}

/// Activities from the dated history, oldest first, each once; submissions also become
/// transmissions that their activity points to.
fn history<'a>(e: &'a Element, dialog_id: &str, party: &'a str, title: &Text<'a>, now: Timestamp) -> (Vec<Activity<'a>>, Vec<Transmission<'a>>) {
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
        let when = Rfc3339::new(at);
        let key = format!("{kind}@{}", ev.at);
        let (actor_kind, actor_id, actor_name) = match &ev.actor {
            Some(a) => (Some(a.kind), a.id.as_deref(), a.name.as_deref()),
            None => (None, None, None),
        };
        let performed_by = actor(actor_kind, actor_id, actor_name, party);
        let transmission_id = (ev.kind == EventKind::Submitted).then(|| {
            let id = Id(uuid7(at, &[dialog_id, "transmission", &key]));
            transmissions.push(Transmission {
                content: TransmissionContent { title: title.clone() },
                created_at: when,
                id,
                sender: performed_by.clone(),
                r#type: "Submission",
            });
            id
        });
        activities.push(Activity { created_at: when, id: Id(uuid7(at, &[dialog_id, "activity", &key])), performed_by, transmission_id, r#type: kind });
    }
    (activities, transmissions)
}

fn attachments<'a>(e: &'a Element, dialog_id: &str) -> Vec<AttachmentDoc<'a>> {
    e.attachments
        .iter()
        .map(|a| AttachmentDoc {
            display_name: localized(&a.display_name, rules::MAX_TEXT),
            id: Id(uuid7(e.created_at, &[dialog_id, "attachment", &a.id])),
            urls: [Url {
                consumer_type: match a.consumer {
                    Consumer::Gui => "Gui",
                    Consumer::Api => "Api",
                },
                media_type: a.media_type.as_deref(),
                url: &a.url,
            }],
        })
        .collect()
}

fn gui_actions<'a>(e: &'a Element, dialog_id: &str) -> Vec<GuiAction<'a>> {
    e.links
        .iter()
        .enumerate()
        .map(|(i, l)| GuiAction {
            action: "read",
            id: Id(uuid7(e.created_at, &[dialog_id, "gui-action", &l.url])),
            priority: if i == 0 { "Primary" } else { "Secondary" },
            title: localized(&l.title, rules::MAX_TEXT),
            url: &l.url,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialogsync_sdk::types::*;
    use serde_json::Value;

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

    /// Every optional part present, texts that need cutting and escaping.
    fn full_element() -> Element {
        let mut e = element();
        e.kind = ElementKind::Correspondence;
        e.legacy_refs.extend([
            LegacyRef::A2CorrespondenceId("123456".into()),
            LegacyRef::ArchiveReference("AR998877".into()),
            LegacyRef::ReporteeElementId("42".into()),
            LegacyRef::A3CorrespondenceId("0192e3c4-0000-7000-8000-000000000001".into()),
            LegacyRef::ArchiveReference("AR998877".into()),
        ]);
        e.sender_name = Some(" Skatteetaten \"Øst\"\n ".into());
        e.summary = vec![Localized { language: "nb".into(), value: "Sammendrag\t\u{1}".into() }, Localized { language: "en".into(), value: " ".into() }];
        e.body = vec![Localized { language: "nn".into(), value: "æ".repeat(1100) }];
        e.state.sub_status = Some("Venter på noe som er altfor langt".into());
        e.state.confirmation_needed = true;
        e.events.extend([
            ElementEvent { kind: EventKind::Read, at: NOW - 7 * DAY, actor: Some(Actor { kind: ActorKind::PartyRepresentative, id: Some("urn:altinn:person:identifier-no:01017012345".into()), name: Some("N".repeat(300)) }) },
            ElementEvent { kind: EventKind::Confirmed, at: NOW + DAY, actor: Some(Actor { kind: ActorKind::PartyRepresentative, id: None, name: Some("Kari".into()) }) },
            ElementEvent { kind: EventKind::Archived, at: NOW - DAY, actor: None },
        ]);
        e.attachments = vec![
            Attachment { id: "a1".into(), display_name: vec![Localized { language: "nb".into(), value: "Vedlegg".into() }], url: "https://example.no/a1".into(), media_type: Some("application/pdf".into()), consumer: Consumer::Api },
            Attachment { id: "a2".into(), display_name: vec![], url: "https://example.no/a2".into(), media_type: None, consumer: Consumer::Gui },
        ];
        e.links = vec![
            Link { url: "https://example.no/open".into(), title: vec![Localized { language: "nb".into(), value: "Åpne".into() }] },
            Link { url: "https://example.no/other".into(), title: vec![] },
        ];
        e
    }

    #[test]
    fn the_document_is_written_in_the_order_a_json_map_prints() {
        // A `serde_json::Value` prints object keys sorted: reading the document into one and
        // printing it again gives the same bytes only when every struct's fields are in that order.
        for (e, mode) in [(element(), SyncMode::Historic), (full_element(), SyncMode::Historic), (full_element(), SyncMode::Live)] {
            let d = project(&ctx(mode), &e).unwrap();
            assert_eq!(doc(&d).to_string(), d.document);
        }
        let v = doc(&project(&ctx(SyncMode::Historic), &full_element()).unwrap());
        for key in ["summary", "senderName", "additionalInfo", "extendedStatus", "title"] {
            assert!(v["content"][key]["value"][0]["value"].is_string(), "{key}");
        }
        assert_eq!(v["content"]["summary"]["value"].as_array().unwrap().len(), 1, "blank texts are left out");
        assert_eq!(v["content"]["senderName"]["value"][0]["value"], "Skatteetaten \"Øst\"");
        assert_eq!(v["content"]["additionalInfo"]["value"][0]["value"].as_str().unwrap().chars().count(), 1023);
        assert_eq!(v["content"]["extendedStatus"]["value"][0]["value"].as_str().unwrap().chars().count(), 25);
        assert_eq!(v["searchTags"].as_array().unwrap().len(), 2, "each tag once");
        assert_eq!(v["serviceOwnerContext"]["serviceOwnerLabels"].as_array().unwrap().len(), 5);
        let read = v["activities"].as_array().unwrap().iter().find(|a| a["type"] == "CorrespondenceOpened").unwrap();
        assert_eq!(read["performedBy"]["actorName"].as_str().unwrap().chars().count(), 255);
        assert_eq!(v["attachments"][0]["urls"][0]["mediaType"], "application/pdf");
        assert!(v["attachments"][1]["urls"][0].get("mediaType").is_none());
        assert_eq!((v["guiActions"][0]["priority"].as_str(), v["guiActions"][1]["priority"].as_str()), (Some("Primary"), Some("Secondary")));
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
