//! For a wasm build, puts the WASI WIT packages the worlds import into
//! `wit/deps/` before `wit-bindgen` reads `wit/` (see `llm-metrics-witdeps`).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() != Ok("wasm") {
        return;
    }
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("tests/adversarial sits two levels below the workspace root");
    if let Err(e) = llm_metrics_witdeps::ensure(root) {
        panic!("putting the WASI WIT packages into wit/deps: {e}");
    }
}
