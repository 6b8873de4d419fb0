//! The compact parse result as WIT records (`parser.parse-compact`).
//!
//! Invariant: each WIT record carries exactly the fields of its
//! [`crate::compact`] counterpart, unchanged, so the spans and ranges the
//! builder checked are the ones the host reads.

use crate::bindings::wit_p;
use crate::compact;
use crate::convert::{format_to_wit, metric_type};
use crate::text;

fn span(s: compact::Span) -> wit_p::Span {
    wit_p::Span {
        offset: s.offset,
        len: s.len,
    }
}

/// The compact records as WIT records: the same fields, one to one (same
/// sizes, so `collect` may reuse each list's allocation in place).
pub(crate) fn compact_to_wit(format: text::Format, c: compact::Compact) -> wit_p::CompactParsed {
    wit_p::CompactParsed {
        format: format_to_wit(format),
        families: c
            .families
            .into_iter()
            .map(|f| wit_p::CompactFamily {
                name: span(f.name),
                type_: metric_type(f.metric_type),
                help: f.help.map(span),
                unit: f.unit.map(span),
                samples_start: f.samples_start,
                samples_len: f.samples_len,
            })
            .collect(),
        samples: c
            .samples
            .into_iter()
            .map(|s| wit_p::CompactSample {
                name: span(s.name),
                labels_start: s.labels_start,
                labels_len: s.labels_len,
                value: s.value,
                timestamp_ms: s.timestamp_ms,
                exemplar: s.exemplar,
            })
            .collect(),
        labels: c
            .labels
            .into_iter()
            .map(|l| wit_p::CompactLabel {
                name: span(l.name),
                value: span(l.value),
            })
            .collect(),
        exemplars: c
            .exemplars
            .into_iter()
            .map(|e| wit_p::CompactExemplar {
                labels_start: e.labels_start,
                labels_len: e.labels_len,
                value: e.value,
                timestamp_ms: e.timestamp_ms,
            })
            .collect(),
        strings: c.strings,
    }
}
