//! The compact form of a parse: flat lists of plain records whose strings are
//! spans into the input, for results that cross a boundary cheaply.
//!
//! Invariant: every [`Span`] of a [`Compact`] built from `input` reads, in
//! `input` followed by [`Compact::strings`], exactly the string the
//! [`Exposition`](crate::text::Exposition) of [`crate::text::parse`] holds in
//! the same place: a string borrowed from `input` points at its bytes there
//! (so it starts and ends on a character boundary), any other (escapes
//! decoded) is appended to `strings`, in the order family (name, help,
//! unit), then each of its samples (name, labels, exemplar labels). Families'
//! sample ranges follow each other in order, as do samples' label ranges; an
//! exemplar's labels come right after its sample's. [`parse`] builds the
//! records straight from the parser's samples (`direct`), never the
//! exposition's; `oracle::build` converts a parsed exposition, the slow
//! reference it must equal record for record, errors included.

#[cfg(test)]
mod differential;
mod direct;
#[cfg(any(test, feature = "oracle"))]
pub mod oracle;

use crate::text::{self, Format, Labels, MetricType, ParseError, ParseOptions};

/// `len` bytes from `offset` in the input followed by [`Compact::strings`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Byte offset; at or past the input's length it is in `strings`.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// One label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    /// Label name.
    pub name: Span,
    /// Label value, escapes decoded.
    pub value: Span,
}

/// An OpenMetrics exemplar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exemplar {
    /// First label in [`Compact::labels`].
    pub labels_start: u32,
    /// Number of labels.
    pub labels_len: u32,
    /// The exemplar's value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// One sample line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// The series name as written.
    pub name: Span,
    /// First label in [`Compact::labels`].
    pub labels_start: u32,
    /// Number of labels, in input order.
    pub labels_len: u32,
    /// The value.
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
    /// Index in [`Compact::exemplars`].
    pub exemplar: Option<u32>,
}

/// One family: metadata and a range of [`Compact::samples`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// The family name.
    pub name: Span,
    /// The declared type.
    pub metric_type: MetricType,
    /// `# HELP` text, escapes decoded.
    pub help: Option<Span>,
    /// `# UNIT`.
    pub unit: Option<Span>,
    /// First sample in [`Compact::samples`].
    pub samples_start: u32,
    /// Number of samples.
    pub samples_len: u32,
}

/// A parsed exposition in compact form.
#[derive(Clone, Debug, Default)]
pub struct Compact {
    /// Families in order of first appearance.
    pub families: Vec<Family>,
    /// Every family's samples, family after family.
    pub samples: Vec<Sample>,
    /// Every sample's and exemplar's labels.
    pub labels: Vec<Label>,
    /// Every exemplar, in sample order.
    pub exemplars: Vec<Exemplar>,
    /// Strings not in the input as written (escapes decoded), back to back.
    pub strings: String,
}

/// The input and its strings together pass `u32::MAX` bytes, which a span
/// cannot address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the input is too large for a compact result (4 GiB of text at most)")
    }
}

impl std::error::Error for TooLarge {}

/// Why [`parse`] gave no compact result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactError {
    /// The text does not parse: the same error [`crate::text::parse`] gives.
    Parse(ParseError),
    /// It parses, but a span or index does not fit in a `u32`.
    TooLarge(TooLarge),
}

impl std::fmt::Display for CompactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompactError::Parse(e) => e.fmt(f),
            CompactError::TooLarge(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CompactError {}

/// Parses `input` straight into the compact form; also returns the format
/// it used. The result equals `oracle::build` of [`crate::text::parse`]'s
/// exposition, but no exposition sample is ever built.
///
/// # Errors
/// [`CompactError::Parse`] with the error [`crate::text::parse`] gives (a
/// parse error wins over [`TooLarge`]); [`CompactError::TooLarge`] when an
/// offset or index would not fit in a `u32`.
pub fn parse(input: &[u8], options: &ParseOptions<'_>) -> Result<(Format, Compact), CompactError> {
    direct::parse(input, options)
}

/// Appends records to a [`Compact`], placing strings as the module's
/// invariant says; shared by the direct path and the oracle so both place
/// every string the same way.
pub(crate) struct Writer {
    /// Address of the input's first byte.
    base: usize,
    input_len: usize,
    pub(crate) out: Compact,
}

impl Writer {
    /// An empty writer for `input` with room for `samples`, `labels` records.
    pub(crate) fn new(input: &[u8], samples: usize, labels: usize) -> Writer {
        Writer {
            base: input.as_ptr() as usize,
            input_len: input.len(),
            out: Compact {
                families: Vec::new(),
                samples: Vec::with_capacity(samples),
                labels: Vec::with_capacity(labels),
                exemplars: Vec::new(),
                strings: String::new(),
            },
        }
    }

    #[inline]
    pub(crate) fn index(&self, i: usize) -> Result<u32, TooLarge> {
        u32::try_from(i).map_err(|_| TooLarge)
    }

    /// Where `s` is: in the input if it lies there, else appended to `strings`.
    #[inline]
    pub(crate) fn span(&mut self, s: &str) -> Result<Span, TooLarge> {
        let len = self.index(s.len())?;
        let at = (s.as_ptr() as usize).wrapping_sub(self.base);
        if at <= self.input_len && s.len() <= self.input_len - at {
            return Ok(Span {
                offset: self.index(at)?,
                len,
            });
        }
        let offset = self.index(self.input_len + self.out.strings.len())?;
        self.index(self.input_len + self.out.strings.len() + s.len())?;
        self.out.strings.push_str(s);
        Ok(Span { offset, len })
    }

    /// Appends a label set; returns its range in `labels`.
    #[inline]
    fn labels(&mut self, labels: &Labels<'_>) -> Result<(u32, u32), TooLarge> {
        let start = self.index(self.out.labels.len())?;
        for (name, value) in labels.iter() {
            let name = self.span(&name)?;
            let value = self.span(&value)?;
            self.out.labels.push(Label { name, value });
        }
        Ok((start, self.index(labels.len())?))
    }

    /// The family's name, help and unit spans, in that order.
    pub(crate) fn family_strings(
        &mut self,
        f: &text::Family<'_>,
    ) -> Result<(Span, Option<Span>, Option<Span>), TooLarge> {
        let name = self.span(&f.name)?;
        let help = f.help.as_deref().map(|h| self.span(h)).transpose()?;
        let unit = f.unit.as_deref().map(|u| self.span(u)).transpose()?;
        Ok((name, help, unit))
    }

    /// Appends sample `s`: its name, labels, and exemplar (labels after the sample's).
    #[inline]
    pub(crate) fn sample(&mut self, s: &text::Sample<'_>) -> Result<(), TooLarge> {
        let name = self.span(&s.name)?;
        let (labels_start, labels_len) = self.labels(&s.labels)?;
        let exemplar = match &s.exemplar {
            None => None,
            Some(e) => {
                let (labels_start, labels_len) = self.labels(&e.labels)?;
                let index = self.index(self.out.exemplars.len())?;
                self.out.exemplars.push(Exemplar {
                    labels_start,
                    labels_len,
                    value: e.value,
                    timestamp_ms: e.timestamp_ms,
                });
                Some(index)
            }
        };
        self.out.samples.push(Sample {
            name,
            labels_start,
            labels_len,
            value: s.value,
            timestamp_ms: s.timestamp_ms,
            exemplar,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::ParseOptions;

    fn read<'a>(input: &'a str, c: &'a Compact, s: Span) -> &'a str {
        let (at, len) = (s.offset as usize, s.len as usize);
        match at.checked_sub(input.len()) {
            None => &input[at..at + len],
            Some(at) => &c.strings[at..at + len],
        }
    }

    #[test]
    fn spans_point_into_the_input_and_escapes_into_strings() {
        let input = "# HELP a Help with \\\\ backslash.\n# TYPE a counter\n\
                     a_total{x=\"plain\",y=\"esc\\\"aped\"} 1 5\nb 2\n";
        let (format, c) = parse(input.as_bytes(), &ParseOptions::default()).expect("parses");
        assert_eq!(format, Format::Prometheus);
        assert_eq!(c.families.len(), 2);
        let a = c.families[0];
        assert_eq!(read(input, &c, a.name), "a");
        assert_eq!(
            a.help.map(|h| read(input, &c, h)),
            Some("Help with \\ backslash.")
        );
        assert_eq!((a.samples_start, a.samples_len), (0, 1));
        let s = c.samples[0];
        assert_eq!(read(input, &c, s.name), "a_total");
        assert!(s.name.offset < input.len() as u32);
        assert_eq!((s.labels_start, s.labels_len), (0, 2));
        assert_eq!(read(input, &c, c.labels[0].value), "plain");
        assert!(c.labels[0].value.offset < input.len() as u32);
        assert_eq!(read(input, &c, c.labels[1].value), "esc\"aped");
        assert!(c.labels[1].value.offset >= input.len() as u32);
        assert_eq!(s.timestamp_ms, Some(5));
        let b = c.families[1];
        assert_eq!((b.samples_start, b.samples_len), (1, 1));
        assert_eq!(read(input, &c, c.samples[1].name), "b");
    }

    #[test]
    fn exemplar_labels_follow_their_samples() {
        let input = "# TYPE h histogram\nh_bucket{le=\"1\"} 2 # {trace_id=\"t\"} 0.5 1.5\n\
                     h_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n# EOF\n";
        let (format, c) = parse(input.as_bytes(), &ParseOptions::default()).expect("parses");
        assert_eq!(format, Format::OpenMetrics);
        let e = c.exemplars[c.samples[0].exemplar.expect("exemplar") as usize];
        assert_eq!((e.labels_start, e.labels_len), (1, 1));
        assert_eq!(read(input, &c, c.labels[1].name), "trace_id");
        assert_eq!(e.timestamp_ms, Some(1500));
        assert_eq!(c.samples[1].labels_start, 2);
    }
}
