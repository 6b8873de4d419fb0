//! Regression tests for what the fuzz targets in `fuzz/` found: each test
//! holds a minimized reproducer exactly as the target reported it, and
//! asserts the behaviour the target demands. See FUZZING.md ("Findings").

use llm_metrics_guest::text::{Format, ParseOptions, parse};

/// Decoded labels of every sample, family by family.
fn labels(input: &[u8], format: Format) -> Vec<(String, Vec<(String, String)>)> {
    let options = ParseOptions {
        format,
        strict: false,
        content_type: None,
    };
    let x = parse(input, &options).expect("valid lenient text");
    x.families
        .iter()
        .flat_map(|f| &f.samples)
        .map(|s| {
            let pairs: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(pairs.len(), s.labels.len(), "iter vs len for {}", s.name);
            (s.name.to_string(), pairs)
        })
        .collect()
}

fn pairs(xs: &[(&str, &str)]) -> Vec<(String, String)> {
    xs.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// `differential` on e6c892c (before 89b2729): blanks and a tab between `=`
/// and the value made the label decoder drop the label (`[]` instead of
/// `a=""`), in lenient OpenMetrics with a quoted metric name, CRLF and no
/// final newline.
#[test]
fn blanks_after_equals_keep_the_label_openmetrics() {
    let input = b" \t{\"vllm:x_0\",a=  \t\"\"} NaN\r\n# EOF";
    assert_eq!(
        labels(input, Format::OpenMetrics),
        vec![("vllm:x_0".to_string(), pairs(&[("a", "")]))]
    );
}

/// The same class in 0.0.4: blanks and tabs at every position inside braces,
/// a quoted metric name first, a trailing comma.
#[test]
fn blanks_and_tabs_inside_braces_keep_every_label_prometheus() {
    let input = b"x{q= \"1.0\"} 1\n{ \"x\", q= \"1.0\", a= \"b\", } 2\n\t y {\ta\t=\t\"1\"\t,\tb = \"2\" ,} 3 \t-5\n";
    assert_eq!(
        labels(input, Format::Prometheus),
        vec![
            ("x".to_string(), pairs(&[("q", "1.0")])),
            ("x".to_string(), pairs(&[("q", "1.0"), ("a", "b")])),
            ("y".to_string(), pairs(&[("a", "1"), ("b", "2")])),
        ]
    );
}

/// Found by `parse_prometheus`: an empty quoted name made a family (or a
/// label) called `""`. Both of Prometheus' Go parsers refuse empty names.
#[test]
fn empty_quoted_names_are_refused() {
    use llm_metrics_guest::text::ErrorKind;
    for input in [
        &b"{\"\"} 1\n"[..],
        b"{\"\", a=\"b\"} 1\n",
        b"x{\"\"=\"v\"} 1\n",
        b"# TYPE \"\" counter\n",
        b"# HELP \"\" h\n",
    ] {
        for (format, strict) in [
            (Format::Prometheus, false),
            (Format::Prometheus, true),
            (Format::OpenMetrics, false),
        ] {
            let options = ParseOptions {
                format,
                strict,
                content_type: None,
            };
            let e = parse(input, &options).expect_err(&String::from_utf8_lossy(input));
            assert_eq!(
                e.kind,
                ErrorKind::EmptyName,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

/// Found by `map_tgi` and `map_auto`: an infinite bucket count gave NaN
/// quantiles; where Prometheus answers NaN, a quantile is absent.
#[test]
fn infinite_bucket_counts_give_no_quantile() {
    use llm_metrics_guest::engines::map;
    let text = b"# TYPE tgi_request_duration histogram\n\
tgi_request_duration_bucket{le=\"1\"} +Inf\n\
tgi_request_duration_bucket{le=\"2\"} 5\n\
tgi_request_duration_bucket{le=\"+Inf\"} 5\n\
tgi_request_duration_sum 3\n\
tgi_request_duration_count 5\n";
    let x = parse(text, &ParseOptions::default()).unwrap();
    let snap = map(&x.families, "tgi").unwrap();
    let d = snap
        .latency
        .e2e_request_latency_seconds
        .expect("a distribution");
    for q in [d.p50, d.p90, d.p99] {
        assert!(q.is_none_or(|v| !v.is_nan()), "{d:?}");
    }
}
