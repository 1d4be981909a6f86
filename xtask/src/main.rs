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
