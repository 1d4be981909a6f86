//! The tick's I/O through what Spin provides: its SQLite or PostgreSQL as the sync core's
//! [`Db`], outbound HTTP (`wasi:http`) for the source, clocks, and the imported components.

use crate::dialogsync::pipeline::{projector, transformer};
use crate::fermyon::spin::{postgres, rdbms_types as pg, sqlite};
use crate::wasi::clocks::wall_clock;
use crate::wasi::http::{outgoing_handler, types as http};
use crate::wasi::io::streams::StreamError;
use dialogsync_core::db::{self, Db, Dialect, Param, Row, Statement, Value};
use dialogsync_core::flow::Shell;
use dialogsync_core::source::{Api, Page};
use dialogsync_core::Transform;
use dialogsync_sdk::types::{Dialog, Element, ProjectionContext, SourceRecord, Transformed};

/// A failure of the tick, said in words (it ends in the source's state and the trigger's log).
#[derive(Debug)]
pub struct TickError(pub String);

impl From<db::Error<String>> for TickError {
    fn from(e: db::Error<String>) -> TickError {
        TickError(e.to_string())
    }
}

impl From<String> for TickError {
    fn from(e: String) -> TickError {
        TickError(e)
    }
}

/// Spin's database connection.
pub enum SpinDb {
    Sqlite(sqlite::Connection),
    Postgres(postgres::Connection),
}

impl SpinDb {
    /// `sqlite` (Spin's default database) or `sqlite:NAME`, or a `postgres://` address.
    pub fn open(store: &str) -> Result<SpinDb, String> {
        if store.starts_with("postgres://") || store.starts_with("postgresql://") {
            return postgres::Connection::open(store).map(SpinDb::Postgres).map_err(|e| format!("opening PostgreSQL: {e:?}"));
        }
        let name = store.strip_prefix("sqlite:").filter(|n| !n.is_empty()).unwrap_or("default");
        sqlite::Connection::open(name).map(SpinDb::Sqlite).map_err(|e| format!("opening Spin's SQLite database `{name}`: {e:?}"))
    }
}

/// `$N` as `?N`: Spin binds SQLite parameters by position, and SQLite numbers `$N` by first
/// appearance, `?N` by N (the host's sqlx reads either).
fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn sqlite_param(p: &Param) -> sqlite::Value {
    match p {
        Param::Int(Some(v)) => sqlite::Value::Integer(*v),
        Param::Text(Some(v)) => sqlite::Value::Text(v.clone()),
        Param::Blob(Some(v)) => sqlite::Value::Blob(v.clone()),
        _ => sqlite::Value::Null,
    }
}

fn sqlite_value(v: sqlite::Value) -> Value {
    match v {
        sqlite::Value::Integer(i) => Value::Int(i),
        sqlite::Value::Real(r) => Value::Real(r),
        sqlite::Value::Text(t) => Value::Text(t),
        sqlite::Value::Blob(b) => Value::Blob(b),
        sqlite::Value::Null => Value::Null,
    }
}

fn pg_param(p: &Param) -> pg::ParameterValue {
    match p {
        Param::Int(Some(v)) => pg::ParameterValue::Int64(*v),
        Param::Text(Some(v)) => pg::ParameterValue::Str(v.clone()),
        Param::Blob(Some(v)) => pg::ParameterValue::Binary(v.clone()),
        _ => pg::ParameterValue::DbNull,
    }
}

fn pg_value(v: pg::DbValue) -> Value {
    use pg::DbValue as V;
    match v {
        V::Boolean(b) => Value::Int(b as i64),
        V::Int8(i) => Value::Int(i.into()),
        V::Int16(i) => Value::Int(i.into()),
        V::Int32(i) => Value::Int(i.into()),
        V::Int64(i) => Value::Int(i),
        V::Uint8(i) => Value::Int(i.into()),
        V::Uint16(i) => Value::Int(i.into()),
        V::Uint32(i) => Value::Int(i.into()),
        V::Uint64(i) => Value::Int(i as i64),
        V::Floating32(f) => Value::Real(f.into()),
        V::Floating64(f) => Value::Real(f),
        V::Str(s) => Value::Text(s),
        V::Binary(b) => Value::Blob(b),
        V::DbNull | V::Unsupported => Value::Null,
    }
}

impl Db for SpinDb {
    type Error = String;

    fn dialect(&self) -> Dialect {
        match self {
            SpinDb::Sqlite(_) => Dialect::Sqlite,
            SpinDb::Postgres(_) => Dialect::Postgres,
        }
    }

    async fn query(&mut self, s: Statement) -> Result<Vec<Row>, String> {
        match self {
            SpinDb::Sqlite(c) => {
                let params: Vec<sqlite::Value> = s.params.iter().map(sqlite_param).collect();
                let result = c.execute(&sqlite_sql(&s.sql), &params).map_err(|e| format!("SQLite: {e:?}"))?;
                Ok(result.rows.into_iter().map(|r| Row(r.values.into_iter().map(sqlite_value).collect())).collect())
            }
            SpinDb::Postgres(c) => {
                let params: Vec<pg::ParameterValue> = s.params.iter().map(pg_param).collect();
                let set = c.query(&s.sql, &params).map_err(|e| format!("PostgreSQL: {e:?}"))?;
                Ok(set.rows.into_iter().map(|r| Row(r.into_iter().map(pg_value).collect())).collect())
            }
        }
    }

    async fn execute(&mut self, s: Statement) -> Result<u64, String> {
        match self {
            SpinDb::Sqlite(c) => {
                let params: Vec<sqlite::Value> = s.params.iter().map(sqlite_param).collect();
                c.execute(&sqlite_sql(&s.sql), &params).map_err(|e| format!("SQLite: {e:?}"))?;
                // Spin's SQLite says nothing of rows changed; the connection does.
                let changes = c.execute("SELECT changes()", &[]).map_err(|e| format!("SQLite: {e:?}"))?;
                Ok(changes.rows.first().and_then(|r| r.values.first()).map_or(0, |v| match v {
                    sqlite::Value::Integer(n) => *n as u64,
                    _ => 0,
                }))
            }
            SpinDb::Postgres(c) => {
                let params: Vec<pg::ParameterValue> = s.params.iter().map(pg_param).collect();
                c.execute(&s.sql, &params).map_err(|e| format!("PostgreSQL: {e:?}"))
            }
        }
    }
}

/// GET `url` through Spin's outbound HTTP: the body of a 2xx answer.
pub fn get(url: &str) -> Result<Vec<u8>, String> {
    let fail = |m: String| format!("GET {url}: {m}");
    let (scheme, rest) = url.split_once("://").ok_or_else(|| fail("not an absolute URL".into()))?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.starts_with('?') { format!("/{path}") } else if path.is_empty() { "/".into() } else { path.to_string() };
    let headers = http::Fields::new();
    headers.append("accept", b"application/json").map_err(|e| fail(format!("{e:?}")))?;
    let request = http::OutgoingRequest::new(headers);
    let scheme = if scheme == "https" { http::Scheme::Https } else { http::Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|_| fail("bad scheme".into()))?;
    request.set_authority(Some(authority)).map_err(|_| fail("bad authority".into()))?;
    request.set_path_with_query(Some(&path)).map_err(|_| fail("bad path".into()))?;
    let body = request.body().map_err(|_| fail("request body".into()))?;
    http::OutgoingBody::finish(body, None).map_err(|e| fail(format!("{e:?}")))?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| fail(format!("{e:?}")))?;
    let response = loop {
        match pending.get() {
            Some(r) => break r.map_err(|_| fail("response taken twice".into()))?.map_err(|e| fail(format!("{e:?}")))?,
            None => pending.subscribe().block(),
        }
    };
    let status = response.status();
    let incoming = response.consume().map_err(|_| fail("response body".into()))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|_| fail("response stream".into()))?;
        loop {
            match stream.blocking_read(1 << 16) {
                Ok(chunk) => bytes.extend(chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => return Err(fail(e.to_debug_string())),
            }
        }
    }
    drop(incoming);
    match status {
        200..=299 => Ok(bytes),
        _ => Err(fail(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>()))),
    }
}

/// Now, microseconds since the epoch.
pub fn now_micros() -> i64 {
    let t = wall_clock::now();
    t.seconds as i64 * 1_000_000 + (t.nanoseconds / 1000) as i64
}

/// The store's row stamp: RFC 3339, milliseconds, UTC.
pub fn stamp() -> String {
    chrono::DateTime::from_timestamp_micros(now_micros()).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
}

/// The tick's shell for the sync core.
pub struct SpinShell {
    pub db: SpinDb,
    pub api: Api,
    /// Records per call of a component.
    pub batch_size: usize,
}

impl Shell for SpinShell {
    type Element = Element;
    type Db = SpinDb;
    type Error = TickError;

    fn db(&mut self) -> &mut SpinDb {
        &mut self.db
    }

    async fn fetch(&mut self, url: &str) -> Result<Page, TickError> {
        let body = get(url)?;
        Ok(self.api.page(url, &body).map_err(|e| format!("GET {url}: {e}"))?)
    }

    async fn transform(&mut self, input: Vec<SourceRecord>) -> Result<(Vec<SourceRecord>, Vec<Result<Transform<Element>, String>>), TickError> {
        let mut out = Vec::with_capacity(input.len());
        for chunk in input.chunks(self.batch_size.max(1)) {
            out.extend(transformer::transform(chunk).into_iter().map(|r| match r {
                Ok(Transformed::Element(e)) => Ok(Transform::Element(e)),
                Ok(Transformed::Skip(s)) => Ok(Transform::Skip { reason: s.reason, remove_existing: s.remove_existing }),
                Err(e) => Err(e.to_string()),
            }));
        }
        Ok((input, out))
    }

    async fn project(&mut self, ctx: ProjectionContext, elements: Vec<Element>) -> Result<Vec<Result<Dialog, String>>, TickError> {
        let mut out = Vec::with_capacity(elements.len());
        for chunk in elements.chunks(self.batch_size.max(1)) {
            out.extend(projector::project(ctx, chunk).into_iter().map(|r| r.map_err(|e| e.to_string())));
        }
        Ok(out)
    }

    fn stamp(&self) -> String {
        stamp()
    }

    fn now_micros(&self) -> i64 {
        now_micros()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_parameters_are_numbered_by_their_number() {
        assert_eq!(super::sqlite_sql("SET a = $2, b = $2 WHERE s = $1 AND j = '$[0]' AND k = '$.x'"), "SET a = ?2, b = ?2 WHERE s = ?1 AND j = '$[0]' AND k = '$.x'");
    }
}
