//! Variables and clocks: a component's configuration and its "now".

use crate::fermyon::spin::variables;
use crate::wasi::clocks::wall_clock;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A Spin variable of the component, trimmed; None when unset or empty.
pub fn var(name: &str) -> Option<String> {
    variables::get(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A numeric variable, or `default` when unset.
pub fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match var(name) {
        Some(v) => v.parse().map_err(|_| format!("variable `{name}` = `{v}` is not a number")),
        None => Ok(default),
    }
}

/// A comma-separated list, or `default` when unset.
pub fn list(v: Option<String>, default: &[&str]) -> Vec<String> {
    match v {
        Some(v) => v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        None => default.iter().map(|s| s.to_string()).collect(),
    }
}

/// The `back_to` variable: the day history goes back to (YYYY-MM-DD), or None.
pub fn back_to() -> Result<Option<chrono::NaiveDate>, String> {
    match var("back_to") {
        Some(d) => Ok(Some(d.parse().map_err(|_| format!("variable `back_to` = `{d}` is not a day (YYYY-MM-DD)"))?)),
        None => Ok(None),
    }
}

/// Runs a future whose every await is a plain call into Spin: it is ready at the first poll.
pub fn run_now<T>(f: impl Future<Output = T>) -> Result<T, String> {
    match pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err("a store call did not complete at once".into()),
    }
}

/// Now, microseconds since the epoch.
pub fn now_micros() -> i64 {
    let t = wall_clock::now();
    t.seconds as i64 * 1_000_000 + (t.nanoseconds / 1000) as i64
}

/// The store's row stamp: RFC 3339, milliseconds, UTC.
pub fn stamp() -> String {
    chrono::DateTime::from_timestamp_micros(now_micros()).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
}

