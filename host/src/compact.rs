//! A borrowed view of `parser.parse-compact`'s result: families, samples and
//! labels as `&str`s read from the text the caller holds.
//!
//! Invariant: a [`CompactExposition`] exists only after [`CompactExposition::new`]
//! checked the guest's result against the text: the text is UTF-8, every span
//! lies wholly in the text or wholly in `strings` and starts and ends on a
//! character boundary, and every range and exemplar index is inside its list.
//! The guest is not trusted for any of this; after the check, no accessor
//! can fail or panic.

use crate::wit::parser::{
    CompactExemplar, CompactFamily, CompactLabel, CompactParsed, CompactSample, Span,
};
use crate::wit::types::{Exemplar, Family, Format, Label, MetricType, Sample};

/// Why a compact result does not fit the text it was parsed from: the plugin
/// broke the contract, or the caller passed other text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCompact {
    /// The text is not UTF-8 (then the parse could not have succeeded).
    #[error("the text is not valid UTF-8 at byte {0}")]
    Utf8(usize),
    /// A span lies outside the text and `strings`, straddles them, or cuts a
    /// character; says which one.
    #[error("span {what} ({offset}, {len}) does not lie on characters of the text or strings")]
    Span {
        /// Which span, e.g. `label value 12`.
        what: String,
        /// Its offset.
        offset: u32,
        /// Its length.
        len: u32,
    },
    /// A range or index points past its list.
    #[error("{0} points past the end of its list")]
    Range(String),
}

/// `parse-compact`'s result, checked against the text it came from.
#[derive(Clone, Debug)]
pub struct CompactExposition<'t> {
    text: &'t str,
    raw: CompactParsed,
}

impl<'t> CompactExposition<'t> {
    /// Checks `raw` (from `parse-compact` of `text`) against `text`.
    ///
    /// # Errors
    /// [`InvalidCompact`] when a span or range does not fit.
    pub fn new(text: &'t [u8], raw: CompactParsed) -> Result<Self, InvalidCompact> {
        let text = std::str::from_utf8(text).map_err(|e| InvalidCompact::Utf8(e.valid_up_to()))?;
        let view = CompactExposition { text, raw };
        view.check()?;
        Ok(view)
    }

    fn check(&self) -> Result<(), InvalidCompact> {
        let r = &self.raw;
        let span = |what: &str, i: usize, s: Span| {
            if self.locate(s).is_some() {
                Ok(())
            } else {
                Err(InvalidCompact::Span {
                    what: format!("{what} {i}"),
                    offset: s.offset,
                    len: s.len,
                })
            }
        };
        let range = |what: &str, i: usize, start: u32, len: u32, total: usize| {
            let end = u64::from(start) + u64::from(len);
            if end <= total as u64 {
                Ok(())
            } else {
                Err(InvalidCompact::Range(format!("{what} {i}")))
            }
        };
        for (i, f) in r.families.iter().enumerate() {
            span("family name", i, f.name)?;
            if let Some(h) = f.help {
                span("family help", i, h)?;
            }
            if let Some(u) = f.unit {
                span("family unit", i, u)?;
            }
            range("family", i, f.samples_start, f.samples_len, r.samples.len())?;
        }
        for (i, s) in r.samples.iter().enumerate() {
            span("sample name", i, s.name)?;
            range("sample", i, s.labels_start, s.labels_len, r.labels.len())?;
            if let Some(e) = s.exemplar {
                range("sample exemplar", i, e, 1, r.exemplars.len())?;
            }
        }
        for (i, e) in r.exemplars.iter().enumerate() {
            range("exemplar", i, e.labels_start, e.labels_len, r.labels.len())?;
        }
        for (i, l) in r.labels.iter().enumerate() {
            span("label name", i, l.name)?;
            span("label value", i, l.value)?;
        }
        Ok(())
    }

    /// Where `s` is, if it is wholly in the text or wholly in `strings` and
    /// on character boundaries.
    #[inline]
    fn locate(&self, s: Span) -> Option<&str> {
        let (at, len) = (s.offset as usize, s.len as usize);
        let (within, at) = match at.checked_sub(self.text.len()) {
            None => (self.text, at),
            Some(at) => (self.raw.strings.as_str(), at),
        };
        within.get(at..at.checked_add(len)?)
    }

    /// The string at `s`; checked by [`CompactExposition::new`].
    #[inline]
    fn str(&self, s: Span) -> &str {
        self.locate(s).unwrap_or_default()
    }

    /// The format the plugin used (never `auto`).
    pub fn format(&self) -> Format {
        self.raw.format
    }

    /// The text the spans point into.
    pub fn text(&self) -> &'t str {
        self.text
    }

    /// The result as the plugin returned it.
    pub fn raw(&self) -> &CompactParsed {
        &self.raw
    }

    /// Number of samples over all families.
    pub fn sample_count(&self) -> usize {
        self.raw.samples.len()
    }

    /// Families in order of first appearance.
    pub fn families(&self) -> impl ExactSizeIterator<Item = FamilyView<'_>> + '_ {
        self.raw
            .families
            .iter()
            .map(move |raw| FamilyView { view: self, raw })
    }

    /// The families as owned WIT records, as `parse` returns them.
    pub fn to_families(&self) -> Vec<Family> {
        self.families().map(|f| f.to_family()).collect()
    }

    fn slice<T>(list: &[T], start: u32, len: u32) -> &[T] {
        let start = start as usize;
        list.get(start..start.saturating_add(len as usize))
            .unwrap_or_default()
    }
}

/// One family of a [`CompactExposition`].
#[derive(Clone, Copy, Debug)]
pub struct FamilyView<'v> {
    view: &'v CompactExposition<'v>,
    raw: &'v CompactFamily,
}

impl<'v> FamilyView<'v> {
    /// The family name.
    pub fn name(&self) -> &'v str {
        self.view.str(self.raw.name)
    }

    /// The declared type, or `unknown`/`untyped`.
    pub fn metric_type(&self) -> MetricType {
        self.raw.type_
    }

    /// `# HELP` text, escapes decoded.
    pub fn help(&self) -> Option<&'v str> {
        self.raw.help.map(|s| self.view.str(s))
    }

    /// `# UNIT` (OpenMetrics).
    pub fn unit(&self) -> Option<&'v str> {
        self.raw.unit.map(|s| self.view.str(s))
    }

    /// Samples in input order.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = SampleView<'v>> + use<'v> {
        let view = self.view;
        CompactExposition::slice(
            &view.raw.samples,
            self.raw.samples_start,
            self.raw.samples_len,
        )
        .iter()
        .map(move |raw| SampleView { view, raw })
    }

    /// The family as an owned WIT record.
    pub fn to_family(&self) -> Family {
        Family {
            name: self.name().to_string(),
            type_: self.metric_type(),
            help: self.help().map(str::to_string),
            unit: self.unit().map(str::to_string),
            samples: self.samples().map(|s| s.to_sample()).collect(),
        }
    }
}

/// One sample of a [`CompactExposition`].
#[derive(Clone, Copy, Debug)]
pub struct SampleView<'v> {
    view: &'v CompactExposition<'v>,
    raw: &'v CompactSample,
}

impl<'v> SampleView<'v> {
    /// The series name as written.
    pub fn name(&self) -> &'v str {
        self.view.str(self.raw.name)
    }

    /// `(name, value)` pairs in input order, escapes decoded.
    pub fn labels(&self) -> LabelsView<'v> {
        LabelsView::new(self.view, self.raw.labels_start, self.raw.labels_len)
    }

    /// The value.
    pub fn value(&self) -> f64 {
        self.raw.value
    }

    /// Milliseconds since the Unix epoch, if given.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.raw.timestamp_ms
    }

    /// The exemplar, if any.
    pub fn exemplar(&self) -> Option<ExemplarView<'v>> {
        let view = self.view;
        let raw = view.raw.exemplars.get(self.raw.exemplar? as usize)?;
        Some(ExemplarView { view, raw })
    }

    /// The sample as an owned WIT record.
    pub fn to_sample(&self) -> Sample {
        Sample {
            name: self.name().to_string(),
            labels: self.labels().to_labels(),
            value: self.value(),
            timestamp_ms: self.timestamp_ms(),
            exemplar: self.exemplar().map(|e| Exemplar {
                labels: e.labels().to_labels(),
                value: e.value(),
                timestamp_ms: e.timestamp_ms(),
            }),
        }
    }
}

/// An exemplar of a [`CompactExposition`].
#[derive(Clone, Copy, Debug)]
pub struct ExemplarView<'v> {
    view: &'v CompactExposition<'v>,
    raw: &'v CompactExemplar,
}

impl<'v> ExemplarView<'v> {
    /// The exemplar's labels.
    pub fn labels(&self) -> LabelsView<'v> {
        LabelsView::new(self.view, self.raw.labels_start, self.raw.labels_len)
    }

    /// The exemplar's value.
    pub fn value(&self) -> f64 {
        self.raw.value
    }

    /// Milliseconds since the Unix epoch, if given.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.raw.timestamp_ms
    }
}

/// A label set of a [`CompactExposition`]: iterates `(name, value)`.
#[derive(Clone, Debug)]
pub struct LabelsView<'v> {
    view: &'v CompactExposition<'v>,
    labels: std::slice::Iter<'v, CompactLabel>,
}

impl<'v> LabelsView<'v> {
    fn new(view: &'v CompactExposition<'v>, start: u32, len: u32) -> Self {
        let labels = CompactExposition::slice(&view.raw.labels, start, len).iter();
        LabelsView { view, labels }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&'v str> {
        self.clone().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The labels as owned WIT records.
    pub fn to_labels(&self) -> Vec<Label> {
        self.clone()
            .map(|(name, value)| Label {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect()
    }
}

impl<'v> Iterator for LabelsView<'v> {
    type Item = (&'v str, &'v str);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let l = self.labels.next()?;
        Some((self.view.str(l.name), self.view.str(l.value)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.labels.size_hint()
    }
}

impl ExactSizeIterator for LabelsView<'_> {}
