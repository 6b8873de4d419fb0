//! Strict 0.0.4 against Prometheus' two Go parsers: a held-out table of cases.
//!
//! Each row records what `expfmt` (prometheus/common, the parser behind
//! `promtool check metrics` and client_golang) and `textparse` (the
//! Prometheus server's scrape parser, `promparse.go` + `promlex.l`) do with an
//! input, read from their sources and test tables, and what our strict and
//! lenient modes do. The rule this file enforces: **where the Go parsers
//! agree, strict mode agrees with them**; where they disagree, strict follows
//! the policy written in the row (and in the README's "Strict 0.0.4" table).
//! The inputs are our own, written for this table.

use llm_metrics_guest::text::{Format, ParseOptions, parse};

const A: bool = true; // accepts
const R: bool = false; // rejects

/// `(rule, input, expfmt, textparse, strict, lenient)`.
type Row = (&'static str, &'static [u8], bool, bool, bool, bool);

const ROWS: &[Row] = &[
    // Lines and whitespace.
    ("plain sample", b"a 1\n", A, A, A, A),
    ("blanks and tabs between tokens", b"a\t1 \t123\n", A, A, A, A),
    ("leading whitespace", b"  \ta 1\n", A, A, A, A),
    ("blank lines", b"\n\na 1\n\n", A, A, A, A),
    ("whitespace after the value", b"a 1 \n", R, A, A, A),
    ("whitespace after the timestamp", b"a 1 2 \n", R, A, A, A),
    ("no final line feed", b"a 1", R, A, R, A),
    ("CRLF line ends", b"a 1\r\n", R, R, R, A),
    ("plain comments", b"# a comment\n#nospace\na 1\n", A, A, A, A),
    // Label sets.
    ("blank before the brace", b"a {b=\"1\"} 1\n", A, A, A, A),
    ("blanks around = and ,", b"a{ b = \"1\" , c=\"2\" } 1\n", A, A, A, A),
    ("blank after = (issue 6)", b"x{q= \"1.0\"} 1\n", A, A, A, A),
    ("tabs inside braces", b"a{\tb\t=\t\"1\"\t,\tc=\"2\"\t} 1\n", A, A, A, A),
    ("trailing comma", b"a{b=\"1\",} 1\n", A, A, A, A),
    ("empty braces", b"a{} 1\n", A, A, A, A),
    ("two commas", b"a{b=\"1\",,} 1\n", R, R, R, R),
    ("missing comma between labels", b"a{b=\"1\" c=\"2\"} 1\n", R, A, R, R),
    ("label name starting with a digit", b"a{1b=\"x\"} 1\n", R, R, R, R),
    ("colon in a label name", b"a{b:c=\"x\"} 1\n", R, R, R, R),
    ("unquoted label value", b"a{b=x} 1\n", R, R, R, R),
    ("single-quoted label value", b"a{b='x'} 1\n", R, R, R, R),
    ("escapes \\\\ \\\" \\n", b"a{b=\"\\\\ \\\" \\n\"} 1\n", A, A, A, A),
    ("escape \\t in a label value", b"a{b=\"\\t\"} 1\n", R, A, R, A),
    ("UTF-8 label value", "a{b=\"é☃\"} 1\n".as_bytes(), A, A, A, A),
    ("invalid UTF-8 label value", b"a{b=\"\xbd\"} 1\n", R, R, R, R),
    ("duplicate label name", b"a{b=\"1\",b=\"2\"} 1\n", R, A, R, R),
    ("__name__ label", b"a{__name__=\"b\"} 1\n", R, A, R, A),
    // Names.
    ("dot in a bare name", b"a.b 1\n", R, R, R, R),
    ("name starting with a digit", b"0a 1\n", R, R, R, R),
    ("colons in a name", b"a:b:c 1\n", A, A, A, A),
    ("quoted name alone", b"{\"a.b\"} 1\n", A, A, A, A),
    ("quoted name first", b"{\"a.b\",c=\"d\"} 1\n", A, A, A, A),
    ("quoted name first, blanks (issue 6)", b"{ \"x\", q= \"1.0\", a= \"b\", } 1\n", A, A, A, A),
    // expfmt's own test table, case 10 ("Quoted metric name, not the first
    // element in the label set"); textparse's parseLVals takes it anywhere.
    ("quoted name after a label", b"{c=\"d\",\"a.b\"} 1\n", A, A, A, A),
    ("quoted name after a label, blank", b"{c=\"d\", \"a.b\"} 1\n", A, A, A, A),
    ("two quoted names", b"{\"a\",\"b\"} 1\n", R, R, R, R),
    ("bare and quoted name", b"a{\"b\"} 1\n", R, R, R, R),
    ("no name at all", b"{} 1\n", R, R, R, R),
    ("quoted label name", b"a{\"b.c\"=\"d\"} 1\n", A, A, A, A),
    // Metadata.
    ("HELP after the samples", b"a 1\n# HELP a late\n", A, A, A, A),
    ("HELP with \\\"", b"# HELP a x \\\" y\na 1\n", A, A, A, A),
    ("HELP with \\t", b"# HELP a x\\ty\n", R, A, R, A),
    ("UTF-8 HELP", "# HELP a é ☃\n".as_bytes(), A, A, A, A),
    ("second HELP", b"# HELP a x\n# HELP a y\n", R, A, R, A),
    ("TYPE after the samples", b"a 1\n# TYPE a gauge\n", R, A, R, A),
    ("second TYPE", b"# TYPE a gauge\n# TYPE a gauge\n", R, A, R, A),
    ("TYPE untyped", b"# TYPE a untyped\na 1\n", A, A, A, A),
    ("TYPE in upper case", b"# TYPE a COUNTER\na 1\n", A, R, R, A),
    ("TYPE gaugehistogram", b"# TYPE a gaugehistogram\n", A, R, R, A),
    ("TYPE info", b"# TYPE a info\n", R, R, R, A),
    ("unknown TYPE word", b"# TYPE a bla\n", R, R, R, R),
    // Families.
    ("family that reappears (samples only)", b"a 1\nb 1\na{x=\"1\"} 2\n", A, A, A, A),
    (
        "family that reappears with its TYPE",
        b"# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n",
        R,
        A,
        R,
        A,
    ),
    ("the same series twice", b"a 1\na 2\n", A, A, A, A),
    // Values and timestamps (both use Go's ParseFloat without p, P or _).
    // expfmt skips zero or more blanks after `}`; textparse's lexer enters its
    // value state at `}` and reads `[^{ \t\n]+` as the value.
    ("value right after }", b"a{b=\"c\"}-Inf\n", A, A, A, A),
    ("value right after } of a quoted name", b"{\"a.b\"}1\n", A, A, A, A),
    ("special values", b"a NaN\na nan\na +Inf\na -Inf\na Inf\na inf\na infinity\n", A, A, A, A),
    ("signs and bare dots", b"a +1.5\na .5\na 5.\na -0\na 1e3\n", A, A, A, A),
    ("underscore in a value", b"a 1_000\n", R, R, R, R),
    ("hex float value", b"a 0x1p-3\n", R, R, R, R),
    ("hex integer value", b"a 0x10\n", R, R, R, R),
    ("+NaN", b"a +NaN\n", R, R, R, R),
    ("no value", b"a\n", R, R, R, R),
    ("signed timestamps", b"a 1 -100\na 1 +100\n", A, A, A, A),
    ("float timestamp", b"a 1 1.5\n", R, R, R, R),
    ("timestamp past int64", b"a 1 9223372036854775808\n", R, R, R, R),
    ("text after the timestamp", b"a 1 2 3\n", R, R, R, R),
    ("exemplar in 0.0.4", b"a 1 # {x=\"y\"} 1\n", R, R, R, A),
    // Histograms and summaries: what the document asks but neither parser checks.
    (
        "histogram without +Inf",
        b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        A,
        A,
        A,
        A,
    ),
    (
        "histogram _count != +Inf bucket",
        b"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
        A,
        A,
        A,
        A,
    ),
    (
        "histogram buckets out of order",
        b"# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n",
        A,
        A,
        A,
        A,
    ),
    ("le spelled Inf", b"# TYPE h histogram\nh_bucket{le=\"Inf\"} 1\n", A, A, A, A),
    ("bucket without le", b"# TYPE h histogram\nh_bucket 1\n", A, A, A, A),
    ("le that is not a number", b"# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", R, A, R, A),
    ("negative bucket", b"# TYPE h histogram\nh_bucket{le=\"1\"} -1\n", R, A, R, A),
    ("negative histogram count", b"# TYPE h histogram\nh_count -1\n", R, A, R, A),
    ("summary without quantile", b"# TYPE s summary\ns 1\n", A, A, A, A),
    ("quantile above 1", b"# TYPE s summary\ns{quantile=\"1.5\"} 1\n", A, A, A, A),
    ("quantile that is not a number", b"# TYPE s summary\ns{quantile=\"q\"} 1\n", R, A, R, A),
];

fn accepts(input: &[u8], strict: bool) -> Result<(), String> {
    let options = ParseOptions {
        format: Format::Prometheus,
        strict,
        content_type: None,
    };
    parse(input, &options)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn where_the_go_parsers_agree_strict_agrees() {
    let mut wrong = Vec::new();
    for &(rule, input, expfmt, textparse, strict, _) in ROWS {
        if expfmt == textparse && strict != expfmt {
            wrong.push(format!(
                "{rule}: the table's strict verdict contradicts both Go parsers"
            ));
        }
        let got = accepts(input, true);
        if got.is_ok() != strict {
            wrong.push(format!("{rule}: strict {got:?}, want accepted={strict}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn lenient_follows_its_column() {
    let mut wrong = Vec::new();
    for &(rule, input, _, textparse, strict, lenient) in ROWS {
        // Lenient never refuses what strict accepts, and takes what the
        // scraper takes except where that would mean guessing (duplicates,
        // a missing comma).
        assert!(lenient || !strict, "{rule}: lenient stricter than strict");
        if textparse && !lenient {
            assert!(
                rule.contains("duplicate") || rule.contains("missing comma"),
                "{rule}: lenient refuses what Prometheus' scraper takes"
            );
        }
        let got = accepts(input, false);
        if got.is_ok() != lenient {
            wrong.push(format!("{rule}: lenient {got:?}, want accepted={lenient}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(ROWS.len() >= 70, "the table keeps its coverage");
}
