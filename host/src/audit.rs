//! Import audit: a plugin may import only what parsing and fetching need.
//!
//! The linker provides all of WASI, but a component that asks for the
//! filesystem, sockets or anything unknown is refused at load time: the
//! plugin is untrusted, and its imports are its declared capabilities.

use anyhow::bail;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Interfaces (without version) the plugin may import.
pub const ALLOWED_IMPORTS: &[&str] = &[
    // Our own types-only interface: no functions, nothing to call.
    "llm-metrics:plugin/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
];

/// The component's imports, as `package/interface@version` names.
pub fn imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Fail unless every import is on [`ALLOWED_IMPORTS`].
pub fn check_imports(engine: &Engine, component: &Component) -> anyhow::Result<()> {
    let denied: Vec<String> = imports(engine, component)
        .into_iter()
        .filter(|name| {
            let unversioned = name.split('@').next().unwrap_or(name);
            !ALLOWED_IMPORTS.contains(&unversioned)
        })
        .collect();
    if !denied.is_empty() {
        bail!(
            "the component imports capabilities this host does not grant: {}",
            denied.join(", ")
        );
    }
    Ok(())
}
