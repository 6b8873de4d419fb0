//! The OpenMetrics 1.0 parser conformance suite (`shared/conformance/openmetrics`):
//! every case parsed as strict OpenMetrics must get the expected verdict, and
//! every case that should parse must also parse leniently. The suite is not
//! in this repository: without it the test says SKIPPED (on stderr) and passes,
//! unless `LLM_METRICS_REQUIRE_CONFORMANCE=1` (set by `.ci/run`).

use std::fs;
use std::path::{Path, PathBuf};

use llm_metrics_guest::text::{Format, ParseOptions, parse};

/// Where the suite is: `LLM_METRICS_CONFORMANCE_DIR`, or `../shared/conformance/openmetrics`
/// beside the repository (where CI puts it).
fn suite() -> Option<PathBuf> {
    let dir = std::env::var_os("LLM_METRICS_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/openmetrics")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    // A fresh clone has no suite: say so loudly, and fail where it is required.
    let msg = format!(
        "OpenMetrics conformance suite not found at {}; set LLM_METRICS_CONFORMANCE_DIR to a \
         checkout of the OpenMetrics repository's tests/testdata/parsers (211 cases)",
        dir.display()
    );
    assert!(
        std::env::var("LLM_METRICS_REQUIRE_CONFORMANCE").as_deref() != Ok("1"),
        "LLM_METRICS_REQUIRE_CONFORMANCE=1 but the {msg}"
    );
    eprintln!("SKIPPED openmetrics_conformance: {msg}");
    None
}

/// `"shouldParse": true|false` from a case's `test.json`, without a JSON dependency.
fn should_parse(json: &str) -> bool {
    let at = json
        .find("\"shouldParse\"")
        .expect("test.json has shouldParse");
    let rest = json[at + "\"shouldParse\"".len()..].trim_start_matches([' ', ':', '\t', '\n']);
    if rest.starts_with("true") {
        true
    } else if rest.starts_with("false") {
        false
    } else {
        panic!("bad shouldParse in {json}")
    }
}

#[test]
fn openmetrics_conformance() {
    let Some(dir) = suite() else { return };
    let dir = dir.as_path();
    let mut cases: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().join("test.json").is_file())
        .collect();
    cases.sort_by_key(|e| e.file_name());
    let mut wrong = Vec::new();
    for case in &cases {
        let name = case.file_name().to_string_lossy().into_owned();
        let json = fs::read_to_string(case.path().join("test.json")).unwrap();
        let input = fs::read(case.path().join("metrics")).unwrap();
        let want = should_parse(&json);
        let strict = ParseOptions {
            format: Format::OpenMetrics,
            strict: true,
            content_type: None,
        };
        let got = parse(&input, &strict);
        if got.is_ok() != want {
            let why = match &got {
                Ok(_) => "accepted".to_string(),
                Err(e) => format!("rejected: {e}"),
            };
            wrong.push(format!("{name}: expected shouldParse={want}, {why}"));
        }
        if want {
            let lenient = ParseOptions {
                format: Format::OpenMetrics,
                ..ParseOptions::default()
            };
            if let Err(e) = parse(&input, &lenient) {
                wrong.push(format!("{name}: lenient mode rejected a valid case: {e}"));
            }
            let auto = ParseOptions::default();
            match parse(&input, &auto) {
                Ok(x) if x.format != Format::OpenMetrics && input.ends_with(b"# EOF\n") => {
                    wrong.push(format!("{name}: Auto did not detect OpenMetrics"));
                }
                _ => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(cases.len(), 211, "expected 211 conformance cases");
}
