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

/// `verify` of a source read from files: per day its records were created, the records in
/// the files against those staged and the dialogs made; the ids the files have and the store
/// does not, migrated with `repair`. Without `from`/`to`, every day in the files.
pub async fn verify_files(config: &Config, store: &Store, source: &str, input: &std::path::Path, from: Option<NaiveDate>, to: Option<NaiveDate>, repair: bool) -> Result<Verified> {
    use std::collections::BTreeMap;
    let sc = config.source(source)?;
    let day_of = |r: &crate::sources::RawRecord| r.created.and_then(crate::clock::day_of);
    let wanted = |d: Option<NaiveDate>| d.is_none_or(|d| from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t));
    let unknown = "unknown";
    let mut in_files: BTreeMap<String, i64> = BTreeMap::new();
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut repairable: Vec<Fetched> = Vec::new();
    let (mut first, mut last): (Option<NaiveDate>, Option<NaiveDate>) = (None, None);
    let mut chunk: Vec<crate::sources::RawRecord> = Vec::new();
    let records = crate::sources::files::read(input, sc.keys.clone()).map_err(|e| anyhow::anyhow!("reading {}: {e}", input.display()))?;
    let mut records = records.peekable();
    // The files' ids, a chunk at a time: the store is asked which it has staged.
    while records.peek().is_some() {
        chunk.clear();
        for f in records.by_ref() {
            match f {
                Ok(r) if wanted(day_of(&r)) => chunk.push(r),
                Ok(_) => {}
                Err(e) => missing.entry(unknown.into()).or_default().push(format!("(unreadable: {})", e.origin)),
            }
            if chunk.len() == 1000 {
                break;
            }
        }
        let ids: Vec<String> = chunk.iter().map(|r| r.source_id.clone()).collect();
        let known = store.staged_ids(source, &ids).await?;
        let mut seen = std::collections::HashSet::new();
        for r in chunk.drain(..) {
            let d = day_of(&r);
            if let Some(d) = d {
                first = Some(first.map_or(d, |f| f.min(d)));
                last = Some(last.map_or(d, |l| l.max(d)));
            }
            let key = d.map_or(unknown.to_string(), |d| d.to_string());
            if !seen.insert(r.source_id.clone()) {
                continue; // a version of a record already counted in this chunk
            }
            *in_files.entry(key.clone()).or_default() += 1;
            if !known.contains(&r.source_id) {
                missing.entry(key).or_default().push(r.source_id.clone());
                if repair {
                    repairable.push(Ok(r));
                }
            }
        }
    }
    let (from, to) = (from.or(first).unwrap_or_else(crate::clock::today), to.or(last).unwrap_or_else(crate::clock::today));
    let staged = store.staged_per_day(source, &from.to_string(), &to.to_string()).await?;
    let mut keys: std::collections::BTreeSet<String> = in_files.keys().cloned().collect();
    keys.extend(staged.keys().cloned());
    keys.extend(missing.keys().cloned());
    let days: Vec<Reconciled> = keys
        .into_iter()
        .map(|day| {
            let (s, d) = staged.get(&day).copied().unwrap_or((0, 0));
            let mut ids = missing.remove(&day).unwrap_or_default();
            ids.sort();
            ids.dedup();
            Reconciled { source: source.into(), at_source: in_files.get(&day).copied().unwrap_or(0), staged: s, dialogs: d, missing_ids: ids, day }
        })
        .collect();
    let mut repaired = None;
    if repair && !repairable.is_empty() {
        let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
        let pipeline = Pipeline::load(config, &runtime, store, source, SyncMode::Historic)?;
        let summary = pipeline.run(repairable.into_iter(), |_| {}).await?;
        store.log(Some(source), "repair", &format!("verify --repair of {}: {}", input.display(), summary.line())).await?;
        repaired = Some(summary);
    }
    settle(store, source, from, to, days, repaired).await
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
    }
    settle(store, source, from, to, days, repaired).await
}

/// Ends a verify: after a repair, counts again (what is still missing is what the repair could
/// not settle); saves the reconciliation the status page reads.
async fn settle(store: &Store, source: &str, from: NaiveDate, to: NaiveDate, mut days: Vec<Reconciled>, repaired: Option<Summary>) -> Result<Verified> {
    if repaired.is_some() {
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
