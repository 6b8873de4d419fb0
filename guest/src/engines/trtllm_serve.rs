//! TensorRT-LLM `trtllm-serve` mapper (`/prometheus/metrics`, prefix
//! `trtllm_`, prometheus_client; TensorRT-LLM 1.x).
//!
//! Guarantees: the load gauges are the five GIE reads (`engines.md` §5 and
//! §6.1); the request counter and histograms are those of TensorRT-LLM's
//! `MetricsCollector` (labels `model_name`, `engine_type`), as NVIDIA's
//! Dynamo documentation lists them for 1.1. Every name is matched exactly and
//! summed over labels; a fraction is the mean over series. Anything not
//! exposed is `None` or left out.

use super::kit::{EngineSpec, GroupBuilder};
use super::series::{Alias, Index, dist, series};
use crate::snapshot::{EngineSnapshot, Latency, Load, Totals};

/// The prefix every trtllm-serve family carries.
pub(crate) const PREFIX: &str = "trtllm_";

/// trtllm-serve in the engine list.
pub(crate) const SPEC: EngineSpec = EngineSpec {
    id: "trtllm-serve",
    name: "TensorRT-LLM trtllm-serve",
    versions: "TensorRT-LLM 1.x",
    prefixes: &[PREFIX],
    requested_only: UNPREFIXED,
    model_label: Some("model_name"),
    table: ALIASES,
    map,
};

static RUNNING: Alias = series("running", &["trtllm_num_requests_running"]);
static WAITING: Alias = series("waiting", &["trtllm_num_requests_waiting"]);
static KV_USAGE: Alias = series("kv_cache_utilization", &["trtllm_kv_cache_utilization"]);
static TOKENS_PER_BLOCK: Alias = series(
    "kv_cache_tokens_per_block",
    &["trtllm_kv_cache_tokens_per_block"],
);
static MAX_BLOCKS: Alias = series("kv_cache_max_blocks", &["trtllm_kv_cache_max_blocks"]);
// The request counter and four histograms, under the names releases before
// the `trtllm_` prefix exposed (TensorRT-LLM 1.1 release candidates: the five
// families of `MetricsCollector`, unprefixed; Dynamo added a prefix when it
// passed them through). Read only with `--engine trtllm-serve`
// ([`UNPREFIXED`]).
static SUCCESS: Alias = series(
    "finished_by_reason",
    &["trtllm_request_success_total", "request_success_total"],
);
static E2E: Alias = dist(
    "e2e_request_latency_seconds",
    &[
        "trtllm_e2e_request_latency_seconds",
        "e2e_request_latency_seconds",
    ],
);
static TTFT: Alias = dist(
    "time_to_first_token_seconds",
    &[
        "trtllm_time_to_first_token_seconds",
        "time_to_first_token_seconds",
    ],
);
static TPOT: Alias = dist(
    "time_per_output_token_seconds",
    &[
        "trtllm_time_per_output_token_seconds",
        "time_per_output_token_seconds",
    ],
);
static QUEUE: Alias = dist(
    "queue_time_seconds",
    &[
        "trtllm_request_queue_time_seconds",
        "request_queue_time_seconds",
    ],
);

/// The unprefixed families of releases before the `trtllm_` prefix: too
/// generic to detect (any exporter may use them), so they are the engine's
/// only when `trtllm-serve` is requested by id.
const UNPREFIXED: &[&str] = &[
    "request_success_",
    "e2e_request_latency_seconds",
    "time_to_first_token_seconds",
    "time_per_output_token_seconds",
    "request_queue_time_seconds",
];
// Token counters (recent 1.x mains): incremented once per finished request.
static PROMPT_TOKENS: Alias = series("prompt_tokens", &["trtllm_prompt_tokens_total"]);
static GENERATION_TOKENS: Alias = series("generation_tokens", &["trtllm_generation_tokens_total"]);
static PROMPT_CACHED: Alias = series(
    "prompt_tokens_cached",
    &["trtllm_prompt_cached_tokens_total"],
);
/// Requests refused by the server's request validation (HTTP 400), by
/// `http_code`: never admitted, so neither successes nor failures.
static REQUEST_ERRORS: Alias = series("request_errors", &["trtllm_request_error_total"]);

/// The whole table: every exposed name this mapper reads.
pub(crate) static ALIASES: &[&Alias] = &[
    &RUNNING,
    &WAITING,
    &KV_USAGE,
    &TOKENS_PER_BLOCK,
    &MAX_BLOCKS,
    &SUCCESS,
    &E2E,
    &TTFT,
    &TPOT,
    &QUEUE,
    &PROMPT_TOKENS,
    &GENERATION_TOKENS,
    &PROMPT_CACHED,
    &REQUEST_ERRORS,
];

/// `finished_reason` values that count as a normal finish (`not_finished`:
/// a disaggregated context-only server handed the request on).
const SUCCEEDED: &[&str] = &["stop", "length", "not_finished"];
/// `finished_reason` values that count as a failure: `timeout` is the only
/// failure the executor reports for an admitted request (a cancelled one,
/// e.g. a client disconnect, gets no finish reason and is not counted).
const FAILED: &[&str] = &["timeout"];

/// Map a trtllm-serve exposition.
///
/// * running = `trtllm_num_requests_running`, waiting =
///   `trtllm_num_requests_waiting`, kv_cache_usage = mean of
///   `trtllm_kv_cache_utilization`, kv_cache_capacity_tokens =
///   `trtllm_kv_cache_tokens_per_block × trtllm_kv_cache_max_blocks`
///   (summed over series when each carries both). No LoRA or DP figures.
/// * succeeded = `trtllm_request_success_total` over `finished_reason` ∈
///   {stop, length, not_finished}; failed over {timeout}, `None` when no
///   such series exists; rejected = `trtllm_request_error_total` (request
///   validation refusals). Prompt, generation and cached prompt tokens from
///   `trtllm_prompt_tokens_total`, `trtllm_generation_tokens_total` and
///   `trtllm_prompt_cached_tokens_total` where exposed (counted when a
///   request finishes). No preemptions.
/// * latency: TTFT, ITL = `trtllm_time_per_output_token_seconds`, e2e,
///   queue = `trtllm_request_queue_time_seconds`.
/// * Requested by id, the unprefixed names of the releases before the prefix
///   ([`UNPREFIXED`]) are read as the prefixed ones.
pub(crate) fn map(ix: &Index<'_, '_>) -> EngineSnapshot {
    let sum = |a: &Alias| ix.resolve(a).and_then(|n| ix.sum(n));
    let d = |a: &Alias| ix.distribution(a).map(|(_, d)| d);
    let success = ix.resolve(&SUCCESS);
    EngineSnapshot {
        engine: SPEC.id,
        incarnation: Default::default(),
        model_names: ix.model_names(),
        load: Load {
            requests_running: sum(&RUNNING),
            requests_waiting: sum(&WAITING),
            kv_cache_usage: ix.resolve(&KV_USAGE).and_then(|n| ix.mean(n)),
            kv_cache_capacity_tokens: capacity(ix),
            ..Load::default()
        },
        totals: Totals {
            requests_succeeded: success
                .map(|n| ix.sum_where(n, "finished_reason", SUCCEEDED).unwrap_or(0.0)),
            requests_failed: success.and_then(|n| ix.sum_where(n, "finished_reason", FAILED)),
            requests_rejected: sum(&REQUEST_ERRORS),
            prompt_tokens: sum(&PROMPT_TOKENS),
            prompt_tokens_cached: sum(&PROMPT_CACHED),
            generation_tokens: sum(&GENERATION_TOKENS),
            ..Totals::default()
        },
        latency: Latency {
            time_to_first_token_seconds: d(&TTFT),
            inter_token_latency_seconds: d(&TPOT),
            e2e_request_latency_seconds: d(&E2E),
            queue_time_seconds: d(&QUEUE),
        },
        engine_metrics: groups(ix),
    }
}

/// Tokens per block × max blocks. With one series each (one executor) that
/// is the product; with several, the products are paired in input order.
fn capacity(ix: &Index<'_, '_>) -> Option<f64> {
    let per = ix.get(ix.resolve(&TOKENS_PER_BLOCK)?);
    let max = ix.get(ix.resolve(&MAX_BLOCKS)?);
    if per.len() != max.len() {
        return None;
    }
    Some(per.iter().zip(max).map(|(p, m)| p.value * m.value).sum())
}

/// The `request` and `cache` groups.
fn groups(ix: &Index<'_, '_>) -> Vec<crate::snapshot::EngineGroup> {
    let mut out = Vec::new();

    let mut g = GroupBuilder::new("request");
    g.add(RUNNING.field, ix.read_sum(&RUNNING))
        .add(WAITING.field, ix.read_sum(&WAITING))
        .add(SUCCESS.field, ix.read_by(&SUCCESS, "finished_reason"))
        .add(
            REQUEST_ERRORS.field,
            ix.read_by(&REQUEST_ERRORS, "http_code"),
        );
    for a in [&E2E, &TTFT, &TPOT, &QUEUE] {
        g.add(a.field, ix.read_dist(a));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("cache");
    g.add(KV_USAGE.field, ix.read_mean(&KV_USAGE))
        .add("kv_cache_utilization_max", ix.read_max(&KV_USAGE))
        .add(TOKENS_PER_BLOCK.field, ix.read_max(&TOKENS_PER_BLOCK))
        .add(MAX_BLOCKS.field, ix.read_sum(&MAX_BLOCKS))
        .add(PROMPT_CACHED.field, ix.read_sum(&PROMPT_CACHED));
    g.finish(&mut out);

    let mut g = GroupBuilder::new("throughput");
    g.add(PROMPT_TOKENS.field, ix.read_sum(&PROMPT_TOKENS))
        .add(GENERATION_TOKENS.field, ix.read_sum(&GENERATION_TOKENS));
    g.finish(&mut out);

    out
}
