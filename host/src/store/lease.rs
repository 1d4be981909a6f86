//! Several hosts, one store: hosts register, and take leases on a source's live tick and on
//! historic windows. A lease is one row, taken with a conditional upsert — it goes to the
//! caller if nobody holds it, the caller already does, or the holder let it expire — which is
//! atomic on both backends (SQLite's one writer; PostgreSQL's row lock on the conflicting row).
//! Expiry is judged by the database's clock, so hosts' clocks need not agree.

use super::{Backend, Result, Store, StoreError, Tx, now};
use serde::Serialize;
use sqlx::Row;

/// A lease: what, for whom, until when.
#[derive(Debug, Clone, Serialize)]
pub struct Lease {
    pub source: String,
    /// `live`, or `window:DAY` (the window's first day).
    pub name: String,
    pub holder: String,
    /// Microseconds, by the database's clock.
    pub expires_at: i64,
}

/// A host as the store knows it.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub id: String,
    pub started_at: String,
    pub seen_at: String,
    pub stopped_at: Option<String>,
}

pub use dialogsync_core::commit::Fence;

impl Store {
    /// The database's clock, in microseconds since the epoch.
    fn db_now(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)",
            Backend::Postgres => "CAST(extract(epoch from clock_timestamp()) * 1000000 AS BIGINT)",
        }
    }

    pub async fn register_host(&self, id: &str) -> Result<()> {
        sqlx::query("INSERT INTO hosts (id, started_at, seen_at) VALUES ($1, $2, $2) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, stopped_at = NULL")
            .bind(id).bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A clean stop: the host's leases are given up at once, for others to take.
    pub async fn host_stopped(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE holder = $1").bind(id).execute(&self.pool).await?;
        sqlx::query("UPDATE hosts SET stopped_at = $2 WHERE id = $1").bind(id).bind(now()).execute(&self.pool).await?;
        Ok(())
    }

    /// Takes or renews lease `name` of `source` for `holder` for `ttl_micros`; false if another
    /// host holds it and it has not expired.
    pub async fn acquire(&self, source: &str, name: &str, holder: &str, ttl_micros: i64) -> Result<bool> {
        let sql = format!(
            "INSERT INTO leases (source, name, holder, expires_at) VALUES ($1, $2, $3, {now} + $4)
             ON CONFLICT (source, name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < {now}
             RETURNING holder",
            now = self.db_now()
        );
        let got = sqlx::query(super::safe(sql)).bind(source).bind(name).bind(holder).bind(ttl_micros).fetch_optional(&self.pool).await?.is_some();
        if got {
            sqlx::query("UPDATE hosts SET seen_at = $2 WHERE id = $1").bind(holder).bind(now()).execute(&self.pool).await?;
        }
        Ok(got)
    }

    /// Gives up a lease the holder is done with (a finished window).
    pub async fn release(&self, source: &str, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE source = $1 AND name = $2 AND holder = $3").bind(source).bind(name).bind(holder).execute(&self.pool).await?;
        Ok(())
    }

    /// Renews `fence` inside a commit's transaction, or fails if it passed to another host.
    pub(super) async fn renew(&self, tx: &mut Tx, source: &str, fence: &Fence) -> Result<()> {
        let sql = format!("UPDATE leases SET expires_at = {} + $4 WHERE source = $1 AND name = $2 AND holder = $3", self.db_now());
        let renewed = sqlx::query(super::safe(sql))
            .bind(source).bind(&fence.name).bind(&fence.holder).bind(fence.ttl_micros)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        match renewed {
            1 => Ok(()),
            _ => Err(StoreError::LeaseLost { source_name: source.into(), lease: fence.name.clone(), holder: fence.holder.clone() }),
        }
    }

    /// Every lease, unexpired or not, by source and name.
    pub async fn leases(&self) -> Result<Vec<Lease>> {
        let rows = sqlx::query("SELECT source, name, holder, expires_at FROM leases ORDER BY source, name").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| Lease { source: r.get(0), name: r.get(1), holder: r.get(2), expires_at: r.get(3) }).collect())
    }

    /// Every host that has run, newest first.
    pub async fn hosts(&self) -> Result<Vec<Host>> {
        let rows = sqlx::query("SELECT id, started_at, seen_at, stopped_at FROM hosts ORDER BY started_at DESC, id").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| Host { id: r.get(0), started_at: r.get(1), seen_at: r.get(2), stopped_at: r.get(3) }).collect())
    }
}
