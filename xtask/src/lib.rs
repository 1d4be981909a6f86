//! Build helpers for components, also used by the tests: wrapping core modules into
//! components, checking what a component imports and exports, and composing a tick component
//! with its transformer and projector (`wac-graph`), for runtimes that do not compose.

use anyhow::{Context, Result, bail};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};
use std::path::Path;
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

/// The contract's types interface.
pub const TYPES: &str = "dialogsync:pipeline/types@0.1.0";

/// A component that exports the contract's types interface and nothing else, made from the WIT
/// in `wit_dir`: in a composition it defines the types every part imports, so no
/// `dialogsync:pipeline` import is left for the runtime to satisfy.
pub fn types_component(wit_dir: &Path) -> Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::default();
    resolve.push_dir(wit_dir).with_context(|| format!("reading {}", wit_dir.display()))?;
    let pkg = resolve.push_str("compose.wit", &format!("package dialogsync:compose;\nworld types {{ export {TYPES}; }}\n"))?;
    let world = resolve.select_world(&[pkg], Some("types"))?;
    let mut module = wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8, false)?;
    componentize(&module)
}

/// A Spin tick component with its transformer and the projector composed in (and the
/// contract's types defined by [`types_component`]): one component that imports only what the
/// tick imports from Spin. `wit_dir` is the contract's WIT (`wit/`).
pub fn compose_tick(tick: &[u8], transformer: &[u8], projector: &[u8], wit_dir: &Path) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let mut package = |name: &str, bytes: Vec<u8>| -> Result<_> {
        let p = Package::from_bytes(name, None, bytes, graph.types_mut()).with_context(|| format!("reading {name}"))?;
        Ok(graph.register_package(p)?)
    };
    let types = package("dialogsync:types", types_component(wit_dir)?)?;
    let transformer = package("dialogsync:transformer", transformer.to_vec())?;
    let projector = package("dialogsync:projector", projector.to_vec())?;
    let tick_bytes = tick;
    let tick = package("dialogsync:tick", tick.to_vec())?;

    let types = graph.instantiate(types);
    let types = graph.alias_instance_export(types, TYPES)?;
    let mut part = |package, exports: &str| -> Result<_> {
        let node = graph.instantiate(package);
        graph.set_instantiation_argument(node, TYPES, types)?;
        Ok(graph.alias_instance_export(node, exports)?)
    };
    let transformer = part(transformer, "dialogsync:pipeline/transformer@0.1.0")?;
    let projector = part(projector, "dialogsync:pipeline/projector@0.1.0")?;
    let tick = graph.instantiate(tick);
    graph.set_instantiation_argument(tick, TYPES, types)?;
    // The tick imports them by plain names (`dialogsync:spin/tick@0.2.0`), as Spin composes them.
    graph.set_instantiation_argument(tick, "transformer", transformer)?;
    graph.set_instantiation_argument(tick, "projector", projector)?;
    // The tick's own exports, as they are: the cron handler, and the HTTP handler (manual tick).
    for export in surface(tick_bytes)?.exports {
        let item = graph.alias_instance_export(tick, &export)?;
        graph.export(item, &export)?;
    }
    graph.encode(EncodeOptions::default()).context("encoding the composition")
}
