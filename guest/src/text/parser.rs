//! The pull parser: one [`Entry`] per meaningful line, for both dialects.
//!
//! Invariant: entries borrow the input, never the parser; without backslash
//! escapes no entry allocates. Only syntax is checked here (plus the exemplar
//! size rule); grouping and OpenMetrics' semantic rules live in `families`/`strict`.
//! After the first error the iterator is exhausted.

use std::borrow::Cow;

use super::error::{ErrorKind, ParseError};
use super::labels::{LabelCache, LabelSyntax, Labels, parse_labels, quoted};
use super::lexer::{Cursor, common_prefix, unescape, unescape_help};
use super::model::{Exemplar, Format, MetricType, ParseOptions, Sample};
use super::value::{parse_int, parse_real, parse_value, seconds_to_ms};

/// One line's worth of exposition.
#[derive(Clone, Debug)]
pub enum Entry<'a> {
    /// `# HELP name text`, escapes decoded.
    Help {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The help text.
        help: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The declared type.
        metric_type: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The unit, possibly empty.
        unit: Cow<'a, str>,
    },
    /// A sample line.
    Sample(Sample<'a>),
    /// Any other `#` line (0.0.4, or lenient OpenMetrics): the text after `#`.
    Comment(&'a str),
    /// The OpenMetrics `# EOF` line.
    Eof,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Lines,
    AfterEof,
    Done,
}

/// Pull parser over an exposition: `Iterator<Item = Result<Entry, ParseError>>`.
#[derive(Clone)]
pub struct Parser<'a> {
    input: &'a [u8],
    /// The longest valid UTF-8 prefix of `input`.
    text: &'a str,
    pos: usize,
    /// Lines consumed so far.
    lines_read: u32,
    /// The line of the last entry returned.
    entry_line: u32,
    om: bool,
    strict: bool,
    state: State,
    /// The previous sample's (validated, bare) name: a shared prefix needs no re-check.
    prev_name: &'a [u8],
    /// The previous sample's label list, likewise.
    prev_labels: LabelCache<'a>,
}

/// Resolves `Format::Auto` from the content type and the text's last line.
pub(crate) fn resolve_format(input: &[u8], options: &ParseOptions<'_>) -> Format {
    match options.format {
        Format::Auto => {
            const OM: &[u8] = b"application/openmetrics-text";
            let ct = options.content_type.unwrap_or("").as_bytes();
            if ct.windows(OM.len()).any(|w| w.eq_ignore_ascii_case(OM)) || ends_with_eof(input) {
                Format::OpenMetrics
            } else {
                Format::Prometheus
            }
        }
        f => f,
    }
}

/// Whether the text, ignoring trailing whitespace, ends with a `# EOF` line.
fn ends_with_eof(input: &[u8]) -> bool {
    let trimmed = input.trim_ascii_end();
    trimmed
        .strip_suffix(b"# EOF")
        .is_some_and(|head| head.is_empty() || head.ends_with(b"\n"))
}

impl<'a> Parser<'a> {
    /// A parser for `input`; `Format::Auto` is resolved here.
    pub fn new(input: &'a [u8], options: &ParseOptions<'_>) -> Self {
        let format = resolve_format(input, options);
        let text = match std::str::from_utf8(input) {
            Ok(t) => t,
            Err(e) => input
                .get(..e.valid_up_to())
                .and_then(|p| std::str::from_utf8(p).ok())
                .unwrap_or(""),
        };
        Parser {
            input,
            text,
            pos: 0,
            lines_read: 0,
            entry_line: 0,
            om: format == Format::OpenMetrics,
            strict: options.strict,
            state: State::Lines,
            prev_name: &[],
            prev_labels: LabelCache::default(),
        }
    }

    /// The resolved format (never `Auto`).
    pub fn format(&self) -> Format {
        if self.om {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// Whether strict checking is on.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The 1-based line of the entry returned last.
    pub fn line(&self) -> u32 {
        self.entry_line
    }

    /// The next line's number, for errors found after the last line.
    pub(crate) fn next_line(&self) -> u32 {
        self.lines_read.saturating_add(1)
    }

    fn fail(&mut self, e: ParseError) -> Option<Result<Entry<'a>, ParseError>> {
        self.state = State::Done;
        Some(Err(e))
    }

    fn om_strict(&self) -> bool {
        self.om && self.strict
    }

    /// Label syntax for this dialect and mode.
    fn syntax(&self) -> LabelSyntax {
        let loose = !self.om_strict();
        LabelSyntax {
            ws: loose,
            trailing_comma: loose,
            quoted_names: loose,
            strict_escapes: self.strict && !self.om,
        }
    }

    /// Skips a token separator: exactly one space in strict OpenMetrics, else blanks/tabs.
    #[inline(always)]
    fn sep(&self, c: &mut Cursor<'a>) -> usize {
        if self.om_strict() {
            usize::from(c.eat(b' '))
        } else {
            c.skip_ws()
        }
    }

    /// Parses one sample line; the cursor starts at the name or `{`.
    #[inline]
    fn sample(&mut self, c: &mut Cursor<'a>) -> Result<Sample<'a>, ParseError> {
        let name_at = c.pos;
        let known = common_prefix(c.rest(), self.prev_name);
        let (ns, ne) = c.metric_name_after(known);
        self.prev_name = c.bytes.get(ns..ne).unwrap_or(&[]);
        let mut name = (ns < ne).then(|| Cow::Borrowed(c.slice(ns, ne)));
        let mut labels = Labels::default();
        let mut braces = false;
        let before = c.pos;
        if !self.om_strict() && name.is_some() {
            c.skip_ws();
        }
        if c.peek() == Some(b'{') {
            let syn = self.syntax();
            let (l, quoted) = parse_labels(c, syn, true, Some(&mut self.prev_labels))?;
            if let Some((s, e, esc)) = quoted {
                if name.is_some() {
                    return Err(c.err_at(ErrorKind::DuplicateMetricName, s - 1));
                }
                name = Some(unescape(c.slice(s, e), esc));
            }
            labels = l;
            braces = true;
        } else {
            c.pos = before;
        }
        let Some(name) = name else {
            return Err(c.err_at(ErrorKind::ExpectedMetricName, name_at));
        };
        // 0.0.4 takes a value right after `}` (`a{b="c"}-Inf`): both Go parsers
        // do (expfmt skips zero or more blanks there; textparse's lexer is in its
        // value state after `}`). OpenMetrics wants the space.
        if self.sep(c) == 0 && (!braces || self.om) {
            let kind = if c.at_end() || braces {
                ErrorKind::MissingValue
            } else {
                ErrorKind::ExpectedSpaceAfterName
            };
            return Err(c.err(kind));
        }
        let value = self.number(c, ErrorKind::MissingValue)?;
        let mut sample = Sample {
            name,
            labels,
            value,
            timestamp_ms: None,
            exemplar: None,
        };
        if c.at_end() {
            return Ok(sample);
        }
        if !self.after_token(c)? {
            return Ok(sample);
        }
        if c.peek() != Some(b'#') {
            sample.timestamp_ms = Some(self.timestamp(c)?);
            if c.at_end() || !self.after_token(c)? {
                return Ok(sample);
            }
            if c.peek() != Some(b'#') {
                return Err(c.err(ErrorKind::UnexpectedText));
            }
        }
        if self.strict && !self.om {
            return Err(c.err(ErrorKind::UnexpectedText));
        }
        sample.exemplar = Some(self.exemplar(c)?);
        Ok(sample)
    }

    /// After a token that stopped at whitespace: skips the separator. `Ok(true)` if
    /// more text follows; trailing whitespace is an error in strict OpenMetrics.
    #[inline(always)]
    fn after_token(&self, c: &mut Cursor<'a>) -> Result<bool, ParseError> {
        let at = c.pos;
        self.sep(c);
        if c.at_end() {
            if self.om_strict() {
                return Err(c.err_at(ErrorKind::UnexpectedWhitespace, at));
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// Takes a whitespace-delimited number token.
    #[inline(always)]
    fn number(&self, c: &mut Cursor<'a>, missing: ErrorKind) -> Result<f64, ParseError> {
        let (s, e) = c.token(self.om_strict());
        if s == e {
            let kind = if c.at_end() {
                missing
            } else {
                ErrorKind::UnexpectedWhitespace
            };
            return Err(c.err(kind));
        }
        parse_value(c.bytes.get(s..e).unwrap_or(&[]))
            .ok_or_else(|| c.err_at(ErrorKind::InvalidValue, s))
    }

    /// A sample timestamp: float seconds (OpenMetrics) or integer milliseconds (0.0.4).
    fn timestamp(&self, c: &mut Cursor<'a>) -> Result<i64, ParseError> {
        let (s, e) = c.token(self.om_strict());
        let tok = c.bytes.get(s..e).unwrap_or(&[]);
        if s == e {
            return Err(c.err(ErrorKind::UnexpectedWhitespace));
        }
        if self.om {
            let secs = parse_real(tok).ok_or_else(|| c.err_at(ErrorKind::InvalidTimestamp, s))?;
            seconds_to_ms(secs).ok_or_else(|| c.err_at(ErrorKind::TimestampOutOfRange, s))
        } else {
            parse_int(tok).map_err(|overflow| {
                let kind = if overflow {
                    ErrorKind::TimestampOutOfRange
                } else {
                    ErrorKind::InvalidTimestamp
                };
                c.err_at(kind, s)
            })
        }
    }

    /// `# {labels} value [timestamp]`, cursor on `#`.
    #[cold]
    fn exemplar(&self, c: &mut Cursor<'a>) -> Result<Exemplar<'a>, ParseError> {
        let hash = c.pos;
        c.pos += 1;
        if self.sep(c) == 0 || c.peek() != Some(b'{') {
            return Err(c.err_at(ErrorKind::InvalidExemplar, hash));
        }
        let (labels, _) = parse_labels(c, self.syntax(), false, None)?;
        if self.strict {
            let chars: usize = labels
                .iter()
                .map(|(n, v)| n.chars().count() + v.chars().count())
                .sum();
            if chars > 128 {
                return Err(c.err_at(ErrorKind::ExemplarTooLong, hash));
            }
        }
        if self.sep(c) == 0 || c.at_end() {
            return Err(c.err_at(ErrorKind::InvalidExemplar, hash));
        }
        let value = self.number(c, ErrorKind::InvalidExemplar)?;
        let mut ex = Exemplar {
            labels,
            value,
            timestamp_ms: None,
        };
        if c.at_end() || !self.after_token(c)? {
            return Ok(ex);
        }
        let (s, e) = c.token(self.om_strict());
        if s == e {
            return Err(c.err(ErrorKind::UnexpectedWhitespace));
        }
        let tok = c.bytes.get(s..e).unwrap_or(&[]);
        let secs = parse_real(tok).ok_or_else(|| c.err_at(ErrorKind::InvalidTimestamp, s))?;
        ex.timestamp_ms =
            Some(seconds_to_ms(secs).ok_or_else(|| c.err_at(ErrorKind::TimestampOutOfRange, s))?);
        if !c.at_end() && self.after_token(c)? {
            return Err(c.err(ErrorKind::UnexpectedText));
        }
        Ok(ex)
    }

    /// A `#` line, cursor on `#`. `Ok(None)` for lines to skip.
    fn comment(&mut self, c: &mut Cursor<'a>) -> Result<Option<Entry<'a>>, ParseError> {
        let hash = c.pos;
        c.pos += 1;
        let after_hash = c.pos;
        let n = if self.om_strict() {
            usize::from(c.eat(b' '))
        } else {
            c.skip_ws()
        };
        let rest = c.rest();
        let keyword = |kw: &[u8]| {
            rest.strip_prefix(kw)
                .is_some_and(|t| matches!(t.first(), None | Some(b' ' | b'\t')))
        };
        if self.om && n > 0 && rest.starts_with(b"EOF") {
            let tail = rest.get(3..).unwrap_or(&[]);
            if tail.is_empty() || (!self.strict && tail.trim_ascii().is_empty()) {
                self.state = State::AfterEof;
                return Ok(Some(Entry::Eof));
            }
        }
        let kind = if n == 0 {
            None
        } else if keyword(b"HELP") {
            Some(0)
        } else if keyword(b"TYPE") {
            Some(1)
        } else if self.om && keyword(b"UNIT") {
            Some(2)
        } else {
            None
        };
        let Some(kind) = kind else {
            if self.om_strict() {
                return Err(c.err_at(ErrorKind::InvalidComment, hash));
            }
            return Ok(Some(Entry::Comment(c.slice(after_hash, c.end))));
        };
        c.pos += 4;
        if self.sep(c) == 0 {
            return Err(c.err(ErrorKind::ExpectedMetricName));
        }
        let name = if c.peek() == Some(b'"') {
            if self.om_strict() {
                return Err(c.err(ErrorKind::QuotedNameNotAllowed));
            }
            let (s, e, esc) = quoted(c, self.syntax())?;
            if s == e {
                return Err(c.err_at(ErrorKind::EmptyName, s - 1));
            }
            unescape(c.slice(s, e), esc)
        } else {
            let (s, e) = c.metric_name();
            if s == e {
                return Err(c.err(ErrorKind::ExpectedMetricName));
            }
            Cow::Borrowed(c.slice(s, e))
        };
        let expected = match kind {
            0 => ErrorKind::ExpectedHelpText,
            1 => ErrorKind::ExpectedType,
            _ => ErrorKind::ExpectedUnit,
        };
        // The separator after the name: one space in OpenMetrics, blanks in 0.0.4.
        let had_sep = if self.om {
            c.eat(b' ') || (!self.strict && c.eat(b'\t'))
        } else {
            c.skip_ws() > 0
        };
        // `# HELP name` with no text is fine except in strict OpenMetrics.
        let bare_help = kind == 0 && c.at_end() && !self.om_strict();
        if !had_sep && !bare_help {
            return Err(c.err(expected));
        }
        let text = c.slice(c.pos, c.end);
        if kind == 0 && self.strict && !self.om {
            check_help_escapes(c)?;
        }
        Ok(Some(match kind {
            0 => Entry::Help {
                name,
                help: unescape_help(text, self.om),
            },
            1 => {
                let word = if self.strict && self.om {
                    text
                } else {
                    text.trim_ascii_end()
                };
                if word.is_empty() {
                    return Err(c.err(ErrorKind::ExpectedType));
                }
                let metric_type = self
                    .metric_type(word)
                    .ok_or_else(|| c.err(ErrorKind::InvalidType))?;
                Entry::Type { name, metric_type }
            }
            _ => {
                let unit = if self.strict {
                    text
                } else {
                    text.trim_ascii_end()
                };
                Entry::Unit {
                    name,
                    unit: Cow::Borrowed(unit),
                }
            }
        }))
    }

    /// The type word for this dialect. Lenient mode accepts both dialects'
    /// words in any case, and `gauge_histogram` (as Go's `expfmt` does).
    fn metric_type(&self, word: &str) -> Option<MetricType> {
        const WORDS: [(&str, MetricType); 10] = [
            ("counter", MetricType::Counter),
            ("gauge", MetricType::Gauge),
            ("histogram", MetricType::Histogram),
            ("summary", MetricType::Summary),
            ("gaugehistogram", MetricType::GaugeHistogram),
            ("gauge_histogram", MetricType::GaugeHistogram),
            ("info", MetricType::Info),
            ("stateset", MetricType::StateSet),
            ("unknown", MetricType::Unknown),
            ("untyped", MetricType::Untyped),
        ];
        if !self.strict {
            return WORDS
                .iter()
                .find(|(w, _)| w.eq_ignore_ascii_case(word))
                .map(|&(_, t)| t);
        }
        let &(_, t) = WORDS
            .iter()
            .find(|(w, _)| *w == word && *w != "gauge_histogram")?;
        let om_only = matches!(
            t,
            MetricType::GaugeHistogram
                | MetricType::Info
                | MetricType::StateSet
                | MetricType::Unknown
        );
        match (self.om, t) {
            (true, MetricType::Untyped) => None,
            (false, _) if om_only => None,
            _ => Some(t),
        }
    }

    /// Handles the line after `# EOF`.
    fn after_eof(&mut self, start: usize, end: usize) -> Option<Result<Entry<'a>, ParseError>> {
        let line = self.input.get(start..end).unwrap_or(&[]);
        if !self.strict && line.trim_ascii().is_empty() {
            return None;
        }
        let e = ParseError {
            kind: ErrorKind::TextAfterEof,
            line: self.lines_read,
            column: 1,
        };
        self.fail(e)
    }
}

/// Strict 0.0.4 HELP text (the rest of the line at the cursor): a backslash
/// must be followed by `\\`, `n` or `"` (what `expfmt` accepts; the document
/// names the first two, and both Go parsers take the third).
fn check_help_escapes(c: &Cursor<'_>) -> Result<(), ParseError> {
    let text = c.rest();
    let mut i = 0;
    while let Some(at) = text.get(i..).and_then(|t| memchr::memchr(b'\\', t)) {
        if !matches!(text.get(i + at + 1), Some(b'\\' | b'n' | b'"')) {
            return Err(c.err_at(ErrorKind::InvalidEscape, c.pos + i + at));
        }
        i += at + 2;
    }
    Ok(())
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.state == State::Done {
                return None;
            }
            if self.pos >= self.input.len() {
                let eof_missing = self.om && self.strict && self.state != State::AfterEof;
                self.state = State::Done;
                if eof_missing {
                    let line = self.next_line();
                    return Some(Err(ParseError {
                        kind: ErrorKind::MissingEof,
                        line,
                        column: 1,
                    }));
                }
                return None;
            }
            let start = self.pos;
            let rest = self.input.get(start..).unwrap_or(&[]);
            let (end, has_nl) = match memchr::memchr(b'\n', rest) {
                Some(i) => (start + i, true),
                None => (self.input.len(), false),
            };
            self.pos = end + 1;
            self.lines_read = self.lines_read.saturating_add(1);
            let err = |kind, at: usize| ParseError {
                kind,
                line: self.lines_read,
                column: u32::try_from(at - start + 1).unwrap_or(u32::MAX),
            };
            if end > self.text.len() {
                return self.fail(err(ErrorKind::InvalidUtf8, self.text.len()));
            }
            if self.state == State::AfterEof {
                if let Some(r) = self.after_eof(start, end) {
                    return Some(r);
                }
                continue;
            }
            let mut stop = end;
            if end > start && self.input.get(end - 1) == Some(&b'\r') {
                if self.strict {
                    return self.fail(err(ErrorKind::CarriageReturn, end - 1));
                }
                stop -= 1;
            }
            if !has_nl && self.strict && !self.om {
                return self.fail(err(ErrorKind::MissingFinalNewline, end));
            }
            // The cursor sees the input only up to the line's end.
            let text = self.text.get(..stop).unwrap_or("");
            let mut c = Cursor {
                text,
                bytes: text.as_bytes(),
                pos: start,
                end: stop,
                line_start: start,
                line: self.lines_read,
            };
            self.entry_line = self.lines_read;
            let first = match c.peek() {
                Some(b' ' | b'\t') => {
                    if self.om_strict() {
                        return self.fail(c.err(ErrorKind::UnexpectedWhitespace));
                    }
                    c.skip_ws();
                    c.peek()
                }
                b => b,
            };
            let r = match first {
                None => {
                    if self.om_strict() {
                        return self.fail(c.err(ErrorKind::BlankLine));
                    }
                    continue;
                }
                Some(b'#') => match self.comment(&mut c) {
                    Ok(Some(e)) => Ok(e),
                    Ok(None) => continue,
                    Err(e) => Err(e),
                },
                Some(_) => self.sample(&mut c).map(Entry::Sample),
            };
            if r.is_err() {
                self.state = State::Done;
            }
            return Some(r);
        }
    }
}

impl std::iter::FusedIterator for Parser<'_> {}
