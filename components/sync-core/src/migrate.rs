//! The store's schema for shells without sqlx (the Spin tick components): the same migration
//! files the host's sqlx applies, recorded the way sqlx records them (`_sqlx_migrations`, a
//! SHA-384 checksum of each file), so a host opening the same database later finds them applied.

use crate::db::{Db, Dialect, Result, Statement};
use sha2::{Digest, Sha384};

/// One migration file.
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// A migration's statements, one per call (Spin's `execute` runs one statement): comments
/// dropped, split at `;` (the migrations hold no `;` inside literals or triggers).
pub fn statements(sql: &str) -> Vec<String> {
    let code: String = sql.lines().map(|l| l.split_once("--").map_or(l, |(code, _)| code)).collect::<Vec<_>>().join("\n");
    code.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Applies the migrations `db` lacks, each in a transaction with its record; they are taken in
/// turn with other writers (a write transaction keyed `migrations`).
pub async fn migrate<D: Db>(db: &mut D) -> Result<u32, D::Error> {
    let (migrations, table) = match db.dialect() {
        Dialect::Sqlite => (SQLITE, "installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL"),
        Dialect::Postgres => (POSTGRES, "installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL"),
    };
    let create = format!("CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, {table}, execution_time BIGINT NOT NULL)");
    db.execute(Statement::new(create)).await?;
    let mut applied = 0;
    for m in migrations {
        db.begin("migrations").await?;
        let done = !db.query(Statement::new("SELECT version FROM _sqlx_migrations WHERE version = $1").bind(m.version)).await?.is_empty();
        if done {
            db.commit().await?;
            continue;
        }
        let result = async {
            for s in statements(m.sql) {
                db.execute(Statement::new(s)).await?;
            }
            let checksum = Sha384::digest(m.sql.as_bytes()).to_vec();
            db.execute(
                Statement::new("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, -1)")
                    .bind(m.version)
                    .bind(m.description)
                    .bind(&checksum),
            )
            .await
        }
        .await;
        match result {
            Ok(_) => db.commit().await?,
            Err(e) => {
                let _ = db.rollback().await;
                return Err(e.into());
            }
        }
        applied += 1;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    #[test]
    fn statements_drop_comments_and_split() {
        assert_eq!(super::statements("-- a; b\nCREATE TABLE t (x INTEGER); -- c\n\nINSERT INTO t VALUES (1);\n"), ["CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (1)"]);
        assert!(super::SQLITE.len() >= 9 && super::POSTGRES.len() >= 2);
        assert_eq!(super::SQLITE[0].description, "init");
    }
}
