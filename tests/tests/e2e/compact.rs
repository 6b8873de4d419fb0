//! `parse-compact` through the component: for every fixture and every case of
//! the OpenMetrics conformance suite, the compact view reads exactly what the
//! friendly `parse` returns (the oracle), in lenient and strict mode.

use std::path::{Path, PathBuf};

use llm_metrics_host::CompactExposition;
use llm_metrics_host::wit::types::{Family, Format, ParseOptions};

use crate::common::{conformance_suite, opts, plugin, repo_root};

/// Every `.prom` file under `tests/fixtures`, sorted.
fn fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "prom") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo_root().join("tests/fixtures"), &mut out);
    out.sort();
    out
}

/// Families compared by their debug text, so NaN equals NaN and -0 differs from 0.
fn debug(families: &[Family]) -> String {
    format!("{families:#?}")
}

/// Parses `text` both ways; panics with `what` if they differ. Returns
/// whether the text parsed.
async fn agree(what: &str, text: &[u8], options: &ParseOptions) -> bool {
    let friendly = plugin().parse(text, options).await.expect("no trap");
    let compact = plugin()
        .parse_compact(text, options)
        .await
        .expect("no trap");
    match (friendly, compact) {
        (Ok(parsed), Ok(raw)) => {
            let view = CompactExposition::new(text, raw)
                .unwrap_or_else(|e| panic!("{what}: invalid compact result: {e}"));
            assert_eq!(view.format(), parsed.format, "{what}: format");
            let samples: usize = parsed.families.iter().map(|f| f.samples.len()).sum();
            assert_eq!(view.sample_count(), samples, "{what}: samples");
            let (want, got) = (debug(&parsed.families), debug(&view.to_families()));
            assert!(want == got, "{what}: the compact view differs from parse");
            true
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{what}: the two parses fail differently");
            false
        }
        (a, b) => panic!(
            "{what}: parse {} but parse-compact {}",
            if a.is_ok() { "succeeds" } else { "fails" },
            if b.is_ok() { "succeeds" } else { "fails" },
        ),
    }
}

#[tokio::test]
async fn compact_view_equals_parse_on_every_fixture() {
    let files = fixtures();
    assert!(files.len() >= 13, "fixtures found: {files:?}");
    for path in &files {
        let text = std::fs::read(path).unwrap();
        for strict in [false, true] {
            let what = format!("{} strict={strict}", path.display());
            let parsed = agree(&what, &text, &opts(Format::Auto, strict)).await;
            // Every fixture is a real server's exposition: lenient must accept it.
            assert!(parsed || strict, "{what}: rejected");
        }
    }
}

#[tokio::test]
async fn compact_view_equals_parse_on_the_conformance_suite() {
    let Some(dir) = conformance_suite() else {
        return;
    };
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("test.json").exists())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 211, "the suite has 211 cases");
    let (mut accepted, mut should) = (0, 0);
    for case in &cases {
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("test.json")).unwrap()).unwrap();
        let text = std::fs::read(case.join(spec["file"].as_str().unwrap())).unwrap();
        should += usize::from(spec["shouldParse"].as_bool().unwrap());
        for (format, strict) in [(Format::Openmetrics, true), (Format::Openmetrics, false)] {
            let what = format!("{} strict={strict}", case.display());
            if agree(&what, &text, &opts(format, strict)).await && strict {
                accepted += 1;
            }
        }
    }
    // The suite's accepted cases include exemplars, units, escapes and
    // timestamps, so every part of the compact form is compared.
    assert_eq!(accepted, should, "strict verdicts");
}

#[tokio::test]
async fn the_view_reads_escapes_units_and_exemplars() {
    let text = b"# HELP a_seconds Help \\\\ with \\n escapes.\n# TYPE a_seconds counter\n\
# UNIT a_seconds seconds\n\
a_seconds_total{x=\"plain\",y=\"esc\\\"aped\"} 1 5\n\
a_seconds_created 1.5\n\
# TYPE h histogram\n\
h_bucket{le=\"1\"} 2 # {trace_id=\"t\\\\1\"} 0.5 1.5\n\
h_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n# EOF\n";
    let raw = plugin()
        .parse_compact(text, &opts(Format::Auto, true))
        .await
        .unwrap()
        .unwrap();
    let view = CompactExposition::new(text, raw).unwrap();
    assert_eq!(view.format(), Format::Openmetrics);
    let families: Vec<_> = view.families().collect();
    assert_eq!(families.len(), 2);
    let a = families[0];
    assert_eq!(a.name(), "a_seconds");
    assert_eq!(a.help(), Some("Help \\ with \n escapes."));
    assert_eq!(a.unit(), Some("seconds"));
    let s = a.samples().next().unwrap();
    assert_eq!(s.name(), "a_seconds_total");
    assert_eq!(s.labels().get("x"), Some("plain"));
    assert_eq!(s.labels().get("y"), Some("esc\"aped"));
    assert_eq!(s.timestamp_ms(), Some(5000));
    let bucket = families[1].samples().next().unwrap();
    let e = bucket.exemplar().unwrap();
    assert_eq!(e.labels().collect::<Vec<_>>(), [("trace_id", "t\\1")]);
    assert_eq!((e.value(), e.timestamp_ms()), (0.5, Some(1500)));
    // The unescaped strings are read straight from the caller's text.
    let plain = s.labels().next().unwrap().1;
    let inside = text.as_ptr_range();
    assert!(inside.contains(&plain.as_ptr()));
}

#[tokio::test]
async fn a_hostile_compact_result_is_refused_not_read() {
    use llm_metrics_host::compact::InvalidCompact;
    let plugin = crate::hostile::hostile(llm_metrics_host::Limits::default());
    // (command, whether the refusal is about a span rather than a range)
    let cases = [
        ("span-past-end", true),
        ("span-straddles", true),
        ("span-cuts-char é", true),
        ("span-wraps", true),
        ("range-past-end", false),
        ("range-wraps", false),
        ("exemplar-past-end", false),
    ];
    for (command, span) in cases {
        let raw = plugin
            .parse_compact(command.as_bytes(), &opts(Format::Auto, false))
            .await
            .expect("no trap")
            .expect("the hostile guest returns its result");
        let err = CompactExposition::new(command.as_bytes(), raw)
            .expect_err(&format!("{command}: accepted"));
        let is_span = matches!(err, InvalidCompact::Span { .. });
        assert!(
            is_span == span && (span || matches!(err, InvalidCompact::Range(_))),
            "{command}: {err:?}"
        );
    }
    // The same guest's well-formed result reads.
    let raw = plugin
        .parse_compact(b"ok", &opts(Format::Auto, false))
        .await
        .unwrap()
        .unwrap();
    let view = CompactExposition::new(b"ok", raw).expect("well formed");
    let names: Vec<_> = view
        .families()
        .flat_map(|f| f.samples())
        .map(|s| s.name())
        .collect();
    assert_eq!(names, ["o"]);
}
