//! SGLang mapper (0.4.x → 0.5.23, `--enable-metrics`; prometheus_client in
//! multiprocess mode).
//!
//! Guarantees: every name read is in the alias table below (per `engines.md`
//! §3, renames as aliases, newest first) and matched exactly. Counters,
//! histograms and the running/waiting gauges are **summed over every label**:
//! the rank labels `tp_rank`, `pp_rank`, `dp_rank`, `moe_ep_rank`, the
//! tokenizer's `is_streaming`, `priority`, and the `pid` label that gauges in
//! prometheus_client's `all` mode carry (`num_retracted_reqs`,
//! `num_paused_reqs`). Fractions (`token_usage`, `cache_hit_rate`) are the
//! **mean** over series, with the max beside it in the `cache` group; no
//! series is ever picked as "the first". `sglang:routing_key_*_req_count` are
//! non-cumulative gauges with `gt`/`le` labels: they are reported per `le`
//! value and never read as histogram buckets. Anything not exposed is `None`
//! or left out.

use super::kit::{EngineSpec, GroupBuilder};
use super::series::{Alias, Found, Index, dist, series};
use crate::distribution::parse_bound;
use crate::snapshot::{EngineSnapshot, Latency, Load, MetricValue, Totals};

/// The prefix every SGLang family carries.
pub(crate) const PREFIX: &str = "sglang:";

/// SGLang in the engine list.
pub(crate) const SPEC: EngineSpec = EngineSpec {
    id: "sglang",
    name: "SGLang",
    versions: "0.4.x to 0.5.23",
    prefixes: &[PREFIX],
    requested_only: &[],
    model_label: Some("model_name"),
    table: ALIASES,
    map,
};

// Load and requests.
static RUNNING: Alias = series("running", &["sglang:num_running_reqs"]);
static WAITING: Alias = series("waiting", &["sglang:num_queue_reqs"]);
static REQUESTS: Alias = series("finished_requests", &["sglang:num_requests_total"]);
static ABORTED: Alias = series("aborted_requests", &["sglang:num_aborted_requests_total"]);
static SO_REQUESTS: Alias = series(
    "structured_output_requests",
    &["sglang:num_so_requests_total"],
);
static RETRACTED: Alias = series(
    "retracted",
    &["sglang:num_retracted_reqs", "sglang:total_retracted_reqs"],
);
static PAUSED: Alias = series("paused", &["sglang:num_paused_reqs"]);
static PREFILL_INFLIGHT: Alias = series(
    "prefill_inflight_queue",
    &[
        "sglang:num_prefill_inflight_queue_reqs",
        "sglang:num_prefill_infight_queue_reqs",
    ],
);
static HTTP_RESPONSES: Alias = series("http_responses_by_status", &["sglang:http_responses_total"]);
static QUEUE_TIME: Alias = dist("queue_time_seconds", &["sglang:queue_time_seconds"]);
static AVG_QUEUE_LATENCY: Alias = series(
    "avg_request_queue_latency_seconds",
    &["sglang:avg_request_queue_latency"],
); // 0.4.10 gauge, replaced by the queue_time_seconds histogram
static E2E: Alias = dist(
    "e2e_request_latency_seconds",
    &["sglang:e2e_request_latency_seconds"],
);
static PROMPT_HIST: Alias = dist(
    "prompt_tokens_per_request",
    &["sglang:prompt_tokens_histogram"],
);
static UNCACHED_PROMPT_HIST: Alias = dist(
    "uncached_prompt_tokens_per_request",
    &["sglang:uncached_prompt_tokens_histogram"],
);
static GENERATION_HIST: Alias = dist(
    "generation_tokens_per_request",
    &["sglang:generation_tokens_histogram"],
);
static ROUTING_RUNNING: Alias = series(
    "routing_key_running_req_count",
    &["sglang:routing_key_running_req_count"],
);
static ROUTING_ALL: Alias = series(
    "routing_key_all_req_count",
    &["sglang:routing_key_all_req_count"],
);

// Cache.
static TOKEN_USAGE: Alias = series("token_usage", &["sglang:token_usage"]);
static FULL_TOKEN_USAGE: Alias = series("full_token_usage", &["sglang:full_token_usage"]);
static SWA_TOKEN_USAGE: Alias = series("swa_token_usage", &["sglang:swa_token_usage"]);
static MAMBA_USAGE: Alias = series("mamba_usage", &["sglang:mamba_usage"]);
static USED_TOKENS: Alias = series("num_used_tokens", &["sglang:num_used_tokens"]);
static KV_USED: Alias = series("kv_used_tokens", &["sglang:kv_used_tokens"]);
static KV_AVAILABLE: Alias = series("kv_available_tokens", &["sglang:kv_available_tokens"]);
static KV_EVICTABLE: Alias = series("kv_evictable_tokens", &["sglang:kv_evictable_tokens"]);
static CACHE_HIT_RATE: Alias = series("cache_hit_rate", &["sglang:cache_hit_rate"]);
static CACHED_TOKENS: Alias = series("cached_tokens", &["sglang:cached_tokens_total"]);
static MAX_TOTAL_TOKENS: Alias = series("max_total_num_tokens", &["sglang:max_total_num_tokens"]);
static PAGE_SIZE: Alias = series("page_size", &["sglang:page_size"]);
static NUM_PAGES: Alias = series("num_pages", &["sglang:num_pages"]);
static CACHE_CONFIG: Alias = series("cache_config", &["sglang:cache_config_info"]); // GIE's name; not in 0.5.23
static CONTEXT_LEN: Alias = series("context_len", &["sglang:context_len"]);
static WEIGHT_MEMORY: Alias = series("weight_memory_usage_gb", &["sglang:weight_memory_usage_gb"]);
static KV_MEMORY: Alias = series(
    "kv_cache_memory_usage_gb",
    &["sglang:kv_cache_memory_usage_gb"],
);
static GRAPH_MEMORY: Alias = series("graph_memory_usage_gb", &["sglang:graph_memory_usage_gb"]);

// Throughput.
static PROMPT_TOKENS: Alias = series("prompt_tokens", &["sglang:prompt_tokens_total"]);
static GENERATION_TOKENS: Alias = series("generation_tokens", &["sglang:generation_tokens_total"]);
static REALTIME_TOKENS: Alias = series("realtime_tokens", &["sglang:realtime_tokens_total"]);
static GEN_THROUGHPUT: Alias = series("gen_throughput_toks_per_s", &["sglang:gen_throughput"]);
static TTFT: Alias = dist(
    "time_to_first_token_seconds",
    &["sglang:time_to_first_token_seconds"],
);
static ITL: Alias = dist(
    "inter_token_latency_seconds",
    &[
        "sglang:inter_token_latency_seconds",
        "sglang:time_per_output_token_seconds",
    ],
);
static TPOT: Alias = dist(
    "request_time_per_output_token_seconds",
    &["sglang:request_time_per_output_token_seconds"],
);

/// The whole table: every exposed name this mapper reads.
pub(crate) static ALIASES: &[&Alias] = &[
    &RUNNING,
    &WAITING,
    &REQUESTS,
    &ABORTED,
    &SO_REQUESTS,
    &RETRACTED,
    &PAUSED,
    &PREFILL_INFLIGHT,
    &HTTP_RESPONSES,
    &QUEUE_TIME,
    &AVG_QUEUE_LATENCY,
    &E2E,
    &PROMPT_HIST,
    &UNCACHED_PROMPT_HIST,
    &GENERATION_HIST,
    &ROUTING_RUNNING,
    &ROUTING_ALL,
    &TOKEN_USAGE,
    &FULL_TOKEN_USAGE,
    &SWA_TOKEN_USAGE,
    &MAMBA_USAGE,
    &USED_TOKENS,
    &KV_USED,
    &KV_AVAILABLE,
    &KV_EVICTABLE,
    &CACHE_HIT_RATE,
    &CACHED_TOKENS,
    &MAX_TOTAL_TOKENS,
    &PAGE_SIZE,
    &NUM_PAGES,
    &CACHE_CONFIG,
    &CONTEXT_LEN,
    &WEIGHT_MEMORY,
    &KV_MEMORY,
    &GRAPH_MEMORY,
    &PROMPT_TOKENS,
    &GENERATION_TOKENS,
    &REALTIME_TOKENS,
    &GEN_THROUGHPUT,
    &TTFT,
    &ITL,
    &TPOT,
];

/// Map an SGLang exposition.
///
/// * running = `sglang:num_running_reqs`, waiting = `sglang:num_queue_reqs`,
///   both summed over ranks; kv_cache_usage = mean of `sglang:token_usage`.
/// * kv_cache_capacity_tokens = `sglang:max_total_num_tokens` summed over
///   its series (one per DP rank when only attn-TP rank 0 reports, the
///   default), else `page_size × num_pages` (gauges, or GIE's
///   `sglang:cache_config_info` labels). data_parallel_ranks = distinct
///   `dp_rank` values of `num_running_reqs` (`None` without DP: no label).
///   No LoRA figures (`None`).
/// * succeeded = `sglang:num_requests_total` (requests that finished, as
///   SGLang counts them; like the token counters it moves only when a request
///   finishes), failed = `sglang:num_aborted_requests_total`. Preemptions:
///   SGLang exposes only the current retracted count (engine group), `None`.
/// * latency: TTFT, ITL (`time_per_output_token_seconds` in 0.4.3), e2e, and
///   queue = `sglang:queue_time_seconds` (0.5; its `le="0.0"` bucket counts
///   requests never queued). 0.4.10's `avg_request_queue_latency` is a gauge,
///   not a distribution: it is in the `request` group only.
pub(crate) fn map(ix: &Index<'_, '_>) -> EngineSnapshot {
    let sum = |a: &Alias| ix.resolve(a).and_then(|n| ix.sum(n));
    let d = |a: &Alias| ix.distribution(a).map(|(_, d)| d);
    let load = Load {
        requests_running: sum(&RUNNING),
        requests_waiting: sum(&WAITING),
        kv_cache_usage: ix.resolve(&TOKEN_USAGE).and_then(|n| ix.mean(n)),
        kv_cache_capacity_tokens: sum(&MAX_TOTAL_TOKENS).or_else(|| {
            let (size, pages) = (page_size(ix)?, num_pages(ix)?);
            Some(size.1 * pages.1)
        }),
        data_parallel_ranks: ix
            .resolve(&RUNNING)
            .map(|n| ix.distinct(n, "dp_rank").len())
            .filter(|&n| n > 0)
            .and_then(|n| u32::try_from(n).ok()),
        ..Load::default()
    };
    let totals = Totals {
        requests_succeeded: sum(&REQUESTS),
        requests_failed: sum(&ABORTED),
        prompt_tokens: sum(&PROMPT_TOKENS),
        prompt_tokens_cached: cached_tokens(ix),
        generation_tokens: sum(&GENERATION_TOKENS),
        ..Totals::default()
    };
    let latency = Latency {
        time_to_first_token_seconds: d(&TTFT),
        inter_token_latency_seconds: d(&ITL),
        e2e_request_latency_seconds: d(&E2E),
        queue_time_seconds: d(&QUEUE_TIME),
    };
    EngineSnapshot {
        engine: SPEC.id,
        incarnation: Default::default(),
        model_names: ix.model_names(),
        load,
        totals,
        latency,
        engine_metrics: groups(ix),
    }
}

/// A number from a gauge, or else from a numeric label of
/// `sglang:cache_config_info` (what GIE expects; no released wheel has it).
fn gauge_or_config(ix: &Index<'_, '_>, gauge: &Alias, label: &str) -> Option<(String, f64)> {
    if let Some(name) = ix.resolve(gauge) {
        return ix.max(name).map(|v| (name.to_string(), v));
    }
    let name = ix.resolve(&CACHE_CONFIG)?;
    ix.get(name).iter().find_map(|s| {
        let v = parse_bound(&s.labels.get(label)?)?;
        v.is_finite().then(|| (name.to_string(), v))
    })
}

/// Tokens per KV page (the same on every rank, so the max of the series).
fn page_size(ix: &Index<'_, '_>) -> Option<(String, f64)> {
    gauge_or_config(ix, &PAGE_SIZE, "page_size")
}

/// KV pages per rank (the same on every rank, so the max of the series).
fn num_pages(ix: &Index<'_, '_>) -> Option<(String, f64)> {
    gauge_or_config(ix, &NUM_PAGES, "num_pages")
}

fn number(found: Option<(String, f64)>) -> Option<Found> {
    found.map(|(metric, v)| (metric, MetricValue::Number(v)))
}

/// The `request`, `cache`, `throughput` and `engine` groups.
fn groups(ix: &Index<'_, '_>) -> Vec<crate::snapshot::EngineGroup> {
    let mut out = Vec::new();

    let mut g = GroupBuilder::new("request");
    for a in [
        &RUNNING,
        &WAITING,
        &REQUESTS,
        &ABORTED,
        &SO_REQUESTS,
        &RETRACTED,
        &PAUSED,
        &PREFILL_INFLIGHT,
    ] {
        g.add(a.field, ix.read_sum(a));
    }
    g.add(
        HTTP_RESPONSES.field,
        ix.read_by(&HTTP_RESPONSES, "status_code"),
    )
    .add(AVG_QUEUE_LATENCY.field, ix.read_mean(&AVG_QUEUE_LATENCY));
    for a in [
        &QUEUE_TIME,
        &E2E,
        &PROMPT_HIST,
        &UNCACHED_PROMPT_HIST,
        &GENERATION_HIST,
    ] {
        g.add(a.field, ix.read_dist(a));
    }
    // Gauge histograms: one value per bucket, read by `le` but not cumulative.
    for a in [&ROUTING_RUNNING, &ROUTING_ALL] {
        g.add(a.field, ix.read_by(a, "le"));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("cache");
    g.add(TOKEN_USAGE.field, ix.read_mean(&TOKEN_USAGE))
        .add("token_usage_max", ix.read_max(&TOKEN_USAGE));
    for a in [&FULL_TOKEN_USAGE, &SWA_TOKEN_USAGE, &MAMBA_USAGE] {
        g.add(a.field, ix.read_mean(a));
    }
    for a in [&USED_TOKENS, &KV_USED, &KV_AVAILABLE, &KV_EVICTABLE] {
        g.add(a.field, ix.read_sum(a));
    }
    g.add(CACHE_HIT_RATE.field, ix.read_mean(&CACHE_HIT_RATE))
        .add("cache_hit_rate_max", ix.read_max(&CACHE_HIT_RATE))
        .add(
            CACHED_TOKENS.field,
            ix.read_by(&CACHED_TOKENS, "cache_source"),
        )
        .add(MAX_TOTAL_TOKENS.field, ix.read_sum(&MAX_TOTAL_TOKENS))
        .add(PAGE_SIZE.field, number(page_size(ix)))
        .add(NUM_PAGES.field, number(num_pages(ix)))
        .add(CONTEXT_LEN.field, ix.read_max(&CONTEXT_LEN))
        .add(WEIGHT_MEMORY.field, ix.read_sum(&WEIGHT_MEMORY))
        .add(KV_MEMORY.field, ix.read_sum(&KV_MEMORY))
        .add(GRAPH_MEMORY.field, ix.read_by(&GRAPH_MEMORY, "phase"));
    g.finish(&mut out);

    let mut g = GroupBuilder::new("throughput");
    g.add(PROMPT_TOKENS.field, ix.read_sum(&PROMPT_TOKENS))
        .add(GENERATION_TOKENS.field, ix.read_sum(&GENERATION_TOKENS))
        .add(REALTIME_TOKENS.field, ix.read_by(&REALTIME_TOKENS, "mode"))
        .add(GEN_THROUGHPUT.field, ix.read_sum(&GEN_THROUGHPUT));
    for a in [&TTFT, &ITL, &TPOT] {
        g.add(a.field, ix.read_dist(a));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("engine");
    g.add("dp_ranks", ranks(ix, "dp_rank"))
        .add("tp_ranks", ranks(ix, "tp_rank"))
        .add("engine_type", engine_type(ix));
    g.finish(&mut out);

    out
}

/// Distinct values of a rank label on `sglang:num_running_reqs`.
fn ranks(ix: &Index<'_, '_>, label: &str) -> Option<Found> {
    ix.read(&RUNNING, |ix, n| {
        let values = ix.distinct(n, label);
        (!values.is_empty()).then_some(MetricValue::Number(values.len() as f64))
    })
}

/// The `engine_type` values (`unified`, `prefill`, `decode`, …) seen.
fn engine_type(ix: &Index<'_, '_>) -> Option<Found> {
    ix.read(&RUNNING, |ix, n| {
        let values = ix.distinct(n, "engine_type");
        (!values.is_empty())
            .then(|| MetricValue::Names(values.into_iter().map(String::from).collect()))
    })
}

/// Prompt tokens served from a cache: `sglang:cached_tokens_total` over
/// `cache_source`. Builds that also expose `cache_source="total"` (the sum
/// of the others) are read from it alone, so nothing is counted twice.
fn cached_tokens(ix: &Index<'_, '_>) -> Option<f64> {
    let n = ix.resolve(&CACHED_TOKENS)?;
    ix.sum_where(n, "cache_source", &["total"])
        .or_else(|| ix.sum(n))
}
