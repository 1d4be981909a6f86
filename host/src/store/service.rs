//! What the service-owner API writes: dialogs of the "dialog services" source, with revisions
//! (`If-Match`), idempotent keys, soft deletion and restore. Each write commits its change
//! events with it, and checks inside its transaction that the dialog is still the revision the
//! write was computed from, so two concurrent writers can never both win.

use super::{NewEvent, Result, Store, new_activities, now};
use sha2::Digest;
use sqlx::Row;

/// The source name of dialogs written through the service-owner API.
pub use dialogsync_core::status::SERVICE_OWNER_SOURCE as SOURCE;

/// A stored dialog as the service-owner API sees it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub source: String,
    pub document: String,
    pub party: String,
    pub service_resource: String,
    /// The stored revision, or one derived from the document (migrated dialogs).
    pub revision: String,
    pub deleted_at: Option<String>,
    pub idempotent_key: Option<String>,
    pub source_version: i64,
}

/// What a write does to the dialog's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Delete,
    Restore,
}

/// One service-owner write: the dialog's new columns and document.
#[derive(Debug, Clone)]
pub struct Write {
    pub row: super::DialogRow,
    pub revision: String,
    /// The revision the write was computed from (none: a create).
    pub based_on: Option<String>,
    pub change: Change,
    /// Creates: the organisation and its idempotent key.
    pub owner_org: Option<String>,
    pub idempotent_key: Option<String>,
    /// `isSilentUpdate`: no change events (Dialogporten forwards none to Altinn Events).
    pub silent: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Done,
    /// Someone else wrote the dialog since `based_on`: nothing was written.
    Stale,
    /// A create whose idempotent key (or id) is taken: the dialog that has it.
    Exists { id: String, by_key: bool },
}

/// A UUID made of the hash of `text`: revisions of migrated dialogs (which carry no stored
/// one) are those of their documents; event ids those of their sequence numbers.
pub fn hash_uuid(text: &str) -> String {
    let h = sha2::Sha256::digest(text.as_bytes());
    uuid::Builder::from_random_bytes(h[..16].try_into().expect("16 bytes")).into_uuid().to_string()
}

impl Store {
    /// One dialog with its revision and lifecycle.
    pub async fn stored(&self, id: &str) -> Result<Option<Stored>> {
        let row = sqlx::query("SELECT id, source, document, party, service_resource, revision, deleted_at, idempotent_key, source_version FROM dialogs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| {
            let document: String = r.get(2);
            Stored {
                id: r.get(0),
                source: r.get(1),
                revision: r.get::<Option<String>, _>(5).unwrap_or_else(|| hash_uuid(&document)),
                document,
                party: r.get(3),
                service_resource: r.get(4),
                deleted_at: r.get(6),
                idempotent_key: r.get(7),
                source_version: r.get(8),
            }
        }))
    }

    /// The dialog `org` created with idempotent key `key`, if any.
    pub async fn by_idempotent_key(&self, org: &str, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM dialogs WHERE owner_org = $1 AND idempotent_key = $2").bind(org).bind(key).fetch_optional(&self.pool).await?)
    }

    /// Commits one service-owner write and its change events.
    pub async fn service_write(&self, w: &Write) -> Result<Written> {
        let at = now();
        let d = &w.row;
        let mut tx = self.write(SOURCE).await?;
        let old_document: Option<String> = match &w.based_on {
            None => {
                if let (Some(org), Some(key)) = (&w.owner_org, &w.idempotent_key) {
                    let taken: Option<String> = sqlx::query_scalar("SELECT id FROM dialogs WHERE owner_org = $1 AND idempotent_key = $2")
                        .bind(org).bind(key)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(id) = taken {
                        return Ok(Written::Exists { id, by_key: true });
                    }
                }
                if sqlx::query("SELECT 1 FROM dialogs WHERE id = $1").bind(&d.id).fetch_optional(&mut *tx).await?.is_some() {
                    return Ok(Written::Exists { id: d.id.clone(), by_key: false });
                }
                sqlx::query(
                    "INSERT INTO dialogs (id, source, source_id, source_version, content_hash, party, service_resource, status, system_label, created_at, updated_at,
                                          transformer_hash, projector_hash, document, revision, owner_org, idempotent_key)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                )
                .bind(&d.id).bind(SOURCE).bind(&d.source_id).bind(d.source_version).bind(&d.content_hash).bind(&d.party)
                .bind(&d.service_resource).bind(&d.status).bind(&d.system_label).bind(d.created_at).bind(d.updated_at)
                .bind(&d.transformer_hash).bind(&d.projector_hash).bind(&d.document).bind(&w.revision).bind(&w.owner_org).bind(&w.idempotent_key)
                .execute(&mut *tx)
                .await?;
                None
            }
            Some(based_on) => {
                let row = sqlx::query("SELECT revision, document FROM dialogs WHERE id = $1").bind(&d.id).fetch_optional(&mut *tx).await?;
                let Some(row) = row else { return Ok(Written::Stale) };
                let document: String = row.get(1);
                let revision = row.get::<Option<String>, _>(0).unwrap_or_else(|| hash_uuid(&document));
                if revision != *based_on {
                    return Ok(Written::Stale);
                }
                let deleted = match w.change {
                    Change::Delete => Some(at.clone()),
                    _ => None,
                };
                sqlx::query(
                    "UPDATE dialogs SET source_version = $1, content_hash = $2, status = $3, system_label = $4, updated_at = $5, document = $6, revision = $7, deleted_at = $8
                     WHERE id = $9",
                )
                .bind(d.source_version).bind(&d.content_hash).bind(&d.status).bind(&d.system_label).bind(d.updated_at)
                .bind(&d.document).bind(&w.revision).bind(deleted).bind(&d.id)
                .execute(&mut *tx)
                .await?;
                Some(document)
            }
        };
        let kind = match w.change {
            Change::Create => "created",
            Change::Update => "updated",
            Change::Delete => "deleted",
            Change::Restore => "restored",
        };
        // The write's new activities come before a deletion, after any other change.
        let event = |kind: &'static str, detail: Option<serde_json::Value>| NewEvent {
            dialog_id: d.id.clone(),
            kind,
            party: d.party.clone(),
            service_resource: d.service_resource.clone(),
            detail,
        };
        let mut events: Vec<NewEvent> = new_activities(old_document.as_deref(), &d.document).into_iter().map(|a| event("activity", Some(a))).collect();
        match w.change {
            Change::Delete => events.push(event(kind, None)),
            _ => events.insert(0, event(kind, None)),
        }
        if !w.silent {
            self.append_events(&mut tx, SOURCE, &at, &events).await?;
        }
        tx.commit().await?;
        Ok(Written::Done)
    }

    /// A service-owner dialog removed for good (Dialogporten's purge); false when there is none.
    pub async fn purge_service(&self, id: &str, silent: bool) -> Result<bool> {
        let at = now();
        let mut tx = self.write(SOURCE).await?;
        let gone = sqlx::query("DELETE FROM dialogs WHERE id = $1 AND source = $2 RETURNING party, service_resource").bind(id).bind(SOURCE).fetch_optional(&mut *tx).await?;
        let Some(row) = gone else { return Ok(false) };
        let event = NewEvent { dialog_id: id.into(), kind: "deleted", party: row.get(0), service_resource: row.get(1), detail: None };
        if !silent {
            self.append_events(&mut tx, SOURCE, &at, &[event]).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
