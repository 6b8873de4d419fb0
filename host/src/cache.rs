//! Compiled-component cache: compile once, then load machine code directly.
//!
//! Invariant: an artifact is loaded only if it is byte for byte what this
//! host wrote for these component bytes under this engine. Entries are named
//! by SHA-256 over the component's bytes and the engine's compatibility hash
//! (wasmtime version and compile settings), so a new build of either never
//! finds a stale entry. Each file starts with the SHA-256 of the artifact that
//! follows; a truncated, corrupted or foreign file fails that check and is
//! recompiled and replaced, never deserialized. Writes go to a uniquely named
//! temporary file and are renamed into place, so concurrent writers (threads
//! or processes) never expose a half-written entry. A broken or unwritable
//! cache only costs a recompile.
//!
//! Loading machine code is `unsafe` in wasmtime: the digest protects against
//! damage, not against someone who can write the cache directory. On Unix the
//! directory is created private (0700) and an entry writable by group or
//! others is ignored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Length of the integrity header (a SHA-256 digest) of a cache file.
const DIGEST_LEN: usize = 32;

/// Compile `bytes`, going through the cache in `dir` when given.
pub fn load(engine: &Engine, bytes: &[u8], dir: Option<&Path>) -> anyhow::Result<Component> {
    let Some(dir) = dir else {
        return Ok(Component::from_binary(engine, bytes)?);
    };
    let path = entry_path(engine, bytes, dir);
    if let Some(artifact) = read_verified(&path) {
        // SAFETY: `artifact` is exactly what `store` wrote after
        // `precompile_component` for these component bytes under an engine
        // with this compatibility hash (the name and the digest say so), in
        // a private directory; deserialize re-checks version and settings.
        if let Ok(component) = unsafe { Component::deserialize(engine, &artifact) } {
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
    let mut h = Sha256::new();
    h.update(b"llm-metrics component cache v2\0");
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
    // The compatibility hash is only `Hash`: feed the exact bytes it writes
    // into SHA-256 rather than into a hasher whose algorithm may change.
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut Record(&mut h));
    dir.join(format!("component-{}.cwasm", hex(&h.finalize())))
}

/// A `Hasher` that forwards the bytes it is given into SHA-256, so hashing a
/// `Hash` value is stable across Rust releases (unlike `DefaultHasher`).
struct Record<'a>(&'a mut Sha256);

impl std::hash::Hasher for Record<'_> {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The artifact in `path`, if the file is intact and trustworthy.
fn read_verified(path: &Path) -> Option<Vec<u8>> {
    let data = std::fs::read(path).ok()?;
    if !private_enough(path) || data.len() < DIGEST_LEN {
        return None;
    }
    let (digest, artifact) = data.split_at(DIGEST_LEN);
    (Sha256::digest(artifact).as_slice() == digest).then(|| artifact.to_vec())
}

/// Write `compiled` with its digest to a unique temporary file, then rename
/// it over `path`.
fn store(path: &Path, compiled: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().expect("entry paths have a parent");
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{:?}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::thread::current().id(),
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(&Sha256::digest(compiled))?;
        file.write_all(compiled)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// An entry others could have written is not loaded.
#[cfg(unix)]
fn private_enough(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o022 == 0)
}

#[cfg(not(unix))]
fn private_enough(_path: &Path) -> bool {
    true
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
