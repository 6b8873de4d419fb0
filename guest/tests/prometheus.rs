//! Prometheus 0.0.4 text format: accept tables (drained into a plain rendering
//! and compared), reject tables `(input, kind, line, column)`, and the rules
//! shared with OpenMetrics that the conformance suite does not pin down.

use std::fmt::Write;

use llm_metrics_guest::text::{
    Entry, ErrorKind, Exposition, Format, MetricType, ParseError, ParseOptions, Parser, parse,
};

fn prom(strict: bool) -> ParseOptions<'static> {
    ParseOptions {
        format: Format::Prometheus,
        strict,
        content_type: None,
    }
}

fn om(strict: bool) -> ParseOptions<'static> {
    ParseOptions {
        format: Format::OpenMetrics,
        strict,
        content_type: None,
    }
}

/// One line per family and per sample, every field spelled out.
fn render(e: &Exposition<'_>) -> String {
    let mut out = String::new();
    for f in &e.families {
        let _ = write!(out, "{} {}", f.name, f.metric_type.as_str());
        if let Some(h) = &f.help {
            let _ = write!(out, " help={h:?}");
        }
        if let Some(u) = &f.unit {
            let _ = write!(out, " unit={u:?}");
        }
        out.push('\n');
        for s in &f.samples {
            let labels: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
            let _ = write!(out, "  {}{{{}}} {:?}", s.name, labels.join(","), s.value);
            if let Some(ts) = s.timestamp_ms {
                let _ = write!(out, " @{ts}");
            }
            if let Some(x) = &s.exemplar {
                let l: Vec<String> = x.labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                let _ = write!(out, " # {{{}}} {:?}", l.join(","), x.value);
                if let Some(ts) = x.timestamp_ms {
                    let _ = write!(out, " @{ts}");
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Parses leniently and strictly (unless `lenient_only`) and compares renderings.
fn accept(input: &str, want: &str) {
    for strict in [false, true] {
        let got = parse(input.as_bytes(), &prom(strict))
            .unwrap_or_else(|e| panic!("strict={strict} rejected {input:?}: {e}"));
        assert_eq!(got.format, Format::Prometheus);
        assert_eq!(render(&got), want, "strict={strict} input {input:?}");
    }
}

fn accept_lenient(input: &str, want: &str) {
    let got =
        parse(input.as_bytes(), &prom(false)).unwrap_or_else(|e| panic!("rejected {input:?}: {e}"));
    assert_eq!(render(&got), want, "input {input:?}");
}

fn error(input: &[u8], options: &ParseOptions<'_>) -> ParseError {
    match parse(input, options) {
        Ok(e) => panic!(
            "accepted {:?}: {}",
            String::from_utf8_lossy(input),
            render(&e)
        ),
        Err(e) => e,
    }
}

#[test]
fn metadata_and_types() {
    accept(
        "# HELP a_total Total things.\n# TYPE a_total counter\na_total 5\n\
         # HELP g A gauge.\n# TYPE g gauge\ng -1.5\n\
         # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n\
         # TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n\
         # TYPE u untyped\nu 1\n",
        "a_total counter help=\"Total things.\"\n  a_total{} 5.0\n\
         g gauge help=\"A gauge.\"\n  g{} -1.5\n\
         h histogram\n  h_bucket{le=\"1\"} 1.0\n  h_bucket{le=\"+Inf\"} 2.0\n  h_sum{} 3.0\n  h_count{} 2.0\n\
         s summary\n  s{quantile=\"0.5\"} 1.0\n  s_sum{} 1.0\n  s_count{} 1.0\n\
         u untyped\n  u{} 1.0\n",
    );
}

#[test]
fn help_escaping() {
    // 0.0.4 decodes only `\\` and `\n`; `\"` and others stay as written.
    // Strict mode refuses `\t` (see reject_rows) but takes `\"`.
    accept(
        "# HELP a x\\\\y\\nz \\\"\na 1\n",
        "a untyped help=\"x\\\\y\\nz \\\\\\\"\"\n  a{} 1.0\n",
    );
    accept_lenient(
        "# HELP a x\\\\y\\nz \\\" \\t\na 1\n# HELP b\n# HELP c   spaced  \n",
        "a untyped help=\"x\\\\y\\nz \\\\\\\" \\\\t\"\n  a{} 1.0\nb untyped help=\"\"\nc untyped help=\"spaced  \"\n",
    );
}

#[test]
fn label_values() {
    accept(
        "a{x=\"q\\\"uote\",y=\"back\\\\slash\",z=\"new\\nline\"} 1\n\
         a{x=\"} , = # {\",y=\"\",z=\"é☃\"} 2\n",
        "a untyped\n  a{x=\"q\\\"uote\",y=\"back\\\\slash\",z=\"new\\nline\"} 1.0\n  \
         a{x=\"} , = # {\",y=\"\",z=\"é☃\"} 2.0\n",
    );
    // Other escapes: kept as written by the lenient reader (as Prometheus'
    // scraper does), refused by strict 0.0.4 (as the format and expfmt do).
    accept_lenient(
        "a{x=\"\\z\\t\"} 3\n",
        "a untyped\n  a{x=\"\\\\z\\\\t\"} 3.0\n",
    );
    let e = error(b"a{x=\"ok\\\\\\t\"} 3\n", &prom(true));
    assert_eq!(
        (e.kind, e.line, e.column),
        (ErrorKind::InvalidEscape, 1, 10)
    );
    let e = parse(b"a{x=\"plain\",y=\"es\\\"c\"} 1\n", &prom(false)).unwrap();
    let labels = &e.families[0].samples[0].labels;
    assert_eq!(labels.len(), 2);
    assert!(!labels.is_empty());
    assert!(matches!(
        labels.get("x"),
        Some(std::borrow::Cow::Borrowed("plain"))
    ));
    assert!(matches!(labels.get("y"), Some(std::borrow::Cow::Owned(_))));
    assert_eq!(labels.get("y").as_deref(), Some("es\"c"));
    assert_eq!(labels.get("nope"), None);
}

#[test]
fn values_and_timestamps() {
    accept(
        "a NaN\na +Inf\na -Inf\na Inf\na inf\na 1e3\na -2.5E-3\na .5\na 7 1700000000000\n\
         a 8 -1000\na 9 +5\na 00012\n",
        "a untyped\n  a{} NaN\n  a{} inf\n  a{} -inf\n  a{} inf\n  a{} inf\n  a{} 1000.0\n  \
         a{} -0.0025\n  a{} 0.5\n  a{} 7.0 @1700000000000\n  a{} 8.0 @-1000\n  a{} 9.0 @5\n  a{} 12.0\n",
    );
    // No blank needed between `}` and the value in 0.0.4 (both Go parsers);
    // OpenMetrics wants the space.
    accept(
        "a{b=\"c\"}-Inf\na{}1\n",
        "a untyped\n  a{b=\"c\"} -inf\n  a{} 1.0\n",
    );
    let e = error(b"a{}1\n# EOF\n", &om(false));
    assert_eq!(e.kind, ErrorKind::MissingValue);
}

#[test]
fn names_with_colons_and_quoted_names() {
    accept(
        "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine=\"0\"} 3\n",
        "vllm:num_requests_running gauge\n  vllm:num_requests_running{engine=\"0\"} 3.0\n",
    );
    accept(
        "# HELP \"my.metric\" Dotted.\n# TYPE \"my.metric\" gauge\n\
         {\"my.metric\", a=\"b\"} 1\n{\"my.metric\", \"label.x\"=\"v\", c=\"d\"} 2\n{\"my.metric\"} 3\n",
        "my.metric gauge help=\"Dotted.\"\n  my.metric{a=\"b\"} 1.0\n  \
         my.metric{label.x=\"v\",c=\"d\"} 2.0\n  my.metric{} 3.0\n",
    );
    // The quoted name may come after a label (expfmt's own test case 10).
    accept(
        "{labelname=\"value\", \"my.noncompliant.metric\"} 1\n",
        "my.noncompliant.metric untyped\n  my.noncompliant.metric{labelname=\"value\"} 1.0\n",
    );
    let e = parse(b"{\"my.metric\", \"label.x\"=\"v\"} 1\n", &prom(false)).unwrap();
    let s = &e.families[0].samples[0];
    assert_eq!(s.labels.len(), 1);
    assert_eq!(s.labels.get("label.x").as_deref(), Some("v"));
    // Quoted names are Prometheus 3 syntax, not OpenMetrics 1.0.
    let err = error(b"{\"my.metric\"} 1\n# EOF\n", &om(true));
    assert_eq!(err.kind, ErrorKind::QuotedNameNotAllowed);
    assert!(parse(b"{\"my.metric\"} 1\n# EOF\n", &om(false)).is_ok());
}

#[test]
fn missing_metadata_makes_own_families() {
    accept("a 1\nb 2\n", "a untyped\n  a{} 1.0\nb untyped\n  b{} 2.0\n");
    let e = parse(b"a 1\nb 2\n# EOF\n", &om(true)).unwrap();
    assert_eq!(e.families.len(), 2);
    assert!(
        e.families
            .iter()
            .all(|f| f.metric_type == MetricType::Unknown)
    );
    // A suffix only joins a family whose type owns it.
    accept(
        "# TYPE g gauge\ng 1\ng_total 2\n",
        "g gauge\n  g{} 1.0\ng_total untyped\n  g_total{} 2.0\n",
    );
}

#[test]
fn prometheus_client_counters_and_created() {
    accept(
        "# HELP vllm:prompt_tokens_total Prefill tokens.\n# TYPE vllm:prompt_tokens_total counter\n\
         vllm:prompt_tokens_total{model_name=\"m\"} 5.0\n\
         # HELP vllm:prompt_tokens_created Prefill tokens.\n# TYPE vllm:prompt_tokens_created gauge\n\
         vllm:prompt_tokens_created{model_name=\"m\"} 1.7e+09\n",
        "vllm:prompt_tokens_total counter help=\"Prefill tokens.\"\n  \
         vllm:prompt_tokens_total{model_name=\"m\"} 5.0\n\
         vllm:prompt_tokens_created gauge help=\"Prefill tokens.\"\n  \
         vllm:prompt_tokens_created{model_name=\"m\"} 1700000000.0\n",
    );
    // OpenMetrics style: the family is `a`, its samples `a_total` and `a_created`.
    let e = parse(
        b"# TYPE a counter\na_total 1\na_created 2\n# EOF\n",
        &om(true),
    )
    .unwrap();
    assert_eq!(
        render(&e),
        "a counter\n  a_total{} 1.0\n  a_created{} 2.0\n"
    );
}

#[test]
fn interleaved_families() {
    // Both of Prometheus' Go parsers merge a reappearing family and take a
    // late HELP, so strict 0.0.4 does too (a late TYPE is refused below).
    let input = "# TYPE a gauge\na{x=\"1\"} 1\n# TYPE b gauge\nb 2\na{x=\"2\"} 3\n# HELP a late\n";
    accept(
        input,
        "a gauge help=\"late\"\n  a{x=\"1\"} 1.0\n  a{x=\"2\"} 3.0\nb gauge\n  b{} 2.0\n",
    );
    let e = error(format!("{input}# TYPE a gauge\n").as_bytes(), &prom(true));
    assert_eq!((e.kind, e.line), (ErrorKind::DuplicateMetadata, 7));
    let e = error(format!("{input}# HELP a again\n").as_bytes(), &prom(true));
    assert_eq!((e.kind, e.line), (ErrorKind::DuplicateMetadata, 7));
    let om_input = format!("{}# EOF\n", input.replace("# HELP a late\n", ""));
    let e = error(om_input.as_bytes(), &om(true));
    assert_eq!((e.kind, e.line), (ErrorKind::InterleavedFamily, 5));
    // Suffixed samples find their earlier family too.
    accept_lenient(
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nx 1\nh_count 1\n",
        "h histogram\n  h_bucket{le=\"+Inf\"} 1.0\n  h_count{} 1.0\nx untyped\n  x{} 1.0\n",
    );
}

#[test]
fn whitespace_blank_lines_and_crlf() {
    let want = "a untyped help=\"h\"\n  a{x=\"1\",y=\"2\"} 1.0 @5\n  a{} 2.0\n";
    accept(
        "# HELP a h\n\n  a { x = \"1\" , y=\"2\", }\t 1 \t5  \n\na 2\n",
        want,
    );
    accept_lenient("# HELP a h\r\na{x=\"1\",y=\"2\"} 1 5\r\na 2\r\n", want);
    let e = error(b"a 1\r\n", &prom(true));
    assert_eq!(
        (e.kind, e.line, e.column),
        (ErrorKind::CarriageReturn, 1, 4)
    );
    // A missing final newline is only an error in strict mode.
    accept_lenient("a 1", "a untyped\n  a{} 1.0\n");
    let e = error(b"a 1\nb 2", &prom(true));
    assert_eq!((e.kind, e.line), (ErrorKind::MissingFinalNewline, 2));
    assert_eq!(parse(b"", &prom(true)).unwrap().families.len(), 0);
}

#[test]
fn comments_are_entries() {
    let input = b"# just a comment\n#HELP not metadata\n# UNIT a s\na 1\n";
    let entries: Vec<Entry<'_>> = Parser::new(input, &prom(true))
        .map(Result::unwrap)
        .collect();
    assert!(matches!(entries[0], Entry::Comment(" just a comment")));
    assert!(matches!(entries[1], Entry::Comment("HELP not metadata")));
    // UNIT is OpenMetrics-only: a comment in 0.0.4.
    assert!(matches!(entries[2], Entry::Comment(" UNIT a s")));
    assert!(matches!(&entries[3], Entry::Sample(s) if s.name == "a"));
    assert_eq!(entries.len(), 4);
}

#[test]
fn format_detection() {
    let auto = |ct: Option<&'static str>| ParseOptions {
        content_type: ct,
        ..ParseOptions::default()
    };
    let text = b"a 1\n";
    assert_eq!(parse(text, &auto(None)).unwrap().format, Format::Prometheus);
    let ct = Some("application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_eq!(parse(text, &auto(ct)).unwrap().format, Format::OpenMetrics);
    assert_eq!(
        parse(b"a 1\n# EOF\n\n  \n", &auto(None)).unwrap().format,
        Format::OpenMetrics
    );
    assert_eq!(
        parse(b"# EOF", &auto(None)).unwrap().format,
        Format::OpenMetrics
    );
    assert_eq!(
        parse(b"a 1\n# EOF x\n", &auto(Some("text/plain")))
            .unwrap()
            .format,
        Format::Prometheus
    );
    // Forced OpenMetrics without `# EOF`: fine leniently, an error strictly.
    assert!(parse(text, &om(false)).is_ok());
    let e = error(text, &om(true));
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::MissingEof, 2, 1));
}

#[test]
fn openmetrics_timestamps_and_exemplars() {
    let e = parse(
        b"a_total 1 1.5 # {id=\"x\"} 2 3.25\nb 1 -1.0004\n# EOF\n",
        &om(false),
    )
    .unwrap();
    assert_eq!(
        render(&e),
        "a_total unknown\n  a_total{} 1.0 @1500 # {id=\"x\"} 2.0 @3250\nb unknown\n  b{} 1.0 @-1000\n"
    );
    // Exemplars are not 0.0.4 syntax: tolerated leniently, rejected strictly.
    assert!(
        parse(b"a 1 # {id=\"x\"} 2\n", &prom(false))
            .unwrap()
            .families[0]
            .samples[0]
            .exemplar
            .is_some()
    );
    assert_eq!(
        error(b"a 1 # {id=\"x\"} 2\n", &prom(true)).kind,
        ErrorKind::UnexpectedText
    );
    // Text after `# EOF`.
    assert_eq!(
        error(b"# EOF\na 1\n", &om(false)).kind,
        ErrorKind::TextAfterEof
    );
    assert!(parse(b"# EOF\n\n \n", &om(false)).is_ok());
}

#[test]
fn invalid_utf8_reports_the_byte() {
    let e = error(b"a 1\nb{x=\"\xff\"} 1\n", &prom(false));
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::InvalidUtf8, 2, 6));
    let e = error(b"# HELP a \xc3\n", &prom(false));
    assert_eq!((e.kind, e.line, e.column), (ErrorKind::InvalidUtf8, 1, 10));
    assert_eq!(e.to_string(), "line 1, column 10: invalid UTF-8");
}

#[test]
fn reject_rows() {
    use ErrorKind::*;
    // (input, kind, line, column), lenient 0.0.4 — so strict rejects them too.
    let rows: &[(&str, ErrorKind, u32, u32)] = &[
        ("0a 1\n", ExpectedMetricName, 1, 1),
        ("a.b 1\n", ExpectedSpaceAfterName, 1, 2),
        ("a\n", MissingValue, 1, 2),
        ("a \n", MissingValue, 1, 3),
        ("a{} \n", MissingValue, 1, 5),
        ("a{}\n", MissingValue, 1, 4),
        ("a{1=\"x\"} 1\n", ExpectedLabelName, 1, 3),
        ("a{b:c=\"x\"} 1\n", ExpectedEquals, 1, 4),
        ("a{b} 1\n", ExpectedEquals, 1, 4),
        ("a{b=x} 1\n", ExpectedLabelValue, 1, 5),
        ("a{b='x'} 1\n", ExpectedLabelValue, 1, 5),
        ("a{b=\"x} 1\n", UnterminatedString, 1, 5),
        ("a{b=\"x\\\"} 1\n", UnterminatedString, 1, 5),
        ("a{b=\"x\" c=\"y\"} 1\n", ExpectedCommaOrBrace, 1, 9),
        ("a{b=\"x\",,} 1\n", ExpectedLabelName, 1, 9),
        ("a{b=\"x\",b=\"y\"} 1\n", DuplicateLabelName, 1, 9),
        ("a{\"b\"=\"x\",b=\"y\"} 1\n", DuplicateLabelName, 1, 11),
        ("a{\"n\"} 1\n", DuplicateMetricName, 1, 3),
        ("{a=\"b\"} 1\n", ExpectedMetricName, 1, 1),
        ("a x\n", InvalidValue, 1, 3),
        ("a 0x1p3\n", InvalidValue, 1, 3),
        ("a 1_000\n", InvalidValue, 1, 3),
        ("a +NaN\n", InvalidValue, 1, 3),
        ("a 1 1.5\n", InvalidTimestamp, 1, 5),
        ("a 1 9223372036854775808\n", TimestampOutOfRange, 1, 5),
        ("a 1 2 3\n", UnexpectedText, 1, 7),
        ("# TYPE a\n", ExpectedType, 1, 9),
        ("# TYPE a bogus\n", InvalidType, 1, 10),
        ("# TYPE\n", ExpectedMetricName, 1, 7),
        ("# HELP 0a x\n", ExpectedMetricName, 1, 8),
        ("# HELP a.b x\n", ExpectedHelpText, 1, 9),
        ("a 1\n\"b\" 2\n", ExpectedMetricName, 2, 1),
    ];
    for &(input, kind, line, column) in rows {
        for strict in [false, true] {
            let got = error(input.as_bytes(), &prom(strict));
            assert_eq!(
                (got.kind, got.line, got.column),
                (kind, line, column),
                "strict={strict} {input:?}"
            );
        }
    }
    // Exemplars are parsed only leniently in 0.0.4 (strictly they are UnexpectedText).
    for (input, kind, column) in [
        ("a 1 # {x=\"y\" 1\n", ExpectedCommaOrBrace, 14),
        ("a 1 # x 1\n", InvalidExemplar, 5),
    ] {
        let got = error(input.as_bytes(), &prom(false));
        assert_eq!(
            (got.kind, got.line, got.column),
            (kind, 1, column),
            "{input:?}"
        );
    }
    // Strict 0.0.4 only.
    let strict_rows: &[(&str, ErrorKind, u32, u32)] = &[
        ("# TYPE a gauge\n# TYPE a gauge\n", DuplicateMetadata, 2, 1),
        ("# HELP a x\n# HELP a y\n", DuplicateMetadata, 2, 1),
        ("a 1\n# TYPE a gauge\n", MetadataAfterSamples, 2, 1),
        ("# TYPE a stateset\n", InvalidType, 1, 10),
        ("# TYPE a unknown\n", InvalidType, 1, 10),
        ("# TYPE a COUNTER\n", InvalidType, 1, 10),
        ("# TYPE a gaugehistogram\n", InvalidType, 1, 10),
        ("a{x=\"\\t\"} 1\n", InvalidEscape, 1, 6),
        ("{\"a\\t\"} 1\n", InvalidEscape, 1, 4),
        ("# HELP a tab\\t\n", InvalidEscape, 1, 13),
        ("# HELP a end\\\n", InvalidEscape, 1, 13),
        ("a{__name__=\"b\"} 1\n", ReservedLabelName, 1, 1),
        (
            "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
            InvalidLe,
            2,
            1,
        ),
        (
            "# TYPE h histogram\nh_bucket{le=\"1\"} -1\n",
            InvalidCounterValue,
            2,
            1,
        ),
        (
            "# TYPE h histogram\nh_count -1\n",
            InvalidCounterValue,
            2,
            1,
        ),
        (
            "# TYPE s summary\ns{quantile=\"q\"} 1\n",
            InvalidQuantile,
            2,
            1,
        ),
    ];
    for &(input, kind, line, column) in strict_rows {
        assert!(
            parse(input.as_bytes(), &prom(false)).is_ok(),
            "lenient rejected {input:?}"
        );
        let got = error(input.as_bytes(), &prom(true));
        assert_eq!(
            (got.kind, got.line, got.column),
            (kind, line, column),
            "{input:?}"
        );
    }
}

/// Rules of the 0.0.4 document that neither of Prometheus' Go parsers enforces:
/// strict mode accepts them too (see the README's policy table).
#[test]
fn strict_accepts_what_both_go_parsers_accept() {
    for input in [
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 2\nh_sum 1\n",
        "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket 1\nh_bucket{le=\"Inf\"} 1\nh_bucket{le=\"NaN\"} 1\n",
        "# TYPE s summary\ns 1\ns{quantile=\"1.5\"} 2\n",
        "a 1\n# HELP a late\n",
        "a{x=\"1\"} 1\nb 1\na{x=\"2\"} 2\n",
        "# HELP a quote \\\" ok\na 1\n",
    ] {
        if let Err(e) = parse(input.as_bytes(), &prom(true)) {
            panic!("strict rejected {input:?}: {e}");
        }
    }
}

#[test]
fn every_kind_has_a_message() {
    let e = ParseError {
        kind: ErrorKind::ExpectedEquals,
        line: 3,
        column: 7,
    };
    assert_eq!(
        e.to_string(),
        "line 3, column 7: expected '=' after label name"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().contains("'='"));
    assert_eq!(
        ErrorKind::BucketsOutOfOrder.message(),
        "histogram buckets are not in increasing order of le"
    );
}

#[test]
fn huge_lines_finish_quickly() {
    let t = std::time::Instant::now();
    let mut line = Vec::with_capacity(21 << 20);
    // One long name, one long value, thousands of labels, one long number.
    line.extend(std::iter::repeat_n(b'a', 4 << 20));
    line.extend_from_slice(b"{v=\"");
    line.extend(std::iter::repeat_n(b'x', 4 << 20));
    line.extend_from_slice(b"\"");
    for i in 0..100_000 {
        let _ = write!(StrBuf(&mut line), ",l{i}=\"\\\\\"");
    }
    line.extend_from_slice(b"} 1");
    line.extend(std::iter::repeat_n(b'0', 4 << 20));
    line.push(b'\n');
    for strict in [false, true] {
        let e = parse(&line, &prom(strict)).unwrap();
        assert_eq!(e.families[0].samples[0].labels.len(), 100_001);
    }
    // Unterminated and escape-only lines are linear too.
    let mut bad = b"a{b=\"".to_vec();
    bad.extend(std::iter::repeat_n(b'\\', 8 << 20));
    assert_eq!(
        error(&bad, &prom(false)).kind,
        ErrorKind::UnterminatedString
    );
    let spaces = vec![b' '; 8 << 20];
    assert!(parse(&spaces, &prom(false)).is_ok());
    assert_eq!(
        error(&spaces, &om(true)).kind,
        ErrorKind::UnexpectedWhitespace
    );
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
}

/// `fmt::Write` into a byte vector.
struct StrBuf<'v>(&'v mut Vec<u8>);

impl Write for StrBuf<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[test]
fn histogram_sum_and_count_pairing_is_an_openmetrics_rule() {
    // prometheus_client writes no `_sum` for a histogram with a negative bucket
    // bound; 0.0.4 allows that, OpenMetrics does not.
    let text =
        "# TYPE x histogram\nx_bucket{le=\"-5.0\"} 5.0\nx_bucket{le=\"+Inf\"} 20.0\nx_count 20.0\n";
    accept(
        text,
        "x histogram\n  x_bucket{le=\"-5.0\"} 5.0\n  x_bucket{le=\"+Inf\"} 20.0\n  x_count{} 20.0\n",
    );
    let om_text = format!("{text}# EOF\n");
    assert_eq!(
        error(om_text.as_bytes(), &om(true)).kind,
        ErrorKind::CountWithoutSum
    );
    // `_count` must equal the +Inf bucket in OpenMetrics; in 0.0.4 neither Go
    // parser checks it, so strict 0.0.4 does not either (README policy table).
    let bad = "# TYPE x histogram\nx_bucket{le=\"+Inf\"} 20\nx_count 19\nx_sum 1\n";
    assert!(parse(bad.as_bytes(), &prom(true)).is_ok());
    let bad_om = format!("{bad}# EOF\n");
    assert_eq!(
        error(bad_om.as_bytes(), &om(true)).kind,
        ErrorKind::CountMismatch
    );
}
