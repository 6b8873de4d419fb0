//! A structure-aware generator of *valid* expositions for the differential
//! target: libFuzzer's bytes become a [`Doc`] through `arbitrary`, and a
//! [`Doc`] renders to text plus the families a parser must find in it.
//!
//! Invariant: both renderings of a [`Doc`] are valid in its dialect and mean
//! the same thing. `canonical` has single spaces and nothing optional (the
//! oracle's input; also valid strict syntax when [`Rendered::strict_syntax`]);
//! `loose` adds, where the dialect's lenient mode allows, blanks and tabs at
//! every position (line start, before `{`, after `{`, around `=` and `,`,
//! before `}`, between fields, after `#`, line end), trailing commas, quoted
//! names, blank lines, CRLF and a missing final newline. Family names are a
//! digit-free prefix plus the family's index, so no family's name or sample
//! name can be read as another family's.

use std::collections::HashSet;

use arbitrary::Arbitrary;
use llm_metrics_guest::text::{Format, MetricType};

/// An exposition's structure.
#[derive(Arbitrary, Debug)]
pub struct Doc {
    om: bool,
    /// OpenMetrics: also render lenient-only extras (0.0.4 always does).
    loose: bool,
    crlf: bool,
    no_final_newline: bool,
    /// Whitespace choices, consumed one byte per optional position.
    ws: Vec<u8>,
    families: Vec<Fam>,
}

#[derive(Arbitrary, Debug)]
struct Fam {
    prefix: u8,
    quoted: bool,
    help: Option<Vec<Piece>>,
    ty: Option<u8>,
    unit: Option<u8>,
    comment: Option<u8>,
    /// Labels shared by the family's samples (their leading labels).
    base: Vec<Label>,
    samples: Vec<Smp>,
}

#[derive(Arbitrary, Debug)]
struct Smp {
    suffix: u8,
    /// Write the name quoted inside the braces (lenient syntax).
    quote_name: bool,
    /// How many of the family's base labels come first.
    keep: u8,
    extra: Vec<Label>,
    trailing_comma: bool,
    value: Num,
    ts: Option<Num>,
    exemplar: Option<(Vec<Label>, Num, Option<Num>)>,
}

#[derive(Arbitrary, Debug, Clone)]
struct Label {
    name: LName,
    value: Vec<Piece>,
}

#[derive(Arbitrary, Debug, Clone)]
enum LName {
    Bare(u8, Vec<u8>),
    Quoted(Vec<Piece>),
}

/// A piece of quoted or HELP text: any char, an escape, or a tricky word.
#[derive(Arbitrary, Debug, Clone)]
enum Piece {
    Char(char),
    Escape(u8),
    Word(u8),
}

#[derive(Arbitrary, Debug)]
enum Num {
    Special(u8),
    Float(f64),
    Decimal {
        sign: u8,
        int: Vec<u8>,
        frac: Option<Vec<u8>>,
        exp: Option<(bool, u8, u16)>,
    },
}

/// Decoded `(name, value)` label pairs in written order.
pub type Pairs = Vec<(String, String)>;

/// An exemplar: labels, value bits, timestamp in milliseconds.
pub type ExpExemplar = (Pairs, u64, Option<i64>);

/// One sample a parser must return.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpSample {
    /// Series name, decoded.
    pub name: String,
    /// Labels, decoded, in written order.
    pub labels: Pairs,
    /// Value bits (every NaN as `f64::NAN`).
    pub value: u64,
    /// Timestamp in milliseconds.
    pub ts: Option<i64>,
    /// Exemplar labels, value bits and timestamp.
    pub exemplar: Option<ExpExemplar>,
}

/// One family a parser must return.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpFamily {
    /// Family name, decoded.
    pub name: String,
    /// Declared type, or the dialect's untyped.
    pub ty: MetricType,
    /// Decoded HELP text.
    pub help: Option<String>,
    /// UNIT text.
    pub unit: Option<String>,
    /// Samples in order.
    pub samples: Vec<ExpSample>,
}

/// A [`Doc`] rendered.
#[derive(Debug)]
pub struct Rendered {
    /// The dialect.
    pub format: Format,
    /// Canonical text (single spaces, LF, final newline).
    pub canonical: String,
    /// The same exposition with every lenient variation the bytes chose.
    pub loose: String,
    /// Whether `canonical` is also valid strict syntax.
    pub strict_syntax: bool,
    /// What parsing either text must give.
    pub families: Vec<ExpFamily>,
}

const PREFIXES: &[&str] = &["a", "vllm:x_", "tgi_y", "http_requests_", "m:rate_", "_"];
const QUOTED_PREFIXES: &[&str] = &["my.metric", "sp ace", "quo\"te", "back\\slash", "é☃.", "a"];
/// Raw escapes and what they decode to (unknown escapes stay as written).
const ESCAPES: &[(&str, &str)] = &[
    ("\\\\", "\\"),
    ("\\\"", "\""),
    ("\\n", "\n"),
    ("\\z", "\\z"),
    ("\\t", "\\t"),
];
const WORDS: &[&str] = &[
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
    "\t",
    "é",
    "☃",
    "le",
    "+Inf",
    "\r",
];
const SPECIALS: &[&str] = &[
    "NaN",
    "nan",
    "+Inf",
    "-Inf",
    "Inf",
    "inf",
    "+Infinity",
    "-infinity",
    "INF",
];
const COMMENTS: &[&str] = &[
    "# hello {x=\"y\"} 1",
    "#no space",
    "# HELPER text",
    "#",
    "# UNIT x y",
];
const UNITS: &[&str] = &["seconds", "bytes", "", "ratio"];
const LSTART: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
const LCONT: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";

fn pick<T: Copy>(xs: &[T], i: u8) -> T {
    xs[usize::from(i) % xs.len()]
}

/// The sample-name suffixes a family of type `ty` owns (mirrors the guest's
/// `families::suffixes`).
fn suffixes(ty: MetricType) -> &'static [&'static str] {
    match ty {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Histogram => &["_bucket", "_sum", "_count", "_created"],
        MetricType::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
        MetricType::Summary => &["_sum", "_count", "_created"],
        MetricType::Info => &["_info"],
        _ => &[],
    }
}

fn bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// Escapes `s` for a quoted name or label value.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Quoted text: (raw, decoded, whether it has an escape other than `\\`,
/// `\"` and `\n`, which Prometheus keeps as written but strict 0.0.4 refuses).
fn quoted(pieces: &[Piece]) -> (String, String, bool) {
    let (mut raw, mut dec, mut odd) = (String::new(), String::new(), false);
    for p in pieces.iter().take(12) {
        match *p {
            Piece::Char(c) => {
                raw.push_str(&escape(c.encode_utf8(&mut [0; 4])));
                dec.push(c);
            }
            Piece::Escape(i) => {
                let (r, d) = pick(ESCAPES, i);
                raw.push_str(r);
                dec.push_str(d);
                odd |= r == d;
            }
            Piece::Word(i) => {
                let w = pick(WORDS, i);
                raw.push_str(&escape(w));
                dec.push_str(w);
            }
        }
    }
    (raw, dec, odd)
}

/// HELP text as written and as each dialect decodes it.
struct Help {
    raw: String,
    prom: String,
    om: String,
    /// Has an escape strict parsing refuses (0.0.4: other than `\\` and
    /// `\n`; OpenMetrics: other than those and `\"`).
    odd_prom: bool,
    odd_om: bool,
}

/// HELP text from pieces. Backslashes only as whole escapes; no line breaks.
fn help(pieces: &[Piece]) -> Help {
    let (mut raw, mut d4, mut dom) = (String::new(), String::new(), String::new());
    let (mut odd_prom, mut odd_om) = (false, false);
    for p in pieces.iter().take(12) {
        let (r, a, b): (String, String, String) = match *p {
            Piece::Char('\\') => ("\\\\".into(), "\\".into(), "\\".into()),
            Piece::Char('\n' | '\r') => ("\\n".into(), "\n".into(), "\n".into()),
            Piece::Char(c) => (c.into(), c.into(), c.into()),
            // `\"` is an escape in OpenMetrics HELP only.
            Piece::Escape(i) if pick(ESCAPES, i).0 == "\\\"" => {
                odd_prom = true;
                ("\\\"".into(), "\\\"".into(), "\"".into())
            }
            Piece::Escape(i) => {
                let (r, d) = pick(ESCAPES, i);
                let odd = r == d;
                odd_prom |= odd;
                odd_om |= odd;
                (r.into(), d.into(), d.into())
            }
            Piece::Word(i) => {
                let w = pick(WORDS, i).replace('\r', "");
                (w.clone(), w.clone(), w)
            }
        };
        raw.push_str(&r);
        d4.push_str(&a);
        dom.push_str(&b);
    }
    Help {
        raw,
        prom: d4,
        om: dom,
        odd_prom,
        odd_om,
    }
}

/// A number token and the value it spells.
fn number(n: &Num, specials: bool) -> Option<(String, f64)> {
    let text = match n {
        Num::Special(i) if specials => pick(SPECIALS, *i).to_string(),
        Num::Special(_) => return None,
        Num::Float(f) if f.is_finite() => format!("{f:?}"),
        Num::Float(f) if specials && f.is_nan() => "NaN".to_string(),
        Num::Float(f) if specials => format!("{}Inf", if *f > 0.0 { "+" } else { "-" }),
        Num::Float(_) => return None,
        Num::Decimal {
            sign,
            int,
            frac,
            exp,
        } => {
            let digits = |d: &[u8]| -> String {
                d.iter()
                    .take(25)
                    .map(|b| char::from(b'0' + b % 10))
                    .collect()
            };
            let mut s = String::from(["", "-", "+"][usize::from(*sign % 3)]);
            let int = digits(int);
            let frac = frac.as_deref().map(digits);
            // At least one digit on one side of the point.
            if int.is_empty() && frac.as_deref().is_none_or(str::is_empty) {
                s.push('0');
            } else {
                s.push_str(&int);
            }
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some((upper, esign, e)) = exp {
                s.push(if *upper { 'E' } else { 'e' });
                s.push_str(["", "-", "+"][usize::from(*esign % 3)]);
                s.push_str(&(e % 400).to_string());
            }
            s
        }
    };
    let v = text.parse::<f64>().ok()?;
    Some((text, v))
}

/// The whitespace choices of a rendering.
struct Ws<'d> {
    bytes: &'d [u8],
    at: usize,
    on: bool,
}

impl Ws<'_> {
    fn next(&mut self) -> u8 {
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        if self.on { b } else { 0 }
    }

    /// `min` blanks in canonical text; `min` plus up to 3 blanks or tabs in loose.
    fn blanks(&mut self, min: usize) -> String {
        let b = self.next();
        let n = min.max(usize::from(b % 4) + min);
        (0..n)
            .map(|i| if b >> (2 + i % 6) & 1 == 1 { '\t' } else { ' ' })
            .collect()
    }

    /// Exactly one blank or tab (where the dialect takes exactly one).
    fn one(&mut self) -> char {
        if self.next() & 1 == 1 { '\t' } else { ' ' }
    }

    fn flag(&mut self) -> bool {
        self.next() & 0x80 != 0
    }
}

/// A label name: (raw, decoded, whether quoted, whether it has an odd
/// escape). Quoted only where the dialect allows it.
fn label_name(n: &LName, quoted_ok: bool) -> (String, String, bool, bool) {
    match n {
        LName::Quoted(p) if quoted_ok && !p.is_empty() => {
            let (r, d, odd) = quoted(p);
            (format!("\"{r}\""), d, true, odd)
        }
        LName::Quoted(p) => {
            let s = format!("q{}", p.len());
            (s.clone(), s, false, false)
        }
        LName::Bare(first, rest) => {
            let mut s = String::from(char::from(pick(LSTART, *first)));
            s.extend(rest.iter().take(10).map(|&b| char::from(pick(LCONT, b))));
            (s.clone(), s, false, false)
        }
    }
}

/// What a label list rendered to.
struct LabelList {
    /// From `{` through `}`.
    raw: String,
    /// Decoded pairs in order.
    pairs: Vec<(String, String)>,
    /// Whether a quoted label name was written.
    quoted: bool,
    /// Whether strict syntax may refuse it: an escape other than `\\`, `\"`
    /// and `\n`, or the reserved label name `__name__`.
    lenient_only: bool,
}

/// Renders `{...}`: an optional quoted metric name first, then the labels
/// (duplicates by decoded name left out), blanks wherever `w` chooses.
fn label_list(
    labels: &[&Label],
    quoted_ok: bool,
    trailing_comma: bool,
    name_first: Option<&str>,
    w: &mut Ws<'_>,
) -> LabelList {
    let mut seen = HashSet::new();
    let mut parts = Vec::new();
    let mut pairs = Vec::new();
    let mut any_quoted = false;
    let mut lenient_only = false;
    if let Some(n) = name_first {
        parts.push(format!("\"{}\"{}", escape(n), w.blanks(0)));
    }
    for l in labels.iter().take(12) {
        let (raw_name, name, q, odd_name) = label_name(&l.name, quoted_ok);
        if !seen.insert(name.clone()) {
            continue;
        }
        any_quoted |= q;
        let (raw_value, value, odd_value) = quoted(&l.value);
        lenient_only |= odd_name || odd_value || name == "__name__";
        parts.push(format!(
            "{raw_name}{}={}\"{raw_value}\"{}",
            w.blanks(0),
            w.blanks(0),
            w.blanks(0)
        ));
        pairs.push((name, value));
    }
    let mut raw = String::from("{");
    raw.push_str(&w.blanks(0));
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            raw.push(',');
            raw.push_str(&w.blanks(0));
        }
        raw.push_str(p);
    }
    if trailing_comma && !parts.is_empty() {
        raw.push(',');
        raw.push_str(&w.blanks(0));
    }
    raw.push('}');
    LabelList {
        raw,
        pairs,
        quoted: any_quoted,
        lenient_only,
    }
}

/// A 0.0.4 timestamp: integer milliseconds.
fn millis(n: &Num) -> Option<(String, i64)> {
    match n {
        Num::Decimal { sign, int, .. } => {
            let mut t = String::from(["", "-", "+"][usize::from(*sign % 3)]);
            t.extend(int.iter().take(20).map(|b| char::from(b'0' + b % 10)));
            if int.is_empty() {
                t.push('0');
            }
            let v = t.parse::<i64>().ok()?;
            Some((t, v))
        }
        // Saturating: the extremes of i64 included.
        Num::Float(f) => {
            let v = *f as i64;
            Some((v.to_string(), v))
        }
        Num::Special(_) => None,
    }
}

/// An OpenMetrics timestamp: seconds, converted as both parsers do.
fn seconds(n: &Num) -> Option<(String, i64)> {
    let (t, v) = number(n, false)?;
    v.is_finite().then(|| (t, (v * 1000.0).round() as i64))
}

const PROM_TYPES: &[MetricType] = &[
    MetricType::Counter,
    MetricType::Gauge,
    MetricType::Histogram,
    MetricType::Summary,
    MetricType::Untyped,
];
const OM_TYPES: &[MetricType] = &[
    MetricType::Counter,
    MetricType::Gauge,
    MetricType::Histogram,
    MetricType::GaugeHistogram,
    MetricType::Summary,
    MetricType::Info,
    MetricType::StateSet,
    MetricType::Unknown,
];

/// Text being rendered, and what it must parse to.
struct Out<'d> {
    om: bool,
    /// Lenient-only syntax (quoted names; in 0.0.4 always allowed).
    extras: bool,
    /// Rendering the loose variant.
    loose: bool,
    w: Ws<'d>,
    text: String,
    strict_syntax: bool,
}

impl Out<'_> {
    /// Ends a line, maybe with blank lines after it (loose only).
    fn end_line(&mut self, crlf: bool) {
        self.text.push_str(if crlf { "\r\n" } else { "\n" });
        if self.loose && self.w.flag() && self.w.flag() {
            let blank = self.w.blanks(0);
            self.text.push_str(&blank);
            self.text.push_str(if crlf { "\r\n" } else { "\n" });
        }
    }

    /// `# KW name text`, with the blanks each dialect allows.
    fn meta(&mut self, kw: &str, name: &str, text: &str, trailing: bool) {
        let lead = self.w.blanks(0);
        let after_hash = self.w.blanks(1);
        let after_kw = self.w.blanks(1);
        let sep = if self.om {
            self.w.one().to_string()
        } else {
            self.w.blanks(1)
        };
        let tail = if trailing {
            self.w.blanks(0)
        } else {
            String::new()
        };
        self.text.push_str(&format!(
            "{lead}#{after_hash}{kw}{after_kw}{name}{sep}{text}{tail}"
        ));
    }
}

impl Doc {
    /// Renders the canonical and the loose text and the expected families.
    pub fn render(&self) -> Rendered {
        let (canonical, families, strict_syntax) = self.text(false);
        let (loose, again, _) = self.text(true);
        assert_eq!(families, again, "generator: renderings disagree");
        Rendered {
            format: if self.om {
                Format::OpenMetrics
            } else {
                Format::Prometheus
            },
            canonical,
            loose,
            strict_syntax,
            families,
        }
    }

    fn text(&self, loose: bool) -> (String, Vec<ExpFamily>, bool) {
        let om = self.om;
        let extras = !om || self.loose;
        let mut o = Out {
            om,
            extras,
            loose,
            w: Ws {
                bytes: &self.ws,
                at: 0,
                on: loose && extras,
            },
            text: String::new(),
            strict_syntax: true,
        };
        let crlf = o.w.on && self.crlf;
        let mut fams = Vec::new();
        for (i, f) in self.families.iter().take(8).enumerate() {
            if let Some(fam) = self.family(i, f, &mut o, crlf) {
                fams.push(fam);
            }
        }
        if om {
            o.text.push_str("# EOF");
            o.end_line(crlf);
        }
        if o.w.on && self.no_final_newline {
            let cut = o.text.trim_end_matches(['\r', '\n']).len();
            o.text.truncate(cut);
        }
        (o.text, fams, o.strict_syntax)
    }

    fn family(&self, i: usize, f: &Fam, o: &mut Out<'_>, crlf: bool) -> Option<ExpFamily> {
        let om = o.om;
        let quoted_family = f.quoted && o.extras;
        let name = if quoted_family {
            format!("{}{i}", pick(QUOTED_PREFIXES, f.prefix))
        } else {
            format!("{}{i}", pick(PREFIXES, f.prefix))
        };
        let meta_name = if quoted_family {
            o.strict_syntax &= !om;
            format!("\"{}\"", escape(&name))
        } else {
            name.clone()
        };
        let ty =
            f.ty.map(|t| pick(if om { OM_TYPES } else { PROM_TYPES }, t));
        let untyped = if om {
            MetricType::Unknown
        } else {
            MetricType::Untyped
        };
        let mut fam = ExpFamily {
            name: name.clone(),
            ty: ty.unwrap_or(untyped),
            help: None,
            unit: None,
            samples: Vec::new(),
        };
        if let Some(h) = &f.help {
            let h = help(h);
            o.strict_syntax &= !(if om { h.odd_om } else { h.odd_prom });
            fam.help = Some(if om {
                h.om
            } else {
                h.prom.trim_start_matches([' ', '\t']).to_string()
            });
            o.meta("HELP", &meta_name, &h.raw, false);
            o.end_line(crlf);
        }
        if let Some(t) = ty {
            o.meta("TYPE", &meta_name, t.as_str(), true);
            o.end_line(crlf);
        }
        if let (true, Some(u)) = (om, f.unit) {
            let unit = pick(UNITS, u);
            fam.unit = Some(unit.to_string());
            o.meta("UNIT", &meta_name, unit, true);
            o.end_line(crlf);
        }
        if let (false, Some(c)) = (om, f.comment) {
            let lead = o.w.blanks(0);
            o.text.push_str(&lead);
            o.text.push_str(pick(COMMENTS, c));
            o.end_line(crlf);
        }
        let owned = suffixes(fam.ty);
        for s in f.samples.iter().take(10) {
            let suffix = match usize::from(s.suffix & 0x7f) % (owned.len() + 1) {
                0 => "",
                k => owned[k - 1],
            };
            let sname = format!("{name}{suffix}");
            let sample = sample_line(f, s, &sname, quoted_family, o);
            o.end_line(crlf);
            fam.samples.push(sample);
        }
        let any = f.help.is_some() || ty.is_some() || fam.unit.is_some() || !fam.samples.is_empty();
        any.then_some(fam)
    }
}

/// Writes one sample line (without its line end) and returns what it means.
fn sample_line(f: &Fam, s: &Smp, sname: &str, quoted_family: bool, o: &mut Out<'_>) -> ExpSample {
    let om = o.om;
    let in_braces = quoted_family || (s.quote_name && o.extras);
    let keep = usize::from(s.keep) % (f.base.len() + 1);
    let labels: Vec<&Label> = f.base.iter().take(keep).chain(s.extra.iter()).collect();
    let trailing = o.loose && o.extras && s.trailing_comma;
    let lead = o.w.blanks(0);
    o.text.push_str(&lead);
    let mut pairs = Vec::new();
    if in_braces || !labels.is_empty() || s.suffix & 0x80 != 0 {
        if !in_braces {
            o.text.push_str(sname);
            let gap = o.w.blanks(0);
            o.text.push_str(&gap);
        }
        let l = label_list(
            &labels,
            o.extras,
            trailing,
            in_braces.then_some(sname),
            &mut o.w,
        );
        o.strict_syntax &= !(om && (l.quoted || in_braces)) && !l.lenient_only;
        o.text.push_str(&l.raw);
        pairs = l.pairs;
    } else {
        o.text.push_str(sname);
    }
    let (vt, v) = number(&s.value, true).unwrap_or_else(|| ("NaN".into(), f64::NAN));
    let gap = o.w.blanks(1);
    o.text.push_str(&gap);
    o.text.push_str(&vt);
    let ts =
        s.ts.as_ref()
            .and_then(|t| if om { seconds(t) } else { millis(t) })
            .map(|(t, ms)| {
                let gap = o.w.blanks(1);
                o.text.push_str(&gap);
                o.text.push_str(&t);
                ms
            });
    let exemplar = match (&s.exemplar, om) {
        (Some((xl, xv, xt)), true) => {
            let (vt, v) = number(xv, true).unwrap_or_else(|| ("1".into(), 1.0));
            let refs: Vec<&Label> = xl.iter().collect();
            let (g1, g2) = (o.w.blanks(1), o.w.blanks(1));
            let l = label_list(&refs, o.extras, false, None, &mut o.w);
            let chars: usize = l
                .pairs
                .iter()
                .map(|(n, v)| n.chars().count() + v.chars().count())
                .sum();
            o.strict_syntax &= !l.quoted && !l.lenient_only && chars <= 128;
            let g3 = o.w.blanks(1);
            o.text.push_str(&format!("{g1}#{g2}{}{g3}{vt}", l.raw));
            let xts = xt.as_ref().and_then(seconds).map(|(t, ms)| {
                let gap = o.w.blanks(1);
                o.text.push_str(&gap);
                o.text.push_str(&t);
                ms
            });
            Some((l.pairs, bits(v), xts))
        }
        _ => None,
    };
    let tail = o.w.blanks(0);
    o.text.push_str(&tail);
    ExpSample {
        name: sname.to_string(),
        labels: pairs,
        value: bits(v),
        ts,
        exemplar,
    }
}
