//! What the API reads: grants (who may represent whom) and searches with stable paging.

use super::{Result, Store, now};
use sqlx::{QueryBuilder, Row, Sqlite};

/// A dialog search, already narrowed to the parties the caller may represent.
#[derive(Debug, Default, Clone)]
pub struct Search {
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

/// Most dialogs one search snapshot holds.
const SNAPSHOT_MAX: i64 = 100_000;

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
        if s.parties.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        // Snapshots live an hour; a page asked for later starts a new search.
        let expired = (crate::clock::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        sqlx::query("DELETE FROM search_snapshots WHERE created_at < ?").bind(expired).execute(&mut *tx).await?;
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO search_snapshots (token, position, dialog_id, created_at) SELECT ");
        q.push_bind(token).push(", ROW_NUMBER() OVER (ORDER BY updated_at DESC, id DESC), id, ").push_bind(now());
        q.push(" FROM dialogs WHERE 1 = 1");
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

    /// One page of a search: documents at positions after `after`, at most `limit`, of
    /// dialogs that still exist and whose party is in `parties`; and whether more follow.
    pub async fn search_page(&self, token: &str, after: i64, limit: i64, parties: &[String]) -> Result<(Vec<(i64, String)>, bool)> {
        if parties.is_empty() {
            return Ok((vec![], false));
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT s.position, d.document FROM search_snapshots s JOIN dialogs d ON d.id = s.dialog_id WHERE s.token = ");
        q.push_bind(token).push(" AND s.position > ").push_bind(after);
        push_in(&mut q, "d.party", parties);
        q.push(" ORDER BY s.position LIMIT ").push_bind(limit + 1);
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut page: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let more = page.len() as i64 > limit;
        page.truncate(limit as usize);
        Ok((page, more))
    }

    /// A dialog's document and party.
    pub async fn dialog_with_party(&self, id: &str) -> Result<Option<(String, String)>> {
        Ok(sqlx::query_as("SELECT document, party FROM dialogs WHERE id = ?").bind(id).fetch_optional(&self.pool).await?)
    }
}
