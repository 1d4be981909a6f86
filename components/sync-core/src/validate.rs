//! The check of every projected dialog against Dialogporten's rules (DESIGN.md
//! "Dialog rules"), before it is stored: a swapped-in projector cannot store a dialog that
//! Dialogporten would refuse. Each problem names the field.

use dialogsync_sdk::json::Json;
use dialogsync_sdk::rules;
use dialogsync_sdk::types::Dialog;
use dialogsync_sdk::time::parse_instant;
use serde_json::Value;

/// All rule violations of `d` (empty when it is valid); `now` in microseconds. The document is
/// read as a borrowed tree (`sdk::json`): every dialog of every page is checked.
pub fn check(d: &Dialog, now: i64) -> Vec<String> {
    let mut errors = Vec::new();
    let doc = match Json::parse(d.document.as_bytes()) {
        Ok(v) => v,
        Err(e) => return vec![format!("document: not JSON: {e}")],
    };
    let mut err = |field: &str, m: String| errors.push(format!("{field}: {m}"));
    let s = |path: &[&str]| doc.at(path).and_then(Json::as_str);

    // The indexed columns must say what the document says.
    for (field, column) in [("id", &d.id), ("party", &d.party), ("serviceResource", &d.service_resource), ("status", &d.status), ("systemLabel", &d.system_label)] {
        if s(&[field]) != Some(column.as_str()) {
            err(field, format!("document has {:?}, the dialog record {column:?}", s(&[field])));
        }
    }
    let is_uuid7 = d.id.len() == 36
        && d.id.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
        && d.id.as_bytes()[14] == b'7';
    if !is_uuid7 {
        err("id", format!("`{}` is not a UUIDv7", d.id));
    }
    if !rules::valid_party(&d.party) {
        err("party", format!("`{}` is not a person or organisation URN", d.party));
    }
    if !d.service_resource.starts_with("urn:altinn:resource:") {
        err("serviceResource", format!("`{}` does not start urn:altinn:resource:", d.service_resource));
    }
    if !rules::STATUSES.contains(&d.status.as_str()) {
        err("status", format!("`{}` is not one of {:?}", d.status, rules::STATUSES));
    }
    if !rules::SYSTEM_LABELS.contains(&d.system_label.as_str()) {
        err("systemLabel", format!("`{}` is not one of {:?}", d.system_label, rules::SYSTEM_LABELS));
    }

    let chars = |v: &Json| v.get("value").and_then(Json::as_str).map_or(0, |t| t.chars().count());
    let texts = [("title", rules::MAX_TEXT), ("summary", rules::MAX_TEXT), ("senderName", rules::MAX_TEXT), ("additionalInfo", rules::MAX_ADDITIONAL_INFO), ("extendedStatus", rules::MAX_EXTENDED_STATUS)];
    for (name, max) in texts {
        let values = doc.at(&["content", name, "value"]).and_then(Json::as_array);
        if name == "title" && values.is_none_or(|v| v.is_empty()) {
            err("content.title", "required".into());
        }
        for (i, v) in values.into_iter().flatten().enumerate() {
            let n = chars(v);
            if n == 0 || n > max {
                err(&format!("content.{name}.value[{i}]"), format!("{n} characters; must be 1–{max}"));
            }
        }
    }

    let mut at = |field: &str| match s(&[field]).map(parse_instant) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            errors.push(format!("{field}: {e}"));
            None
        }
        None => None,
    };
    let (created, updated, due, visible, expires) = (at("createdAt"), at("updatedAt"), at("dueAt"), at("visibleFrom"), at("expiresAt"));
    let mut order = |field: &str, ok: bool, m: &str| {
        if !ok {
            errors.push(format!("{field}: {m}"));
        }
    };
    order("createdAt", created.is_some_and(|c| c <= now), "required, and not in the future");
    order("updatedAt", updated.is_some_and(|u| u <= now), "required, and not in the future");
    order("updatedAt", matches!((created, updated), (Some(c), Some(u)) if u >= c) || created.is_none(), "before createdAt");
    order("dueAt", !matches!((visible, due), (Some(v), Some(d)) if d < v), "before visibleFrom");
    order("expiresAt", !matches!((due, expires), (Some(d), Some(x)) if x < d), "before dueAt");

    let list = |path: &[&str]| doc.at(path).and_then(Json::as_array).unwrap_or_default();
    for (i, tag) in list(&["searchTags"]).iter().enumerate() {
        order(&format!("searchTags[{i}]"), rules::SEARCH_TAG_LEN.contains(&chars(tag)), "must be 3–63 characters");
    }
    let labels = list(&["serviceOwnerContext", "serviceOwnerLabels"]);
    order("serviceOwnerContext.serviceOwnerLabels", labels.len() <= rules::MAX_LABELS, "at most 20");
    let mut seen = std::collections::HashSet::new();
    for (i, l) in labels.iter().enumerate() {
        let v = l.get("value").and_then(Json::as_str).unwrap_or_default();
        order(&format!("serviceOwnerContext.serviceOwnerLabels[{i}]"), rules::LABEL_LEN.contains(&v.chars().count()) && seen.insert(v.to_lowercase()), "must be 3–255 characters and unique");
    }
    errors
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_of_another_document_are_added_once_after_its_own() {
        let doc = |labels: &[&str]| serde_json::json!({ "id": "x", "serviceOwnerContext": { "serviceOwnerLabels": labels.iter().map(|l| serde_json::json!({ "value": l })).collect::<Vec<_>>() } }).to_string();
        let (a, b) = (doc(&["urn:a3:1", "urn:a2:9"]), doc(&["urn:a2:9", "urn:a2:reportee:5"]));
        let merged: Value = serde_json::from_str(&super::with_labels_of(&a, &b)).unwrap();
        let values: Vec<&str> = merged["serviceOwnerContext"]["serviceOwnerLabels"].as_array().unwrap().iter().map(|l| l["value"].as_str().unwrap()).collect();
        assert_eq!(values, ["urn:a3:1", "urn:a2:9", "urn:a2:reportee:5"]);
        assert_eq!(super::with_labels_of(&a, &a), a, "nothing to add: the document as it was");
    }

    use super::*;

    const NOW: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

    fn dialog(doc: serde_json::Value) -> Dialog {
        let s = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
        Dialog {
            id: s("id"),
            party: s("party"),
            service_resource: s("serviceResource"),
            status: s("status"),
            system_label: s("systemLabel"),
            created_at: 0,
            updated_at: 0,
            document: doc.to_string(),
        }
    }

    fn good() -> serde_json::Value {
        serde_json::json!({
            "id": "0191b1c9-963b-71f9-9bb3-62ad5b929455",
            "party": "urn:altinn:organization:identifier-no:910223344",
            "serviceResource": "urn:altinn:resource:app_skd_mva",
            "status": "Completed",
            "systemLabel": "Archive",
            "createdAt": "2024-09-02T08:11:04Z",
            "updatedAt": "2024-09-02T09:00:00Z",
            "content": { "title": { "value": [{ "languageCode": "nb", "value": "Tittel" }], "mediaType": "text/plain" } },
            "serviceOwnerContext": { "serviceOwnerLabels": [{ "value": "urn:altinn:integration:storage:1/2" }] }
        })
    }

    #[test]
    fn a_good_dialog_passes() {
        assert_eq!(check(&dialog(good()), NOW), Vec::<String>::new());
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let broken = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut d = good();
            edit(&mut d);
            check(&dialog(d), NOW)
        };
        let has = |errors: Vec<String>, field: &str| assert!(errors.iter().any(|e| e.starts_with(field)), "{field} not named in {errors:?}");
        has(broken(&|d| d["party"] = "urn:altinn:organization:identifier-no:1".into()), "party");
        has(broken(&|d| d["id"] = "0191b1c9-963b-41f9-9bb3-62ad5b929455".into()), "id");
        has(broken(&|d| d["status"] = "Sent".into()), "status");
        has(broken(&|d| d["systemLabel"] = "MarkedAsUnopened".into()), "systemLabel");
        has(broken(&|d| d["serviceResource"] = "app_skd_mva".into()), "serviceResource");
        has(broken(&|d| d["content"]["title"]["value"][0]["value"] = "x".repeat(256).into()), "content.title.value[0]");
        has(broken(&|d| d["content"]["title"] = serde_json::json!(null)), "content.title");
        has(broken(&|d| d["createdAt"] = "2027-01-01T00:00:00Z".into()), "createdAt");
        has(broken(&|d| d["updatedAt"] = "2024-09-01T00:00:00Z".into()), "updatedAt");
        has(broken(&|d| d["updatedAt"] = "2024-09-01T00:00:00".into()), "updatedAt");
        has(broken(&|d| { d["visibleFrom"] = "2024-10-01T00:00:00Z".into(); d["dueAt"] = "2024-09-30T00:00:00Z".into() }), "dueAt");
        has(broken(&|d| d["searchTags"] = serde_json::json!([{ "value": "ab" }])), "searchTags[0]");
        has(broken(&|d| d["serviceOwnerContext"]["serviceOwnerLabels"] = serde_json::json!([{ "value": "abc" }, { "value": "ABC" }])), "serviceOwnerContext.serviceOwnerLabels[1]");
        let mut mismatch = dialog(good());
        mismatch.status = "Draft".into();
        has(check(&mismatch, NOW), "status");
    }
}

/// `document` with the service-owner labels of `other` it lacks added after its own (as many as
/// Dialogporten allows): one dialog for one message in two sources is found by the legacy ids of
/// both. The document is rewritten only when a label is added.
pub fn with_labels_of(document: &str, other: &str) -> String {
    let labels = |d: &Value| d.pointer("/serviceOwnerContext/serviceOwnerLabels").and_then(Value::as_array).cloned().unwrap_or_default();
    let (Ok(mut doc), Ok(theirs)) = (serde_json::from_str::<Value>(document), serde_json::from_str::<Value>(other)) else { return document.to_string() };
    let mut mine = labels(&doc);
    let before = mine.len();
    for l in labels(&theirs) {
        if mine.len() < rules::MAX_LABELS && !mine.iter().any(|m| m["value"] == l["value"]) {
            mine.push(l);
        }
    }
    if mine.len() == before {
        return document.to_string();
    }
    doc["serviceOwnerContext"]["serviceOwnerLabels"] = Value::Array(mine);
    doc.to_string()
}
