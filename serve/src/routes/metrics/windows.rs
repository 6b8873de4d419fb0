//! Windowed figures for `GET /metrics`: per target, the rates and latency
//! quantiles over the last [`RANGE`], from the stored history through the
//! plugin's `window` ([`stored`]), for readers that do not run PromQL
//! themselves.
//!
//! Invariant: every family is a gauge (a window is a current value, not a
//! cumulative one), carries the same labels as the rest of the export, and
//! appears only with the targets that have a window: fewer than two stored
//! scrapes in the range, or snapshots the plugin refuses to compare, give
//! no series, never 0. The output keeps the export's strict 0.0.4 rules.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use llm_metrics_host::wit::mapper::{Distribution, Snapshot, WindowStats};

use super::text::{family, labels, num};
use crate::history;
use crate::routes::stored;
use crate::state::Service;
use crate::targets::Entry;

/// The range of the exported windows.
pub const RANGE: Duration = Duration::from_secs(300);

type Rate = fn(&WindowStats) -> Option<f64>;
type Dist = fn(&WindowStats) -> Option<&Distribution>;

const RATES: &[(&str, &str, Rate)] = &[
    (
        "llm_metrics_window_requests_succeeded_per_second",
        "Requests finished normally per second over the last 5 minutes.",
        |w| w.rates.requests_succeeded,
    ),
    (
        "llm_metrics_window_requests_failed_per_second",
        "Admitted requests failed per second over the last 5 minutes.",
        |w| w.rates.requests_failed,
    ),
    (
        "llm_metrics_window_requests_rejected_per_second",
        "Requests refused before admission per second over the last 5 minutes.",
        |w| w.rates.requests_rejected,
    ),
    (
        "llm_metrics_window_prompt_tokens_per_second",
        "Prompt tokens per second over the last 5 minutes.",
        |w| w.rates.prompt_tokens,
    ),
    (
        "llm_metrics_window_prompt_tokens_cached_per_second",
        "Prompt tokens served from the prefix cache per second over the last 5 minutes.",
        |w| w.rates.prompt_tokens_cached,
    ),
    (
        "llm_metrics_window_generation_tokens_per_second",
        "Generated tokens per second over the last 5 minutes.",
        |w| w.rates.generation_tokens,
    ),
    (
        "llm_metrics_window_preemptions_per_second",
        "Preemptions per second over the last 5 minutes.",
        |w| w.rates.preemptions,
    ),
];

const DISTRIBUTIONS: &[(&str, &str, Dist)] = &[
    (
        "llm_metrics_window_time_to_first_token_seconds",
        "Time to first token over the last 5 minutes (histogram_quantile of the bucket increases).",
        |w| w.latency.time_to_first_token_seconds.as_ref(),
    ),
    (
        "llm_metrics_window_inter_token_latency_seconds",
        "Time between output tokens over the last 5 minutes (histogram_quantile of the bucket increases).",
        |w| w.latency.inter_token_latency_seconds.as_ref(),
    ),
    (
        "llm_metrics_window_e2e_request_latency_seconds",
        "Whole-request latency over the last 5 minutes (histogram_quantile of the bucket increases).",
        |w| w.latency.e2e_request_latency_seconds.as_ref(),
    ),
    (
        "llm_metrics_window_queue_time_seconds",
        "Time spent queued over the last 5 minutes (histogram_quantile of the bucket increases).",
        |w| w.latency.queue_time_seconds.as_ref(),
    ),
];

/// The window over the last [`RANGE`] of `entry`, with the later snapshot.
async fn window_of(
    service: &Service,
    entry: &Entry,
    now: i64,
) -> Option<(Arc<Snapshot>, WindowStats)> {
    let store = service.history.as_ref()?;
    let range = i64::try_from(RANGE.as_millis()).unwrap_or(i64::MAX);
    let (later, w) = stored::window_of(service, store, &entry.spec.id, now, range)
        .await
        .ok()??;
    Some((Arc::new(later), w.ok()?))
}

/// The windowed families for every target (empty without a history).
pub async fn render(service: &Service) -> String {
    let now = history::millis(SystemTime::now());
    let mut windows = Vec::new();
    for entry in service.targets.all() {
        if let Some((later, w)) = window_of(service, &entry, now).await {
            windows.push((entry, later, w));
        }
    }
    let mut out = String::new();
    family(
        &mut out,
        "llm_metrics_window_seconds",
        "gauge",
        "Length of the window the llm_metrics_window_* figures cover (the stored scrapes at its edges).",
        windows
            .iter()
            .map(|(e, s, w)| (labels(e, Some(s), &[]), num(w.seconds))),
    );
    family(
        &mut out,
        "llm_metrics_window_restarted",
        "gauge",
        "1 if the server restarted within the window.",
        windows
            .iter()
            .map(|(e, s, w)| (labels(e, Some(s), &[]), u8::from(w.restarted))),
    );
    for (name, help, pick) in RATES {
        family(
            &mut out,
            name,
            "gauge",
            help,
            windows
                .iter()
                .filter_map(|(e, s, w)| Some((labels(e, Some(s), &[]), num(pick(w)?)))),
        );
    }
    for (name, help, pick) in DISTRIBUTIONS {
        let quantiles = windows
            .iter()
            .filter_map(|(e, s, w)| Some((e, s, pick(w)?)));
        family(
            &mut out,
            name,
            "gauge",
            help,
            quantiles.flat_map(|(e, s, d)| {
                [("0.5", d.p50), ("0.9", d.p90), ("0.99", d.p99)]
                    .into_iter()
                    .filter_map(move |(q, v)| {
                        Some((labels(e, Some(s), &[("quantile", q)]), num(v?)))
                    })
            }),
        );
    }
    out
}
