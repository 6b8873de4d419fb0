//! The direct compact path against the oracle: [`super::parse`] must give
//! the records, strings and errors of [`super::oracle::build`] after
//! [`text::parse`], in every format and both modes, on every fixture, fuzz
//! seed, escaped-colon variant, synthetic exposition and OpenMetrics
//! conformance case (skipped loudly without the suite), and on hand-made
//! texts aimed at the reordering and string-relocation paths.

use std::path::{Path, PathBuf};

use super::oracle;
use crate::text::{self, Format, ParseOptions};

/// Both paths' answers as Debug text, for each format and mode; returns
/// how many were compared.
#[track_caller]
fn same(text: &[u8], what: &str) -> usize {
    let mut checked = 0;
    for format in [Format::Auto, Format::Prometheus, Format::OpenMetrics] {
        for strict in [false, true] {
            let opts = ParseOptions {
                format,
                strict,
                content_type: None,
            };
            let slow = text::parse(text, &opts)
                .map_err(super::CompactError::Parse)
                .and_then(|x| oracle::build(text, &x).map_err(super::CompactError::TooLarge));
            let fast = super::parse(text, &opts);
            assert_eq!(
                format!("{fast:?}"),
                format!("{slow:?}"),
                "{what} ({format:?}, strict {strict})"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn fixtures_and_seeds_compact_as_the_oracle_does() {
    let paths = crate::testdata::fixtures_and_seeds();
    let mut checked = 0;
    let mut prom = 0;
    for p in &paths {
        let Ok(text) = std::fs::read(p) else {
            continue;
        };
        checked += same(&text, &p.display().to_string());
        let escaped = crate::testdata::escape_colons(&String::from_utf8_lossy(&text));
        checked += same(escaped.as_bytes(), &format!("{} (escaped)", p.display()));
        if p.extension().is_some_and(|e| e == "prom") {
            prom += 1;
        }
    }
    assert!(
        prom >= 13,
        "only {prom} .prom files among the fixtures and seeds"
    );
    assert!(checked > 500, "{checked}");
}

#[test]
fn synthetic_expositions_compact_as_the_oracle_does() {
    for bytes in [1, 20_000, 150_000, 1 << 20] {
        let text = text::synth::vllm_exposition(bytes);
        same(text.as_bytes(), &format!("synth {bytes}"));
    }
}

#[test]
fn conformance_cases_compact_as_the_oracle_does() {
    let dir = std::env::var_os("LLM_METRICS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/openmetrics")
        });
    if !dir.is_dir() {
        let msg = format!(
            "OpenMetrics conformance suite not found at {}",
            dir.display()
        );
        assert!(
            std::env::var("LLM_METRICS_REQUIRE_CONFORMANCE").as_deref() != Ok("1"),
            "LLM_METRICS_REQUIRE_CONFORMANCE=1 but the {msg}"
        );
        eprintln!("SKIPPED conformance_cases_compact_as_the_oracle_does: {msg}");
        return;
    }
    let mut cases = 0;
    for e in std::fs::read_dir(&dir).expect("readable").flatten() {
        let Ok(text) = std::fs::read(e.path().join("metrics")) else {
            continue;
        };
        same(&text, &e.path().display().to_string());
        cases += 1;
    }
    assert_eq!(
        cases,
        211,
        "expected 211 conformance cases in {}",
        dir.display()
    );
}

#[test]
fn merges_escapes_and_errors_compact_as_the_oracle_does() {
    let cases: &[&str] = &[
        // A reappearing 0.0.4 family (merged into its first occurrence),
        // with escapes on both sides of the merge and in HELP.
        "# HELP a First \\\\ help.\n# TYPE a counter\na_total{x=\"1\\n\"} 1\n\
         b{y=\"p\"} 2\na_total{x=\"2\\\\\"} 3\nb{y=\"q\\\"\"} 4\nc 5\na_created 6\n",
        // Reappearing without escapes; an empty family between.
        "a 1\n# HELP e nothing\nb 2\na 3\nb 4\na{l=\"v\"} 5\n",
        // HELP and TYPE after the samples, then the family again.
        "x{a=\"1\"} 1\ny 2\n# HELP x late \\\\ help\n# TYPE x gauge\nx{a=\"2\"} 3\n",
        // A family changing type with a second TYPE, escapes in HELP only.
        "# TYPE t counter\n# HELP t h\\\\\nt_total 1\n# TYPE t gauge\nt 2\n",
        // Exemplars (OpenMetrics) with escaped labels, and a merge-free order.
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2 # {trace_id=\"t\\\"\"} 0.5 1.5\n\
         h_bucket{le=\"+Inf\"} 2 # {a=\"b\"} 1\nh_count 2\nh_sum 1\n# TYPE g gauge\n\
         g{v=\"\\\\\"} 1\n# EOF\n",
        // OpenMetrics interleaving (an error when strict).
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n",
        // Syntax errors after samples with escapes, and after a merge.
        "a{x=\"\\\\\"} 1\nb 2\na 3\nc{ 4\n",
        "a 1\nb 2\na 3\nd 1 2 3 4\n",
        // Strict-only failures: metadata after samples, duplicate HELP.
        "a 1\n# TYPE a gauge\n",
        "# HELP a x\n# HELP a y\na 1\n",
        // Empty input, comments only, a bare EOF.
        "",
        "# just a comment\n",
        "# EOF\n",
    ];
    for (i, text) in cases.iter().enumerate() {
        same(text.as_bytes(), &format!("case {i}: {text:?}"));
    }
}
