//! Component glue only; the transform is in `instance.rs`.
pub mod instance;

#[cfg(feature = "component")]
dialogsync_sdk::export_transformer!(instance::transform);
