//! Build helpers for components, also used by the tests: wrapping core modules into
//! components, checking what a component imports and exports, and composing a tick component
//! with its transformer and projector (`wac-graph`), for runtimes that do not compose.

use anyhow::{Context, Result, bail};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};
use wit_component::{ComponentEncoder, DecodedWasm, decode};

/// A core module built for wasm32-unknown-unknown (its WIT in a custom section from
/// wit-bindgen) as a component.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>> {
    ComponentEncoder::default()
        .validate(true)
        .module(core)
        .context("no component type section (built without wit-bindgen?)")?
        .encode()
        .context("encoding as a component")
}

/// What a component imports and exports, as WIT names (`wasi:http/types@0.2.0`,
/// `handle-cron-event`), and which imports hold functions (a types-only interface holds none).
pub struct Surface {
    pub imports: Vec<(String, bool)>,
    pub exports: Vec<String>,
}

pub fn surface(component: &[u8]) -> Result<Surface> {
    let DecodedWasm::Component(resolve, world) = decode(component)? else {
        bail!("not a component");
    };
    let world = &resolve.worlds[world];
    let name = |key: &wit_parser::WorldKey| resolve.name_world_key(key);
    let imports = world
        .imports
        .iter()
        .map(|(key, item)| {
            let functions = match item {
                wit_parser::WorldItem::Interface { id, .. } => !resolve.interfaces[*id].functions.is_empty(),
                wit_parser::WorldItem::Function(_) => true,
                _ => false,
            };
            (name(key), functions)
        })
        .collect();
    Ok(Surface { imports, exports: world.exports.keys().map(name).collect() })
}

/// Checks that `component` exports `export` and imports functions only from interfaces whose
/// names start with one of `allowed` (none: a pure guest, granted nothing).
pub fn check(component: &[u8], export: &str, allowed: &[&str]) -> Result<()> {
    let s = surface(component)?;
    if !s.exports.iter().any(|e| e == export) {
        bail!("exports {:?}, not {export}", s.exports);
    }
    for (import, functions) in &s.imports {
        if *functions && !allowed.iter().any(|a| import.starts_with(a)) {
            match allowed.is_empty() {
                true => bail!("imports {import}: a guest must be granted nothing"),
                false => bail!("imports {import}, which is none of {allowed:?}"),
            }
        }
    }
    Ok(())
}

/// `socket` with each of `plugs`' exports plugged into its imports of the same name: one
/// component that imports only what `socket` imports besides them.
pub fn compose(socket: &[u8], plugs: &[&[u8]]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let socket = Package::from_bytes("dialogsync:socket", None, socket.to_vec(), graph.types_mut()).context("reading the socket component")?;
    let socket = graph.register_package(socket)?;
    let mut ids = Vec::new();
    for (i, plug) in plugs.iter().enumerate() {
        let p = Package::from_bytes(&format!("dialogsync:plug{i}"), None, plug.to_vec(), graph.types_mut()).with_context(|| format!("reading plug {i}"))?;
        ids.push(graph.register_package(p)?);
    }
    wac_graph::plug(&mut graph, ids, socket).context("plugging the components in")?;
    graph.encode(EncodeOptions::default()).context("encoding the composition")
}
