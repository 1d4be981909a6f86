//! Altinn 3 app instance (as Altinn Storage returns it) → canonical element.
//!
//! Format: `docs/sources/a3-app-instances.md`. Unknown fields (Cosmos DB leftovers such as `_rid`)
//! are ignored; a missing required field is an error naming it.

use dialogsync_sdk::element::nb;
use dialogsync_sdk::fields::{at, flag, instant, invalid, list, parse_object, required_instant, required_text, text};
use dialogsync_sdk::types::{
    Actor, ActorKind, Attachment, Consumer, Element, ElementEvent, ElementKind, ElementState,
    EventKind, LegacyRef, Link, Localized, Party, ProcessTask, RecordError, Skip, SourceRecord,
    Transformed,
};
use dialogsync_sdk::json::Json;

/// The source kind this transformer serves.
pub const SOURCE: &str = "a3-app-instances";

/// Transforms one instance record.
pub fn transform(record: &SourceRecord) -> Result<Transformed, RecordError> {
    let v = parse_object(&record.payload, "an app instance")?;
    let party_id = required_text(&v, "instanceOwner.partyId")?;
    let guid = instance_guid(&required_text(&v, "id")?)?;
    if flag(&v, "status.isHardDeleted") {
        return Ok(Transformed::Skip(Skip {
            reason: "hard-deleted in Altinn Storage".into(),
            remove_existing: true,
        }));
    }
    let app_id = required_text(&v, "appId")?;
    let (org, app) = app_id
        .split_once('/')
        .filter(|(o, a)| !o.is_empty() && !a.is_empty())
        .ok_or_else(|| invalid("appId", format!("`{app_id}` is not `{{org}}/{{app}}`")))?;
    let org = text(&v, "org").unwrap_or_else(|| org.to_string());
    let created_at = required_instant(&v, "created")?;
    let updated_at = instant(&v, "lastChanged")?.unwrap_or(created_at);
    let instance_ref = format!("{party_id}/{guid}");

    let state = ElementState {
        archived: flag(&v, "status.isArchived"),
        soft_deleted: flag(&v, "status.isSoftDeleted"),
        read: is_read(at(&v, "status.readStatus")),
        confirmation_needed: false,
        confirmed: !list(&v, "completeConfirmations").is_empty(),
        task: task(&v),
        sub_status: text(&v, "status.substatus.label"),
    };

    Ok(Transformed::Element(Element {
        source: SOURCE.into(),
        source_id: guid.clone(),
        source_version: record.source_version,
        kind: ElementKind::Form,
        legacy_refs: vec![LegacyRef::A3Instance(instance_ref.clone())],
        party: party(&v, party_id),
        service_resource: format!("urn:altinn:resource:app_{org}_{app}"),
        service_owner: org.clone(),
        sender_name: None,
        created_at,
        updated_at,
        visible_from: instant(&v, "visibleAfter")?,
        due_at: instant(&v, "dueBefore")?,
        title: title(&v, app),
        summary: summary(&v),
        body: vec![],
        state,
        events: events(&v, created_at)?,
        attachments: attachments(&v, &instance_ref),
        links: vec![Link {
            url: format!("https://{org}.apps.altinn.no/{app_id}/#/instance/{instance_ref}"),
            title: vec![nb("Gå til skjema")],
        }],
    }))
}

/// Storage ids are `{partyId}/{guid}` in its API and a bare guid in its database; the element
/// always uses the guid, so both forms name the same dialog.
fn instance_guid(id: &str) -> Result<String, RecordError> {
    let guid = id.rsplit('/').next().unwrap_or(id);
    let ok = guid.len() == 36 && guid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if ok { Ok(guid.to_ascii_lowercase()) } else { Err(invalid("id", format!("`{id}` is not an instance id"))) }
}

fn party(v: &Json, party_id: String) -> Party {
    if let Some(p) = text(v, "instanceOwner.personNumber") {
        Party::Urn(format!("urn:altinn:person:identifier-no:{p}"))
    } else if let Some(o) = text(v, "instanceOwner.organisationNumber") {
        Party::Urn(format!("urn:altinn:organization:identifier-no:{o}"))
    } else {
        Party::PartyId(party_id)
    }
}

fn is_read(status: Option<&Json>) -> bool {
    match status {
        Some(Json::String(s)) => s.eq_ignore_ascii_case("read"),
        Some(Json::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

fn task(v: &Json) -> ProcessTask {
    if at(v, "process.ended").is_some() {
        return ProcessTask::None;
    }
    match text(v, "process.currentTask.altinnTaskType").as_deref() {
        None => ProcessTask::None,
        Some("data") => ProcessTask::Data,
        Some("confirmation") => ProcessTask::Confirmation,
        Some("signing") => ProcessTask::Signing,
        Some("feedback") => ProcessTask::Feedback,
        Some("reject") => ProcessTask::Reject,
        Some("payment") => ProcessTask::Payment,
        Some(_) => ProcessTask::Other,
    }
}

/// The instance's own title per language; the app name when it has none.
fn title(v: &Json, app: &str) -> Vec<Localized> {
    let mut out: Vec<Localized> = at(v, "title")
        .map(Json::entries)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(lang, t)| {
            let t = t.as_str()?.trim();
            (!t.is_empty()).then(|| Localized { language: lang.into(), value: t.into() })
        })
        .collect();
    if out.is_empty() {
        out.push(nb(app));
    }
    // Norwegian first: Dialogporten shows the first value when the reader's language is missing.
    out.sort_by_key(|l| ["nb", "nn", "en"].iter().position(|x| *x == l.language).unwrap_or(3));
    out
}

/// Presentation texts (the app's chosen highlights) as the summary.
fn summary(v: &Json) -> Vec<Localized> {
    let texts: Vec<&str> = at(v, "presentationTexts")
        .map(Json::entries)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(_, t)| t.as_str().map(str::trim).filter(|t| !t.is_empty()))
        .collect();
    if texts.is_empty() { vec![] } else { vec![nb(&texts.join(", "))] }
}

fn event(kind: EventKind, at: i64, actor: Option<ActorKind>) -> ElementEvent {
    ElementEvent { kind, at, actor: actor.map(|kind| Actor { kind, id: None, name: None }) }
}

/// The dated history the instance document itself carries.
fn events(v: &Json, created_at: i64) -> Result<Vec<ElementEvent>, RecordError> {
    let mut out = vec![event(EventKind::Created, created_at, Some(ActorKind::PartyRepresentative))];
    if flag(v, "status.isArchived") {
        let at = instant(v, "status.archived")?.or(instant(v, "process.ended")?);
        if let Some(at) = at {
            out.push(event(EventKind::Submitted, at, Some(ActorKind::PartyRepresentative)));
        }
    }
    if flag(v, "status.isSoftDeleted") {
        if let Some(at) = instant(v, "status.softDeleted")? {
            out.push(event(EventKind::SoftDeleted, at, Some(ActorKind::PartyRepresentative)));
        }
    }
    // Storage's instance events, where the export carries them (`instanceEvents`).
    for (i, e) in list(v, "instanceEvents").iter().enumerate() {
        let kind = match text(e, "eventType").unwrap_or_default().to_ascii_lowercase().as_str() {
            "created" => EventKind::Created,
            "saved" => EventKind::Saved,
            "submited" | "submitted" => EventKind::Submitted,
            "signed" => EventKind::Signed,
            "read" => EventKind::Read,
            "deleted" => EventKind::SoftDeleted,
            "undeleted" => EventKind::Restored,
            "senttosigning" => EventKind::SentToSigning,
            "paymentmade" => EventKind::PaymentMade,
            _ => continue,
        };
        let field = format!("instanceEvents[{i}].created");
        let when = instant(e, "created").map_err(|_| invalid(&field, "not an RFC 3339 time"))?.ok_or(RecordError::MissingField(field))?;
        let person = text(e, "user.nationalIdentityNumber").filter(|n| n.len() == 11).map(|n| format!("urn:altinn:person:identifier-no:{n}"));
        out.push(ElementEvent { kind, at: when, actor: Some(Actor { kind: ActorKind::PartyRepresentative, id: person, name: None }) });
    }
    for (i, c) in list(v, "completeConfirmations").iter().enumerate() {
        if let Some(at) = instant(c, "confirmedOn").map_err(|_| invalid(&format!("completeConfirmations[{i}].confirmedOn"), "not an RFC 3339 time"))? {
            out.push(event(EventKind::Confirmed, at, Some(ActorKind::ServiceOwner)));
        }
    }
    Ok(out)
}

/// Data elements that carry a file name (receipts, uploaded files) are the form's attachments.
fn attachments(v: &Json, instance_ref: &str) -> Vec<Attachment> {
    list(v, "data")
        .iter()
        .filter_map(|d| {
            let id = text(d, "id")?;
            let name = text(d, "filename")?;
            let url = text(d, "selfLinks.platform").unwrap_or_else(|| {
                format!("https://platform.altinn.no/storage/api/v1/instances/{instance_ref}/data/{id}")
            });
            Some(Attachment {
                id,
                display_name: vec![nb(&name)],
                url,
                media_type: text(d, "contentType"),
                consumer: Consumer::Gui,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> SourceRecord {
        SourceRecord {
            source_id: "x".into(),
            source_version: 7,
            payload: json.as_bytes().to_vec(),
            content_type: "application/json".into(),
        }
    }

    const BASE: &str = r#"{"id":"1337/20475EDD-dc38-4ae0-bd64-1b20643f506c","instanceOwner":{"partyId":"1337"},
        "appId":"ttd/test-app","org":"ttd","created":"2019-07-31T09:57:23.4729995Z","_rid":"ignored",
        "status":{"isArchived":true,"archived":"2019-08-01T10:00:00Z","substatus":{"label":"declined"}},
        "process":{"ended":"2019-08-01T10:00:00Z"}}"#;

    #[test]
    fn instance_becomes_element_with_legacy_ref_and_party_id() {
        let Transformed::Element(e) = transform(&record(BASE)).unwrap() else { panic!("skipped") };
        assert_eq!(e.source_id, "20475edd-dc38-4ae0-bd64-1b20643f506c");
        assert_eq!(e.legacy_refs, vec![LegacyRef::A3Instance("1337/20475edd-dc38-4ae0-bd64-1b20643f506c".into())]);
        assert_eq!(e.party, Party::PartyId("1337".into()));
        assert_eq!(e.service_resource, "urn:altinn:resource:app_ttd_test-app");
        assert_eq!(e.title, vec![nb("test-app")]);
        assert!(e.state.archived);
        assert_eq!(e.state.task, ProcessTask::None);
        assert_eq!(e.state.sub_status.as_deref(), Some("declined"));
        assert_eq!(e.updated_at, e.created_at, "no lastChanged: updated is created");
        assert_eq!(e.events.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Created, EventKind::Submitted]);
    }

    #[test]
    fn hard_deleted_is_a_skip_that_removes() {
        let json = BASE.replace("\"isArchived\":true", "\"isHardDeleted\":true");
        assert!(matches!(transform(&record(&json)).unwrap(), Transformed::Skip(Skip { remove_existing: true, .. })));
    }

    #[test]
    fn missing_and_bad_fields_are_named() {
        let no_owner = BASE.replace(r#""instanceOwner":{"partyId":"1337"},"#, "");
        assert_eq!(transform(&record(&no_owner)), Err(RecordError::MissingField("instanceOwner.partyId".into())));
        let bad_app = BASE.replace("ttd/test-app", "test-app");
        assert!(matches!(transform(&record(&bad_app)), Err(RecordError::InvalidField(f)) if f.field == "appId"));
        let bad_time = BASE.replace("2019-07-31T09:57:23.4729995Z", "yesterday");
        assert!(matches!(transform(&record(&bad_time)), Err(RecordError::InvalidField(f)) if f.field == "created"));
        assert!(matches!(transform(&record("[1]")), Err(RecordError::Malformed(_))));
    }

    #[test]
    fn instance_events_become_dated_events() {
        let json = BASE.replace(r#""_rid":"ignored","#, r#""instanceEvents":[
            {"eventType":"Saved","created":"2019-07-31T10:00:00Z","user":{"nationalIdentityNumber":"01044091042"}},
            {"eventType":"Submited","created":"2019-08-01T10:00:00Z"},
            {"eventType":"process_StartTask","created":"2019-08-01T10:00:00Z"}],"#);
        let Transformed::Element(e) = transform(&record(&json)).unwrap() else { panic!() };
        let kinds: Vec<EventKind> = e.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventKind::Created, EventKind::Submitted, EventKind::Saved, EventKind::Submitted]);
        assert_eq!(e.events[2].actor.as_ref().unwrap().id.as_deref(), Some("urn:altinn:person:identifier-no:01044091042"));
        let bad = json.replace("2019-07-31T10:00:00Z", "soon");
        assert!(matches!(transform(&record(&bad)), Err(RecordError::InvalidField(f)) if f.field == "instanceEvents[0].created"));
    }

    #[test]
    fn person_number_wins_over_party_id() {
        let json = BASE.replace(r#"{"partyId":"1337"}"#, r#"{"partyId":"1337","personNumber":"01044091042"}"#);
        let Transformed::Element(e) = transform(&record(&json)).unwrap() else { panic!() };
        assert_eq!(e.party, Party::Urn("urn:altinn:person:identifier-no:01044091042".into()));
    }
}
