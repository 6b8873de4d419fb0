//! `GET /metrics`: every target's normalized view as Prometheus text 0.0.4,
//! so an existing Prometheus stores and federates the fleet.
//!
//! Invariant: the output is valid strict 0.0.4 text: each family appears
//! once, `# HELP` and `# TYPE` first, every label value escaped, label names
//! from [`crate::config::valid_label_name`] (never clashing with `instance`,
//! `engine`, `model`, `kind` or `quantile`), a final line feed. Absent snapshot
//! values are absent series, never 0.

use std::fmt::Write;

use llm_metrics_host::wit::mapper::{Distribution, Snapshot};

use crate::targets::Entry;

/// The exposition's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A number as the format spells it.
pub(crate) fn num(v: f64) -> String {
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

/// `{instance="…",engine="…",model="…",label="…"…}` plus `extra`.
pub(crate) fn labels(entry: &Entry, snapshot: Option<&Snapshot>, extra: &[(&str, &str)]) -> String {
    let mut s = format!("instance=\"{}\"", escape(&entry.spec.id));
    let engine = snapshot.map_or(entry.spec.engine.as_str(), |s| s.engine.as_str());
    let _ = write!(s, ",engine=\"{}\"", escape(engine));
    if let Some(snap) = snapshot {
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

pub(crate) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

type Pick = fn(&Snapshot) -> Option<f64>;
type PickDist = fn(&Snapshot) -> Option<&Distribution>;

const VALUES: &[(&str, &str, &str, Pick)] = &[
    (
        "llm_metrics_requests_running",
        "gauge",
        "Requests in the running batch.",
        |s| s.load.requests_running,
    ),
    (
        "llm_metrics_requests_waiting",
        "gauge",
        "Requests waiting to be scheduled.",
        |s| s.load.requests_waiting,
    ),
    (
        "llm_metrics_kv_cache_usage_ratio",
        "gauge",
        "KV-cache usage, 0 to 1.",
        |s| s.load.kv_cache_usage,
    ),
    (
        "llm_metrics_requests_succeeded_total",
        "counter",
        "Requests that finished normally.",
        |s| s.totals.requests_succeeded,
    ),
    (
        "llm_metrics_requests_failed_total",
        "counter",
        "Requests that failed or were aborted.",
        |s| s.totals.requests_failed,
    ),
    (
        "llm_metrics_prompt_tokens_total",
        "counter",
        "Prompt tokens processed.",
        |s| s.totals.prompt_tokens,
    ),
    (
        "llm_metrics_generation_tokens_total",
        "counter",
        "Tokens generated.",
        |s| s.totals.generation_tokens,
    ),
    (
        "llm_metrics_preemptions_total",
        "counter",
        "Preemptions.",
        |s| s.totals.preemptions,
    ),
];

const DISTRIBUTIONS: &[(&str, &str, PickDist)] = &[
    (
        "llm_metrics_time_to_first_token_seconds",
        "Time to first token: the engine's buckets, summed over data-parallel ranks.",
        |s| s.latency.time_to_first_token_seconds.as_ref(),
    ),
    (
        "llm_metrics_inter_token_latency_seconds",
        "Time between output tokens: the engine's buckets, summed over data-parallel ranks.",
        |s| s.latency.inter_token_latency_seconds.as_ref(),
    ),
    (
        "llm_metrics_e2e_request_latency_seconds",
        "Whole-request latency: the engine's buckets, summed over data-parallel ranks.",
        |s| s.latency.e2e_request_latency_seconds.as_ref(),
    ),
    (
        "llm_metrics_queue_time_seconds",
        "Time spent queued: the engine's buckets, summed over data-parallel ranks.",
        |s| s.latency.queue_time_seconds.as_ref(),
    ),
];

/// One distribution as a Prometheus histogram: the engine's cumulative
/// buckets (summed over data-parallel ranks by the plugin), `_sum` and
/// `_count`. A distribution without buckets (a summary upstream, or ranks
/// whose layouts disagree) still gets the one bucket that is always known,
/// `+Inf` = `_count`, so the family stays a valid histogram and nothing is
/// invented.
fn histogram(out: &mut String, name: &str, e: &Entry, s: &Snapshot, d: &Distribution) {
    let has_inf = d.buckets.last().is_some_and(|b| b.le == f64::INFINITY);
    for b in &d.buckets {
        let le = num(b.le);
        let _ = writeln!(
            out,
            "{name}_bucket{} {}",
            labels(e, Some(s), &[("le", &le)]),
            num(b.count)
        );
    }
    if !has_inf {
        let _ = writeln!(
            out,
            "{name}_bucket{} {}",
            labels(e, Some(s), &[("le", "+Inf")]),
            num(d.count)
        );
    }
    let _ = writeln!(out, "{name}_sum{} {}", labels(e, Some(s), &[]), num(d.sum));
    let _ = writeln!(
        out,
        "{name}_count{} {}",
        labels(e, Some(s), &[]),
        num(d.count)
    );
}

/// Render every target.
pub fn render(entries: &[std::sync::Arc<Entry>]) -> String {
    let now = std::time::Instant::now();
    let state: Vec<_> = entries
        .iter()
        .map(|e| (e, e.health(), e.snapshot()))
        .collect();
    let mut out = String::new();

    header(
        &mut out,
        "llm_metrics_target_up",
        "gauge",
        "1 if the target's last scrape succeeded.",
    );
    for (e, h, _) in &state {
        let up = h.scrapes > 0 && h.consecutive_failures == 0;
        let _ = writeln!(
            out,
            "llm_metrics_target_up{} {}",
            labels(e, None, &[]),
            u8::from(up)
        );
    }
    header(
        &mut out,
        "llm_metrics_target_stale",
        "gauge",
        "1 if the target had no successful scrape within 3 intervals.",
    );
    for (e, h, _) in &state {
        let _ = writeln!(
            out,
            "llm_metrics_target_stale{} {}",
            labels(e, None, &[]),
            u8::from(e.is_stale(h, now))
        );
    }
    header(
        &mut out,
        "llm_metrics_scrape_duration_seconds",
        "gauge",
        "How long the target's last scrape took.",
    );
    for (e, h, _) in &state {
        if let Some(d) = h.last_duration {
            let _ = writeln!(
                out,
                "llm_metrics_scrape_duration_seconds{} {}",
                labels(e, None, &[]),
                num(d.as_secs_f64())
            );
        }
    }
    header(
        &mut out,
        "llm_metrics_scrapes_total",
        "counter",
        "Scrapes of the target.",
    );
    for (e, h, _) in &state {
        let _ = writeln!(
            out,
            "llm_metrics_scrapes_total{} {}",
            labels(e, None, &[]),
            h.scrapes
        );
    }
    header(
        &mut out,
        "llm_metrics_scrape_errors_total",
        "counter",
        "Failed scrapes of the target, by error kind.",
    );
    for (e, h, _) in &state {
        for (kind, n) in &h.errors_by_kind {
            let _ = writeln!(
                out,
                "llm_metrics_scrape_errors_total{} {n}",
                labels(e, None, &[("kind", kind)])
            );
        }
    }
    header(
        &mut out,
        "llm_metrics_snapshot_age_seconds",
        "gauge",
        "Seconds since the target's last successful scrape.",
    );
    for (e, h, _) in &state {
        if let Some(t) = h.last_success_at {
            let age = now.saturating_duration_since(t).as_secs_f64();
            let _ = writeln!(
                out,
                "llm_metrics_snapshot_age_seconds{} {}",
                labels(e, None, &[]),
                num(age)
            );
        }
    }
    for (name, kind, help, pick) in VALUES {
        header(&mut out, name, kind, help);
        for (e, _, snap) in &state {
            if let Some(s) = snap.as_deref()
                && let Some(v) = pick(s)
            {
                let _ = writeln!(out, "{name}{} {}", labels(e, Some(s), &[]), num(v));
            }
        }
    }
    for (name, help, pick) in DISTRIBUTIONS {
        header(&mut out, name, "histogram", help);
        for (e, _, snap) in &state {
            let Some(s) = snap.as_deref() else { continue };
            let Some(d) = pick(s) else { continue };
            histogram(&mut out, name, e, s, d);
        }
    }
    out
}
