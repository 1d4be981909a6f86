//! The sync engine's bookkeeping: source states, live cursors, historic windows, the
//! changelog, reconciliation, and what replay and retry read back.

use super::{Result, Store, json_list, now, safe};
use crate::sources::RawRecord;
use serde::Serialize;
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};

fn raw_record(r: &sqlx::any::AnyRow) -> RawRecord {
    RawRecord {
        source_id: r.get(0),
        version: r.get(1),
        payload: r.get(2),
        content_type: r.get(3),
        origin: r.get(4),
        created: r.get::<Option<String>, _>(5).and_then(|d| d.parse().ok()).map(crate::clock::day_start),
    }
}

/// A source's live state as `dialogsync run` keeps it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
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
}

/// One historic window and its counts.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
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

/// A dated changelog entry.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub at: String,
    pub source: Option<String>,
    pub kind: String,
    pub message: String,
    pub data: Option<serde_json::Value>,
}

/// One source day's reconciliation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reconciled {
    pub source: String,
    pub day: String,
    pub at_source: i64,
    pub staged: i64,
    pub dialogs: i64,
    pub missing_ids: Vec<String>,
}


impl Store {
    pub async fn source_state(&self, source: &str) -> Result<Option<SourceState>> {
        Ok(sqlx::query_as("SELECT * FROM source_state WHERE source = $1").bind(source).fetch_optional(&self.pool).await?)
    }

    pub async fn source_states(&self) -> Result<Vec<SourceState>> {
        Ok(sqlx::query_as("SELECT * FROM source_state ORDER BY source").fetch_all(&self.pool).await?)
    }

    /// The source's state, created (running, live from now) the first time it is run.
    pub async fn begin_source(&self, source: &str) -> Result<SourceState> {
        let inserted = sqlx::query("INSERT INTO source_state (source, state, state_since, live_since) VALUES ($1, 'running', $2, $3) ON CONFLICT (source) DO NOTHING")
            .bind(source).bind(now()).bind(crate::clock::micros())
            .execute(&self.pool)
            .await?;
        if inserted.rows_affected() == 1 {
            self.log(Some(source), "started", "live sync started").await?;
        }
        Ok(self.source_state(source).await?.expect("just written"))
    }

    /// Pauses or resumes a source; returns false if it already was in that state.
    pub async fn set_state(&self, source: &str, state: &str, reason: Option<&str>) -> Result<bool> {
        let changed = sqlx::query(
            "INSERT INTO source_state (source, state, reason, state_since, failures) VALUES ($1, $2, $3, $4, 0)
             ON CONFLICT (source) DO UPDATE SET state = $2, reason = $3, state_since = $4, failures = 0
             WHERE source_state.state <> $2 OR source_state.reason IS DISTINCT FROM $3",
        )
        .bind(source).bind(state).bind(reason).bind(now())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if changed {
            let message = match (state, reason) {
                ("running", _) => "live sync resumed".to_string(),
                (s, Some(r)) => format!("{s}: {r}"),
                (s, None) => s.to_string(),
            };
            let kind = if state == "running" { "resumed" } else { "paused" };
            self.log(Some(source), kind, &message).await?;
        }
        Ok(changed)
    }

    /// Records a tick's end. After `max_failures` failures in a row the source pauses itself;
    /// returns the reason when it just did.
    pub async fn tick_finished(&self, source: &str, error: Option<&str>, max_failures: u32, took_ms: i64) -> Result<Option<String>> {
        let at = now();
        sqlx::query("UPDATE source_state SET last_tick_ms = $1 WHERE source = $2").bind(took_ms).bind(source).execute(&self.pool).await?;
        match error {
            None => {
                sqlx::query("UPDATE source_state SET failures = 0, last_error = NULL, last_tick_at = $2, last_tick_ok_at = $2 WHERE source = $1")
                    .bind(source).bind(&at)
                    .execute(&self.pool)
                    .await?;
                Ok(None)
            }
            Some(e) => {
                let failures: i64 = sqlx::query_scalar(
                    "UPDATE source_state SET failures = failures + 1, last_error = $2, last_tick_at = $3 WHERE source = $1 RETURNING failures",
                )
                .bind(source).bind(e).bind(&at)
                .fetch_one(&self.pool)
                .await?;
                if failures >= max_failures as i64 {
                    let reason = format!("{failures} failed ticks in a row; last: {e}");
                    self.set_state(source, "auto-paused", Some(&reason)).await?;
                    return Ok(Some(reason));
                }
                Ok(None)
            }
        }
    }

    pub async fn checkpoint(&self, source: &str, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM checkpoints WHERE source = $1 AND name = $2").bind(source).bind(name).fetch_optional(&self.pool).await?)
    }

    /// Historic windows, newest first.
    pub async fn windows(&self, source: Option<&str>) -> Result<Vec<Window>> {
        Ok(sqlx::query_as("SELECT * FROM windows WHERE ($1 IS NULL OR source = $1) ORDER BY source, first_day DESC")
            .bind(source)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn window(&self, source: &str, first_day: &str) -> Result<Option<Window>> {
        Ok(sqlx::query_as("SELECT * FROM windows WHERE source = $1 AND first_day = $2").bind(source).bind(first_day).fetch_optional(&self.pool).await?)
    }

    /// The whole changelog, oldest first.
    pub async fn changelog(&self) -> Result<Vec<LogEntry>> {
        let rows = sqlx::query("SELECT at, source, kind, message, data FROM changelog ORDER BY id").fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| LogEntry {
                at: r.get(0),
                source: r.get(1),
                kind: r.get(2),
                message: r.get(3),
                data: r.get::<Option<String>, _>(4).and_then(|d| serde_json::from_str(&d).ok()),
            })
            .collect())
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

    /// Source days whose last reconciliation found records missing.
    pub async fn missing(&self) -> Result<Vec<Reconciled>> {
        let rows = sqlx::query(
            "SELECT source, day, at_source, staged, dialogs, missing_ids FROM reconciliation WHERE missing_ids <> '[]' ORDER BY source, day",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Reconciled {
                source: r.get(0),
                day: r.get(1),
                at_source: r.get(2),
                staged: r.get(3),
                dialogs: r.get(4),
                missing_ids: serde_json::from_str(r.get::<&str, _>(5)).unwrap_or_default(),
            })
            .collect())
    }

    /// For replay: the newest staged version of every record of `source` created in
    /// `[from, to]` (days, inclusive), oldest first.
    pub async fn replay_records(&self, source: &str, from: &str, to: &str) -> Result<Vec<RawRecord>> {
        let rows = sqlx::query(
            "SELECT source_id, source_version, payload, content_type, origin, created_day FROM (
               SELECT *, ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY source_version DESC, content_hash DESC) AS n
               FROM raw_records WHERE source = $1 AND created_day BETWEEN $2 AND $3) AS t
             WHERE n = 1 ORDER BY source_version, source_id",
        )
        .bind(source).bind(from).bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(raw_record).collect())
    }

    /// Records of `source` waiting for a party the register now knows (their newest staged
    /// version), at most `limit`.
    pub async fn waiting_ready(&self, source: &str, limit: i64) -> Result<Vec<RawRecord>> {
        let rows = sqlx::query(
            "SELECT source_id, source_version, payload, content_type, origin, created_day FROM (
               SELECT *, ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY source_version DESC, last_seen DESC) AS n
               FROM raw_records WHERE source = $1) AS t
             WHERE n = 1 AND outcome = 'waiting' AND waiting_party IN (SELECT party_id FROM parties) LIMIT $2",
        )
        .bind(source).bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(raw_record).collect())
    }

    /// Dialogs per (source, transformer hash, projector hash): which components made them.
    pub async fn made_by(&self) -> Result<Vec<(String, String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT source, transformer_hash, projector_hash, COUNT(*) FROM dialogs GROUP BY source, transformer_hash, projector_hash ORDER BY source, 4 DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Staged record versions per (source, outcome).
    pub async fn outcomes(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as("SELECT source, outcome, COUNT(*) FROM raw_records GROUP BY source, outcome ORDER BY source, outcome").fetch_all(&self.pool).await?)
    }

    /// Per source: dialogs, and records waiting for a party with the party ids.
    pub async fn totals(&self) -> Result<BTreeMap<String, (i64, i64, Vec<String>)>> {
        let mut out: BTreeMap<String, (i64, i64, Vec<String>)> = BTreeMap::new();
        for r in sqlx::query("SELECT source, COUNT(*) FROM dialogs WHERE deleted_at IS NULL GROUP BY source").fetch_all(&self.pool).await? {
            out.entry(r.get(0)).or_default().0 = r.get(1);
        }
        // A record waits while its newest staged version waits.
        let waiting = sqlx::query(
            "SELECT source, waiting_party, COUNT(*) FROM (
               SELECT source, outcome, waiting_party, ROW_NUMBER() OVER (PARTITION BY source, source_id ORDER BY source_version DESC, last_seen DESC) AS n
               FROM raw_records) AS t WHERE n = 1 AND outcome = 'waiting' GROUP BY source, waiting_party ORDER BY source, waiting_party",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in waiting {
            let e = out.entry(r.get(0)).or_default();
            e.1 += r.get::<i64, _>(2);
            e.2.extend(r.get::<Option<String>, _>(1));
        }
        Ok(out)
    }
}
