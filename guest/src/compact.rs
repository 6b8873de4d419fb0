//! The compact form of a parse: flat lists of plain records whose strings are
//! spans into the input, for results that cross a boundary cheaply.
//!
//! Invariant: every [`Span`] of a [`Compact`] built from `input` reads, in
//! `input` followed by [`Compact::strings`], exactly the string the
//! [`Exposition`] holds in the same place: a string borrowed from `input`
//! points at its bytes there (so it starts and ends on a character boundary),
//! any other (escapes decoded) is appended to `strings`. Families' sample
//! ranges follow each other in order, as do samples' label ranges; an
//! exemplar's labels come right after its sample's.

use crate::text::{Exposition, Format, Labels, MetricType};

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

/// The compact form of `exposition`, which [`crate::text::parse`] read from
/// `input`; also returns the format it used.
///
/// # Errors
/// [`TooLarge`] when an offset would not fit in a `u32`.
pub fn build(input: &[u8], exposition: &Exposition<'_>) -> Result<(Format, Compact), TooLarge> {
    let samples: usize = exposition.families.iter().map(|f| f.samples.len()).sum();
    let mut b = Builder {
        base: input.as_ptr() as usize,
        input_len: input.len(),
        out: Compact {
            families: Vec::with_capacity(exposition.families.len()),
            samples: Vec::with_capacity(samples),
            // Most samples of LLM servers' expositions carry a few labels.
            labels: Vec::with_capacity(samples.saturating_mul(4)),
            exemplars: Vec::new(),
            strings: String::new(),
        },
    };
    for f in &exposition.families {
        let samples_start = b.index(b.out.samples.len())?;
        let name = b.span(&f.name)?;
        let help = f.help.as_deref().map(|h| b.span(h)).transpose()?;
        let unit = f.unit.as_deref().map(|u| b.span(u)).transpose()?;
        for s in &f.samples {
            let name = b.span(&s.name)?;
            let (labels_start, labels_len) = b.labels(&s.labels)?;
            let exemplar = match &s.exemplar {
                None => None,
                Some(e) => {
                    let (labels_start, labels_len) = b.labels(&e.labels)?;
                    let index = b.index(b.out.exemplars.len())?;
                    b.out.exemplars.push(Exemplar {
                        labels_start,
                        labels_len,
                        value: e.value,
                        timestamp_ms: e.timestamp_ms,
                    });
                    Some(index)
                }
            };
            b.out.samples.push(Sample {
                name,
                labels_start,
                labels_len,
                value: s.value,
                timestamp_ms: s.timestamp_ms,
                exemplar,
            });
        }
        b.out.families.push(Family {
            name,
            metric_type: f.metric_type,
            help,
            unit,
            samples_start,
            samples_len: b.index(f.samples.len())?,
        });
    }
    Ok((exposition.format, b.out))
}

struct Builder {
    /// Address of the input's first byte.
    base: usize,
    input_len: usize,
    out: Compact,
}

impl Builder {
    fn index(&self, i: usize) -> Result<u32, TooLarge> {
        u32::try_from(i).map_err(|_| TooLarge)
    }

    /// Where `s` is: in the input if it lies there, else appended to `strings`.
    #[inline]
    fn span(&mut self, s: &str) -> Result<Span, TooLarge> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{self, ParseOptions};

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
        let options = ParseOptions::default();
        let exposition = text::parse(input.as_bytes(), &options).expect("parses");
        let (format, c) = build(input.as_bytes(), &exposition).expect("fits");
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
        let exposition = text::parse(input.as_bytes(), &ParseOptions::default()).expect("parses");
        let (format, c) = build(input.as_bytes(), &exposition).expect("fits");
        assert_eq!(format, Format::OpenMetrics);
        let e = c.exemplars[c.samples[0].exemplar.expect("exemplar") as usize];
        assert_eq!((e.labels_start, e.labels_len), (1, 1));
        assert_eq!(read(input, &c, c.labels[1].name), "trace_id");
        assert_eq!(e.timestamp_ms, Some(1500));
        assert_eq!(c.samples[1].labels_start, 2);
    }
}
