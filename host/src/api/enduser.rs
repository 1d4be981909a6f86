//! The end-user API (Dialogporten's `/api/v1/enduser`): search, details and the parties the
//! caller may represent. A caller sees only dialogs of parties it may represent: itself, and
//! those granted to it (`dialogsync parties grant`).

use super::auth::{ENDUSER_SCOPE, Keys};
use super::problem::Problem;
use super::ApiState;
use crate::store::{Audience, Deleted, Page, Search};
use crate::store::service::hash_uuid;
use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// An authenticated end user and the parties they may represent.
pub struct EndUser {
    pub pid: String,
    pub parties: Vec<String>,
}

pub fn person_urn(pid: &str) -> String {
    format!("urn:altinn:person:identifier-no:{pid}")
}

/// The claims of the request's bearer token.
pub fn bearer(parts: &Parts, keys: &Keys) -> Result<super::auth::Claims, Problem> {
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| Problem::unauthorized("no bearer token"))?;
    let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or_else(|| Problem::unauthorized("the Authorization header is not `Bearer TOKEN`"))?;
    keys.verify(token.trim())
}

impl FromRequestParts<Arc<ApiState>> for EndUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, Problem> {
        EndUser::from_claims(bearer(parts, &state.keys)?, state).await
    }
}

impl EndUser {
    pub async fn from_claims(claims: super::auth::Claims, state: &ApiState) -> Result<Self, Problem> {
        if !claims.scope.split_whitespace().any(|s| s == ENDUSER_SCOPE) {
            return Err(Problem::forbidden(format!("the token lacks the scope {ENDUSER_SCOPE}")));
        }
        let pid = claims.pid.filter(|p| crate::parties::is_person(p)).ok_or_else(|| Problem::forbidden("the token names no person (pid)"))?;
        let mut parties = vec![person_urn(&pid)];
        parties.extend(state.store.grants(&pid).await?);
        Ok(EndUser { pid, parties })
    }
}

const STATUSES: &[&str] = &["InProgress", "Draft", "RequiresAttention", "Completed", "NotApplicable", "Awaiting"];
const LABELS: &[&str] = &["Default", "Bin", "Archive", "MarkedAsUnopened", "Sent"];

/// `field: message`, as [`Problem::invalid_all`] takes it.
type Invalid = String;

fn instant(field: &str, v: &str) -> Result<i64, Invalid> {
    chrono::DateTime::parse_from_rfc3339(v).map(|t| t.timestamp_micros()).map_err(|e| format!("{field}: `{v}` is not a date-time: {e}"))
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<String, Invalid> {
    allowed.iter().find(|a| a.eq_ignore_ascii_case(v)).map(|a| a.to_string()).ok_or_else(|| format!("{field}: `{v}` is not one of {}", allowed.join(", ")))
}

/// What a search asks for (the end-user and service-owner searches take the same parameters)
/// and which of its pages.
pub struct SearchQuery {
    pub search: Search,
    pub limit: i64,
    pub token: Option<String>,
}

/// A search's query parameters; only `audience`'s dialogs are ever found. `deleted`
/// (Exclude, Include, Only) is for service owners: end users never see deleted dialogs.
/// Every invalid parameter is reported, not only the first.
pub fn parse_search(query: Option<String>, audience: Audience, service_owner: bool) -> Result<SearchQuery, Problem> {
    let mut s = Search::new(audience);
    let (mut limit, mut token) = (100i64, None::<String>);
    let mut errors: Vec<Invalid> = Vec::new();
    let mut ok = |r: Result<(), Invalid>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "party" => s.parties.push(v),
            "serviceResource" => s.service_resources.push(v),
            "status" => ok(one_of("status", &v, STATUSES).map(|x| s.statuses.push(x))),
            "systemLabel" => ok(one_of("systemLabel", &v, LABELS).map(|x| s.system_labels.push(x))),
            "createdAfter" => ok(instant("createdAfter", &v).map(|t| s.created_after = Some(t))),
            "createdBefore" => ok(instant("createdBefore", &v).map(|t| s.created_before = Some(t))),
            "updatedAfter" => ok(instant("updatedAfter", &v).map(|t| s.updated_after = Some(t))),
            "updatedBefore" => ok(instant("updatedBefore", &v).map(|t| s.updated_before = Some(t))),
            "search" if v.trim().chars().count() >= 3 => s.text = Some(v.trim().to_string()),
            "search" => ok(Err("search: at least 3 characters".into())),
            "deleted" if service_owner => ok(one_of("deleted", &v, &["Exclude", "Include", "Only"]).map(|d| {
                s.deleted = match d.as_str() {
                    "Include" => Deleted::Include,
                    "Only" => Deleted::Only,
                    _ => Deleted::Exclude,
                }
            })),
            "limit" => ok(v.parse().ok().filter(|n| (1..=1000).contains(n)).map(|n| limit = n).ok_or_else(|| "limit: a number from 1 to 1000".to_string())),
            "continuationToken" => token = Some(v),
            // Dialogporten's service-owner search repeats the key, one label each.
            "serviceOwnerLabels" if service_owner => s.labels.push(v),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(Problem::invalid_all(errors));
    }
    Ok(SearchQuery { search: s, limit, token })
}

/// One page of a search, newest updated first, each dialog as `item`. The first page takes
/// the search's snapshot; the continuation token reads on from it.
pub async fn run_search(state: &ApiState, q: SearchQuery, caller: &str, item: impl Fn(&Value, &Page) -> Value) -> Result<Json<Value>, Problem> {
    let (snapshot, after) = match q.token {
        Some(t) => {
            let (snap, pos) = t.rsplit_once('.').ok_or_else(|| Problem::invalid("continuationToken", "not a token this server gave"))?;
            let pos: i64 = pos.parse().map_err(|_| Problem::invalid("continuationToken", "not a token this server gave"))?;
            (snap.to_string(), pos)
        }
        None => {
            let snap = crate::runtime::sha256_hex(format!("{caller}/{}/{}", crate::clock::micros(), super::next_id()).as_bytes())[..24].to_string();
            state.store.begin_search(&snap, &q.search).await?;
            (snap, 0)
        }
    };
    let (page, more) = state.store.search_page(&snapshot, after, q.limit, &q.search.audience, q.search.deleted).await?;
    let last = page.last().map(|(p, _)| *p);
    let items: Vec<Value> = page.iter().filter_map(|(_, p)| serde_json::from_str(&p.document).ok().map(|d: Value| item(&d, p))).collect();
    let mut body = json!({ "items": items, "hasNextPage": more, "orderBy": "updatedat_desc,id_desc" });
    if let (true, Some(last)) = (more, last) {
        body["continuationToken"] = format!("{snapshot}.{last}").into();
    }
    Ok(Json(body))
}

/// `GET /api/v1/enduser/dialogs`: the dialogs of the parties the caller may represent.
pub async fn search(State(state): State<Arc<ApiState>>, user: EndUser, RawQuery(query): RawQuery) -> Result<Json<Value>, Problem> {
    let q = parse_search(query, Audience::Parties(user.parties.clone()), false)?;
    run_search(&state, q, &user.pid, |d, _| list_item(d)).await
}

/// `GET /api/v1/enduser/dialogs/{id}`; 404 for a dialog of a party the caller may not
/// represent, as for one that does not exist (its existence is not revealed); 410 for one its
/// service owner deleted.
pub async fn get(State(state): State<Arc<ApiState>>, user: EndUser, Path(id): Path<String>) -> Result<Json<Value>, Problem> {
    match state.store.stored(&id).await? {
        Some(s) if user.parties.contains(&s.party) => {
            if s.deleted_at.is_some() {
                return Err(Problem::gone(format!("dialog {id} was deleted by its service owner")));
            }
            let doc: Value = serde_json::from_str(&s.document).map_err(Problem::internal)?;
            Ok(Json(details(&doc, &s.revision)))
        }
        _ => Err(Problem::not_found(format!("no dialog {id}"))),
    }
}

/// `GET /api/v1/enduser/parties`.
pub async fn parties(user: EndUser) -> Json<Value> {
    let list: Vec<Value> = user
        .parties
        .iter()
        .map(|p| {
            let person = p.starts_with("urn:altinn:person:");
            json!({
                "party": p,
                "partyType": if person { "Person" } else { "Organization" },
                "name": p.rsplit(':').next().unwrap_or_default(),
                "isCurrentEndUser": *p == person_urn(&user.pid),
                "isDeleted": false,
                "hasKeyRole": false,
                "isAccessManager": false,
                "isMainAdministrator": false,
                "hasOnlyAccessToSubParties": false,
            })
        })
        .collect();
    Json(json!({ "authorizedParties": list }))
}

/// The object with only `keys` (those present).
fn keep(v: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter().filter_map(|k| v.get(*k).filter(|x| !x.is_null()).map(|x| (k.to_string(), x.clone()))).collect()
}

fn each(v: &Value, key: &str, f: impl Fn(&Value) -> Value) -> Option<Value> {
    v.get(key).and_then(Value::as_array).map(|a| Value::Array(a.iter().map(f).collect()))
}

/// The service owner's org code, where the resource names it (`app_{org}_{app}`).
fn org(doc: &Value) -> Option<String> {
    let r = doc["serviceResource"].as_str()?.strip_prefix("urn:altinn:resource:app_")?;
    r.split('_').next().map(str::to_string)
}

const CONTENT: &[&str] = &["title", "summary", "senderName", "additionalInfo", "extendedStatus", "mainContentReference"];

fn content(doc: &Value, keys: &[&str]) -> Value {
    let c = &doc["content"];
    Value::Object(keys.iter().filter_map(|k| c.get(*k).map(|v| (k.to_string(), Value::Object(keep(v, &["value", "mediaType"]))))).collect())
}

fn activity(a: &Value) -> Value {
    let mut m = keep(a, &["createdAt", "description", "extendedType", "id", "transmissionId", "type"]);
    m.insert("performedBy".into(), Value::Object(keep(&a["performedBy"], &["actorId", "actorName", "actorType"])));
    Value::Object(m)
}

fn attachment(a: &Value) -> Value {
    let mut m = keep(a, &["displayName", "expiresAt", "id", "name"]);
    m.insert("urls".into(), each(a, "urls", |u| Value::Object(keep(u, &["consumerType", "id", "mediaType", "url"]))).unwrap_or(json!([])));
    Value::Object(m)
}

/// Fields both the list item and the details carry.
fn common(doc: &Value) -> Map<String, Value> {
    let mut m = keep(doc, &["id", "party", "serviceResource", "status", "systemLabel", "createdAt", "updatedAt", "dueAt", "extendedStatus", "externalReference", "progress", "process", "precedingProcess"]);
    m.insert("contentUpdatedAt".into(), doc["updatedAt"].clone());
    m.insert("serviceResourceType".into(), "GenericAccessResource".into());
    if let Some(o) = org(doc) {
        m.insert("org".into(), o.into());
    }
    m.insert("isApiOnly".into(), false.into());
    m.insert("hasUnopenedContent".into(), false.into());
    m.insert("isContentSeen".into(), false.into());
    let transmissions = doc["transmissions"].as_array().map(Vec::as_slice).unwrap_or_default();
    let from_party = transmissions.iter().filter(|t| t["sender"]["actorType"] == "PartyRepresentative").count();
    m.insert("fromPartyTransmissionsCount".into(), from_party.into());
    m.insert("fromServiceOwnerTransmissionsCount".into(), (transmissions.len() - from_party).into());
    let label = doc["systemLabel"].as_str().unwrap_or("Default");
    m.insert("endUserContext".into(), json!({ "revision": hash_uuid(&format!("{}/{label}", doc["id"])), "systemLabels": [label] }));
    m.insert("seenSinceLastUpdate".into(), json!([]));
    m.insert("seenSinceLastContentUpdate".into(), json!([]));
    m
}

/// A stored document as Dialogporten's `DialogListItem`.
pub fn list_item(doc: &Value) -> Value {
    let mut m = common(doc);
    m.insert("content".into(), content(doc, &["title", "summary", "senderName", "extendedStatus"]));
    m.insert("guiAttachmentCount".into(), doc["attachments"].as_array().map_or(0, Vec::len).into());
    if let Some(latest) = doc["activities"].as_array().and_then(|a| a.iter().max_by_key(|x| x["createdAt"].as_str().unwrap_or_default().to_string())) {
        m.insert("latestActivity".into(), activity(latest));
    }
    Value::Object(m)
}

/// A stored document as Dialogporten's end-user `Dialog`.
pub fn details(doc: &Value, revision: &str) -> Value {
    let mut m = common(doc);
    m.insert("revision".into(), revision.into());
    m.insert("content".into(), content(doc, CONTENT));
    if let Some(e) = doc.get("expiresAt").filter(|v| !v.is_null()) {
        m.insert("expiresAt".into(), e.clone());
    }
    let lists: [(&str, Box<dyn Fn(&Value) -> Value>); 5] = [
        ("activities", Box::new(activity)),
        ("attachments", Box::new(attachment)),
        ("guiActions", Box::new(|g: &Value| {
            let mut m = keep(g, &["action", "authorizationAttribute", "httpMethod", "id", "isDeleteDialogAction", "priority", "prompt", "title", "url"]);
            m.insert("isAuthorized".into(), true.into());
            Value::Object(m)
        })),
        ("apiActions", Box::new(|a: &Value| {
            let mut m = keep(a, &["action", "authorizationAttribute", "endpoints", "id", "name"]);
            m.insert("isAuthorized".into(), true.into());
            Value::Object(m)
        })),
        ("transmissions", Box::new(|t: &Value| {
            let mut m = keep(t, &["authorizationAttribute", "createdAt", "extendedType", "externalReference", "id", "relatedTransmissionId", "type"]);
            m.insert("sender".into(), Value::Object(keep(&t["sender"], &["actorId", "actorName", "actorType"])));
            m.insert("content".into(), Value::Object(["title", "summary", "contentReference"].iter().filter_map(|k| t["content"].get(*k).map(|v| (k.to_string(), Value::Object(keep(v, &["value", "mediaType"]))))).collect()));
            m.insert("attachments".into(), each(t, "attachments", attachment).unwrap_or(json!([])));
            m.insert("isAuthorized".into(), true.into());
            m.insert("isOpened".into(), false.into());
            Value::Object(m)
        })),
    ];
    for (key, f) in lists {
        m.insert(key.into(), each(doc, key, f).unwrap_or(json!([])));
    }
    Value::Object(m)
}
