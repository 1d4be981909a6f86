//! The sync engine's steps, over any shell: a page through the pipeline, a live tick, one page
//! of history. The `dialogsync` host runs them between its timers and pushed events; a Spin tick
//! component runs them within one cron event's budget. A shell gives I/O only ([`Shell`]).

use crate::commit::{Commit, Fence, WindowPage};
use crate::db::{self, Db};
use crate::page::{Element, Page, Settings, Transform};
use crate::plan;
use crate::record::Fetched;
use crate::source::{Api, Page as SourcePage};
use crate::summary::Summary;
use chrono::NaiveDate;
use dialogsync_sdk::types::{Dialog, ProjectionContext, SourceRecord, SyncMode};
use serde_json::json;
use std::collections::HashSet;

/// What a shell does for the engine: its store, its source, its components, its clock.
#[allow(async_fn_in_trait)]
pub trait Shell {
    type Element: Element;
    type Db: Db;
    /// A failure of the shell's I/O; store failures convert into it.
    type Error: From<db::Error<<Self::Db as Db>::Error>>;
    fn db(&mut self) -> &mut Self::Db;
    /// GET one page of the source.
    async fn fetch(&mut self, url: &str) -> Result<SourcePage, Self::Error>;
    /// The transformer over one page's records (the inputs come back, for their payloads).
    async fn transform(&mut self, input: Vec<SourceRecord>) -> Result<(Vec<SourceRecord>, Vec<Result<Transform<Self::Element>, String>>), Self::Error>;
    /// The projector over one page's elements.
    async fn project(&mut self, ctx: ProjectionContext, elements: Vec<Self::Element>) -> Result<Vec<Result<Dialog, String>>, Self::Error>;
    /// The stamp stored with rows: RFC 3339, milliseconds, UTC.
    fn stamp(&self) -> String;
    /// Now, microseconds: a page's "now" is read after it was fetched, so no record of it is
    /// newer than "now" (the projector clamps times in the future to it).
    fn now_micros(&self) -> i64;
}

/// One page of fetched records through stage, transformer, tombstones, party register,
/// projector, rules and newer-version-wins: what to commit, not yet committed (the caller adds
/// its cursor or window progress so they land in the same transaction).
pub async fn prepare<S: Shell>(shell: &mut S, settings: Settings, items: Vec<Fetched>) -> Result<(Commit, Summary), S::Error> {
    let (commit, summary, _) = prepare_reading(shell, settings, items).await?;
    Ok((commit, summary))
}

/// [`prepare`], and the source ids whose stored rows the page read (staged versions,
/// tombstones, dialogs): a commit that writes any of them ([`Commit::writes`]) before this
/// page's own makes the page stale, to be prepared again.
pub async fn prepare_reading<S: Shell>(shell: &mut S, settings: Settings, items: Vec<Fetched>) -> Result<(Commit, Summary, HashSet<String>), S::Error> {
    let source = settings.source.clone();
    let mut read: HashSet<String> = HashSet::new();
    let ctx = ProjectionContext { now: settings.now, mode: settings.mode };
    let mut page: Page<S::Element> = Page::new(settings, items);
    let keys = page.stage_keys();
    read.extend(keys.iter().map(|(id, _)| id.clone()));
    let settled = db::staged_final(shell.db(), &source, &keys).await?;
    page.settled(&settled);
    let input = page.transform_input();
    let (input, results) = shell.transform(input).await?;
    page.transformed(input, results);
    let ids = page.tombstone_ids();
    let removed = db::tombstones(shell.db(), &source, &ids).await?;
    read.extend(ids);
    page.tombstones(removed);
    let known = db::parties(shell.db(), &page.party_ids()).await?;
    page.parties(&known);
    let elements = page.project_input();
    let results = shell.project(ctx, elements).await?;
    let ids = page.project_ids();
    let current = db::current(shell.db(), &source, &ids).await?;
    read.extend(ids);
    page.projected(results, current);
    let (commit, summary) = page.finish();
    Ok((commit, summary, read))
}

/// Commits one page in one transaction.
pub async fn commit<S: Shell>(shell: &mut S, source: &str, c: &Commit) -> Result<(), S::Error> {
    let at = shell.stamp();
    Ok(db::commit_page(shell.db(), source, c, &at).await?)
}

/// Where a worker stands among the sync engine's leases.
#[derive(Debug, Clone)]
pub struct Leases {
    /// This worker's name in the leases table.
    pub holder: String,
    /// How long the live lease lasts: longer than the time between two ticks.
    pub live_ttl_micros: i64,
    /// How long a window's lease lasts without a page committed.
    pub window_ttl_micros: i64,
}

impl Leases {
    pub fn live(&self) -> Fence {
        Fence { name: "live".into(), holder: self.holder.clone(), ttl_micros: self.live_ttl_micros }
    }
    pub fn window(&self, first: NaiveDate) -> Fence {
        Fence { name: format!("window:{first}"), holder: self.holder.clone(), ttl_micros: self.window_ttl_micros }
    }
}

/// How far one call may go.
pub struct Bounds<'a> {
    /// Pages at most (live pages and waiting batches together); `None`: until the source has
    /// no next page.
    pub max_pages: Option<usize>,
    /// Asked between pages: stop now (a signal, a spent time budget).
    pub stop: &'a (dyn Fn() -> bool + Sync),
}

/// A live tick: first the records that waited for a party the register has learnt since, then
/// the pages of changes since the cursor, each committed with its cursor under the `live`
/// lease. Returns the summary and whether pages were left (a bound stopped it).
pub async fn live_tick<S: Shell>(shell: &mut S, settings: &Settings, api: &Api, leases: &Leases, live_since: i64, overlap_micros: i64, bounds: &Bounds<'_>) -> Result<(Summary, bool), S::Error> {
    let source = settings.source.clone();
    let mut total = Summary::default();
    let mut pages = 0usize;
    let spent = |pages: usize| bounds.max_pages.is_some_and(|m| pages >= m) || (bounds.stop)();
    loop {
        let ready = db::waiting_ready(shell.db(), &source, 1000).await?;
        if ready.is_empty() {
            break;
        }
        let now = shell.now_micros();
        let (mut commit, s) = prepare(shell, Settings { mode: SyncMode::Historic, now, ..settings.clone() }, ready.into_iter().map(Ok).collect()).await?;
        commit.fence = Some(leases.live());
        self::commit(shell, &source, &commit).await?;
        tracing::info!(source = %source, migrated = s.migrated, "records that waited for their party");
        pages += 1;
        let stuck = s.waiting == s.fetched;
        total.add(&s);
        if stuck {
            break;
        }
        if spent(pages) {
            return Ok((total, true));
        }
    }
    let mut cursor: i64 = match db::checkpoint(shell.db(), &source, "live").await? {
        Some(v) => v.parse().map_err(|_| db::Error::<<S::Db as Db>::Error>::Invalid(format!("{source}: the live cursor `{v}` is not a number")))?,
        None => live_since,
    };
    let mut url = api.changed_url(cursor - overlap_micros);
    loop {
        let page = shell.fetch(&url).await?;
        cursor = match page.cursor {
            Some(c) => cursor.max(c),
            None => plan::advance_cursor(cursor, page.records.iter().filter_map(|r| r.as_ref().ok().map(|r| r.version))),
        };
        let now = shell.now_micros();
        let (mut commit, s) = prepare(shell, Settings { mode: SyncMode::Live, now, ..settings.clone() }, page.records).await?;
        commit.checkpoint = Some(("live".into(), cursor.to_string()));
        commit.fence = Some(leases.live());
        self::commit(shell, &source, &commit).await?;
        total.add(&s);
        pages += 1;
        match page.next {
            Some(next) if !spent(pages) => url = next,
            Some(_) => return Ok((total, true)),
            None => return Ok((total, false)),
        }
    }
}

/// What a historic step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Historic {
    /// It committed a page.
    Worked,
    /// Windows are left, but other workers hold them all.
    Held,
    /// Every window is done.
    Done,
}

/// A source's history: from the day live sync began back to `back_to`, in windows of
/// `window_days`.
#[derive(Debug, Clone)]
pub struct History {
    pub live_since: i64,
    pub back_to: Option<NaiveDate>,
    pub window_days: u32,
}

/// One page of a historic window: the one this worker is working (`current`), else the
/// newest unfinished one no other worker holds. Each page commits with the window's counts and
/// next-page URL under the window's lease, so another worker resumes where it stood.
pub async fn historic_step<S: Shell>(shell: &mut S, settings: &Settings, api: &Api, leases: &Leases, history: &History, current: &mut Option<NaiveDate>) -> Result<Historic, S::Error> {
    let Some(back_to) = history.back_to else { return Ok(Historic::Done) };
    let source = settings.source.clone();
    let plan = plan::windows(history.live_since, back_to, history.window_days);
    let done = db::done_windows(shell.db(), &source).await?;
    let open = plan::open_windows(&plan, &done, *current);
    if open.is_empty() {
        return Ok(Historic::Done);
    }
    for (first, last) in open {
        let fence = leases.window(first);
        if !db::acquire(shell.db(), &source, &fence.name, &fence.holder, fence.ttl_micros).await? {
            continue;
        }
        *current = Some(first);
        // Read afresh: a worker that held the window before may have committed pages since.
        let stored = db::window(shell.db(), &source, &first.to_string()).await?;
        if stored.as_ref().is_some_and(|w| w.state == "done") {
            db::release(shell.db(), &source, &fence.name, &fence.holder).await?;
            continue;
        }
        let url = stored.and_then(|w| w.next_url).unwrap_or_else(|| api.window_url(first, last));
        let page = shell.fetch(&url).await?;
        let now = shell.now_micros();
        let (mut commit, counts) = prepare(shell, Settings { mode: SyncMode::Historic, now, ..settings.clone() }, page.records).await?;
        let finished = page.next.is_none();
        commit.window = Some(WindowPage { first_day: first.to_string(), last_day: last.to_string(), next_url: page.next, counts });
        commit.fence = Some(fence.clone());
        self::commit(shell, &source, &commit).await?;
        if finished {
            *current = None;
            db::release(shell.db(), &source, &fence.name, &fence.holder).await?;
            tracing::info!(source = %source, window = %first, holder = %fence.holder, "historic window done");
            let done = db::done_windows(shell.db(), &source).await?;
            if let Some((before, to)) = plan::watermark_moved(&plan, &done, first) {
                let message = format!("historic data migrated back to {}", to.format("%d.%m.%Y"));
                let data = json!({ "from": before.map(|d| d.to_string()), "to": to.to_string(), "complete": to == back_to });
                let at = shell.stamp();
                db::log(shell.db(), Some(&source), "watermark", &message, Some(data), &at).await?;
            }
        }
        return Ok(Historic::Worked);
    }
    Ok(Historic::Held)
}
