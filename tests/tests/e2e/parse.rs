//! `parse` through the component: conformance, values, positions, hostile input.

use llm_metrics_host::wit::types::{Format, MetricType};

use crate::common::{conformance_suite, opts, plugin};

#[tokio::test]
async fn openmetrics_conformance_suite_211_of_211_strict() {
    let Some(dir) = conformance_suite() else {
        return;
    };
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("test.json").exists())
        .map(|e| e.path())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 211, "the suite has 211 cases");
    let mut wrong = Vec::new();
    for case in &cases {
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(case.join("test.json")).unwrap()).unwrap();
        let should_parse = spec["shouldParse"].as_bool().unwrap();
        let text = std::fs::read(case.join(spec["file"].as_str().unwrap())).unwrap();
        let result = plugin()
            .parse(&text, &opts(Format::Openmetrics, true))
            .await
            .expect("no trap");
        if result.is_ok() != should_parse {
            let name = case.file_name().unwrap().to_string_lossy().to_string();
            wrong.push(format!(
                "{name}: expected {}, got {:?}",
                if should_parse { "accept" } else { "reject" },
                result.err()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn values_types_and_metadata_cross_the_boundary_intact() {
    let text = b"# HELP vllm:num_requests_running Number of requests in model execution batches.\n\
# TYPE vllm:num_requests_running gauge\n\
vllm:num_requests_running{engine=\"0\",model_name=\"m,1\"} 3.0\n\
# TYPE x untyped\n\
x{a=\"q\\\"uote\\\\back\\nline\"} NaN 1700000000123\n\
x{a=\"inf\"} -Inf -5\n\
{\"my.metric\", \"label.x\"=\"v\"} 1.5e3\n";
    let parsed = plugin()
        .parse(text, &opts(Format::Auto, false))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parsed.format, Format::Prometheus);
    let names: Vec<&str> = parsed.families.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["vllm:num_requests_running", "x", "my.metric"]);

    let running = &parsed.families[0];
    assert_eq!(running.type_, MetricType::Gauge);
    assert_eq!(
        running.help.as_deref(),
        Some("Number of requests in model execution batches.")
    );
    assert_eq!(running.unit, None);
    let s = &running.samples[0];
    assert_eq!(s.value, 3.0);
    assert_eq!(
        (s.labels[1].name.as_str(), s.labels[1].value.as_str()),
        ("model_name", "m,1")
    );

    let x = &parsed.families[1];
    assert_eq!(x.type_, MetricType::Untyped);
    assert!(x.samples[0].value.is_nan());
    assert_eq!(x.samples[0].labels[0].value, "q\"uote\\back\nline");
    assert_eq!(x.samples[0].timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(x.samples[1].value, f64::NEG_INFINITY);
    assert_eq!(x.samples[1].timestamp_ms, Some(-5));

    let quoted = &parsed.families[2];
    assert_eq!(quoted.samples[0].name, "my.metric");
    assert_eq!(quoted.samples[0].labels.len(), 1);
    assert_eq!(quoted.samples[0].labels[0].name, "label.x");
    assert_eq!(quoted.samples[0].value, 1500.0);
}

#[tokio::test]
async fn openmetrics_histogram_exemplar_and_float_timestamp() {
    let text = b"# TYPE a_seconds histogram\n# UNIT a_seconds seconds\n\
a_seconds_bucket{le=\"1.0\"} 0\n\
a_seconds_bucket{le=\"+Inf\"} 3 # {trace_id=\"abc\"} 0.5 1520879607.789\n\
a_seconds_count 3\na_seconds_sum 2\na_seconds_created 1520430000.123\n# EOF\n";
    let parsed = plugin()
        .parse(text, &opts(Format::Auto, true))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parsed.format, Format::Openmetrics);
    let a = &parsed.families[0];
    assert_eq!(
        (a.name.as_str(), a.type_, a.unit.as_deref()),
        ("a_seconds", MetricType::Histogram, Some("seconds"))
    );
    let names: Vec<&str> = a.samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a_seconds_bucket",
            "a_seconds_bucket",
            "a_seconds_count",
            "a_seconds_sum",
            "a_seconds_created"
        ]
    );
    let ex = a.samples[1].exemplar.as_ref().expect("exemplar");
    assert_eq!(ex.labels[0].value, "abc");
    assert_eq!(ex.value, 0.5);
    assert_eq!(ex.timestamp_ms, Some(1_520_879_607_789));
    assert_eq!(a.samples[4].value, 1_520_430_000.123);
}

#[tokio::test]
async fn errors_carry_line_and_column() {
    let cases: &[(&[u8], u32, u32)] = &[
        // A label value must be quoted: the `1` at column 5.
        (b"a 1\nb 2\nc{d=1} 3\n", 3, 5),
        // Invalid UTF-8 inside a label value: the 0xff byte.
        (b"a 1\nb{l=\"\xff\"} 2\n", 2, 6),
        // No value after the name.
        (b"# TYPE a gauge\na\n", 2, 2),
    ];
    for (text, line, column) in cases {
        let err = plugin()
            .parse(text, &opts(Format::Prometheus, false))
            .await
            .unwrap()
            .expect_err(&String::from_utf8_lossy(text));
        assert_eq!(
            (err.line, err.column),
            (*line, *column),
            "{:?}: {}",
            String::from_utf8_lossy(text),
            err.message
        );
        assert!(!err.message.is_empty());
    }
}

#[tokio::test]
async fn hostile_inputs_are_errors_not_traps_and_the_host_keeps_serving() {
    let mut one_line = b"a{b=\"".to_vec();
    one_line.resize(100 << 20, b'x'); // 100 MB, never closed
    let mut quotes = b"a{b=\"".to_vec();
    for _ in 0..(1 << 20) {
        quotes.extend_from_slice(b"\\\"");
    }
    quotes.extend_from_slice(b"\n");
    let braces = vec![b'{'; 1 << 20];
    let invalid_utf8: Vec<u8> = (0..=255u8).cycle().take(1 << 16).collect();
    for (name, text) in [
        ("100 MB line", one_line),
        ("escaped quotes", quotes),
        ("braces", braces),
        ("bytes", invalid_utf8),
    ] {
        let result = plugin().parse(&text, &opts(Format::Auto, false)).await;
        let err = result.unwrap_or_else(|e| panic!("{name}: trapped: {e}"));
        let err = err.expect_err(name);
        assert!(err.line >= 1 && err.column >= 1, "{name}: {err:?}");
        // And the next call works.
        let ok = plugin()
            .parse(b"a 1\n", &opts(Format::Auto, false))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ok.families[0].samples[0].value, 1.0, "after {name}");
    }
}
