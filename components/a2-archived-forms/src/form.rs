//! Altinn 2 archived form → canonical element. Format: `docs/sources/a2-archived-forms.md`.
//! Times are Norwegian wall time (Europe/Oslo). Forms never completed are not migrated: a
//! counted skip, as in Altinn's own migration.

use dialogsync_sdk::element::{blank_state, event, nb};
use dialogsync_sdk::fields::{a2_reportee, flag, list, oslo_instant, parse_object, required_oslo_instant, required_text, text};
use dialogsync_sdk::types::{
    ActorKind, Attachment, Consumer, Element, ElementKind, EventKind, LegacyRef, Link,
    RecordError, Skip, SourceRecord, Transformed,
};

/// The source kind this transformer serves.
pub const SOURCE: &str = "a2-archived-forms";

/// Transforms one archived form.
pub fn transform(record: &SourceRecord) -> Result<Transformed, RecordError> {
    let v = parse_object(&record.payload, "an archived form")?;
    let reference = required_text(&v, "archiveReference")?;
    if !flag(&v, "isCompleted") {
        return Ok(Transformed::Skip(Skip {
            reason: "never completed in Altinn 2 (not migrated)".into(),
            remove_existing: false,
        }));
    }
    let reportee_element = required_text(&v, "reporteeElementId")?;
    let service_code = required_text(&v, "serviceCode")?;
    let edition = required_text(&v, "serviceEditionCode")?;
    let owner = required_text(&v, "serviceOwnerCode")?;
    let archived_at = required_oslo_instant(&v, "archivedDate")?;
    let created_at = oslo_instant(&v, "createdDate")?.unwrap_or(archived_at).min(archived_at);
    let party = a2_reportee(&v)?;

    // An archived form was submitted and received: Altinn's mapping makes it Completed.
    let mut state = blank_state();
    state.archived = true;
    state.confirmed = true;
    let submitter = text(&v, "submittedBy").filter(|s| s.len() == 11).map(|s| format!("urn:altinn:person:identifier-no:{s}"));
    let events = vec![
        event(EventKind::Created, created_at, ActorKind::PartyRepresentative, None),
        event(EventKind::Submitted, archived_at, ActorKind::PartyRepresentative, submitter),
    ];
    let files = list(&v, "formData").iter().chain(list(&v, "attachments"));
    let attachments = files
        .enumerate()
        .filter_map(|(i, a)| {
            let url = text(a, "url")?;
            let name = text(a, "name").or_else(|| text(a, "fileName")).unwrap_or_else(|| format!("Vedlegg {}", i + 1));
            Some(Attachment {
                id: text(a, "id").unwrap_or_else(|| url.clone()),
                display_name: vec![nb(&name)],
                url,
                media_type: text(a, "mimeType"),
                consumer: Consumer::Gui,
            })
        })
        .collect();
    let title = text(&v, "formTitle").unwrap_or_else(|| format!("Skjema {service_code}"));

    Ok(Transformed::Element(Element {
        source: SOURCE.into(),
        source_id: reference.clone(),
        source_version: record.source_version,
        kind: ElementKind::Form,
        legacy_refs: vec![LegacyRef::ArchiveReference(reference), LegacyRef::ReporteeElementId(reportee_element.clone())],
        party,
        service_resource: format!("urn:altinn:resource:se_{service_code}_{edition}"),
        service_owner: owner,
        sender_name: None,
        created_at,
        updated_at: oslo_instant(&v, "lastChanged")?.unwrap_or(archived_at).max(archived_at),
        visible_from: None,
        due_at: None,
        title: vec![nb(&title)],
        summary: vec![],
        body: vec![],
        state,
        events,
        attachments,
        links: vec![Link {
            url: format!("https://www.altinn.no/Pages/ServiceEngine/Archive/ArchivedFormTask.aspx?ReporteeElementID={reportee_element}"),
            title: vec![nb("Åpne arkivert skjema")],
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialogsync_sdk::time::format_instant;

    fn run(json: &str) -> Result<Transformed, RecordError> {
        transform(&SourceRecord { source_id: "AR1".into(), source_version: 1, payload: json.as_bytes().to_vec(), content_type: "application/json".into() })
    }

    const BASE: &str = r#"{"archiveReference": "AR12345678", "reporteeElementId": 77, "serviceCode": "2000",
        "serviceEditionCode": 1, "serviceOwnerCode": "skd", "reportee": {"orgNumber": "910223344"},
        "formTitle": "Næringsoppgave", "archivedDate": "2024-10-27T02:15:00", "isCompleted": true,
        "formData": [{"name": "RF-1175", "url": "https://www.altinn.no/x/RF-1175.xml", "mimeType": "application/xml"}]}"#;

    #[test]
    fn archived_form_is_a_completed_submitted_form() {
        let Transformed::Element(e) = run(BASE).unwrap() else { panic!() };
        assert_eq!(format_instant(e.created_at), "2024-10-27T00:15:00Z", "repeated hour: first occurrence");
        assert!(e.state.archived && e.state.confirmed);
        assert_eq!(e.events.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EventKind::Created, EventKind::Submitted]);
        assert_eq!(e.legacy_refs[0], LegacyRef::ArchiveReference("AR12345678".into()));
        assert_eq!(e.attachments.len(), 1);
    }

    #[test]
    fn never_completed_is_skipped_and_missing_fields_named() {
        let open = BASE.replace("\"isCompleted\": true", "\"isCompleted\": false");
        assert!(matches!(run(&open).unwrap(), Transformed::Skip(Skip { remove_existing: false, .. })));
        assert_eq!(run(&BASE.replace("\"archivedDate\": \"2024-10-27T02:15:00\",", "")), Err(RecordError::MissingField("archivedDate".into())));
    }
}
