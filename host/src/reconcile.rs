//! Reconciliation (`dialogsync verify`): per day, the source's own count against the records
//! staged and the dialogs made from them; for a day that falls short, the ids the source has
//! and the store does not — fetched and migrated with `--repair`.

use crate::config::Config;
use crate::runtime::Runtime;
use crate::runtime::bindings::types::SyncMode;
use crate::sources::http::Http;
use crate::sources::Fetched;
use crate::store::{Reconciled, Store};
use crate::sync::{Pipeline, Summary};
use anyhow::Result;
use chrono::NaiveDate;
use std::sync::Arc;

/// What `verify` found (and, with repair, did).
#[derive(Debug, serde::Serialize)]
pub struct Verified {
    pub source: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every day that has records at the source or in the store.
    pub days: Vec<Reconciled>,
    pub missing: usize,
    /// Records the repair migrated (before it, `missing` counted them).
    pub repaired: Option<Summary>,
}

pub async fn verify(config: &Config, store: &Store, source: &str, from: NaiveDate, to: NaiveDate, repair: bool) -> Result<Verified> {
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let sc = config.source(source)?;
    anyhow::ensure!(sc.connector == "http", "source {source}: verify asks the source for its counts, which needs connector = \"http\"");
    let http = Arc::new(Http::new(source, &sc)?);
    let at_source = {
        let http = http.clone();
        tokio::task::spawn_blocking(move || http.counts(from, to)).await??
    };
    let staged = store.staged_per_day(source, &from.to_string(), &to.to_string()).await?;
    let mut days = Vec::new();
    let mut day = from;
    while day <= to {
        let key = day.to_string();
        let n = at_source.get(&day).copied().unwrap_or(0) as i64;
        let (s, d) = staged.get(&key).copied().unwrap_or((0, 0));
        if n > 0 || s > 0 {
            days.push(Reconciled { source: source.into(), day: key, at_source: n, staged: s, dialogs: d, missing_ids: vec![] });
        }
        day = day.succ_opt().expect("a next day");
    }
    // Short days: list what the source has for the day and the store does not.
    let mut records: Vec<Fetched> = Vec::new();
    for r in days.iter_mut().filter(|r| r.at_source > r.staged) {
        let d: NaiveDate = r.day.parse()?;
        let http = http.clone();
        let fetched: Vec<Fetched> = tokio::task::spawn_blocking(move || -> Result<Vec<Fetched>> {
            let mut url = Some(http.window_url(d, d));
            let mut out = Vec::new();
            while let Some(u) = url {
                let page = http.page(&u)?;
                out.extend(page.records);
                url = page.next;
            }
            Ok(out)
        })
        .await??;
        let ids: Vec<String> = fetched.iter().filter_map(|f| f.as_ref().ok().map(|r| r.source_id.clone())).collect();
        let known = store.staged_ids(source, &ids).await?;
        for (position, f) in fetched.into_iter().enumerate() {
            match &f {
                Ok(rec) if !known.contains(&rec.source_id) => {
                    r.missing_ids.push(rec.source_id.clone());
                    records.push(f);
                }
                // Unreadable at the source: a dead letter once fetched, missing until then.
                Err(_) => r.missing_ids.push(format!("(unreadable record, #{} of the day)", position + 1)),
                _ => {}
            }
        }
        r.missing_ids.sort();
        r.missing_ids.dedup();
    }
    let mut repaired = None;
    if repair && !records.is_empty() {
        let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
        let pipeline = Pipeline::load(config, &runtime, store, source, SyncMode::Historic)?;
        let (commit, summary) = pipeline.prepare(records).await?;
        store.commit(source, &commit).await?;
        store.log(Some(source), "repair", &format!("verify --repair {from}..{to}: {}", summary.line())).await?;
        repaired = Some(summary);
        // Count again: what is still missing is what the repair could not settle.
        let staged = store.staged_per_day(source, &from.to_string(), &to.to_string()).await?;
        for r in days.iter_mut() {
            let (s, d) = staged.get(&r.day).copied().unwrap_or((0, 0));
            (r.staged, r.dialogs) = (s, d);
            if !r.missing_ids.is_empty() {
                let known = store.staged_ids(source, &r.missing_ids).await?;
                r.missing_ids.retain(|id| !known.contains(id));
            }
        }
    }
    store.save_reconciliation(&days).await?;
    let missing = days.iter().map(|r| r.missing_ids.len()).sum();
    Ok(Verified { source: source.into(), from, to, days, missing, repaired })
}
