//! The sync engine's bookkeeping: source states, live cursors, historic windows, the
//! changelog, reconciliation, and what replay and retry read back.

use super::{Result, Store, json_list, now, safe};
use dialogsync_core::db;
use crate::sources::RawRecord;
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

fn raw_record(r: &sqlx::any::AnyRow) -> RawRecord {
    db::raw_record(&super::row(r))
}

pub use dialogsync_core::db::{SourceState, Window};

pub use dialogsync_core::status::Reconciled;

impl Store {
    pub async fn source_state(&self, source: &str) -> Result<Option<SourceState>> {
        Ok(db::source_state(&mut self.db(), source).await?)
    }

    pub async fn source_states(&self) -> Result<Vec<SourceState>> {
        Ok(db::source_states(&mut self.db()).await?)
    }

    /// The source's state, created (running, live from now) the first time it is run.
    pub async fn begin_source(&self, source: &str) -> Result<SourceState> {
        Ok(db::begin_source(&mut self.db(), source, &now(), crate::clock::micros()).await?)
    }

    /// Pauses or resumes a source; returns false if it already was in that state.
    pub async fn set_state(&self, source: &str, state: &str, reason: Option<&str>) -> Result<bool> {
        Ok(db::set_state(&mut self.db(), source, state, reason, &now()).await?)
    }

    /// Records a tick's end. After `max_failures` failures in a row the source pauses itself;
    /// returns the reason when it just did.
    pub async fn tick_finished(&self, source: &str, by: &str, error: Option<&str>, max_failures: u32, took_ms: i64) -> Result<Option<String>> {
        Ok(db::tick_finished(&mut self.db(), source, by, error, max_failures, took_ms, &now()).await?)
    }

    /// The live cursor: the newest change a live tick has seen (microseconds).
    pub async fn cursor_micros(&self, source: &str) -> Result<Option<i64>> {
        Ok(self.checkpoint(source, "live").await?.and_then(|v| v.parse().ok()))
    }

    pub async fn checkpoint(&self, source: &str, name: &str) -> Result<Option<String>> {
        Ok(db::checkpoint(&mut self.db(), source, name).await?)
    }

    /// Historic windows, newest first.
    pub async fn windows(&self, source: Option<&str>) -> Result<Vec<Window>> {
        Ok(db::windows(&mut self.db(), source).await?)
    }

    pub async fn window(&self, source: &str, first_day: &str) -> Result<Option<Window>> {
        Ok(db::window(&mut self.db(), source, first_day).await?)
    }

    /// Per day in `[from, to]`: distinct records staged, and dialogs made from them.
    pub async fn staged_per_day(&self, source: &str, from: &str, to: &str) -> Result<BTreeMap<String, (i64, i64)>> {
        let rows = sqlx::query(
            "SELECT r.created_day, COUNT(DISTINCT r.source_id), COUNT(DISTINCT d.id)
             FROM raw_records r LEFT JOIN dialogs d ON d.id = r.dialog_id
             WHERE r.source = $1 AND r.created_day BETWEEN $2 AND $3 GROUP BY r.created_day",
        )
        .bind(source).bind(from).bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect())
    }

    /// The ids of `source_ids` that are staged at all.
    pub async fn staged_ids(&self, source: &str, source_ids: &[String]) -> Result<HashSet<String>> {
        let sql = format!("SELECT DISTINCT source_id FROM raw_records WHERE source = $1 AND source_id IN (SELECT value FROM {})", self.list(2));
        let rows = sqlx::query(safe(sql)).bind(source).bind(json_list(source_ids)).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    pub async fn save_reconciliation(&self, rows: &[Reconciled]) -> Result<()> {
        let at = now();
        let mut tx = self.pool.begin().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO reconciliation (source, day, at_source, staged, dialogs, missing_ids, checked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (source, day) DO UPDATE SET at_source = excluded.at_source, staged = excluded.staged,
                   dialogs = excluded.dialogs, missing_ids = excluded.missing_ids, checked_at = excluded.checked_at",
            )
            .bind(&r.source).bind(&r.day).bind(r.at_source).bind(r.staged).bind(r.dialogs)
            .bind(serde_json::to_string(&r.missing_ids).unwrap_or_default()).bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// For replay: the newest staged version of every record of `source` created in
    /// `[from, to]` (days, inclusive), oldest first.
    /// Each with the mode its dialog was projected in (`live`, `historic`; none: no dialog, or
    /// one made before modes were recorded).
    pub async fn replay_records(&self, source: &str, from: &str, to: &str) -> Result<Vec<(RawRecord, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT t.source_id, t.source_version, t.payload, t.content_type, t.origin, t.created_day, d.sync_mode FROM (
               SELECT *, ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY source_version DESC, content_hash DESC) AS n
               FROM raw_records WHERE source = $1 AND created_day BETWEEN $2 AND $3) AS t
             LEFT JOIN dialogs d ON d.id = t.dialog_id
             WHERE t.n = 1 ORDER BY t.source_version, t.source_id",
        )
        .bind(source).bind(from).bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (raw_record(r), r.get::<Option<String>, _>(6))).collect())
    }

    /// Records of `source` waiting for a party the register now knows (their newest staged
    /// version), at most `limit`.
    pub async fn waiting_ready(&self, source: &str, limit: i64) -> Result<Vec<RawRecord>> {
        Ok(db::waiting_ready(&mut self.db(), source, limit).await?)
    }

    /// Staged record versions per (source, outcome).
    pub async fn outcomes(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as("SELECT source, outcome, COUNT(*) FROM raw_records GROUP BY source, outcome ORDER BY source, outcome").fetch_all(&self.pool).await?)
    }
}
