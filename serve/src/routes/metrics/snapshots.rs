//! Each target's latest snapshot and scrape health as Prometheus families:
//! `llm_metrics_target_up`, `…_stale`, scrape figures, the snapshot's load
//! and totals, and its latency distributions as histograms.
//!
//! Invariant: absent snapshot values are absent series, never 0; a target
//! without a snapshot has only its health series.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

use llm_metrics_host::wit::mapper::{Distribution, Snapshot};

use super::text::{family, header, health_labels, labels, num};
use crate::targets::Entry;

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
        "Admitted requests that failed.",
        |s| s.totals.requests_failed,
    ),
    (
        "llm_metrics_requests_rejected_total",
        "counter",
        "Requests refused before admission.",
        |s| s.totals.requests_rejected,
    ),
    (
        "llm_metrics_prompt_tokens_total",
        "counter",
        "Prompt tokens, computed or served from the prefix cache.",
        |s| s.totals.prompt_tokens,
    ),
    (
        "llm_metrics_prompt_tokens_cached_total",
        "counter",
        "Prompt tokens served from the prefix cache.",
        |s| s.totals.prompt_tokens_cached,
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
pub fn render(entries: &[Arc<Entry>]) -> String {
    let now = Instant::now();
    let state: Vec<_> = entries
        .iter()
        .map(|e| (e, e.health(), e.snapshot()))
        .collect();
    let mut out = String::new();
    family(
        &mut out,
        "llm_metrics_target_up",
        "gauge",
        "1 if the target's last scrape succeeded.",
        state.iter().map(|(e, h, snap)| {
            let up = h.scrapes > 0 && h.consecutive_failures == 0;
            (health_labels(e, snap.as_deref(), &[]), u8::from(up))
        }),
    );
    family(
        &mut out,
        "llm_metrics_target_stale",
        "gauge",
        "1 if the target had no successful scrape within 3 intervals.",
        state.iter().map(|(e, h, snap)| {
            let stale = e.is_stale(h, now);
            (health_labels(e, snap.as_deref(), &[]), u8::from(stale))
        }),
    );
    family(
        &mut out,
        "llm_metrics_scrape_duration_seconds",
        "gauge",
        "How long the target's last scrape took.",
        state.iter().filter_map(|(e, h, snap)| {
            let d = h.last_duration?;
            Some((health_labels(e, snap.as_deref(), &[]), num(d.as_secs_f64())))
        }),
    );
    family(
        &mut out,
        "llm_metrics_scrapes_total",
        "counter",
        "Scrapes of the target.",
        state
            .iter()
            .map(|(e, h, snap)| (health_labels(e, snap.as_deref(), &[]), h.scrapes)),
    );
    family(
        &mut out,
        "llm_metrics_scrape_errors_total",
        "counter",
        "Failed scrapes of the target, by error kind.",
        state.iter().flat_map(|(e, h, snap)| {
            h.errors_by_kind.iter().map(|(kind, n)| {
                let labels = health_labels(e, snap.as_deref(), &[("kind", kind)]);
                (labels, *n)
            })
        }),
    );
    family(
        &mut out,
        "llm_metrics_snapshot_age_seconds",
        "gauge",
        "Seconds since the target's last successful scrape.",
        state.iter().filter_map(|(e, h, snap)| {
            let age = now.saturating_duration_since(h.last_success_at?);
            Some((
                health_labels(e, snap.as_deref(), &[]),
                num(age.as_secs_f64()),
            ))
        }),
    );
    for (name, kind, help, pick) in VALUES {
        family(
            &mut out,
            name,
            kind,
            help,
            state.iter().filter_map(|(e, _, snap)| {
                let s = snap.as_deref()?;
                Some((labels(e, Some(s), &[]), num(pick(s)?)))
            }),
        );
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
