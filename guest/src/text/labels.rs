//! Label sets: validated once while parsing, kept as a raw span, decoded lazily.
//!
//! Invariant: a [`Labels`] span was accepted by [`parse_labels`], so walking it
//! again ([`LabelIter`]) cannot fail; values are `Borrowed` unless they contain
//! a backslash escape. Parsing allocates only for label sets with more than
//! eight names or with escaped quoted names (to check for duplicates).

use std::borrow::Cow;

use super::error::{ErrorKind, ParseError};
use super::lexer::{Cursor, common_prefix, find_quote_or_backslash, same_bytes, unescape};

/// A validated label set, e.g. the inside of `{model_name="m",engine="0"}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Labels<'a> {
    /// From the first label to just before `}`; any quoted metric name excluded.
    raw: &'a str,
    /// Number of labels.
    len: usize,
}

impl<'a> Labels<'a> {
    /// Iterates `(name, value)` pairs in written order, escapes decoded.
    pub fn iter(&self) -> LabelIter<'a> {
        LabelIter {
            text: self.raw,
            pos: 0,
            left: u32::try_from(self.len).unwrap_or(u32::MAX),
        }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        if let Some(plain) = self.find_plain(name) {
            return plain.map(|(value, _, _)| Cow::Borrowed(value));
        }
        self.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The plain pair ([`plain_pair`]) starting at byte `pos` of
    /// [`Labels::as_raw_str`], as name, value and where the next pair starts.
    /// Only meaningful at a pair's start: `0`, or the end of plain pairs read
    /// before.
    #[inline]
    pub(crate) fn plain_at(&self, pos: usize) -> Option<(&'a str, &'a str, usize)> {
        plain_pair(self.raw, pos)
    }

    /// The value of label `name` and the raw text before and after its
    /// pair (the pair's trailing comma included), when every pair up to it
    /// is plain ([`plain_pair`]): `Some(None)` when the list is plain and has
    /// no such label, `None` when a pair is not plain (ask [`Labels::get`]).
    /// Two label lists with equal text around `name`'s pair have the same
    /// other labels, in the same order.
    #[inline]
    pub(crate) fn find_plain(&self, name: &str) -> Option<Option<(&'a str, &'a str, &'a str)>> {
        let mut pos = 0;
        while pos < self.raw.len() {
            let (n, value, next) = plain_pair(self.raw, pos)?;
            if same_bytes(n.as_bytes(), name.as_bytes()) {
                return Some(Some((value, &self.raw[..pos], &self.raw[next..])));
            }
            pos = next;
        }
        Some(None)
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw text of the label list as written, without the braces or a
    /// leading quoted metric name, e.g. `model_name="m",engine="0"`. A quoted
    /// metric name that stands after a label (lenient 0.0.4) stays in the text;
    /// [`Labels::iter`] skips it.
    pub fn as_raw_str(&self) -> &'a str {
        self.raw
    }
}

impl<'a> IntoIterator for Labels<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);
    type IntoIter = LabelIter<'a>;
    fn into_iter(self) -> LabelIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Labels<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);
    type IntoIter = LabelIter<'a>;
    fn into_iter(self) -> LabelIter<'a> {
        self.iter()
    }
}

/// The pair at `pos` of a validated label span when it is plain: a bare
/// name, `=` and a quoted value without a backslash, right after one another,
/// then a comma or the end of the span. Returns the name, the value (both
/// exactly what [`LabelIter`] decodes them to) and where the next pair
/// starts; `None` for anything else (blanks, escapes, quoted names).
#[inline]
fn plain_pair(raw: &str, pos: usize) -> Option<(&str, &str, usize)> {
    let b = raw.as_bytes();
    let name_len = b
        .get(pos..)?
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))?;
    let eq = pos + name_len;
    if name_len == 0 || b.get(eq) != Some(&b'=') || b.get(eq + 1) != Some(&b'"') {
        return None;
    }
    let start = eq + 2;
    let close = start + find_quote_or_backslash(b.get(start..)?)?;
    if b[close] != b'"' {
        return None;
    }
    let next = match b.get(close + 1) {
        None => close + 1,
        Some(b',') => close + 2,
        Some(_) => return None,
    };
    Some((&raw[pos..eq], &raw[start..close], next))
}

/// Iterator over a [`Labels`] span; yields `(name, value)`.
///
/// It walks the span with the same grammar functions ([`label_name`],
/// [`label_value`]) that validated it, under the most permissive
/// [`LabelSyntax`]: whatever a stricter syntax accepted reads the same way.
#[derive(Clone, Debug)]
pub struct LabelIter<'a> {
    text: &'a str,
    pos: usize,
    left: u32,
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut c = Cursor::over(self.text, self.pos);
        match next_pair(&mut c, LabelSyntax::ANY) {
            Ok((name, value)) => {
                self.pos = c.pos;
                Some((name, value))
            }
            // Unreachable for validated spans; stop rather than invent labels.
            Err(_) => {
                debug_assert!(false, "a validated label span failed to re-read");
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for LabelIter<'_> {}

/// Reads one `name="value"` of a list and what follows it up to the next
/// label (blanks and one comma), decoding both; the cursor is at the name.
#[inline]
fn next_pair<'a>(
    c: &mut Cursor<'a>,
    syn: LabelSyntax,
) -> Result<(Cow<'a, str>, Cow<'a, str>), ParseError> {
    let (ns, ne, nesc) = loop {
        let (ns, ne, nesc, was_quoted) = label_name(c, syn)?;
        if syn.ws {
            c.skip_ws();
        }
        if !(was_quoted && matches!(c.peek(), None | Some(b',' | b'}'))) {
            break (ns, ne, nesc);
        }
        // The quoted metric name between labels: not a label.
        if c.eat(b',') && syn.ws {
            c.skip_ws();
        }
    };
    let (vs, ve, vesc) = label_value(c, syn)?;
    if syn.ws {
        c.skip_ws();
    }
    if c.eat(b',') && syn.ws {
        c.skip_ws();
    }
    Ok((
        unescape(c.slice(ns, ne), nesc),
        unescape(c.slice(vs, ve), vesc),
    ))
}

/// The label grammar's name token: a bare `[a-zA-Z_][a-zA-Z0-9_]*` or (when the
/// syntax allows) a quoted string. Returns the content span, whether it has
/// escapes, and whether it was quoted; the cursor ends after the token.
#[inline(always)]
fn label_name(
    c: &mut Cursor<'_>,
    syn: LabelSyntax,
) -> Result<(usize, usize, bool, bool), ParseError> {
    if c.peek() == Some(b'"') {
        if !syn.quoted_names {
            return Err(c.err(ErrorKind::QuotedNameNotAllowed));
        }
        let (s, e, esc) = quoted(c, syn)?;
        if s == e {
            // `""`: neither a metric nor a label may have an empty name.
            return Err(c.err_at(ErrorKind::EmptyName, s - 1));
        }
        return Ok((s, e, esc, true));
    }
    let (s, e) = c.label_name();
    if s == e {
        return Err(c.err(ErrorKind::ExpectedLabelName));
    }
    Ok((s, e, false, false))
}

/// The label grammar after a name (and its trailing blanks): `=`, blanks,
/// and the quoted value, whose content span and escape flag it returns.
#[inline(always)]
fn label_value(c: &mut Cursor<'_>, syn: LabelSyntax) -> Result<(usize, usize, bool), ParseError> {
    if !c.eat(b'=') {
        return Err(c.err(ErrorKind::ExpectedEquals));
    }
    if syn.ws {
        c.skip_ws();
    }
    if c.peek() != Some(b'"') {
        return Err(c.err(ErrorKind::ExpectedLabelValue));
    }
    quoted(c, syn)
}

/// A quoted string under `syn`: with `strict_escapes`, only `\\`, `\"` and
/// `\n` may follow a backslash (Prometheus 0.0.4's rule).
#[inline(always)]
pub(crate) fn quoted(
    c: &mut Cursor<'_>,
    syn: LabelSyntax,
) -> Result<(usize, usize, bool), ParseError> {
    let (s, e, esc) = c.quoted()?;
    if esc && syn.strict_escapes {
        let body = c.bytes.get(s..e).unwrap_or(&[]);
        let mut i = 0;
        while let Some(at) = body.get(i..).and_then(|b| memchr::memchr(b'\\', b)) {
            let next = body.get(i + at + 1).copied();
            if !matches!(next, Some(b'\\' | b'"' | b'n')) {
                return Err(c.err_at(ErrorKind::InvalidEscape, s + i + at));
            }
            i += at + 2;
        }
    }
    Ok((s, e, esc))
}

/// What a dialect allows inside braces.
#[derive(Clone, Copy)]
pub(crate) struct LabelSyntax {
    /// Blanks and tabs around tokens (0.0.4).
    pub ws: bool,
    /// `,` right before `}` (0.0.4).
    pub trailing_comma: bool,
    /// Prometheus 3 quoted UTF-8 names.
    pub quoted_names: bool,
    /// Only `\\`, `\"` and `\n` after a backslash (strict 0.0.4); otherwise
    /// any other escape is kept as written, as Prometheus' scraper does.
    pub strict_escapes: bool,
}

impl LabelSyntax {
    /// Everything any dialect allows: what [`LabelIter`] reads validated spans with.
    pub const ANY: LabelSyntax = LabelSyntax {
        ws: true,
        trailing_comma: true,
        quoted_names: true,
        strict_escapes: false,
    };
}

/// The previous sample's label list, to skip re-validating a shared prefix:
/// expositions repeat `model_name="...",engine="0",` on line after line.
/// Parsing is a left-to-right state machine, so identical bytes from the same
/// starting state reach the same state; only whole labels are reused.
#[derive(Clone, Copy, Default)]
pub(crate) struct LabelCache<'a> {
    /// From the first label through `}`; empty when there is nothing to reuse.
    raw: &'a [u8],
    /// `next[k]`: offset (from `raw`) where label `k + 1` starts.
    next: [u32; 8],
    /// Label name spans, relative to `raw`.
    names: [(u32, u32); 8],
    /// Labels followed by a comma (valid entries of `next`).
    commas: u32,
    /// All labels.
    count: u32,
}

/// A quoted metric name found inside braces: content span and whether escaped.
pub(crate) type NameSpan = (usize, usize, bool);

/// Parses `{...}` with the cursor on `{`; leaves it after `}`. With `allow_name`,
/// a leading quoted string not followed by `=` is the metric name. With a
/// `cache`, a prefix shared with the previous label list is not re-parsed.
#[inline]
pub(crate) fn parse_labels<'a>(
    c: &mut Cursor<'a>,
    syn: LabelSyntax,
    allow_name: bool,
    cache: Option<&mut LabelCache<'a>>,
) -> Result<(Labels<'a>, Option<NameSpan>), ParseError> {
    let mut scratch = LabelCache::default();
    let reusable = cache.is_some();
    let cache = cache.unwrap_or(&mut scratch);
    let r = parse_into(c, syn, allow_name, cache, reusable);
    if r.is_err() {
        cache.raw = &[];
    }
    r
}

/// [`parse_labels`], with `cache`'s arrays as the working storage (offsets
/// relative to the first label).
#[inline(always)]
fn parse_into<'a>(
    c: &mut Cursor<'a>,
    syn: LabelSyntax,
    allow_name: bool,
    cache: &mut LabelCache<'a>,
    reusable: bool,
) -> Result<(Labels<'a>, Option<NameSpan>), ParseError> {
    let open = c.pos;
    c.pos += 1;
    if syn.ws {
        c.skip_ws();
    }
    let mut metric: Option<NameSpan> = None;
    let mut raw_start = c.pos;
    let mut count: usize = 0;
    let mut commas: usize = 0;
    // Set when the duplicate check needs decoded names (escapes, > 8 labels).
    let mut slow = false;
    if reusable && !cache.raw.is_empty() {
        let shared = common_prefix(c.rest(), cache.raw);
        if shared == cache.raw.len() {
            // The same label list through `}`: the same (valid) result.
            c.pos = raw_start + shared;
            let raw = c.slice(raw_start, c.pos - 1);
            return Ok((
                Labels {
                    raw,
                    len: cache.count as usize,
                },
                None,
            ));
        }
        // Strictly inside the shared prefix: the byte at a resume point must match
        // too, or a blank there would have been skipped by the full parse.
        let reuse = cache
            .next
            .iter()
            .take(cache.commas as usize)
            .take_while(|&&n| (n as usize) < shared)
            .count();
        if let Some(&resume) = reuse.checked_sub(1).and_then(|k| cache.next.get(k)) {
            count = reuse;
            commas = reuse;
            c.pos = raw_start + resume as usize;
        }
    }
    loop {
        if c.peek() == Some(b'}') {
            if (count > 0 || metric.is_some()) && !syn.trailing_comma {
                // Only reachable right after a comma.
                return Err(c.err(ErrorKind::TrailingComma));
            }
            break;
        }
        let (ns, ne, nesc, was_quoted) = label_name(c, syn)?;
        if syn.ws {
            c.skip_ws();
        }
        if was_quoted && allow_name && matches!(c.peek(), Some(b',' | b'}')) {
            // A quoted string without `=`: the metric name (Prometheus 3 allows it
            // anywhere in the braces). Before any label it is left out of the
            // span; later, the decoder skips it by the same rule.
            if metric.is_some() {
                return Err(c.err_at(ErrorKind::DuplicateMetricName, ns - 1));
            }
            metric = Some((ns, ne, nesc));
            if c.eat(b',') && syn.ws {
                c.skip_ws();
            }
            if count == 0 {
                raw_start = c.pos;
            }
            if c.peek() == Some(b'}') {
                break;
            }
            continue;
        }
        label_value(c, syn)?;
        let rel = (u32::try_from(ns - raw_start), u32::try_from(ne - raw_start));
        match (cache.names.get_mut(count), rel) {
            (Some(slot), (Ok(s), Ok(e))) => *slot = (s, e),
            _ => slow = true,
        }
        slow |= nesc;
        if !slow {
            let name = c.bytes.get(ns..ne);
            let at =
                |(s, e): (u32, u32)| c.bytes.get(raw_start + s as usize..raw_start + e as usize);
            if cache.names.iter().take(count).any(|&span| at(span) == name) {
                return Err(c.err_at(ErrorKind::DuplicateLabelName, ns));
            }
        }
        count += 1;
        if syn.ws {
            c.skip_ws();
        }
        match c.peek() {
            Some(b'}') => break,
            Some(b',') => {
                c.pos += 1;
                if syn.ws {
                    c.skip_ws();
                }
                match (cache.next.get_mut(commas), u32::try_from(c.pos - raw_start)) {
                    (Some(n), Ok(off)) => {
                        *n = off;
                        commas += 1;
                    }
                    _ => slow = true,
                }
            }
            _ => return Err(c.err(ErrorKind::ExpectedCommaOrBrace)),
        }
    }
    let raw = c.slice(raw_start, c.pos);
    c.pos += 1;
    cache.raw = &[];
    if metric.is_none() && !slow {
        cache.raw = c.bytes.get(raw_start..c.pos).unwrap_or(&[]);
        cache.commas = commas as u32;
        cache.count = count as u32;
    }
    let labels = Labels { raw, len: count };
    // The decoder walks the span with the grammar that just accepted it.
    debug_assert_eq!(
        labels.iter().count(),
        count,
        "label decoder disagrees: {raw:?}"
    );
    if slow && has_duplicate(&labels) {
        return Err(c.err_at(ErrorKind::DuplicateLabelName, open));
    }
    Ok((labels, metric))
}

/// Duplicate check by sorting decoded names: O(n log n) for huge label sets.
#[cold]
fn has_duplicate(labels: &Labels<'_>) -> bool {
    let mut names: Vec<Cow<'_, str>> = labels.iter().map(|(n, _)| n).collect();
    names.sort_unstable();
    names.windows(2).any(|w| w[0] == w[1])
}
