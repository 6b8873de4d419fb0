//! Helpers the native engine and window tests share: fixtures from
//! `tests/fixtures/`, parse + map, and a float comparison.
//!
//! Each test binary uses a subset, hence `dead_code` is allowed here.
#![allow(dead_code)]

use llm_metrics_guest::engines::{self, EngineSnapshot, MapError};
use llm_metrics_guest::text::{self, ParseOptions};

/// A fixture under `tests/fixtures/`, embedded at compile time.
#[macro_export]
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/",
            $name
        ))
    };
}

/// Parse a fixture (it must parse) and map it as `engine`.
pub fn map(text: &str, engine: &str) -> Result<EngineSnapshot, MapError> {
    let exposition = text::parse(text.as_bytes(), &ParseOptions::default())
        .unwrap_or_else(|e| panic!("fixture does not parse: {e:?}"));
    engines::map(&exposition.families, engine)
}

/// Parse and map a fixture with engine detection; it must map.
pub fn snapshot(text: &str) -> EngineSnapshot {
    map(text, "auto").expect("maps")
}

/// `actual` is present and equals `expected` to a relative 1e-9.
#[track_caller]
pub fn approx(actual: Option<f64>, expected: f64) {
    let a = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (a - expected).abs() <= tolerance,
        "expected {expected}, got {a}"
    );
}
