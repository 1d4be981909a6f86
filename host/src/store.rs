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
use dialogsync_core::db::{self, Db, Param, Row as DbRow, Statement, Value};
use sqlx::any::AnyRow;
use sqlx::ValueRef;
use std::collections::{HashMap, HashSet};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL `{0}` is not supported (use sqlite://FILE or postgres://…)")]
    Url(String),
    #[error("opening store {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("locking {path}: {source}")]
    Lock { path: String, source: std::io::Error },
    #[error("store {path} is not a SQLite database (its first bytes are not SQLite's header): point --store (or `store` in the config) at a dialogsync store, or move the file away")]
    NotSqlite { path: String },
    #[error("store {0} has changes in its -wal file that only a user who may write its folder can read: run a command there once as that user (it folds them into the file)")]
    Unflushed(String),
    #[error("store {path} is damaged ({message}): restore it from a backup, or move it away and migrate again")]
    Corrupt { path: String, message: String },
    #[error("migrating store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store: {0}")]
    Query(#[from] sqlx::Error),
    #[error("store: {0}")]
    Invalid(String),
    #[error("{source_name}: lease `{lease}` is no longer {holder}'s (it expired and another host took it); nothing of this page was written")]
    LeaseLost { source_name: String, lease: String, holder: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl From<db::Error<sqlx::Error>> for StoreError {
    fn from(e: db::Error<sqlx::Error>) -> StoreError {
        match e {
            db::Error::Db(e) => StoreError::Query(e),
            db::Error::LeaseLost { source_name, lease, holder } => StoreError::LeaseLost { source_name, lease, holder },
            db::Error::Invalid(m) => StoreError::Invalid(m),
        }
    }
}

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
pub use dialogsync_core::db::Dialect as Backend;

type Tx = sqlx::Transaction<'static, sqlx::Any>;

pub(crate) use dialogsync_core::changes::{NewEvent, new_activities};

pub(crate) use dialogsync_core::db::{CHUNK, json_list, last_per_key};

/// SQL assembled from this module's fixed text and dialect fragments, never from input (every
/// value is bound), which is what sqlx asks to be asserted of a query that is not a literal.
pub(crate) fn safe(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions run. SQLite: one connection of its own, since SQLite has one
    /// writer at a time anyway, and a connection drops its whole page cache when another one
    /// has written: commits that took turns on the pool's connections each began cold, reading
    /// back the index pages the one before had just cached. PostgreSQL: the pool.
    writer: AnyPool,
    backend: Backend,
}

use crate::clock::stamp as now;

/// The writer's page cache: 32 MiB (SQLite's default is 2 MiB), so the index pages a large
/// backfill's commits keep inserting into stay in memory instead of going to the file.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// Each reader's: 8 MiB. A reader's lookups land all over a growing file, so its cache fills up
/// to whatever it may hold (heaptrack of a 1M backfill: 62 MiB of SQLite's heap, the writer's
/// cache at most 32 of it), and a page it misses comes from the OS's cache. With two malloc
/// arenas, readers at 32 MiB each gave that backfill a peak of 125 MiB, at 8 MiB 105 MiB.
const READER_CACHE_KIB: i64 = 8 * 1024;

/// A pool's options on a SQLite file: each connection's settings, its page cache `cache_kib`.
fn sqlite_options(cache_kib: i64) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 30000").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute(safe(format!("PRAGMA cache_size = -{cache_kib}"))).await?;
                // Checkpoint every 64 MiB of log instead of every 4 MiB: a backfill's page
                // dirties more than 4 MiB, so the default checkpointed (two fsyncs, and
                // every page copied again) after nearly every commit.
                conn.execute("PRAGMA wal_autocheckpoint = 16384").await?;
                Ok(())
            })
        })
        // A file that is not a database fails at once, not after retrying for the default 30 s.
        .acquire_timeout(std::time::Duration::from_secs(5))
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`: `sqlite://FILE` or
    /// `postgres://USER@HOST/DB`.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, true, false).await
    }

    /// Opens the store at `url` as it is, applying no migrations: for a database another
    /// program migrates (the Spin tests serve Spin's SQLite with it, and the tick migrates).
    pub async fn open_unmigrated(url: &str) -> Result<Store> {
        Store::open_with(url, false, false).await
    }

    /// Opens the store for reading only (`status`, `dialogs`, `events`): a SQLite file in a
    /// folder this user cannot write (a copy on read-only media, say) is read as it is.
    pub async fn open_for_reading(url: &str) -> Result<Store> {
        Store::open_with(url, true, true).await
    }

    async fn open_with(url: &str, migrate: bool, read_only_ok: bool) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let open = |source| StoreError::Open { url: url.into(), source };
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new().max_connections(8).connect(url).await.map_err(open)?;
            // sqlx's migrator takes PostgreSQL's advisory lock: hosts starting together take turns.
            if migrate {
                sqlx::migrate!("../components/sync-core/migrations/postgres").run(&pool).await?;
            }
            return Ok(Store { writer: pool.clone(), pool, backend: Backend::Postgres });
        }
        let Some(rest) = url.strip_prefix("sqlite:") else { return Err(StoreError::Url(url.into())) };
        let file = rest.trim_start_matches("//");
        let file = file.split('?').next().unwrap_or(file);
        let in_memory = file.starts_with(':') || file.is_empty();
        if !in_memory {
            check_sqlite_header(file)?;
        }
        // Two processes starting on one new file (a host, an operator's command) would both
        // switch it to WAL and apply the same migrations: a lock file beside it takes turns.
        let mut read_only = false;
        let lock = match in_memory {
            true => None,
            false => {
                let path = format!("{file}.lock");
                match std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path) {
                    Ok(f) => Some(tokio::task::spawn_blocking(move || f.lock().map(|_| f)).await.expect("lock task").map_err(|e| StoreError::Lock { path, source: e })?),
                    // A folder this user may not write: a reader reads the file as it is.
                    Err(e) if read_only_ok && std::path::Path::new(file).exists() && matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem) => {
                        read_only = true;
                        None
                    }
                    Err(e) => return Err(StoreError::Lock { path, source: e }),
                }
            }
        };
        let sep = if url.contains('?') { "&" } else { "?" };
        // Changes not yet folded back into the file (a writer that ended without closing, or
        // one still running) live in its -wal file; an immutable open would not see them.
        let wal = std::fs::metadata(format!("{file}-wal")).is_ok_and(|m| m.len() > 0);
        if read_only && wal && !std::path::Path::new(&format!("{file}-shm")).exists() {
            return Err(StoreError::Unflushed(file.into()));
        }
        let url = match (in_memory, url.contains("mode="), read_only) {
            // SQLite reads a write-ahead log through its existing -shm file without writing.
            (false, false, true) if wal => format!("{url}{sep}mode=ro"),
            // Nobody can write beside it, so nobody changes it: immutable (no -shm file needed).
            (false, false, true) => format!("{url}{sep}mode=ro&immutable=1"),
            (false, false, false) => format!("{url}{sep}mode=rwc"),
            _ => url.to_string(),
        };
        // A damaged file fails its first statement; the pool would retry that until its timeout.
        if !in_memory && std::fs::metadata(file).is_ok_and(|m| m.len() > 0) {
            use sqlx::Connection;
            let mut probe = sqlx::AnyConnection::connect(&url).await.map_err(|e| corrupt(file, &e).unwrap_or_else(|| open(e)))?;
            sqlx::query("PRAGMA schema_version").execute(&mut probe).await.map_err(|e| corrupt(file, &e).unwrap_or(StoreError::Query(e)))?;
            let _ = probe.close().await;
        }
        let pool = sqlite_options(READER_CACHE_KIB).max_connections(4).connect(&url).await.map_err(|e| corrupt(file, &e).unwrap_or_else(|| open(e)))?;
        let setup = async {
            if !in_memory && !read_only {
                sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
            }
            if migrate && !read_only {
                sqlx::migrate!("../components/sync-core/migrations/sqlite").run(&pool).await?;
            }
            Ok::<_, StoreError>(())
        };
        setup.await.map_err(|e| {
            let damaged = match &e {
                StoreError::Query(q) | StoreError::Migrate(sqlx::migrate::MigrateError::Execute(q) | sqlx::migrate::MigrateError::ExecuteMigration(q, _)) => corrupt(file, q),
                _ => None,
            };
            damaged.unwrap_or(e)
        })?;
        // A writer waits its turn as long as SQLite's busy timeout lets a writer wait for the lock.
        // Each connection to `:memory:` is a database of its own: there the pool writes too.
        let writer = match in_memory || read_only {
            true => pool.clone(),
            false => sqlite_options(WRITER_CACHE_KIB).max_connections(1).acquire_timeout(std::time::Duration::from_secs(30)).connect(&url).await.map_err(open)?,
        };
        drop(lock);
        Ok(Store { pool, writer, backend: Backend::Sqlite })
    }

    /// Ends every connection; SQLite's last one folds the write-ahead log back into the file.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
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
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l").bind(key).execute(&mut *tx).await?;
                tx
            }
        })
    }

    /// The dialect's fragments ([`Backend::in_list`] and the others), for the store's own queries.
    pub(crate) fn values(&self, rows: usize, columns: usize) -> String {
        self.backend.values(rows, columns)
    }
    pub(crate) fn list(&self, n: usize) -> String {
        self.backend.list(n)
    }
    pub(crate) fn in_list(&self, column: &str, n: usize) -> String {
        self.backend.in_list(column, n)
    }
    pub(crate) fn contains(&self, a: &str, b: &str) -> String {
        self.backend.contains(a, b)
    }
    pub(crate) fn json_member(&self, doc: &str, key: &str) -> String {
        self.backend.json_member(doc, key)
    }

    /// The store as the sync core's [`Db`].
    pub fn db(&self) -> StoreDb<'_> {
        StoreDb { store: self, tx: None }
    }

    /// Appends change events in commit order (the sync core's [`db::append_events`]).
    pub(crate) async fn append_events(&self, tx: &mut Tx, source: &str, at: &str, events: &[NewEvent]) -> Result<()> {
        Ok(db::append_events(&mut InTx(tx, self.backend), source, at, events).await?)
    }

    /// Which of `(source_id, content_hash)` are already staged with a final outcome.
    pub async fn staged_final(&self, source: &str, keys: &[(String, String)]) -> Result<HashSet<(String, String)>> {
        Ok(db::staged_final(&mut self.db(), source, keys).await?)
    }

    /// Party URNs for the given legacy party ids that the register knows.
    pub async fn parties(&self, ids: &[String]) -> Result<HashMap<String, String>> {
        Ok(db::parties(&mut self.db(), ids).await?)
    }

    /// The stored versions of the given element ids of `source`.
    pub async fn current(&self, source: &str, source_ids: &[String]) -> Result<HashMap<String, Current>> {
        Ok(db::current(&mut self.db(), source, source_ids).await?)
    }

    /// The versions that removed the given raw source ids, where any did.
    pub async fn tombstones(&self, source: &str, source_ids: &[String]) -> Result<HashMap<String, i64>> {
        Ok(db::tombstones(&mut self.db(), source, source_ids).await?)
    }

    /// Writes one page in one transaction (the sync core's [`db::commit_page`]).
    pub async fn commit(&self, source: &str, c: &Commit) -> Result<()> {
        Ok(db::commit_page(&mut self.db(), source, c, &now()).await?)
    }

    /// Adds a dated changelog entry.
    pub async fn log(&self, source: Option<&str>, kind: &str, message: &str) -> Result<()> {
        self.log_data(source, kind, message, None).await
    }

    /// Adds a dated changelog entry with structured details.
    pub async fn log_data(&self, source: Option<&str>, kind: &str, message: &str, data: Option<serde_json::Value>) -> Result<()> {
        Ok(db::log(&mut self.db(), source, kind, message, data, &now()).await?)
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
        // Records this import resolves: those waiting for one of its party ids.
        let ids: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        let sql = format!("SELECT COUNT(*) FROM raw_records WHERE outcome = 'waiting' AND {}", self.in_list("waiting_party", 1));
        let waiting: i64 = sqlx::query_scalar(safe(sql)).bind(json_list(&ids)).fetch_one(&self.pool).await?;
        Ok(waiting as u64)
    }

    /// One dialog's document.
    pub async fn dialog(&self, id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT document FROM dialogs WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Documents, newest updated first; `label` finds a dialog by any legacy reference
    /// (a service-owner label such as `urn:altinn:a2:archive-reference:AR12345678`).
    pub async fn search(&self, party: Option<&str>, source: Option<&str>, label: Option<&str>, limit: i64) -> Result<Vec<String>> {
        let mut docs = Vec::new();
        self.search_each(party, source, label, limit, |d| {
            docs.push(d);
            true
        })
        .await?;
        Ok(docs)
    }

    /// As [`Store::search`], each document handed to `each` as it is read (`limit` 0: all of
    /// them, streamed) until `each` says stop (false); returns how many it took.
    pub async fn search_each(
        &self,
        party: Option<&str>,
        source: Option<&str>,
        label: Option<&str>,
        limit: i64,
        mut each: impl FnMut(String) -> bool,
    ) -> Result<u64> {
        use futures_util::TryStreamExt;
        let sql = format!("SELECT document FROM dialogs WHERE {} ORDER BY updated_at DESC, id DESC LIMIT $4", self.search_filter());
        let limit = if limit <= 0 { i64::MAX } else { limit };
        let mut rows = sqlx::query_scalar::<_, String>(safe(sql)).bind(party).bind(source).bind(label).bind(limit).fetch(&self.pool);
        let mut n = 0;
        while let Some(doc) = rows.try_next().await? {
            if !each(doc) {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    /// How many dialogs [`Store::search`] would find without a limit.
    pub async fn search_count(&self, party: Option<&str>, source: Option<&str>, label: Option<&str>) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM dialogs WHERE {}", self.search_filter());
        Ok(sqlx::query_scalar(safe(sql)).bind(party).bind(source).bind(label).fetch_one(&self.pool).await?)
    }

    /// The filter of a search by party ($1), source ($2) and label ($3), each optional.
    fn search_filter(&self) -> String {
        let labelled = match self.backend {
            Backend::Sqlite => "EXISTS (SELECT 1 FROM json_each(document, '$.serviceOwnerContext.serviceOwnerLabels') WHERE lower(json_extract(value, '$.value')) = lower($3))",
            Backend::Postgres => "EXISTS (SELECT 1 FROM jsonb_array_elements(CAST(document AS jsonb) -> 'serviceOwnerContext' -> 'serviceOwnerLabels') AS l WHERE lower(l ->> 'value') = lower($3))",
        };
        format!("($1 IS NULL OR party = $1) AND ($2 IS NULL OR source = $2) AND ($3 IS NULL OR {labelled})")
    }

    /// How many change events there are after `after`.
    pub async fn events_count(&self, after: i64) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM change_events WHERE seq > $1").bind(after).fetch_one(&self.pool).await?)
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

    /// Settles the open dead letters of `source` and/or number `id` as discarded, with the
    /// reason, and logs it; returns how many.
    pub async fn discard_dead_letters(&self, source: Option<&str>, id: Option<i64>, reason: &str) -> Result<u64> {
        let at = now();
        let rows = sqlx::query(
            "UPDATE dead_letters SET discarded_at = $3, discard_reason = $4 WHERE discarded_at IS NULL AND ($1 IS NULL OR source = $1) AND ($2 IS NULL OR id = $2) RETURNING source",
        )
        .bind(source)
        .bind(id)
        .bind(&at)
        .bind(reason)
        .fetch_all(&self.pool)
        .await?;
        let mut per_source: std::collections::BTreeMap<String, u64> = Default::default();
        for r in &rows {
            *per_source.entry(r.get::<String, _>(0)).or_default() += 1;
        }
        for (s, n) in &per_source {
            self.log(Some(s), "discarded", &format!("{n} dead letter{} discarded: {reason}", if *n == 1 { "" } else { "s" })).await?;
        }
        Ok(rows.len() as u64)
    }

    /// Dead letters of `source` (or all); `with_payload`: only those that kept their payload,
    /// with it (for a retry). Discarded ones are left out.
    pub async fn dead_letters(&self, source: Option<&str>, with_payload: bool) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query(
            "SELECT id, source, record_key, source_id, origin, phase, component, error, attempts, CASE WHEN $2 THEN payload END FROM dead_letters
             WHERE discarded_at IS NULL AND ($1 IS NULL OR source = $1) AND (NOT $2 OR payload IS NOT NULL) ORDER BY id",
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
pub use state::{Reconciled, SourceState, Window};

mod api;
pub use api::{Deleted, EXPIRE_SNAPSHOTS, Page, Search};

pub mod service;

pub mod lease;
pub use lease::Fence;

pub mod sink;

/// Refuses a file that is there, is not empty, and does not start as every SQLite database does.
fn check_sqlite_header(file: &str) -> Result<()> {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(file) else { return Ok(()) };
    let mut header = [0u8; 16];
    match f.read(&mut header) {
        Ok(0) => Ok(()),
        Ok(n) if n == 16 && &header == b"SQLite format 3\0" => Ok(()),
        _ => Err(StoreError::NotSqlite { path: file.into() }),
    }
}

/// SQLite's words for a damaged file, as one error naming it.
fn corrupt(file: &str, e: &sqlx::Error) -> Option<StoreError> {
    let message = e.as_database_error()?.message().to_string();
    let damaged = ["malformed", "not a database", "corrupt"].iter().any(|w| message.contains(w));
    damaged.then(|| StoreError::Corrupt { path: file.into(), message })
}

/// A sync-core statement as a sqlx query: its parameters bound in order.
fn query(s: &Statement) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(safe(s.sql.clone())).persistent(s.reuse);
    for p in &s.params {
        q = match p {
            Param::Int(v) => q.bind(*v),
            Param::Text(v) => q.bind(v.clone()),
            Param::Blob(v) => q.bind(v.clone()),
        };
    }
    q
}

/// A row as the sync core reads it.
fn row(r: &AnyRow) -> DbRow {
    use sqlx::any::AnyTypeInfoKind as K;
    let value = |i: usize| -> Value {
        let Ok(raw) = r.try_get_raw(i) else { return Value::Null };
        if raw.is_null() {
            return Value::Null;
        }
        let kind = raw.type_info().kind();
        match kind {
            K::Bool | K::SmallInt | K::Integer | K::BigInt => r.try_get::<i64, _>(i).map(Value::Int).unwrap_or(Value::Null),
            K::Real | K::Double => r.try_get::<f64, _>(i).map(Value::Real).unwrap_or(Value::Null),
            K::Blob => r.try_get::<Vec<u8>, _>(i).map(Value::Blob).unwrap_or(Value::Null),
            K::Text | K::Null => r.try_get::<String, _>(i).map(Value::Text).unwrap_or(Value::Null),
        }
    };
    DbRow((0..r.columns().len()).map(value).collect())
}

/// The store as a sync-core [`Db`]: statements on any free connection, or in the write
/// transaction [`Db::begin`] opened ([`Store::write`]).
pub struct StoreDb<'a> {
    store: &'a Store,
    tx: Option<Tx>,
}

impl Db for StoreDb<'_> {
    type Error = sqlx::Error;
    fn dialect(&self) -> Backend {
        self.store.backend
    }
    async fn query(&mut self, s: Statement) -> std::result::Result<Vec<DbRow>, sqlx::Error> {
        let rows = match &mut self.tx {
            Some(tx) => query(&s).fetch_all(&mut **tx).await?,
            None => query(&s).fetch_all(&self.store.pool).await?,
        };
        Ok(rows.iter().map(row).collect())
    }
    async fn execute(&mut self, s: Statement) -> std::result::Result<u64, sqlx::Error> {
        Ok(match &mut self.tx {
            Some(tx) => query(&s).execute(&mut **tx).await?,
            None => query(&s).execute(&self.store.pool).await?,
        }
        .rows_affected())
    }
    async fn begin(&mut self, key: &str) -> std::result::Result<(), sqlx::Error> {
        self.tx = Some(self.store.write(key).await.map_err(|e| match e {
            StoreError::Query(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })?);
        Ok(())
    }
    async fn commit(&mut self) -> std::result::Result<(), sqlx::Error> {
        match self.tx.take() {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }
    async fn rollback(&mut self) -> std::result::Result<(), sqlx::Error> {
        match self.tx.take() {
            Some(tx) => tx.rollback().await,
            None => Ok(()),
        }
    }
}

/// A transaction its owner commits, as a sync-core [`Db`] for statements inside it.
pub(crate) struct InTx<'a>(pub &'a mut Tx, pub Backend);

impl Db for InTx<'_> {
    type Error = sqlx::Error;
    fn dialect(&self) -> Backend {
        self.1
    }
    async fn query(&mut self, s: Statement) -> std::result::Result<Vec<DbRow>, sqlx::Error> {
        Ok(query(&s).fetch_all(&mut **self.0).await?.iter().map(row).collect())
    }
    async fn execute(&mut self, s: Statement) -> std::result::Result<u64, sqlx::Error> {
        Ok(query(&s).execute(&mut **self.0).await?.rows_affected())
    }
    // Already inside its owner's transaction: nothing to open or end here.
    async fn begin(&mut self, _key: &str) -> std::result::Result<(), sqlx::Error> {
        Ok(())
    }
    async fn commit(&mut self) -> std::result::Result<(), sqlx::Error> {
        Ok(())
    }
    async fn rollback(&mut self) -> std::result::Result<(), sqlx::Error> {
        Ok(())
    }
}

/// One connection of the store, held: statements run on it in order, transactions included,
/// as on a connection of Spin's SQLite (the Spin tests serve Spin's `sqlite` interface with it).
pub struct Connection {
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    backend: Backend,
}

impl Store {
    pub async fn connection(&self) -> Result<Connection> {
        Ok(Connection { conn: self.pool.acquire().await?, backend: self.backend })
    }
}

impl Db for Connection {
    type Error = sqlx::Error;
    fn dialect(&self) -> Backend {
        self.backend
    }
    async fn query(&mut self, s: Statement) -> std::result::Result<Vec<DbRow>, sqlx::Error> {
        Ok(query(&s).fetch_all(&mut *self.conn).await?.iter().map(row).collect())
    }
    async fn execute(&mut self, s: Statement) -> std::result::Result<u64, sqlx::Error> {
        Ok(query(&s).execute(&mut *self.conn).await?.rows_affected())
    }
}
