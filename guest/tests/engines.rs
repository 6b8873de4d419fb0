//! Engine mappers end to end, natively: fixture text → parser → snapshot.
//!
//! Every number asserted here is derived by hand in `tests/fixtures/EXPECTED.md`.

use llm_metrics_guest::engines::{
    Distribution, EngineSnapshot, LabeledValue, MapError, MetricValue,
};

mod common;
use common::{approx, map, snapshot};

const VLLM_V1: &str = fixture!("vllm_v1.prom");
const VLLM_V0: &str = fixture!("vllm_v0.prom");
const TGI: &str = fixture!("tgi.prom");

#[track_caller]
fn number(s: &EngineSnapshot, group: &str, field: &str) -> f64 {
    match s.field(group, field).map(|f| &f.value) {
        Some(MetricValue::Number(n)) => *n,
        other => panic!("{group}.{field}: expected a number, got {other:?}"),
    }
}

#[track_caller]
fn by_label(s: &EngineSnapshot, group: &str, field: &str) -> (String, Vec<(String, f64)>) {
    match s.field(group, field).map(|f| &f.value) {
        Some(MetricValue::ByLabel(label, values)) => (
            label.clone(),
            values
                .iter()
                .map(|LabeledValue { key, value }| (key.clone(), *value))
                .collect(),
        ),
        other => panic!("{group}.{field}: expected by-label, got {other:?}"),
    }
}

#[track_caller]
fn names(s: &EngineSnapshot, group: &str, field: &str) -> Vec<String> {
    match s.field(group, field).map(|f| &f.value) {
        Some(MetricValue::Names(n)) => n.clone(),
        other => panic!("{group}.{field}: expected names, got {other:?}"),
    }
}

#[track_caller]
fn dist(s: &EngineSnapshot, group: &str, field: &str) -> Distribution {
    match s.field(group, field).map(|f| &f.value) {
        Some(MetricValue::Distribution(d)) => d.clone(),
        other => panic!("{group}.{field}: expected a distribution, got {other:?}"),
    }
}

fn pairs(list: &[(&str, f64)]) -> Vec<(String, f64)> {
    list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn vllm_v1_load_and_totals() {
    let s = snapshot(VLLM_V1);
    assert_eq!(s.engine, "vllm");
    assert_eq!(s.model_names, ["meta-llama/Llama-3.1-8B-Instruct"]);
    approx(s.load.requests_running, 8.0);
    approx(s.load.requests_waiting, 2.0);
    approx(s.load.kv_cache_usage, 0.3125);
    approx(s.totals.requests_succeeded, 1560.0);
    approx(s.totals.requests_failed, 20.0);
    approx(s.totals.prompt_tokens, 2_060_000.0);
    approx(s.totals.generation_tokens, 635_000.0);
    approx(s.totals.preemptions, 4.0);
}

#[test]
fn vllm_v1_latency() {
    let s = snapshot(VLLM_V1);
    let ttft = s.latency.time_to_first_token_seconds.clone().unwrap();
    assert_eq!((ttft.count, ttft.sum), (1588.0, 208.75));
    approx(ttft.mean, 208.75 / 1588.0);
    approx(ttft.p50, 0.08 + 0.02 * 234.0 / 420.0);
    approx(ttft.p90, 0.1 + 0.15 * 449.2 / 500.0);
    approx(ttft.p99, 0.5 + 0.25 * 19.12 / 30.0);

    let e2e = s.latency.e2e_request_latency_seconds.clone().unwrap();
    assert_eq!((e2e.count, e2e.sum), (1580.0, 4415.0));
    approx(e2e.mean, 4415.0 / 1580.0);
    approx(e2e.p50, 2.25);
    approx(e2e.p90, 5.0 + 5.0 * 2.0 / 140.0);
    approx(e2e.p99, 11.05);

    let itl = s.latency.inter_token_latency_seconds.clone().unwrap();
    assert_eq!(itl.count, 633_412.0);
    approx(Some(itl.sum), 15180.02);

    let queue = s.latency.queue_time_seconds.clone().unwrap();
    assert_eq!(queue.count, 1580.0);
    approx(Some(queue.sum), 25.4);
    approx(queue.p50, 0.3 * 790.0 / 1520.0);
}

#[test]
fn vllm_v1_engine_metrics() {
    let s = snapshot(VLLM_V1);
    assert_eq!(
        by_label(&s, "request", "finished_by_reason"),
        (
            "finished_reason".to_string(),
            pairs(&[
                ("abort", 0.0),
                ("error", 20.0),
                ("length", 260.0),
                ("repetition", 0.0),
                ("stop", 1300.0)
            ])
        )
    );
    assert_eq!(
        by_label(&s, "request", "waiting_by_reason"),
        (
            "reason".to_string(),
            pairs(&[("capacity", 2.0), ("deferred", 0.0)])
        )
    );
    assert_eq!(
        by_label(&s, "request", "http_requests_by_status"),
        (
            "status".to_string(),
            pairs(&[("2xx", 1571.0), ("4xx", 12.0)])
        )
    );
    assert_eq!(
        s.field("request", "http_requests_by_status")
            .unwrap()
            .metric,
        "http_requests_total"
    );
    assert_eq!(number(&s, "cache", "kv_cache_usage"), 0.3125);
    assert_eq!(number(&s, "cache", "kv_cache_usage_max"), 0.4375);
    assert_eq!(
        s.field("cache", "kv_cache_usage").unwrap().metric,
        "vllm:kv_cache_usage_perc"
    );
    assert_eq!(number(&s, "cache", "prefix_cache_queries"), 2_000_000.0);
    assert_eq!(number(&s, "cache", "prefix_cache_hits"), 500_000.0);
    assert_eq!(number(&s, "cache", "prefix_cache_hit_ratio"), 0.25);
    assert_eq!(
        s.field("cache", "prefix_cache_hits").unwrap().metric,
        "vllm:prefix_cache_hits_total"
    );
    assert_eq!(number(&s, "cache", "block_size"), 16.0);
    assert_eq!(number(&s, "cache", "num_gpu_blocks"), 28912.0);
    // The LoRA series with the largest value (a timestamp) wins, not the first.
    assert_eq!(
        names(&s, "cache", "running_lora_adapters"),
        ["sql-lora", "chat-lora"]
    );
    assert_eq!(names(&s, "cache", "waiting_lora_adapters"), ["sql-lora"]);
    assert_eq!(number(&s, "cache", "max_lora"), 4.0);
    assert_eq!(number(&s, "engine", "engines"), 2.0);
    assert_eq!(number(&s, "throughput", "prompt_tokens"), 2_060_000.0);
    let iteration = dist(&s, "throughput", "iteration_tokens");
    assert_eq!((iteration.count, iteration.sum), (381_580.0, 2_695_000.0));
    let tpot = dist(&s, "throughput", "request_time_per_output_token_seconds");
    assert_eq!(tpot.count, 1580.0);
    // V0-only metrics are absent, not zero.
    for (group, field) in [
        ("cache", "cpu_cache_usage"),
        ("request", "swapped"),
        ("cache", "gpu_prefix_cache_hit_rate"),
        ("throughput", "avg_prompt_throughput_toks_per_s"),
    ] {
        assert!(
            s.field(group, field).is_none(),
            "{group}.{field} should be absent"
        );
    }
}

#[test]
fn every_field_names_a_metric_the_text_exposes() {
    for text in [VLLM_V1, VLLM_V0, TGI] {
        let s = snapshot(text);
        for group in &s.engine_metrics {
            assert!(!group.fields.is_empty(), "empty group {}", group.name);
            for f in &group.fields {
                for metric in f.metric.split(" / ") {
                    let exposed = text.lines().any(|l| {
                        l.strip_prefix(metric)
                            .is_some_and(|rest| rest.starts_with(['{', ' ', '_']))
                    });
                    assert!(exposed, "{}.{} claims {metric}", group.name, f.name);
                }
            }
        }
    }
}

#[test]
fn created_series_are_never_read() {
    // `_created` gauges come first and share every prefix with the real
    // series; a prefix-matching reader would add ~1.76e9 to each figure.
    let text = "\
# TYPE vllm:prompt_tokens_created gauge
vllm:prompt_tokens_created{engine=\"0\",model_name=\"m\"} 1.7638790042539756e+09
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine=\"0\",model_name=\"m\"} 10.0
# TYPE vllm:num_preemptions_created gauge
vllm:num_preemptions_created{engine=\"0\",model_name=\"m\"} 1.7638790042e+09
# TYPE vllm:request_success_created gauge
vllm:request_success_created{engine=\"0\",finished_reason=\"stop\",model_name=\"m\"} 1.7638790042e+09
# TYPE vllm:e2e_request_latency_seconds_created gauge
vllm:e2e_request_latency_seconds_created{engine=\"0\",model_name=\"m\"} 1.7638790042e+09
";
    let s = snapshot(text);
    assert_eq!(s.totals.prompt_tokens, Some(10.0));
    assert_eq!(s.totals.preemptions, None);
    assert_eq!(s.totals.requests_succeeded, None);
    assert_eq!(s.latency.e2e_request_latency_seconds, None);
    // And in the full fixture the token totals are the counters alone.
    let s = snapshot(VLLM_V1);
    assert_eq!(s.totals.prompt_tokens, Some(2_060_000.0));
}

#[test]
fn vllm_v0() {
    let s = snapshot(VLLM_V0);
    assert_eq!(s.engine, "vllm");
    assert_eq!(s.model_names, ["Qwen/Qwen2.5-7B-Instruct"]);
    approx(s.load.requests_running, 4.0);
    approx(s.load.requests_waiting, 1.0);
    approx(s.load.kv_cache_usage, 0.62109375);
    assert_eq!(
        s.field("cache", "kv_cache_usage").unwrap().metric,
        "vllm:gpu_cache_usage_perc"
    );
    approx(s.totals.requests_succeeded, 352.0);
    assert_eq!(s.totals.requests_failed, None);
    approx(s.totals.prompt_tokens, 186_420.0);
    approx(s.totals.generation_tokens, 71_835.0);
    approx(s.totals.preemptions, 2.0);

    let ttft = s.latency.time_to_first_token_seconds.clone().unwrap();
    assert_eq!((ttft.count, ttft.sum), (356.0, 55.6));
    approx(ttft.mean, 55.6 / 356.0);
    approx(ttft.p50, 0.08 + 0.02 * 78.0 / 90.0);
    approx(ttft.p90, 0.3775);
    approx(ttft.p99, 0.9025);

    let e2e = s.latency.e2e_request_latency_seconds.clone().unwrap();
    assert_eq!((e2e.count, e2e.sum), (352.0, 1204.0));
    approx(e2e.mean, 1204.0 / 352.0);
    approx(e2e.p50, 2.5 + 2.5 * 26.0 / 150.0);
    approx(e2e.p90, 5.0 + 5.0 * 16.8 / 45.0);
    approx(e2e.p99, 10.0 + 5.0 * 3.48 / 7.0);

    let itl = s.latency.inter_token_latency_seconds.clone().unwrap();
    assert_eq!((itl.count, itl.sum), (71_479.0, 1791.11));
    let itl_field = s
        .field("throughput", "inter_token_latency_seconds")
        .unwrap();
    assert_eq!(itl_field.metric, "vllm:time_per_output_token_seconds");
    assert_eq!(s.latency.queue_time_seconds, None);

    assert_eq!(number(&s, "request", "swapped"), 0.0);
    assert_eq!(number(&s, "cache", "cpu_cache_usage"), 0.0);
    assert_eq!(number(&s, "cache", "block_size"), 16.0);
    assert_eq!(number(&s, "cache", "num_gpu_blocks"), 27264.0);
    assert_eq!(
        number(&s, "throughput", "avg_prompt_throughput_toks_per_s"),
        412.3
    );
    assert_eq!(
        number(&s, "throughput", "avg_generation_throughput_toks_per_s"),
        158.9
    );
    assert_eq!(
        by_label(&s, "request", "finished_by_reason"),
        (
            "finished_reason".to_string(),
            pairs(&[("length", 42.0), ("stop", 310.0)])
        )
    );
    // −1 hit rates mean "prefix caching disabled": left out, as are the
    // V1-only metrics and the engine count (V0 has no `engine` label).
    for (group, field) in [
        ("cache", "gpu_prefix_cache_hit_rate"),
        ("cache", "cpu_prefix_cache_hit_rate"),
        ("cache", "prefix_cache_hits"),
        ("cache", "prefix_cache_hit_ratio"),
        ("cache", "running_lora_adapters"),
        ("request", "waiting_by_reason"),
        ("request", "queue_time_seconds"),
        ("request", "http_requests_by_status"),
        ("throughput", "iteration_tokens"),
    ] {
        assert!(
            s.field(group, field).is_none(),
            "{group}.{field} should be absent"
        );
    }
    assert!(s.group("engine").is_none());
}

#[test]
fn tgi() {
    let s = snapshot(TGI);
    assert_eq!(s.engine, "tgi");
    assert!(s.model_names.is_empty());
    approx(s.load.requests_running, 12.0);
    approx(s.load.requests_waiting, 3.0);
    approx(s.load.kv_cache_usage, 0.375);
    approx(s.totals.requests_succeeded, 1312.0);
    approx(s.totals.requests_failed, 18.0);
    approx(s.totals.prompt_tokens, 290_000.0);
    approx(s.totals.generation_tokens, 185_000.0);
    assert_eq!(s.totals.preemptions, None);
    assert_eq!(s.latency.time_to_first_token_seconds, None);

    // D(k) = 0.0001 × 1.5^k by repeated multiplication, as TGI builds it.
    let d = |k: usize| (0..k).fold(0.0001_f64, |v, _| v * 1.5);
    assert_eq!(d(24), 1.683411219602823);
    let e2e = s.latency.e2e_request_latency_seconds.clone().unwrap();
    assert_eq!((e2e.count, e2e.sum), (1312.0, 3350.75));
    approx(e2e.mean, 3350.75 / 1312.0);
    approx(e2e.p50, d(24) + (d(25) - d(24)) * 306.0 / 400.0);
    approx(e2e.p50, 2.327316011100903);

    let itl = s.latency.inter_token_latency_seconds.clone().unwrap();
    assert_eq!((itl.count, itl.sum), (1312.0, 32.8));
    approx(itl.mean, 0.025);
    approx(itl.p50, d(13) + (d(14) - d(13)) * 456.0 / 800.0);

    let queue = s.latency.queue_time_seconds.clone().unwrap();
    assert_eq!((queue.count, queue.sum), (1312.0, 8.125));
    approx(queue.p50, 0.00045765);

    assert_eq!(number(&s, "request", "count"), 1340.0);
    assert_eq!(number(&s, "request", "success"), 1312.0);
    assert_eq!(
        by_label(&s, "request", "failures_by_err"),
        (
            "err".to_string(),
            pairs(&[
                ("generation", 1.0),
                ("overloaded", 3.0),
                ("validation", 14.0)
            ])
        )
    );
    let skipped = dist(&s, "request", "skipped_tokens");
    assert_eq!(
        (skipped.count, skipped.sum, skipped.mean),
        (185_000.0, 0.0, Some(0.0))
    );
    assert_eq!(
        (skipped.p50, skipped.p90, skipped.p99),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    assert_eq!(
        by_label(&s, "generation", "batch_inference_count"),
        (
            "method".to_string(),
            pairs(&[("decode", 61000.0), ("prefill", 2400.0)])
        )
    );
    assert_eq!(
        by_label(&s, "generation", "batch_inference_failure"),
        ("method".to_string(), pairs(&[("decode", 1.0)]))
    );
    assert_eq!(
        by_label(&s, "generation", "batch_concat"),
        (
            "reason".to_string(),
            pairs(&[
                ("backpressure", 310.0),
                ("chunking", 420.0),
                ("wait_exceeded", 1650.0)
            ])
        )
    );
    let forward = dist(&s, "generation", "batch_forward_duration_seconds");
    assert_eq!((forward.count, forward.sum), (63_400.0, 1130.0));
    let next = dist(&s, "generation", "batch_next_size");
    assert_eq!((next.count, next.sum), (2400.0, 3320.0));
    // p50: rank 1200 ≤ 1800 in the first bucket (0, 1] → 1200/1800.
    approx(next.p50, 1200.0 / 1800.0);
}

#[test]
fn detection_and_requested_engine() {
    assert_eq!(snapshot(TGI).engine, "tgi");
    assert_eq!(map(VLLM_V0, "vllm").unwrap().engine, "vllm");
    assert_eq!(map(TGI, "tgi").unwrap().engine, "tgi");

    let Err(MapError::UnrecognizedEngine(msg)) = map(TGI, "vllm") else {
        panic!("vllm requested on TGI text must fail");
    };
    assert!(msg.contains("vllm:"), "{msg}");
    assert!(msg.contains("tgi_batch_inference_success"), "{msg}");
    assert!(matches!(
        map(VLLM_V1, "tgi"),
        Err(MapError::UnrecognizedEngine(_))
    ));
}

#[test]
fn non_engine_exposition_is_an_error() {
    let text = "\
# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile=\"0\"} 2.1e-05
go_gc_duration_seconds{quantile=\"1\"} 0.000312
go_gc_duration_seconds_sum 0.0123
go_gc_duration_seconds_count 42
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 37
";
    let err = map(text, "auto").unwrap_err();
    let MapError::UnrecognizedEngine(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.contains("none among 2 families"), "{msg}");
    for looked_for in [
        "vllm:",
        "tgi_",
        "sglang:",
        "llamacpp:",
        "nv_trt_llm_",
        "trtllm_",
    ] {
        assert!(msg.contains(looked_for), "{msg}");
    }
    assert!(msg.contains("go_gc_duration_seconds"), "{msg}");
    assert!(err.to_string().starts_with("unrecognized engine: "));
    assert!(matches!(
        map("", "auto"),
        Err(MapError::UnrecognizedEngine(_))
    ));
}

#[test]
fn absent_metrics_are_none_not_zero() {
    let s = snapshot("vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 0\n");
    assert_eq!(s.load.requests_running, Some(0.0));
    assert_eq!(s.load.requests_waiting, None);
    assert_eq!(s.load.kv_cache_usage, None);
    assert_eq!(
        (
            s.totals.requests_succeeded,
            s.totals.requests_failed,
            s.totals.prompt_tokens
        ),
        (None, None, None)
    );
    assert_eq!(
        (s.totals.generation_tokens, s.totals.preemptions),
        (None, None)
    );
    assert_eq!(s.latency, Default::default());
    assert_eq!(s.model_names, ["m"]);
    let request = s.group("request").unwrap();
    assert_eq!(request.fields.len(), 1);
    assert!(s.group("cache").is_none());

    let s = snapshot("tgi_queue_size 0\n");
    assert_eq!(s.load.requests_waiting, Some(0.0));
    assert_eq!(s.load.kv_cache_usage, None);
    assert_eq!(s.totals, Default::default());
}

#[test]
fn vllm_cached_prompt_tokens_rejections_and_kv_size() {
    // 0.32: `prompt_tokens_cached_total` is read before the prefix-cache
    // hits (they count the same tokens a step apart), and the KV size vLLM
    // computed wins over blocks x block size.
    let text = "\
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine=\"0\",model_name=\"m\"} 1000
# TYPE vllm:prompt_tokens_cached_total counter
vllm:prompt_tokens_cached_total{engine=\"0\",model_name=\"m\"} 300
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 320
# TYPE vllm:admission_rejections_total counter
vllm:admission_rejections_total{engine=\"0\",model_name=\"m\",reason=\"queue_full\"} 4
vllm:admission_rejections_total{engine=\"0\",model_name=\"m\",reason=\"too_long\"} 1
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size=\"16\",engine=\"0\",kv_cache_size_tokens=\"37760\",num_gpu_blocks=\"2361\"} 1
";
    let s = snapshot(text);
    assert_eq!(s.totals.prompt_tokens, Some(1000.0));
    assert_eq!(s.totals.prompt_tokens_cached, Some(300.0));
    assert_eq!(s.totals.requests_rejected, Some(5.0));
    // Rejections are not failures of admitted requests.
    assert_eq!(s.totals.requests_failed, None);
    assert_eq!(s.load.kv_cache_capacity_tokens, Some(37_760.0));

    // Before 0.15: the prefix-cache hits; no rejection counter; the KV size
    // from blocks x block size.
    let text = "\
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 320
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size=\"16\",engine=\"0\",num_gpu_blocks=\"2361\"} 1
";
    let s = snapshot(text);
    assert_eq!(s.totals.prompt_tokens_cached, Some(320.0));
    assert_eq!(s.totals.requests_rejected, None);
    assert_eq!(s.load.kv_cache_capacity_tokens, Some(2361.0 * 16.0));
    // V0 exposes neither: null, never 0.
    let s = snapshot(VLLM_V0);
    assert_eq!(s.totals.prompt_tokens_cached, None);
}

#[test]
fn sglang_cached_tokens_are_never_counted_twice() {
    // Where `cache_source="total"` is exposed it is read alone; else the
    // sources are added.
    let with_total = "\
# TYPE sglang:cached_tokens_total counter
sglang:cached_tokens_total{cache_source=\"device\",model_name=\"m\"} 200
sglang:cached_tokens_total{cache_source=\"host\",model_name=\"m\"} 40
sglang:cached_tokens_total{cache_source=\"total\",model_name=\"m\"} 250
";
    assert_eq!(
        snapshot(with_total).totals.prompt_tokens_cached,
        Some(250.0)
    );
    let parts = "\
# TYPE sglang:cached_tokens_total counter
sglang:cached_tokens_total{cache_source=\"device\",model_name=\"m\"} 200
sglang:cached_tokens_total{cache_source=\"host\",model_name=\"m\"} 40
";
    assert_eq!(snapshot(parts).totals.prompt_tokens_cached, Some(240.0));
}

#[test]
fn quantiles_carry_their_bucket() {
    // Every observation in the first bucket (le 0.3): p50 interpolates to
    // 0.15, and its bucket says it may be anywhere in (0, 0.3].
    let text = "\
# TYPE vllm:request_queue_time_seconds histogram
vllm:request_queue_time_seconds_bucket{engine=\"0\",le=\"0.3\",model_name=\"m\"} 6
vllm:request_queue_time_seconds_bucket{engine=\"0\",le=\"0.5\",model_name=\"m\"} 6
vllm:request_queue_time_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"m\"} 6
vllm:request_queue_time_seconds_count{engine=\"0\",model_name=\"m\"} 6
vllm:request_queue_time_seconds_sum{engine=\"0\",model_name=\"m\"} 0.000138
";
    let q = snapshot(text).latency.queue_time_seconds.unwrap();
    approx(q.p50, 0.15);
    let first = llm_metrics_guest::engines::Bounds {
        lower: 0.0,
        upper: 0.3,
    };
    assert_eq!(
        (q.p50_bucket, q.p90_bucket, q.p99_bucket),
        (Some(first), Some(first), Some(first))
    );
    // A summary's quantiles are the client's own: no bucket.
    let d = llm_metrics_guest::distribution::from_summary(&[(0.5, 0.2)], 10.0, 3.0);
    assert_eq!((d.p50, d.p50_bucket), (Some(0.2), None));
}
