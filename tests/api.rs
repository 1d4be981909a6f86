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

/// Every page of a search: the ids in order.
fn all_pages(server: &Server, token: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = format!("/api/v1/enduser/dialogs?{query}");
    loop {
        let (status, body, _) = server.get(&path, Some(token));
        assert_eq!(status, 200, "{path}: {body}");
        ids.extend(body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()));
        match body["continuationToken"].as_str() {
            Some(t) if body["hasNextPage"] == true => path = format!("/api/v1/enduser/dialogs?{query}&continuationToken={t}"),
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
