//! The status report (built and rendered in the sync core, `dialogsync_core::status`, which a
//! Spin deployment serves too), from the host's configuration and store, and as a web page.

use crate::clock;
use crate::config::Config;
use crate::store::Store;
use anyhow::Result;
use dialogsync_core::status::{self, Goal};

pub use dialogsync_core::status::{Report, markdown};

pub async fn report(config: &Config, store: &Store) -> Result<Report> {
    let configured: Vec<String> = config.sources.keys().cloned().collect();
    let goal = |name: &str, live_since: i64| {
        let sc = config.source(name).ok()?;
        let interval = config.sync.interval.as_micros() as i64;
        let stale_after = config.sync.stale_after.map_or(2 * interval, |s| s.as_micros() as i64);
        Some(Goal { back_to: sc.back_to_day(live_since), window_days: sc.window_days, interval_micros: interval, stale_after_micros: stale_after, files: sc.connector == "files" })
    };
    Ok(status::report(&mut store.db(), clock::micros(), &configured, goal).await?)
}

/// The report as a web page: the markdown, rendered.
pub fn html(r: &Report) -> String {
    let md = markdown(r);
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::ENABLE_TABLES));
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Migration status</title>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<style>\n\
         body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; line-height: 1.5; }}\n\
         table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: .3rem .8rem; text-align: left; }}\n\
         th {{ background: #f3f3f3; }} code {{ background: #f3f3f3; padding: 0 .2rem; }}\n\
         </style></head>\n<body>\n<h1>Migration status</h1>\n{body}</body></html>\n"
    )
}
