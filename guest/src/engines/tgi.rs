//! Hugging Face TGI mapper (router 0.9.4 → 3.3.7; names essentially stable).
//!
//! Guarantees: names are read exactly as metrics-exporter-prometheus exposes
//! them, counters **without** `_total`; histograms of any bucket count (TGI
//! uses 35 to 1024) and the summary `tgi_request_skipped_tokens` (a histogram
//! before v2.3, which is read just as well) become distributions. TGI has no
//! model label and no time-to-first-token metric, so `model_names` is empty
//! and TTFT is `None`. Anything not exposed is `None` or left out.

use super::kit::{EngineSpec, GroupBuilder};
use super::series::{Alias, Found, Index, dist, series};
use crate::snapshot::{EngineSnapshot, Latency, Load, MetricValue, Totals};

/// The prefix every TGI family carries.
pub(crate) const PREFIX: &str = "tgi_";

/// TGI in the engine list.
pub(crate) const SPEC: EngineSpec = EngineSpec {
    id: "tgi",
    name: "Hugging Face text-generation-inference",
    versions: "router 0.9.4 to 3.3.7",
    prefixes: &[PREFIX],
    requested_only: &[],
    model_label: None,
    table: ALIASES,
    map,
};

// Requests.
static REQUEST_COUNT: Alias = series("count", &["tgi_request_count"]);
static SUCCESS: Alias = series("success", &["tgi_request_success"]);
static FAILURE: Alias = series("failures_by_err", &["tgi_request_failure"]);
static DURATION: Alias = dist("duration_seconds", &["tgi_request_duration"]);
static VALIDATION: Alias = dist(
    "validation_duration_seconds",
    &["tgi_request_validation_duration"],
);
static QUEUE: Alias = dist("queue_duration_seconds", &["tgi_request_queue_duration"]);
static INFERENCE: Alias = dist(
    "inference_duration_seconds",
    &["tgi_request_inference_duration"],
);
static MEAN_TPT: Alias = dist(
    "mean_time_per_token_duration_seconds",
    &["tgi_request_mean_time_per_token_duration"],
);
static INPUT_LENGTH: Alias = dist("input_length", &["tgi_request_input_length"]);
static MAX_NEW_TOKENS: Alias = dist("max_new_tokens", &["tgi_request_max_new_tokens"]);
static GENERATED: Alias = dist("generated_tokens", &["tgi_request_generated_tokens"]);
static SKIPPED: Alias = dist("skipped_tokens", &["tgi_request_skipped_tokens"]);

// Generation (batching).
static QUEUE_SIZE: Alias = series("queue_size", &["tgi_queue_size"]);
static BATCH_SIZE: Alias = series("batch_current_size", &["tgi_batch_current_size"]);
static BATCH_MAX_TOKENS: Alias = series(
    "batch_current_max_tokens",
    &["tgi_batch_current_max_tokens"],
);
static BATCH_TOTAL_TOKENS: Alias =
    series("batch_max_total_tokens", &["tgi_batch_max_total_tokens"]);
static NEXT_SIZE: Alias = dist("batch_next_size", &["tgi_batch_next_size"]);
static INFER_COUNT: Alias = series("batch_inference_count", &["tgi_batch_inference_count"]);
static INFER_SUCCESS: Alias = series("batch_inference_success", &["tgi_batch_inference_success"]);
static INFER_FAILURE: Alias = series("batch_inference_failure", &["tgi_batch_inference_failure"]);
static CONCAT: Alias = series("batch_concat", &["tgi_batch_concat"]);
static FORWARD: Alias = dist(
    "batch_forward_duration_seconds",
    &["tgi_batch_forward_duration"],
);
static DECODE: Alias = dist(
    "batch_decode_duration_seconds",
    &["tgi_batch_decode_duration"],
);
static FILTER: Alias = dist(
    "batch_filter_duration_seconds",
    &["tgi_batch_filter_duration"],
);
static BATCH_INFERENCE: Alias = dist(
    "batch_inference_duration_seconds",
    &["tgi_batch_inference_duration"],
);
static CONCAT_DURATION: Alias = dist(
    "batch_concat_duration_seconds",
    &["tgi_batch_concat_duration"],
);

/// The whole table: every exposed name this mapper reads.
pub(crate) static ALIASES: &[&Alias] = &[
    &REQUEST_COUNT,
    &SUCCESS,
    &FAILURE,
    &DURATION,
    &VALIDATION,
    &QUEUE,
    &INFERENCE,
    &MEAN_TPT,
    &INPUT_LENGTH,
    &MAX_NEW_TOKENS,
    &GENERATED,
    &SKIPPED,
    &QUEUE_SIZE,
    &BATCH_SIZE,
    &BATCH_MAX_TOKENS,
    &BATCH_TOTAL_TOKENS,
    &NEXT_SIZE,
    &INFER_COUNT,
    &INFER_SUCCESS,
    &INFER_FAILURE,
    &CONCAT,
    &FORWARD,
    &DECODE,
    &FILTER,
    &BATCH_INFERENCE,
    &CONCAT_DURATION,
];

/// Map a TGI exposition.
///
/// * running = `tgi_batch_current_size`, waiting = `tgi_queue_size`.
/// * kv_cache_usage = `tgi_batch_current_max_tokens / tgi_batch_max_total_tokens`
///   (v2.4+). This is an **estimate**: it is the token budget the running
///   batch may grow to, over the server's token capacity, not the KV blocks
///   actually allocated. `None` unless both gauges exist and the capacity is
///   positive. kv_cache_capacity_tokens = `tgi_batch_max_total_tokens`
///   (the router's token capacity, v2.4+). No LoRA or DP figures.
/// * succeeded = `tgi_request_success`; failed = `tgi_request_failure` summed
///   over `err` (`None` when absent: the counter appears with the first
///   failure). prompt tokens = `tgi_request_input_length_sum` (recorded at
///   validation, so it also counts requests that later failed); generation
///   tokens = `tgi_request_generated_tokens_sum` (successful requests only).
///   Preemptions: TGI has none (`None`).
/// * latency: no TTFT; ITL = `tgi_request_mean_time_per_token_duration` (per
///   request, and it includes prefill); e2e = `tgi_request_duration`; queue =
///   `tgi_request_queue_duration`. TGI records these for successful requests
///   only.
pub(crate) fn map(ix: &Index<'_, '_>) -> EngineSnapshot {
    let sum = |a: &Alias| ix.resolve(a).and_then(|n| ix.sum(n));
    let d = |a: &Alias| ix.distribution(a).map(|(_, d)| d);
    let kv_cache_usage = match (sum(&BATCH_MAX_TOKENS), sum(&BATCH_TOTAL_TOKENS)) {
        (Some(used), Some(capacity)) if capacity > 0.0 => Some(used / capacity),
        _ => None,
    };
    let input = d(&INPUT_LENGTH);
    let generated = d(&GENERATED);
    EngineSnapshot {
        engine: SPEC.id,
        incarnation: Default::default(),
        model_names: Vec::new(),
        load: Load {
            requests_running: sum(&BATCH_SIZE),
            requests_waiting: sum(&QUEUE_SIZE),
            kv_cache_usage,
            kv_cache_capacity_tokens: sum(&BATCH_TOTAL_TOKENS),
            ..Load::default()
        },
        totals: Totals {
            requests_succeeded: sum(&SUCCESS),
            requests_failed: sum(&FAILURE),
            prompt_tokens: input.map(|d| d.sum),
            generation_tokens: generated.map(|d| d.sum),
            ..Totals::default()
        },
        latency: Latency {
            time_to_first_token_seconds: None,
            inter_token_latency_seconds: d(&MEAN_TPT),
            e2e_request_latency_seconds: d(&DURATION),
            queue_time_seconds: d(&QUEUE),
        },
        engine_metrics: groups(ix),
    }
}

/// The `request` and `generation` groups.
fn groups(ix: &Index<'_, '_>) -> Vec<crate::snapshot::EngineGroup> {
    let mut out = Vec::new();

    let mut g = GroupBuilder::new("request");
    g.add(REQUEST_COUNT.field, ix.read_sum(&REQUEST_COUNT))
        .add(SUCCESS.field, ix.read_sum(&SUCCESS))
        .add(FAILURE.field, ix.read_by(&FAILURE, "err"));
    for a in [
        &DURATION,
        &VALIDATION,
        &QUEUE,
        &INFERENCE,
        &MEAN_TPT,
        &INPUT_LENGTH,
        &MAX_NEW_TOKENS,
        &GENERATED,
        &SKIPPED,
    ] {
        g.add(a.field, ix.read_dist(a));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("generation");
    g.add(QUEUE_SIZE.field, ix.read_sum(&QUEUE_SIZE))
        .add(BATCH_SIZE.field, ix.read_sum(&BATCH_SIZE))
        .add(BATCH_MAX_TOKENS.field, ix.read_sum(&BATCH_MAX_TOKENS))
        .add(BATCH_TOTAL_TOKENS.field, ix.read_sum(&BATCH_TOTAL_TOKENS))
        .add(NEXT_SIZE.field, ix.read_dist(&NEXT_SIZE));
    for a in [&INFER_COUNT, &INFER_SUCCESS, &INFER_FAILURE] {
        g.add(a.field, by_method(ix, a));
    }
    g.add(CONCAT.field, ix.read_by(&CONCAT, "reason"));
    // Durations are per `method` (prefill/decode); summed over it here.
    for a in [
        &FORWARD,
        &DECODE,
        &FILTER,
        &BATCH_INFERENCE,
        &CONCAT_DURATION,
    ] {
        g.add(a.field, ix.read_dist(a));
    }
    g.finish(&mut out);

    out
}

/// A counter broken down by `method`, or its plain sum if it has no `method`
/// label (older routers).
fn by_method(ix: &Index<'_, '_>, alias: &Alias) -> Option<Found> {
    ix.read_by(alias, "method")
        .or_else(|| ix.read(alias, |ix, n| ix.sum(n).map(MetricValue::Number)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_table_is_exact_tgi_names() {
        let mut fields = std::collections::BTreeSet::new();
        for alias in ALIASES {
            assert!(
                fields.insert(alias.field),
                "duplicate field {}",
                alias.field
            );
            for name in alias.names {
                assert!(name.starts_with(PREFIX), "{name}");
                // metrics-exporter-prometheus never adds `_total`.
                assert!(!name.ends_with("_total"), "{name}");
            }
        }
    }
}
