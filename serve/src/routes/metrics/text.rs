//! Prometheus text 0.0.4 as `/metrics` writes it: numbers, escaped label
//! values, a target's label set, and a family's lines.
//!
//! Invariant: every family is written as `# HELP`, `# TYPE`, then its
//! samples, so a family written once appears once; label values are
//! escaped (`\\`, `\"`, `\n`); label names come from the target's
//! definition ([`crate::config::valid_label_name`], never clashing with
//! `instance`, `engine`, `model`, `kind`, `le` or `quantile`).

use std::fmt::{Display, Write};

use llm_metrics_host::wit::mapper::Snapshot;

use crate::targets::Entry;

/// The exposition's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A number as the format spells it.
pub fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `{instance="…",engine="…",model="…",label="…"…}` plus `extra`: a
/// snapshot series' labels.
pub fn labels(entry: &Entry, snapshot: Option<&Snapshot>, extra: &[(&str, &str)]) -> String {
    labels_of(entry, snapshot, true, extra)
}

/// `{instance="…",engine="…",label="…"…}` plus `extra`: a scrape-health
/// series' labels. The engine is the detected one once a snapshot exists
/// (the configured id, often `auto`, before), so one instance carries one
/// engine label on every series.
pub fn health_labels(entry: &Entry, snapshot: Option<&Snapshot>, extra: &[(&str, &str)]) -> String {
    labels_of(entry, snapshot, false, extra)
}

fn labels_of(
    entry: &Entry,
    snapshot: Option<&Snapshot>,
    model: bool,
    extra: &[(&str, &str)],
) -> String {
    let mut s = format!("instance=\"{}\"", escape(&entry.spec.id));
    let engine = snapshot.map_or(entry.spec.engine.as_str(), |s| s.engine.as_str());
    let _ = write!(s, ",engine=\"{}\"", escape(engine));
    if let Some(snap) = snapshot.filter(|_| model) {
        let _ = write!(s, ",model=\"{}\"", escape(&snap.model_names.join(",")));
    }
    for (k, v) in &entry.spec.labels {
        let _ = write!(s, ",{k}=\"{}\"", escape(v));
    }
    for (k, v) in extra {
        let _ = write!(s, ",{k}=\"{}\"", escape(v));
    }
    format!("{{{s}}}")
}

/// A family's `# HELP` and `# TYPE` lines.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A family of one line per sample: its header, then `name{labels} value`
/// for each `(labels, value)` of `samples`.
pub fn family<V: Display>(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, V)>,
) {
    header(out, name, kind, help);
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}
