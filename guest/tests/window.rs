//! Windows between fixture pairs, natively: fixture text → snapshot → window.
//!
//! Every expected number is derived by hand in `tests/fixtures/EXPECTED.md`
//! (section "Windows"): the fixtures `tests/fixtures/window/vllm_t*.prom` are
//! one vLLM server at 0 s, 10 s, a restart at 30 s, and 50 s.

use llm_metrics_guest::engines::{Bucket, Distribution, EngineSnapshot, MetricValue};
use llm_metrics_guest::window::{Point, Window, WindowError, window};

mod common;
use common::{approx, snapshot};

const T0: &str = fixture!("window/vllm_t0.prom");
const T1: &str = fixture!("window/vllm_t1.prom");
const T2: &str = fixture!("window/vllm_t2_restarted.prom");
const T3: &str = fixture!("window/vllm_t3.prom");

/// Collection times: 0 s, 10 s, 30 s, 50 s.
const MS: [u64; 4] = [
    1_763_900_000_000,
    1_763_900_010_000,
    1_763_900_030_000,
    1_763_900_050_000,
];

fn win(a: &EngineSnapshot, ta: u64, b: &EngineSnapshot, tb: u64) -> Result<Window, WindowError> {
    window(&Point::of(a, "vllm-0", ta), &Point::of(b, "vllm-0", tb))
}

#[track_caller]
fn check(d: &Option<Distribution>, count: f64, sum: f64, q: [f64; 3]) {
    let d = d.as_ref().expect("a windowed distribution");
    approx(Some(d.count), count);
    approx(Some(d.sum), sum);
    approx(d.mean, sum / count);
    approx(d.p50, q[0]);
    approx(d.p90, q[1]);
    approx(d.p99, q[2]);
}

fn field<'w>(w: &'w Window, group: &str, name: &str) -> Option<&'w MetricValue> {
    w.engine_metrics
        .iter()
        .find(|g| g.name == group)?
        .fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| &f.value)
}

#[test]
fn snapshots_carry_buckets_and_incarnation() {
    let s = snapshot(T0);
    let ttft = s.latency.time_to_first_token_seconds.as_ref().unwrap();
    let b = |le, count| Bucket { le, count };
    assert_eq!(
        ttft.buckets,
        [
            b(0.1, 40.0),
            b(0.25, 80.0),
            b(0.5, 95.0),
            b(1.0, 99.0),
            b(f64::INFINITY, 100.0)
        ]
    );
    assert_eq!(s.incarnation.process_start_time_seconds, Some(1.7638e9));
    assert_eq!(s.incarnation.created_seconds, Some(1.76380001e9));
    assert!(s.field("request", "preemptions").unwrap().counter);
    assert!(s.field("request", "finished_by_reason").unwrap().counter);
    assert!(!s.field("request", "running").unwrap().counter);
    assert!(!s.field("cache", "prefix_cache_hit_ratio").unwrap().counter);
}

#[test]
fn rates_and_windowed_quantiles() {
    let w = win(&snapshot(T0), MS[0], &snapshot(T1), MS[1]).unwrap();
    assert_eq!((w.start_ms, w.end_ms, w.seconds), (MS[0], MS[1], 10.0));
    assert_eq!(
        (w.instance_id.as_str(), w.engine.as_str()),
        ("vllm-0", "vllm")
    );
    assert!(!w.restarted, "{:?}", w.resets);
    assert!(w.resets.is_empty());
    // succeeded: (130 + 18) − (90 + 8) = 50 in 10 s; failed: error 2 → 4.
    approx(w.rates.requests_succeeded, 5.0);
    approx(w.rates.requests_failed, 0.2);
    approx(w.rates.prompt_tokens, 500.0);
    approx(w.rates.generation_tokens, 200.0);
    approx(w.rates.preemptions, 0.1);
    // TTFT bucket increases 10, 30, 40, 48, 50.
    check(
        &w.latency.time_to_first_token_seconds,
        50.0,
        15.0,
        [0.2125, 0.8125, 1.0],
    );
    let ttft = w.latency.time_to_first_token_seconds.as_ref().unwrap();
    let counts: Vec<f64> = ttft.buckets.iter().map(|b| b.count).collect();
    assert_eq!(counts, [10.0, 30.0, 40.0, 48.0, 50.0]);
    check(
        &w.latency.e2e_request_latency_seconds,
        50.0,
        150.0,
        [2.5, 5.0, 9.5],
    );
    check(
        &w.latency.inter_token_latency_seconds,
        2500.0,
        50.0,
        [0.0175, 0.040625, 0.096875],
    );
    check(
        &w.latency.queue_time_seconds,
        50.0,
        1.0,
        [0.1 * 25.0 / 45.0, 0.1, 0.75],
    );
    // Engine counters become rates; gauges and derived ratios are left out.
    assert_eq!(
        field(&w, "cache", "prefix_cache_queries"),
        Some(&MetricValue::Number(400.0))
    );
    assert_eq!(
        field(&w, "cache", "prefix_cache_hits"),
        Some(&MetricValue::Number(200.0))
    );
    assert_eq!(field(&w, "cache", "kv_cache_usage"), None);
    assert_eq!(field(&w, "cache", "prefix_cache_hit_ratio"), None);
    assert_eq!(field(&w, "request", "running"), None);
    match field(&w, "request", "finished_by_reason") {
        Some(MetricValue::ByLabel(label, values)) => {
            assert_eq!(label, "finished_reason");
            let got: Vec<(&str, f64)> = values.iter().map(|v| (v.key.as_str(), v.value)).collect();
            assert_eq!(
                got,
                [
                    ("abort", 0.0),
                    ("error", 0.2),
                    ("length", 1.0),
                    ("repetition", 0.0),
                    ("stop", 4.0)
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    match field(&w, "throughput", "time_to_first_token_seconds") {
        Some(MetricValue::Distribution(d)) => assert_eq!((d.count, d.sum), (50.0, 15.0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_restart_counts_from_zero() {
    let w = win(&snapshot(T1), MS[1], &snapshot(T2), MS[2]).unwrap();
    assert_eq!(w.seconds, 20.0);
    assert!(w.restarted);
    assert!(
        w.resets
            .contains(&"process_start_time_seconds 1763800000 -> 1763803600".to_string()),
        "{:?}",
        w.resets
    );
    assert!(w.resets.iter().any(|r| r.starts_with("earliest _created")));
    approx(w.rates.prompt_tokens, 60.0);
    approx(w.rates.generation_tokens, 30.0);
    approx(w.rates.requests_succeeded, 0.5);
    approx(w.rates.requests_failed, 0.0);
    approx(w.rates.preemptions, 0.0);
    // The window's TTFT is the new process's: buckets 6, 8, 9, 10, 10.
    check(
        &w.latency.time_to_first_token_seconds,
        10.0,
        1.5,
        [0.1 * 5.0 / 6.0, 0.5, 0.95],
    );
}

#[test]
fn without_markers_a_counter_that_went_down_was_reset() {
    // Multiprocess-mode servers expose neither marker: Prometheus' rule.
    let (mut a, mut b) = (snapshot(T1), snapshot(T2));
    a.incarnation = Default::default();
    b.incarnation = Default::default();
    let w = win(&a, MS[1], &b, MS[2]).unwrap();
    assert!(w.restarted);
    assert!(
        w.resets
            .contains(&"totals.prompt_tokens 15000 -> 1200".to_string()),
        "{:?}",
        w.resets
    );
    approx(w.rates.prompt_tokens, 60.0);
    approx(w.rates.preemptions, 0.0);
    check(
        &w.latency.time_to_first_token_seconds,
        10.0,
        1.5,
        [0.1 * 5.0 / 6.0, 0.5, 0.95],
    );
}

#[test]
fn after_the_restart() {
    let w = win(&snapshot(T2), MS[2], &snapshot(T3), MS[3]).unwrap();
    assert!(!w.restarted, "{:?}", w.resets);
    approx(w.rates.prompt_tokens, 120.0);
    approx(w.rates.generation_tokens, 60.0);
    approx(w.rates.requests_succeeded, 1.0);
    approx(w.rates.requests_failed, 0.05);
    approx(w.rates.preemptions, 0.05);
    // TTFT increases 10, 16, 19, 20, 20: p50 rank 10 → 0.1; p90 rank 18 →
    // 0.25 + 0.25 × 2/3; p99 rank 19.8 → 0.5 + 0.5 × 0.8.
    check(
        &w.latency.time_to_first_token_seconds,
        20.0,
        3.0,
        [0.1, 0.25 + 0.25 * 2.0 / 3.0, 0.9],
    );
}

#[test]
fn typed_errors() {
    let (a, b) = (snapshot(T0), snapshot(T1));
    assert_eq!(
        win(&a, MS[1], &b, MS[1]),
        Err(WindowError::NotLater(MS[1], MS[1]))
    );
    assert_eq!(
        win(&b, MS[1], &a, MS[0]),
        Err(WindowError::NotLater(MS[1], MS[0]))
    );
    let other = Point {
        instance_id: "vllm-1",
        ..Point::of(&b, "vllm-0", MS[1])
    };
    assert_eq!(
        window(&Point::of(&a, "vllm-0", MS[0]), &other),
        Err(WindowError::DifferentInstances(
            "vllm-0".into(),
            "vllm-1".into()
        ))
    );
    let other = Point {
        engine: "sglang",
        ..Point::of(&b, "vllm-0", MS[1])
    };
    assert_eq!(
        window(&Point::of(&a, "vllm-0", MS[0]), &other),
        Err(WindowError::DifferentEngines(
            "vllm".into(),
            "sglang".into()
        ))
    );
    // Reconfigured TTFT buckets (0.25 → 0.3).
    let moved = snapshot(&T1.replace(
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",model_name=\"m\",le=\"0.25\"}",
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",model_name=\"m\",le=\"0.3\"}",
    ));
    assert_eq!(
        win(&a, MS[0], &moved, MS[1]),
        Err(WindowError::BucketLayoutChanged(
            "latency.time_to_first_token_seconds".into()
        ))
    );
}

#[test]
fn ranks_with_different_layouts_keep_no_buckets() {
    let text = "\
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"1.0\"} 1
vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"+Inf\"} 2
vllm:e2e_request_latency_seconds_count{engine=\"0\"} 2
vllm:e2e_request_latency_seconds_sum{engine=\"0\"} 3
vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"2.0\"} 1
vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"+Inf\"} 1
vllm:e2e_request_latency_seconds_count{engine=\"1\"} 1
vllm:e2e_request_latency_seconds_sum{engine=\"1\"} 1
";
    let d = snapshot(text).latency.e2e_request_latency_seconds.unwrap();
    assert_eq!((d.count, d.sum), (3.0, 4.0));
    assert!(d.buckets.is_empty());
    // Same layouts are summed per `le`.
    let same = text.replace("le=\"2.0\"", "le=\"1.0\"");
    let d = snapshot(&same).latency.e2e_request_latency_seconds.unwrap();
    let b: Vec<(f64, f64)> = d.buckets.iter().map(|b| (b.le, b.count)).collect();
    assert_eq!(b, [(1.0, 2.0), (f64::INFINITY, 3.0)]);
}

#[test]
fn incarnation_markers_of_the_engine_fixtures() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/");
    for (file, start, created) in [
        (
            "vllm_v1.prom",
            Some(1_763_878_971.92),
            Some(1_763_879_004.252_056_4),
        ),
        (
            "trtllm_serve.prom",
            Some(1_796_613_446.87),
            Some(1_796_613_448.147_678_1),
        ),
        ("vllm_v0.prom", None, None),
        ("tgi.prom", None, None),
        ("sglang_v0_5.prom", None, None),
        ("llamacpp_recent.prom", None, None),
        ("triton_trtllm.prom", None, None),
    ] {
        let text = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
        let i = snapshot(&text).incarnation;
        assert_eq!(
            (i.process_start_time_seconds, i.created_seconds),
            (start, created),
            "{file}"
        );
    }
}

#[test]
fn a_summary_is_windowed_without_quantiles() {
    // TGI ≥ 2.3: `tgi_request_skipped_tokens` is a summary over its own
    // rolling 60 s; only its count and sum can be windowed. Its counters
    // carry no `_total` and are still rates.
    let text = |count: u32, sum: u32, success: u32| {
        format!(
            "# TYPE tgi_request_skipped_tokens summary\n\
             tgi_request_skipped_tokens{{quantile=\"0.5\"}} 1\n\
             tgi_request_skipped_tokens_count {count}\n\
             tgi_request_skipped_tokens_sum {sum}\n\
             # TYPE tgi_request_success counter\n\
             tgi_request_success {success}\n\
             # TYPE tgi_queue_size gauge\n\
             tgi_queue_size 1\n"
        )
    };
    let (a, b) = (snapshot(&text(10, 20, 10)), snapshot(&text(30, 80, 14)));
    let w = win(&a, MS[0], &b, MS[0] + 4_000).unwrap();
    approx(w.rates.requests_succeeded, 1.0);
    let skipped = w
        .engine_metrics
        .iter()
        .flat_map(|g| &g.fields)
        .find(|f| f.name == "skipped_tokens")
        .expect("skipped tokens windowed");
    match &skipped.value {
        MetricValue::Distribution(d) => {
            assert_eq!((d.count, d.sum, d.mean), (20.0, 60.0, Some(3.0)));
            assert_eq!((d.p50, d.p90, d.p99), (None, None, None));
            assert!(d.buckets.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(b.field("generation", "queue_size").is_some());
    assert!(
        w.engine_metrics
            .iter()
            .flat_map(|g| &g.fields)
            .all(|f| f.name != "queue_size"),
        "gauges are left out"
    );
}
