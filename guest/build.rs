//! For a wasm build, puts the WASI WIT packages our worlds import into
//! `wit/deps/` (from the pinned wasmtime-wasi-http crate source, see
//! `llm-metrics-witdeps`) before `wit-bindgen` reads `wit/`. Native builds
//! (unit tests, benchmarks, fuzzing) have no bindings and skip it.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() != Ok("wasm") {
        return;
    }
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("guest/ sits in the workspace root");
    if let Err(e) = llm_metrics_witdeps::ensure(root) {
        panic!("putting the WASI WIT packages into wit/deps: {e}");
    }
}
