//! The engines a fleet runs besides vLLM and TGI (SGLang, llama.cpp,
//! Triton/TensorRT-LLM, trtllm-serve), natively: fixture → parser → snapshot.
//!
//! Every number asserted here is derived by hand in `tests/fixtures/EXPECTED.md`.

use llm_metrics_guest::engines::{self, EngineSnapshot, LabeledValue, MapError, MetricValue};

mod common;
use common::{approx, map, snapshot};

const SGLANG_05: &str = fixture!("sglang_v0_5.prom");
const SGLANG_04: &str = fixture!("sglang_v0_4.prom");
const LLAMACPP_OLD: &str = fixture!("llamacpp_b5000.prom");
const LLAMACPP_NEW: &str = fixture!("llamacpp_recent.prom");
const TRITON: &str = fixture!("triton_trtllm.prom");
const TRTLLM_SERVE: &str = fixture!("trtllm_serve.prom");
const VLLM_V1: &str = fixture!("vllm_v1.prom");
const VLLM_V0: &str = fixture!("vllm_v0.prom");
const TGI: &str = fixture!("tgi.prom");

#[track_caller]
fn field<'s>(s: &'s EngineSnapshot, group: &str, name: &str) -> &'s engines::EngineField {
    s.field(group, name)
        .unwrap_or_else(|| panic!("{group}.{name} missing"))
}

#[track_caller]
fn number(s: &EngineSnapshot, group: &str, name: &str) -> (String, f64) {
    let f = field(s, group, name);
    match &f.value {
        MetricValue::Number(n) => (f.metric.clone(), *n),
        other => panic!("{group}.{name}: expected a number, got {other:?}"),
    }
}

#[track_caller]
fn by_label(s: &EngineSnapshot, group: &str, name: &str) -> (String, Vec<(String, f64)>) {
    match &field(s, group, name).value {
        MetricValue::ByLabel(label, values) => (
            label.clone(),
            values
                .iter()
                .map(|LabeledValue { key, value }| (key.clone(), *value))
                .collect(),
        ),
        other => panic!("{group}.{name}: expected by-label, got {other:?}"),
    }
}

fn pairs(label: &str, list: &[(&str, f64)]) -> (String, Vec<(String, f64)>) {
    (
        label.to_string(),
        list.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    )
}

#[test]
fn sglang_0_5_load_and_totals() {
    let s = snapshot(SGLANG_05);
    assert_eq!(s.engine, "sglang");
    assert_eq!(s.model_names, ["Qwen/Qwen3-8B"]);
    approx(s.load.requests_running, 12.0);
    approx(s.load.requests_waiting, 4.0);
    approx(s.load.kv_cache_usage, 0.5);
    approx(s.load.kv_cache_capacity_tokens, 524_288.0);
    assert_eq!(s.load.data_parallel_ranks, Some(2));
    assert_eq!(
        (
            &s.load.running_lora_adapters,
            &s.load.waiting_lora_adapters,
            s.load.max_lora
        ),
        (&None, &None, None)
    );
    approx(s.totals.requests_succeeded, 2500.0);
    approx(s.totals.requests_failed, 25.0);
    approx(s.totals.prompt_tokens, 1_500_000.0);
    approx(s.totals.generation_tokens, 500_000.0);
    assert_eq!(s.totals.preemptions, None);
}

#[test]
fn sglang_0_5_latency() {
    let s = snapshot(SGLANG_05);
    let ttft = s.latency.time_to_first_token_seconds.clone().unwrap();
    assert_eq!((ttft.count, ttft.sum), (2500.0, 937.5));
    approx(ttft.mean, 0.375);
    approx(ttft.p50, 0.1 + 0.1 * 1250.0 / 1500.0);
    approx(ttft.p90, 0.6);
    approx(ttft.p99, 3.0);

    let itl = s.latency.inter_token_latency_seconds.clone().unwrap();
    assert_eq!((itl.count, itl.sum), (50_000.0, 937.5));
    approx(itl.p50, 0.018125);
    approx(itl.p90, 0.0325);
    approx(itl.p99, 0.03475);

    let e2e = s.latency.e2e_request_latency_seconds.clone().unwrap();
    assert_eq!((e2e.count, e2e.sum), (2500.0, 13_300.0));
    approx(e2e.mean, 5.32);
    approx(e2e.p50, 2.625);
    approx(e2e.p90, 12.5);
    approx(e2e.p99, 55.0);

    // The le="0.0" bucket holds the never-queued requests: the median is 0.
    let queue = s.latency.queue_time_seconds.clone().unwrap();
    assert_eq!((queue.count, queue.sum), (2500.0, 175.0));
    approx(queue.mean, 0.07);
    assert_eq!(queue.p50, Some(0.0));
    approx(queue.p90, 0.06625);
    approx(queue.p99, 1.75);
}

#[test]
fn sglang_0_5_engine_metrics() {
    let s = snapshot(SGLANG_05);
    assert_eq!(
        number(&s, "request", "retracted"),
        ("sglang:num_retracted_reqs".to_string(), 3.0)
    );
    assert_eq!(number(&s, "request", "paused").1, 0.0);
    assert_eq!(number(&s, "request", "structured_output_requests").1, 40.0);
    // A gauge histogram: one value per `le`, not cumulative, never a distribution.
    let (label, routing) = by_label(&s, "request", "routing_key_running_req_count");
    assert_eq!(label, "le");
    let count = |le: &str| routing.iter().find(|(k, _)| k == le).map(|(_, v)| *v);
    assert_eq!(
        (count("1"), count("2"), count("3"), count("5")),
        (Some(5.0), Some(1.0), Some(1.0), Some(1.0))
    );
    assert_eq!(routing.len(), 11);
    assert_eq!(routing.iter().map(|(_, v)| v).sum::<f64>(), 8.0);
    assert_eq!(
        by_label(&s, "cache", "cached_tokens"),
        pairs(
            "cache_source",
            &[
                ("device", 600_000.0),
                ("host", 100_000.0),
                ("storage", 0.0),
                ("total", 700_000.0)
            ]
        )
    );
    approx(Some(number(&s, "cache", "token_usage_max").1), 0.625);
    approx(Some(number(&s, "cache", "cache_hit_rate").1), 0.5);
    approx(Some(number(&s, "cache", "cache_hit_rate_max").1), 0.75);
    assert_eq!(number(&s, "cache", "num_used_tokens").1, 262_144.0);
    assert_eq!(number(&s, "cache", "page_size").1, 16.0);
    assert_eq!(number(&s, "cache", "num_pages").1, 16_384.0);
    assert_eq!(number(&s, "cache", "context_len").1, 32_768.0);
    assert_eq!(
        by_label(&s, "throughput", "realtime_tokens"),
        pairs(
            "mode",
            &[
                ("decode", 400_000.0),
                ("prefill_cache", 600_000.0),
                ("prefill_compute", 800_000.0)
            ]
        )
    );
    approx(
        Some(number(&s, "throughput", "gen_throughput_toks_per_s").1),
        2660.75,
    );
    assert_eq!(number(&s, "engine", "dp_ranks").1, 2.0);
    assert_eq!(number(&s, "engine", "tp_ranks").1, 1.0);
}

#[test]
fn sglang_0_4_aliases() {
    let s = snapshot(SGLANG_04);
    assert_eq!(s.engine, "sglang");
    approx(s.load.requests_running, 6.0);
    approx(s.load.requests_waiting, 2.0);
    approx(s.load.kv_cache_usage, 0.25);
    assert_eq!(s.load.kv_cache_capacity_tokens, None);
    assert_eq!(s.load.data_parallel_ranks, None);
    approx(s.totals.requests_succeeded, 400.0);
    assert_eq!(s.totals.requests_failed, None);
    approx(s.totals.prompt_tokens, 81_920.0);
    approx(s.totals.generation_tokens, 40_960.0);
    let ttft = s.latency.time_to_first_token_seconds.clone().unwrap();
    assert_eq!((ttft.count, ttft.sum), (400.0, 150.0));
    approx(ttft.p50, 0.1 + 0.2 * 200.0 / 300.0);
    approx(ttft.p90, 0.82);
    approx(ttft.p99, 0.892);
    let itl = s.latency.inter_token_latency_seconds.clone().unwrap();
    assert_eq!((itl.count, itl.sum), (40_000.0, 1250.0));
    approx(itl.p50, 0.035);
    assert_eq!(
        field(&s, "throughput", "inter_token_latency_seconds").metric,
        "sglang:time_per_output_token_seconds"
    );
    let e2e = s.latency.e2e_request_latency_seconds.clone().unwrap();
    assert_eq!((e2e.count, e2e.sum), (400.0, 1000.0));
    approx(e2e.p50, 3.5);
    assert_eq!(s.latency.queue_time_seconds, None);
    assert_eq!(
        number(&s, "request", "retracted"),
        ("sglang:total_retracted_reqs".to_string(), 5.0)
    );
}

#[test]
fn sglang_capacity_falls_back_to_pages() {
    let text = "sglang:num_running_reqs{dp_rank=\"0\"} 1\n\
                sglang:page_size{dp_rank=\"0\"} 16\n\
                sglang:num_pages{dp_rank=\"0\"} 1000\n";
    let s = snapshot(text);
    approx(s.load.kv_cache_capacity_tokens, 16_000.0);
    // GIE's `cache_config_info` labels are read when the gauges are absent.
    let text = "sglang:num_running_reqs 1\n\
                sglang:cache_config_info{page_size=\"32\",num_pages=\"500\"} 1\n";
    let s = snapshot(text);
    approx(s.load.kv_cache_capacity_tokens, 16_000.0);
    assert_eq!(s.load.data_parallel_ranks, None);
}

#[test]
fn sglang_openmetrics_escaped_names_are_read() {
    // prometheus_client 0.26 answering `Accept: application/openmetrics-text`:
    // `# TYPE` keeps the colon, sample names are escaped with `_`.
    let text = "\
# HELP sglang:num_running_reqs running
# TYPE sglang:num_running_reqs gauge
sglang_num_running_reqs{model_name=\"m\"} 3.0
# HELP sglang:prompt_tokens p
# TYPE sglang:prompt_tokens counter
sglang_prompt_tokens_total{model_name=\"m\"} 10.0
sglang_prompt_tokens_created{model_name=\"m\"} 1.796188995963437e+09
# HELP sglang:e2e_request_latency_seconds e
# TYPE sglang:e2e_request_latency_seconds histogram
sglang_e2e_request_latency_seconds_bucket{le=\"1.0\",model_name=\"m\"} 0.0
sglang_e2e_request_latency_seconds_bucket{le=\"2.0\",model_name=\"m\"} 1.0
sglang_e2e_request_latency_seconds_bucket{le=\"+Inf\",model_name=\"m\"} 1.0
sglang_e2e_request_latency_seconds_count{model_name=\"m\"} 1.0
sglang_e2e_request_latency_seconds_sum{model_name=\"m\"} 1.5
sglang_e2e_request_latency_seconds_created{model_name=\"m\"} 1.7961889959634752e+09
# EOF
";
    let s = snapshot(text);
    assert_eq!(s.engine, "sglang");
    assert_eq!(s.model_names, ["m"]);
    approx(s.load.requests_running, 3.0);
    // The `_created` timestamp is not added to the counter.
    approx(s.totals.prompt_tokens, 10.0);
    let e2e = s.latency.e2e_request_latency_seconds.clone().unwrap();
    assert_eq!((e2e.count, e2e.sum), (1.0, 1.5));
    approx(e2e.p50, 1.5);
    // An undeclared underscore name is never taken for a colon one.
    let s = snapshot("sglang:num_queue_reqs 1\nsglang_num_running_reqs 3\n");
    assert_eq!(s.load.requests_running, None);
}

#[test]
fn llamacpp_before_may_2025() {
    let s = snapshot(LLAMACPP_OLD);
    assert_eq!(s.engine, "llamacpp");
    assert!(s.model_names.is_empty());
    approx(s.load.requests_running, 3.0);
    approx(s.load.requests_waiting, 1.0);
    approx(s.load.kv_cache_usage, 0.412598);
    assert_eq!(s.load.kv_cache_capacity_tokens, None);
    // `1.28413e+06` is what the server printed: kept as parsed.
    assert_eq!(s.totals.prompt_tokens, Some(1_284_130.0));
    assert_eq!(s.totals.generation_tokens, Some(352_817.0));
    assert_eq!(
        (
            s.totals.requests_succeeded,
            s.totals.requests_failed,
            s.totals.preemptions
        ),
        (None, None, None)
    );
    assert_eq!(s.latency, Default::default());
    assert_eq!(
        number(&s, "request", "n_tokens_max"),
        ("llamacpp:n_past_max".to_string(), 7935.0)
    );
    assert_eq!(number(&s, "request", "decode_calls").1, 348_120.0);
    approx(
        Some(number(&s, "request", "busy_slots_per_decode").1),
        1.73421,
    );
    assert_eq!(number(&s, "cache", "kv_cache_tokens").1, 13_520.0);
    approx(Some(number(&s, "throughput", "prompt_seconds").1), 913.482);
}

#[test]
fn llamacpp_current() {
    let s = snapshot(LLAMACPP_NEW);
    assert_eq!(s.engine, "llamacpp");
    approx(s.load.requests_running, 4.0);
    approx(s.load.requests_waiting, 2.0);
    assert_eq!(s.load.kv_cache_usage, None);
    // Every prompt token: the processed ones (4_096_010) plus the cache hits.
    assert_eq!(s.totals.prompt_tokens, Some(4_096_010.0 + 10_239_900.0));
    assert_eq!(s.totals.prompt_tokens_cached, Some(10_239_900.0));
    assert_eq!(s.totals.requests_rejected, None);
    assert_eq!(s.totals.generation_tokens, Some(1_500_000.0));
    assert_eq!(
        number(&s, "request", "n_tokens_max"),
        ("llamacpp:n_tokens_max".to_string(), 32_768.0)
    );
    assert_eq!(number(&s, "request", "decode_calls").1, 1_482_620.0);
    assert_eq!(number(&s, "cache", "prompt_tokens_cached").1, 10_239_900.0);
    approx(
        Some(number(&s, "cache", "prompt_cache_hit_ratio").1),
        10_239_900.0 / 14_335_910.0,
    );
    assert_eq!(number(&s, "speculative", "draft_tokens").1, 614_400.0);
    assert_eq!(number(&s, "speculative", "accepted_tokens").1, 409_600.0);
    assert_eq!(number(&s, "speculative", "drafts").1, 153_600.0);
    assert_eq!(
        by_label(&s, "speculative", "accepted_tokens_by_position"),
        pairs(
            "position",
            &[
                ("0", 140_000.0),
                ("1", 120_000.0),
                ("2", 90_000.0),
                ("3", 59_600.0)
            ]
        )
    );
    assert!(
        s.group("cache")
            .unwrap()
            .field("kv_cache_usage_ratio")
            .is_none()
    );
}

#[test]
fn triton_with_tensorrt_llm() {
    let s = snapshot(TRITON);
    assert_eq!(s.engine, "triton");
    assert_eq!(s.model_names, ["ensemble", "tensorrt_llm"]);
    approx(s.load.requests_running, 14.0);
    approx(s.load.requests_waiting, 6.0);
    approx(s.load.kv_cache_usage, 2867.0 / 4096.0);
    approx(s.load.kv_cache_capacity_tokens, 262_144.0);
    assert_eq!(s.load.data_parallel_ranks, None);
    approx(s.totals.requests_succeeded, 3040.0);
    approx(s.totals.requests_failed, 16.0);
    assert_eq!(s.totals.prompt_tokens, None);
    assert_eq!(s.latency, Default::default());
    assert_eq!(
        number(&s, "request", "waiting"),
        (
            "nv_trt_llm_request_metrics{request_type=\"waiting\"}".to_string(),
            6.0
        )
    );
    assert_eq!(number(&s, "request", "active").1, 16.0);
    assert_eq!(
        by_label(&s, "request", "success_by_model"),
        pairs("model", &[("ensemble", 1520.0), ("tensorrt_llm", 1520.0)])
    );
    assert_eq!(
        by_label(&s, "request", "failure_by_model"),
        pairs("model", &[("ensemble", 12.0), ("tensorrt_llm", 4.0)])
    );
    assert_eq!(
        by_label(&s, "request", "failure_by_reason"),
        pairs("reason", &[("BACKEND", 8.0), ("REJECTED", 8.0)])
    );
    assert_eq!(number(&s, "cache", "tokens_per_block").1, 64.0);
    assert_eq!(number(&s, "cache", "max_blocks").1, 4096.0);
    assert_eq!(number(&s, "cache", "used_blocks").1, 2867.0);
    assert_eq!(
        by_label(&s, "duration", "queue_duration_us_by_model"),
        pairs(
            "model",
            &[("ensemble", 1_520_000.0), ("tensorrt_llm", 45_600_000.0)]
        )
    );
    assert_eq!(
        field(&s, "duration", "request_duration_us_by_model").metric,
        "nv_inference_request_duration_us"
    );
}

#[test]
fn triton_without_tensorrt_llm_uses_pending_count() {
    let text = "nv_inference_pending_request_count{model=\"resnet\",version=\"1\"} 3\n\
                nv_inference_request_success{model=\"resnet\",version=\"1\"} 10\n";
    let s = snapshot(text);
    assert_eq!(s.engine, "triton");
    approx(s.load.requests_waiting, 3.0);
    assert_eq!(s.load.requests_running, None);
    assert_eq!(s.load.kv_cache_usage, None);
    approx(s.totals.requests_succeeded, 10.0);
}

#[test]
fn trtllm_serve() {
    let s = snapshot(TRTLLM_SERVE);
    assert_eq!(s.engine, "trtllm-serve");
    assert_eq!(s.model_names, ["meta-llama/Llama-3.1-8B-Instruct"]);
    approx(s.load.requests_running, 9.0);
    approx(s.load.requests_waiting, 4.0);
    approx(s.load.kv_cache_usage, 0.40625);
    approx(s.load.kv_cache_capacity_tokens, 262_144.0);
    approx(s.totals.requests_succeeded, 1000.0);
    // `timeout` is the one failure an admitted request is counted with.
    approx(s.totals.requests_failed, 3.0);
    // Request validation refusals (HTTP 400), never admitted.
    approx(s.totals.requests_rejected, 7.0);
    approx(s.totals.prompt_tokens, 250_000.0);
    approx(s.totals.prompt_tokens_cached, 100_000.0);
    approx(s.totals.generation_tokens, 125_000.0);
    let ttft = s.latency.time_to_first_token_seconds.clone().unwrap();
    assert_eq!((ttft.count, ttft.sum), (1000.0, 187.5));
    approx(ttft.p50, 0.06 + 0.02 * 500.0 / 600.0);
    approx(ttft.p90, 0.4375);
    approx(ttft.p99, 0.49375);
    let itl = s.latency.inter_token_latency_seconds.clone().unwrap();
    assert_eq!(itl.sum, 31.25);
    approx(itl.p50, 0.0375);
    let e2e = s.latency.e2e_request_latency_seconds.clone().unwrap();
    assert_eq!(e2e.sum, 3000.0);
    approx(e2e.p50, 3.75);
    let queue = s.latency.queue_time_seconds.clone().unwrap();
    assert_eq!(queue.sum, 125.0);
    approx(queue.p50, 0.15);
}

#[test]
fn vllm_and_tgi_fill_the_router_fields() {
    let s = snapshot(VLLM_V1);
    approx(s.load.kv_cache_capacity_tokens, 2.0 * 28_912.0 * 16.0);
    assert_eq!(
        s.load.running_lora_adapters.as_deref(),
        Some(&["sql-lora".to_string(), "chat-lora".to_string()][..])
    );
    assert_eq!(
        s.load.waiting_lora_adapters.as_deref(),
        Some(&["sql-lora".to_string()][..])
    );
    approx(s.load.max_lora, 4.0);
    assert_eq!(s.load.data_parallel_ranks, Some(2));

    let s = snapshot(VLLM_V0);
    approx(s.load.kv_cache_capacity_tokens, 27_264.0 * 16.0);
    assert_eq!(s.load.running_lora_adapters, None);
    assert_eq!(s.load.max_lora, None);
    assert_eq!(s.load.data_parallel_ranks, None);

    let s = snapshot(TGI);
    approx(s.load.kv_cache_capacity_tokens, 65_536.0);
    assert_eq!(s.load.data_parallel_ranks, None);
}

#[test]
fn every_fixture_is_detected_as_its_engine() {
    for (text, id) in [
        (VLLM_V1, "vllm"),
        (VLLM_V0, "vllm"),
        (TGI, "tgi"),
        (SGLANG_05, "sglang"),
        (SGLANG_04, "sglang"),
        (LLAMACPP_OLD, "llamacpp"),
        (LLAMACPP_NEW, "llamacpp"),
        (TRITON, "triton"),
        (TRTLLM_SERVE, "trtllm-serve"),
    ] {
        assert_eq!(snapshot(text).engine, id);
        assert_eq!(map(text, id).unwrap().engine, id);
    }
}

#[test]
fn mixed_engines_are_an_error_naming_both() {
    let mixed = format!("{VLLM_V1}{SGLANG_05}");
    let err = map(&mixed, "auto").unwrap_err();
    assert_eq!(err, MapError::MixedEngines(vec!["vllm", "sglang"]));
    let msg = err.to_string();
    assert!(msg.contains("vllm and sglang"), "{msg}");
    // Asking for one engine maps that engine's families only.
    let s = map(&mixed, "sglang").unwrap();
    assert_eq!(s.engine, "sglang");
    approx(s.load.requests_running, 12.0);
}

#[test]
fn unknown_engine_ids_are_typed_errors() {
    let err = map(SGLANG_05, "sglang2").unwrap_err();
    assert_eq!(err, MapError::UnknownEngine("sglang2".to_string()));
    let msg = err.to_string();
    assert!(msg.starts_with("unknown engine: `sglang2`"), "{msg}");
    assert!(msg.contains("trtllm-serve"), "{msg}");
    let Err(MapError::UnrecognizedEngine(msg)) = map(SGLANG_05, "llamacpp") else {
        panic!("llamacpp requested on SGLang text must fail");
    };
    assert!(msg.contains("llamacpp:"), "{msg}");
    // The message carries no kind prefix of its own (the caller adds one).
    assert!(!msg.starts_with("unrecognized engine"), "{msg}");
}

#[test]
fn engine_list_is_data() {
    let ids: Vec<&str> = engines::ENGINES.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        [
            "vllm",
            "tgi",
            "sglang",
            "llamacpp",
            "triton",
            "trtllm-serve"
        ]
    );
    let sglang = engines::find("sglang").unwrap();
    assert!(
        sglang
            .aliases()
            .contains(&"sglang:total_retracted_reqs -> sglang:num_retracted_reqs".to_string())
    );
    let llamacpp = engines::find("llamacpp").unwrap();
    assert_eq!(
        llamacpp.aliases(),
        ["llamacpp:n_past_max -> llamacpp:n_tokens_max"]
    );
    assert!(
        engines::find("vllm")
            .unwrap()
            .aliases()
            .contains(&"vllm:gpu_cache_usage_perc -> vllm:kv_cache_usage_perc".to_string())
    );
}

#[test]
fn every_field_names_a_metric_the_text_exposes() {
    for text in [
        SGLANG_05,
        SGLANG_04,
        LLAMACPP_OLD,
        LLAMACPP_NEW,
        TRITON,
        TRTLLM_SERVE,
    ] {
        let s = snapshot(text);
        for g in &s.engine_metrics {
            for f in &g.fields {
                // Selector fields name `family{label="value"}`; derived
                // ratios name every metric they divide.
                let base = f.metric.split('{').next().unwrap();
                for name in base
                    .split(|c: char| "/()+ ".contains(c))
                    .filter(|n| !n.is_empty())
                {
                    assert!(
                        text.lines().any(|l| l.starts_with(name)),
                        "{}.{} names {name}, absent from the text",
                        g.name,
                        f.name
                    );
                }
            }
        }
    }
}
