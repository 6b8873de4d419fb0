//! Windows through the real component: fixture pairs mapped by the plugin,
//! given collection times, and windowed by `mapper.window`. The expected
//! numbers are derived in `tests/fixtures/EXPECTED.md` ("Windows").

use llm_metrics_host::wit::mapper::{Distribution, Snapshot, WindowError, WindowStats};

use crate::common::{close, fixture, plugin};

/// 0 s, 10 s, 30 s (after a restart), 50 s.
const MS: [u64; 4] = [
    1_763_900_000_000,
    1_763_900_010_000,
    1_763_900_030_000,
    1_763_900_050_000,
];

async fn mapped(name: &str, at_ms: u64) -> Snapshot {
    let text = fixture(name);
    let mut s = plugin()
        .map(&text, None, "auto", "vllm-0")
        .await
        .expect("no trap")
        .expect("maps");
    s.collected_at_ms = at_ms;
    s
}

async fn window(a: &Snapshot, b: &Snapshot) -> Result<WindowStats, WindowError> {
    plugin().window(a, b).await.expect("no trap")
}

#[track_caller]
fn check(d: &Option<Distribution>, count: f64, sum: f64, q: [f64; 3], what: &str) {
    let d = d.as_ref().unwrap_or_else(|| panic!("{what}: absent"));
    close(Some(d.count), count, what);
    close(Some(d.sum), sum, what);
    close(d.p50, q[0], what);
    close(d.p90, q[1], what);
    close(d.p99, q[2], what);
}

#[tokio::test]
async fn snapshots_carry_buckets_and_incarnation() {
    // vllm_v1.prom: two DP engines, buckets summed per `le` (EXPECTED.md).
    let s = mapped("vllm_v1.prom", MS[0]).await;
    let ttft = s.latency.time_to_first_token_seconds.as_ref().unwrap();
    let cum = |le: f64| {
        ttft.buckets
            .iter()
            .find(|b| b.le == le)
            .map(|b| b.count)
            .unwrap()
    };
    assert_eq!(
        [cum(0.04), cum(0.06), cum(0.1), cum(0.5), cum(1.0)],
        [40.0, 220.0, 980.0, 1553.0, 1588.0]
    );
    let last = ttft.buckets.last().unwrap();
    assert_eq!((last.le, last.count), (f64::INFINITY, 1588.0));
    assert_eq!(s.process_start_time_seconds, Some(1.76387897192e9));
    assert!(
        s.created_seconds
            .is_some_and(|c| (1.76e9..1.77e9).contains(&c))
    );
    // No markers in multiprocess-mode output (SGLang), no buckets in a summary.
    let sg = plugin()
        .map(&fixture("sglang_v0_5.prom"), None, "auto", "x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (sg.process_start_time_seconds, sg.created_seconds),
        (None, None)
    );
}

#[tokio::test]
async fn rates_quantiles_and_a_restart() {
    let t0 = mapped("window/vllm_t0.prom", MS[0]).await;
    let t1 = mapped("window/vllm_t1.prom", MS[1]).await;
    let t2 = mapped("window/vllm_t2_restarted.prom", MS[2]).await;
    let t3 = mapped("window/vllm_t3.prom", MS[3]).await;

    let w = window(&t0, &t1).await.unwrap();
    assert_eq!((w.seconds, w.restarted), (10.0, false));
    close(w.rates.requests_succeeded, 5.0, "succeeded/s");
    close(w.rates.requests_failed, 0.2, "failed/s");
    close(w.rates.prompt_tokens, 500.0, "prompt/s");
    close(w.rates.generation_tokens, 200.0, "generation/s");
    close(w.rates.preemptions, 0.1, "preemptions/s");
    check(
        &w.latency.time_to_first_token_seconds,
        50.0,
        15.0,
        [0.2125, 0.8125, 1.0],
        "ttft",
    );
    check(
        &w.latency.e2e_request_latency_seconds,
        50.0,
        150.0,
        [2.5, 5.0, 9.5],
        "e2e",
    );
    check(
        &w.latency.inter_token_latency_seconds,
        2500.0,
        50.0,
        [0.0175, 0.040625, 0.096875],
        "itl",
    );
    check(
        &w.latency.queue_time_seconds,
        50.0,
        1.0,
        [0.1 * 25.0 / 45.0, 0.1, 0.75],
        "queue",
    );

    let w = window(&t1, &t2).await.unwrap();
    assert!(w.restarted);
    assert_eq!(
        w.resets[0],
        "process_start_time_seconds 1763800000 -> 1763803600"
    );
    close(w.rates.prompt_tokens, 60.0, "prompt/s after restart");
    check(
        &w.latency.time_to_first_token_seconds,
        10.0,
        1.5,
        [0.1 * 5.0 / 6.0, 0.5, 0.95],
        "ttft after restart",
    );

    let w = window(&t2, &t3).await.unwrap();
    assert!(!w.restarted, "{:?}", w.resets);
    close(w.rates.prompt_tokens, 120.0, "prompt/s");
}

#[tokio::test]
async fn typed_errors() {
    let t0 = mapped("window/vllm_t0.prom", MS[0]).await;
    let t1 = mapped("window/vllm_t1.prom", MS[1]).await;
    assert_eq!(
        window(&t1, &t0).await,
        Err(WindowError::NotLater((MS[1], MS[0])))
    );
    let mut other = t1.clone();
    other.instance_id = "vllm-1".into();
    assert_eq!(
        window(&t0, &other).await,
        Err(WindowError::DifferentInstances((
            "vllm-0".into(),
            "vllm-1".into()
        )))
    );
    let mut tgi = plugin()
        .map(&fixture("tgi.prom"), None, "auto", "vllm-0")
        .await
        .unwrap()
        .unwrap();
    tgi.collected_at_ms = MS[1];
    assert_eq!(
        window(&t0, &tgi).await,
        Err(WindowError::DifferentEngines(("vllm".into(), "tgi".into())))
    );
    let text = String::from_utf8(fixture("window/vllm_t1.prom"))
        .unwrap()
        .replace("le=\"2.5\"", "le=\"3.0\"");
    let mut moved = plugin()
        .map(text.as_bytes(), None, "auto", "vllm-0")
        .await
        .unwrap()
        .unwrap();
    moved.collected_at_ms = MS[1];
    assert_eq!(
        window(&t0, &moved).await,
        Err(WindowError::BucketLayoutChanged(
            "latency.e2e_request_latency_seconds".into()
        ))
    );
}
