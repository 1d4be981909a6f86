//! One message in both Altinn 2 and Altinn 3 (an A3 correspondence migrated from A2, naming it
//! by `altinn2CorrespondenceId`) is one dialog, whichever source comes first: the same id, the
//! legacy labels of both, the newest version of either winning.

use super::common::{self, Env};
use serde_json::{Value, json};

const A2_ID: u64 = 51230001;
const A3_ID: &str = "0192a3c5-0000-7000-8000-0000000a2a3a";

fn a2(title: &str, last_changed: &str, events: Value) -> Value {
    json!({
        "correspondenceId": A2_ID, "reporteeElementId": 912340001, "serviceCode": "4503", "serviceEditionCode": 2,
        "reportee": { "partyId": 50001234, "ssn": "01044091042" }, "sender": { "serviceOwnerCode": "skd", "name": "Skatteetaten" },
        "language": "1044", "title": title, "createdDate": "2024-05-01T10:00:00", "statusEvents": events, "lastChanged": last_changed,
    })
}

fn a3() -> Value {
    json!({
        "correspondenceId": A3_ID, "resourceId": "skd-vedtak", "sender": "0192:974761076", "messageSender": "Skatteetaten",
        "recipient": "01044091042", "content": { "language": "nb", "messageTitle": "Vedtak (Altinn 3)" },
        // Altinn's migration kept the A2 creation time: 10:00 in Oslo, summer time.
        "created": "2024-05-01T08:00:00Z", "altinn2CorrespondenceId": A2_ID, "isConfirmationNeeded": true,
        "statusHistory": [
            { "status": "Published", "statusChanged": "2024-05-01T08:00:00Z" },
            { "status": "Read", "statusChanged": "2024-05-02T08:00:00Z" },
            { "status": "Confirmed", "statusChanged": "2024-05-03T08:00:00Z" }
        ],
        "lastChanged": "2024-05-03T08:00:00Z",
    })
}

/// A config with both correspondence sources.
fn env() -> Env {
    let env = Env::for_source("a2-correspondence", "a2-correspondence", "");
    let k = dialogsync::config::known("a3-correspondence").unwrap();
    let section = format!(
        "[sources.a3-correspondence]\ncomponent = \"{}\"\nid_field = \"{}\"\nversion_fields = {:?}\n",
        common::component("a3-correspondence").display(),
        k.id_field,
        k.version_fields
    );
    let text = std::fs::read_to_string(&env.config).unwrap() + &section;
    std::fs::write(&env.config, text).unwrap();
    env
}

fn backfill(env: &Env, source: &str, record: &Value) {
    let dir = env.dir.path().join(format!("in-{source}-{}", record.to_string().len()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("record.json"), record.to_string()).unwrap();
    env.ok(&["backfill", "--source", source, "--input", dir.to_str().unwrap()]);
}

fn labels(d: &Value) -> Vec<String> {
    d["serviceOwnerContext"]["serviceOwnerLabels"].as_array().unwrap().iter().map(|l| l["value"].as_str().unwrap().to_string()).collect()
}

fn found_by(env: &Env, label: &str) -> Vec<Value> {
    env.ok(&["dialogs", "search", "--label", label]).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn the_same_message_in_altinn_2_and_3_is_one_dialog_in_either_order() {
    let read = json!([{ "status": "Read", "time": "2024-05-02T10:00:00", "actor": "01044091042" }]);
    let older_a2 = a2("Vedtak (Altinn 2)", "2024-05-02T10:00:00", read);
    let (a2_first, a3_first) = (env(), env());
    backfill(&a2_first, "a2-correspondence", &older_a2);
    backfill(&a2_first, "a3-correspondence", &a3());
    backfill(&a3_first, "a3-correspondence", &a3());
    backfill(&a3_first, "a2-correspondence", &older_a2);

    let (x, y) = (a2_first.dialogs(), a3_first.dialogs());
    assert_eq!((x.len(), y.len()), (1, 1), "one dialog each: {x:?} {y:?}");
    assert_eq!(x, y, "the same dialog whichever came first");
    let d = &x[0];
    assert_eq!(d["content"]["title"]["value"][0]["value"], "Vedtak (Altinn 3)", "the newer version (A3, confirmed) wins: {d}");
    let l = labels(d);
    for want in [format!("urn:altinn:a2:correspondence-id:{A2_ID}"), format!("urn:altinn:correspondence-id:{A3_ID}"), "urn:altinn:a2:reportee-element-id:912340001".to_string()] {
        assert!(l.contains(&want), "{want} in {l:?}");
        let found = found_by(&a3_first, &want);
        assert_eq!(found.len(), 1, "found by {want}");
        assert_eq!(found[0]["id"], d["id"]);
    }

    // A later Altinn 2 version (archived there) is now the newest: it wins, and keeps A3's label.
    let events = json!([{ "status": "Read", "time": "2024-05-02T10:00:00", "actor": "01044091042" }, { "status": "Archived", "time": "2024-05-09T10:00:00", "actor": "01044091042" }]);
    backfill(&a3_first, "a2-correspondence", &a2("Vedtak (Altinn 2, arkivert)", "2024-05-09T10:00:00", events));
    let after = a3_first.dialogs();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["id"], d["id"]);
    assert_eq!(after[0]["content"]["title"]["value"][0]["value"], "Vedtak (Altinn 2, arkivert)", "{}", after[0]);
    assert!(labels(&after[0]).contains(&format!("urn:altinn:correspondence-id:{A3_ID}")), "{:?}", labels(&after[0]));
    assert_eq!(found_by(&a3_first, &format!("urn:altinn:correspondence-id:{A3_ID}")).len(), 1);
}
