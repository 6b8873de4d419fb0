//! Puts the WASI WIT packages our worlds import (`wasi:http`, `wasi:io`,
//! `wasi:clocks`, `wasi:cli`, `wasi:random`, and the `wasi:filesystem` and
//! `wasi:sockets` packages `wasi:cli` refers to) into `wit/deps/`, copied from
//! the `wit/deps/` directory of the `wasmtime-wasi-http` crate the workspace
//! pins (`=48.0.8`, WASI 0.2.12).
//!
//! Build scripts call [`ensure`] before anything parses `wit/`: the guest's
//! (for `wit-bindgen`), the hostile test guests', and the host's (for
//! wasmtime's `bindgen!` and the import audit). The crate source is found with
//! `cargo metadata`, so vendored sources and mirrors work as well as the
//! crates.io cache, and the WASI version always matches the host
//! implementation we link. `wit/deps/` is a build product (git-ignored); a file
//! is only rewritten when its content differs, so builds stay incremental, and
//! each write goes through a unique temporary file and a rename, so build
//! scripts running at the same time never see a half-written file.
//!
//! [`nested`] is the other half of what those build scripts share: the
//! nested `cargo build` of a package for `wasm32-wasip2`.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod nested;

/// The crate whose `wit/deps/` we copy: it implements the interfaces, so its
/// WIT is exactly what the host links.
pub const SOURCE_CRATE: &str = "wasmtime-wasi-http";

/// Make `<workspace_root>/wit/deps/` hold the WASI packages of the pinned
/// `wasmtime-wasi-http`; returns that directory. Also prints the
/// `cargo:rerun-if-changed` lines a build script needs for it.
pub fn ensure(workspace_root: &Path) -> Result<PathBuf, String> {
    let source = locate(workspace_root)?;
    let target = workspace_root.join("wit").join("deps");
    std::fs::create_dir_all(&target).map_err(|e| format!("creating {}: {e}", target.display()))?;
    let mut wanted = Vec::new();
    let entries =
        std::fs::read_dir(&source).map_err(|e| format!("reading {}: {e}", source.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "wit") {
            let name = path.file_name().expect("a file").to_owned();
            let text =
                std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            write_if_changed(&target.join(&name), &text)?;
            wanted.push(name);
        }
    }
    if wanted.is_empty() {
        return Err(format!("{} holds no .wit files", source.display()));
    }
    // A file left over from another WASI version would be parsed too.
    for entry in std::fs::read_dir(&target).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        // Another build script's file on its way in: not ours to remove.
        if name.to_string_lossy().contains(".tmp") {
            continue;
        }
        if !wanted.contains(&name) {
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| format!("removing stale {}: {e}", path.display()))?;
        }
    }
    println!("cargo:rerun-if-changed={}", target.display());
    println!(
        "cargo:rerun-if-changed={}",
        workspace_root.join("Cargo.lock").display()
    );
    Ok(target)
}

/// `wit/deps/` of the `wasmtime-wasi-http` in the workspace's lock file.
pub fn locate(workspace_root: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(workspace_root.join("Cargo.toml"))
        // The outer build's flags and target are not ours to pass on.
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
    let packages = doc["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let mut found = packages
        .iter()
        .filter(|p| p["name"] == SOURCE_CRATE)
        .filter_map(|p| p["manifest_path"].as_str());
    let manifest = found
        .next()
        .ok_or_else(|| format!("{SOURCE_CRATE} is not in the workspace's dependencies"))?;
    if found.next().is_some() {
        return Err(format!("more than one {SOURCE_CRATE} in the lock file"));
    }
    let deps = Path::new(manifest)
        .parent()
        .ok_or("manifest path has no parent")?
        .join("wit")
        .join("deps");
    if !deps.join("http.wit").is_file() {
        return Err(format!("{} has no http.wit", deps.display()));
    }
    Ok(deps)
}

fn write_if_changed(path: &Path, contents: &[u8]) -> Result<(), String> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    let tmp = path.with_extension(format!("wit.tmp{}", std::process::id()));
    std::fs::write(&tmp, contents).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming to {}: {e}", path.display()))
}
