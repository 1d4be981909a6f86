//! What the API reads: grants (who may represent whom) and searches with stable paging.

use super::{Audience, Result, Store, now};
use sqlx::{QueryBuilder, Row, Sqlite};

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
        }
    }
}

/// Most dialogs one search snapshot holds.
const SNAPSHOT_MAX: i64 = 100_000;

/// A dialog on a search page.
#[derive(Debug, Clone)]
pub struct Page {
    pub document: String,
    pub deleted_at: Option<String>,
}

/// ` AND` the dialogs `audience` may see (columns named with `prefix`); none for an audience
/// of no parties or resources.
pub(super) fn push_audience(q: &mut QueryBuilder<Sqlite>, prefix: &str, audience: &Audience) {
    let list = match audience {
        Audience::All => return,
        Audience::Parties(l) | Audience::Resources(l) if l.is_empty() => {
            q.push(" AND 0");
            return;
        }
        Audience::Parties(parties) => return push_in(q, &format!("{prefix}party"), parties),
        Audience::Resources(patterns) => patterns,
    };
    q.push(" AND (");
    let mut sep = q.separated(" OR ");
    for p in list {
        match p.strip_suffix('*') {
            Some(start) => sep.push(format_args!("substr({prefix}service_resource, 1, {}) = ", start.len())).push_bind_unseparated(start.to_string()),
            None => sep.push(format_args!("{prefix}service_resource = ")).push_bind_unseparated(p.clone()),
        };
    }
    q.push(")");
}

fn push_in(q: &mut QueryBuilder<Sqlite>, column: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    q.push(format_args!(" AND {column} IN ("));
    let mut sep = q.separated(", ");
    for v in values {
        sep.push_bind(v);
    }
    q.push(")");
}

impl Store {
    pub async fn grant(&self, person: &str, party: &str) -> Result<()> {
        sqlx::query("INSERT INTO grants (person, party, granted_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
            .bind(person).bind(party).bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Parties `person` may represent besides themself.
    pub async fn grants(&self, person: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT party FROM grants WHERE person = ? ORDER BY party").bind(person).fetch_all(&self.pool).await?)
    }

    /// Starts a search: snapshots the matching dialog ids, newest updated first, under a new
    /// token. Returns the number of matches.
    pub async fn begin_search(&self, token: &str, s: &Search) -> Result<i64> {
        let mut tx = self.write().await?;
        // Snapshots live an hour; a page asked for later starts a new search.
        let expired = (crate::clock::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        sqlx::query("DELETE FROM search_snapshots WHERE created_at < ?").bind(expired).execute(&mut *tx).await?;
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO search_snapshots (token, position, dialog_id, created_at) SELECT ");
        q.push_bind(token).push(", ROW_NUMBER() OVER (ORDER BY updated_at DESC, id DESC), id, ").push_bind(now());
        q.push(" FROM dialogs WHERE 1 = 1");
        push_audience(&mut q, "", &s.audience);
        q.push(s.deleted.condition("deleted_at"));
        push_in(&mut q, "party", &s.parties);
        push_in(&mut q, "service_resource", &s.service_resources);
        push_in(&mut q, "status", &s.statuses);
        push_in(&mut q, "system_label", &s.system_labels);
        for (column, op, v) in [
            ("created_at", ">=", s.created_after),
            ("created_at", "<=", s.created_before),
            ("updated_at", ">=", s.updated_after),
            ("updated_at", "<=", s.updated_before),
        ] {
            if let Some(v) = v {
                q.push(format_args!(" AND {column} {op} ")).push_bind(v);
            }
        }
        if let Some(text) = &s.text {
            q.push(" AND instr(lower(json_extract(document, '$.content')), lower(").push_bind(text.as_str()).push(")) > 0");
        }
        q.push(" ORDER BY updated_at DESC, id DESC LIMIT ").push_bind(SNAPSHOT_MAX);
        let n = q.build().execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n as i64)
    }

    /// One page of a search: at positions after `after`, at most `limit`, the dialogs that
    /// still exist and that `audience` may still see; and whether more follow.
    pub async fn search_page(&self, token: &str, after: i64, limit: i64, audience: &Audience, deleted: Deleted) -> Result<(Vec<(i64, Page)>, bool)> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT s.position, d.document, d.deleted_at FROM search_snapshots s JOIN dialogs d ON d.id = s.dialog_id WHERE s.token = ");
        q.push_bind(token).push(" AND s.position > ").push_bind(after);
        push_audience(&mut q, "d.", audience);
        q.push(deleted.condition("d.deleted_at"));
        q.push(" ORDER BY s.position LIMIT ").push_bind(limit + 1);
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut page: Vec<(i64, Page)> = rows.iter().map(|r| (r.get(0), Page { document: r.get(1), deleted_at: r.get(2) })).collect();
        let more = page.len() as i64 > limit;
        page.truncate(limit as usize);
        Ok((page, more))
    }
}
