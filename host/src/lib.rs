//! dialogsync's host. A record's way through it, one module per stage:
//!
//! `sources` (fetch raw records) → `sync` (stage, call the components, resolve parties,
//! validate, commit) using `runtime` (the sandboxed WASM components) and `store` (SQLite).
//! `config` says which component and connector each source uses.

pub mod config;
pub mod fixtures;
pub mod generate;
pub mod parties;
pub mod runtime;
pub mod sources;
pub mod store;
pub mod sync;
pub mod validate;
