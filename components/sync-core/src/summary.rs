//! The buckets every fetched record ends in:
//! fetched = migrated + unchanged + skipped + waiting + dead.

use crate::commit::Outcome;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What a page, a tick or a run did, per bucket.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub fetched: u64,
    pub migrated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub waiting: u64,
    pub dead: u64,
    /// Skips by reason.
    pub skip_reasons: BTreeMap<String, u64>,
    /// Party ids that records are waiting for.
    pub waiting_party_ids: BTreeSet<String>,
}

impl Summary {
    /// Adds another summary's counts to this one.
    pub fn add(&mut self, o: &Summary) {
        self.fetched += o.fetched;
        self.migrated += o.migrated;
        self.unchanged += o.unchanged;
        self.skipped += o.skipped;
        self.waiting += o.waiting;
        self.dead += o.dead;
        for (r, n) in &o.skip_reasons {
            *self.skip_reasons.entry(r.clone()).or_default() += n;
        }
        self.waiting_party_ids.extend(o.waiting_party_ids.iter().cloned());
    }

    /// `fetched 10 · migrated 8 · …`, for people.
    pub fn line(&self) -> String {
        format!(
            "fetched {} · migrated {} · unchanged {} · skipped {} · waiting {} · dead {}",
            self.fetched, self.migrated, self.unchanged, self.skipped, self.waiting, self.dead
        )
    }

    /// Counts one record's outcome.
    pub fn count(&mut self, o: Outcome) {
        match o {
            Outcome::Migrated => self.migrated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Waiting => self.waiting += 1,
            Outcome::Dead => self.dead += 1,
        }
    }

    /// Every fetched record is in exactly one bucket.
    pub fn balanced(&self) -> bool {
        self.fetched == self.migrated + self.unchanged + self.skipped + self.waiting + self.dead
    }
}
