//! NVIDIA Triton Inference Server mapper, with the TensorRT-LLM backend's
//! `nv_trt_llm_*` gauges (`:8002/metrics`, prometheus-cpp text).
//!
//! Guarantees: names per `engines.md` §5, matched exactly; prometheus-cpp
//! counters carry **no** `_total`. The TRT-LLM gauges are one family each
//! with a selector label (`request_type`, `kv_cache_block_type`, …): a figure
//! is read from the series whose selector has the exact value, and the field
//! names the selector (`nv_trt_llm_request_metrics{request_type="waiting"}`).
//! Counts are summed over `model`/`version`; the KV fraction is the mean. The
//! `nv_inference_*_duration_us` series are **cumulative microsecond
//! counters**, reported as they are, so that two snapshots give an average
//! over a window (Δduration / Δcount). Anything not exposed is `None` or left
//! out.

use super::kit::{EngineSpec, GroupBuilder};
use super::series::{Alias, Found, Index, dist, series};
use crate::snapshot::{EngineSnapshot, Latency, Load, MetricValue, Totals};

/// Triton in the engine list.
pub(crate) const SPEC: EngineSpec = EngineSpec {
    id: "triton",
    name: "NVIDIA Triton (TensorRT-LLM backend)",
    versions: "Triton 2.x with tensorrtllm_backend; nv_inference_* without it",
    prefixes: &["nv_trt_llm_", "nv_inference_"],
    requested_only: &[],
    model_label: Some("model"),
    table: ALIASES,
    map,
};

static REQUESTS: Alias = series("requests", &["nv_trt_llm_request_metrics"]);
static KV_BLOCKS: Alias = series("kv_cache_blocks", &["nv_trt_llm_kv_cache_block_metrics"]);
static MEMORY: Alias = series(
    "runtime_memory_bytes",
    &["nv_trt_llm_runtime_memory_metrics"],
);
static BATCHER: Alias = series("inflight_batcher", &["nv_trt_llm_inflight_batcher_metrics"]);
static GENERAL: Alias = series("general", &["nv_trt_llm_general_metrics"]);
static SUCCESS: Alias = series("success_by_model", &["nv_inference_request_success"]);
static FAILURE: Alias = series("failure_by_model", &["nv_inference_request_failure"]);
static INFERENCES: Alias = series("inference_count_by_model", &["nv_inference_count"]);
static EXECUTIONS: Alias = series("exec_count_by_model", &["nv_inference_exec_count"]);
static PENDING: Alias = series("pending_by_model", &["nv_inference_pending_request_count"]);
static REQUEST_US: Alias = series(
    "request_duration_us_by_model",
    &["nv_inference_request_duration_us"],
);
static QUEUE_US: Alias = series(
    "queue_duration_us_by_model",
    &["nv_inference_queue_duration_us"],
);
static INPUT_US: Alias = series(
    "compute_input_duration_us_by_model",
    &["nv_inference_compute_input_duration_us"],
);
static INFER_US: Alias = series(
    "compute_infer_duration_us_by_model",
    &["nv_inference_compute_infer_duration_us"],
);
static OUTPUT_US: Alias = series(
    "compute_output_duration_us_by_model",
    &["nv_inference_compute_output_duration_us"],
);
static FIRST_RESPONSE: Alias = dist(
    "first_response_ms",
    &["nv_inference_first_response_histogram_ms"],
);

/// The whole table: every exposed name this mapper reads.
pub(crate) static ALIASES: &[&Alias] = &[
    &REQUESTS,
    &KV_BLOCKS,
    &MEMORY,
    &BATCHER,
    &GENERAL,
    &SUCCESS,
    &FAILURE,
    &INFERENCES,
    &EXECUTIONS,
    &PENDING,
    &REQUEST_US,
    &QUEUE_US,
    &INPUT_US,
    &INFER_US,
    &OUTPUT_US,
    &FIRST_RESPONSE,
];

const REQUEST_TYPE: &str = "request_type";
const BLOCK_TYPE: &str = "kv_cache_block_type";

/// Map a Triton exposition.
///
/// * running = `nv_trt_llm_request_metrics{request_type="scheduled"}`,
///   waiting = `…{request_type="waiting"}` (as GIE reads them), or
///   `nv_inference_pending_request_count` without the TRT-LLM backend; both
///   summed over models. kv_cache_usage = mean of
///   `nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction"}`;
///   kv_cache_capacity_tokens = `tokens_per × max` per `model`, summed. No
///   LoRA or DP figures.
/// * succeeded = `nv_inference_request_success`, failed =
///   `nv_inference_request_failure`, summed over models (an ensemble counts
///   a request once per composing model: see the per-model fields). No token
///   counters or preemptions.
/// * latency: none. Triton's latency is cumulative µs counters (in the
///   `duration` group); its opt-in first-response histogram is in ms and is
///   not TTFT for non-streaming requests (`request` group).
pub(crate) fn map(ix: &Index<'_, '_>) -> EngineSnapshot {
    let sum = |a: &Alias| ix.resolve(a).and_then(|n| ix.sum(n));
    let requests = ix.resolve(&REQUESTS);
    let kv = ix.resolve(&KV_BLOCKS);
    EngineSnapshot {
        engine: SPEC.id,
        incarnation: Default::default(),
        model_names: ix.model_names(),
        load: Load {
            requests_running: requests.and_then(|n| ix.sum_where(n, REQUEST_TYPE, &["scheduled"])),
            requests_waiting: requests
                .and_then(|n| ix.sum_where(n, REQUEST_TYPE, &["waiting"]))
                .or_else(|| sum(&PENDING)),
            kv_cache_usage: kv.and_then(|n| ix.mean_where(n, BLOCK_TYPE, "fraction")),
            kv_cache_capacity_tokens: kv.and_then(|n| capacity(ix, n)),
            ..Load::default()
        },
        totals: Totals {
            requests_succeeded: sum(&SUCCESS),
            requests_failed: sum(&FAILURE),
            ..Totals::default()
        },
        latency: Latency::default(),
        engine_metrics: groups(ix),
    }
}

/// Σ over models of `tokens_per × max` blocks, pairing the two series of a
/// model by their `model` label.
fn capacity(ix: &Index<'_, '_>, name: &str) -> Option<f64> {
    let of = |s: &&crate::engines::series::Point<'_>, kind: &str| {
        s.labels.get(BLOCK_TYPE).is_some_and(|v| v == kind)
    };
    let mut total = None;
    for max in ix.get(name).iter().filter(|s| of(s, "max")) {
        let model = max.labels.get("model");
        if let Some(per) = ix
            .get(name)
            .iter()
            .find(|s| of(s, "tokens_per") && s.labels.get("model") == model)
        {
            *total.get_or_insert(0.0) += per.value * max.value;
        }
    }
    total
}

/// One series of a selector-labelled family, named with its selector.
fn select(
    ix: &Index<'_, '_>,
    alias: &Alias,
    label: &str,
    value: &str,
    fold: fn(&Index<'_, '_>, &str, &str, &str) -> Option<f64>,
) -> Option<Found> {
    let name = ix.resolve(alias)?;
    let v = fold(ix, name, label, value)?;
    Some((
        format!("{name}{{{label}=\"{value}\"}}"),
        MetricValue::Number(v),
    ))
}

fn sum_one(ix: &Index<'_, '_>, name: &str, label: &str, value: &str) -> Option<f64> {
    ix.sum_where(name, label, &[value])
}

fn mean_one(ix: &Index<'_, '_>, name: &str, label: &str, value: &str) -> Option<f64> {
    ix.mean_where(name, label, value)
}

fn max_one(ix: &Index<'_, '_>, name: &str, label: &str, value: &str) -> Option<f64> {
    ix.max_where(name, label, value)
}

/// The `request`, `cache`, `duration` and `backend` groups.
fn groups(ix: &Index<'_, '_>) -> Vec<crate::snapshot::EngineGroup> {
    let mut out = Vec::new();

    let mut g = GroupBuilder::new("request");
    for kind in ["waiting", "scheduled", "context", "active", "max"] {
        g.add(kind, select(ix, &REQUESTS, REQUEST_TYPE, kind, sum_one));
    }
    for a in [&SUCCESS, &FAILURE, &INFERENCES, &EXECUTIONS, &PENDING] {
        g.add(a.field, ix.read_by(a, "model"));
    }
    g.add("failure_by_reason", ix.read_by(&FAILURE, "reason"))
        .add(FIRST_RESPONSE.field, ix.read_dist(&FIRST_RESPONSE));
    g.finish(&mut out);

    let mut g = GroupBuilder::new("cache");
    g.add(
        "kv_cache_fraction",
        select(ix, &KV_BLOCKS, BLOCK_TYPE, "fraction", mean_one),
    )
    .add(
        "kv_cache_fraction_max",
        select(ix, &KV_BLOCKS, BLOCK_TYPE, "fraction", max_one),
    )
    .add(
        "tokens_per_block",
        select(ix, &KV_BLOCKS, BLOCK_TYPE, "tokens_per", max_one),
    );
    for (field, kind) in [
        ("used_blocks", "used"),
        ("free_blocks", "free"),
        ("max_blocks", "max"),
    ] {
        g.add(field, select(ix, &KV_BLOCKS, BLOCK_TYPE, kind, sum_one));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("duration");
    for a in [&REQUEST_US, &QUEUE_US, &INPUT_US, &INFER_US, &OUTPUT_US] {
        g.add(a.field, ix.read_by(a, "model"));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("backend");
    g.add(MEMORY.field, ix.read_by(&MEMORY, "memory_type"))
        .add(
            BATCHER.field,
            ix.read_by(&BATCHER, "inflight_batcher_specific_metric"),
        )
        .add(GENERAL.field, ix.read_by(&GENERAL, "general_type"));
    g.finish(&mut out);

    out
}
