//! The store: sqlx on SQLite (the embedded default), migrations embedded in the binary.
//! Each batch of the pipeline is committed by [`Store::commit`] in one transaction: staged
//! records, dialogs, change events, dead letters and the checkpoint together.

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL `{0}` is not supported (use sqlite://FILE)")]
    Url(String),
    #[error("opening store {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("locking {path}: {source}")]
    Lock { path: String, source: std::io::Error },
    #[error("migrating store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: {0}")]
    Query(#[from] sqlx::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What became of a fetched record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Migrated,
    Unchanged,
    Skipped,
    Waiting,
    Dead,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Migrated => "migrated",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Waiting => "waiting",
            Outcome::Dead => "dead",
        }
    }
}

/// A fetched record version and its outcome.
#[derive(Debug, Clone)]
pub struct Staged {
    pub record: crate::sources::RawRecord,
    pub content_hash: String,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub waiting_party: Option<String>,
    pub dialog_id: Option<String>,
}

/// A dialog row: the indexed columns and the document.
#[derive(Debug, Clone, PartialEq)]
pub struct DialogRow {
    pub id: String,
    pub source_id: String,
    pub source_version: i64,
    pub content_hash: String,
    pub party: String,
    pub service_resource: String,
    pub status: String,
    pub system_label: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub transformer_hash: String,
    pub projector_hash: String,
    pub document: String,
}

/// The version of a dialog already stored, for the newer-version-wins decision.
#[derive(Debug, Clone)]
pub struct Current {
    pub id: String,
    pub source_version: i64,
    pub content_hash: String,
    pub document: String,
}

/// A record that failed, for the dead-letter table.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub source: String,
    /// `source_id@hash` for records that were read, the origin for ones that could not be.
    pub record_key: String,
    pub source_id: Option<String>,
    pub origin: String,
    /// read, transform, party, project, validate.
    pub phase: String,
    pub component: Option<String>,
    pub error: String,
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    pub attempts: i64,
}

/// A change to a dialog, as committed.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeEvent {
    pub seq: i64,
    pub dialog_id: String,
    /// created, updated, deleted, restored, activity.
    pub kind: String,
    pub source: String,
    pub at: String,
    pub party: Option<String>,
    pub service_resource: Option<String>,
    /// An activity event's activity: `{activityId, activityType}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// Whose change events to read.
#[derive(Debug, Clone)]
pub enum Audience {
    All,
    /// An end user: the dialogs of these parties.
    Parties(Vec<String>),
    /// A service owner: the dialogs of these service resources (`prefix*` for all that start so).
    Resources(Vec<String>),
}

/// One page of a historic window, committed with the dialogs it made.
#[derive(Debug, Clone)]
pub struct WindowPage {
    pub first_day: String,
    pub last_day: String,
    /// Where the window's next page is; none when this page was its last.
    pub next_url: Option<String>,
    pub counts: crate::sync::Summary,
}

/// Everything one batch writes, committed together.
#[derive(Debug, Default)]
pub struct Commit {
    pub staged: Vec<Staged>,
    /// Dialogs to write if they are newer than what is stored (checked again inside the
    /// transaction, so concurrent writers never let an older version win).
    pub upserts: Vec<DialogRow>,
    /// A replay: the same source version may be written again (by newer components).
    pub replay: bool,
    /// Write dialogs without change events (a source configured `silent`, as Dialogporten's
    /// silent updates).
    pub silent: bool,
    pub window: Option<WindowPage>,
    /// Raw source ids whose record is gone at the source, with the version that says so:
    /// dialogs made from them are deleted and a tombstone keeps older versions out.
    pub deletes: Vec<(String, i64)>,
    pub dead: Vec<DeadLetter>,
    /// Source ids that succeeded: their dead letters are resolved.
    pub resolved: Vec<String>,
    /// Origins and content keys of records read fine this time: their read failures are resolved.
    pub read_ok: Vec<String>,
    pub checkpoint: Option<(String, String)>,
}

/// `PREFIX [source = ? AND] COLUMN IN (?, …)`, binding each id.
fn select_in<'a>(prefix: &'a str, source: Option<&'a str>, column: &str, ids: &'a [String]) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::new(prefix);
    if let Some(source) = source {
        q.push(" source = ").push_bind(source).push(" AND");
    }
    q.push(format_args!(" {column} IN ("));
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(id);
    }
    q.push(")");
    q
}

/// Appends a change event; `detail` for an activity event: its id and type.
#[allow(clippy::too_many_arguments)]
async fn event(tx: &mut sqlx::Transaction<'static, Sqlite>, id: &str, kind: &str, source: &str, party: &str, resource: &str, at: &str, detail: Option<&serde_json::Value>) -> Result<()> {
    sqlx::query("INSERT INTO change_events (dialog_id, kind, source, at, party, service_resource, detail) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(id).bind(kind).bind(source).bind(at).bind(party).bind(resource).bind(detail.map(|d| d.to_string()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Activities of `new` that `old` lacks (by id), as `{activityId, activityType}`: each gets its
/// activity event. Only the activities are read from the documents.
pub(crate) fn new_activities(old: Option<&str>, new: &str) -> Vec<serde_json::Value> {
    #[derive(serde::Deserialize, Default)]
    struct Doc {
        #[serde(default)]
        activities: Vec<Activity>,
    }
    #[derive(serde::Deserialize)]
    struct Activity {
        id: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let read = |d: &str| serde_json::from_str::<Doc>(d).unwrap_or_default().activities;
    let known: HashSet<Option<String>> = old.map(read).unwrap_or_default().into_iter().map(|a| a.id).collect();
    read(new)
        .into_iter()
        .filter(|a| !known.contains(&a.id))
        .map(|a| serde_json::json!({ "activityId": a.id, "activityType": a.kind }))
        .collect()
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

use crate::clock::stamp as now;

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`.
    pub async fn open(url: &str) -> Result<Store> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Url(url.into()));
        }
        let open = |source| StoreError::Open { url: url.into(), source };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30));
        // Two processes starting on one new file (a host, an operator's command) would both
        // switch it to WAL and apply the same migrations: a lock file beside it takes turns.
        let file = url.trim_start_matches("sqlite:").trim_start_matches("//");
        let file = file.split('?').next().unwrap_or(file);
        let lock = match file.starts_with(':') || file.is_empty() {
            true => None,
            false => {
                let path = format!("{file}.lock");
                let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| StoreError::Lock { path: path.clone(), source: e })?;
                let f = tokio::task::spawn_blocking(move || f.lock().map(|_| f)).await.expect("lock task").map_err(|e| StoreError::Lock { path, source: e })?;
                Some(f)
            }
        };
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(open)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        drop(lock);
        Ok(Store { pool })
    }

    /// A write transaction that takes the write lock at once (`BEGIN IMMEDIATE`), so a
    /// concurrent writer makes it wait (busy timeout) instead of failing at its first write.
    pub(crate) async fn write(&self) -> Result<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Which of `(source_id, content_hash)` are already staged with a final outcome.
    pub async fn staged_final(&self, source: &str, keys: &[(String, String)]) -> Result<HashSet<(String, String)>> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT source_id, content_hash FROM raw_records WHERE outcome IN ('migrated', 'unchanged', 'skipped') AND source = ");
        q.push_bind(source).push(" AND (source_id, content_hash) IN (");
        let mut sep = q.separated(", ");
        for (id, hash) in keys {
            sep.push("(").push_bind_unseparated(id).push_unseparated(", ").push_bind_unseparated(hash).push_unseparated(")");
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Party URNs for the given legacy party ids that the register knows.
    pub async fn parties(&self, ids: &[String]) -> Result<HashMap<String, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = select_in("SELECT party_id, urn FROM parties WHERE", None, "party_id", ids).build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The stored versions of the given element ids of `source`.
    pub async fn current(&self, source: &str, source_ids: &[String]) -> Result<HashMap<String, Current>> {
        if source_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = "SELECT source_id, id, source_version, content_hash, document FROM dialogs WHERE";
        let rows = select_in(sql, Some(source), "source_id", source_ids).build().fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), Current { id: r.get(1), source_version: r.get(2), content_hash: r.get(3), document: r.get(4) }))
            .collect())
    }

    /// The versions that removed the given raw source ids, where any did.
    pub async fn tombstones(&self, source: &str, source_ids: &[String]) -> Result<HashMap<String, i64>> {
        if source_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = "SELECT source_id, source_version FROM tombstones WHERE";
        let rows = select_in(sql, Some(source), "source_id", source_ids).build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Writes one batch in one transaction.
    pub async fn commit(&self, source: &str, c: &Commit) -> Result<()> {
        let at = now();
        let mut tx = self.write().await?;
        for s in &c.staged {
            let r = &s.record;
            sqlx::query(
                "INSERT INTO raw_records (source, source_id, content_hash, source_version, content_type, payload, origin, outcome, reason, waiting_party, dialog_id, first_seen, last_seen, created_day)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (source, source_id, content_hash) DO UPDATE SET
                   origin = excluded.origin, outcome = excluded.outcome, reason = excluded.reason,
                   waiting_party = excluded.waiting_party, dialog_id = excluded.dialog_id, last_seen = excluded.last_seen",
            )
            .bind(source).bind(&r.source_id).bind(&s.content_hash).bind(r.version).bind(&r.content_type)
            .bind(&r.payload).bind(&r.origin).bind(s.outcome.as_str()).bind(&s.reason).bind(&s.waiting_party)
            .bind(&s.dialog_id).bind(&at).bind(&at).bind(r.created.and_then(crate::clock::day_of).map(|d| d.to_string()))
            .execute(&mut *tx)
            .await?;
        }
        for d in &c.upserts {
            let stored: Option<(String, i64, String, String, String, String)> =
                sqlx::query_as("SELECT id, source_version, content_hash, document, party, service_resource FROM dialogs WHERE source = ? AND source_id = ?")
                    .bind(source).bind(&d.source_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let kind = match &stored {
                None => "created",
                Some((_, v, h, ..)) if (d.source_version, d.content_hash.as_str()) < (*v, h.as_str()) => continue,
                Some((_, v, h, ..)) if (d.source_version, d.content_hash.as_str()) == (*v, h.as_str()) && !c.replay => continue,
                Some((id, _, _, doc, ..)) if *id == d.id && *doc == d.document => "unchanged",
                Some(_) => "updated",
            };
            let mut kind = kind;
            let mut before = stored.as_ref().map(|s| s.3.as_str());
            if let Some((old, _, _, _, party, resource)) = stored.as_ref().filter(|(id, ..)| *id != d.id) {
                // The element's creation time changed, and with it its id: the old dialog goes.
                sqlx::query("DELETE FROM dialogs WHERE id = ?").bind(old).execute(&mut *tx).await?;
                if !c.silent {
                    event(&mut tx, old, "deleted", source, party, resource, &at, None).await?;
                }
                kind = "created";
                before = None;
            }
            sqlx::query(
                "INSERT INTO dialogs (id, source, source_id, source_version, content_hash, party, service_resource, status, system_label, created_at, updated_at, transformer_hash, projector_hash, document)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET
                   source_version = excluded.source_version, content_hash = excluded.content_hash, party = excluded.party,
                   service_resource = excluded.service_resource, status = excluded.status, system_label = excluded.system_label,
                   created_at = excluded.created_at, updated_at = excluded.updated_at, transformer_hash = excluded.transformer_hash,
                   projector_hash = excluded.projector_hash, document = excluded.document",
            )
            .bind(&d.id).bind(source).bind(&d.source_id).bind(d.source_version).bind(&d.content_hash).bind(&d.party)
            .bind(&d.service_resource).bind(&d.status).bind(&d.system_label).bind(d.created_at).bind(d.updated_at)
            .bind(&d.transformer_hash).bind(&d.projector_hash).bind(&d.document)
            .execute(&mut *tx)
            .await?;
            if kind != "unchanged" && !c.silent {
                event(&mut tx, &d.id, kind, source, &d.party, &d.service_resource, &at, None).await?;
                for a in new_activities(before, &d.document) {
                    event(&mut tx, &d.id, "activity", source, &d.party, &d.service_resource, &at, Some(&a)).await?;
                }
            }
        }
        for (source_id, version) in &c.deletes {
            sqlx::query(
                "INSERT INTO tombstones (source, source_id, source_version, at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (source, source_id) DO UPDATE SET source_version = MAX(source_version, excluded.source_version)",
            )
            .bind(source).bind(source_id).bind(version).bind(&at)
            .execute(&mut *tx)
            .await?;
            let gone: Vec<(String, String, String)> = sqlx::query_as(
                "DELETE FROM dialogs WHERE id IN (SELECT dialog_id FROM raw_records WHERE source = ? AND source_id = ? AND dialog_id IS NOT NULL) RETURNING id, party, service_resource",
            )
            .bind(source).bind(source_id)
            .fetch_all(&mut *tx)
            .await?;
            for (id, party, resource) in gone.iter().filter(|_| !c.silent) {
                event(&mut tx, id, "deleted", source, party, resource, &at, None).await?;
            }
        }
        for id in &c.resolved {
            sqlx::query("DELETE FROM dead_letters WHERE source = ? AND source_id = ?").bind(source).bind(id).execute(&mut *tx).await?;
        }
        for origin in &c.read_ok {
            sqlx::query("DELETE FROM dead_letters WHERE source = ? AND phase = 'read' AND (record_key = ? OR origin = ?)")
                .bind(source).bind(origin).bind(origin)
                .execute(&mut *tx)
                .await?;
        }
        for d in &c.dead {
            sqlx::query(
                "INSERT INTO dead_letters (source, record_key, source_id, origin, phase, component, error, payload, first_seen, last_seen)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (source, record_key) DO UPDATE SET
                   origin = excluded.origin, phase = excluded.phase, component = excluded.component, error = excluded.error,
                   payload = excluded.payload, attempts = dead_letters.attempts + 1, last_seen = excluded.last_seen",
            )
            .bind(source).bind(&d.record_key).bind(&d.source_id).bind(&d.origin).bind(&d.phase).bind(&d.component)
            .bind(&d.error).bind(&d.payload).bind(&at).bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some((name, value)) = &c.checkpoint {
            sqlx::query(
                "INSERT INTO checkpoints (source, name, value, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (source, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(source).bind(name).bind(value).bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(w) = &c.window {
            let n = &w.counts;
            let (state, completed) = if w.next_url.is_none() { ("done", Some(&at)) } else { ("running", None) };
            sqlx::query(
                "INSERT INTO windows (source, first_day, last_day, state, next_url, pages, fetched, migrated, unchanged, skipped, waiting, dead, started_at, completed_at)
                 VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (source, first_day) DO UPDATE SET
                   state = excluded.state, next_url = excluded.next_url, pages = pages + 1,
                   fetched = fetched + excluded.fetched, migrated = migrated + excluded.migrated,
                   unchanged = unchanged + excluded.unchanged, skipped = skipped + excluded.skipped,
                   waiting = waiting + excluded.waiting, dead = dead + excluded.dead, completed_at = excluded.completed_at",
            )
            .bind(source).bind(&w.first_day).bind(&w.last_day).bind(state).bind(&w.next_url)
            .bind(n.fetched as i64).bind(n.migrated as i64).bind(n.unchanged as i64).bind(n.skipped as i64)
            .bind(n.waiting as i64).bind(n.dead as i64).bind(&at).bind(completed)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a dated changelog entry.
    pub async fn log(&self, source: Option<&str>, kind: &str, message: &str) -> Result<()> {
        self.log_data(source, kind, message, None).await
    }

    /// Adds a dated changelog entry with structured details.
    pub async fn log_data(&self, source: Option<&str>, kind: &str, message: &str, data: Option<serde_json::Value>) -> Result<()> {
        sqlx::query("INSERT INTO changelog (at, source, kind, message, data) VALUES (?, ?, ?, ?, ?)")
            .bind(now()).bind(source).bind(kind).bind(message).bind(data.map(|d| d.to_string()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces or adds register entries; returns how many records were waiting for them.
    pub async fn import_parties(&self, entries: &[(String, String)]) -> Result<u64> {
        let at = now();
        let mut tx = self.write().await?;
        for (id, urn) in entries {
            sqlx::query("INSERT INTO parties (party_id, urn, imported_at) VALUES (?, ?, ?) ON CONFLICT (party_id) DO UPDATE SET urn = excluded.urn, imported_at = excluded.imported_at")
                .bind(id).bind(urn).bind(&at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM raw_records r JOIN parties p ON p.party_id = r.waiting_party WHERE r.outcome = 'waiting'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(waiting as u64)
    }

    /// One dialog's document.
    pub async fn dialog(&self, id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT document FROM dialogs WHERE id = ?").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Documents, newest updated first; `label` finds a dialog by any legacy reference
    /// (a service-owner label such as `urn:altinn:a2:archive-reference:AR12345678`).
    pub async fn search(&self, party: Option<&str>, source: Option<&str>, label: Option<&str>, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT document FROM dialogs WHERE (?1 IS NULL OR party = ?1) AND (?2 IS NULL OR source = ?2)
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(document, '$.serviceOwnerContext.serviceOwnerLabels')
                                          WHERE lower(json_extract(value, '$.value')) = lower(?3)))
             ORDER BY updated_at DESC, id DESC LIMIT ?4",
        )
        .bind(party).bind(source).bind(label).bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Change events after sequence number `after`, in commit order.
    pub async fn events(&self, after: i64, limit: i64) -> Result<Vec<ChangeEvent>> {
        self.events_of(&Audience::All, after, limit).await
    }

    /// Change events after `after` that `audience` may see, in commit order.
    pub async fn events_of(&self, audience: &Audience, after: i64, limit: i64) -> Result<Vec<ChangeEvent>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT seq, dialog_id, kind, source, at, party, service_resource, detail FROM change_events WHERE seq > ");
        q.push_bind(after);
        api::push_audience(&mut q, "", audience);
        q.push(" ORDER BY seq LIMIT ").push_bind(limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| ChangeEvent {
                seq: r.get(0),
                dialog_id: r.get(1),
                kind: r.get(2),
                source: r.get(3),
                at: r.get(4),
                party: r.get(5),
                service_resource: r.get(6),
                detail: r.get::<Option<String>, _>(7).and_then(|d| serde_json::from_str(&d).ok()),
            })
            .collect())
    }

    /// Dead letters of `source` (or all); `with_payload`: only those that kept their payload,
    /// with it (for a retry).
    pub async fn dead_letters(&self, source: Option<&str>, with_payload: bool) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query(
            "SELECT id, source, record_key, source_id, origin, phase, component, error, attempts, CASE WHEN ?2 THEN payload END FROM dead_letters
             WHERE (?1 IS NULL OR source = ?1) AND (NOT ?2 OR payload IS NOT NULL) ORDER BY id",
        )
        .bind(source)
        .bind(with_payload)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| DeadLetter {
                id: Some(r.get(0)),
                source: r.get(1),
                record_key: r.get(2),
                source_id: r.get(3),
                origin: r.get(4),
                phase: r.get(5),
                component: r.get(6),
                error: r.get(7),
                attempts: r.get(8),
                payload: r.get(9),
            })
            .collect())
    }
}

mod state;
pub use state::{LogEntry, Reconciled, SourceState, Window};

mod api;
pub use api::{Deleted, Page, Search};

pub mod service;
