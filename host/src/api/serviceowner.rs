//! The service-owner API (Dialogporten's `/api/v1/serviceowner`): the "dialog services" source.
//! An organisation (a Maskinporten token: `consumer.ID = 0192:{orgnr}`, scope
//! `digdir:dialogporten.serviceprovider`) creates, reads, updates, labels, deletes and restores
//! dialogs of the service resources it owns (`api.service_owners`).
//!
//! A request is checked against Dialogporten's own schema for it (serviceowner.schemas.json),
//! then the dialog it makes by the same rules as every migrated dialog (validate.rs). Writes
//! name the revision they expect in `If-Match` (412 when it moved on); a create's
//! `idempotentKey` makes a repeat answer 409 with the dialog it created.
//!
//! Migrated dialogs can be read here but not written: they change at their source.

use super::ApiState;
use super::auth::{Claims, SERVICEOWNER_SCOPE};
use super::enduser::bearer;
use super::problem::Problem;
use crate::clock;
use crate::config::{Config, owns};
use dialogsync_sdk::types::Dialog;
use crate::store::{Audience, DialogRow};
use crate::store::service::{Change, SOURCE, Stored, Write, Written};
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// An authenticated service owner and the resources it owns.
pub struct ServiceOwner {
    pub org: String,
    pub resources: Vec<String>,
}

impl ServiceOwner {
    pub fn from_claims(claims: &Claims, config: &Config) -> Result<Self, Problem> {
        if !claims.scope.split_whitespace().any(|s| s == SERVICEOWNER_SCOPE) {
            return Err(Problem::forbidden(format!("the token lacks the scope {SERVICEOWNER_SCOPE}")));
        }
        let org = claims
            .consumer
            .as_ref()
            .and_then(|c| c.id.strip_prefix("0192:"))
            .filter(|o| crate::parties::is_org(o))
            .ok_or_else(|| Problem::forbidden("the token names no organisation (consumer.ID `0192:{orgnr}`)"))?;
        let resources = config.api.service_owners.get(org).map(|o| o.resources.clone()).unwrap_or_default();
        Ok(ServiceOwner { org: org.to_string(), resources })
    }

    fn may_use(&self, resource: &str) -> Result<(), Problem> {
        match owns(&self.resources, resource) {
            true => Ok(()),
            false => Err(Problem::forbidden(format!("{resource} is not a service resource of organisation {} (api.service_owners)", self.org))),
        }
    }
}

impl FromRequestParts<Arc<ApiState>> for ServiceOwner {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<ApiState>) -> Result<Self, Problem> {
        ServiceOwner::from_claims(&bearer(parts, &state.keys)?, &state.config)
    }
}

/// `?isSilentUpdate=true` (the key in any case, as Correspondence sends `IsSilentUpdate`): no
/// `updatedAt` bump and no reset of the system label to Default, as Dialogporten
/// (`../shared/altinn/real-apis.md` §4.5).
#[derive(Clone, Copy)]
pub struct Silent(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Silent {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or_default();
        let value = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k.eq_ignore_ascii_case("isSilentUpdate")).map(|(_, v)| v.to_ascii_lowercase());
        match value.as_deref() {
            None | Some("false") => Ok(Silent(false)),
            Some("true") => Ok(Silent(true)),
            Some(other) => Err(Problem::invalid("isSilentUpdate", format!("`{other}` is not true or false"))),
        }
    }
}

/// OpenAPI 3.0's `nullable` as JSON Schema: a null is allowed where the spec says so.
pub fn json_schema(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.values_mut().for_each(walk);
                if m.get("nullable") == Some(&Value::Bool(true)) {
                    m.remove("nullable");
                    match m.get("type").and_then(Value::as_str).map(str::to_string) {
                        Some(t) => {
                            m.insert("type".into(), json!([t, "null"]));
                            if let Some(Value::Array(e)) = m.get_mut("enum") {
                                e.push(Value::Null);
                            }
                        }
                        None => {
                            let inner = Value::Object(std::mem::take(m));
                            m.insert("anyOf".into(), json!([{ "type": "null" }, inner]));
                        }
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// Dialogporten's service-owner request schemas, verbatim from its OpenAPI document.
pub const SCHEMAS: &str = include_str!("serviceowner.schemas.json");

const REQUESTS: [&str; 4] = ["CreateDialog", "UpdateDialog", "SetDialogSystemLabelRequest", "CreateDialogActivityRequest"];

static VALIDATORS: LazyLock<HashMap<&'static str, jsonschema::Validator>> = LazyLock::new(|| {
    let schemas = json_schema(serde_json::from_str(SCHEMAS).expect("embedded schemas are JSON"));
    REQUESTS
        .iter()
        .map(|name| {
            let root = json!({ "$ref": format!("#/components/schemas/{name}"), "components": schemas["components"] });
            (*name, jsonschema::options().build(&root).expect("embedded schemas compile"))
        })
        .collect()
});

static COMPONENTS: LazyLock<Value> = LazyLock::new(|| serde_json::from_str::<Value>(SCHEMAS).expect("embedded schemas are JSON")["components"]["schemas"].clone());

/// `v` cut to what Dialogporten's schema `name` has: properties the schema does not name are
/// left out, at every depth (a dialog document as the sink sends it: a create, or an update,
/// whose schema has fewer fields).
pub fn fit(name: &str, v: &Value) -> Value {
    fn walk(schema: &Value, v: &Value) -> Value {
        let schema = match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
            Some(name) => &COMPONENTS[name],
            None => schema,
        };
        // A nullable or composed schema: its one non-null alternative.
        if let Some(alts) = schema.get("oneOf").or_else(|| schema.get("anyOf")).or_else(|| schema.get("allOf")).and_then(Value::as_array)
            && let Some(alt) = alts.iter().find(|a| a.get("$ref").is_some() || a.get("properties").is_some())
        {
            return walk(alt, v);
        }
        match v {
            Value::Object(m) => match schema.get("properties").and_then(Value::as_object) {
                Some(props) => Value::Object(m.iter().filter_map(|(k, x)| props.get(k).map(|p| (k.clone(), walk(p, x)))).collect()),
                None => v.clone(),
            },
            Value::Array(a) => match schema.get("items") {
                Some(items) => Value::Array(a.iter().map(|x| walk(items, x)).collect()),
                None => v.clone(),
            },
            _ => v.clone(),
        }
    }
    walk(&COMPONENTS[name], v)
}

/// `/content/title/value/0` → `content.title.value[0]` (validate.rs names fields so too).
fn field(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        match part.parse::<usize>() {
            Ok(i) => out.push_str(&format!("[{i}]")),
            Err(_) if out.is_empty() => out.push_str(part),
            Err(_) => out.push_str(&format!(".{part}")),
        }
    }
    if out.is_empty() { "$".into() } else { out }
}

/// The request body as JSON, valid against Dialogporten's schema `name`.
fn body(name: &str, bytes: &[u8]) -> Result<Value, Problem> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| Problem::invalid("$", format!("not JSON: {e}")))?;
    let errors: Vec<String> = VALIDATORS[name].iter_errors(&v).map(|e| format!("{}: {}", field(e.instance_path().as_str()), e.masked())).collect();
    match errors.is_empty() {
        true => Ok(v),
        false => Err(Problem::invalid_all(errors)),
    }
}

fn now() -> String {
    dialogsync_sdk::time::format_instant(clock::micros())
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Gives every activity, transmission, attachment and action without an id one (UUIDv7), and
/// activities and transmissions without a time `now`, as Dialogporten does.
fn complete(doc: &mut Map<String, Value>, now: &str) {
    doc.retain(|_, v| !v.is_null());
    for key in ["activities", "transmissions", "attachments", "guiActions", "apiActions"] {
        for item in doc.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut) {
            if item.get("id").is_none_or(Value::is_null) {
                item.insert("id".into(), new_id().into());
            }
            if matches!(key, "activities" | "transmissions") && item.get("createdAt").is_none_or(Value::is_null) {
                item.insert("createdAt".into(), now.into());
            }
            for a in item.get_mut("attachments").and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut) {
                if a.get("id").is_none_or(Value::is_null) {
                    a.insert("id".into(), new_id().into());
                }
            }
        }
    }
}

/// Appends `new` items to the document's list `key`; an id already there is refused (the
/// activities and transmissions of a dialog are immutable).
fn append(doc: &mut Map<String, Value>, key: &str, new: &[Value]) -> Result<(), Problem> {
    let list = doc.entry(key).or_insert_with(|| json!([]));
    let list = list.as_array_mut().ok_or_else(|| Problem::internal(format!("stored {key} is not a list")))?;
    for (i, item) in new.iter().enumerate() {
        if item.get("id").is_some_and(|id| !id.is_null() && list.iter().any(|x| x["id"] == *id)) {
            return Err(Problem::unprocessable(&format!("{key}[{i}].id"), format!("{} already exists", item["id"])));
        }
        list.push(item.clone());
    }
    Ok(())
}

/// The dialog row for a document, checked by the rules every migrated dialog passes.
fn row(doc: &Map<String, Value>, version: i64) -> Result<DialogRow, Problem> {
    let s = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let t = |k: &str| dialogsync_sdk::time::parse_instant(&s(k)).unwrap_or_default();
    let document = Value::Object(doc.clone()).to_string();
    let d = Dialog {
        id: s("id"),
        party: s("party"),
        service_resource: s("serviceResource"),
        status: s("status"),
        system_label: s("systemLabel"),
        created_at: t("createdAt"),
        updated_at: t("updatedAt"),
        document,
    };
    // A dialog not yet visible may carry dates up to its visibleFrom (Dialogporten moves them there).
    let errors = dialogsync_core::validate::check(&d, clock::micros().max(t("visibleFrom")));
    if !errors.is_empty() {
        return Err(Problem::invalid_all(errors));
    }
    Ok(DialogRow {
        source_id: d.id.clone(),
        id: d.id,
        source_version: version,
        content_hash: crate::runtime::sha256_hex(d.document.as_bytes()),
        party: d.party,
        service_resource: d.service_resource,
        status: d.status,
        system_label: d.system_label,
        created_at: d.created_at,
        updated_at: d.updated_at,
        transformer_hash: "service-owner-api".into(),
        projector_hash: "service-owner-api".into(),
        document: d.document,
        sync_mode: None,
    })
}

fn with_etag(mut r: Response, revision: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(revision) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// `201 Created`: the new thing's id as a JSON string, its location and the dialog's revision.
fn created(id: &str, location: String, revision: &str) -> Response {
    let mut r = (StatusCode::CREATED, Json(Value::from(id))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    with_etag(r, revision)
}

/// The revision the caller expects (`If-Match`, quoted or not).
fn if_match(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(v) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let v = v.to_str().map_err(|_| Problem::invalid("If-Match", "not text"))?.trim().trim_start_matches("W/").trim_matches('"');
    uuid::Uuid::parse_str(v).map(|u| Some(u.to_string())).map_err(|_| Problem::invalid("If-Match", format!("`{v}` is not a revision (a UUID)")))
}

fn dialog_url(id: &str) -> String {
    format!("/api/v1/serviceowner/dialogs/{id}")
}

/// `POST /api/v1/serviceowner/dialogs`.
pub async fn create(State(state): State<Arc<ApiState>>, owner: ServiceOwner, silent: Silent, bytes: Bytes) -> Result<Response, Problem> {
    let mut v = body("CreateDialog", &bytes)?;
    let doc = v.as_object_mut().ok_or_else(|| Problem::invalid("$", "must be an object"))?;
    let resource = doc.get("serviceResource").and_then(Value::as_str).unwrap_or_default().to_string();
    owner.may_use(&resource)?;
    let key = doc.remove("idempotentKey").and_then(|k| k.as_str().map(str::to_string));
    let repeat = |id: String, key: &str| {
        let mut p = Problem::conflict(format!("Dialog with IdempotentKey {key} has already been created: {id}"));
        p.extensions.insert("dialogId".into(), id.clone().into());
        p.location = Some(dialog_url(&id));
        p
    };
    if let Some(k) = &key
        && let Some(id) = state.store.by_idempotent_key(&owner.org, k).await?
    {
        return Err(repeat(id, k));
    }
    let now = now();
    let created_at = doc.get("createdAt").filter(|t| !t.is_null()).cloned().unwrap_or_else(|| now.clone().into());
    for (k, default) in [("id", new_id().into()), ("status", "NotApplicable".into()), ("systemLabel", "Default".into()), ("createdAt", created_at.clone()), ("updatedAt", created_at)] {
        if doc.get(k).is_none_or(Value::is_null) {
            doc.insert(k.into(), default);
        }
    }
    // As Dialogporten's `OnCreate`: a future visibleFrom becomes the dialog's createdAt and updatedAt.
    if let Some(visible) = future(doc.get("visibleFrom")) {
        doc.insert("createdAt".into(), visible.clone().into());
        doc.insert("updatedAt".into(), visible.into());
    }
    complete(doc, &now);
    let row = row(doc, 1)?;
    let (id, revision) = (row.id.clone(), uuid::Uuid::new_v4().to_string());
    let write = Write { row, revision: revision.clone(), based_on: None, change: Change::Create, owner_org: Some(owner.org.clone()), idempotent_key: key.clone(), silent: silent.0 };
    match state.store.service_write(&write).await? {
        Written::Done => {
            tracing::info!(source = SOURCE, org = %owner.org, dialog = %id, "dialog created");
            Ok(created(&id, dialog_url(&id), &revision))
        }
        Written::Exists { id, by_key: true } => Err(repeat(id, key.as_deref().unwrap_or_default())),
        // As Dialogporten: an existing id is a domain error (its unique constraint), 422.
        Written::Exists { id, .. } => Err(Problem::unprocessable("id", format!("Entity 'DialogEntity' with key '{id}' already exists"))),
        Written::Stale => Err(Problem::internal("a create found a revision")),
    }
}

/// The dialog `id`, if the caller owns its service resource (404, else 403).
async fn owned(state: &ApiState, owner: &ServiceOwner, id: &str) -> Result<Stored, Problem> {
    let s = state.store.stored(id).await?.ok_or_else(|| Problem::not_found(format!("no dialog {id}")))?;
    owner.may_use(&s.service_resource)?;
    Ok(s)
}

/// Loads a dialog the caller may write, lets `edit` change its document, checks and writes it.
/// When another write got there first the edit is applied again to the newer dialog, unless
/// the caller named the revision it expected (then 412). Returns the new revision.
async fn modify(
    state: &ApiState,
    owner: &ServiceOwner,
    id: &str,
    headers: &HeaderMap,
    change: Change,
    silent: Silent,
    edit: impl Fn(&mut Map<String, Value>) -> Result<(), Problem>,
) -> Result<String, Problem> {
    let expected = if_match(headers)?;
    let moved = |r: &str| Problem::precondition_failed(format!("dialog {id} is at revision {r}, not the one in If-Match"));
    for _ in 0..5 {
        let s = owned(state, owner, id).await?;
        if s.source != SOURCE {
            return Err(Problem::conflict(format!("dialog {id} is migrated from {}: it changes at its source, not through this API", s.source)));
        }
        match (change, &s.deleted_at) {
            (Change::Restore, None) => return Ok(s.revision),
            (Change::Restore, Some(_)) => {}
            (_, Some(at)) => return Err(Problem::gone(format!("dialog {id} was deleted at {at}"))),
            _ => {}
        }
        if expected.as_ref().is_some_and(|e| *e != s.revision) {
            return Err(moved(&s.revision));
        }
        let mut doc: Map<String, Value> = serde_json::from_str(&s.document).map_err(Problem::internal)?;
        edit(&mut doc)?;
        let revision = uuid::Uuid::new_v4().to_string();
        let write = Write { row: row(&doc, s.source_version + 1)?, revision: revision.clone(), based_on: Some(s.revision.clone()), change, owner_org: None, idempotent_key: None, silent: silent.0 };
        match state.store.service_write(&write).await? {
            Written::Done => {
                tracing::info!(source = SOURCE, org = %owner.org, dialog = %id, change = ?change, "dialog written");
                return Ok(revision);
            }
            Written::Stale if expected.is_some() => return Err(moved("a newer one")),
            Written::Stale => continue,
            Written::Exists { .. } => return Err(Problem::internal("an update found an idempotent key")),
        }
    }
    Err(Problem::conflict(format!("dialog {id} kept changing while this write was made; try again")))
}

/// `t` when it is an instant after now.
fn future(t: Option<&Value>) -> Option<String> {
    let t = t?.as_str()?;
    (dialogsync_sdk::time::parse_instant(t).ok()? > clock::micros()).then(|| t.to_string())
}

/// What a write does to `updatedAt` and the system label, as Dialogporten's `OnUpdate`: a
/// future visibleFrom is the dialog's updatedAt; else a loud write bumps it to now and puts the
/// dialog back in the inbox (Default), and a silent one leaves both.
fn touch(doc: &mut Map<String, Value>, silent: Silent, now: &str) {
    if let Some(visible) = future(doc.get("visibleFrom")) {
        doc.insert("updatedAt".into(), visible.into());
    } else if !silent.0 {
        doc.insert("updatedAt".into(), now.into());
        doc.insert("systemLabel".into(), "Default".into());
    }
}

fn no_content(revision: &str) -> Response {
    with_etag(StatusCode::NO_CONTENT.into_response(), revision)
}

/// `PUT /api/v1/serviceowner/dialogs/{id}`: the dialog replaced by the body, except what an
/// update cannot change (identity, party, resource, creation, labels); activities and
/// transmissions are appended.
pub async fn update(State(state): State<Arc<ApiState>>, owner: ServiceOwner, silent: Silent, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> Result<Response, Problem> {
    let update = body("UpdateDialog", &bytes)?;
    let revision = modify(&state, &owner, &id, &headers, Change::Update, silent, |doc| {
        let kept = ["id", "party", "serviceResource", "createdAt", "updatedAt", "systemLabel", "serviceOwnerContext", "visibleFrom", "activities", "transmissions", "status"];
        doc.retain(|k, _| kept.contains(&k.as_str()));
        for (k, v) in update.as_object().into_iter().flatten().filter(|(_, v)| !v.is_null()) {
            match k.as_str() {
                "activities" | "transmissions" => append(doc, k, v.as_array().map(Vec::as_slice).unwrap_or_default())?,
                _ => {
                    doc.insert(k.clone(), v.clone());
                }
            }
        }
        let now = now();
        touch(doc, silent, &now);
        complete(doc, &now);
        Ok(())
    })
    .await?;
    Ok(no_content(&revision))
}

/// `DELETE /api/v1/serviceowner/dialogs/{id}`: a soft delete; end users no longer see it
/// (410 on its details), its service owner does, and may restore it. As Dialogporten's
/// `SoftRemove`, no activity is added.
pub async fn delete(State(state): State<Arc<ApiState>>, owner: ServiceOwner, silent: Silent, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, Problem> {
    let revision = modify(&state, &owner, &id, &headers, Change::Delete, silent, |doc| lifecycle(doc, silent)).await?;
    Ok(no_content(&revision))
}

/// `POST /api/v1/serviceowner/dialogs/{id}/actions/restore`.
/// `POST /api/v1/serviceowner/dialogs/{id}/actions/purge`: the dialog removed for good (204;
/// 404 when there is none; 412 when `If-Match` names another revision).
pub async fn purge(State(state): State<Arc<ApiState>>, owner: ServiceOwner, silent: Silent, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, Problem> {
    let s = owned(&state, &owner, &id).await?;
    if s.source != SOURCE {
        return Err(Problem::conflict(format!("dialog {id} is migrated from {}: it changes at its source, not through this API", s.source)));
    }
    if let Some(expected) = if_match(&headers)?
        && expected != s.revision
    {
        return Err(Problem::precondition_failed(format!("dialog {id} is at revision {}, not the one in If-Match", s.revision)));
    }
    match state.store.purge_service(&id, silent.0).await? {
        true => {
            tracing::info!(source = SOURCE, org = %owner.org, dialog = %id, "dialog purged");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        false => Err(Problem::not_found(format!("no dialog {id}"))),
    }
}

pub async fn restore(State(state): State<Arc<ApiState>>, owner: ServiceOwner, silent: Silent, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, Problem> {
    let revision = modify(&state, &owner, &id, &headers, Change::Restore, silent, |doc| lifecycle(doc, silent)).await?;
    Ok(no_content(&revision))
}

/// A delete or restore changes only the dates a write changes (and the deletion mark).
fn lifecycle(doc: &mut Map<String, Value>, silent: Silent) -> Result<(), Problem> {
    if future(doc.get("visibleFrom")).is_none() && !silent.0 {
        doc.insert("updatedAt".into(), now().into());
    }
    Ok(())
}

/// `POST /api/v1/serviceowner/dialogs/{id}/activities`.
pub async fn create_activity(State(state): State<Arc<ApiState>>, owner: ServiceOwner, silent: Silent, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> Result<Response, Problem> {
    let mut activity = body("CreateDialogActivityRequest", &bytes)?;
    if activity.get("type").is_none_or(Value::is_null) {
        return Err(Problem::invalid("type", "required"));
    }
    let activity_id = activity.get("id").and_then(Value::as_str).map_or_else(new_id, str::to_string);
    activity["id"] = activity_id.clone().into();
    let revision = modify(&state, &owner, &id, &headers, Change::Update, silent, |doc| {
        let now = now();
        append(doc, "activities", std::slice::from_ref(&activity))?;
        touch(doc, silent, &now);
        complete(doc, &now);
        Ok(())
    })
    .await?;
    Ok(created(&activity_id, format!("{}/activities/{activity_id}", dialog_url(&id)), &revision))
}

/// The labels dialogsync keeps: one of these per dialog.
const KEPT_LABELS: [&str; 3] = ["Default", "Bin", "Archive"];

/// `PUT /api/v1/serviceowner/dialogs/{id}/endusercontext/systemlabels`: `systemLabels` sets
/// the label, `addLabels` / `removeLabels` change it.
pub async fn set_system_labels(State(state): State<Arc<ApiState>>, owner: ServiceOwner, silent: Silent, Path(id): Path<String>, headers: HeaderMap, bytes: Bytes) -> Result<Response, Problem> {
    let req = body("SetDialogSystemLabelRequest", &bytes)?;
    let list = |k: &str| req.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>();
    let (set, add, remove) = (list("systemLabels"), list("addLabels"), list("removeLabels"));
    if let Some(other) = set.iter().chain(&add).find(|l| !KEPT_LABELS.contains(&l.as_str())) {
        return Err(Problem::unprocessable("systemLabels", format!("dialogsync keeps one of {KEPT_LABELS:?} per dialog, not {other}")));
    }
    let revision = modify(&state, &owner, &id, &headers, Change::Update, silent, |doc| {
        let mut label = doc.get("systemLabel").and_then(Value::as_str).unwrap_or("Default").to_string();
        if req.get("systemLabels").is_some_and(|v| !v.is_null()) {
            label = set.last().cloned().unwrap_or_else(|| "Default".into());
        }
        if let Some(l) = add.last() {
            label = l.clone();
        }
        if remove.contains(&label) {
            label = "Default".into();
        }
        doc.insert("systemLabel".into(), label.into());
        Ok(())
    })
    .await?;
    Ok(no_content(&revision))
}

/// `GET /api/v1/serviceowner/dialogs`: the dialogs of the caller's service resources, migrated
/// or written here; `deleted=Include|Only` for deleted ones.
pub async fn search(State(state): State<Arc<ApiState>>, owner: ServiceOwner, RawQuery(query): RawQuery) -> Result<Json<Value>, Problem> {
    let q = super::enduser::parse_search(query, Audience::Resources(owner.resources.clone()), true)?;
    super::enduser::run_search(&state, q, &owner.org, |d, p| {
        let mut v = super::enduser::list_item(d);
        if let Some(at) = &p.deleted_at {
            v["deletedAt"] = at.clone().into();
        }
        v
    })
    .await
}

/// `GET /api/v1/serviceowner/dialogs/{id}`: Dialogporten's service-owner `Dialog`, deleted or
/// not, with its revision (also as `ETag`).
pub async fn get(State(state): State<Arc<ApiState>>, owner: ServiceOwner, Path(id): Path<String>) -> Result<Response, Problem> {
    let s = owned(&state, &owner, &id).await?;
    let doc: Value = serde_json::from_str(&s.document).map_err(Problem::internal)?;
    let mut v = super::enduser::details(&doc, &s.revision);
    for k in ["searchTags", "serviceOwnerContext", "visibleFrom"] {
        if let Some(x) = doc.get(k).filter(|x| !x.is_null()) {
            v[k] = x.clone();
        }
    }
    if let Some(k) = &s.idempotent_key {
        v["idempotentKey"] = k.clone().into();
    }
    if let Some(at) = &s.deleted_at {
        v["deletedAt"] = at.clone().into();
    }
    Ok(with_etag(Json(v).into_response(), &s.revision))
}
