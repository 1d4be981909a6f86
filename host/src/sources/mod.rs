//! Source connectors: where raw records come from. Each yields [`Fetched`] items one at a
//! time (streaming), each either a record or a failure that names where it was read.

pub mod events;
pub mod files;
pub mod http;


pub use dialogsync_core::record::{Fetched, RawRecord, ReadFailure};

pub use dialogsync_core::source::RecordKeys;
