//! A cursor over one line of the input, and the byte classes of the grammar.
//!
//! Invariant: never allocates and never panics; every position it hands out is
//! a byte offset into the whole input at which the `&str` view may be sliced
//! (spans start and end next to ASCII delimiters).

use std::borrow::Cow;

use super::error::{ErrorKind, ParseError};

/// Byte class bits.
const NAME_START: u8 = 1;
const NAME_CONT: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CONT: u8 = 8;

/// `[a-zA-Z_:]` starts a metric name, `[a-zA-Z0-9_:]` continues it; label names lack `:`.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alpha = c.is_ascii_alphabetic() || c == b'_';
        if alpha || c == b':' {
            t[b] |= NAME_START | NAME_CONT;
        }
        if c.is_ascii_digit() {
            t[b] |= NAME_CONT | LABEL_CONT;
        }
        if alpha {
            t[b] |= LABEL_START | LABEL_CONT;
        }
        b += 1;
    }
    t
};

/// A position inside one line. `text`/`bytes` end where the line's content
/// ends (before the line feed and a stripped `\r`), so one bounds check per
/// byte suffices; `end` is their length.
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    /// The input up to the end of this line (valid UTF-8).
    pub text: &'a str,
    /// `text` as bytes.
    pub bytes: &'a [u8],
    /// Current offset.
    pub pos: usize,
    /// End of the line's content.
    pub end: usize,
    /// Offset of the line's first byte (for columns).
    pub line_start: usize,
    /// 1-based line number.
    pub line: u32,
}

impl<'a> Cursor<'a> {
    /// A cursor over all of `text` (one line or less), at `pos`; used to re-read
    /// spans that were validated as part of a line.
    #[inline(always)]
    pub fn over(text: &'a str, pos: usize) -> Self {
        Cursor {
            text,
            bytes: text.as_bytes(),
            pos,
            end: text.len(),
            line_start: 0,
            line: 0,
        }
    }

    /// The byte at the cursor, or `None` at the end of the line.
    #[inline(always)]
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Whether the line is exhausted.
    #[inline(always)]
    pub fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    /// Consumes `b` if it is next.
    #[inline(always)]
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips blanks and tabs; returns how many.
    #[inline(always)]
    pub fn skip_ws(&mut self) -> usize {
        let start = self.pos;
        while let Some(b' ' | b'\t') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// An error at the cursor.
    #[cold]
    pub fn err(&self, kind: ErrorKind) -> ParseError {
        self.err_at(kind, self.pos)
    }

    /// An error at byte offset `at` of this line.
    #[cold]
    pub fn err_at(&self, kind: ErrorKind, at: usize) -> ParseError {
        let col = at.saturating_sub(self.line_start).saturating_add(1);
        ParseError {
            kind,
            line: self.line,
            column: u32::try_from(col).unwrap_or(u32::MAX),
        }
    }

    /// The text of `start..end`; these offsets always sit next to ASCII delimiters.
    #[inline(always)]
    pub fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    /// The rest of the line.
    #[inline(always)]
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..self.end).unwrap_or(&[])
    }

    /// Takes a bare metric name `[a-zA-Z_:][a-zA-Z0-9_:]*`; empty if none.
    #[inline(always)]
    pub fn metric_name(&mut self) -> (usize, usize) {
        self.take_class(NAME_START, NAME_CONT)
    }

    /// Takes a bare label name `[a-zA-Z_][a-zA-Z0-9_]*`; empty if none.
    #[inline(always)]
    pub fn label_name(&mut self) -> (usize, usize) {
        self.take_class(LABEL_START, LABEL_CONT)
    }

    /// Like [`Cursor::metric_name`], but the first `known` bytes are already
    /// known to be name characters (a prefix shared with a validated name).
    #[inline(always)]
    pub fn metric_name_after(&mut self, known: usize) -> (usize, usize) {
        if known == 0 {
            return self.metric_name();
        }
        let start = self.pos;
        let tail = self.bytes.get(start + known..self.end).unwrap_or(&[]);
        let n = tail
            .iter()
            .position(|&b| CLASS[b as usize] & NAME_CONT == 0)
            .unwrap_or(tail.len());
        self.pos = start + known + n;
        (start, self.pos)
    }

    #[inline(always)]
    fn take_class(&mut self, first: u8, rest: u8) -> (usize, usize) {
        let start = self.pos;
        match self.peek() {
            Some(b) if CLASS[b as usize] & first != 0 => {}
            _ => return (start, start),
        }
        let tail = self.bytes.get(start + 1..self.end).unwrap_or(&[]);
        let n = tail
            .iter()
            .position(|&b| CLASS[b as usize] & rest == 0)
            .unwrap_or(tail.len());
        self.pos = start + 1 + n;
        (start, self.pos)
    }

    /// At an opening `"`: takes the quoted string, returning the content span and
    /// whether it has a backslash. The cursor ends after the closing quote.
    #[inline(always)]
    pub fn quoted(&mut self) -> Result<(usize, usize, bool), ParseError> {
        let open = self.pos;
        let start = open + 1;
        let mut at = start;
        let mut escaped = false;
        while let Some(i) = self
            .bytes
            .get(at..self.end)
            .and_then(find_quote_or_backslash)
        {
            at += i;
            if self.bytes.get(at) == Some(&b'"') {
                self.pos = at + 1;
                return Ok((start, at, escaped));
            }
            // A backslash: the next byte is escaped, whatever it is.
            escaped = true;
            at += 2;
        }
        self.pos = self.end;
        Err(self.err_at(ErrorKind::UnterminatedString, open))
    }

    /// Takes bytes up to the next blank or tab (or only blank when `space_only`).
    #[inline(always)]
    pub fn token(&mut self, space_only: bool) -> (usize, usize) {
        let start = self.pos;
        let rest = self.bytes.get(start..self.end).unwrap_or(&[]);
        let n = if space_only {
            rest.iter().position(|&b| b == b' ')
        } else {
            rest.iter().position(|&b| b == b' ' || b == b'\t')
        };
        self.pos = start + n.unwrap_or(rest.len());
        (start, self.pos)
    }
}

/// An eight-byte chunk as a little-endian word (chunks come from `chunks_exact(8)`).
#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]))
}

/// Length of the longest common prefix of `a` and `b`, eight bytes at a time.
#[inline(always)]
pub(crate) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    // An index loop: zipping two `chunks_exact` leaves a call to `Zip::new`
    // (a division per call) in the hot path.
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut i = 0;
    while i + 8 <= n {
        let diff = word(&a[i..i + 8]) ^ word(&b[i..i + 8]);
        if diff != 0 {
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// `a == b`, eight bytes at a time: inlined, where `==` calls `memcmp`
/// (a byte loop on wasm32) for every short name or label text.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && common_prefix(a, b) == a.len()
}

/// Every byte of a `u64` set to 0x01.
const LO: u64 = 0x0101_0101_0101_0101;

/// High bit set in each byte of `x` equal to `b`; exact for the lowest such byte.
#[inline(always)]
fn bytes_equal(x: u64, b: u8) -> u64 {
    let y = x ^ (LO * u64::from(b));
    y.wrapping_sub(LO) & !y & (LO << 7)
}

/// Index of the first `"` or `\\` in `s`, eight bytes at a time (SWAR, so it
/// is as fast on wasm32 as natively).
#[inline(always)]
pub(crate) fn find_quote_or_backslash(s: &[u8]) -> Option<usize> {
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let x = word(chunk);
        let m = bytes_equal(x, b'"') | bytes_equal(x, b'\\');
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    let tail = chunks.remainder();
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|i| base + i)
}

/// Decodes a label value or quoted name: `\\`, `\"` and `\n`; any other
/// backslash stays as written. Borrowed unless an escape changed something.
pub(crate) fn unescape(s: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(s);
    }
    decode(s, true)
}

/// Decodes HELP text: `\\` and `\n`, plus `\"` when `quote` (OpenMetrics).
pub(crate) fn unescape_help(s: &str, quote: bool) -> Cow<'_, str> {
    if !s.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(s);
    }
    decode(s, quote)
}

fn decode(s: &str, quote: bool) -> Cow<'_, str> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            Some('"') if quote => {
                out.push('"');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"b\"a\nr"#, true), "b\"a\nr");
        assert_eq!(unescape(r"b\\a\z", true), "b\\a\\z");
        assert_eq!(unescape(r"\\\n", true), "\\\n");
        assert!(matches!(unescape("plain", false), Cow::Borrowed(_)));
        assert_eq!(unescape_help(r#"he\n\\l\tp \""#, false), "he\n\\l\\tp \\\"");
        assert_eq!(unescape_help(r#"\""#, true), "\"");
        assert_eq!(unescape_help("tail\\", true), "tail\\");
    }

    #[test]
    fn swar_finds_first() {
        let hay = b"0123456789abcdef0123456789abcdef";
        for len in 0..hay.len() {
            for at in 0..len {
                for q in [b'"', b'\\'] {
                    let mut h = hay[..len].to_vec();
                    h[at] = q;
                    if at + 1 < len {
                        h[len - 1] = b'"';
                    }
                    assert_eq!(find_quote_or_backslash(&h), Some(at), "{len} {at}");
                }
            }
            assert_eq!(find_quote_or_backslash(&hay[..len]), None);
        }
        assert_eq!(find_quote_or_backslash("é\"".as_bytes()), Some(2));
    }

    #[test]
    fn prefixes() {
        let a = b"vllm:e2e_request_latency_seconds_bucket{";
        for n in 0..a.len() {
            let mut b = a.to_vec();
            b[n] = b'#';
            assert_eq!(common_prefix(a, &b), n);
            assert_eq!(common_prefix(&a[..n], a), n);
        }
        assert_eq!(common_prefix(a, a), a.len());
    }
}
