//! The compact form straight from the parser: a [`Sink`] that writes each
//! sample's records as the families builder hands it over, so the
//! exposition's families never hold a sample.
//!
//! Invariant: the result equals `super::oracle::build` of the same parse.
//! Samples arrive in input order, which is the oracle's (family after family)
//! unless a family reappeared (0.0.4 merges it into its first occurrence);
//! then, and when any sample string was appended to `strings` (whose order
//! interleaves family metadata known only at the end), [`rebuild`] lays the
//! records out again in the oracle's order. The common case (no merge, no
//! escapes in sample names or labels) writes every record once.

use super::{Compact, CompactError, Family, Label, Span, TooLarge, Writer};
use crate::text::{self, Format, ParseOptions, Parser, Sink};

/// Input bytes per sample at least, for the first reservation: vLLM's
/// expositions run about 128 bytes per sample line and 45 per label.
const BYTES_PER_SAMPLE: usize = 96;
/// Input bytes per label at least, for the first reservation.
const BYTES_PER_LABEL: usize = 32;

/// See [`super::parse`].
pub(super) fn parse(
    input: &[u8],
    options: &ParseOptions<'_>,
) -> Result<(Format, Compact), CompactError> {
    let mut sink = Direct {
        w: Writer::new(
            input,
            input.len() / BYTES_PER_SAMPLE,
            input.len() / BYTES_PER_LABEL,
        ),
        counts: Vec::new(),
        last: 0,
        family_of: None,
        error: None,
    };
    let exposition =
        text::parse_into(Parser::new(input, options), &mut sink).map_err(CompactError::Parse)?;
    let c = sink
        .finish(&exposition.families)
        .map_err(CompactError::TooLarge)?;
    Ok((exposition.format, c))
}

/// Writes sample records as they come.
struct Direct {
    w: Writer,
    /// Samples per family so far.
    counts: Vec<usize>,
    /// The family of the latest sample.
    last: usize,
    /// Once a family reappeared: the family of every sample, in input order.
    family_of: Option<Vec<u32>>,
    /// The first [`TooLarge`]; later samples are not written.
    error: Option<TooLarge>,
}

impl<'a> Sink<'a> for Direct {
    #[inline]
    fn family(&mut self, _: &[text::Family<'a>], _: usize) {
        self.counts.push(0);
    }

    #[inline]
    fn sample(&mut self, _: &mut [text::Family<'a>], i: usize, s: text::Sample<'a>) {
        if i < self.last && self.family_of.is_none() {
            self.family_of = Some(self.families_so_far());
        }
        self.last = i;
        self.counts[i] += 1;
        if let Some(f) = &mut self.family_of {
            // Past 4 Gi families the input passes 4 GiB, and this sample's
            // name span fails first, so the truncation is never read.
            f.push(i as u32);
        }
        if self.error.is_none()
            && let Err(e) = self.w.sample(&s)
        {
            self.error = Some(e);
        }
    }
}

impl Direct {
    /// The family of each sample so far, which came family after family.
    #[cold]
    fn families_so_far(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.w.out.samples.capacity());
        for (f, &n) in self.counts.iter().enumerate() {
            out.extend(std::iter::repeat_n(f as u32, n));
        }
        out
    }

    /// The families' records (metadata from `families`, final now), the
    /// samples laid out again if needed.
    fn finish(mut self, families: &[text::Family<'_>]) -> Result<Compact, TooLarge> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.family_of.is_some() || !self.w.out.strings.is_empty() {
            return rebuild(self, families);
        }
        let w = &mut self.w;
        w.out.families.reserve_exact(families.len());
        let mut start = 0;
        for (f, &n) in families.iter().zip(&self.counts) {
            let (name, help, unit) = w.family_strings(f)?;
            let family = Family {
                name,
                metric_type: f.metric_type,
                help,
                unit,
                samples_start: w.index(start)?,
                samples_len: w.index(n)?,
            };
            w.out.families.push(family);
            start += n;
        }
        Ok(self.w.out)
    }
}

/// The records again in the oracle's order: families in order, each with
/// its samples in input order, strings appended as they are met.
#[cold]
fn rebuild(d: Direct, families: &[text::Family<'_>]) -> Result<Compact, TooLarge> {
    let old = d.w.out;
    let input_len = d.w.input_len;
    let mut w = Writer {
        out: Compact {
            families: Vec::with_capacity(families.len()),
            samples: Vec::with_capacity(old.samples.len()),
            labels: Vec::with_capacity(old.labels.len()),
            exemplars: Vec::with_capacity(old.exemplars.len()),
            strings: String::with_capacity(old.strings.len()),
        },
        ..d.w
    };
    // Each family's samples, in input order (a stable counting sort).
    let order: Vec<u32> = match &d.family_of {
        None => (0..w.index(old.samples.len())?).collect(),
        Some(family_of) => {
            let mut next: Vec<usize> = Vec::with_capacity(d.counts.len());
            let mut at = 0;
            for &n in &d.counts {
                next.push(at);
                at += n;
            }
            let mut order = vec![0; family_of.len()];
            for (k, &f) in family_of.iter().enumerate() {
                order[next[f as usize]] = w.index(k)?;
                next[f as usize] += 1;
            }
            order
        }
    };
    // A span of the old records, placed in the new ones.
    let place = |w: &mut Writer, s: Span| -> Result<Span, TooLarge> {
        let (at, len) = (s.offset as usize, s.len as usize);
        // An empty span at the input's end reads the same wherever it is.
        if at < input_len || (at == input_len && len == 0) {
            return Ok(s);
        }
        w.span(&old.strings[at - input_len..at - input_len + len])
    };
    let copy_labels = |w: &mut Writer, start: u32, len: u32| -> Result<u32, TooLarge> {
        let new_start = w.index(w.out.labels.len())?;
        let (start, len) = (start as usize, len as usize);
        for l in &old.labels[start..start + len] {
            let name = place(w, l.name)?;
            let value = place(w, l.value)?;
            w.out.labels.push(Label { name, value });
        }
        Ok(new_start)
    };
    let mut next = 0;
    for (f, &n) in families.iter().zip(&d.counts) {
        let samples_start = w.index(w.out.samples.len())?;
        let (name, help, unit) = w.family_strings(f)?;
        for &k in &order[next..next + n] {
            let mut s = old.samples[k as usize];
            s.name = place(&mut w, s.name)?;
            s.labels_start = copy_labels(&mut w, s.labels_start, s.labels_len)?;
            if let Some(x) = s.exemplar {
                let mut e = old.exemplars[x as usize];
                e.labels_start = copy_labels(&mut w, e.labels_start, e.labels_len)?;
                s.exemplar = Some(w.index(w.out.exemplars.len())?);
                w.out.exemplars.push(e);
            }
            w.out.samples.push(s);
        }
        next += n;
        w.out.families.push(Family {
            name,
            metric_type: f.metric_type,
            help,
            unit,
            samples_start,
            samples_len: w.index(n)?,
        });
    }
    Ok(w.out)
}
