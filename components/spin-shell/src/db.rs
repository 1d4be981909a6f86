//! Spin's SQLite or PostgreSQL as the sync core's [`Db`]: the store's statements, run on
//! Spin's database interfaces.

use crate::fermyon::spin::{postgres, rdbms_types as pg, sqlite};
use dialogsync_core::db::{Db, Dialect, Param, Row, Statement, Value};

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

/// `sql` returning at least one row: its rows behind a marker column, or one row whose marker
/// is NULL. Spin 4.0.0–4.0.2's synchronous PostgreSQL `query` never returns when a statement
/// matches no rows (spinframework/spin#3671, fixed after 4.0.2 by #3673); the one-row outer
/// side of a join `ON TRUE` is a nested loop, so the rows keep `sql`'s order. A top-level
/// `WITH` may hold an `INSERT`/`UPDATE`/`DELETE … RETURNING`, so every statement fits.
pub fn pg_at_least_one_row(sql: &str) -> String {
    let sql = sql.trim().trim_end_matches(';');
    format!("WITH dialogsync_q AS ({sql}) SELECT dialogsync_t.* FROM (SELECT 1) AS dialogsync_one LEFT JOIN (SELECT 1 AS dialogsync_row, dialogsync_q.* FROM dialogsync_q) AS dialogsync_t ON TRUE")
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
                let set = c.query(&pg_at_least_one_row(&s.sql), &params).map_err(|e| format!("PostgreSQL: {e:?}"))?;
                // The marker column: NULL only on the stand-in row of an empty result.
                Ok(set.rows.into_iter().filter(|r| !matches!(r.first(), Some(pg::DbValue::DbNull) | None)).map(|r| Row(r.into_iter().skip(1).map(pg_value).collect())).collect())
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

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_parameters_are_numbered_by_their_number() {
        assert_eq!(super::sqlite_sql("SET a = $2, b = $2 WHERE s = $1 AND j = '$[0]' AND k = '$.x'"), "SET a = ?2, b = ?2 WHERE s = ?1 AND j = '$[0]' AND k = '$.x'");
    }
}
