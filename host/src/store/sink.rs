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
    /// The outbox at a glance (the status report's Dialogporten line): None before anything was queued.
    pub async fn outbox(&self) -> Result<Option<dialogsync_core::status::SinkReport>> {
        Ok(dialogsync_core::status::sink(&mut self.db()).await?.0)
    }
}
