//! dialogsync's host. A record's way through it, one module per stage:
//!
//! `sources` (fetch raw records) → `sync` (stage, call the components, resolve parties,
//! validate, commit) using `runtime` (the sandboxed WASM components) and `store` (SQLite or
//! PostgreSQL; hosts sharing one store take leases on the work).
//! `scheduler` runs `sync` per source on live ticks, historic windows and pushed events;
//! `reconcile` and `replay` check and redo; `status` reports from the store. `config` says
//! which component and connector each source uses; `simulate` stands in for the sources;
//! `api` serves the dialogs (Dialogporten's end-user and service-owner API) and the status
//! page; `bench` measures it all.

pub mod api;
pub mod bench;
pub mod clock;
pub mod config;
pub mod fixtures;
pub mod generate;
pub mod maskinporten;
pub mod parties;
pub mod reconcile;
pub mod replay;
pub mod runtime;
pub mod scheduler;
pub mod simulate;
pub mod sink;
pub mod sources;
pub mod status;
pub mod store;
pub mod sync;
