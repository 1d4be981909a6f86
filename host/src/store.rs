//! The store: sqlx over SQLite (the embedded default) or PostgreSQL (where several hosts share
//! the work), chosen by the URL; each backend has its own migrations, embedded in the binary.
//! The SQL is written once for both (`$N` parameters, portable functions); the few places the
//! dialects differ are the fragments below ([`Store::list`], [`Store::pairs`]…).
//!
//! Each batch of the pipeline is committed by [`Store::commit`] in one transaction: staged
//! records, dialogs, change events, dead letters and the checkpoint together, as multi-row
//! statements.

use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor, Row};
use dialogsync_core::changes::{StoredDialog, Upserts};
use std::collections::{HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL `{0}` is not supported (use sqlite://FILE or postgres://…)")]
    Url(String),
    #[error("opening store {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("locking {path}: {source}")]
    Lock { path: String, source: std::io::Error },
    #[error("migrating store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: {0}")]
    Query(#[from] sqlx::Error),
    #[error("{source_name}: lease `{lease}` is no longer {holder}'s (it expired and another host took it); nothing of this page was written")]
    LeaseLost { source_name: String, lease: String, holder: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub use dialogsync_core::commit::{Commit, Current, DeadLetter, DialogRow, Outcome, Staged, WindowPage};

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

/// Which database the store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

pub(crate) use dialogsync_core::changes::{NewEvent, new_activities};

/// A JSON array of strings, bound as one parameter and read back by [`Store::list`].
pub(crate) fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::from(items.iter().map(|s| s.as_ref()).collect::<Vec<_>>()).to_string()
}

/// SQL assembled from this module's fixed text and dialect fragments, never from input (every
/// value is bound), which is what sqlx asks to be asserted of a query that is not a literal.
pub(crate) fn safe(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// The last of `items` for each key, in their order: a multi-row upsert may name a row once
/// (PostgreSQL refuses to update one row twice in a statement), and the last one is what
/// writing them one by one would have left.
fn last_per_key<'a, T, K: Eq + std::hash::Hash>(items: impl IntoIterator<Item = &'a T>, key: impl Fn(&T) -> K) -> Vec<&'a T> {
    let items: Vec<&T> = items.into_iter().collect();
    let last: HashMap<K, usize> = items.iter().enumerate().map(|(i, t)| (key(t), i)).collect();
    items.iter().enumerate().filter(|(i, t)| last[&key(t)] == *i).map(|(_, t)| *t).collect()
}

/// Rows per multi-row statement: well under both databases' parameter limits.
const CHUNK: usize = 200;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

use crate::clock::stamp as now;

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`: `sqlite://FILE` or
    /// `postgres://USER@HOST/DB`.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let open = |source| StoreError::Open { url: url.into(), source };
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new().max_connections(8).connect(url).await.map_err(open)?;
            // sqlx's migrator takes PostgreSQL's advisory lock: hosts starting together take turns.
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            return Ok(Store { pool, backend: Backend::Postgres });
        }
        let Some(rest) = url.strip_prefix("sqlite:") else { return Err(StoreError::Url(url.into())) };
        let file = rest.trim_start_matches("//");
        let file = file.split('?').next().unwrap_or(file);
        let in_memory = file.starts_with(':') || file.is_empty();
        // Two processes starting on one new file (a host, an operator's command) would both
        // switch it to WAL and apply the same migrations: a lock file beside it takes turns.
        let lock = match in_memory {
            true => None,
            false => {
                let path = format!("{file}.lock");
                let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| StoreError::Lock { path: path.clone(), source: e })?;
                let f = tokio::task::spawn_blocking(move || f.lock().map(|_| f)).await.expect("lock task").map_err(|e| StoreError::Lock { path, source: e })?;
                Some(f)
            }
        };
        let url = match (in_memory, url.contains("mode=")) {
            (false, false) => format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" }),
            _ => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    // A 32 MiB page cache (the default is 2 MiB): index lookups of a large
                    // backfill stay in memory instead of going to the file.
                    conn.execute("PRAGMA cache_size = -32768").await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(open)?;
        if !in_memory {
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        drop(lock);
        Ok(Store { pool, backend: Backend::Sqlite })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction that serializes with every other writer of `key` (a source): SQLite
    /// takes its one write lock at once (`BEGIN IMMEDIATE`, so a concurrent writer waits instead
    /// of failing at its first write); PostgreSQL a transaction-scoped advisory lock on the key,
    /// so hosts sharing a database never interleave two writes of one source's dialogs.
    pub(crate) async fn write(&self, key: &str) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l").bind(key).execute(&mut *tx).await?;
                tx
            }
        })
    }

    /// Placeholders for a multi-row statement's `rows` rows of `columns` values, the whole
    /// statement's parameters. SQLite gets anonymous `?`: it looks a numbered parameter up by
    /// name in a list, which makes binding thousands of them quadratic.
    pub(crate) fn values(&self, rows: usize, columns: usize) -> String {
        let row = |r: usize| {
            let p: Vec<String> = (0..columns)
                .map(|c| match self.backend {
                    Backend::Sqlite => "?".to_string(),
                    Backend::Postgres => format!("${}", 1 + r * columns + c),
                })
                .collect();
            format!("({})", p.join(", "))
        };
        (0..rows).map(row).collect::<Vec<_>>().join(", ")
    }

    /// A table of one text column, `value`, from the JSON array bound as `$n` ([`json_list`]).
    pub(crate) fn list(&self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => format!("json_each(${n})"),
            Backend::Postgres => format!("jsonb_array_elements_text(CAST(${n} AS jsonb)) AS j(value)"),
        }
    }

    /// A table of two text columns, `a` and `b`, from a JSON array of pairs bound as `$n`.
    pub(crate) fn pairs(&self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => format!("(SELECT json_extract(value, '$[0]') AS a, json_extract(value, '$[1]') AS b FROM json_each(${n}))"),
            Backend::Postgres => format!("(SELECT x ->> 0 AS a, x ->> 1 AS b FROM jsonb_array_elements(CAST(${n} AS jsonb)) AS x)"),
        }
    }

    /// Whether text `a` contains text `b`.
    pub(crate) fn contains(&self, a: &str, b: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("instr({a}, {b}) > 0"),
            Backend::Postgres => format!("strpos({a}, {b}) > 0"),
        }
    }

    /// The member `key` of the JSON document in column `doc`, as text.
    pub(crate) fn json_member(&self, doc: &str, key: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("json_extract({doc}, '$.{key}')"),
            Backend::Postgres => format!("(CAST({doc} AS jsonb) ->> '{key}')"),
        }
    }

    /// Appends change events in commit order. Their sequence numbers come from one counter row,
    /// taken last in the transaction and held to its commit: events become visible in
    /// sequence order, so a reader resuming after N never misses one committed later below N.
    pub(crate) async fn append_events(&self, tx: &mut Tx, source: &str, at: &str, events: &[NewEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let last: i64 = sqlx::query_scalar("UPDATE counters SET value = value + $1 WHERE name = 'events' RETURNING value")
            .bind(events.len() as i64)
            .fetch_one(&mut **tx)
            .await?;
        let mut seq = last - events.len() as i64;
        for chunk in events.chunks(CHUNK) {
            let sql = format!("INSERT INTO change_events (seq, dialog_id, kind, source, at, party, service_resource, detail) VALUES {}", self.values(chunk.len(), 8));
            let mut q = sqlx::query(safe(sql));
            for e in chunk {
                seq += 1;
                q = q.bind(seq).bind(&e.dialog_id).bind(e.kind).bind(source).bind(at).bind(&e.party).bind(&e.service_resource).bind(e.detail.as_ref().map(|d| d.to_string()));
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Which of `(source_id, content_hash)` are already staged with a final outcome.
    pub async fn staged_final(&self, source: &str, keys: &[(String, String)]) -> Result<HashSet<(String, String)>> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        // CROSS JOIN: SQLite then walks the list and looks each pair up by primary key, instead
        // of scanning the source's records once per pair.
        let sql = format!(
            "SELECT r.source_id, r.content_hash FROM {} AS k CROSS JOIN raw_records r
             WHERE r.source = $1 AND r.source_id = k.a AND r.content_hash = k.b AND r.outcome IN ('migrated', 'unchanged', 'skipped')",
            self.pairs(2)
        );
        let pairs = serde_json::to_string(keys).expect("pairs");
        let rows = sqlx::query(safe(sql)).bind(source).bind(pairs).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Party URNs for the given legacy party ids that the register knows.
    pub async fn parties(&self, ids: &[String]) -> Result<HashMap<String, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!("SELECT party_id, urn FROM parties WHERE party_id IN (SELECT value FROM {})", self.list(1));
        let rows = sqlx::query(safe(sql)).bind(json_list(ids)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The stored versions of the given element ids of `source`.
    pub async fn current(&self, source: &str, source_ids: &[String]) -> Result<HashMap<String, Current>> {
        if source_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!("SELECT source_id, id, source_version, content_hash, document FROM dialogs WHERE source = $1 AND source_id IN (SELECT value FROM {})", self.list(2));
        let rows = sqlx::query(safe(sql)).bind(source).bind(json_list(source_ids)).fetch_all(&self.pool).await?;
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
        let sql = format!("SELECT source_id, source_version FROM tombstones WHERE source = $1 AND source_id IN (SELECT value FROM {})", self.list(2));
        let rows = sqlx::query(safe(sql)).bind(source).bind(json_list(source_ids)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Writes one batch in one transaction.
    pub async fn commit(&self, source: &str, c: &Commit) -> Result<()> {
        let at = now();
        let mut tx = self.write(source).await?;
        if let Some(f) = &c.fence {
            self.renew(&mut tx, source, f).await?;
        }
        let staged = last_per_key(&c.staged, |s| (s.record.source_id.clone(), s.content_hash.clone()));
        for chunk in staged.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO raw_records (source, source_id, content_hash, source_version, content_type, payload, origin, outcome, reason, waiting_party, dialog_id, first_seen, last_seen, created_day)
                 VALUES {}
                 ON CONFLICT (source, source_id, content_hash) DO UPDATE SET
                   origin = excluded.origin, outcome = excluded.outcome, reason = excluded.reason,
                   waiting_party = excluded.waiting_party, dialog_id = excluded.dialog_id, last_seen = excluded.last_seen",
                self.values(chunk.len(), 14)
            );
            let mut q = sqlx::query(safe(sql));
            for s in chunk {
                let r = &s.record;
                q = q.bind(source).bind(&r.source_id).bind(&s.content_hash).bind(r.version).bind(&r.content_type)
                    .bind(&r.payload).bind(&r.origin).bind(s.outcome.as_str()).bind(&s.reason).bind(&s.waiting_party)
                    .bind(&s.dialog_id).bind(&at).bind(&at).bind(r.created.and_then(crate::clock::day_of).map(|d| d.to_string()));
            }
            q.execute(&mut *tx).await?;
        }
        let mut events = Vec::new();
        self.upsert_dialogs(&mut tx, source, c, &mut events).await?;
        for (source_id, version) in &c.deletes {
            sqlx::query(
                "INSERT INTO tombstones (source, source_id, source_version, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (source, source_id) DO UPDATE SET source_version =
                   CASE WHEN excluded.source_version > tombstones.source_version THEN excluded.source_version ELSE tombstones.source_version END",
            )
            .bind(source).bind(source_id).bind(version).bind(&at)
            .execute(&mut *tx)
            .await?;
            let gone: Vec<(String, String, String)> = sqlx::query_as(
                "DELETE FROM dialogs WHERE id IN (SELECT dialog_id FROM raw_records WHERE source = $1 AND source_id = $2 AND dialog_id IS NOT NULL) RETURNING id, party, service_resource",
            )
            .bind(source).bind(source_id)
            .fetch_all(&mut *tx)
            .await?;
            events.extend(gone.into_iter().map(|(dialog_id, party, service_resource)| NewEvent { dialog_id, kind: "deleted", party, service_resource, detail: None }));
        }
        if !c.resolved.is_empty() {
            let sql = format!("DELETE FROM dead_letters WHERE source = $1 AND source_id IN (SELECT value FROM {})", self.list(2));
            sqlx::query(safe(sql)).bind(source).bind(json_list(&c.resolved)).execute(&mut *tx).await?;
        }
        if !c.read_ok.is_empty() {
            let sql = format!(
                "DELETE FROM dead_letters WHERE source = $1 AND phase = 'read' AND (record_key IN (SELECT value FROM {l}) OR origin IN (SELECT value FROM {l}))",
                l = self.list(2)
            );
            sqlx::query(safe(sql)).bind(source).bind(json_list(&c.read_ok)).execute(&mut *tx).await?;
        }
        for d in &c.dead {
            sqlx::query(
                "INSERT INTO dead_letters (source, record_key, source_id, origin, phase, component, error, payload, first_seen, last_seen)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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
                "INSERT INTO checkpoints (source, name, value, updated_at) VALUES ($1, $2, $3, $4)
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
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (source, first_day) DO UPDATE SET
                   state = excluded.state, next_url = excluded.next_url, pages = windows.pages + 1,
                   fetched = windows.fetched + excluded.fetched, migrated = windows.migrated + excluded.migrated,
                   unchanged = windows.unchanged + excluded.unchanged, skipped = windows.skipped + excluded.skipped,
                   waiting = windows.waiting + excluded.waiting, dead = windows.dead + excluded.dead, completed_at = excluded.completed_at",
            )
            .bind(source).bind(&w.first_day).bind(&w.last_day).bind(state).bind(&w.next_url)
            .bind(n.fetched as i64).bind(n.migrated as i64).bind(n.unchanged as i64).bind(n.skipped as i64)
            .bind(n.waiting as i64).bind(n.dead as i64).bind(&at).bind(completed)
            .execute(&mut *tx)
            .await?;
        }
        if !c.silent {
            self.append_events(&mut tx, source, &at, &events).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The batch's dialogs, where newer than what is stored (read inside the transaction, so a
    /// concurrent writer can never let an older version win), as one read and multi-row writes.
    async fn upsert_dialogs(&self, tx: &mut Tx, source: &str, c: &Commit, events: &mut Vec<NewEvent>) -> Result<()> {
        if c.upserts.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = c.upserts.iter().map(|d| d.source_id.as_str()).collect();
        let sql = format!(
            "SELECT source_id, id, source_version, content_hash, document, party, service_resource FROM dialogs WHERE source = $1 AND source_id IN (SELECT value FROM {})",
            self.list(2)
        );
        let rows = sqlx::query(safe(sql)).bind(source).bind(json_list(&ids)).fetch_all(&mut **tx).await?;
        let stored = rows
            .iter()
            .map(|r| {
                let current = Current { id: r.get(1), source_version: r.get(2), content_hash: r.get(3), document: r.get(4) };
                (r.get(0), StoredDialog { current, party: r.get(5), service_resource: r.get(6) })
            })
            .collect();
        let Upserts { gone, write, events: new } = dialogsync_core::changes::upserts(&c.upserts, stored, c.replay);
        events.extend(new);
        if !gone.is_empty() {
            let sql = format!("DELETE FROM dialogs WHERE id IN (SELECT value FROM {})", self.list(1));
            sqlx::query(safe(sql)).bind(json_list(&gone)).execute(&mut **tx).await?;
        }
        let write = last_per_key(write, |d| d.id.clone());
        for chunk in write.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO dialogs (id, source, source_id, source_version, content_hash, party, service_resource, status, system_label, created_at, updated_at, transformer_hash, projector_hash, document)
                 VALUES {}
                 ON CONFLICT (id) DO UPDATE SET
                   source_version = excluded.source_version, content_hash = excluded.content_hash, party = excluded.party,
                   service_resource = excluded.service_resource, status = excluded.status, system_label = excluded.system_label,
                   created_at = excluded.created_at, updated_at = excluded.updated_at, transformer_hash = excluded.transformer_hash,
                   projector_hash = excluded.projector_hash, document = excluded.document",
                self.values(chunk.len(), 14)
            );
            let mut q = sqlx::query(safe(sql));
            for d in chunk {
                q = q.bind(&d.id).bind(source).bind(&d.source_id).bind(d.source_version).bind(&d.content_hash).bind(&d.party)
                    .bind(&d.service_resource).bind(&d.status).bind(&d.system_label).bind(d.created_at).bind(d.updated_at)
                    .bind(&d.transformer_hash).bind(&d.projector_hash).bind(&d.document);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Adds a dated changelog entry.
    pub async fn log(&self, source: Option<&str>, kind: &str, message: &str) -> Result<()> {
        self.log_data(source, kind, message, None).await
    }

    /// Adds a dated changelog entry with structured details.
    pub async fn log_data(&self, source: Option<&str>, kind: &str, message: &str, data: Option<serde_json::Value>) -> Result<()> {
        sqlx::query("INSERT INTO changelog (at, source, kind, message, data) VALUES ($1, $2, $3, $4, $5)")
            .bind(now()).bind(source).bind(kind).bind(message).bind(data.map(|d| d.to_string()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces or adds register entries; returns how many records were waiting for them.
    pub async fn import_parties(&self, entries: &[(String, String)]) -> Result<u64> {
        let at = now();
        let mut tx = self.pool.begin().await?;
        let entries = last_per_key(entries, |(id, _)| id.clone());
        for chunk in entries.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO parties (party_id, urn, imported_at) VALUES {} ON CONFLICT (party_id) DO UPDATE SET urn = excluded.urn, imported_at = excluded.imported_at",
                self.values(chunk.len(), 3)
            );
            let mut q = sqlx::query(safe(sql));
            for (id, urn) in chunk {
                q = q.bind(id).bind(urn).bind(&at);
            }
            q.execute(&mut *tx).await?;
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
        Ok(sqlx::query_scalar("SELECT document FROM dialogs WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Documents, newest updated first; `label` finds a dialog by any legacy reference
    /// (a service-owner label such as `urn:altinn:a2:archive-reference:AR12345678`).
    pub async fn search(&self, party: Option<&str>, source: Option<&str>, label: Option<&str>, limit: i64) -> Result<Vec<String>> {
        let labelled = match self.backend {
            Backend::Sqlite => "EXISTS (SELECT 1 FROM json_each(document, '$.serviceOwnerContext.serviceOwnerLabels') WHERE lower(json_extract(value, '$.value')) = lower($3))",
            Backend::Postgres => "EXISTS (SELECT 1 FROM jsonb_array_elements(CAST(document AS jsonb) -> 'serviceOwnerContext' -> 'serviceOwnerLabels') AS l WHERE lower(l ->> 'value') = lower($3))",
        };
        let sql = format!(
            "SELECT document FROM dialogs WHERE ($1 IS NULL OR party = $1) AND ($2 IS NULL OR source = $2) AND ($3 IS NULL OR {labelled})
             ORDER BY updated_at DESC, id DESC LIMIT $4"
        );
        Ok(sqlx::query_scalar(safe(sql)).bind(party).bind(source).bind(label).bind(limit).fetch_all(&self.pool).await?)
    }

    /// Change events after sequence number `after`, in commit order.
    pub async fn events(&self, after: i64, limit: i64) -> Result<Vec<ChangeEvent>> {
        self.events_of(&Audience::All, after, limit).await
    }

    /// Change events after `after` that `audience` may see, in commit order.
    pub async fn events_of(&self, audience: &Audience, after: i64, limit: i64) -> Result<Vec<ChangeEvent>> {
        let sql = format!(
            "SELECT seq, dialog_id, kind, source, at, party, service_resource, detail FROM change_events WHERE seq > $1 {} ORDER BY seq LIMIT $2",
            self.audience_filter("", audience, 3)
        );
        let rows = api::bind_audience(sqlx::query(safe(sql)).bind(after).bind(limit), audience).fetch_all(&self.pool).await?;
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
            "SELECT id, source, record_key, source_id, origin, phase, component, error, attempts, CASE WHEN $2 THEN payload END FROM dead_letters
             WHERE ($1 IS NULL OR source = $1) AND (NOT $2 OR payload IS NOT NULL) ORDER BY id",
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

pub mod lease;
pub use lease::{Fence, Host, Lease};
