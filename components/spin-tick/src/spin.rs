//! The tick's shell for the sync core: Spin's I/O (`spin-shell`) and the imported transformer
//! and projector.

use crate::{projector, transformer};
use dialogsync_core::db;
use dialogsync_core::flow::Shell;
use dialogsync_core::source::{Api, Page};
use dialogsync_core::Transform;
use dialogsync_sdk::types::{Dialog, Element, ProjectionContext, SourceRecord, Transformed};
use spin_shell::db::SpinDb;
use spin_shell::env::{now_micros, stamp};
use spin_shell::http::get;

/// A failure of the tick, said in words (it ends in the source's state and the trigger's log).
#[derive(Debug)]
pub struct TickError(pub String);

impl From<db::Error<String>> for TickError {
    fn from(e: db::Error<String>) -> TickError {
        TickError(e.to_string())
    }
}

impl From<String> for TickError {
    fn from(e: String) -> TickError {
        TickError(e)
    }
}

/// The tick's shell for the sync core.
pub struct SpinShell {
    pub db: SpinDb,
    pub api: Api,
    /// Records per call of a component.
    pub batch_size: usize,
}

impl Shell for SpinShell {
    type Element = Element;
    type Db = SpinDb;
    type Error = TickError;

    fn db(&mut self) -> &mut SpinDb {
        &mut self.db
    }

    async fn fetch(&mut self, url: &str) -> Result<Page, TickError> {
        let body = get(url)?;
        Ok(self.api.page(url, &body).map_err(|e| format!("GET {url}: {e}"))?)
    }

    async fn transform(&mut self, input: Vec<SourceRecord>) -> Result<(Vec<SourceRecord>, Vec<Result<Transform<Element>, String>>), TickError> {
        let mut out = Vec::with_capacity(input.len());
        for chunk in input.chunks(self.batch_size.max(1)) {
            out.extend(transformer::transform(chunk).into_iter().map(|r| match r {
                Ok(Transformed::Element(e)) => Ok(Transform::Element(e)),
                Ok(Transformed::Skip(s)) => Ok(Transform::Skip { reason: s.reason, remove_existing: s.remove_existing }),
                Err(e) => Err(e.to_string()),
            }));
        }
        Ok((input, out))
    }

    async fn project(&mut self, ctx: ProjectionContext, elements: Vec<Element>) -> Result<Vec<Result<Dialog, String>>, TickError> {
        let mut out = Vec::with_capacity(elements.len());
        for chunk in elements.chunks(self.batch_size.max(1)) {
            out.extend(projector::project(ctx, chunk).into_iter().map(|r| r.map_err(|e| e.to_string())));
        }
        Ok(out)
    }

    fn stamp(&self) -> String {
        stamp()
    }

    fn now_micros(&self) -> i64 {
        now_micros()
    }
}
