//! A slow, obviously correct reference parser for well-formed text, and a
//! generator of well-formed expositions; the fast [`Parser`] must agree with
//! it entry for entry. Test-only, and public under the `oracle` feature for
//! the differential fuzz target in `fuzz/` (the generator stays test-only).
//!
//! The oracle splits lines with `str::split`, labels with a char loop, fields
//! with `split(' ')`, and numbers with `str::parse` (acceptable here: its
//! input is generated, never hostile). It reads canonical text only: single
//! spaces between tokens, none inside braces.
#![cfg_attr(not(test), allow(dead_code))]

use super::*;

/// An entry with everything owned and comparable (NaN compared by bits).
#[derive(Debug, PartialEq)]
pub enum Owned {
    /// `# HELP`: family name, decoded text.
    Help(String, String),
    /// `# TYPE`: family name, type.
    Type(String, MetricType),
    /// `# UNIT`: family name, unit.
    Unit(String, String),
    /// A sample line.
    Sample(OwnedSample),
    /// Any other `#` line: the text after `#`.
    Comment(String),
    /// `# EOF`.
    Eof,
}

/// Decoded `(name, value)` label pairs in written order.
pub type Pairs = Vec<(String, String)>;

/// A sample with everything owned; values as bits (every NaN the same).
#[derive(Debug, PartialEq)]
pub struct OwnedSample {
    /// The series name.
    pub name: String,
    /// The labels.
    pub labels: Pairs,
    /// The value's bits.
    pub value: u64,
    /// Timestamp in milliseconds.
    pub ts: Option<i64>,
    /// Exemplar labels, value bits and timestamp in milliseconds.
    pub exemplar: Option<(Pairs, u64, Option<i64>)>,
}

fn bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

fn own_labels(l: &Labels<'_>) -> Pairs {
    l.iter()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

/// The owned, comparable form of a fast-parser entry.
pub fn own(e: Entry<'_>) -> Owned {
    match e {
        Entry::Help { name, help } => Owned::Help(name.into(), help.into()),
        Entry::Type { name, metric_type } => Owned::Type(name.into(), metric_type),
        Entry::Unit { name, unit } => Owned::Unit(name.into(), unit.into()),
        Entry::Comment(c) => Owned::Comment(c.into()),
        Entry::Eof => Owned::Eof,
        Entry::Sample(s) => Owned::Sample(OwnedSample {
            name: s.name.into(),
            labels: own_labels(&s.labels),
            value: bits(s.value),
            ts: s.timestamp_ms,
            exemplar: s
                .exemplar
                .map(|x| (own_labels(&x.labels), bits(x.value), x.timestamp_ms)),
        }),
    }
}

/// Decodes `\\`, `\n` and (if `quote`) `\"`; other backslashes stay.
fn decode(s: &str, quote: bool) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match (c, it.peek()) {
            ('\\', Some('\\')) => {
                out.push('\\');
                it.next();
            }
            ('\\', Some('n')) => {
                out.push('\n');
                it.next();
            }
            ('\\', Some('"')) if quote => {
                out.push('"');
                it.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Splits `"quoted"rest` into the raw quoted content and the rest.
fn take_quoted(s: &str) -> (&str, &str) {
    let body = &s[1..];
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return (&body[..i], &body[i + 1..]),
            _ => {}
        }
    }
    panic!("unterminated quote in {s:?}")
}

/// Blanks and tabs: the whitespace 0.0.4 allows between tokens.
const WS: [char; 2] = [' ', '\t'];

/// Parses `{...}` at the start of `s`; returns (quoted metric name, labels, rest).
/// Blanks and tabs may stand around every token; a quoted string not followed
/// by `=` is the metric name, wherever it stands.
fn oracle_labels(s: &str) -> (Option<String>, Pairs, &str) {
    let mut rest = &s[1..];
    let mut name = None;
    let mut pairs = Vec::new();
    loop {
        rest = rest.trim_start_matches(WS);
        if let Some(r) = rest.strip_prefix('}') {
            return (name, pairs, r);
        }
        let (key, r) = if rest.starts_with('"') {
            let (q, r) = take_quoted(rest);
            let r = r.trim_start_matches(WS);
            if !r.starts_with('=') {
                name = Some(decode(q, true));
                rest = r.strip_prefix(',').unwrap_or(r);
                continue;
            }
            (decode(q, true), r)
        } else {
            let eq = rest.find('=').unwrap();
            (rest[..eq].trim_end_matches(WS).to_string(), &rest[eq..])
        };
        let (v, r) = take_quoted(r[1..].trim_start_matches(WS));
        pairs.push((key, decode(v, true)));
        let r = r.trim_start_matches(WS);
        rest = r.strip_prefix(',').unwrap_or(r);
    }
}

fn oracle_value(s: &str) -> u64 {
    bits(match s {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap(),
    })
}

fn oracle_ts(s: &str, om: bool) -> i64 {
    if om {
        (s.parse::<f64>().unwrap() * 1000.0).round() as i64
    } else {
        s.parse().unwrap()
    }
}

/// The reference parser: well-formed canonical input only, panics otherwise.
pub fn oracle(text: &str, om: bool) -> Vec<Owned> {
    let mut out = Vec::new();
    let body = text.strip_suffix('\n').unwrap_or(text);
    for line in body.split('\n') {
        if line.is_empty() {
            continue;
        }
        if let Some(meta) = line.strip_prefix("# ") {
            if meta == "EOF" && om {
                out.push(Owned::Eof);
                continue;
            }
            let (kw, rest) = meta.split_once(' ').unwrap_or((meta, ""));
            let (name, text) = if rest.starts_with('"') {
                let (n, r) = take_quoted(rest);
                (decode(n, true), r.strip_prefix(' ').unwrap_or(r))
            } else {
                let (n, t) = rest.split_once(' ').unwrap_or((rest, ""));
                (n.to_string(), t)
            };
            match kw {
                // 0.0.4 skips all blanks before the docstring; OpenMetrics one space.
                "HELP" if !om => out.push(Owned::Help(
                    name,
                    decode(text.trim_start_matches([' ', '\t']), om),
                )),
                "HELP" => out.push(Owned::Help(name, decode(text, om))),
                "TYPE" => out.push(Owned::Type(name, type_of(text))),
                "UNIT" if om => out.push(Owned::Unit(name, text.into())),
                _ => out.push(Owned::Comment(line[1..].into())),
            }
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            out.push(Owned::Comment(c.into()));
            continue;
        }
        let name_end = line.find(['{', ' ', '\t']).unwrap();
        let mut name = line[..name_end].to_string();
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if rest.trim_start_matches(WS).starts_with('{') {
            rest = rest.trim_start_matches(WS);
            let (quoted, l, r) = oracle_labels(rest);
            if let Some(q) = quoted {
                name = q;
            }
            labels = l;
            rest = r;
        }
        let (fields, exemplar) = match rest.split_once(" # ") {
            Some((f, x)) => (f, Some(x)),
            None => (rest, None),
        };
        let f: Vec<&str> = fields[1..].split(' ').collect();
        let exemplar = exemplar.map(|x| {
            let (_, l, r) = oracle_labels(x);
            let f: Vec<&str> = r[1..].split(' ').collect();
            (l, oracle_value(f[0]), f.get(1).map(|t| oracle_ts(t, true)))
        });
        out.push(Owned::Sample(OwnedSample {
            name,
            labels,
            value: oracle_value(f[0]),
            ts: f.get(1).map(|t| oracle_ts(t, om)),
            exemplar,
        }));
    }
    out
}

fn type_of(s: &str) -> MetricType {
    use MetricType::*;
    [
        Counter,
        Gauge,
        Histogram,
        GaugeHistogram,
        Summary,
        Info,
        StateSet,
        Unknown,
        Untyped,
    ]
    .into_iter()
    .find(|t| t.as_str() == s)
    .unwrap()
}

/// A deterministic xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'s>(&mut self, xs: &[&'s str]) -> &'s str {
        xs[self.below(xs.len())]
    }
}

/// Label value pieces: escapes and every delimiter the grammar has.
const PIECES: &[&str] = &[
    "a",
    "meta-llama/Llama-3.1-8B",
    "0",
    ",",
    "}",
    "{",
    "=",
    " # ",
    "#",
    " ",
    "\\\\",
    "\\\"",
    "\\n",
    "é",
    "☃",
    "\\z",
    "le",
    "\t",
];
const HELP_PIECES: &[&str] = &[
    "help", " ", "\\\\", "\\n", "\\\"", "\"", "#", "{}", "é", "\\t",
];
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "12.5",
    "1e3",
    "-2.5E-3",
    "1.7e+09",
    "NaN",
    "+Inf",
    "-Inf",
    "Inf",
    ".5",
    "123456789012345678901234",
    "0.013300656000000001",
    "00012",
];

/// Whitespace between tokens: none in OpenMetrics, any mix of blanks and
/// tabs (often none) in 0.0.4.
fn ws(r: &mut Rng, om: bool) -> String {
    if om {
        return String::new();
    }
    ["", "", "", " ", "\t", "  ", " \t ", "\t\t"][r.below(8)].to_string()
}

fn label_value(r: &mut Rng) -> String {
    (0..r.below(5)).map(|_| r.pick(PIECES)).collect()
}

/// A well-formed exposition in the given dialect.
fn generate(r: &mut Rng, om: bool) -> String {
    use MetricType::*;
    let types: &[MetricType] = if om {
        &[
            Counter,
            Gauge,
            Histogram,
            GaugeHistogram,
            Summary,
            Info,
            StateSet,
            Unknown,
        ]
    } else {
        &[Counter, Gauge, Histogram, Summary, Untyped]
    };
    let mut out = String::new();
    for f in 0..1 + r.below(6) {
        let quoted = !om && r.below(6) == 0;
        let name = if quoted {
            format!("my.metric{f}")
        } else {
            format!(
                "{}{f}",
                r.pick(&["a", "vllm:x", "http_requests", "m:rate5m_"])
            )
        };
        let meta_name = if quoted {
            format!("\"{name}\"")
        } else {
            name.clone()
        };
        let ty = types[r.below(types.len())];
        if r.below(3) != 0 {
            let help: String = (0..r.below(6)).map(|_| r.pick(HELP_PIECES)).collect();
            out.push_str(&format!("# HELP {meta_name} {help}\n"));
        }
        out.push_str(&format!("# TYPE {meta_name} {}\n", ty.as_str()));
        if om && r.below(4) == 0 {
            out.push_str(&format!("# UNIT {meta_name} seconds\n"));
        }
        if !om && r.below(4) == 0 {
            out.push_str(if r.below(2) == 0 {
                "# a comment {x=\"y\"} 1\n"
            } else {
                "\n"
            });
        }
        let base: Vec<(String, String)> = (0..r.below(4))
            .map(|i| (format!("l{i}"), label_value(r)))
            .collect();
        for _ in 0..r.below(8) {
            let suffix = match ty.suffixes() {
                [] => "",
                s => s[r.below(s.len())],
            };
            let mut labels = base.clone();
            // Mostly shared prefixes (exercising the prefix reuse), sometimes a change.
            match r.below(4) {
                0 => labels.push(("le".into(), r.pick(VALUES).into())),
                1 if !labels.is_empty() => {
                    let k = r.below(labels.len());
                    labels[k].1 = label_value(r);
                }
                _ => {}
            }
            // 0.0.4 allows blanks and tabs around every token inside the
            // braces, quoted (UTF-8) names and a trailing comma.
            let mut parts: Vec<String> = labels
                .iter()
                .map(|(n, v)| {
                    let n = if !om && r.below(6) == 0 {
                        format!("\"{n}.q\"")
                    } else {
                        n.clone()
                    };
                    format!("{n}{}={}\"{v}\"", ws(r, om), ws(r, om))
                })
                .collect();
            if quoted {
                // The metric name may stand anywhere among the labels.
                let at = if r.below(2) == 0 {
                    0
                } else {
                    r.below(parts.len() + 1)
                };
                parts.insert(at, format!("\"{name}{suffix}\""));
            }
            let mut set = String::from("{");
            set.push_str(&ws(r, om));
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    set.push_str(&format!("{},{}", ws(r, om), ws(r, om)));
                }
                set.push_str(p);
            }
            set.push_str(&ws(r, om));
            if !om && !parts.is_empty() && r.below(4) == 0 {
                set.push(',');
                set.push_str(&ws(r, om));
            }
            set.push('}');
            if quoted {
                out.push_str(&set);
            } else {
                out.push_str(&name);
                out.push_str(suffix);
                if !parts.is_empty() || r.below(3) == 0 {
                    out.push_str(&ws(r, om));
                    out.push_str(&set);
                }
            }
            out.push(' ');
            out.push_str(r.pick(VALUES));
            if r.below(3) == 0 {
                let ms = r.below(4_000_000_000_000) as i64 - 1_000_000_000_000;
                let sign = if ms < 0 { "-" } else { "" };
                let (s, m) = (ms.abs() / 1000, ms.abs() % 1000);
                let ts = if om {
                    format!("{sign}{s}.{m:03}")
                } else {
                    ms.to_string()
                };
                out.push_str(&format!(" {ts}"));
            }
            if om && r.below(4) == 0 {
                let l = label_value(r);
                out.push_str(&format!(" # {{id=\"{l}\"}} {}", r.pick(VALUES)));
                if r.below(2) == 0 {
                    out.push_str(" 1.5");
                }
            }
            out.push('\n');
        }
    }
    if om {
        out.push_str("# EOF\n");
    }
    out
}

#[test]
fn fast_parser_agrees_with_oracle() {
    let mut r = Rng(0x0123_4567_89ab_cdef);
    for case in 0..3000 {
        let om = case % 2 == 0;
        let text = generate(&mut r, om);
        let want = oracle(&text, om);
        let format = if om {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        };
        let options = ParseOptions {
            format,
            ..ParseOptions::default()
        };
        let got: Result<Vec<Owned>, ParseError> = Parser::new(text.as_bytes(), &options)
            .map(|e| e.map(own))
            .collect();
        let got = got.unwrap_or_else(|e| panic!("case {case}: {e}\n{text}"));
        assert_eq!(got, want, "case {case}:\n{text}");
        // The families layer keeps every sample.
        let e = parse(text.as_bytes(), &options).unwrap();
        let n = want
            .iter()
            .filter(|e| matches!(e, Owned::Sample(_)))
            .count();
        assert_eq!(
            e.families.iter().map(|f| f.samples.len()).sum::<usize>(),
            n,
            "case {case}"
        );
        // Auto detects the dialect the generator wrote.
        assert_eq!(
            parse(text.as_bytes(), &ParseOptions::default())
                .unwrap()
                .format,
            format
        );
    }
}

#[test]
fn mutations_never_panic() {
    let mut r = Rng(0xfeed_beef_dead_cafe);
    let mut rejected = 0;
    for case in 0..4000 {
        let mut bytes = generate(&mut r, case % 2 == 0).into_bytes();
        for _ in 0..1 + r.below(4) {
            let at = r.below(bytes.len().max(1));
            match r.below(4) {
                0 => bytes.truncate(at),
                1 => {
                    let b = [
                        b'"', b'\\', b'{', b'}', b',', b'=', b' ', b'\n', b'#', 0xff, 0xc3, b'\r',
                    ];
                    bytes.insert(at.min(bytes.len()), b[r.below(b.len())]);
                }
                2 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ if at < bytes.len() => bytes[at] = r.next() as u8,
                _ => {}
            }
        }
        for format in [Format::Auto, Format::Prometheus, Format::OpenMetrics] {
            for strict in [false, true] {
                let options = ParseOptions {
                    format,
                    strict,
                    content_type: None,
                };
                let res = parse(&bytes, &options);
                // The pull parser fails exactly when the syntax does.
                let pull = Parser::new(&bytes, &options).find_map(Result::err);
                if let Err(e) = res {
                    rejected += 1;
                    assert!(e.line >= 1 && e.column >= 1);
                    // A grouping rule may fail before a later syntax error.
                    if let Some(p) = pull {
                        assert!(p == e || e.line <= p.line, "{p} vs {e}");
                    }
                } else {
                    assert_eq!(pull, None);
                }
                // Iterating labels of anything accepted is infallible.
                if let Ok(x) = parse(&bytes, &options) {
                    for f in &x.families {
                        for s in &f.samples {
                            assert_eq!(s.labels.iter().count(), s.labels.len());
                        }
                    }
                }
            }
        }
    }
    assert!(
        rejected > 1000,
        "mutations should mostly be rejected: {rejected}"
    );
}
