//! The Dialogporten sink's tables: the outbox (dialogs whose changes wait to be sent, queued by
//! the sync core in the transaction that changed them) and what Dialogporten holds of each
//! dialog sent there.

use super::{Result, Store, now};
use sqlx::Row;

/// A dialog waiting to be sent.
#[derive(Debug, Clone)]
pub struct Queued {
    pub dialog_id: String,
    pub source: String,
    pub seq: i64,
    pub silent: bool,
    pub attempts: i64,
}

/// What Dialogporten holds of a dialog, as last answered.
#[derive(Debug, Clone, Default)]
pub struct Held {
    pub revision: Option<String>,
    pub deleted: bool,
    pub activities: Vec<String>,
    pub transmissions: Vec<String>,
}

impl Store {
    /// Up to `limit` queued dialogs due at `now_micros`, oldest first.
    pub async fn due(&self, now_micros: i64, limit: i64) -> Result<Vec<Queued>> {
        let rows = sqlx::query("SELECT dialog_id, source, seq, silent, attempts FROM outbox WHERE not_before <= $1 ORDER BY queued_at, dialog_id LIMIT $2")
            .bind(now_micros)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| Queued { dialog_id: r.get(0), source: r.get(1), seq: r.get(2), silent: r.get::<i64, _>(3) != 0, attempts: r.get(4) }).collect())
    }

    /// The dialog's document now, or None when it is gone from the store (removed at its source).
    pub async fn document(&self, id: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT document FROM dialogs WHERE id = $1").bind(id).fetch_optional(&self.pool).await?.map(|r| r.get(0)))
    }

    pub async fn held(&self, id: &str) -> Result<Option<Held>> {
        let row = sqlx::query("SELECT revision, deleted, activities, transmissions FROM sink_dialogs WHERE dialog_id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| Held {
            revision: r.get(0),
            deleted: r.get::<i64, _>(1) != 0,
            activities: serde_json::from_str(&r.get::<String, _>(2)).unwrap_or_default(),
            transmissions: serde_json::from_str(&r.get::<String, _>(3)).unwrap_or_default(),
        }))
    }

    /// Sent: what Dialogporten now holds (None: purged there), and the outbox row gone unless a
    /// change was queued meanwhile (its `seq` moved on: it is sent again).
    pub async fn sent(&self, q: &Queued, held: Option<&Held>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        match held {
            Some(h) => {
                sqlx::query(
                    "INSERT INTO sink_dialogs (dialog_id, source, revision, deleted, activities, transmissions, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (dialog_id) DO UPDATE SET revision = excluded.revision, deleted = excluded.deleted,
                       activities = excluded.activities, transmissions = excluded.transmissions, sent_at = excluded.sent_at",
                )
                .bind(&q.dialog_id)
                .bind(&q.source)
                .bind(&h.revision)
                .bind(h.deleted as i64)
                .bind(serde_json::to_string(&h.activities).unwrap_or_default())
                .bind(serde_json::to_string(&h.transmissions).unwrap_or_default())
                .bind(now())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM sink_dialogs WHERE dialog_id = $1").bind(&q.dialog_id).execute(&mut *tx).await?;
            }
        }
        sqlx::query("DELETE FROM outbox WHERE dialog_id = $1 AND seq = $2").bind(&q.dialog_id).bind(q.seq).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A send that failed and will be tried again from `not_before_micros`.
    pub async fn send_failed(&self, q: &Queued, error: &str, not_before_micros: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $2, not_before = $3 WHERE dialog_id = $1")
            .bind(&q.dialog_id)
            .bind(error)
            .bind(not_before_micros)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A send Dialogporten refuses for good (400, a 422 that persists): a dead letter in phase
    /// `sink` with its problem details, and out of the outbox (`dead-letters retry` queues it again).
    pub async fn sink_dead(&self, q: &Queued, error: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        sqlx::query(
            "INSERT INTO dead_letters (source, record_key, source_id, origin, phase, component, error, payload, first_seen, last_seen)
             VALUES ($1, $2, $3, $4, 'sink', 'dialogporten', $5, NULL, $6, $6)
             ON CONFLICT (source, record_key) DO UPDATE SET phase = 'sink', component = 'dialogporten', error = excluded.error,
               attempts = dead_letters.attempts + 1, last_seen = excluded.last_seen",
        )
        .bind(&q.source)
        .bind(format!("sink:{}", q.dialog_id))
        .bind(&q.dialog_id)
        .bind(format!("dialog {}", q.dialog_id))
        .bind(error)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM outbox WHERE dialog_id = $1 AND seq = $2").bind(&q.dialog_id).bind(q.seq).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
    /// A dialog held back until `at_micros` (its visibleFrom): no error, no attempt counted.
    pub async fn hold_until(&self, q: &Queued, at_micros: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET not_before = $2, last_error = NULL WHERE dialog_id = $1 AND seq = $3").bind(&q.dialog_id).bind(at_micros).bind(q.seq).execute(&self.pool).await?;
        Ok(())
    }

    /// Adds a round's outcomes (dialogs) and requests (count, seconds by HTTP status) to the
    /// sink's counters, in one transaction.
    pub async fn count_sends(&self, outcomes: &[(&str, u64)], requests: &std::collections::BTreeMap<String, (i64, f64)>) -> Result<()> {
        let rows: Vec<(String, i64, f64)> = outcomes
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (format!("outcome:{k}"), *n as i64, 0.0))
            .chain(requests.iter().map(|(k, (n, secs))| (format!("status:{k}"), *n, *secs)))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (name, n, secs) in rows {
            sqlx::query("INSERT INTO sink_counts (name, count, seconds) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET count = sink_counts.count + excluded.count, seconds = sink_counts.seconds + excluded.seconds")
                .bind(name)
                .bind(n)
                .bind(secs)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The sink's counters: (name, count, seconds), by name.
    pub async fn sink_counts(&self) -> Result<Vec<(String, i64, f64)>> {
        let rows = sqlx::query("SELECT name, count, seconds FROM sink_counts ORDER BY name").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// `dead-letters retry` of the sink's dead letters (of `source`, or all): their dialogs back
    /// in the outbox, silent as their sync mode says (`silent_history`, `silent_live`), and the
    /// letters gone (a send refused again writes a new one). Returns how many.
    pub async fn requeue_sink_dead(&self, source: Option<&str>, silent_history: bool, silent_live: bool) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO outbox (dialog_id, source, seq, silent, queued_at)
             SELECT l.source_id, l.source, 1, CASE WHEN d.sync_mode = 'historic' THEN $2 ELSE $3 END, $4
             FROM dead_letters l LEFT JOIN dialogs d ON d.id = l.source_id
             WHERE l.phase = 'sink' AND l.discarded_at IS NULL AND ($1 IS NULL OR l.source = $1)
             ON CONFLICT (dialog_id) DO NOTHING",
        )
        .bind(source)
        .bind(silent_history as i64)
        .bind(silent_live as i64)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let gone = sqlx::query("DELETE FROM dead_letters WHERE phase = 'sink' AND discarded_at IS NULL AND ($1 IS NULL OR source = $1)").bind(source).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(gone.rows_affected())
    }

    /// Up to `limit` dialogs of `source` after id `after`: (id, document), by id.
    pub async fn documents_of(&self, source: &str, after: &str, limit: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT id, document FROM dialogs WHERE source = $1 AND id > $2 ORDER BY id LIMIT $3").bind(source).bind(after).bind(limit).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// `verify --sink --repair`: dialogs of `source` queued to be sent again (one changed there
    /// meets 412 and is read and written again; one missing there is created), silent: a
    /// repair is a correction, not news for the end user.
    pub async fn queue_again(&self, source: &str, ids: &[String]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for id in ids {
            sqlx::query("INSERT INTO outbox (dialog_id, source, seq, silent, queued_at) VALUES ($1, $2, 1, 1, $3) ON CONFLICT (dialog_id) DO UPDATE SET seq = outbox.seq + 1, not_before = 0")
                .bind(id)
                .bind(source)
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The outbox at a glance (the status report's Dialogporten line): None before anything was queued.
    pub async fn outbox(&self) -> Result<Option<dialogsync_core::status::SinkReport>> {
        Ok(dialogsync_core::status::sink(&mut self.db(), crate::clock::micros()).await?.0)
    }
}
