//! The compiled-component cache: entries survive only intact. A truncated
//! or corrupted entry is recompiled and replaced, never loaded; concurrent
//! writers leave one complete entry and no temporary files.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use llm_metrics_host::EMBEDDED_COMPONENT;
use llm_metrics_host::cache::{entry_path, load};
use llm_metrics_host::plugin::shared_engine;
use llm_metrics_host::wit::types::Format;
use llm_metrics_host::{Limits, Plugin};

use crate::common::opts;

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "llm-metrics-cache-test-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Load through the cache and prove the component works.
async fn load_and_use(dir: &Path) {
    let engine = shared_engine().unwrap();
    let component = load(&engine, EMBEDDED_COMPONENT, Some(dir)).expect("loads");
    let plugin = Plugin::from_component(&engine, &component, Limits::default()).unwrap();
    let parsed = plugin
        .parse(b"a 1\n", &opts(Format::Auto, false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parsed.families[0].samples[0].value, 1.0);
}

#[tokio::test]
async fn damaged_entries_are_recompiled_and_replaced() {
    let dir = TempDir::new("damaged");
    let engine = shared_engine().unwrap();
    let entry = entry_path(&engine, EMBEDDED_COMPONENT, &dir.0);
    load_and_use(&dir.0).await;
    let pristine = std::fs::read(&entry).expect("the first load writes the entry");
    assert_eq!(files(&dir.0).len(), 1);

    let mut flipped = pristine.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let damages: [(&str, Vec<u8>); 4] = [
        ("truncated", pristine[..pristine.len() / 2].to_vec()),
        ("one byte flipped", flipped),
        ("empty", Vec::new()),
        ("not ours", b"\0asm garbage".repeat(100)),
    ];
    for (what, bytes) in damages {
        std::fs::write(&entry, &bytes).unwrap();
        load_and_use(&dir.0).await;
        // Compiling is deterministic, so a recompiled entry is byte for byte
        // the pristine one; a loaded damaged entry would have stayed damaged.
        assert!(
            std::fs::read(&entry).unwrap() == pristine,
            "{what}: the damaged entry was not replaced"
        );
        assert_eq!(files(&dir.0).len(), 1, "{what}: {:?}", files(&dir.0));
    }
}

#[test]
fn the_key_is_stable_and_covers_the_component_bytes() {
    let engine = shared_engine().unwrap();
    let dir = Path::new("/nonexistent");
    let a = entry_path(&engine, EMBEDDED_COMPONENT, dir);
    assert_eq!(a, entry_path(&engine, EMBEDDED_COMPONENT, dir));
    let mut other = EMBEDDED_COMPONENT.to_vec();
    *other.last_mut().unwrap() ^= 1;
    assert_ne!(a, entry_path(&engine, &other, dir));
    let name = a.file_name().unwrap().to_string_lossy().into_owned();
    // component-<64 hex digits of SHA-256>.cwasm
    assert_eq!(
        name.len(),
        "component-".len() + 64 + ".cwasm".len(),
        "{name}"
    );
}

#[test]
fn concurrent_writers_leave_one_complete_entry() {
    let dir = TempDir::new("concurrent");
    let engine = shared_engine().unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| load(&engine, EMBEDDED_COMPONENT, Some(&dir.0)).expect("loads"));
        }
    });
    assert_eq!(
        files(&dir.0),
        [entry_path(&engine, EMBEDDED_COMPONENT, &dir.0)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()]
    );
    // The surviving entry is intact: it loads without a recompile.
    let before = std::fs::metadata(entry_path(&engine, EMBEDDED_COMPONENT, &dir.0))
        .unwrap()
        .modified()
        .unwrap();
    load(&engine, EMBEDDED_COMPONENT, Some(&dir.0)).unwrap();
    let after = std::fs::metadata(entry_path(&engine, EMBEDDED_COMPONENT, &dir.0))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "an intact entry was rewritten");
}
