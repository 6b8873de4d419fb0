//! Builds the guest component for `wasm32-wasip2` with its own target dir
//! (the pattern of wasmtime's test-programs) and hands its path to the crate
//! as `LLM_METRICS_COMPONENT`, so `cargo build`/`cargo test` need no extra step.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace root");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target_dir = out_dir.join("guest-target");

    for path in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--locked",
            "--package",
            "llm-metrics-guest",
            "--lib",
        ])
        .args(["--target", "wasm32-wasip2", "--profile", "wasm-release"])
        .env("CARGO_TARGET_DIR", &target_dir);
    // Flags meant for the host build (coverage, sanitizers, target-cpu) would
    // break or bloat the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_FEATURE_") {
            cmd.env_remove(key.as_ref());
        }
    }

    let status = cmd
        .status()
        .expect("failed to run cargo for the guest build");
    if !status.success() {
        panic!(
            "building the guest component failed (see above). If the error mentions a missing \
             `wasm32-wasip2` target, run: rustup target add wasm32-wasip2"
        );
    }
    let wasm = target_dir.join("wasm32-wasip2/wasm-release/llm_metrics_guest.wasm");
    assert!(wasm.exists(), "guest build produced no {}", wasm.display());
    println!("cargo:rustc-env=LLM_METRICS_COMPONENT={}", wasm.display());
}
