//! Import audit: a component may import only what its world declares.
//!
//! The linker provides all of WASI, but a component that asks for anything
//! its world in `wit/plugin.wit` does not import (the filesystem, sockets, or
//! `wasi:http` for a mapper) is refused at load time: the plugin is
//! untrusted, and its imports are its declared capabilities. The allowed
//! lists are not kept by hand: the build script resolves `wit/` with
//! wit-parser (the same resolver wasmtime's `bindgen!` uses) and writes each
//! world's imports, transitive `use`s included, into the generated
//! `worlds.rs`.

use anyhow::bail;
use wasmtime::Engine;
use wasmtime::component::Component;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/worlds.rs"));
}

/// A world of the `llm-metrics:plugin` package: what a component of it may
/// import and must export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// `mapping`: exports `parser` and `mapper`; imports what Rust's std
    /// needs, no network.
    Mapping,
    /// `plugin` (the collector world): `mapping` plus `collector`, and an
    /// import of `wasi:http/outgoing-handler`.
    Plugin,
    /// `service`: `plugin` plus an exported `wasi:http/incoming-handler`.
    Service,
}

impl World {
    /// Every world, smallest first.
    pub const ALL: [World; 3] = [World::Mapping, World::Plugin, World::Service];

    /// The world's name in `wit/plugin.wit`.
    pub fn name(self) -> &'static str {
        match self {
            World::Mapping => generated::MAPPING.0,
            World::Plugin => generated::PLUGIN.0,
            World::Service => generated::SERVICE.0,
        }
    }

    /// The interfaces the world imports, as `package/interface@version`,
    /// derived from the WIT at build time.
    pub fn imports(self) -> &'static [&'static str] {
        match self {
            World::Mapping => generated::MAPPING.1,
            World::Plugin => generated::PLUGIN.1,
            World::Service => generated::SERVICE.1,
        }
    }

    /// The interfaces the world exports, as `package/interface@version`.
    pub fn exports(self) -> &'static [&'static str] {
        match self {
            World::Mapping => generated::MAPPING.2,
            World::Plugin => generated::PLUGIN.2,
            World::Service => generated::SERVICE.2,
        }
    }

    /// Whether the world imports `name` (versions aside: the linker matches
    /// semver-compatible WASI versions, so a component built against an
    /// older 0.2.x is still judged by the interface it asks for).
    pub fn allows(self, name: &str) -> bool {
        let unversioned = |n: &str| n.split('@').next().unwrap_or(n).to_string();
        let wanted = unversioned(name);
        self.imports().iter().any(|i| unversioned(i) == wanted)
    }
}

/// The component's imports, as `package/interface@version` names.
pub fn imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Fail unless every import of `component` is one `world` declares.
pub fn check_imports(engine: &Engine, component: &Component, world: World) -> anyhow::Result<()> {
    let denied: Vec<String> = imports(engine, component)
        .into_iter()
        .filter(|name| !world.allows(name))
        .collect();
    if !denied.is_empty() {
        bail!(
            "the component imports capabilities this host does not grant: {} (the `{}` world \
             does not declare them)",
            denied.join(", "),
            world.name()
        );
    }
    Ok(())
}
