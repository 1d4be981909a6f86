//! The guest side of the `dialogsync:pipeline@0.1.0` contract (`wit/pipeline.wit`).
//!
//! Bindings are generated once here, so component crates hold only their logic and one
//! `export_transformer!` / `export_projector!` line. The generated types are plain Rust values
//! (with serde), so that logic is tested natively with `cargo test`.

pub mod element;
pub mod fields;
pub mod json;
pub mod rules;
pub mod time;

/// Bindings for the `source-transformer` world.
pub mod transformer_world {
    wit_bindgen::generate!({
        world: "source-transformer",
        path: "../../wit",
        default_bindings_module: "dialogsync_sdk::transformer_world",
        pub_export_macro: true,
        export_macro_name: "export_source_transformer",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// Bindings for the `dialog-projector` world; shares the `types` interface with the above.
pub mod projector_world {
    wit_bindgen::generate!({
        world: "dialog-projector",
        path: "../../wit",
        default_bindings_module: "dialogsync_sdk::projector_world",
        pub_export_macro: true,
        export_macro_name: "export_dialog_projector",
        with: { "dialogsync:pipeline/types@0.1.0": crate::transformer_world::dialogsync::pipeline::types },
    });
}

pub use transformer_world::dialogsync::pipeline::types;

impl std::fmt::Display for types::RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use types::RecordError::*;
        match self {
            Malformed(m) => write!(f, "malformed: {m}"),
            MissingField(p) => write!(f, "missing required field `{p}`"),
            InvalidField(e) => write!(f, "invalid field `{}`: {}", e.field, e.message),
            RuleViolation(m) => write!(f, "rule violation: {m}"),
        }
    }
}

/// Exports a source transformer. `$f` is `fn(&SourceRecord) -> Result<Transformed, RecordError>`,
/// called once per record of each batch.
#[macro_export]
macro_rules! export_transformer {
    ($f:path) => {
        // Only a wasm build exports anything: native builds (tests) link several guests' logic.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
        struct DialogsyncTransformer;
        impl $crate::transformer_world::exports::dialogsync::pipeline::transformer::Guest
            for DialogsyncTransformer
        {
            fn transform(
                records: ::std::vec::Vec<$crate::types::SourceRecord>,
            ) -> ::std::vec::Vec<::std::result::Result<$crate::types::Transformed, $crate::types::RecordError>>
            {
                records.iter().map($f).collect()
            }
        }
        $crate::transformer_world::export_source_transformer!(DialogsyncTransformer with_types_in $crate::transformer_world);
        };
    };
}

/// Exports the dialog projector. `$f` is
/// `fn(&ProjectionContext, &Element) -> Result<Dialog, RecordError>`, called once per element.
#[macro_export]
macro_rules! export_projector {
    ($f:path) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
        struct DialogsyncProjector;
        impl $crate::projector_world::exports::dialogsync::pipeline::projector::Guest
            for DialogsyncProjector
        {
            fn project(
                context: $crate::types::ProjectionContext,
                elements: ::std::vec::Vec<$crate::types::Element>,
            ) -> ::std::vec::Vec<::std::result::Result<$crate::types::Dialog, $crate::types::RecordError>>
            {
                elements.iter().map(|e| $f(&context, e)).collect()
            }
        }
        $crate::projector_world::export_dialog_projector!(DialogsyncProjector with_types_in $crate::projector_world);
        };
    };
}
