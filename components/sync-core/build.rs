//! Embeds the store's migrations (`migrations/{sqlite,postgres}/VERSION_DESCRIPTION.sql`, the
//! files sqlx's `migrate!` reads in the host) for shells without sqlx: the Spin tick components.

use std::fmt::Write;

fn main() {
    let dir = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut out = String::new();
    for dialect in ["sqlite", "postgres"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(dialect)).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "sql")).collect();
        files.sort();
        writeln!(out, "pub const {}: &[Migration] = &[", dialect.to_uppercase()).unwrap();
        for f in files {
            let stem = f.file_stem().unwrap().to_str().unwrap();
            let (version, description) = stem.split_once('_').expect("VERSION_DESCRIPTION.sql");
            writeln!(out, "    Migration {{ version: {version}, description: {:?}, sql: include_str!({:?}) }},", description.replace('_', " "), f.display().to_string()).unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    std::fs::write(std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("migrations.rs"), out).unwrap();
}
