//! What the API reads: grants (who may represent whom) and searches with stable paging.

use super::{Audience, Result, Store, json_list, now, safe};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

/// A dialog search. Only dialogs `audience` may see are found, whatever else it asks for.
#[derive(Debug, Clone)]
pub struct Search {
    pub audience: Audience,
    /// Soft-deleted dialogs: left out (end users, and service owners by default), included, or only.
    pub deleted: Deleted,
    pub parties: Vec<String>,
    pub service_resources: Vec<String>,
    pub statuses: Vec<String>,
    pub system_labels: Vec<String>,
    /// Microseconds, inclusive bounds.
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub updated_after: Option<i64>,
    pub updated_before: Option<i64>,
    /// Words in the title, summary or sender name (case-insensitive).
    pub text: Option<String>,
    /// Service-owner labels the dialog must all have (case-insensitive): service owners only.
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Exclude,
    Include,
    Only,
}

impl Deleted {
    fn condition(self, column: &str) -> String {
        match self {
            Deleted::Exclude => format!(" AND {column} IS NULL"),
            Deleted::Include => String::new(),
            Deleted::Only => format!(" AND {column} IS NOT NULL"),
        }
    }
}

impl Search {
    pub fn new(audience: Audience) -> Search {
        Search {
            audience,
            deleted: Deleted::Exclude,
            parties: vec![],
            service_resources: vec![],
            statuses: vec![],
            system_labels: vec![],
            created_after: None,
            created_before: None,
            updated_after: None,
            updated_before: None,
            text: None,
            labels: vec![],
        }
    }
}

/// A dialog on a search page.
#[derive(Debug, Clone)]
pub struct Page {
    pub document: String,
    pub deleted_at: Option<String>,
}

/// Most dialogs one search snapshot holds.
const SNAPSHOT_MAX: i64 = 100_000;

/// Deletes the snapshots older than `$1`: each search runs it first (by the index on
/// `created_at`: a scan of every snapshot would cost each search more as they pile up).
pub const EXPIRE_SNAPSHOTS: &str = "DELETE FROM search_snapshots WHERE created_at < $1";

/// A JSON list of `values` for a `$n IS NULL OR column IN (list)` filter: NULL for no filter.
fn filter_list(values: &[String]) -> Option<String> {
    (!values.is_empty()).then(|| json_list(values))
}

/// Binds the audience's list, where [`Store::audience_filter`] asked for one (as the last
/// parameter).
pub(super) fn bind_audience<'q>(q: Query<'q, Any, AnyArguments>, audience: &Audience) -> Query<'q, Any, AnyArguments> {
    match audience {
        Audience::All => q,
        Audience::Parties(list) | Audience::Resources(list) => q.bind(json_list(list)),
    }
}

impl Store {
    /// ` AND` the rows (columns named with `prefix`) `audience` may see, its list bound as `$n`
    /// ([`bind_audience`]). A resource pattern ending `*` matches every resource that starts so.
    pub(super) fn audience_filter(&self, prefix: &str, audience: &Audience, n: usize) -> String {
        let list = self.list(n);
        match audience {
            Audience::All => String::new(),
            Audience::Parties(_) => format!(" AND {prefix}party IN (SELECT value FROM {list})"),
            Audience::Resources(_) => format!(
                " AND EXISTS (SELECT 1 FROM {list} WHERE {prefix}service_resource = value
                   OR (substr(value, length(value), 1) = '*' AND substr({prefix}service_resource, 1, length(value) - 1) = substr(value, 1, length(value) - 1)))"
            ),
        }
    }

    pub async fn grant(&self, person: &str, party: &str) -> Result<()> {
        sqlx::query("INSERT INTO grants (person, party, granted_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(person).bind(party).bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Parties `person` may represent besides themself.
    pub async fn grants(&self, person: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT party FROM grants WHERE person = $1 ORDER BY party").bind(person).fetch_all(&self.pool).await?)
    }

    /// Starts a search: snapshots the matching dialog ids, newest updated first, under a new
    /// token. Returns the number of matches.
    pub async fn begin_search(&self, token: &str, s: &Search) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        // Snapshots live an hour; a page asked for later starts a new search.
        let expired = (crate::clock::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        sqlx::query(EXPIRE_SNAPSHOTS).bind(expired).execute(&mut *tx).await?;
        let sql = format!(
            "INSERT INTO search_snapshots (token, position, dialog_id, created_at)
             SELECT $1, ROW_NUMBER() OVER (ORDER BY updated_at DESC, id DESC), id, $2 FROM dialogs
             WHERE ($3 IS NULL OR party IN (SELECT value FROM {l3}))
               AND ($4 IS NULL OR service_resource IN (SELECT value FROM {l4}))
               AND ($5 IS NULL OR status IN (SELECT value FROM {l5}))
               AND ($6 IS NULL OR system_label IN (SELECT value FROM {l6}))
               AND ($7 IS NULL OR created_at >= $7) AND ($8 IS NULL OR created_at <= $8)
               AND ($9 IS NULL OR updated_at >= $9) AND ($10 IS NULL OR updated_at <= $10)
               AND ($11 IS NULL OR {text}) AND ($12 IS NULL OR {labelled}) {deleted} {audience}
             ORDER BY updated_at DESC, id DESC LIMIT $13",
            l3 = self.list(3),
            l4 = self.list(4),
            l5 = self.list(5),
            l6 = self.list(6),
            text = self.contains(&format!("lower({})", self.json_member("document", "content")), "lower($11)"),
            deleted = s.deleted.condition("deleted_at"),
            audience = self.audience_filter("", &s.audience, 14),
            // Every label asked for is among the dialog's.
            labelled = match self.backend {
                super::Backend::Sqlite => "NOT EXISTS (SELECT 1 FROM json_each($12) AS w WHERE NOT EXISTS (SELECT 1 FROM json_each(document, '$.serviceOwnerContext.serviceOwnerLabels') AS l WHERE lower(json_extract(l.value, '$.value')) = lower(w.value)))",
                super::Backend::Postgres => "NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(CAST($12 AS jsonb)) AS w(value) WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(CAST(document AS jsonb) -> 'serviceOwnerContext' -> 'serviceOwnerLabels') AS l WHERE lower(l ->> 'value') = lower(w.value)))",
            },
        );
        let q = sqlx::query(safe(sql))
            .bind(token).bind(now())
            .bind(filter_list(&s.parties)).bind(filter_list(&s.service_resources)).bind(filter_list(&s.statuses)).bind(filter_list(&s.system_labels))
            .bind(s.created_after).bind(s.created_before).bind(s.updated_after).bind(s.updated_before)
            .bind(s.text.as_deref()).bind(filter_list(&s.labels)).bind(SNAPSHOT_MAX);
        let n = bind_audience(q, &s.audience).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n as i64)
    }

    /// One page of a search: at positions after `after`, at most `limit`, the dialogs that
    /// still exist and that `audience` may still see; and whether more follow.
    pub async fn search_page(&self, token: &str, after: i64, limit: i64, audience: &Audience, deleted: Deleted) -> Result<(Vec<(i64, Page)>, bool)> {
        let sql = format!(
            "SELECT s.position, d.document, d.deleted_at FROM search_snapshots s JOIN dialogs d ON d.id = s.dialog_id
             WHERE s.token = $1 AND s.position > $2 {} {} ORDER BY s.position LIMIT $3",
            deleted.condition("d.deleted_at"),
            self.audience_filter("d.", audience, 4)
        );
        let rows = bind_audience(sqlx::query(safe(sql)).bind(token).bind(after).bind(limit + 1), audience).fetch_all(&self.pool).await?;
        let mut page: Vec<(i64, Page)> = rows.iter().map(|r| (r.get(0), Page { document: r.get(1), deleted_at: r.get(2) })).collect();
        let more = page.len() as i64 > limit;
        page.truncate(limit as usize);
        Ok((page, more))
    }
}
