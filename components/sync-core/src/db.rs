//! The store's sync statements, written once for both shells and both databases.
//!
//! A shell gives a [`Db`] — the host over sqlx (SQLite or PostgreSQL), a Spin tick component
//! over Spin's `sqlite` or `postgres` interface — and these functions run the same SQL on it:
//! what a page reads, its commit in one transaction, cursors, leases, windows and source states.
//! The SQL uses `$N` parameters and portable functions; the few places the dialects differ are
//! [`Dialect`]'s fragments.

use crate::changes::{NewEvent, StoredDialog, Upserts};
use crate::commit::{Commit, Current, DialogRow, Fence};
use crate::plan::day_of;
use crate::record::RawRecord;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound parameter, typed even when null (PostgreSQL wants to know a null's type).
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

impl From<i64> for Param {
    fn from(v: i64) -> Param {
        Param::Int(Some(v))
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Param {
        Param::Int(v)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Param {
        Param::Text(Some(v.to_string()))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Param {
        Param::Text(Some(v.clone()))
    }
}
impl From<String> for Param {
    fn from(v: String) -> Param {
        Param::Text(Some(v))
    }
}
impl From<Option<&str>> for Param {
    fn from(v: Option<&str>) -> Param {
        Param::Text(v.map(str::to_string))
    }
}
impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Param {
        Param::Text(v.clone())
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Param {
        Param::Text(v)
    }
}
impl From<&Option<Vec<u8>>> for Param {
    fn from(v: &Option<Vec<u8>>) -> Param {
        Param::Blob(v.clone())
    }
}
impl From<&Vec<u8>> for Param {
    fn from(v: &Vec<u8>) -> Param {
        Param::Blob(Some(v.clone()))
    }
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// One row read back, its columns in the statement's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> &Value {
        self.0.get(i).unwrap_or(&Value::Null)
    }
    pub fn int(&self, i: usize) -> i64 {
        self.opt_int(i).unwrap_or(0)
    }
    pub fn opt_int(&self, i: usize) -> Option<i64> {
        match self.at(i) {
            Value::Int(v) => Some(*v),
            Value::Real(v) => Some(*v as i64),
            Value::Text(t) => t.parse().ok(),
            _ => None,
        }
    }
    pub fn text(&self, i: usize) -> String {
        self.opt_text(i).unwrap_or_default()
    }
    pub fn opt_text(&self, i: usize) -> Option<String> {
        match self.at(i) {
            Value::Text(t) => Some(t.clone()),
            Value::Int(v) => Some(v.to_string()),
            Value::Blob(b) => String::from_utf8(b.clone()).ok(),
            _ => None,
        }
    }
    pub fn blob(&self, i: usize) -> Vec<u8> {
        match self.at(i) {
            Value::Blob(b) => b.clone(),
            Value::Text(t) => t.clone().into_bytes(),
            _ => Vec::new(),
        }
    }
}

/// A statement and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
    /// Worth keeping prepared for the next time: false for a multi-row statement, whose text
    /// changes with its row count (a connection's cache of them grows with every new count).
    pub reuse: bool,
}

impl Statement {
    pub fn new(sql: impl Into<String>) -> Statement {
        Statement { sql: sql.into(), params: Vec::new(), reuse: true }
    }
    /// A statement prepared for this one run ([`Statement::reuse`]).
    pub fn once(sql: impl Into<String>) -> Statement {
        Statement { reuse: false, ..Statement::new(sql) }
    }
    pub fn bind(mut self, p: impl Into<Param>) -> Statement {
        self.params.push(p.into());
        self
    }
}

/// What a store failure is, as the sync path sees it.
#[derive(Debug)]
pub enum Error<E> {
    /// The database failed.
    Db(E),
    /// The commit's lease passed to another host (it expired and was taken): nothing of the
    /// page was written.
    LeaseLost { source_name: String, lease: String, holder: String },
    /// The store holds something the sync engine cannot read (named in the message).
    Invalid(String),
}

impl<E> From<E> for Error<E> {
    fn from(e: E) -> Error<E> {
        Error::Db(e)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Db(e) => Some(e),
            Error::LeaseLost { .. } | Error::Invalid(_) => None,
        }
    }
}

impl<E: std::fmt::Display> std::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Db(e) => write!(f, "store: {e}"),
            Error::LeaseLost { source_name, lease, holder } => {
                write!(f, "{source_name}: lease `{lease}` is no longer {holder}'s (it expired and another host took it); nothing of this page was written")
            }
            Error::Invalid(m) => write!(f, "store: {m}"),
        }
    }
}

pub type Result<T, E> = std::result::Result<T, Error<E>>;

/// A connection or a transaction the statements run on. The host's are async (sqlx); a Spin
/// component's are plain calls whose futures are ready at once.
#[allow(async_fn_in_trait)]
pub trait Db {
    type Error;
    fn dialect(&self) -> Dialect;
    /// Runs a statement that returns rows.
    async fn query(&mut self, s: Statement) -> std::result::Result<Vec<Row>, Self::Error>;
    /// Runs a statement; the number of rows it changed.
    async fn execute(&mut self, s: Statement) -> std::result::Result<u64, Self::Error>;
    /// Opens a write transaction that serializes with every other writer of `key` (a source);
    /// statements run in it until [`Db::commit`] or [`Db::rollback`]. By default, as statements
    /// on a connection that is the shell's own ([`Dialect::begin_write`]).
    async fn begin(&mut self, key: &str) -> std::result::Result<(), Self::Error> {
        for s in self.dialect().begin_write(key) {
            self.execute(s).await?;
        }
        Ok(())
    }
    async fn commit(&mut self) -> std::result::Result<(), Self::Error> {
        self.execute(Statement::new("COMMIT")).await.map(|_| ())
    }
    async fn rollback(&mut self) -> std::result::Result<(), Self::Error> {
        self.execute(Statement::new("ROLLBACK")).await.map(|_| ())
    }
}

/// Rows per multi-row statement: well under both databases' parameter limits.
pub const CHUNK: usize = 200;

impl Dialect {
    /// Placeholders for a multi-row statement's `rows` rows of `columns` values, the whole
    /// statement's parameters. SQLite gets anonymous `?`: it looks a numbered parameter up by
    /// name in a list, which makes binding thousands of them quadratic.
    pub fn values(self, rows: usize, columns: usize) -> String {
        let row = |r: usize| {
            let p: Vec<String> = (0..columns)
                .map(|c| match self {
                    Dialect::Sqlite => "?".to_string(),
                    Dialect::Postgres => format!("${}", 1 + r * columns + c),
                })
                .collect();
            format!("({})", p.join(", "))
        };
        (0..rows).map(row).collect::<Vec<_>>().join(", ")
    }

    /// A table of one text column, `value`, from the JSON array bound as `$n` ([`json_list`]).
    pub fn list(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("json_each(${n})"),
            Dialect::Postgres => format!("jsonb_array_elements_text(CAST(${n} AS jsonb)) AS j(value)"),
        }
    }

    /// `SELECT columns FROM table WHERE (keys) IN (the JSON array bound as $n) AND filter`, as
    /// one lookup of `table` by `keys` (with the equalities in `filter`) per item of the list:
    /// texts for one key ([`json_list`]), arrays of texts for several. The list drives the
    /// lookups (SQLite: a CROSS JOIN; PostgreSQL: LATERAL, kept apart by OFFSET 0), so neither
    /// store scans instead: PostgreSQL, with statistics taken before a source's first rows,
    /// believed a source had none and filtered every row of it on every page.
    pub fn by_keys(self, table: &str, columns: &str, keys: &[&str], n: usize, filter: &str) -> String {
        let outer: Vec<String> = columns.split(',').map(|c| format!("t.{}", c.trim())).collect();
        let item = |i: usize| match (self, keys.len()) {
            (Dialect::Sqlite, 1) => "k.value".to_string(),
            (Dialect::Sqlite, _) => format!("json_extract(k.value, '$[{i}]')"),
            (Dialect::Postgres, 1) => "k.value #>> '{}'".to_string(),
            (Dialect::Postgres, _) => format!("k.value ->> {i}"),
        };
        match self {
            Dialect::Sqlite => {
                let on: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("t.{k} = {}", item(i))).collect();
                format!("SELECT {} FROM json_each(${n}) AS k CROSS JOIN {table} AS t WHERE {} AND {filter}", outer.join(", "), on.join(" AND "))
            }
            Dialect::Postgres => {
                let on: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("{k} = {}", item(i))).collect();
                format!(
                    "SELECT {} FROM jsonb_array_elements(CAST(${n} AS jsonb)) AS k(value) CROSS JOIN LATERAL (SELECT {columns} FROM {table} WHERE {} AND {filter} OFFSET 0) AS t",
                    outer.join(", "),
                    on.join(" AND ")
                )
            }
        }
    }

    /// `column` is one of the texts of the JSON array bound as `$n` ([`json_list`]). For
    /// PostgreSQL an array (`= ANY`), not an `IN` subquery: a row's test of the array is an index
    /// condition wherever it stands, where two `IN` subqueries joined by `OR` made it scan the
    /// whole table (the commit's read of its page's dialogs: 40 ms at 87,000 dialogs, a
    /// growing part of every commit).
    pub fn in_list(self, column: &str, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each(${n}))"),
            Dialect::Postgres => format!("{column} = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(${n} AS jsonb))))"),
        }
    }

    /// Whether text `a` contains text `b`.
    pub fn contains(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({a}, {b}) > 0"),
            Dialect::Postgres => format!("strpos({a}, {b}) > 0"),
        }
    }

    /// The member `key` of the JSON document in column `doc`, as text.
    pub fn json_member(self, doc: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({doc}, '$.{key}')"),
            Dialect::Postgres => format!("(CAST({doc} AS jsonb) ->> '{key}')"),
        }
    }

    /// The database's clock, in microseconds since the epoch: leases expire by one clock,
    /// however the hosts' clocks drift.
    pub fn now_micros(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)",
            Dialect::Postgres => "CAST(extract(epoch from clock_timestamp()) * 1000000 AS BIGINT)",
        }
    }

    /// Opens a write transaction that serializes with every other writer of `key` (a source):
    /// SQLite takes its one write lock at once (`BEGIN IMMEDIATE`, so a concurrent writer waits
    /// instead of failing at its first write); PostgreSQL a transaction-scoped advisory lock on
    /// the key, so hosts sharing a database never interleave two writes of one source's dialogs.
    pub fn begin_write(self, key: &str) -> Vec<Statement> {
        match self {
            Dialect::Sqlite => vec![Statement::new("BEGIN IMMEDIATE")],
            Dialect::Postgres => vec![Statement::new("BEGIN"), Statement::new("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS l").bind(key)],
        }
    }
}

/// A JSON array of strings, bound as one parameter and read back by [`Dialect::list`] or
/// [`Dialect::in_list`].
pub fn json_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::Value::from(items.iter().map(|s| s.as_ref()).collect::<Vec<_>>()).to_string()
}

/// The last of `items` for each key, in their order: a multi-row upsert may name a row once
/// (PostgreSQL refuses to update one row twice in a statement), and the last one is what
/// writing them one by one would have left.
pub fn last_per_key<'a, T, K: Eq + std::hash::Hash>(items: impl IntoIterator<Item = &'a T>, key: impl Fn(&T) -> K) -> Vec<&'a T> {
    let items: Vec<&T> = items.into_iter().collect();
    let last: HashMap<K, usize> = items.iter().enumerate().map(|(i, t)| (key(t), i)).collect();
    items.iter().enumerate().filter(|(i, t)| last[&key(t)] == *i).map(|(_, t)| *t).collect()
}

// ---- What a page reads ----

/// Which of `(source_id, content_hash)` are already staged with a final outcome.
pub async fn staged_final<D: Db>(db: &mut D, source: &str, keys: &[(String, String)]) -> Result<HashSet<(String, String)>, D::Error> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = db.query(staged_final_statement(db.dialect(), source, keys)).await?;
    Ok(rows.iter().map(|r| (r.text(0), r.text(1))).collect())
}

/// The staged versions `(source_id, content_hash)` of `source` with a final outcome, each looked
/// up by primary key.
pub fn staged_final_statement(d: Dialect, source: &str, keys: &[(String, String)]) -> Statement {
    let sql = d.by_keys("raw_records", "source_id, content_hash", &["source_id", "content_hash"], 2, "source = $1 AND outcome IN ('migrated', 'unchanged', 'skipped')");
    Statement::new(sql).bind(source).bind(serde_json::to_string(keys).expect("pairs"))
}

/// Party URNs for the given legacy party ids that the register knows.
pub async fn parties<D: Db>(db: &mut D, ids: &[String]) -> Result<HashMap<String, String>, D::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!("SELECT party_id, urn FROM parties WHERE {}", db.dialect().in_list("party_id", 1));
    let rows = db.query(Statement::new(sql).bind(json_list(ids))).await?;
    Ok(rows.iter().map(|r| (r.text(0), r.text(1))).collect())
}

/// The stored versions of the given element ids of `source`.
pub async fn current<D: Db>(db: &mut D, source: &str, source_ids: &[String]) -> Result<HashMap<String, Current>, D::Error> {
    Ok(stored_dialogs(db, source, source_ids).await?.into_iter().map(|(id, s)| (id, s.current)).collect())
}

async fn stored_dialogs<D: Db, S: AsRef<str>>(db: &mut D, source: &str, source_ids: &[S]) -> Result<HashMap<String, StoredDialog>, D::Error> {
    if source_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = db.query(stored_dialogs_statement(db.dialect(), source, source_ids)).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let current = Current { id: r.text(1), source_version: r.int(2), content_hash: r.text(3), document: r.text(4) };
            (r.text(0), StoredDialog { current, party: r.text(5), service_resource: r.text(6) })
        })
        .collect())
}

/// The versions that removed the given raw source ids, where any did.
pub async fn tombstones<D: Db>(db: &mut D, source: &str, source_ids: &[String]) -> Result<HashMap<String, i64>, D::Error> {
    if source_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = db.query(tombstones_statement(db.dialect(), source, source_ids)).await?;
    Ok(rows.iter().map(|r| (r.text(0), r.int(1))).collect())
}

/// The stored dialogs of the records `source_ids` of `source`, by source id.
pub fn stored_dialogs_statement<S: AsRef<str>>(d: Dialect, source: &str, source_ids: &[S]) -> Statement {
    let sql = d.by_keys("dialogs", "source_id, id, source_version, content_hash, document, party, service_resource", &["source_id"], 2, "source = $1");
    Statement::new(sql).bind(source).bind(json_list(source_ids))
}

/// The tombstones of the records `source_ids` of `source`.
pub fn tombstones_statement<S: AsRef<str>>(d: Dialect, source: &str, source_ids: &[S]) -> Statement {
    Statement::new(d.by_keys("tombstones", "source_id, source_version", &["source_id"], 2, "source = $1")).bind(source).bind(json_list(source_ids))
}

// ---- A page's commit ----

/// Writes one page in one write transaction: all of it, or (on any failure, a lost lease
/// among them) nothing.
pub async fn commit_page<D: Db>(db: &mut D, source: &str, c: &Commit, at: &str) -> Result<(), D::Error> {
    db.begin(source).await?;
    match commit(db, source, c, at).await {
        Ok(()) => Ok(db.commit().await?),
        Err(e) => {
            // The failure is what the caller needs to see; a failed rollback ends with the connection.
            let _ = db.rollback().await;
            Err(e)
        }
    }
}

/// Writes one page inside the write transaction `db` is in: staged records, dialogs where
/// newer, tombstones, dead letters, the cursor or the window's progress, change events; first
/// of all it renews the page's lease, or fails whole.
pub async fn commit<D: Db>(db: &mut D, source: &str, c: &Commit, at: &str) -> Result<(), D::Error> {
    let d = db.dialect();
    if let Some(f) = &c.fence {
        renew(db, source, f).await?;
    }
    let staged = last_per_key(&c.staged, |s| (s.record.source_id.clone(), s.content_hash.clone()));
    for chunk in staged.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO raw_records (source, source_id, content_hash, source_version, content_type, payload, origin, outcome, reason, waiting_party, dialog_id, first_seen, last_seen, created_day)
             VALUES {}
             ON CONFLICT (source, source_id, content_hash) DO UPDATE SET
               origin = excluded.origin, outcome = excluded.outcome, reason = excluded.reason,
               waiting_party = excluded.waiting_party, dialog_id = excluded.dialog_id, last_seen = excluded.last_seen",
            d.values(chunk.len(), 14)
        );
        let mut q = Statement::once(sql);
        for s in chunk {
            let r = &s.record;
            q = q.bind(source).bind(&r.source_id).bind(&s.content_hash).bind(r.version).bind(&r.content_type).bind(&r.payload).bind(&r.origin)
                .bind(s.outcome.as_str()).bind(&s.reason).bind(&s.waiting_party).bind(&s.dialog_id).bind(at).bind(at)
                .bind(r.created.and_then(day_of).map(|d| d.to_string()));
        }
        db.execute(q).await?;
    }
    let mut events = upsert_dialogs(db, source, c).await?;
    for (source_id, version) in &c.deletes {
        db.execute(
            Statement::new(
                "INSERT INTO tombstones (source, source_id, source_version, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (source, source_id) DO UPDATE SET source_version =
                   CASE WHEN excluded.source_version > tombstones.source_version THEN excluded.source_version ELSE tombstones.source_version END",
            )
            .bind(source).bind(source_id).bind(*version).bind(at),
        )
        .await?;
        let gone = db
            .query(
                Statement::new("DELETE FROM dialogs WHERE id IN (SELECT dialog_id FROM raw_records WHERE source = $1 AND source_id = $2 AND dialog_id IS NOT NULL) RETURNING id, party, service_resource")
                    .bind(source).bind(source_id),
            )
            .await?;
        events.extend(gone.iter().map(|r| NewEvent { dialog_id: r.text(0), kind: "deleted", party: r.text(1), service_resource: r.text(2), detail: None }));
    }
    for s in settle_dead_letters(d, source, &c.resolved, &c.read_ok) {
        db.execute(s).await?;
    }
    // A discarded letter stays discarded while it fails the same way; a new error reopens it.
    for x in &c.dead {
        db.execute(
            Statement::new(
                "INSERT INTO dead_letters (source, record_key, source_id, origin, phase, component, error, payload, first_seen, last_seen)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (source, record_key) DO UPDATE SET
                   origin = excluded.origin, phase = excluded.phase, component = excluded.component, error = excluded.error,
                   payload = excluded.payload, attempts = dead_letters.attempts + 1, last_seen = excluded.last_seen,
                   discarded_at = CASE WHEN dead_letters.error = excluded.error THEN dead_letters.discarded_at END,
                   discard_reason = CASE WHEN dead_letters.error = excluded.error THEN dead_letters.discard_reason END",
            )
            .bind(source).bind(&x.record_key).bind(&x.source_id).bind(&x.origin).bind(&x.phase).bind(&x.component).bind(&x.error).bind(&x.payload).bind(at).bind(at),
        )
        .await?;
    }
    if let Some((name, value)) = &c.checkpoint {
        db.execute(
            Statement::new(
                "INSERT INTO checkpoints (source, name, value, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (source, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(source).bind(name).bind(value).bind(at),
        )
        .await?;
    }
    if let Some(w) = &c.window {
        let n = &w.counts;
        let (state, completed) = if w.next_url.is_none() { ("done", Some(at)) } else { ("running", None) };
        db.execute(
            Statement::new(
                "INSERT INTO windows (source, first_day, last_day, state, next_url, pages, fetched, migrated, unchanged, skipped, waiting, dead, started_at, completed_at)
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (source, first_day) DO UPDATE SET
                   state = excluded.state, next_url = excluded.next_url, pages = windows.pages + 1,
                   fetched = windows.fetched + excluded.fetched, migrated = windows.migrated + excluded.migrated,
                   unchanged = windows.unchanged + excluded.unchanged, skipped = windows.skipped + excluded.skipped,
                   waiting = windows.waiting + excluded.waiting, dead = windows.dead + excluded.dead, completed_at = excluded.completed_at",
            )
            .bind(source).bind(&w.first_day).bind(&w.last_day).bind(state).bind(&w.next_url)
            .bind(n.fetched as i64).bind(n.migrated as i64).bind(n.unchanged as i64).bind(n.skipped as i64).bind(n.waiting as i64).bind(n.dead as i64)
            .bind(at).bind(completed),
        )
        .await?;
    }
    if let Some(silent) = c.sink {
        queue_for_sink(db, source, &events, silent, at).await?;
    }
    if !c.silent {
        append_events(db, source, at, &events).await?;
    }
    Ok(())
}

/// The deletes of the dead letters a commit settles: those of the records it wrote (by source
/// id) and the read failures of the lines it read (by record key or origin). Each searches an
/// index: a commit runs them all, and a scan of a source's dead letters would cost every
/// commit more as they pile up.
pub fn settle_dead_letters(d: Dialect, source: &str, resolved: &[String], read_ok: &[String]) -> Vec<Statement> {
    let mut out = Vec::new();
    if !resolved.is_empty() {
        let sql = format!("DELETE FROM dead_letters WHERE source = $1 AND {}", d.in_list("source_id", 2));
        out.push(Statement::new(sql).bind(source).bind(json_list(resolved)));
    }
    if !read_ok.is_empty() {
        // Two statements, as `OR` would scan the source's letters.
        for column in ["record_key", "origin"] {
            let sql = format!("DELETE FROM dead_letters WHERE source = $1 AND phase = 'read' AND {}", d.in_list(column, 2));
            out.push(Statement::new(sql).bind(source).bind(json_list(read_ok)));
        }
    }
    out
}

/// Queues each changed dialog for the Dialogporten sink, one row per dialog: a change to a
/// dialog already queued bumps its `seq` (the sender then sends the newest state once more),
/// and a loud change makes a silent one loud.
pub async fn queue_for_sink<D: Db>(db: &mut D, source: &str, events: &[NewEvent], silent: bool, at: &str) -> Result<(), D::Error> {
    let ids = last_per_key(events, |e| e.dialog_id.clone());
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO outbox (dialog_id, source, seq, silent, queued_at) VALUES {}
             ON CONFLICT (dialog_id) DO UPDATE SET seq = outbox.seq + 1, silent = outbox.silent * excluded.silent, not_before = 0",
            db.dialect().values(chunk.len(), 5)
        );
        let mut q = Statement::once(sql);
        for e in chunk {
            q = q.bind(&e.dialog_id).bind(source).bind(1i64).bind(silent as i64).bind(at);
        }
        db.execute(q).await?;
    }
    Ok(())
}

/// The page's dialogs, where newer than what is stored (read inside the transaction, so a
/// concurrent writer can never let an older version win), as one read and multi-row writes.
async fn upsert_dialogs<D: Db>(db: &mut D, source: &str, c: &Commit) -> Result<Vec<NewEvent>, D::Error> {
    if c.upserts.is_empty() {
        return Ok(Vec::new());
    }
    let found = stored_rows(db, source, &c.upserts).await?;
    let source_ids: HashSet<&str> = c.upserts.iter().map(|d| d.source_id.as_str()).collect();
    let mut stored: HashMap<String, StoredDialog> = found
        .iter()
        .filter(|(s, r)| s == source && source_ids.contains(r.source_id.as_str()))
        .map(|(_, r)| {
            let current = Current { id: r.id.clone(), source_version: r.source_version, content_hash: r.content_hash.clone(), document: r.document.clone() };
            (r.source_id.clone(), StoredDialog { current, party: r.party.clone(), service_resource: r.service_resource.clone() })
        })
        .collect();
    let rows = across_sources(source, &c.upserts, found, &mut stored);
    let Upserts { gone, write, events } = crate::changes::upserts(&rows, stored, c.replay);
    let d = db.dialect();
    if !gone.is_empty() {
        let sql = format!("DELETE FROM dialogs WHERE {}", d.in_list("id", 1));
        db.execute(Statement::new(sql).bind(json_list(&gone))).await?;
    }
    let write = last_per_key(write, |d| d.id.clone());
    for chunk in write.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO dialogs (id, source, source_id, source_version, content_hash, party, service_resource, status, system_label, created_at, updated_at, transformer_hash, projector_hash, document, sync_mode)
             VALUES {}
             ON CONFLICT (id) DO UPDATE SET
               source_version = excluded.source_version, content_hash = excluded.content_hash, party = excluded.party,
               service_resource = excluded.service_resource, status = excluded.status, system_label = excluded.system_label,
               created_at = excluded.created_at, updated_at = excluded.updated_at, transformer_hash = excluded.transformer_hash,
               projector_hash = excluded.projector_hash, document = excluded.document, sync_mode = excluded.sync_mode",
            d.values(chunk.len(), 15)
        );
        let mut q = Statement::once(sql);
        for x in chunk {
            q = q.bind(&x.id).bind(source).bind(&x.source_id).bind(x.source_version).bind(&x.content_hash).bind(&x.party).bind(&x.service_resource)
                .bind(&x.status).bind(&x.system_label).bind(x.created_at).bind(x.updated_at).bind(&x.transformer_hash).bind(&x.projector_hash).bind(&x.document)
                .bind(&x.sync_mode);
        }
        db.execute(q).await?;
    }
    Ok(events)
}

/// The stored dialogs a page's rows meet, with the source that made each: those of the same
/// records (by source and source id) and those of the same ids, which another source's record
/// may have made. One read: a live tick's dialogs are mostly both, and each document is read once.
async fn stored_rows<D: Db>(db: &mut D, source: &str, rows: &[DialogRow]) -> Result<Vec<(String, DialogRow)>, D::Error> {
    let ids: Vec<&str> = rows.iter().map(|d| d.id.as_str()).collect();
    let source_ids: Vec<&str> = rows.iter().map(|d| d.source_id.as_str()).collect();
    let found = db.query(stored_rows_statement(db.dialect(), source, &ids, &source_ids)).await?;
    Ok(found
        .iter()
        .map(|r| {
            let row = DialogRow {
                id: r.text(0),
                source_id: r.text(2),
                source_version: r.int(3),
                content_hash: r.text(4),
                party: r.text(5),
                service_resource: r.text(6),
                status: r.text(7),
                system_label: r.text(8),
                created_at: r.int(9),
                updated_at: r.int(10),
                transformer_hash: r.text(11),
                projector_hash: r.text(12),
                document: r.text(13),
                sync_mode: r.opt_text(14),
            };
            (r.text(1), row)
        })
        .collect())
}

/// [`stored_rows`]' statement: the dialogs of `ids`, and those of `source`'s `source_ids`.
pub fn stored_rows_statement<S: AsRef<str>>(d: Dialect, source: &str, ids: &[S], source_ids: &[S]) -> Statement {
    let sql = format!(
        "SELECT id, source, source_id, source_version, content_hash, party, service_resource, status, system_label, created_at, updated_at, transformer_hash, projector_hash, document, sync_mode
         FROM dialogs WHERE {} OR (source = $2 AND {})",
        d.in_list("id", 1),
        d.in_list("source_id", 3)
    );
    Statement::new(sql).bind(json_list(ids)).bind(source).bind(json_list(source_ids))
}

/// One message in two sources is one dialog: the projector gives an Altinn 3 correspondence
/// migrated from Altinn 2 the id of its Altinn 2 record's dialog. A row whose dialog another
/// source's record made (in `found`, read inside the transaction) is the newest version of
/// either when its version is newer (the source's name breaks a tie, so the order they come in
/// does not matter): it is written with the labels of both. When it is older, the stored dialog
/// stays as it is and gains the row's labels. The dialog keeps the source and record that
/// made it first.
fn across_sources(source: &str, rows: &[DialogRow], found: Vec<(String, DialogRow)>, stored: &mut HashMap<String, StoredDialog>) -> Vec<DialogRow> {
    let ids: HashSet<&str> = rows.iter().map(|d| d.id.as_str()).collect();
    let mut others: HashMap<String, (String, DialogRow)> = found.into_iter().filter(|(_, r)| ids.contains(r.id.as_str())).map(|(s, r)| (r.id.clone(), (s, r))).collect();
    let mut out = Vec::with_capacity(rows.len());
    for d in rows {
        let Some((other_source, other)) = others.get(&d.id).filter(|(s, o)| !(s == source && o.source_id == d.source_id)) else {
            out.push(d.clone());
            continue;
        };
        // The stored dialog, as though it were this record's: an update of it, never a create.
        let before = |document: &str| StoredDialog {
            current: Current { id: other.id.clone(), source_version: i64::MIN, content_hash: String::new(), document: document.to_string() },
            party: other.party.clone(),
            service_resource: other.service_resource.clone(),
        };
        let mut row = if (d.source_version, source) > (other.source_version, other_source.as_str()) {
            DialogRow { document: crate::validate::with_labels_of(&d.document, &other.document), ..d.clone() }
        } else {
            DialogRow { document: crate::validate::with_labels_of(&other.document, &d.document), ..other.clone() }
        };
        stored.insert(row.source_id.clone(), before(&other.document));
        // Later rows of this page for the same dialog meet what this one leaves.
        others.insert(row.id.clone(), (other_source.clone(), row.clone()));
        row.sync_mode = row.sync_mode.or(d.sync_mode.clone());
        out.push(row);
    }
    out
}

/// Appends change events in commit order. Their sequence numbers come from one counter row,
/// taken last in the transaction and held to its commit: events become visible in sequence
/// order, so a reader resuming after N never misses one committed later below N.
pub async fn append_events<D: Db>(db: &mut D, source: &str, at: &str, events: &[NewEvent]) -> Result<(), D::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = db.query(Statement::new("UPDATE counters SET value = value + $1 WHERE name = 'events' RETURNING value").bind(events.len() as i64)).await?;
    let mut seq = rows.first().map_or(0, |r| r.int(0)) - events.len() as i64;
    for chunk in events.chunks(CHUNK) {
        let sql = format!("INSERT INTO change_events (seq, dialog_id, kind, source, at, party, service_resource, detail) VALUES {}", db.dialect().values(chunk.len(), 8));
        let mut q = Statement::once(sql);
        for e in chunk {
            seq += 1;
            q = q.bind(seq).bind(&e.dialog_id).bind(e.kind).bind(source).bind(at).bind(&e.party).bind(&e.service_resource).bind(e.detail.as_ref().map(|d| d.to_string()));
        }
        db.execute(q).await?;
    }
    Ok(())
}

// ---- Leases ----

/// Takes or renews lease `name` of `source` for `holder` for `ttl_micros`, by the database's
/// clock; false if another host holds it and it has not expired.
pub async fn acquire<D: Db>(db: &mut D, source: &str, name: &str, holder: &str, ttl_micros: i64) -> Result<bool, D::Error> {
    let sql = format!(
        "INSERT INTO leases (source, name, holder, expires_at) VALUES ($1, $2, $3, {now} + $4)
         ON CONFLICT (source, name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at < {now}
         RETURNING holder",
        now = db.dialect().now_micros()
    );
    Ok(!db.query(Statement::new(sql).bind(source).bind(name).bind(holder).bind(ttl_micros)).await?.is_empty())
}

/// Records a host (a `dialogsync run` process, a Spin tick) as running, seen now; seen no
/// longer than `heartbeat_micros` ago, it counts as alive.
/// `process` (MACHINE:PID) names the process, where there is one.
pub async fn register_host<D: Db>(db: &mut D, id: &str, at: &str, heartbeat_micros: i64, process: Option<&str>) -> Result<(), D::Error> {
    db.execute(
        Statement::new(
            "INSERT INTO hosts (id, started_at, seen_at, heartbeat_micros, process) VALUES ($1, $2, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, heartbeat_micros = excluded.heartbeat_micros, process = excluded.process, stopped_at = NULL",
        )
        .bind(id)
        .bind(at)
        .bind(heartbeat_micros)
        .bind(process),
    )
    .await?;
    Ok(())
}

/// A running host's heartbeat: seen now.
pub async fn heartbeat<D: Db>(db: &mut D, id: &str, at: &str) -> Result<(), D::Error> {
    db.execute(Statement::new("UPDATE hosts SET seen_at = $2 WHERE id = $1").bind(id).bind(at)).await?;
    Ok(())
}

/// Host `id`, if it is registered, has not stopped, and was seen within its heartbeat at
/// `now_micros` (a host killed without a clean stop is alive until its heartbeat lapses): its
/// process (MACHINE:PID), if it recorded one.
pub async fn host_alive<D: Db>(db: &mut D, id: &str, now_micros: i64) -> Result<Option<Option<String>>, D::Error> {
    let rows = db.query(Statement::new("SELECT seen_at, heartbeat_micros, process FROM hosts WHERE id = $1 AND stopped_at IS NULL").bind(id)).await?;
    Ok(rows.first().filter(|r| crate::status::alive(&r.text(0), r.opt_int(1), now_micros)).map(|r| r.opt_text(2)))
}

/// Gives up a lease the holder is done with (a finished window).
pub async fn release<D: Db>(db: &mut D, source: &str, name: &str, holder: &str) -> Result<(), D::Error> {
    db.execute(Statement::new("DELETE FROM leases WHERE source = $1 AND name = $2 AND holder = $3").bind(source).bind(name).bind(holder)).await?;
    Ok(())
}

/// Renews `fence` inside a commit's transaction, or fails if it passed to another host.
async fn renew<D: Db>(db: &mut D, source: &str, fence: &Fence) -> Result<(), D::Error> {
    let sql = format!("UPDATE leases SET expires_at = {} + $4 WHERE source = $1 AND name = $2 AND holder = $3", db.dialect().now_micros());
    match db.execute(Statement::new(sql).bind(source).bind(&fence.name).bind(&fence.holder).bind(fence.ttl_micros)).await? {
        1 => Ok(()),
        _ => Err(Error::LeaseLost { source_name: source.into(), lease: fence.name.clone(), holder: fence.holder.clone() }),
    }
}

// ---- Source states, cursors, windows, the changelog ----

/// A source's live state.
#[derive(Debug, Clone, Serialize)]
pub struct SourceState {
    pub source: String,
    /// running, paused, auto-paused.
    pub state: String,
    pub reason: Option<String>,
    pub state_since: String,
    /// Failed ticks in a row.
    pub failures: i64,
    pub last_error: Option<String>,
    /// When live sync began (microseconds).
    pub live_since: Option<i64>,
    pub last_tick_at: Option<String>,
    pub last_tick_ok_at: Option<String>,
    /// How long the last tick took.
    pub last_tick_ms: Option<i64>,
    /// The host that ran it.
    pub last_tick_by: Option<String>,
}

const SOURCE_STATE: &str = "SELECT source, state, reason, state_since, failures, last_error, live_since, last_tick_at, last_tick_ok_at, last_tick_ms, last_tick_by FROM source_state";

fn source_state_row(r: &Row) -> SourceState {
    SourceState {
        source: r.text(0),
        state: r.text(1),
        reason: r.opt_text(2),
        state_since: r.text(3),
        failures: r.int(4),
        last_error: r.opt_text(5),
        live_since: r.opt_int(6),
        last_tick_at: r.opt_text(7),
        last_tick_ok_at: r.opt_text(8),
        last_tick_ms: r.opt_int(9),
        last_tick_by: r.opt_text(10),
    }
}

pub async fn source_state<D: Db>(db: &mut D, source: &str) -> Result<Option<SourceState>, D::Error> {
    Ok(db.query(Statement::new(format!("{SOURCE_STATE} WHERE source = $1")).bind(source)).await?.first().map(source_state_row))
}

pub async fn source_states<D: Db>(db: &mut D) -> Result<Vec<SourceState>, D::Error> {
    Ok(db.query(Statement::new(format!("{SOURCE_STATE} ORDER BY source"))).await?.iter().map(source_state_row).collect())
}

/// The source's state, created (running, live from `now_micros`) the first time it is run.
pub async fn begin_source<D: Db>(db: &mut D, source: &str, at: &str, now_micros: i64) -> Result<SourceState, D::Error> {
    let inserted = db
        .execute(Statement::new("INSERT INTO source_state (source, state, state_since, live_since) VALUES ($1, 'running', $2, $3) ON CONFLICT (source) DO NOTHING").bind(source).bind(at).bind(now_micros))
        .await?;
    if inserted == 1 {
        log(db, Some(source), "started", "live sync started", None, at).await?;
    }
    Ok(source_state(db, source).await?.expect("just written"))
}

/// Pauses or resumes a source; returns false if it already was in that state.
pub async fn set_state<D: Db>(db: &mut D, source: &str, state: &str, reason: Option<&str>, at: &str) -> Result<bool, D::Error> {
    let changed = db
        .execute(
            Statement::new(
                "INSERT INTO source_state (source, state, reason, state_since, failures) VALUES ($1, $2, $3, $4, 0)
                 ON CONFLICT (source) DO UPDATE SET state = $2, reason = $3, state_since = $4, failures = 0
                 WHERE source_state.state <> $2 OR source_state.reason IS DISTINCT FROM $3",
            )
            .bind(source).bind(state).bind(reason).bind(at),
        )
        .await?
        == 1;
    if changed {
        let message = match (state, reason) {
            ("running", _) => "live sync resumed".to_string(),
            (s, Some(r)) => format!("{s}: {r}"),
            (s, None) => s.to_string(),
        };
        let kind = if state == "running" { "resumed" } else { "paused" };
        log(db, Some(source), kind, &message, None, at).await?;
    }
    Ok(changed)
}

/// Records a tick's end. After `max_failures` failures in a row the source pauses itself;
/// returns the reason when it just did.
pub async fn tick_finished<D: Db>(db: &mut D, source: &str, by: &str, error: Option<&str>, max_failures: u32, took_ms: i64, at: &str) -> Result<Option<String>, D::Error> {
    db.execute(Statement::new("UPDATE source_state SET last_tick_ms = $1, last_tick_by = $3 WHERE source = $2").bind(took_ms).bind(source).bind(by)).await?;
    let Some(e) = error else {
        db.execute(Statement::new("UPDATE source_state SET failures = 0, last_error = NULL, last_tick_at = $2, last_tick_ok_at = $2 WHERE source = $1").bind(source).bind(at)).await?;
        return Ok(None);
    };
    let rows = db
        .query(Statement::new("UPDATE source_state SET failures = failures + 1, last_error = $2, last_tick_at = $3 WHERE source = $1 RETURNING failures").bind(source).bind(e).bind(at))
        .await?;
    let failures = rows.first().map_or(0, |r| r.int(0));
    if failures >= max_failures as i64 {
        let reason = format!("{failures} failed ticks in a row; last: {e}");
        set_state(db, source, "auto-paused", Some(&reason), at).await?;
        return Ok(Some(reason));
    }
    Ok(None)
}

/// A named checkpoint of a source (the live cursor is `live`).
pub async fn checkpoint<D: Db>(db: &mut D, source: &str, name: &str) -> Result<Option<String>, D::Error> {
    Ok(db.query(Statement::new("SELECT value FROM checkpoints WHERE source = $1 AND name = $2").bind(source).bind(name)).await?.first().and_then(|r| r.opt_text(0)))
}

/// Adds a dated changelog entry, with structured details if any.
pub async fn log<D: Db>(db: &mut D, source: Option<&str>, kind: &str, message: &str, data: Option<serde_json::Value>, at: &str) -> Result<(), D::Error> {
    db.execute(Statement::new("INSERT INTO changelog (at, source, kind, message, data) VALUES ($1, $2, $3, $4, $5)").bind(at).bind(source).bind(kind).bind(message).bind(data.map(|d| d.to_string())))
        .await?;
    Ok(())
}

/// One historic window and its counts.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub source: String,
    pub first_day: String,
    pub last_day: String,
    /// running (pages left), done.
    pub state: String,
    pub next_url: Option<String>,
    pub pages: i64,
    pub fetched: i64,
    pub migrated: i64,
    pub unchanged: i64,
    pub skipped: i64,
    pub waiting: i64,
    pub dead: i64,
    pub started_at: String,
    pub completed_at: Option<String>,
}

const WINDOW: &str = "SELECT source, first_day, last_day, state, next_url, pages, fetched, migrated, unchanged, skipped, waiting, dead, started_at, completed_at FROM windows";

fn window_row(r: &Row) -> Window {
    Window {
        source: r.text(0),
        first_day: r.text(1),
        last_day: r.text(2),
        state: r.text(3),
        next_url: r.opt_text(4),
        pages: r.int(5),
        fetched: r.int(6),
        migrated: r.int(7),
        unchanged: r.int(8),
        skipped: r.int(9),
        waiting: r.int(10),
        dead: r.int(11),
        started_at: r.text(12),
        completed_at: r.opt_text(13),
    }
}

/// Historic windows (of one source, or all), newest first.
pub async fn windows<D: Db>(db: &mut D, source: Option<&str>) -> Result<Vec<Window>, D::Error> {
    Ok(db.query(Statement::new(format!("{WINDOW} WHERE (CAST($1 AS TEXT) IS NULL OR source = $1) ORDER BY source, first_day DESC")).bind(source)).await?.iter().map(window_row).collect())
}

pub async fn window<D: Db>(db: &mut D, source: &str, first_day: &str) -> Result<Option<Window>, D::Error> {
    Ok(db.query(Statement::new(format!("{WINDOW} WHERE source = $1 AND first_day = $2")).bind(source).bind(first_day)).await?.first().map(window_row))
}

/// The first days of a source's finished windows.
pub async fn done_windows<D: Db>(db: &mut D, source: &str) -> Result<std::collections::BTreeSet<String>, D::Error> {
    Ok(windows(db, Some(source)).await?.into_iter().filter(|w| w.state == "done").map(|w| w.first_day).collect())
}

/// A staged record read back (replay, waiting records): its columns
/// `source_id, source_version, payload, content_type, origin, created_day`.
pub fn raw_record(r: &Row) -> RawRecord {
    RawRecord {
        source_id: r.text(0),
        version: r.int(1),
        payload: r.blob(2),
        content_type: r.text(3),
        origin: r.text(4),
        created: r.opt_text(5).and_then(|d| d.parse::<chrono::NaiveDate>().ok()).map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros()),
    }
}

/// Records of `source` waiting for a party the register now knows (their newest staged
/// version), at most `limit`.
pub async fn waiting_ready<D: Db>(db: &mut D, source: &str, limit: i64) -> Result<Vec<RawRecord>, D::Error> {
    let rows = db
        .query(
            Statement::new(
                "SELECT source_id, source_version, payload, content_type, origin, created_day FROM (
                   SELECT *, ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY source_version DESC, last_seen DESC) AS n
                   FROM raw_records WHERE source = $1) AS t
                 WHERE n = 1 AND outcome = 'waiting' AND waiting_party IN (SELECT party_id FROM parties) LIMIT $2",
            )
            .bind(source).bind(limit),
        )
        .await?;
    Ok(rows.iter().map(raw_record).collect())
}
