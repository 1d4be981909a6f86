//! Several hosts, one store: hosts register, and take leases on a source's live tick and on
//! historic windows. A lease is one row, taken with a conditional upsert — it goes to the
//! caller if nobody holds it, the caller already does, or the holder let it expire — which is
//! atomic on both backends (SQLite's one writer; PostgreSQL's row lock on the conflicting row).
//! Expiry is judged by the database's clock, so hosts' clocks need not agree.

use super::{Result, Store, now};
use dialogsync_core::db;

pub use dialogsync_core::commit::Fence;

/// This machine's name.
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().or_else(|| std::env::var("HOSTNAME").ok()).unwrap_or_else(|| "host".into()).trim().to_string()
}

/// This process, as `MACHINE:PID`.
fn this_process() -> String {
    format!("{}:{}", machine_name(), std::process::id())
}

impl Store {
    /// Registers host `id` (this process), alive while its heartbeats come no further apart
    /// than `heartbeat`.
    pub async fn register_host(&self, id: &str, heartbeat: std::time::Duration) -> Result<()> {
        Ok(db::register_host(&mut self.db(), id, &now(), heartbeat.as_micros() as i64, Some(&this_process())).await?)
    }

    /// A running host's heartbeat.
    pub async fn heartbeat(&self, id: &str) -> Result<()> {
        Ok(db::heartbeat(&mut self.db(), id, &now()).await?)
    }

    /// Whether host `id` runs: registered, not stopped, seen within its heartbeat, and not a
    /// process of this machine that no longer exists (a namesake killed a moment ago).
    pub async fn host_alive(&self, id: &str) -> Result<bool> {
        Ok(match db::host_alive(&mut self.db(), id, crate::clock::micros()).await? {
            None => false,
            Some(Some(process)) => match process.rsplit_once(':') {
                Some((machine, pid)) if machine == machine_name() => std::path::Path::new(&format!("/proc/{pid}")).exists(),
                _ => true,
            },
            Some(None) => true,
        })
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
        let got = db::acquire(&mut self.db(), source, name, holder, ttl_micros).await?;
        if got {
            sqlx::query("UPDATE hosts SET seen_at = $2 WHERE id = $1").bind(holder).bind(now()).execute(&self.pool).await?;
        }
        Ok(got)
    }

    /// Gives up a lease the holder is done with (a finished window).
    pub async fn release(&self, source: &str, name: &str, holder: &str) -> Result<()> {
        Ok(db::release(&mut self.db(), source, name, holder).await?)
    }
}
