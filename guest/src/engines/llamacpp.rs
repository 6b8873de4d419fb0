//! llama.cpp `llama-server --metrics` mapper (Sept 2024 builds → current).
//!
//! Guarantees: every name read is in the alias table below (per `engines.md`
//! §4; `n_past_max` → `n_tokens_max` is an alias) and matched exactly. The
//! server writes values with C++'s default `%g`, **6 significant digits**, so
//! every counter of a million or more is already rounded in the text (e.g.
//! `1.28413e+06`); values are kept exactly as parsed, never "corrected".
//! KV-cache usage exists only in builds before May 2025 (PR #13660 removed
//! `kv_cache_usage_ratio` and `kv_cache_tokens`): `None` otherwise. There are
//! no labels (except `position`), no model name, no histograms and no request
//! counters, so latency and succeeded/failed are `None`.

use super::kit::{EngineSpec, GroupBuilder};
use super::series::{Alias, Found, Index, series};
use crate::snapshot::{EngineSnapshot, Latency, Load, MetricValue, Totals};

/// The prefix every llama.cpp family carries.
pub(crate) const PREFIX: &str = "llamacpp:";

/// llama.cpp in the engine list.
pub(crate) const SPEC: EngineSpec = EngineSpec {
    id: "llamacpp",
    name: "llama.cpp llama-server",
    versions: "builds from Sept 2024 (#9283) to current",
    prefixes: &[PREFIX],
    requested_only: &[],
    model_label: None,
    table: ALIASES,
    map,
};

static RUNNING: Alias = series("requests_processing", &["llamacpp:requests_processing"]);
static WAITING: Alias = series("requests_deferred", &["llamacpp:requests_deferred"]);
static KV_USAGE: Alias = series("kv_cache_usage_ratio", &["llamacpp:kv_cache_usage_ratio"]); // removed May 2025
static KV_TOKENS: Alias = series("kv_cache_tokens", &["llamacpp:kv_cache_tokens"]); // removed May 2025
static PROMPT_TOKENS: Alias = series("prompt_tokens", &["llamacpp:prompt_tokens_total"]);
static PROMPT_CACHED: Alias = series(
    "prompt_tokens_cached",
    &["llamacpp:prompt_tokens_cached_total"],
);
static PROMPT_SECONDS: Alias = series("prompt_seconds", &["llamacpp:prompt_seconds_total"]);
static PREDICTED: Alias = series("tokens_predicted", &["llamacpp:tokens_predicted_total"]);
static PREDICTED_SECONDS: Alias = series(
    "tokens_predicted_seconds",
    &["llamacpp:tokens_predicted_seconds_total"],
);
static DECODE_CALLS: Alias = series("decode_calls", &["llamacpp:n_decode_total"]);
static BUSY_SLOTS: Alias = series(
    "busy_slots_per_decode",
    &["llamacpp:n_busy_slots_per_decode"],
);
static TOKENS_MAX: Alias = series(
    "n_tokens_max",
    &["llamacpp:n_tokens_max", "llamacpp:n_past_max"],
);
static PROMPT_TPS: Alias = series(
    "prompt_tokens_per_second",
    &["llamacpp:prompt_tokens_seconds"],
);
static PREDICTED_TPS: Alias = series(
    "predicted_tokens_per_second",
    &["llamacpp:predicted_tokens_seconds"],
);
static SPEC_DRAFT_TOKENS: Alias = series(
    "draft_tokens",
    &["llamacpp:spec_decode_num_draft_tokens_total"],
);
static SPEC_ACCEPTED_TOKENS: Alias = series(
    "accepted_tokens",
    &["llamacpp:spec_decode_num_accepted_tokens_total"],
);
static SPEC_DRAFTS: Alias = series("drafts", &["llamacpp:spec_decode_num_drafts_total"]);
static SPEC_PER_POSITION: Alias = series(
    "accepted_tokens_by_position",
    &["llamacpp:spec_decode_num_accepted_tokens_per_pos_total"],
);

/// The whole table: every exposed name this mapper reads.
pub(crate) static ALIASES: &[&Alias] = &[
    &RUNNING,
    &WAITING,
    &KV_USAGE,
    &KV_TOKENS,
    &PROMPT_TOKENS,
    &PROMPT_CACHED,
    &PROMPT_SECONDS,
    &PREDICTED,
    &PREDICTED_SECONDS,
    &DECODE_CALLS,
    &BUSY_SLOTS,
    &TOKENS_MAX,
    &PROMPT_TPS,
    &PREDICTED_TPS,
    &SPEC_DRAFT_TOKENS,
    &SPEC_ACCEPTED_TOKENS,
    &SPEC_DRAFTS,
    &SPEC_PER_POSITION,
];

/// Map a llama.cpp exposition.
///
/// * running = `llamacpp:requests_processing` (busy slots), waiting =
///   `llamacpp:requests_deferred`; kv_cache_usage =
///   `llamacpp:kv_cache_usage_ratio` where the build still has it.
///   Capacity, LoRA and DP figures are not exposed (`None`).
/// * prompt tokens = every prompt token: `llamacpp:prompt_tokens_total`
///   counts only the processed ones, so the cache hits
///   (`llamacpp:prompt_tokens_cached_total`, where the build has it) are
///   added; prompt tokens cached = those hits. Generation tokens =
///   `llamacpp:tokens_predicted_total`. Like every counter here, they are
///   rounded to 6 significant digits by the server's `%g` formatting once
///   they reach 1e6.
/// * No request counters, preemptions or latency histograms: `None`.
pub(crate) fn map(ix: &Index<'_, '_>) -> EngineSnapshot {
    let sum = |a: &Alias| ix.resolve(a).and_then(|n| ix.sum(n));
    let cached = sum(&PROMPT_CACHED);
    EngineSnapshot {
        engine: SPEC.id,
        incarnation: Default::default(),
        model_names: Vec::new(),
        load: Load {
            requests_running: sum(&RUNNING),
            requests_waiting: sum(&WAITING),
            kv_cache_usage: sum(&KV_USAGE),
            ..Load::default()
        },
        totals: Totals {
            prompt_tokens: sum(&PROMPT_TOKENS).map(|processed| processed + cached.unwrap_or(0.0)),
            prompt_tokens_cached: cached,
            generation_tokens: sum(&PREDICTED),
            ..Totals::default()
        },
        latency: Latency::default(),
        engine_metrics: groups(ix),
    }
}

/// The `request`, `cache`, `throughput` and `speculative` groups.
fn groups(ix: &Index<'_, '_>) -> Vec<crate::snapshot::EngineGroup> {
    let mut out = Vec::new();

    let mut g = GroupBuilder::new("request");
    for a in [&RUNNING, &WAITING, &DECODE_CALLS, &BUSY_SLOTS, &TOKENS_MAX] {
        g.add(a.field, ix.read_sum(a));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("cache");
    for a in [&KV_USAGE, &KV_TOKENS, &PROMPT_CACHED] {
        g.add(a.field, ix.read_sum(a));
    }
    g.add("prompt_cache_hit_ratio", cache_hit_ratio(ix));
    g.finish(&mut out);

    let mut g = GroupBuilder::new("throughput");
    for a in [
        &PROMPT_TOKENS,
        &PROMPT_SECONDS,
        &PREDICTED,
        &PREDICTED_SECONDS,
        &PROMPT_TPS,
        &PREDICTED_TPS,
    ] {
        g.add(a.field, ix.read_sum(a));
    }
    g.finish(&mut out);

    let mut g = GroupBuilder::new("speculative");
    for a in [&SPEC_DRAFT_TOKENS, &SPEC_ACCEPTED_TOKENS, &SPEC_DRAFTS] {
        g.add(a.field, ix.read_sum(a));
    }
    g.add(
        SPEC_PER_POSITION.field,
        ix.read_by(&SPEC_PER_POSITION, "position"),
    );
    g.finish(&mut out);

    out
}

/// Cumulative prompt-cache hit ratio, cached / (cached + processed), since
/// start (recent builds count processed prompt tokens without the cached
/// ones). `None` without both counters or before any prompt token.
fn cache_hit_ratio(ix: &Index<'_, '_>) -> Option<Found> {
    let c = ix.resolve(&PROMPT_CACHED)?;
    let p = ix.resolve(&PROMPT_TOKENS)?;
    let (cached, processed) = (ix.sum(c)?, ix.sum(p)?);
    let all = cached + processed;
    (all > 0.0).then(|| {
        (
            format!("{c} / ({c} + {p})"),
            MetricValue::Number(cached / all),
        )
    })
}
