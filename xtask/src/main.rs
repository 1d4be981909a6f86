//! - `xtask componentize IN OUT EXPORT[,EXPORT…] [ALLOWED-IMPORT-PREFIX…]`: wraps a core module
//!   built for wasm32-unknown-unknown into a component, then checks that it exports each EXPORT and imports
//!   functions only from the allowed interfaces (none: a dialogsync guest is pure).
//! - `xtask compose-tick OUT TICK TRANSFORMER PROJECTOR`: a Spin tick component with its
//!   transformer and the projector composed in (for SpinKube and other runtimes that do not
//!   compose component dependencies).

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("componentize") if args.len() >= 4 => {
            let (input, output, export) = (&args[1], &args[2], &args[3]);
            let allowed: Vec<&str> = args[4..].iter().map(String::as_str).collect();
            let core = std::fs::read(input).with_context(|| format!("reading {input}"))?;
            let component = xtask::componentize(&core).with_context(|| input.clone())?;
            for export in export.split(',') {
                xtask::check(&component, export, &allowed).with_context(|| format!("checking {output}"))?;
            }
            std::fs::write(output, &component).with_context(|| format!("writing {output}"))?;
            match allowed.is_empty() {
                true => println!("{output}: component, exports {export}, no function imports ({} bytes)", component.len()),
                false => println!("{output}: component, exports {export}, imports only {allowed:?} ({} bytes)", component.len()),
            }
            Ok(())
        }
        Some("compose-tick") if args.len() == 5 => {
            let read = |p: &String| std::fs::read(p).with_context(|| format!("reading {p}"));
            let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
            let composed = xtask::compose_tick(&read(&args[2])?, &read(&args[3])?, &read(&args[4])?, &wit).with_context(|| format!("composing {}", args[2]))?;
            std::fs::write(&args[1], &composed).with_context(|| format!("writing {}", args[1]))?;
            println!("{}: {} composed with {} and {} ({} bytes)", args[1], args[2], args[3], args[4], composed.len());
            Ok(())
        }
        _ => bail!("usage: xtask componentize IN.wasm OUT.wasm EXPORT[,EXPORT…] [ALLOWED-IMPORT-PREFIX…] | xtask compose-tick OUT.wasm TICK.wasm TRANSFORMER.wasm PROJECTOR.wasm"),
    }
}

#[cfg(test)]
mod tests {
    use xtask::check;

    /// The files `scripts/build-components.sh` wrote are components exporting their interface
    /// and importing nothing (what `wasm-tools component wit` would show).
    #[test]
    fn built_components_export_their_interface_and_import_nothing() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/components");
        for (name, interface) in [
            ("a2-archived-forms", "dialogsync:pipeline/transformer@0.1.0"),
            ("a2-correspondence", "dialogsync:pipeline/transformer@0.1.0"),
            ("a3-app-instances", "dialogsync:pipeline/transformer@0.1.0"),
            ("a3-correspondence", "dialogsync:pipeline/transformer@0.1.0"),
            ("dialog-projector", "dialogsync:pipeline/projector@0.1.0"),
            ("hostile", "dialogsync:pipeline/transformer@0.1.0"),
        ] {
            let path = dir.join(format!("{name}.wasm"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run scripts/build-components.sh)", path.display()));
            check(&bytes, interface, &[]).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        let projector = std::fs::read(dir.join("dialog-projector.wasm")).unwrap();
        assert!(check(&projector, "dialogsync:pipeline/transformer@0.1.0", &[]).is_err(), "the check can fail");
    }
}
