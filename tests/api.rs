//! The Dialogporten-compatible API over HTTP on 127.0.0.1: responses in the real end-user
//! spec's shapes, party authorization under random grants, token checks, and paging while
//! dialogs are written.

#[path = "common.rs"]
mod common;

use common::{Env, Server, Sim, component, run_env};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const SOURCES: [&str; 4] = ["a2-archived-forms", "a2-correspondence", "a3-app-instances", "a3-correspondence"];

/// A store with every source's dialogs, migrated from a simulator (kept running for writes).
fn world(seed: u64) -> (Sim, Env) {
    let sim = Sim::start(seed, &["--days", "6", "--per-day", "12"], &[]);
    let back_to = (chrono::Utc::now().date_naive() - chrono::Duration::days(6)).to_string();
    let sources: Vec<(&str, std::path::PathBuf)> = SOURCES.iter().map(|s| (*s, component(s))).collect();
    let env = run_env(&sim, &sources, &back_to, "", "rate_limit = 1000");
    env.ok(&["parties", "import", sim.parties(env.dir.path()).to_str().unwrap()]);
    env.ok(&["run", "--once"]);
    (sim, env)
}

fn token(env: &Env, args: &[&str]) -> String {
    let mut a = vec!["token"];
    a.extend_from_slice(args);
    env.ok(&a).trim().to_string()
}

/// id → party of every stored dialog.
fn parties_of(env: &Env) -> BTreeMap<String, String> {
    env.dialogs().iter().map(|d| (d["id"].as_str().unwrap().to_string(), d["party"].as_str().unwrap().to_string())).collect()
}

/// Every page of an end user's search: the ids in order.
fn all_pages(server: &Server, token: &str, query: &str) -> Vec<String> {
    every_page(server, token, "/api/v1/enduser/dialogs", query)
}

/// Every page of a service owner's search: the ids in order.
fn so_search(server: &Server, token: &str, query: &str) -> Vec<String> {
    every_page(server, token, "/api/v1/serviceowner/dialogs", query)
}

fn every_page(server: &Server, token: &str, endpoint: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = format!("{endpoint}?{query}");
    loop {
        let (status, body, _) = server.get(&path, Some(token));
        assert_eq!(status, 200, "{path}: {body}");
        ids.extend(body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()));
        match body["continuationToken"].as_str() {
            Some(t) if body["hasNextPage"] == true => path = format!("{endpoint}?{query}&continuationToken={t}"),
            _ => return ids,
        }
    }
}

#[test]
fn search_and_details_validate_against_dialogportens_enduser_spec() {
    let Some(altinn) = common::shared_altinn("search_and_details_validate_against_dialogportens_enduser_spec") else { return };
    let spec = common::read_json(&altinn.join("dialogporten/openapi.v1.enduser.verified.json"));
    let validator = |name: &str| jsonschema::options().build(&serde_json::json!({ "$ref": format!("#/components/schemas/{name}"), "components": spec["components"] })).unwrap();
    let (page_schema, dialog_schema, parties_schema) = (validator("PaginatedListOfDialogListItem"), validator("Dialog"), validator("Parties"));

    let (_sim, env) = world(31);
    let dialogs = parties_of(&env);
    let person = "01017012345";
    for party in dialogs.values().collect::<BTreeSet<_>>() {
        env.ok(&["parties", "grant", person, party]);
    }
    let server = Server::start(&env);
    let t = token(&env, &["--person", person]);
    let mut seen = 0;
    let mut path = "/api/v1/enduser/dialogs?limit=37".to_string();
    loop {
        let (status, page, _) = server.get(&path, Some(&t));
        assert_eq!(status, 200);
        let errors: Vec<String> = page_schema.iter_errors(&page).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "search page breaks the spec: {errors:?}");
        for item in page["items"].as_array().unwrap() {
            let id = item["id"].as_str().unwrap();
            let (status, d, _) = server.get(&format!("/api/v1/enduser/dialogs/{id}"), Some(&t));
            assert_eq!(status, 200);
            let errors: Vec<String> = dialog_schema.iter_errors(&d).map(|e| format!("{} at {}", e, e.instance_path())).collect();
            assert!(errors.is_empty(), "dialog {id} breaks the spec: {errors:?}\n{d:#}");
            seen += 1;
        }
        match page["continuationToken"].as_str() {
            Some(c) => path = format!("/api/v1/enduser/dialogs?limit=37&continuationToken={c}"),
            None => break,
        }
    }
    assert_eq!(seen, dialogs.len(), "every dialog, once");
    let (status, parties, _) = server.get("/api/v1/enduser/parties", Some(&t));
    assert_eq!(status, 200);
    assert!(parties_schema.iter_errors(&parties).next().is_none(), "{parties}");
    assert_eq!(parties["authorizedParties"].as_array().unwrap().len(), dialogs.values().collect::<BTreeSet<_>>().len() + 1);
}

#[test]
fn no_caller_ever_sees_a_dialog_of_a_party_it_may_not_represent() {
    let (_sim, env) = world(32);
    let dialogs = parties_of(&env);
    let all_parties: Vec<String> = dialogs.values().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    // Persons: some own dialogs themselves (their person URN is a party), some own none; each
    // gets a random handful of grants.
    let mut persons: Vec<String> = all_parties.iter().filter_map(|p| p.strip_prefix("urn:altinn:person:identifier-no:")).take(6).map(str::to_string).collect();
    persons.extend((0..6).map(|i| format!("0{}", 1000000000 + i)));
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &persons {
        let mut set: BTreeSet<String> = BTreeSet::from([format!("urn:altinn:person:identifier-no:{p}")]);
        for _ in 0..rng.random_range(0..6) {
            let party = &all_parties[rng.random_range(0..all_parties.len())];
            env.ok(&["parties", "grant", p, party]);
            set.insert(party.clone());
        }
        allowed.insert(p.clone(), set);
    }
    let server = Server::start(&env);
    let tokens: BTreeMap<String, String> = persons.iter().map(|p| (p.clone(), token(&env, &["--person", p]))).collect();
    let statuses = ["InProgress", "Draft", "RequiresAttention", "Completed", "NotApplicable", "Awaiting"];
    let docs: BTreeMap<String, Value> = env.dialogs().into_iter().map(|d| (d["id"].as_str().unwrap().to_string(), d)).collect();
    for round in 0..60 {
        let p = &persons[rng.random_range(0..persons.len())];
        let mine = &allowed[p];
        // Ask for random parties (often ones not granted), maybe a status, a random page size.
        let asked: Vec<String> = (0..rng.random_range(0..3)).map(|_| all_parties[rng.random_range(0..all_parties.len())].clone()).collect();
        let status = rng.random_bool(0.3).then(|| statuses[rng.random_range(0..statuses.len())]);
        let limit = rng.random_range(1..40);
        let mut q = format!("limit={limit}");
        for a in &asked {
            q += &format!("&party={}", a.replace(':', "%3A"));
        }
        if let Some(s) = status {
            q += &format!("&status={s}");
        }
        let got = all_pages(&server, &tokens[p], &q);
        let expected: BTreeSet<String> = docs
            .iter()
            .filter(|(_, d)| {
                let party = d["party"].as_str().unwrap();
                mine.contains(party) && (asked.is_empty() || asked.iter().any(|a| a == party)) && status.is_none_or(|s| d["status"] == s)
            })
            .map(|(id, _)| id.clone())
            .collect();
        let got_set: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(got.len(), got_set.len(), "round {round}: no dialog twice");
        for id in &got {
            assert!(mine.contains(&dialogs[id]), "round {round}: {p} saw {id} of {}", dialogs[id]);
        }
        assert_eq!(got_set, expected, "round {round}: {p} {q}");
        // Details: 200 exactly for dialogs of parties the caller represents, 404 otherwise.
        let id = dialogs.keys().nth(rng.random_range(0..dialogs.len())).unwrap();
        let (code, body, _) = server.get(&format!("/api/v1/enduser/dialogs/{id}"), Some(&tokens[p]));
        assert_eq!(code, if mine.contains(&dialogs[id]) { 200 } else { 404 }, "round {round}: {p} GET {id}: {body}");
    }

    // Tokens that must be refused, and how.
    let person = &persons[0];
    let other = Env::new("a3-app-instances", "");
    let mut foreign = std::fs::read_to_string(&other.config).unwrap();
    foreign = foreign.replace(&common::root().join("target/test-component-cache").display().to_string(), &other.dir.path().join("cache").display().to_string());
    std::fs::write(&other.config, foreign).unwrap();
    let cases: Vec<(&str, Option<String>, u16)> = vec![
        ("missing", None, 401),
        ("garbage", Some("not.a.token".into()), 401),
        ("expired", Some(token(&env, &["--person", person, "--ttl", "-2h"])), 401),
        ("signed by another key", Some(token(&other, &["--person", person])), 401),
        ("wrong scope", Some(token(&env, &["--person", person, "--scope", "digdir:something-else"])), 403),
        ("a service owner's", Some(token(&env, &["--org", "991825827"])), 403),
        ("HS256 with a guessable secret", Some(hs256(person)), 401),
    ];
    for (what, t, code) in cases {
        let (got, body, kind) = server.get("/api/v1/enduser/dialogs", t.as_deref());
        assert_eq!(got, code, "{what} token: {body}");
        assert_eq!(kind, "application/problem+json", "{what}");
        assert_eq!(body["status"], code);
        assert!(body["items"].is_null());
    }
    let (code, body, _) = server.get("/api/v1/enduser/dialogs?limit=5000", Some(&tokens[person]));
    assert_eq!(code, 400);
    assert!(body["errors"]["limit"].is_array(), "{body}");

    // Metrics, the API's own OpenAPI document and the health check need no token.
    let text = |path: &str| ureq::get(format!("{}{path}", server.url)).call().unwrap().body_mut().read_to_string().unwrap();
    let metrics = text("/metrics");
    let a3 = docs.values().filter(|d| d["serviceResource"].as_str().unwrap().starts_with("urn:altinn:resource:app_")).count();
    assert!(metrics.contains(&format!("dialogsync_dialogs{{source=\"a3-app-instances\"}} {a3}\n")), "{metrics}");
    assert!(metrics.contains("# TYPE dialogsync_records gauge") && metrics.contains("dialogsync_tick_duration_seconds{source=\"a2-correspondence\"}"), "{metrics}");
    let openapi: Value = serde_json::from_str(&text("/openapi.json")).unwrap();
    for path in ["/api/v1/enduser/dialogs", "/api/v1/enduser/dialogs/{dialogId}", "/api/v1/enduser/parties", "/api/v1/events", "/api/v1/events/stream", "/status", "/metrics", "/healthz"] {
        assert!(openapi["paths"][path].is_object(), "{path} documented");
    }
    assert_eq!(text("/healthz"), "ok");

    // The status page needs no token and is HTML with the report's table.
    let mut r = ureq::get(format!("{}/status", server.url)).call().unwrap();
    assert!(r.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    let html = r.body_mut().read_to_string().unwrap();
    assert!(html.contains("<h2>Historic data</h2>") || html.contains("<h3>Historic data</h3>"), "{html}");
    assert!(html.contains("<td>A3 App instances</td>"), "{html}");
}

/// A token signed with HMAC: the server must not accept a symmetric algorithm at all.
fn hs256(person: &str) -> String {
    let claims = dialogsync::api::auth::claims(Some(person), None, None, 3600);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("dialogsync-dev".into());
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(b"secret")).unwrap()
}

#[test]
fn paging_while_dialogs_are_written_returns_each_earlier_dialog_exactly_once() {
    let (sim, env) = world(33);
    let person = "01017054321";
    let before = parties_of(&env);
    for party in before.values().collect::<BTreeSet<_>>() {
        env.ok(&["parties", "grant", person, party]);
    }
    let server = Server::start(&env);
    let t = token(&env, &["--person", person]);
    let mut ids: Vec<String> = Vec::new();
    let mut path = "/api/v1/enduser/dialogs?limit=25".to_string();
    let mut page = 0;
    loop {
        let (status, body, _) = server.get(&path, Some(&t));
        assert_eq!(status, 200, "{body}");
        ids.extend(body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()));
        page += 1;
        if page <= 3 {
            // Between pages: the sources change (reads, archiving, new records…) and a sync
            // writes those changes, moving updated dialogs to the top of "newest updated first".
            sim.post("/_sim/advance?steps=60");
            env.ok(&["run", "--once"]);
        }
        match body["continuationToken"].as_str() {
            Some(c) => path = format!("/api/v1/enduser/dialogs?limit=25&continuationToken={c}"),
            None => break,
        }
    }
    let after = parties_of(&env);
    let changed = env.ok(&["events", "--limit", "1000000"]).lines().count();
    assert!(after.len() > before.len(), "new dialogs were written meanwhile");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no dialog twice");
    // Every dialog that existed when the search began (and still exists) exactly once;
    // none created after it began.
    let expected: BTreeSet<&String> = before.keys().filter(|id| after.contains_key(*id)).collect();
    assert_eq!(unique, expected, "({changed} change events)");
}

#[test]
fn events_are_cloud_events_in_order_for_the_callers_parties_and_the_stream_resumes() {
    let (_sim, env) = world(34);
    let dialogs = parties_of(&env);
    let person = "01017099999";
    let all: Vec<Value> = env.ok(&["events", "--limit", "1000000"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // A party with at least two events, so the resumed stream has one to send.
    let party = dialogs.values().find(|p| all.iter().filter(|e| e["party"] == p.as_str()).count() >= 2).expect("a party with two events").clone();
    env.ok(&["parties", "grant", person, &party]);
    let mine: Vec<i64> = all.iter().filter(|e| e["party"] == party.as_str()).map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(mine.len() >= 2 && mine.len() < all.len());

    let server = Server::start(&env);
    let t = token(&env, &["--person", person]);
    let (code, body, _) = server.get("/api/v1/events?after=0&limit=1000", Some(&t));
    assert_eq!(code, 200, "{body}");
    let events = body["events"].as_array().unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(seqs, mine, "exactly the caller's parties' events, in commit order");
    for e in events {
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["subject"], party.as_str());
        assert!(e["type"].as_str().unwrap().starts_with("dialogporten.dialog."), "{e}");
        assert!(dialogs.contains_key(e["resourceinstance"].as_str().unwrap()) || e["type"] == "dialogporten.dialog.deleted.v1");
    }
    let (code, _, _) = server.get("/api/v1/events", None);
    assert_eq!(code, 401);

    // The stream, resumed after the first event: the next one it sends is the second.
    use std::io::BufRead;
    let r = ureq::get(format!("{}/api/v1/events/stream", server.url)).header("Authorization", format!("Bearer {t}")).header("Last-Event-ID", mine[0].to_string()).call().unwrap();
    let mut lines = std::io::BufReader::new(r.into_body().into_reader()).lines();
    let first_id = lines.by_ref().map(|l| l.unwrap()).find_map(|l| l.strip_prefix("id:").map(|s| s.trim().to_string()));
    assert_eq!(first_id, Some(mine[1].to_string()));
}

#[test]
fn a_silent_source_writes_dialogs_without_events() {
    let env = Env::new("a3-app-instances", "");
    let text = std::fs::read_to_string(&env.config).unwrap() + "silent = true\n";
    std::fs::write(&env.config, text).unwrap();
    let input = env.dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("a.ndjson"), (0..3).map(|n| common::instance(n, "quiet").to_string()).collect::<Vec<_>>().join("\n")).unwrap();
    assert_eq!(env.backfill(&input)["migrated"], 3);
    assert_eq!(env.dialogs().len(), 3);
    assert_eq!(env.ok(&["events"]), "", "no change events");
}

const ORG_A: &str = "991825827";
const ORG_B: &str = "974761076";
const PERSON: &str = "01017012345";

/// A store with three migrated app instances, and two service owners: A owns the `digdir-*`
/// resources and the migrated app's, B the `skd-*` ones.
fn owners() -> Env {
    let env = Env::new("a3-app-instances", "");
    let input = env.dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("a.ndjson"), (0..3).map(|n| common::instance(n, "migrated").to_string()).collect::<Vec<_>>().join("\n")).unwrap();
    assert_eq!(env.backfill(&input)["migrated"], 3);
    let text = std::fs::read_to_string(&env.config).unwrap()
        + &format!(
            "[api.service_owners.{ORG_A}]\nresources = [\"urn:altinn:resource:digdir-*\", \"urn:altinn:resource:app_ttd_*\"]\n\
             [api.service_owners.{ORG_B}]\nresources = [\"urn:altinn:resource:skd-*\"]\n"
        );
    std::fs::write(&env.config, text).unwrap();
    env
}

fn new_dialog(resource: &str, title: &str) -> Value {
    serde_json::json!({
        "serviceResource": resource,
        "party": format!("urn:altinn:person:identifier-no:{PERSON}"),
        "status": "RequiresAttention",
        "content": { "title": { "value": [{ "languageCode": "nb", "value": title }] } },
        "activities": [{ "type": "Information", "performedBy": { "actorType": "ServiceOwner" }, "description": [{ "languageCode": "nb", "value": "Sendt" }] }],
    })
}

/// The CloudEvent types of `events` about `dialog`, in order.
fn types_of(events: &Value, dialog: &str) -> Vec<String> {
    events["events"].as_array().unwrap().iter().filter(|e| e["resourceinstance"] == dialog).map(|e| e["type"].as_str().unwrap().trim_start_matches("dialogporten.dialog.").to_string()).collect()
}

#[test]
fn service_owners_write_dialogs_of_their_own_resources_with_revisions_and_events() {
    let env = owners();
    let migrated = env.dialogs()[0]["id"].as_str().unwrap().to_string();
    let server = Server::start(&env);
    let (a, b, user) = (token(&env, &["--org", ORG_A]), token(&env, &["--org", ORG_B]), token(&env, &["--person", PERSON]));
    let so = "/api/v1/serviceowner/dialogs";

    // Create, and a repeat of the same idempotent key: 409 naming the dialog it made.
    let mut body = new_dialog("urn:altinn:resource:digdir-test", "Søknad om tilskudd");
    body["idempotentKey"] = "order-17".into();
    let r = server.send("POST", so, Some(&a), &[], Some(&body));
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body.as_str().unwrap().to_string();
    assert_eq!(r.headers["location"], format!("{so}/{id}"));
    let created_rev = r.headers["etag"].clone();
    let again = server.send("POST", so, Some(&a), &[], Some(&body));
    assert_eq!((again.status, again.body["dialogId"].as_str()), (409, Some(id.as_str())), "{again:?}");
    // Another organisation's resource, an end user's token, no token.
    assert_eq!(server.send("POST", so, Some(&b), &[], Some(&body)).status, 403);
    assert_eq!(server.send("POST", so, Some(&user), &[], Some(&body)).status, 403);
    assert_eq!(server.send("POST", so, None, &[], Some(&body)).status, 401);

    // Validation: the schema (unknown and mistyped fields) and the dialog rules, by field path.
    let invalid = |edit: &dyn Fn(&mut Value), field: &str| {
        let mut d = new_dialog("urn:altinn:resource:digdir-test", "Ugyldig");
        edit(&mut d);
        let r = server.send("POST", so, Some(&a), &[], Some(&d));
        assert_eq!(r.status, 400, "{field}: {r:?}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert!(r.body["errors"].get(field).is_some(), "{field} not named: {}", r.body);
    };
    invalid(&|d| d["tittle"] = "x".into(), "$");
    invalid(&|d| d["progress"] = "half".into(), "progress");
    invalid(&|d| d["party"] = "urn:altinn:person:identifier-no:123".into(), "party");
    invalid(&|d| d["content"]["title"]["value"][0]["value"] = "x".repeat(256).into(), "content.title.value[0]");
    invalid(&|d| { d["visibleFrom"] = "2025-02-01T00:00:00Z".into(); d["dueAt"] = "2025-01-01T00:00:00Z".into() }, "dueAt");
    invalid(&|d| d["id"] = "0191b1c9-963b-41f9-9bb3-62ad5b929455".into(), "id");

    // The end user it is for sees it; B may not read it.
    assert!(all_pages(&server, &user, "").contains(&id));
    assert_eq!(server.send("GET", &format!("{so}/{id}"), Some(&b), &[], None).status, 403);
    let got = server.send("GET", &format!("{so}/{id}"), Some(&a), &[], None);
    assert_eq!((got.status, got.body["revision"].as_str()), (200, Some(created_rev.as_str())));
    assert_eq!(got.body["idempotentKey"], "order-17");

    // Update: a stale If-Match is refused, the current one wins and moves the revision.
    let update = serde_json::json!({
        "status": "Completed",
        "content": { "title": { "value": [{ "languageCode": "nb", "value": "Tilskudd innvilget" }] } },
        "activities": [{ "type": "DialogClosed", "performedBy": { "actorType": "ServiceOwner" } }],
    });
    let stale = "00000000-0000-4000-8000-000000000000";
    assert_eq!(server.send("PUT", &format!("{so}/{id}"), Some(&a), &[("If-Match", stale)], Some(&update)).status, 412);
    let r = server.send("PUT", &format!("{so}/{id}"), Some(&a), &[("If-Match", &created_rev)], Some(&update));
    assert_eq!(r.status, 204, "{r:?}");
    let updated_rev = r.headers["etag"].clone();
    assert_ne!(updated_rev, created_rev);
    assert_eq!(server.send("PUT", &format!("{so}/{id}"), Some(&a), &[("If-Match", &created_rev)], Some(&update)).status, 412, "the old revision is spent");
    assert_eq!(server.send("PUT", &format!("{so}/{id}"), Some(&b), &[], Some(&update)).status, 403);
    let got = server.send("GET", &format!("{so}/{id}"), Some(&a), &[], None).body;
    assert_eq!(got["status"], "Completed");
    assert_eq!(got["content"]["title"]["value"][0]["value"], "Tilskudd innvilget");
    let kinds: Vec<&str> = got["activities"].as_array().unwrap().iter().map(|x| x["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Information", "DialogClosed"], "activities are appended");
    // An activity id that exists is refused; a migrated dialog is read-only here.
    let dup = serde_json::json!({ "id": got["activities"][0]["id"], "type": "Information", "performedBy": { "actorType": "ServiceOwner" } });
    assert_eq!(server.send("POST", &format!("{so}/{id}/activities"), Some(&a), &[], Some(&dup)).status, 422);
    assert_eq!(server.send("GET", &format!("{so}/{migrated}"), Some(&a), &[], None).status, 200);
    assert_eq!(server.send("PUT", &format!("{so}/{migrated}"), Some(&a), &[], Some(&update)).status, 409);

    // The system label, as the end user's searches see it.
    let labels = serde_json::json!({ "systemLabels": ["Archive"] });
    assert_eq!(server.send("PUT", &format!("{so}/{id}/endusercontext/systemlabels"), Some(&a), &[], Some(&labels)).status, 204);
    assert_eq!(all_pages(&server, &user, "systemLabel=Archive"), vec![id.clone()]);
    let bad = serde_json::json!({ "systemLabels": ["MarkedAsUnopened"] });
    assert_eq!(server.send("PUT", &format!("{so}/{id}/endusercontext/systemlabels"), Some(&a), &[], Some(&bad)).status, 422);

    // isSilentUpdate: updatedAt and the label stay, and no event; a loud update moves updatedAt
    // on and puts the dialog back in the inbox (Default), as Dialogporten's.
    let quiet = serde_json::json!({ "status": "Completed", "content": update["content"] });
    let before = server.send("GET", &format!("{so}/{id}"), Some(&a), &[], None).body;
    assert_eq!(server.send("PUT", &format!("{so}/{id}?isSilentUpdate=true"), Some(&a), &[], Some(&quiet)).status, 204);
    let after = server.send("GET", &format!("{so}/{id}"), Some(&a), &[], None).body;
    assert_eq!((&after["updatedAt"], after["systemLabel"].as_str()), (&before["updatedAt"], Some("Archive")), "{after}");
    assert_ne!(after["revision"], before["revision"]);
    assert_eq!(server.send("PUT", &format!("{so}/{id}?isSilentUpdate=yes"), Some(&a), &[], Some(&quiet)).status, 400);
    assert_eq!(server.send("PUT", &format!("{so}/{id}?IsSilentUpdate=false"), Some(&a), &[], Some(&quiet)).status, 204);
    let loud = server.send("GET", &format!("{so}/{id}"), Some(&a), &[], None).body;
    assert_eq!(loud["systemLabel"], "Default", "{loud}");
    assert!(loud["updatedAt"].as_str() >= before["updatedAt"].as_str(), "{loud}");

    // Delete: gone for the end user (410), kept for its owner; restore brings it back.
    assert_eq!(server.send("DELETE", &format!("{so}/{id}"), Some(&a), &[], None).status, 204);
    assert!(!all_pages(&server, &user, "").contains(&id));
    assert_eq!(server.get(&format!("/api/v1/enduser/dialogs/{id}"), Some(&user)).0, 410);
    let got = server.send("GET", &format!("{so}/{id}"), Some(&a), &[], None);
    assert!(got.body["deletedAt"].is_string(), "{got:?}");
    assert_eq!(server.send("PUT", &format!("{so}/{id}"), Some(&a), &[], Some(&update)).status, 410);
    assert_eq!(server.send("DELETE", &format!("{so}/{id}"), Some(&a), &[], None).status, 410);
    assert!(!so_search(&server, &a, "").contains(&id), "a service owner's search leaves deleted dialogs out by default");
    assert_eq!(so_search(&server, &a, "deleted=Only"), vec![id.clone()]);
    assert_eq!(server.send("POST", &format!("{so}/{id}/actions/restore"), Some(&a), &[], None).status, 204);
    assert!(all_pages(&server, &user, "").contains(&id));
    assert_eq!(server.get(&format!("/api/v1/enduser/dialogs/{id}"), Some(&user)).0, 200);

    // B's own dialog.
    let r = server.send("POST", so, Some(&b), &[], Some(&new_dialog("urn:altinn:resource:skd-mva", "Mva-melding")));
    assert_eq!(r.status, 201, "{r:?}");
    let theirs = r.body.as_str().unwrap().to_string();

    // Each organisation's search finds exactly its resources' dialogs, migrated or written here.
    let ttd: BTreeSet<String> = env.dialogs().iter().filter(|d| d["serviceResource"] == "urn:altinn:resource:app_ttd_sample-app").map(|d| d["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ttd.len(), 3);
    let a_found: BTreeSet<String> = so_search(&server, &a, "limit=1").into_iter().collect();
    assert_eq!(a_found, ttd.iter().cloned().chain([id.clone()]).collect::<BTreeSet<_>>());
    assert_eq!(so_search(&server, &b, ""), vec![theirs.clone()]);

    // Events: every change in order, each organisation only its own resources' (A also the
    // migrated app's), the end user those of their party.
    let (code, a_events, _) = server.get("/api/v1/events?limit=1000", Some(&a));
    assert_eq!(code, 200, "{a_events}");
    let expected = [
        "created.v1", "activity.information.v1", "updated.v1", "activity.dialog-closed.v1", "updated.v1", "updated.v1", "deleted.v1",
        "restored.v1",
    ];
    assert_eq!(types_of(&a_events, &id), expected);
    assert!(!types_of(&a_events, &migrated).is_empty(), "A owns the migrated app's resource");
    assert!(types_of(&a_events, &theirs).is_empty(), "A sees nothing of B's");
    let (_, b_events, _) = server.get("/api/v1/events?limit=1000", Some(&b));
    let b_dialogs: BTreeSet<&str> = b_events["events"].as_array().unwrap().iter().map(|e| e["resourceinstance"].as_str().unwrap()).collect();
    assert_eq!(b_dialogs, BTreeSet::from([theirs.as_str()]));
    let (_, user_events, _) = server.get("/api/v1/events?limit=1000", Some(&user));
    assert_eq!(types_of(&user_events, &id), expected);
    assert!(types_of(&user_events, &migrated).is_empty(), "the migrated dialogs are an organisation's, not this person's");

    // The status page's "Dialog services" line counts both.
    assert_eq!(env.status()["dialog_services"], 2);
    assert!(env.ok(&["status"]).contains("✔ Dialog services — written through the service-owner API, available at once. 2 dialogs."));

    // A future visibleFrom becomes the new dialog's createdAt and updatedAt (Dialogporten's `OnCreate`).
    let mut later = new_dialog("urn:altinn:resource:digdir-test", "Kommer");
    later["createdAt"] = "2024-05-01T10:00:00Z".into();
    later["visibleFrom"] = "2099-01-01T00:00:00Z".into();
    let r = server.send("POST", &format!("{so}?isSilentUpdate=true"), Some(&a), &[], Some(&later));
    assert_eq!(r.status, 201, "{r:?}");
    let got = server.send("GET", &format!("{so}/{}", r.body.as_str().unwrap()), Some(&a), &[], None).body;
    assert_eq!((got["createdAt"].as_str(), got["updatedAt"].as_str()), (Some("2099-01-01T00:00:00Z"), Some("2099-01-01T00:00:00Z")), "{got}");
}

#[test]
fn concurrent_writers_of_one_revision_let_exactly_one_win() {
    let env = owners();
    let server = Server::start(&env);
    let a = token(&env, &["--org", ORG_A]);
    let so = "/api/v1/serviceowner/dialogs";

    // Eight creates racing with one idempotent key make one dialog; the others are told its id.
    let mut body = new_dialog("urn:altinn:resource:digdir-race", "Kappløp");
    body["idempotentKey"] = "once".into();
    let replies: Vec<common::Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| server.send("POST", so, Some(&a), &[], Some(&body)))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let made: Vec<&common::Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(made.len(), 1, "{replies:?}");
    let id = made[0].body.as_str().unwrap();
    assert!(replies.iter().filter(|r| r.status != 201).all(|r| r.status == 409 && r.body["dialogId"] == id), "{replies:?}");
    let revision = made[0].headers["etag"].clone();

    // Eight updates naming that revision: one 204, seven 412, and one updated event.
    let replies: Vec<common::Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let (server, a, revision) = (&server, &a, &revision);
                s.spawn(move || {
                    let update = serde_json::json!({ "status": "InProgress", "content": { "title": { "value": [{ "languageCode": "nb", "value": format!("Skriver {n}") }] } } });
                    server.send("PUT", &format!("{so}/{id}"), Some(a), &[("If-Match", revision)], Some(&update))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<&common::Reply> = replies.iter().filter(|r| r.status == 204).collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    assert_eq!(replies.iter().filter(|r| r.status == 412).count(), 7, "{replies:?}");
    let now = server.send("GET", &format!("{so}/{id}"), Some(&a), &[], None);
    assert_eq!(now.headers["etag"], won[0].headers["etag"], "the winner's revision is the dialog's");
    let (_, events, _) = server.get("/api/v1/events?limit=1000", Some(&a));
    assert_eq!(types_of(&events, id), ["created.v1", "activity.information.v1", "updated.v1"]);
    assert_eq!(env.dialogs().iter().filter(|d| d["serviceResource"] == "urn:altinn:resource:digdir-race").count(), 1);
}

#[test]
fn service_owner_shapes_are_dialogportens() {
    let Some(altinn) = common::shared_altinn("service_owner_shapes_are_dialogportens") else { return };
    let spec = common::read_json(&altinn.join("dialogporten/openapi.v1.serviceowner.verified.json"));
    // The request schemas the server checks bodies against are Dialogporten's, verbatim.
    let embedded_path = common::root().join("host/src/api/serviceowner.schemas.json");
    let mut embedded: Value = serde_json::from_str(dialogsync::api::serviceowner::SCHEMAS).unwrap();
    let names: Vec<String> = embedded["components"]["schemas"].as_object().unwrap().keys().cloned().collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        for n in &names {
            embedded["components"]["schemas"][n] = spec["components"]["schemas"][n].clone();
        }
        std::fs::write(&embedded_path, serde_json::to_string_pretty(&embedded).unwrap() + "\n").unwrap();
    }
    for n in &names {
        assert_eq!(embedded["components"]["schemas"][n], spec["components"]["schemas"][n], "{n} differs from Dialogporten's (UPDATE_GOLDEN=1 refreshes it)");
    }

    // A service owner's GET answers in Dialogporten's service-owner `Dialog` shape.
    let env = owners();
    let server = Server::start(&env);
    let a = token(&env, &["--org", ORG_A]);
    let mut body = new_dialog("urn:altinn:resource:digdir-shape", "Form");
    body["searchTags"] = serde_json::json!([{ "value": "tilskudd" }]);
    body["serviceOwnerContext"] = serde_json::json!({ "serviceOwnerLabels": [{ "value": "sak-2026-17" }] });
    body["transmissions"] = serde_json::json!([{ "type": "Information", "sender": { "actorType": "ServiceOwner" }, "content": { "title": { "value": [{ "languageCode": "nb", "value": "Vedtak" }] } } }]);
    body["idempotentKey"] = "shape".into();
    let r = server.send("POST", "/api/v1/serviceowner/dialogs", Some(&a), &[], Some(&body));
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body.as_str().unwrap().to_string();
    assert_eq!(server.send("DELETE", &format!("/api/v1/serviceowner/dialogs/{id}"), Some(&a), &[], None).status, 204);
    let schema = dialogsync::api::serviceowner::json_schema(serde_json::json!({ "$ref": "#/components/schemas/Dialog", "components": spec["components"] }));
    let validator = jsonschema::options().build(&schema).unwrap();
    let migrated = env.dialogs().iter().find(|d| d["serviceResource"].as_str().unwrap().contains("app_ttd")).unwrap()["id"].as_str().unwrap().to_string();
    for dialog in [&id, &migrated] {
        let got = server.send("GET", &format!("/api/v1/serviceowner/dialogs/{dialog}"), Some(&a), &[], None);
        assert_eq!(got.status, 200);
        let errors: Vec<String> = validator.iter_errors(&got.body).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{dialog}: {errors:#?}\n{}", got.body);
    }
    // And its search in the service-owner `PaginatedListOfDialogListItem`, deleted ones too.
    let schema = dialogsync::api::serviceowner::json_schema(serde_json::json!({ "$ref": "#/components/schemas/PaginatedListOfDialogListItem", "components": spec["components"] }));
    let validator = jsonschema::options().build(&schema).unwrap();
    let (code, page, _) = server.get("/api/v1/serviceowner/dialogs?deleted=Include&limit=2", Some(&a));
    assert_eq!(code, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let errors: Vec<String> = validator.iter_errors(&page).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{page}");
}
