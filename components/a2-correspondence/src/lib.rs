//! Component glue only; the transform is in `correspondence.rs`.
pub mod correspondence;

#[cfg(feature = "component")]
dialogsync_sdk::export_transformer!(correspondence::transform);
