//! Every series name an engine reads, for every engine at once: the union of
//! the alias tables, sorted, each name with the engines that read it and
//! what it is to a distribution.
//!
//! Guarantees: a name's slot is its position in [`NAMES`], which is sorted
//! and holds each name once; [`NAMES`] is exactly what [`build`] derives
//! from [`ENGINES`]' alias tables (each alias-table name, a distribution's
//! base name plus its `_count`, `_sum` and `_bucket` series, and
//! `process_start_time_seconds` for every engine). A unit test checks that,
//! so the tables stay data and cost nothing at run time.

use std::cmp::Ordering;

#[cfg(test)]
use super::series::{DIST_SUFFIXES, Kind};
#[cfg(test)]
use super::{ENGINES, PROCESS_START};
use crate::text::common_prefix;

/// What a table name is to a distribution alias.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Role {
    /// A distribution's base name.
    pub(crate) base: bool,
    /// A distribution's `_bucket` series.
    pub(crate) bucket: bool,
}

/// Role bits in [`NAMES`]: a distribution's base name.
const BASE: u8 = 1;
/// Role bits in [`NAMES`]: a distribution's `_bucket` series.
const BUCKET: u8 = 2;

/// The union table.
pub(crate) struct Table {
    /// `(name, role bits, engine bits)`, sorted by name.
    names: &'static [(&'static str, u8, u8)],
}

impl Table {
    /// The table.
    pub(crate) fn get() -> &'static Table {
        static TABLE: Table = Table { names: NAMES };
        &TABLE
    }

    /// How many names.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The engines (bit `i`: `ENGINES[i]`) reading slot `i`.
    #[inline]
    pub(crate) fn engines(&self, i: usize) -> u32 {
        u32::from(self.names[i].2)
    }

    /// What slot `i` is to a distribution.
    #[inline]
    pub(crate) fn role(&self, i: usize) -> Role {
        let bits = self.names[i].1;
        Role {
            base: bits & BASE != 0,
            bucket: bits & BUCKET != 0,
        }
    }

    /// The slot of `name`.
    pub(crate) fn slot(&self, name: &str) -> Option<usize> {
        self.slot_suffixed(name, "")
    }

    /// The slot of `base` followed by `suffix`, without building the name.
    pub(crate) fn slot_suffixed(&self, base: &str, suffix: &str) -> Option<usize> {
        self.names
            .binary_search_by(|n| cmp_concat(n.0.as_bytes(), base.as_bytes(), suffix.as_bytes()))
            .ok()
    }
}

/// `name` compared with the concatenation `base` + `suffix`.
fn cmp_concat(name: &[u8], base: &[u8], suffix: &[u8]) -> Ordering {
    let k = name.len().min(base.len());
    match cmp_bytes(&name[..k], &base[..k]) {
        Ordering::Equal if name.len() < base.len() => Ordering::Less,
        Ordering::Equal => cmp_bytes(&name[base.len()..], suffix),
        other => other,
    }
}

/// `a` compared with `b`, inline, eight bytes at a time ([`common_prefix`]):
/// the guest's `memcmp` is a byte loop behind a call.
#[inline]
fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let k = common_prefix(a, b);
    match (a.get(k), b.get(k)) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => a.len().cmp(&b.len()),
    }
}

#[cfg(test)]
/// The table [`NAMES`] must be, derived from the alias tables.
pub(crate) fn build() -> Vec<(String, u8, u8)> {
    let all = (1u8 << ENGINES.len()) - 1;
    let mut names: Vec<(String, u8, u8)> = vec![(PROCESS_START.to_string(), 0, all)];
    for (i, spec) in ENGINES.iter().enumerate() {
        let engine = 1u8 << i;
        for alias in spec.table {
            let dist = alias.kind == Kind::Distribution;
            for name in alias.names {
                names.push((name.to_string(), if dist { BASE } else { 0 }, engine));
                if dist {
                    names.extend(DIST_SUFFIXES.iter().map(|s| {
                        let role = if *s == "_bucket" { BUCKET } else { 0 };
                        (format!("{name}{s}"), role, engine)
                    }));
                }
            }
        }
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    // A name listed twice keeps one slot, with every role and engine it has.
    names.dedup_by(|b, a| {
        let same = a.0 == b.0;
        if same {
            a.1 |= b.1;
            a.2 |= b.2;
        }
        same
    });
    names
}

/// Every name the engines read, sorted: `(name, role bits, engine bits)`.
/// Generated from [`build`]; the test below prints it when it differs.
#[rustfmt::skip]
static NAMES: &[(&str, u8, u8)] = &[
    ("http_requests_total", 0, 0b000001),
    ("llamacpp:kv_cache_tokens", 0, 0b001000),
    ("llamacpp:kv_cache_usage_ratio", 0, 0b001000),
    ("llamacpp:n_busy_slots_per_decode", 0, 0b001000),
    ("llamacpp:n_decode_total", 0, 0b001000),
    ("llamacpp:n_past_max", 0, 0b001000),
    ("llamacpp:n_tokens_max", 0, 0b001000),
    ("llamacpp:predicted_tokens_seconds", 0, 0b001000),
    ("llamacpp:prompt_seconds_total", 0, 0b001000),
    ("llamacpp:prompt_tokens_cached_total", 0, 0b001000),
    ("llamacpp:prompt_tokens_seconds", 0, 0b001000),
    ("llamacpp:prompt_tokens_total", 0, 0b001000),
    ("llamacpp:requests_deferred", 0, 0b001000),
    ("llamacpp:requests_processing", 0, 0b001000),
    ("llamacpp:spec_decode_num_accepted_tokens_per_pos_total", 0, 0b001000),
    ("llamacpp:spec_decode_num_accepted_tokens_total", 0, 0b001000),
    ("llamacpp:spec_decode_num_draft_tokens_total", 0, 0b001000),
    ("llamacpp:spec_decode_num_drafts_total", 0, 0b001000),
    ("llamacpp:tokens_predicted_seconds_total", 0, 0b001000),
    ("llamacpp:tokens_predicted_total", 0, 0b001000),
    ("nv_inference_compute_infer_duration_us", 0, 0b010000),
    ("nv_inference_compute_input_duration_us", 0, 0b010000),
    ("nv_inference_compute_output_duration_us", 0, 0b010000),
    ("nv_inference_count", 0, 0b010000),
    ("nv_inference_exec_count", 0, 0b010000),
    ("nv_inference_first_response_histogram_ms", 1, 0b010000),
    ("nv_inference_first_response_histogram_ms_bucket", 2, 0b010000),
    ("nv_inference_first_response_histogram_ms_count", 0, 0b010000),
    ("nv_inference_first_response_histogram_ms_sum", 0, 0b010000),
    ("nv_inference_pending_request_count", 0, 0b010000),
    ("nv_inference_queue_duration_us", 0, 0b010000),
    ("nv_inference_request_duration_us", 0, 0b010000),
    ("nv_inference_request_failure", 0, 0b010000),
    ("nv_inference_request_success", 0, 0b010000),
    ("nv_trt_llm_general_metrics", 0, 0b010000),
    ("nv_trt_llm_inflight_batcher_metrics", 0, 0b010000),
    ("nv_trt_llm_kv_cache_block_metrics", 0, 0b010000),
    ("nv_trt_llm_request_metrics", 0, 0b010000),
    ("nv_trt_llm_runtime_memory_metrics", 0, 0b010000),
    ("process_start_time_seconds", 0, 0b111111),
    ("sglang:avg_request_queue_latency", 0, 0b000100),
    ("sglang:cache_config_info", 0, 0b000100),
    ("sglang:cache_hit_rate", 0, 0b000100),
    ("sglang:cached_tokens_total", 0, 0b000100),
    ("sglang:context_len", 0, 0b000100),
    ("sglang:e2e_request_latency_seconds", 1, 0b000100),
    ("sglang:e2e_request_latency_seconds_bucket", 2, 0b000100),
    ("sglang:e2e_request_latency_seconds_count", 0, 0b000100),
    ("sglang:e2e_request_latency_seconds_sum", 0, 0b000100),
    ("sglang:full_token_usage", 0, 0b000100),
    ("sglang:gen_throughput", 0, 0b000100),
    ("sglang:generation_tokens_histogram", 1, 0b000100),
    ("sglang:generation_tokens_histogram_bucket", 2, 0b000100),
    ("sglang:generation_tokens_histogram_count", 0, 0b000100),
    ("sglang:generation_tokens_histogram_sum", 0, 0b000100),
    ("sglang:generation_tokens_total", 0, 0b000100),
    ("sglang:graph_memory_usage_gb", 0, 0b000100),
    ("sglang:http_responses_total", 0, 0b000100),
    ("sglang:inter_token_latency_seconds", 1, 0b000100),
    ("sglang:inter_token_latency_seconds_bucket", 2, 0b000100),
    ("sglang:inter_token_latency_seconds_count", 0, 0b000100),
    ("sglang:inter_token_latency_seconds_sum", 0, 0b000100),
    ("sglang:kv_available_tokens", 0, 0b000100),
    ("sglang:kv_cache_memory_usage_gb", 0, 0b000100),
    ("sglang:kv_evictable_tokens", 0, 0b000100),
    ("sglang:kv_used_tokens", 0, 0b000100),
    ("sglang:mamba_usage", 0, 0b000100),
    ("sglang:max_total_num_tokens", 0, 0b000100),
    ("sglang:num_aborted_requests_total", 0, 0b000100),
    ("sglang:num_pages", 0, 0b000100),
    ("sglang:num_paused_reqs", 0, 0b000100),
    ("sglang:num_prefill_infight_queue_reqs", 0, 0b000100),
    ("sglang:num_prefill_inflight_queue_reqs", 0, 0b000100),
    ("sglang:num_queue_reqs", 0, 0b000100),
    ("sglang:num_requests_total", 0, 0b000100),
    ("sglang:num_retracted_reqs", 0, 0b000100),
    ("sglang:num_running_reqs", 0, 0b000100),
    ("sglang:num_so_requests_total", 0, 0b000100),
    ("sglang:num_used_tokens", 0, 0b000100),
    ("sglang:page_size", 0, 0b000100),
    ("sglang:prompt_tokens_histogram", 1, 0b000100),
    ("sglang:prompt_tokens_histogram_bucket", 2, 0b000100),
    ("sglang:prompt_tokens_histogram_count", 0, 0b000100),
    ("sglang:prompt_tokens_histogram_sum", 0, 0b000100),
    ("sglang:prompt_tokens_total", 0, 0b000100),
    ("sglang:queue_time_seconds", 1, 0b000100),
    ("sglang:queue_time_seconds_bucket", 2, 0b000100),
    ("sglang:queue_time_seconds_count", 0, 0b000100),
    ("sglang:queue_time_seconds_sum", 0, 0b000100),
    ("sglang:realtime_tokens_total", 0, 0b000100),
    ("sglang:request_time_per_output_token_seconds", 1, 0b000100),
    ("sglang:request_time_per_output_token_seconds_bucket", 2, 0b000100),
    ("sglang:request_time_per_output_token_seconds_count", 0, 0b000100),
    ("sglang:request_time_per_output_token_seconds_sum", 0, 0b000100),
    ("sglang:routing_key_all_req_count", 0, 0b000100),
    ("sglang:routing_key_running_req_count", 0, 0b000100),
    ("sglang:swa_token_usage", 0, 0b000100),
    ("sglang:time_per_output_token_seconds", 1, 0b000100),
    ("sglang:time_per_output_token_seconds_bucket", 2, 0b000100),
    ("sglang:time_per_output_token_seconds_count", 0, 0b000100),
    ("sglang:time_per_output_token_seconds_sum", 0, 0b000100),
    ("sglang:time_to_first_token_seconds", 1, 0b000100),
    ("sglang:time_to_first_token_seconds_bucket", 2, 0b000100),
    ("sglang:time_to_first_token_seconds_count", 0, 0b000100),
    ("sglang:time_to_first_token_seconds_sum", 0, 0b000100),
    ("sglang:token_usage", 0, 0b000100),
    ("sglang:total_retracted_reqs", 0, 0b000100),
    ("sglang:uncached_prompt_tokens_histogram", 1, 0b000100),
    ("sglang:uncached_prompt_tokens_histogram_bucket", 2, 0b000100),
    ("sglang:uncached_prompt_tokens_histogram_count", 0, 0b000100),
    ("sglang:uncached_prompt_tokens_histogram_sum", 0, 0b000100),
    ("sglang:weight_memory_usage_gb", 0, 0b000100),
    ("tgi_batch_concat", 0, 0b000010),
    ("tgi_batch_concat_duration", 1, 0b000010),
    ("tgi_batch_concat_duration_bucket", 2, 0b000010),
    ("tgi_batch_concat_duration_count", 0, 0b000010),
    ("tgi_batch_concat_duration_sum", 0, 0b000010),
    ("tgi_batch_current_max_tokens", 0, 0b000010),
    ("tgi_batch_current_size", 0, 0b000010),
    ("tgi_batch_decode_duration", 1, 0b000010),
    ("tgi_batch_decode_duration_bucket", 2, 0b000010),
    ("tgi_batch_decode_duration_count", 0, 0b000010),
    ("tgi_batch_decode_duration_sum", 0, 0b000010),
    ("tgi_batch_filter_duration", 1, 0b000010),
    ("tgi_batch_filter_duration_bucket", 2, 0b000010),
    ("tgi_batch_filter_duration_count", 0, 0b000010),
    ("tgi_batch_filter_duration_sum", 0, 0b000010),
    ("tgi_batch_forward_duration", 1, 0b000010),
    ("tgi_batch_forward_duration_bucket", 2, 0b000010),
    ("tgi_batch_forward_duration_count", 0, 0b000010),
    ("tgi_batch_forward_duration_sum", 0, 0b000010),
    ("tgi_batch_inference_count", 0, 0b000010),
    ("tgi_batch_inference_duration", 1, 0b000010),
    ("tgi_batch_inference_duration_bucket", 2, 0b000010),
    ("tgi_batch_inference_duration_count", 0, 0b000010),
    ("tgi_batch_inference_duration_sum", 0, 0b000010),
    ("tgi_batch_inference_failure", 0, 0b000010),
    ("tgi_batch_inference_success", 0, 0b000010),
    ("tgi_batch_max_total_tokens", 0, 0b000010),
    ("tgi_batch_next_size", 1, 0b000010),
    ("tgi_batch_next_size_bucket", 2, 0b000010),
    ("tgi_batch_next_size_count", 0, 0b000010),
    ("tgi_batch_next_size_sum", 0, 0b000010),
    ("tgi_queue_size", 0, 0b000010),
    ("tgi_request_count", 0, 0b000010),
    ("tgi_request_duration", 1, 0b000010),
    ("tgi_request_duration_bucket", 2, 0b000010),
    ("tgi_request_duration_count", 0, 0b000010),
    ("tgi_request_duration_sum", 0, 0b000010),
    ("tgi_request_failure", 0, 0b000010),
    ("tgi_request_generated_tokens", 1, 0b000010),
    ("tgi_request_generated_tokens_bucket", 2, 0b000010),
    ("tgi_request_generated_tokens_count", 0, 0b000010),
    ("tgi_request_generated_tokens_sum", 0, 0b000010),
    ("tgi_request_inference_duration", 1, 0b000010),
    ("tgi_request_inference_duration_bucket", 2, 0b000010),
    ("tgi_request_inference_duration_count", 0, 0b000010),
    ("tgi_request_inference_duration_sum", 0, 0b000010),
    ("tgi_request_input_length", 1, 0b000010),
    ("tgi_request_input_length_bucket", 2, 0b000010),
    ("tgi_request_input_length_count", 0, 0b000010),
    ("tgi_request_input_length_sum", 0, 0b000010),
    ("tgi_request_max_new_tokens", 1, 0b000010),
    ("tgi_request_max_new_tokens_bucket", 2, 0b000010),
    ("tgi_request_max_new_tokens_count", 0, 0b000010),
    ("tgi_request_max_new_tokens_sum", 0, 0b000010),
    ("tgi_request_mean_time_per_token_duration", 1, 0b000010),
    ("tgi_request_mean_time_per_token_duration_bucket", 2, 0b000010),
    ("tgi_request_mean_time_per_token_duration_count", 0, 0b000010),
    ("tgi_request_mean_time_per_token_duration_sum", 0, 0b000010),
    ("tgi_request_queue_duration", 1, 0b000010),
    ("tgi_request_queue_duration_bucket", 2, 0b000010),
    ("tgi_request_queue_duration_count", 0, 0b000010),
    ("tgi_request_queue_duration_sum", 0, 0b000010),
    ("tgi_request_skipped_tokens", 1, 0b000010),
    ("tgi_request_skipped_tokens_bucket", 2, 0b000010),
    ("tgi_request_skipped_tokens_count", 0, 0b000010),
    ("tgi_request_skipped_tokens_sum", 0, 0b000010),
    ("tgi_request_success", 0, 0b000010),
    ("tgi_request_validation_duration", 1, 0b000010),
    ("tgi_request_validation_duration_bucket", 2, 0b000010),
    ("tgi_request_validation_duration_count", 0, 0b000010),
    ("tgi_request_validation_duration_sum", 0, 0b000010),
    ("trtllm_e2e_request_latency_seconds", 1, 0b100000),
    ("trtllm_e2e_request_latency_seconds_bucket", 2, 0b100000),
    ("trtllm_e2e_request_latency_seconds_count", 0, 0b100000),
    ("trtllm_e2e_request_latency_seconds_sum", 0, 0b100000),
    ("trtllm_kv_cache_max_blocks", 0, 0b100000),
    ("trtllm_kv_cache_tokens_per_block", 0, 0b100000),
    ("trtllm_kv_cache_utilization", 0, 0b100000),
    ("trtllm_num_requests_running", 0, 0b100000),
    ("trtllm_num_requests_waiting", 0, 0b100000),
    ("trtllm_request_queue_time_seconds", 1, 0b100000),
    ("trtllm_request_queue_time_seconds_bucket", 2, 0b100000),
    ("trtllm_request_queue_time_seconds_count", 0, 0b100000),
    ("trtllm_request_queue_time_seconds_sum", 0, 0b100000),
    ("trtllm_request_success_total", 0, 0b100000),
    ("trtllm_time_per_output_token_seconds", 1, 0b100000),
    ("trtllm_time_per_output_token_seconds_bucket", 2, 0b100000),
    ("trtllm_time_per_output_token_seconds_count", 0, 0b100000),
    ("trtllm_time_per_output_token_seconds_sum", 0, 0b100000),
    ("trtllm_time_to_first_token_seconds", 1, 0b100000),
    ("trtllm_time_to_first_token_seconds_bucket", 2, 0b100000),
    ("trtllm_time_to_first_token_seconds_count", 0, 0b100000),
    ("trtllm_time_to_first_token_seconds_sum", 0, 0b100000),
    ("vllm:admission_rejections_total", 0, 0b000001),
    ("vllm:avg_generation_throughput_toks_per_s", 0, 0b000001),
    ("vllm:avg_prompt_throughput_toks_per_s", 0, 0b000001),
    ("vllm:cache_config_info", 0, 0b000001),
    ("vllm:cpu_cache_usage_perc", 0, 0b000001),
    ("vllm:cpu_prefix_cache_hit_rate", 0, 0b000001),
    ("vllm:e2e_request_latency_seconds", 1, 0b000001),
    ("vllm:e2e_request_latency_seconds_bucket", 2, 0b000001),
    ("vllm:e2e_request_latency_seconds_count", 0, 0b000001),
    ("vllm:e2e_request_latency_seconds_sum", 0, 0b000001),
    ("vllm:engine_sleep_state", 0, 0b000001),
    ("vllm:generation_tokens_total", 0, 0b000001),
    ("vllm:gpu_cache_usage_perc", 0, 0b000001),
    ("vllm:gpu_prefix_cache_hit_rate", 0, 0b000001),
    ("vllm:gpu_prefix_cache_hits_total", 0, 0b000001),
    ("vllm:gpu_prefix_cache_queries_total", 0, 0b000001),
    ("vllm:inter_token_latency_seconds", 1, 0b000001),
    ("vllm:inter_token_latency_seconds_bucket", 2, 0b000001),
    ("vllm:inter_token_latency_seconds_count", 0, 0b000001),
    ("vllm:inter_token_latency_seconds_sum", 0, 0b000001),
    ("vllm:iteration_tokens_total", 1, 0b000001),
    ("vllm:iteration_tokens_total_bucket", 2, 0b000001),
    ("vllm:iteration_tokens_total_count", 0, 0b000001),
    ("vllm:iteration_tokens_total_sum", 0, 0b000001),
    ("vllm:kv_cache_usage_perc", 0, 0b000001),
    ("vllm:lora_requests_info", 0, 0b000001),
    ("vllm:num_preemptions_total", 0, 0b000001),
    ("vllm:num_requests_running", 0, 0b000001),
    ("vllm:num_requests_swapped", 0, 0b000001),
    ("vllm:num_requests_waiting", 0, 0b000001),
    ("vllm:num_requests_waiting_by_reason", 0, 0b000001),
    ("vllm:prefix_cache_hits_total", 0, 0b000001),
    ("vllm:prefix_cache_queries_total", 0, 0b000001),
    ("vllm:prompt_tokens_total", 0, 0b000001),
    ("vllm:request_decode_time_seconds", 1, 0b000001),
    ("vllm:request_decode_time_seconds_bucket", 2, 0b000001),
    ("vllm:request_decode_time_seconds_count", 0, 0b000001),
    ("vllm:request_decode_time_seconds_sum", 0, 0b000001),
    ("vllm:request_generation_tokens", 1, 0b000001),
    ("vllm:request_generation_tokens_bucket", 2, 0b000001),
    ("vllm:request_generation_tokens_count", 0, 0b000001),
    ("vllm:request_generation_tokens_sum", 0, 0b000001),
    ("vllm:request_inference_time_seconds", 1, 0b000001),
    ("vllm:request_inference_time_seconds_bucket", 2, 0b000001),
    ("vllm:request_inference_time_seconds_count", 0, 0b000001),
    ("vllm:request_inference_time_seconds_sum", 0, 0b000001),
    ("vllm:request_prefill_time_seconds", 1, 0b000001),
    ("vllm:request_prefill_time_seconds_bucket", 2, 0b000001),
    ("vllm:request_prefill_time_seconds_count", 0, 0b000001),
    ("vllm:request_prefill_time_seconds_sum", 0, 0b000001),
    ("vllm:request_prompt_tokens", 1, 0b000001),
    ("vllm:request_prompt_tokens_bucket", 2, 0b000001),
    ("vllm:request_prompt_tokens_count", 0, 0b000001),
    ("vllm:request_prompt_tokens_sum", 0, 0b000001),
    ("vllm:request_queue_time_seconds", 1, 0b000001),
    ("vllm:request_queue_time_seconds_bucket", 2, 0b000001),
    ("vllm:request_queue_time_seconds_count", 0, 0b000001),
    ("vllm:request_queue_time_seconds_sum", 0, 0b000001),
    ("vllm:request_success_total", 0, 0b000001),
    ("vllm:request_time_per_output_token_seconds", 1, 0b000001),
    ("vllm:request_time_per_output_token_seconds_bucket", 2, 0b000001),
    ("vllm:request_time_per_output_token_seconds_count", 0, 0b000001),
    ("vllm:request_time_per_output_token_seconds_sum", 0, 0b000001),
    ("vllm:time_per_output_token_seconds", 1, 0b000001),
    ("vllm:time_per_output_token_seconds_bucket", 2, 0b000001),
    ("vllm:time_per_output_token_seconds_count", 0, 0b000001),
    ("vllm:time_per_output_token_seconds_sum", 0, 0b000001),
    ("vllm:time_to_first_token_seconds", 1, 0b000001),
    ("vllm:time_to_first_token_seconds_bucket", 2, 0b000001),
    ("vllm:time_to_first_token_seconds_count", 0, 0b000001),
    ("vllm:time_to_first_token_seconds_sum", 0, 0b000001),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_alias_tables_sorted() {
        let want = build();
        let got: Vec<(String, u8, u8)> = NAMES
            .iter()
            .map(|&(n, r, e)| (n.to_string(), r, e))
            .collect();
        if got != want {
            let mut src = String::from("static NAMES: &[(&str, u8, u8)] = &[\n");
            for (n, r, e) in &want {
                src.push_str(&format!("    ({n:?}, {r}, {e:#08b}),\n"));
            }
            src.push_str("];\n");
            panic!("NAMES is not the alias tables sorted; it should read:\n{src}");
        }
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ENGINES.len() <= 8, "engine bits are a u8");
    }

    #[test]
    fn every_name_finds_its_slot() {
        let t = Table::get();
        for (i, (name, _, _)) in NAMES.iter().enumerate() {
            assert_eq!(t.slot(name), Some(i), "{name}");
            if let Some(base) = name.strip_suffix("_bucket") {
                assert_eq!(t.slot_suffixed(base, "_bucket"), Some(i), "{name}");
            }
        }
        assert_eq!(t.slot("vllm:"), None);
        assert_eq!(t.slot_suffixed("vllm:num_requests_running", "_x"), None);
    }
}
