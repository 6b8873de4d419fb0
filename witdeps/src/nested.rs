//! The nested `cargo build` of a workspace package for `wasm32-wasip2`, as
//! the host's and the tests' build scripts run it (the pattern of
//! wasmtime's test-programs): its own target dir, the `wasm-release`
//! profile, and none of the outer build's flags.
//!
//! Invariant: nothing meant for the host build reaches the wasm build:
//! rustflags (coverage, sanitizers, `target-cpu`), a workspace wrapper, and
//! the outer profile's and features' `CARGO_PROFILE_*`/`CARGO_FEATURE_*`
//! variables are removed; the wasm target's own flags come from
//! `.cargo/config.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the components are built for.
pub const TARGET: &str = "wasm32-wasip2";
/// The profile they are built with (the workspace's `[profile.wasm-release]`).
pub const PROFILE: &str = "wasm-release";

/// Run `cargo build --locked <args> --target wasm32-wasip2 --profile
/// wasm-release` in `workspace_root` with `CARGO_TARGET_DIR=target_dir`;
/// returns the directory the artifacts land in
/// (`target_dir/wasm32-wasip2/wasm-release`). `args` names what to build,
/// e.g. `["--package", "llm-metrics-guest", "--lib"]`. Cargo's own output
/// goes to the build script's, so a failure shows above the error.
pub fn build_wasm(
    workspace_root: &Path,
    target_dir: &Path,
    args: &[&str],
) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root)
        .args(["build", "--locked"])
        .args(args)
        .args(["--target", TARGET, "--profile", PROFILE])
        .env("CARGO_TARGET_DIR", target_dir);
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PROFILE_") || key.starts_with("CARGO_FEATURE_") {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo for {args:?}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build {args:?} failed (see above). If the error mentions a missing \
             `{TARGET}` target, run: rustup target add {TARGET}"
        ));
    }
    Ok(target_dir.join(TARGET).join(PROFILE))
}
