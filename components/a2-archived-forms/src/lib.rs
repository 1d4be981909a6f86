//! Component glue only; the transform is in `form.rs`.
pub mod form;

dialogsync_sdk::export_transformer!(form::transform);
