//! dialogsync's sync logic, with no I/O (DESIGN.md "Scale"; issue 7 "one sync core, two shells").
//!
//! The `dialogsync` host and the Spin tick components both call these functions; each shell only
//! does I/O around them (the host: sqlx, its HTTP client, wasmtime; a tick component: Spin's
//! SQLite or PostgreSQL, outbound HTTP, its imported transformer and projector).
//!
//! - [`record`]: what a source connector yields, and content hashes.
//! - [`source`]: the http connector's URLs and pages.
//! - [`page`]: one page of records through the pipeline, as steps the shell feeds with what it
//!   read (staged versions, tombstones, the party register, stored dialogs) and what the
//!   components returned. It decides newer-version-wins and each record's bucket.
//! - [`commit`]: what a page writes, in one transaction.
//! - [`changes`]: newer-version-wins inside the commit, and the change events it appends.
//! - [`flow`]: the engine's steps over any shell: a page, a live tick, a page of history.
//! - [`db`]: the store's sync statements, for SQLite and PostgreSQL, over any connection.
//! - [`migrate`]: the store's schema, for shells without sqlx.
//! - [`summary`]: the buckets every record ends in.
//! - [`plan`]: historic windows newest first, which one to work, watermarks, the live cursor.
//! - [`status`]: the status report from the store, and its markdown.
//! - [`validate`]: Dialogporten's rules, checked on every dialog before it is stored.

pub mod changes;
pub mod commit;
pub mod db;
pub mod flow;
pub mod migrate;
pub mod page;
pub mod plan;
pub mod record;
pub mod source;
pub mod status;
pub mod summary;
pub mod validate;

pub use commit::{Commit, Current, DeadLetter, DialogRow, Fence, Outcome, Staged, WindowPage};
pub use page::{Components, Page, Transform};
pub use record::{Fetched, RawRecord, ReadFailure, sha256_hex};
pub use summary::Summary;
