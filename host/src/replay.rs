//! Re-running the current components over what the store already holds, without asking the
//! source again: `replay` (staged raw records of a date range — how wrong dates are corrected
//! after a component fix) and `dead-letters retry`.

use crate::config::Config;
use crate::runtime::Runtime;
use crate::runtime::bindings::types::SyncMode;
use crate::store::Store;
use crate::sync::{Pipeline, Summary};
use anyhow::Result;
use chrono::NaiveDate;

/// Records per transaction.
const CHUNK: usize = 1000;

/// Replays `source`'s records created on `[from, to]` through its configured components;
/// `migrated` in the result counts the dialogs that changed. Every dialog replayed records
/// the current components' hashes.
pub async fn replay(config: &Config, store: &Store, source: &str, from: NaiveDate, to: NaiveDate) -> Result<Summary> {
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
    let mut pipeline = Pipeline::load(config, &runtime, store, source, SyncMode::Historic)?;
    pipeline.replay = true;
    let records = store.replay_records(source, &from.to_string(), &to.to_string()).await?;
    // Each record in the mode its dialog was first projected in: unchanged components then
    // change nothing (a live tick drops past visible-from and due dates; history keeps them).
    let (live, historic): (Vec<_>, Vec<_>) = records.into_iter().partition(|(_, mode)| mode.as_deref() == Some("live"));
    let mut total = Summary::default();
    for (mode, records) in [(SyncMode::Historic, historic), (SyncMode::Live, live)] {
        let mut p = pipeline.with_mode(mode);
        p.now = pipeline.now;
        for chunk in records.chunks(CHUNK) {
            let (commit, s) = p.prepare(chunk.iter().map(|(r, _)| Ok(r.clone())).collect()).await?;
            store.commit(source, &commit).await?;
            total.add(&s);
        }
    }
    let message = format!(
        "replay {from}..{to} with {} and {}: {} dialogs changed ({})",
        pipeline.transformer.label(),
        pipeline.projector.label(),
        total.migrated,
        total.line()
    );
    let data = serde_json::json!({ "from": from, "to": to, "changed": total.migrated, "transformer": pipeline.transformer.label() });
    store.log_data(Some(source), "replay", &message, Some(data)).await?;
    Ok(total)
}

/// Runs every dead letter that kept its payload through the current components again.
pub async fn retry(config: &Config, store: &Store, source: Option<&str>) -> Result<Vec<(String, Summary)>> {
    let letters = store.dead_letters(source, true).await?;
    let mut sources: Vec<String> = letters.iter().map(|d| d.source.clone()).collect();
    sources.sort();
    sources.dedup();
    let runtime = Runtime::new(config.limits.clone(), &config.cache_dir)?;
    let mut out = Vec::new();
    for s in sources {
        let keys = config.source(&s)?.keys;
        let pipeline = Pipeline::load(config, &runtime, store, &s, SyncMode::Historic)?;
        let records: Vec<_> = letters
            .iter()
            .filter(|d| d.source == s)
            .filter_map(|d| Some(keys.record(d.payload.clone()?, d.origin.clone())))
            .collect();
        let mut total = Summary::default();
        for chunk in records.chunks(CHUNK) {
            let (commit, summary) = pipeline.prepare(chunk.to_vec()).await?;
            store.commit(&s, &commit).await?;
            total.add(&summary);
        }
        store.log(Some(&s), "retry", &format!("dead letters retried: {}", total.line())).await?;
        out.push((s, total));
    }
    Ok(out)
}
