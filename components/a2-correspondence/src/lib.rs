//! Component glue only; the transform is in `correspondence.rs`.
pub mod correspondence;

dialogsync_sdk::export_transformer!(correspondence::transform);
