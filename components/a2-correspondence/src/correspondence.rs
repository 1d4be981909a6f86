//! Altinn 2 correspondence export → canonical element. Format: `docs/sources/a2-correspondence.md`.
//!
//! Every time in the export is Norwegian wall time (Europe/Oslo) without an offset; status
//! events are deduplicated on (status, second, actor) and applied in time order.

use dialogsync_sdk::element::{blank_state, dedupe, event, language, nb, text as localized};
use dialogsync_sdk::fields::{a2_reportee, invalid, list, oslo_instant, parse_object, required_oslo_instant, required_text, text};
use dialogsync_sdk::types::{
    ActorKind, Attachment, Consumer, Element, ElementKind, EventKind, LegacyRef, Link,
    RecordError, Skip, SourceRecord, Transformed,
};
use dialogsync_sdk::json::Json;

/// The source kind this transformer serves.
pub const SOURCE: &str = "a2-correspondence";

/// Transforms one correspondence.
pub fn transform(record: &SourceRecord) -> Result<Transformed, RecordError> {
    let v = parse_object(&record.payload, "a correspondence")?;
    let id = required_text(&v, "correspondenceId")?;
    let reportee_element = required_text(&v, "reporteeElementId")?;
    let service_code = required_text(&v, "serviceCode")?;
    let edition = required_text(&v, "serviceEditionCode")?;
    let created_at = required_oslo_instant(&v, "createdDate")?;
    let party = a2_reportee(&v)?;
    let owner = required_text(&v, "sender.serviceOwnerCode")?;
    let lang = language(text(&v, "language").as_deref());

    // Status history: Oslo times, deduplicated, in time order.
    let mut events = vec![event(EventKind::Created, created_at, ActorKind::ServiceOwner, None)];
    for (i, e) in list(&v, "statusEvents").iter().enumerate() {
        let field = |f: &str| format!("statusEvents[{i}].{f}");
        let status = text(e, "status").ok_or_else(|| RecordError::MissingField(field("status")))?;
        let at = oslo_instant(e, "time").map_err(|_| invalid(&field("time"), "not a date and time"))?
            .ok_or_else(|| RecordError::MissingField(field("time")))?;
        let kind = match status.to_ascii_lowercase().as_str() {
            "read" => EventKind::Read,
            "confirmed" => EventKind::Confirmed,
            "archived" => EventKind::Archived,
            "deleted" => EventKind::SoftDeleted,
            "restored" => EventKind::Restored,
            "purged" => {
                return Ok(Transformed::Skip(Skip { reason: "purged in Altinn 2".into(), remove_existing: true }));
            }
            _ => continue, // statuses this version does not map (Created, Sent…) carry no state
        };
        let actor = text(e, "actor").map(|a| match a.len() {
            11 => format!("urn:altinn:person:identifier-no:{a}"),
            9 => format!("urn:altinn:organization:identifier-no:{a}"),
            _ => a,
        });
        events.push(event(kind, at, ActorKind::PartyRepresentative, actor.filter(|a| a.starts_with("urn:"))));
    }
    let events = dedupe(events);

    let mut state = blank_state();
    state.confirmation_needed = v.get("confirmationNeeded").and_then(Json::as_bool).unwrap_or(false);
    for e in &events {
        match e.kind {
            EventKind::Read => state.read = true,
            EventKind::Confirmed => state.confirmed = true,
            EventKind::Archived => state.archived = true,
            EventKind::SoftDeleted => state.soft_deleted = true,
            EventKind::Restored => state.soft_deleted = false,
            _ => {}
        }
    }
    let last_event = events.iter().map(|e| e.at).max().unwrap_or(created_at);
    let updated_at = oslo_instant(&v, "lastChanged")?.unwrap_or(created_at).max(last_event);

    let one = |path: &str| text(&v, path).map(|t| vec![localized(&lang, &t)]).unwrap_or_default();
    let mut title = one("title");
    if title.is_empty() {
        title.push(nb(&format!("Melding fra {}", text(&v, "sender.name").unwrap_or(owner.clone()))));
    }
    let attachments = list(&v, "attachments")
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let aid = text(a, "attachmentId").ok_or_else(|| RecordError::MissingField(format!("attachments[{i}].attachmentId")))?;
            let name = text(a, "name").or_else(|| text(a, "fileName")).unwrap_or_else(|| format!("Vedlegg {}", i + 1));
            Ok(Attachment {
                url: text(a, "url").unwrap_or_else(|| format!("https://www.altinn.no/api/my/messages/{id}/attachments/{aid}")),
                id: aid,
                display_name: vec![localized(&lang, &name)],
                media_type: text(a, "mimeType"),
                consumer: Consumer::Gui,
            })
        })
        .collect::<Result<Vec<_>, RecordError>>()?;

    Ok(Transformed::Element(Element {
        source: SOURCE.into(),
        source_id: id.clone(),
        source_version: record.source_version,
        kind: ElementKind::Correspondence,
        legacy_refs: vec![LegacyRef::A2CorrespondenceId(id), LegacyRef::ReporteeElementId(reportee_element.clone())],
        party,
        service_resource: format!("urn:altinn:resource:se_{service_code}_{edition}"),
        service_owner: owner,
        sender_name: text(&v, "sender.name"),
        created_at,
        updated_at,
        visible_from: oslo_instant(&v, "visibleDate")?,
        due_at: oslo_instant(&v, "dueDate")?,
        title,
        summary: one("summary"),
        body: one("body"),
        state,
        events,
        attachments,
        links: vec![Link {
            url: format!("https://www.altinn.no/Pages/ServiceEngine/Correspondence/Correspondence.aspx?ReporteeElementID={reportee_element}"),
            title: vec![nb("Åpne meldingen")],
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialogsync_sdk::time::format_instant;
    use dialogsync_sdk::types::Party;

    fn run(json: &str) -> Result<Transformed, RecordError> {
        transform(&SourceRecord { source_id: "1".into(), source_version: 1, payload: json.as_bytes().to_vec(), content_type: "application/json".into() })
    }

    const BASE: &str = r#"{"correspondenceId": 51234567, "reporteeElementId": 912345678, "serviceCode": "4503",
        "serviceEditionCode": 2, "reportee": {"partyId": 50001, "ssn": "01044091042"},
        "sender": {"serviceOwnerCode": "skd", "name": "Skatteetaten"}, "language": "1044",
        "title": "Vedtak om skatt", "createdDate": "2024-03-31T02:30:00", "confirmationNeeded": true,
        "statusEvents": [
            {"status": "Read", "time": "2024-10-27T02:30:00.000100", "actor": "01044091042"},
            {"status": "Read", "time": "2024-10-27T02:30:00.000900", "actor": "01044091042"},
            {"status": "Deleted", "time": "2024-11-01T10:00:00"},
            {"status": "Restored", "time": "2024-11-02T10:00:00"},
            {"status": "Archived", "time": "2024-11-03T00:15:00"}
        ]}"#;

    fn element(json: &str) -> Element {
        match run(json).unwrap() {
            Transformed::Element(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oslo_times_dedupe_and_state_in_time_order() {
        let e = element(BASE);
        assert_eq!(format_instant(e.created_at), "2024-03-31T01:30:00Z", "missing hour: +01:00");
        let reads: Vec<String> = e.events.iter().filter(|x| x.kind == EventKind::Read).map(|x| format_instant(x.at)).collect();
        assert_eq!(reads, vec!["2024-10-27T00:30:00.000100Z"], "repeated hour: first; duplicate dropped");
        assert!(e.state.read && e.state.archived && !e.state.soft_deleted && !e.state.confirmed && e.state.confirmation_needed);
        assert_eq!(format_instant(e.updated_at), "2024-11-02T23:15:00Z", "archived after midnight Oslo is the day before in UTC");
        assert_eq!(e.service_resource, "urn:altinn:resource:se_4503_2");
        assert_eq!(e.legacy_refs, vec![LegacyRef::A2CorrespondenceId("51234567".into()), LegacyRef::ReporteeElementId("912345678".into())]);
        assert_eq!(e.party, Party::Urn("urn:altinn:person:identifier-no:01044091042".into()));
    }

    #[test]
    fn purge_removes_and_bad_fields_are_named() {
        let purged = BASE.replace("\"Archived\"", "\"Purged\"");
        assert!(matches!(run(&purged).unwrap(), Transformed::Skip(Skip { remove_existing: true, .. })));
        assert_eq!(run(&BASE.replace("\"serviceCode\": \"4503\",", "")), Err(RecordError::MissingField("serviceCode".into())));
        let bad = BASE.replace("2024-11-01T10:00:00", "first of November");
        assert!(matches!(run(&bad), Err(RecordError::InvalidField(f)) if f.field == "statusEvents[2].time"));
        let party_only = BASE.replace(", \"ssn\": \"01044091042\"", "");
        assert_eq!(element(&party_only).party, Party::PartyId("50001".into()));
    }
}
