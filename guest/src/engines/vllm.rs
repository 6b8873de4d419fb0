//! vLLM mapper: V0 (0.6.x, label `model_name` only) and V1 (0.8 → 0.33,
//! labels `model_name` and `engine`, one series per data-parallel engine).
//!
//! Guarantees: every name read is in the alias table below (canonical field →
//! accepted exposed names, newest first, per `engines.md` §1.4 and §8), and is
//! matched exactly, so the `*_created` gauges of a single-API-server V1
//! exposition are never read. Counters, histograms and the running/waiting
//! gauges are summed over `engine` and `model_name`; KV-cache usage is the
//! mean over series (see [`map`]). A metric the server does not expose leaves
//! its figure `None` and its field out of its group.

use super::kit::{EngineSpec, GroupBuilder};
use super::series::{Alias, Found, Index, dist, series};
use crate::distribution::parse_bound;
use crate::snapshot::{EngineSnapshot, Latency, Load, MetricValue, Totals};

/// The prefix every vLLM engine family carries.
pub(crate) const PREFIX: &str = "vllm:";

/// vLLM in the engine list.
pub(crate) const SPEC: EngineSpec = EngineSpec {
    id: "vllm",
    name: "vLLM",
    versions: "V0 0.6.x; V1 0.8 to 0.33",
    prefixes: &[PREFIX],
    requested_only: &[],
    model_label: Some("model_name"),
    table: ALIASES,
    map,
};

// Load and request flow.
static RUNNING: Alias = series("running", &["vllm:num_requests_running"]);
static WAITING: Alias = series("waiting", &["vllm:num_requests_waiting"]);
static WAITING_BY_REASON: Alias = series(
    "waiting_by_reason",
    &["vllm:num_requests_waiting_by_reason"],
);
static SWAPPED: Alias = series("swapped", &["vllm:num_requests_swapped"]); // V0 only
static FINISHED: Alias = series("finished_by_reason", &["vllm:request_success_total"]);
static PREEMPTIONS: Alias = series("preemptions", &["vllm:num_preemptions_total"]);
static ADMISSION_REJECTIONS: Alias =
    series("admission_rejections", &["vllm:admission_rejections_total"]);
static HTTP_REQUESTS: Alias = series("http_requests_by_status", &["http_requests_total"]);
static SLEEP_STATE: Alias = series("sleep_state", &["vllm:engine_sleep_state"]);
static QUEUE_TIME: Alias = dist("queue_time_seconds", &["vllm:request_queue_time_seconds"]);
static PREFILL_TIME: Alias = dist(
    "prefill_time_seconds",
    &["vllm:request_prefill_time_seconds"],
);
static DECODE_TIME: Alias = dist("decode_time_seconds", &["vllm:request_decode_time_seconds"]);
static INFERENCE_TIME: Alias = dist(
    "inference_time_seconds",
    &["vllm:request_inference_time_seconds"],
);
static E2E: Alias = dist(
    "e2e_request_latency_seconds",
    &["vllm:e2e_request_latency_seconds"],
);
static PROMPT_PER_REQUEST: Alias =
    dist("prompt_tokens_per_request", &["vllm:request_prompt_tokens"]);
static GENERATION_PER_REQUEST: Alias = dist(
    "generation_tokens_per_request",
    &["vllm:request_generation_tokens"],
);

// Cache.
static KV_USAGE: Alias = series(
    "kv_cache_usage",
    &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
);
static CPU_USAGE: Alias = series("cpu_cache_usage", &["vllm:cpu_cache_usage_perc"]); // V0 only
static PREFIX_QUERIES: Alias = series(
    "prefix_cache_queries",
    &[
        "vllm:prefix_cache_queries_total",
        "vllm:gpu_prefix_cache_queries_total",
    ],
);
static PREFIX_HITS: Alias = series(
    "prefix_cache_hits",
    &[
        "vllm:prefix_cache_hits_total",
        "vllm:gpu_prefix_cache_hits_total",
    ],
);
static GPU_HIT_RATE: Alias = series(
    "gpu_prefix_cache_hit_rate",
    &["vllm:gpu_prefix_cache_hit_rate"],
); // V0
static CPU_HIT_RATE: Alias = series(
    "cpu_prefix_cache_hit_rate",
    &["vllm:cpu_prefix_cache_hit_rate"],
); // V0
static CACHE_CONFIG: Alias = series("cache_config", &["vllm:cache_config_info"]);
static LORA: Alias = series("lora", &["vllm:lora_requests_info"]);

// Throughput.
static PROMPT_TOKENS: Alias = series("prompt_tokens", &["vllm:prompt_tokens_total"]);
/// Prompt tokens served from the prefix cache, counted at prefill (0.15+).
static PROMPT_CACHED: Alias = series("prompt_tokens_cached", &["vllm:prompt_tokens_cached_total"]);
static GENERATION_TOKENS: Alias = series("generation_tokens", &["vllm:generation_tokens_total"]);
static ITERATION_TOKENS: Alias = dist("iteration_tokens", &["vllm:iteration_tokens_total"]);
static TTFT: Alias = dist(
    "time_to_first_token_seconds",
    &["vllm:time_to_first_token_seconds"],
);
static ITL: Alias = dist(
    "inter_token_latency_seconds",
    &[
        "vllm:inter_token_latency_seconds",
        "vllm:time_per_output_token_seconds",
    ],
);
static TPOT: Alias = dist(
    "request_time_per_output_token_seconds",
    &["vllm:request_time_per_output_token_seconds"],
);
static AVG_PROMPT_THROUGHPUT: Alias = series(
    "avg_prompt_throughput_toks_per_s",
    &["vllm:avg_prompt_throughput_toks_per_s"],
); // V0 only
static AVG_GENERATION_THROUGHPUT: Alias = series(
    "avg_generation_throughput_toks_per_s",
    &["vllm:avg_generation_throughput_toks_per_s"],
); // V0 only

/// The whole table: every exposed name this mapper reads.
pub(crate) static ALIASES: &[&Alias] = &[
    &RUNNING,
    &WAITING,
    &WAITING_BY_REASON,
    &SWAPPED,
    &FINISHED,
    &PREEMPTIONS,
    &ADMISSION_REJECTIONS,
    &HTTP_REQUESTS,
    &SLEEP_STATE,
    &QUEUE_TIME,
    &PREFILL_TIME,
    &DECODE_TIME,
    &INFERENCE_TIME,
    &E2E,
    &PROMPT_PER_REQUEST,
    &GENERATION_PER_REQUEST,
    &KV_USAGE,
    &CPU_USAGE,
    &PREFIX_QUERIES,
    &PREFIX_HITS,
    &GPU_HIT_RATE,
    &CPU_HIT_RATE,
    &CACHE_CONFIG,
    &LORA,
    &PROMPT_TOKENS,
    &PROMPT_CACHED,
    &GENERATION_TOKENS,
    &ITERATION_TOKENS,
    &TTFT,
    &ITL,
    &TPOT,
    &AVG_PROMPT_THROUGHPUT,
    &AVG_GENERATION_THROUGHPUT,
];

/// `finished_reason` values that count as a normal finish.
const SUCCEEDED: &[&str] = &["stop", "length", "repetition"];
/// `finished_reason` values that count as a failure (`error` from 0.13).
const FAILED: &[&str] = &["abort", "error"];

/// Map a vLLM exposition.
///
/// Aggregation: counters, histograms and running/waiting are summed over
/// `engine` (DP rank) and `model_name`. `load.kv_cache_usage` is the **mean**
/// of the per-engine fractions: DP engines of one server are started with the
/// same model and `gpu_memory_utilization`, so they own equal numbers of KV
/// blocks, and the mean of equal-sized pools' usage equals the pooled usage.
/// The `cache` group also carries the max, the figure to watch for one
/// saturated engine.
///
/// Totals: succeeded = `vllm:request_success_total` over `finished_reason` ∈
/// {stop, length, repetition} (`None` without that counter); failed = over
/// {abort, error}, `None` when no such series exists (V0 creates only the
/// reasons it saw). vLLM has no failure counter beyond these. Rejected =
/// `vllm:admission_rejections_total` over `reason` (0.32+): requests refused
/// before admission, neither successes nor failures. Prompt tokens are every
/// prompt token (vLLM counts cache hits in them); cached = the
/// `vllm:prompt_tokens_cached_total` counter, else the prefix-cache hits.
pub(crate) fn map(ix: &Index<'_, '_>) -> EngineSnapshot {
    let sum = |a: &Alias| ix.resolve(a).and_then(|n| ix.sum(n));
    let success = ix.resolve(&FINISHED);
    let totals = Totals {
        requests_succeeded: success
            .map(|n| ix.sum_where(n, "finished_reason", SUCCEEDED).unwrap_or(0.0)),
        requests_failed: success.and_then(|n| ix.sum_where(n, "finished_reason", FAILED)),
        requests_rejected: sum(&ADMISSION_REJECTIONS),
        prompt_tokens: sum(&PROMPT_TOKENS),
        // Counted at prefill where exposed; before that, the prefix-cache
        // hits (counted at scheduling: the same tokens, a step earlier).
        prompt_tokens_cached: sum(&PROMPT_CACHED).or_else(|| sum(&PREFIX_HITS)),
        generation_tokens: sum(&GENERATION_TOKENS),
        preemptions: sum(&PREEMPTIONS),
    };
    let [max_lora, running_lora, waiting_lora] = lora(ix);
    let names = |f: Option<Found>| match f {
        Some((_, MetricValue::Names(n))) => Some(n),
        _ => None,
    };
    let load = Load {
        requests_running: sum(&RUNNING),
        requests_waiting: sum(&WAITING),
        kv_cache_usage: ix.resolve(&KV_USAGE).and_then(|n| ix.mean(n)),
        kv_cache_capacity_tokens: capacity_tokens(ix),
        running_lora_adapters: names(running_lora),
        waiting_lora_adapters: names(waiting_lora),
        max_lora: match max_lora {
            Some((_, MetricValue::Number(n))) => Some(n),
            _ => None,
        },
        data_parallel_ranks: ix
            .resolve(&RUNNING)
            .map(|n| ix.distinct(n, "engine").len())
            .filter(|&n| n > 0)
            .and_then(|n| u32::try_from(n).ok()),
    };
    let d = |a: &Alias| ix.distribution(a).map(|(_, d)| d);
    let latency = Latency {
        time_to_first_token_seconds: d(&TTFT),
        inter_token_latency_seconds: d(&ITL),
        e2e_request_latency_seconds: d(&E2E),
        queue_time_seconds: d(&QUEUE_TIME),
    };
    let model_names = ix.model_names();
    EngineSnapshot {
        engine: SPEC.id,
        incarnation: Default::default(),
        model_names,
        load,
        totals,
        latency,
        engine_metrics: groups(ix),
    }
}

/// The `request`, `cache`, `throughput` and `engine` groups.
fn groups(ix: &Index<'_, '_>) -> Vec<crate::snapshot::EngineGroup> {
    let mut out = Vec::new();

    let mut g = GroupBuilder::new("request");
    g.add(RUNNING.field, ix.read_sum(&RUNNING))
        .add(WAITING.field, ix.read_sum(&WAITING))
        .add(
            WAITING_BY_REASON.field,
            ix.read_by(&WAITING_BY_REASON, "reason"),
        )
        .add(SWAPPED.field, ix.read_sum(&SWAPPED))
        .add(FINISHED.field, ix.read_by(&FINISHED, "finished_reason"))
        .add(PREEMPTIONS.field, ix.read_sum(&PREEMPTIONS))
        .add(
            ADMISSION_REJECTIONS.field,
            ix.read_by(&ADMISSION_REJECTIONS, "reason"),
        )
        .add(HTTP_REQUESTS.field, ix.read_by(&HTTP_REQUESTS, "status"));
    for a in [
        &QUEUE_TIME,
        &PREFILL_TIME,
        &DECODE_TIME,
        &INFERENCE_TIME,
        &E2E,
        &PROMPT_PER_REQUEST,
        &GENERATION_PER_REQUEST,
    ] {
        g.add(a.field, ix.read_dist(a));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("cache");
    g.add(KV_USAGE.field, ix.read_mean(&KV_USAGE))
        .add("kv_cache_usage_max", ix.read_max(&KV_USAGE))
        .add(CPU_USAGE.field, ix.read_mean(&CPU_USAGE))
        .add(PREFIX_QUERIES.field, ix.read_sum(&PREFIX_QUERIES))
        .add(PREFIX_HITS.field, ix.read_sum(&PREFIX_HITS))
        .add("prefix_cache_hit_ratio", hit_ratio(ix))
        .add(GPU_HIT_RATE.field, hit_rate_gauge(ix, &GPU_HIT_RATE))
        .add(CPU_HIT_RATE.field, hit_rate_gauge(ix, &CPU_HIT_RATE))
        .add("block_size", config_label(ix, "block_size"))
        .add("num_gpu_blocks", config_label(ix, "num_gpu_blocks"));
    let [max_lora, running, waiting] = lora(ix);
    g.add("max_lora", max_lora)
        .add("running_lora_adapters", running)
        .add("waiting_lora_adapters", waiting);
    g.finish(&mut out);

    let mut g = GroupBuilder::new("throughput");
    g.add(PROMPT_TOKENS.field, ix.read_sum(&PROMPT_TOKENS))
        .add(PROMPT_CACHED.field, ix.read_sum(&PROMPT_CACHED))
        .add(GENERATION_TOKENS.field, ix.read_sum(&GENERATION_TOKENS));
    for a in [&ITERATION_TOKENS, &TTFT, &ITL, &TPOT] {
        g.add(a.field, ix.read_dist(a));
    }
    g.add(
        AVG_PROMPT_THROUGHPUT.field,
        ix.read_sum(&AVG_PROMPT_THROUGHPUT),
    )
    .add(
        AVG_GENERATION_THROUGHPUT.field,
        ix.read_sum(&AVG_GENERATION_THROUGHPUT),
    );
    g.finish(&mut out);

    let mut g = GroupBuilder::new("engine");
    g.add("engines", engines(ix))
        .add(SLEEP_STATE.field, ix.read_by(&SLEEP_STATE, "sleep_state"));
    g.finish(&mut out);

    out
}

/// Cumulative prefix-cache hit ratio, hits / queries (tokens since start;
/// the rate over an interval needs two snapshots). `None` without both
/// counters or with no queries yet.
fn hit_ratio(ix: &Index<'_, '_>) -> Option<Found> {
    let q = ix.resolve(&PREFIX_QUERIES)?;
    let h = ix.resolve(&PREFIX_HITS)?;
    let (queries, hits) = (ix.sum(q)?, ix.sum(h)?);
    (queries > 0.0).then(|| (format!("{h} / {q}"), MetricValue::Number(hits / queries)))
}

/// A V0 hit-rate gauge, left out when −1 (prefix caching disabled).
fn hit_rate_gauge(ix: &Index<'_, '_>, alias: &Alias) -> Option<Found> {
    ix.read(alias, |ix, n| {
        let v = ix.mean(n)?;
        (v >= 0.0).then_some(MetricValue::Number(v))
    })
}

/// KV capacity in tokens, summed over every `vllm:cache_config_info` series
/// (one per DP engine in V1): the `kv_cache_size_tokens` label where it
/// exists (0.32+, what vLLM itself computed), else `num_gpu_blocks ×
/// block_size`. `None` unless some series carries one of them as numbers.
fn capacity_tokens(ix: &Index<'_, '_>) -> Option<f64> {
    let name = ix.resolve(&CACHE_CONFIG)?;
    let number = |s: &crate::engines::series::Point<'_>, label: &str| {
        parse_bound(&s.labels.get(label)?).filter(|v| v.is_finite())
    };
    let mut total = None;
    for s in ix.get(name) {
        let blocks = || Some(number(s, "num_gpu_blocks")? * number(s, "block_size")?);
        if let Some(tokens) = number(s, "kv_cache_size_tokens").or_else(blocks) {
            *total.get_or_insert(0.0) += tokens;
        }
    }
    total
}

/// A numeric label of `vllm:cache_config_info`, from the first series that
/// carries it as a number (every DP engine has the same cache config; a label
/// reading `None` is not a number and is left out).
fn config_label(ix: &Index<'_, '_>, label: &str) -> Option<Found> {
    ix.read(&CACHE_CONFIG, |ix, n| {
        ix.get(n).iter().find_map(|s| {
            let v = parse_bound(&s.labels.get(label)?)?;
            v.is_finite().then_some(MetricValue::Number(v))
        })
    })
}

/// `max_lora`, `running_lora_adapters` and `waiting_lora_adapters` from the
/// `vllm:lora_requests_info` series with the largest value: its value is the
/// time of its last update, and old label combinations are never deleted.
fn lora(ix: &Index<'_, '_>) -> [Option<Found>; 3] {
    let Some(name) = ix.resolve(&LORA) else {
        return [None, None, None];
    };
    let Some(latest) = ix.argmax(name) else {
        return [None, None, None];
    };
    let found = |value: Option<MetricValue>| value.map(|v| (name.to_string(), v));
    let names = |label: &str| {
        latest.labels.get(label).map(|list| {
            MetricValue::Names(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        })
    };
    let max_lora = latest
        .labels
        .get("max_lora")
        .and_then(|v| parse_bound(&v))
        .filter(|v| v.is_finite())
        .map(MetricValue::Number);
    [
        found(max_lora),
        found(names("running_lora_adapters")),
        found(names("waiting_lora_adapters")),
    ]
}

/// The number of data-parallel engines: distinct `engine` label values of
/// `vllm:num_requests_running` (V1 creates it for every engine at start-up).
/// Left out for V0, which has no `engine` label.
fn engines(ix: &Index<'_, '_>) -> Option<Found> {
    ix.read(&RUNNING, |ix, n| {
        let engines = ix.distinct(n, "engine");
        (!engines.is_empty()).then_some(MetricValue::Number(engines.len() as f64))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_table_is_exact_vllm_names() {
        let mut fields = std::collections::BTreeSet::new();
        for alias in ALIASES {
            assert!(
                fields.insert(alias.field),
                "duplicate field {}",
                alias.field
            );
            assert!(!alias.names.is_empty());
            for name in alias.names {
                assert!(
                    name.starts_with(PREFIX) || *name == "http_requests_total",
                    "{name} is not a vLLM name"
                );
                assert!(!name.ends_with("_created"), "{name}");
                if alias.kind == crate::engines::series::Kind::Distribution {
                    assert!(
                        !name.ends_with("_bucket") && !name.ends_with("_count"),
                        "{name}"
                    );
                }
            }
        }
    }
}
