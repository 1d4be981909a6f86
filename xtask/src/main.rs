//! `xtask componentize IN OUT INTERFACE`: wraps a core module built for wasm32-unknown-unknown
//! (which carries its WIT in a custom section from wit-bindgen) into a component, then checks
//! that it exports INTERFACE and imports no functions at all: a dialogsync guest is pure.

use anyhow::{Context, Result, bail};
use wit_component::{ComponentEncoder, DecodedWasm, decode};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cmd, input, output, interface] = args.as_slice() else {
        bail!("usage: xtask componentize IN.wasm OUT.wasm dialogsync:pipeline/INTERFACE@VERSION");
    };
    if cmd != "componentize" {
        bail!("unknown command `{cmd}`");
    }
    let core = std::fs::read(input).with_context(|| format!("reading {input}"))?;
    let component = ComponentEncoder::default()
        .validate(true)
        .module(&core)
        .with_context(|| format!("{input}: no component type section (built without wit-bindgen?)"))?
        .encode()
        .with_context(|| format!("encoding {input} as a component"))?;
    check(&component, interface).with_context(|| format!("checking {output}"))?;
    std::fs::write(output, &component).with_context(|| format!("writing {output}"))?;
    println!("{output}: component, exports {interface}, no function imports ({} bytes)", component.len());
    Ok(())
}

fn check(component: &[u8], interface: &str) -> Result<()> {
    let DecodedWasm::Component(resolve, world) = decode(component)? else {
        bail!("not a component");
    };
    let world = &resolve.worlds[world];
    let name = |key: &wit_parser::WorldKey| resolve.name_world_key(key);
    let exports: Vec<String> = world.exports.keys().map(name).collect();
    if !exports.iter().any(|e| e == interface) {
        bail!("exports {exports:?}, not {interface}");
    }
    for (key, item) in &world.imports {
        let has_functions = match item {
            wit_parser::WorldItem::Interface { id, .. } => !resolve.interfaces[*id].functions.is_empty(),
            wit_parser::WorldItem::Function(_) => true,
            _ => false,
        };
        if has_functions {
            bail!("imports {}: a guest must be granted nothing", name(key));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

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
            check(&bytes, interface).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        let projector = std::fs::read(dir.join("dialog-projector.wasm")).unwrap();
        assert!(check(&projector, "dialogsync:pipeline/transformer@0.1.0").is_err(), "the check can fail");
    }
}
