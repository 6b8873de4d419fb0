//! Compiled-component cache: compile once, then load machine code directly.
//!
//! Entries are keyed on the component's bytes and on the engine's
//! compatibility hash (wasmtime version and compile settings), so a new build
//! of either never loads a stale artifact. Writes are atomic (temp file +
//! rename); a broken or unwritable cache only costs a recompile.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Compile `bytes`, going through the cache in `dir` when given.
pub fn load(engine: &Engine, bytes: &[u8], dir: Option<&Path>) -> anyhow::Result<Component> {
    let Some(dir) = dir else {
        return Ok(Component::from_binary(engine, bytes)?);
    };
    let path = entry_path(engine, bytes, dir);
    if path.exists() {
        // SAFETY: the file is one this process family wrote with
        // `precompile_component` for the same engine settings (the key says
        // so), in a per-user cache directory; deserialize re-checks the
        // version and settings and fails cleanly on a mismatch.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let compiled = engine.precompile_component(bytes)?;
    let _ = store(&path, &compiled); // best effort
    // SAFETY: `compiled` was produced just now by this engine.
    Ok(unsafe { Component::deserialize(engine, &compiled) }?)
}

/// The cache file for `bytes` under `engine`.
pub fn entry_path(engine: &Engine, bytes: &[u8], dir: &Path) -> PathBuf {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!(
        "component-{:016x}-{}.cwasm",
        h.finish(),
        bytes.len()
    ))
}

fn store(path: &Path, compiled: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("entry paths have a parent");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    std::fs::write(&tmp, compiled)?;
    std::fs::rename(&tmp, path)
}
