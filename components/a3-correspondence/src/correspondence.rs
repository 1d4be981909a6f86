//! Altinn 3 correspondence (as the Correspondence API describes one) → canonical element.
//! Format: `docs/sources/a3-correspondence.md`. Times carry offsets (RFC 3339).

use dialogsync_sdk::element::{blank_state, event, language, nb, text as localized};
use dialogsync_sdk::fields::{at, instant, invalid, list, parse_object, required_instant, required_text, text};
use dialogsync_sdk::types::{
    ActorKind, Attachment, Consumer, Element, ElementKind, EventKind, LegacyRef, Link, Party,
    RecordError, Skip, SourceRecord, Transformed,
};
use dialogsync_sdk::json::Json;

/// The source kind this transformer serves.
pub const SOURCE: &str = "a3-correspondence";

/// Normalises Altinn's party notations (`0192:912345678`, bare numbers, URNs) to a URN.
fn party_urn(field: &str, s: &str) -> Result<String, RecordError> {
    let s = s.trim();
    let id = s.strip_prefix("0192:").unwrap_or(s);
    if id.starts_with("urn:") {
        return Ok(id.to_string());
    }
    match id.len() {
        11 if id.bytes().all(|b| b.is_ascii_digit()) => Ok(format!("urn:altinn:person:identifier-no:{id}")),
        9 if id.bytes().all(|b| b.is_ascii_digit()) => Ok(format!("urn:altinn:organization:identifier-no:{id}")),
        _ => Err(invalid(field, format!("`{s}` is not a person or organisation"))),
    }
}

/// Transforms one correspondence.
pub fn transform(record: &SourceRecord) -> Result<Transformed, RecordError> {
    let v = parse_object(&record.payload, "a correspondence")?;
    let id = required_text(&v, "correspondenceId")?.to_ascii_lowercase();
    let resource = required_text(&v, "resourceId")?;
    let recipient = party_urn("recipient", &required_text(&v, "recipient")?)?;
    let sender = party_urn("sender", &required_text(&v, "sender")?)?;
    let created_at = required_instant(&v, "created")?;
    let lang = language(text(&v, "content.language").as_deref());

    // The status history, in time order.
    let mut history = Vec::new();
    for (i, s) in list(&v, "statusHistory").iter().enumerate() {
        let status = text(s, "status").ok_or_else(|| RecordError::MissingField(format!("statusHistory[{i}].status")))?;
        let changed = instant(s, "statusChanged").map_err(|_| invalid(&format!("statusHistory[{i}].statusChanged"), "not an RFC 3339 time"))?
            .ok_or_else(|| RecordError::MissingField(format!("statusHistory[{i}].statusChanged")))?;
        history.push((changed, status));
    }
    history.sort();
    let seen = |s: &str| history.iter().any(|(_, h)| h.eq_ignore_ascii_case(s));
    if seen("PurgedByRecipient") || seen("PurgedByAltinn") {
        return Ok(Transformed::Skip(Skip { reason: "purged in Altinn 3".into(), remove_existing: true }));
    }
    if !seen("Published") {
        let why = if seen("Reserved") {
            "recipient reserved against digital mail (never published)"
        } else if seen("Failed") {
            "failed before it was published"
        } else {
            "not yet published to the recipient"
        };
        return Ok(Transformed::Skip(Skip { reason: why.into(), remove_existing: false }));
    }

    let mut state = blank_state();
    state.confirmation_needed = at(&v, "isConfirmationNeeded").and_then(Json::as_bool).unwrap_or(false);
    let mut events = vec![event(EventKind::Created, created_at, ActorKind::ServiceOwner, None)];
    for (t, status) in &history {
        let (kind, actor) = match status.as_str() {
            "Published" => (EventKind::Published, ActorKind::ServiceOwner),
            "Read" => (EventKind::Read, ActorKind::PartyRepresentative),
            "Confirmed" => (EventKind::Confirmed, ActorKind::PartyRepresentative),
            "Replied" => (EventKind::Replied, ActorKind::PartyRepresentative),
            "Archived" => (EventKind::Archived, ActorKind::PartyRepresentative),
            "AttachmentsDownloaded" => (EventKind::AttachmentsDownloaded, ActorKind::PartyRepresentative),
            _ => continue, // Initialized, ReadyForPublish, Fetched: no state for the recipient
        };
        match kind {
            EventKind::Read => state.read = true,
            EventKind::Confirmed => state.confirmed = true,
            EventKind::Archived => state.archived = true,
            _ => {}
        }
        events.push(event(kind, *t, actor, None));
    }
    let updated_at = history.last().map_or(created_at, |(t, _)| *t).max(created_at);

    let one = |path: &str| text(&v, path).map(|t| vec![localized(&lang, &t)]).unwrap_or_default();
    let title = one("content.messageTitle");
    if title.is_empty() {
        return Err(RecordError::MissingField("content.messageTitle".into()));
    }
    let attachments = list(&v, "content.attachments")
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let aid = text(a, "id").ok_or_else(|| RecordError::MissingField(format!("content.attachments[{i}].id")))?;
            let name = text(a, "displayName").or_else(|| text(a, "fileName")).unwrap_or_else(|| format!("Vedlegg {}", i + 1));
            Ok(Attachment {
                url: text(a, "dataLocationUrl").unwrap_or_else(|| format!("https://platform.altinn.no/correspondence/api/v1/correspondence/{id}/attachment/{aid}/download")),
                id: aid,
                display_name: vec![localized(&lang, &name)],
                media_type: text(a, "dataType"),
                consumer: Consumer::Gui,
            })
        })
        .collect::<Result<Vec<_>, RecordError>>()?;
    let links = list(&v, "replyOptions")
        .iter()
        .filter_map(|r| Some(Link { url: text(r, "linkURL")?, title: vec![nb(&text(r, "linkText").unwrap_or_else(|| "Svar".into()))] }))
        .collect();
    let mut legacy_refs = vec![LegacyRef::A3CorrespondenceId(id.clone())];
    if let Some(a2) = text(&v, "altinn2CorrespondenceId") {
        legacy_refs.push(LegacyRef::A2CorrespondenceId(a2));
    }

    Ok(Transformed::Element(Element {
        source: SOURCE.into(),
        source_id: id,
        source_version: record.source_version,
        kind: ElementKind::Correspondence,
        legacy_refs,
        party: Party::Urn(recipient),
        service_resource: format!("urn:altinn:resource:{resource}"),
        service_owner: sender,
        sender_name: text(&v, "messageSender"),
        created_at,
        updated_at,
        visible_from: instant(&v, "requestedPublishTime")?,
        due_at: instant(&v, "dueDateTime")?,
        title,
        summary: one("content.messageSummary"),
        body: one("content.messageBody"),
        state,
        events,
        attachments,
        links,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(json: &str) -> Result<Transformed, RecordError> {
        transform(&SourceRecord { source_id: "x".into(), source_version: 1, payload: json.as_bytes().to_vec(), content_type: "application/json".into() })
    }

    const BASE: &str = r#"{"correspondenceId": "0192A3C5-0000-7000-8000-000000000001", "resourceId": "skd-vedtak",
        "sender": "0192:974761076", "recipient": "01044091042", "messageSender": "Skatteetaten",
        "content": {"language": "nb", "messageTitle": "Vedtak", "messageSummary": "Kort", "attachments": []},
        "isConfirmationNeeded": true, "created": "2025-01-10T08:00:00+01:00", "altinn2CorrespondenceId": 51234567,
        "statusHistory": [
            {"status": "Read", "statusChanged": "2025-01-11T09:00:00Z"},
            {"status": "Initialized", "statusChanged": "2025-01-10T07:00:00Z"},
            {"status": "Published", "statusChanged": "2025-01-10T07:05:00Z"}
        ]}"#;

    #[test]
    fn published_correspondence_with_history_and_a2_ref() {
        let Transformed::Element(e) = run(BASE).unwrap() else { panic!() };
        assert_eq!(e.source_id, "0192a3c5-0000-7000-8000-000000000001");
        assert_eq!(e.party, Party::Urn("urn:altinn:person:identifier-no:01044091042".into()));
        assert_eq!(e.service_owner, "urn:altinn:organization:identifier-no:974761076");
        assert!(e.state.read && !e.state.confirmed && e.state.confirmation_needed);
        assert_eq!(e.events.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Created, EventKind::Published, EventKind::Read]);
        assert!(e.legacy_refs.contains(&LegacyRef::A2CorrespondenceId("51234567".into())));
    }

    #[test]
    fn unpublished_and_purged_are_skips() {
        let unpublished = BASE.replace("\"Published\"", "\"ReadyForPublish\"").replace("\"Read\"", "\"Fetched\"");
        assert!(matches!(run(&unpublished).unwrap(), Transformed::Skip(Skip { remove_existing: false, .. })));
        let purged = BASE.replace("\"Read\"", "\"PurgedByRecipient\"");
        assert!(matches!(run(&purged).unwrap(), Transformed::Skip(Skip { remove_existing: true, .. })));
        assert!(matches!(run(&BASE.replace("\"01044091042\"", "\"nobody\"")), Err(RecordError::InvalidField(f)) if f.field == "recipient"));
    }
}
