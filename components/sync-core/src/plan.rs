//! Scheduling decisions: historic windows newest first, which window to work next, the
//! "migrated back to" watermark, and the live cursor.

use chrono::{DateTime, Duration, NaiveDate};
use std::collections::BTreeSet;

/// The UTC day of a microsecond timestamp.
pub fn day_of(micros: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp_micros(micros).map(|t| t.date_naive())
}

/// The historic windows of a source, newest first: `(first day, last day)`, from the day live
/// sync began back to `back_to`.
pub fn windows(live_since: i64, back_to: NaiveDate, window_days: u32) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let Some(mut last) = day_of(live_since) else { return out };
    while last >= back_to {
        let first = (last - Duration::days(window_days.max(1) as i64 - 1)).max(back_to);
        out.push((first, last));
        last = first - Duration::days(1);
    }
    out
}

/// The windows still to work, in the order to try them: newest first, except that the window
/// this worker already holds (`current`) comes first, so it finishes what it started. `done`
/// holds the first days of finished windows.
pub fn open_windows(plan: &[(NaiveDate, NaiveDate)], done: &BTreeSet<String>, current: Option<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let mut open: Vec<_> = plan.iter().copied().filter(|(first, _)| !done.contains(&first.to_string())).collect();
    if let Some(i) = current.and_then(|c| open.iter().position(|(first, _)| *first == c)) {
        open[..=i].rotate_right(1);
    }
    open
}

/// "Migrated back to": the oldest day D such that every window from D up to the day live sync
/// began is done. `done` holds the first days of finished windows.
pub fn watermark(plan: &[(NaiveDate, NaiveDate)], done: &BTreeSet<String>) -> Option<NaiveDate> {
    plan.iter().take_while(|(first, _)| done.contains(&first.to_string())).last().map(|(first, _)| *first)
}

/// How the watermark moved when window `finished` was done: `(before, after)`, or `None` when it
/// did not move (an older window finished before a newer one).
pub fn watermark_moved(plan: &[(NaiveDate, NaiveDate)], done: &BTreeSet<String>, finished: NaiveDate) -> Option<(Option<NaiveDate>, NaiveDate)> {
    let after = watermark(plan, done)?;
    let mut without = done.clone();
    without.remove(&finished.to_string());
    let before = watermark(plan, &without);
    (before != Some(after)).then_some((before, after))
}

/// The live cursor after a page: the newest version seen so far (it never goes back).
pub fn advance_cursor(cursor: i64, page_versions: impl IntoIterator<Item = i64>) -> i64 {
    page_versions.into_iter().fold(cursor, i64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const LIVE: i64 = 1_767_268_800_000_000; // 2026-01-01T12:00:00Z

    #[test]
    fn windows_run_newest_first_and_stop_at_back_to() {
        let plan = windows(LIVE, d("2025-12-27"), 2);
        assert_eq!(plan, vec![(d("2025-12-31"), d("2026-01-01")), (d("2025-12-29"), d("2025-12-30")), (d("2025-12-27"), d("2025-12-28"))]);
        assert_eq!(windows(LIVE, d("2026-01-01"), 7), vec![(d("2026-01-01"), d("2026-01-01"))]);
        assert!(windows(LIVE, d("2026-01-02"), 1).is_empty());
    }

    #[test]
    fn the_held_window_comes_first_then_newest_first() {
        let plan = windows(LIVE, d("2025-12-28"), 1);
        let done: BTreeSet<String> = ["2025-12-31".to_string()].into();
        let firsts = |c| open_windows(&plan, &done, c).into_iter().map(|(f, _)| f.to_string()).collect::<Vec<_>>();
        assert_eq!(firsts(None), ["2026-01-01", "2025-12-30", "2025-12-29", "2025-12-28"]);
        assert_eq!(firsts(Some(d("2025-12-29"))), ["2025-12-29", "2026-01-01", "2025-12-30", "2025-12-28"]);
    }

    #[test]
    fn the_watermark_moves_only_over_an_unbroken_run() {
        let plan = windows(LIVE, d("2025-12-29"), 1);
        let mut done = BTreeSet::new();
        done.insert("2025-12-31".to_string());
        assert_eq!(watermark_moved(&plan, &done, d("2025-12-31")), None, "the newest day is not done yet");
        done.insert("2026-01-01".to_string());
        assert_eq!(watermark_moved(&plan, &done, d("2026-01-01")), Some((None, d("2025-12-31"))), "both days at once");
        done.insert("2025-12-29".to_string());
        assert_eq!(watermark_moved(&plan, &done, d("2025-12-29")), None, "a gap at 30.12");
        done.insert("2025-12-30".to_string());
        assert_eq!(watermark_moved(&plan, &done, d("2025-12-30")), Some((Some(d("2025-12-31")), d("2025-12-29"))));
    }

    #[test]
    fn the_cursor_never_goes_back() {
        assert_eq!(advance_cursor(10, [3, 12, 7]), 12);
        assert_eq!(advance_cursor(10, [3]), 10);
        assert_eq!(advance_cursor(10, []), 10);
    }
}
