//! SGLang, llama.cpp, Triton/TensorRT-LLM and trtllm-serve through the real
//! component: `collect` with `engine: "auto"` against loopback servers, and
//! `map-exposition`. Expected values are the hand-computed ones of
//! `tests/fixtures/EXPECTED.md`.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use llm_metrics_host::wit::collector::Target;
use llm_metrics_host::wit::mapper::{CollectError, MetricValue, Snapshot};
use llm_metrics_host::{AllowedHost, EgressPolicy};
use tokio::net::TcpListener;

use crate::common::{close, fixture, plugin};

/// prometheus_client ≥ 0.23 (SGLang, trtllm-serve).
const PYTHON_CT: &str = "text/plain; version=1.0.0; charset=utf-8";
/// llama.cpp and prometheus-cpp (Triton).
const TEXT_004: &str = "text/plain; version=0.0.4";

/// A loopback server whose `/metrics` returns `body`.
async fn serve_body(content_type: &'static str, body: Vec<u8>) -> SocketAddr {
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, content_type)], body) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// Collect `body` served over loopback, asking for `engine`.
async fn collect_body(
    content_type: &'static str,
    body: Vec<u8>,
    engine: &str,
) -> Result<Snapshot, CollectError> {
    let addr = serve_body(content_type, body).await;
    let t = Target {
        url: format!("http://{addr}/metrics"),
        instance_id: None,
        engine: engine.to_string(),
        timeout_ms: 5_000,
        max_body_bytes: 16 << 20,
        headers: Vec::new(),
        include_raw: false,
    };
    let egress = EgressPolicy::deny_all().allow(AllowedHost::from_url(&t.url).unwrap());
    plugin()
        .collect(&t, egress)
        .await
        .expect("the plugin must not trap")
}

async fn collect_fixture(content_type: &'static str, name: &str) -> Snapshot {
    collect_body(content_type, fixture(name), "auto")
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

#[track_caller]
fn number(s: &Snapshot, group: &str, name: &str) -> (String, f64) {
    let f = s
        .engine_metrics
        .iter()
        .find(|g| g.name == group)
        .and_then(|g| g.fields.iter().find(|f| f.name == name))
        .unwrap_or_else(|| panic!("no {group}.{name}"));
    match &f.value {
        MetricValue::Number(n) => (f.metric.clone(), *n),
        other => panic!("{group}.{name} is {other:?}"),
    }
}

#[tokio::test]
async fn sglang_0_5_over_http() {
    let s = collect_fixture(PYTHON_CT, "sglang_v0_5.prom").await;
    assert_eq!(s.engine, "sglang");
    assert_eq!(s.model_names, ["Qwen/Qwen3-8B"]);
    close(s.load.requests_running, 12.0, "running");
    close(s.load.requests_waiting, 4.0, "waiting");
    close(s.load.kv_cache_usage, 0.5, "kv");
    close(s.load.kv_cache_capacity_tokens, 524_288.0, "capacity");
    assert_eq!(s.load.data_parallel_ranks, Some(2));
    assert_eq!(s.load.max_lora, None);
    close(s.totals.requests_succeeded, 2500.0, "succeeded");
    close(s.totals.requests_failed, 25.0, "failed");
    close(s.totals.prompt_tokens, 1_500_000.0, "prompt");
    let ttft = s.latency.time_to_first_token_seconds.clone().unwrap();
    assert_eq!((ttft.count, ttft.sum), (2500.0, 937.5));
    close(ttft.p50, 0.1 + 0.1 * 1250.0 / 1500.0, "ttft p50");
    close(ttft.p99, 3.0, "ttft p99");
    let queue = s.latency.queue_time_seconds.clone().unwrap();
    assert_eq!(
        (queue.count, queue.sum, queue.p50),
        (2500.0, 175.0, Some(0.0))
    );
    close(queue.p90, 0.06625, "queue p90");
    assert_eq!(number(&s, "request", "retracted").1, 3.0);
}

#[tokio::test]
async fn sglang_0_4_over_http() {
    let s = collect_fixture(PYTHON_CT, "sglang_v0_4.prom").await;
    assert_eq!(s.engine, "sglang");
    close(s.load.requests_running, 6.0, "running");
    assert_eq!(s.load.kv_cache_capacity_tokens, None);
    let itl = s.latency.inter_token_latency_seconds.clone().unwrap();
    assert_eq!((itl.count, itl.sum), (40_000.0, 1250.0));
    close(itl.p50, 0.035, "itl p50");
    assert_eq!(
        number(&s, "request", "retracted"),
        ("sglang:total_retracted_reqs".to_string(), 5.0)
    );
}

#[tokio::test]
async fn llamacpp_builds_over_http() {
    let s = collect_fixture(TEXT_004, "llamacpp_b5000.prom").await;
    assert_eq!(s.engine, "llamacpp");
    close(s.load.requests_running, 3.0, "running");
    close(s.load.requests_waiting, 1.0, "waiting");
    close(s.load.kv_cache_usage, 0.412598, "kv");
    assert_eq!(s.totals.prompt_tokens, Some(1_284_130.0));
    assert_eq!(s.latency.time_to_first_token_seconds, None);
    assert_eq!(
        number(&s, "request", "n_tokens_max"),
        ("llamacpp:n_past_max".to_string(), 7935.0)
    );

    let s = collect_fixture(TEXT_004, "llamacpp_recent.prom").await;
    assert_eq!(s.engine, "llamacpp");
    assert_eq!(s.load.kv_cache_usage, None);
    assert_eq!(s.totals.generation_tokens, Some(1_500_000.0));
    assert_eq!(
        number(&s, "request", "n_tokens_max"),
        ("llamacpp:n_tokens_max".to_string(), 32_768.0)
    );
    close(
        Some(number(&s, "cache", "prompt_cache_hit_ratio").1),
        10_239_900.0 / 14_335_910.0,
        "hit ratio",
    );
}

#[tokio::test]
async fn llamacpp_json_quoted_body_is_not_an_exposition() {
    // The b7010–b7100 regression: the text as one JSON string, as text/plain.
    let text = String::from_utf8(fixture("llamacpp_recent.prom")).unwrap();
    let quoted = serde_json::to_string(&text).unwrap().into_bytes();
    match collect_body(TEXT_004, quoted.clone(), "auto").await {
        Err(CollectError::NotAnExposition(m)) => assert!(m.contains("JSON-quoted"), "{m}"),
        other => panic!("expected not-an-exposition, got {other:?}"),
    }
    let mapped = plugin().map(&quoted, None, "llamacpp", "x").await.unwrap();
    assert!(
        matches!(mapped, Err(CollectError::NotAnExposition(_))),
        "{mapped:?}"
    );
}

#[tokio::test]
async fn triton_over_http() {
    let s = collect_fixture(TEXT_004, "triton_trtllm.prom").await;
    assert_eq!(s.engine, "triton");
    assert_eq!(s.model_names, ["ensemble", "tensorrt_llm"]);
    close(s.load.requests_running, 14.0, "running");
    close(s.load.requests_waiting, 6.0, "waiting");
    close(s.load.kv_cache_usage, 2867.0 / 4096.0, "kv");
    close(s.load.kv_cache_capacity_tokens, 262_144.0, "capacity");
    close(s.totals.requests_succeeded, 3040.0, "succeeded");
    close(s.totals.requests_failed, 16.0, "failed");
    assert_eq!(
        number(&s, "request", "scheduled"),
        (
            "nv_trt_llm_request_metrics{request_type=\"scheduled\"}".to_string(),
            14.0
        )
    );
}

#[tokio::test]
async fn trtllm_serve_over_http() {
    let s = collect_fixture(PYTHON_CT, "trtllm_serve.prom").await;
    assert_eq!(s.engine, "trtllm-serve");
    close(s.load.requests_running, 9.0, "running");
    close(s.load.requests_waiting, 4.0, "waiting");
    close(s.load.kv_cache_usage, 0.40625, "kv");
    close(s.load.kv_cache_capacity_tokens, 262_144.0, "capacity");
    close(s.totals.requests_succeeded, 1000.0, "succeeded");
    let ttft = s.latency.time_to_first_token_seconds.clone().unwrap();
    assert_eq!((ttft.count, ttft.sum), (1000.0, 187.5));
    close(ttft.p90, 0.4375, "ttft p90");
}

/// Releases before the `trtllm_` prefix exposed the request counter and the
/// four histograms unprefixed: read when trtllm-serve is requested, never
/// detected (the names are too generic), and mapped as the prefixed ones.
#[tokio::test]
async fn trtllm_serve_before_the_prefix_is_read_when_requested() {
    let body = fixture("trtllm_serve_unprefixed.prom");
    let old = collect_body(PYTHON_CT, body.clone(), "trtllm-serve")
        .await
        .unwrap();
    let new = collect_fixture(PYTHON_CT, "trtllm_serve.prom").await;
    assert_eq!(old.engine, "trtllm-serve");
    assert_eq!(old.model_names, new.model_names);
    close(old.totals.requests_succeeded, 1000.0, "succeeded");
    close(old.totals.requests_failed, 3.0, "failed");
    assert_eq!(
        old.totals.prompt_tokens, None,
        "no token counters before the prefix"
    );
    assert_eq!(
        old.load.requests_running, None,
        "no load gauges before the prefix"
    );
    assert_eq!(format!("{:?}", old.latency), format!("{:?}", new.latency));
    match collect_body(PYTHON_CT, body, "auto").await {
        Err(CollectError::UnrecognizedEngine(m)) => assert!(m.contains("trtllm_"), "{m}"),
        other => panic!("unprefixed names must not be detected, got {other:?}"),
    }
}

#[tokio::test]
async fn map_exposition_detects_every_engine() {
    for (name, id) in [
        ("vllm_v1.prom", "vllm"),
        ("tgi.prom", "tgi"),
        ("sglang_v0_5.prom", "sglang"),
        ("llamacpp_recent.prom", "llamacpp"),
        ("triton_trtllm.prom", "triton"),
        ("trtllm_serve.prom", "trtllm-serve"),
    ] {
        let s = plugin()
            .map(&fixture(name), None, "auto", name)
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(s.engine, id, "{name}");
    }
}

#[tokio::test]
async fn mixed_engines_name_both_and_a_requested_engine_wins() {
    let mut body = fixture("vllm_v1.prom");
    body.extend(fixture("sglang_v0_5.prom"));
    match collect_body(PYTHON_CT, body.clone(), "auto").await {
        Err(CollectError::MixedEngines(ids)) => assert_eq!(ids, ["vllm", "sglang"]),
        other => panic!("expected mixed-engines, got {other:?}"),
    }
    let s = collect_body(PYTHON_CT, body, "sglang").await.unwrap();
    assert_eq!(s.engine, "sglang");
    close(s.load.requests_running, 12.0, "running");
}

#[tokio::test]
async fn unknown_and_unrecognized_engines_are_typed() {
    let text = fixture("sglang_v0_5.prom");
    match plugin().map(&text, None, "sglang-2", "x").await.unwrap() {
        Err(CollectError::UnknownEngine(m)) => {
            assert!(
                m.contains("`sglang-2`") && m.contains("trtllm-serve"),
                "{m}"
            )
        }
        other => panic!("expected unknown-engine, got {other:?}"),
    }
    match plugin()
        .map(b"go_goroutines 3\n", None, "auto", "x")
        .await
        .unwrap()
    {
        Err(CollectError::UnrecognizedEngine(m)) => {
            assert!(!m.contains("unrecognized engine"), "doubled prefix: {m}");
            for prefix in [
                "vllm:",
                "tgi_",
                "sglang:",
                "llamacpp:",
                "nv_inference_",
                "trtllm_",
            ] {
                assert!(m.contains(prefix), "{m} does not name {prefix}");
            }
            assert!(m.contains("go_goroutines"), "{m}");
        }
        other => panic!("expected unrecognized-engine, got {other:?}"),
    }
}

#[tokio::test]
async fn engines_lists_ids_prefixes_and_aliases() {
    let list = plugin().engines().await.unwrap();
    let ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
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
    let triton = &list[4];
    assert_eq!(triton.prefixes, ["nv_trt_llm_", "nv_inference_"]);
    let llamacpp = &list[3];
    assert_eq!(
        llamacpp.aliases,
        ["llamacpp:n_past_max -> llamacpp:n_tokens_max"]
    );
    assert!(
        list.iter()
            .all(|e| !e.name.is_empty() && !e.versions.is_empty())
    );
}
