//! Component glue only; the projection is in `project.rs`.
pub mod ids;
pub mod project;

dialogsync_sdk::export_projector!(project::project);
