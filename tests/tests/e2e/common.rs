//! Shared set-up: the component is compiled once per test binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use llm_metrics_host::plugin::shared_engine;
use llm_metrics_host::wit::types::{Format, ParseOptions};
use llm_metrics_host::{EMBEDDED_COMPONENT, Limits, Plugin};
use wasmtime::component::Component;

/// The embedded component, compiled once.
pub fn component() -> &'static Component {
    static C: OnceLock<Component> = OnceLock::new();
    C.get_or_init(|| {
        let engine = shared_engine().expect("engine");
        Component::from_binary(&engine, EMBEDDED_COMPONENT)
            .expect("the embedded component compiles")
    })
}

/// A plugin with custom limits over the shared compiled component.
pub fn plugin_with(limits: Limits) -> Plugin {
    Plugin::from_component(&shared_engine().unwrap(), component(), limits).expect("plugin links")
}

/// The default-limits plugin, shared by all tests.
pub fn plugin() -> &'static Plugin {
    static P: OnceLock<Plugin> = OnceLock::new();
    P.get_or_init(|| plugin_with(Limits::default()))
}

/// Parse options.
pub fn opts(format: Format, strict: bool) -> ParseOptions {
    ParseOptions {
        format,
        strict,
        content_type: None,
    }
}

/// The repository root (this crate is `tests/` inside it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = repo_root().join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The OpenMetrics conformance suite: `LLM_METRICS_CONFORMANCE_DIR`, or
/// `../shared/conformance/openmetrics` beside the repository. It is not part of
/// the repository, so without it the caller skips, loudly, unless
/// `LLM_METRICS_REQUIRE_CONFORMANCE=1` (set by `.ci/run`) makes that a failure.
pub fn conformance_suite() -> Option<PathBuf> {
    let dir = std::env::var_os("LLM_METRICS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/conformance/openmetrics"));
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "OpenMetrics conformance suite not found at {}; set LLM_METRICS_CONFORMANCE_DIR to a \
         checkout of the OpenMetrics repository's tests/testdata/parsers (211 cases)",
        dir.display()
    );
    assert!(
        std::env::var("LLM_METRICS_REQUIRE_CONFORMANCE").as_deref() != Ok("1"),
        "LLM_METRICS_REQUIRE_CONFORMANCE=1 but the {msg}"
    );
    eprintln!("SKIPPED conformance: {msg}");
    None
}

/// `actual` is present and equal to `expected` within 1e-9 relative (figures
/// that went through rates and sums); `what` names it in the failure.
#[track_caller]
pub fn close(actual: Option<f64>, expected: f64, what: &str) {
    let a = actual.unwrap_or_else(|| panic!("{what}: absent, expected {expected}"));
    assert!(
        (a - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: {a} != {expected}"
    );
}
