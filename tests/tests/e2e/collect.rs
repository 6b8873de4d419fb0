//! `collect` through the component against real HTTP servers on loopback:
//! well-behaved engines, hostile servers, and the host's egress policy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use llm_metrics_host::wit::collector::Target;
use llm_metrics_host::wit::mapper::{CollectError, Snapshot};
use llm_metrics_host::{AllowedHost, EgressPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{fixture, plugin};

const VLLM_CT: &str = "text/plain; version=1.0.0; charset=utf-8";

/// Serve `router` on an ephemeral loopback port for the rest of the test.
async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A server whose `/metrics` returns `body` with `content_type`.
async fn serve_body(content_type: &'static str, body: Vec<u8>) -> SocketAddr {
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, content_type)], body) }
        }),
    );
    serve(router).await
}

fn target(addr: SocketAddr, timeout_ms: u32, max_body_bytes: u64) -> Target {
    Target {
        url: format!("http://{addr}/metrics"),
        instance_id: None,
        engine: "auto".into(),
        timeout_ms,
        max_body_bytes,
        headers: Vec::new(),
        include_raw: false,
    }
}

fn allow(t: &Target) -> EgressPolicy {
    EgressPolicy::deny_all().allow(AllowedHost::from_url(&t.url).unwrap())
}

async fn collect(t: &Target) -> Result<Snapshot, CollectError> {
    plugin()
        .collect(t, allow(t))
        .await
        .expect("the plugin must not trap")
}

/// After any failure, a normal collection still works.
async fn next_collect_works() {
    let addr = serve_body(VLLM_CT, fixture("vllm_v1.prom")).await;
    let snap = collect(&target(addr, 5_000, 16 << 20))
        .await
        .expect("a good server after a bad one");
    assert_eq!(snap.engine, "vllm");
}

#[tokio::test]
async fn status_errors_404_and_500() {
    let router = Router::new()
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        );
    let addr = serve(router).await;
    for (path, code) in [("missing", 404), ("broken", 500)] {
        let mut t = target(addr, 2_000, 1 << 20);
        t.url = format!("http://{addr}/{path}");
        assert_eq!(
            collect(&t).await.unwrap_err(),
            CollectError::HttpStatus(code)
        );
    }
    next_collect_works().await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let router = Router::new().route(
        "/metrics",
        get(|| async { Redirect::temporary("http://127.0.0.1:9/elsewhere") }),
    );
    let addr = serve(router).await;
    assert_eq!(
        collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err(),
        CollectError::HttpStatus(307)
    );
    next_collect_works().await;
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }; // closed again: nothing listens there
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::Connect(_) => {}
        other => panic!("expected a connect error, got {other:?}"),
    }
    next_collect_works().await;
}

#[tokio::test]
async fn silent_server_times_out_within_the_budget() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        for _ in 0..8 {
            let Ok((socket, _)) = listener.accept().await else {
                break;
            };
            held.push(socket); // accept and never answer
        }
    });
    let start = Instant::now();
    let err = collect(&target(addr, 800, 1 << 20)).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, CollectError::Timeout(_)), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    next_collect_works().await;
}

/// A raw HTTP/1.1 server that answers one request with a chunked body of
/// `count` one-byte chunks, `pause` apart (bounded, then it stops).
async fn serve_slow_chunks(byte: u8, pause: Duration, count: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..count {
            if socket
                .write_all(&[b'1', b'\r', b'\n', byte, b'\r', b'\n'])
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(pause).await;
        }
    });
    addr
}

#[tokio::test]
async fn dripping_server_times_out_within_the_budget() {
    // One byte per second: never idle long enough for a between-bytes timeout.
    let addr = serve_slow_chunks(b'a', Duration::from_secs(1), 30).await;
    let start = Instant::now();
    let err = collect(&target(addr, 1_500, 1 << 20)).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, CollectError::Timeout(_)), "{err:?}");
    assert!(
        elapsed < Duration::from_secs(5),
        "cut by the budget, took {elapsed:?}"
    );
    next_collect_works().await;
}

#[tokio::test]
async fn endless_body_stops_at_the_cap() {
    let router = Router::new().route(
        "/metrics",
        get(|| async {
            // At most 1 GiB, far past any cap used here.
            let chunks = futures_stream(16_384);
            Response::builder()
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from_stream(chunks))
                .unwrap()
        }),
    );
    let addr = serve(router).await;
    let start = Instant::now();
    let err = collect(&target(addr, 5_000, 1 << 20)).await.unwrap_err();
    assert_eq!(err, CollectError::BodyTooLarge(1 << 20));
    assert!(start.elapsed() < Duration::from_secs(5));
    next_collect_works().await;
}

/// `n` chunks of 64 KiB of sample lines.
fn futures_stream(
    n: usize,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send {
    let line = b"vllm:num_requests_running{engine=\"0\"} 1\n";
    let chunk: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
    futures_util::stream::iter((0..n).map(move |_| Ok(chunk.clone())))
}

#[tokio::test]
async fn declared_body_over_the_cap_is_refused() {
    let addr = serve_body("text/plain", fixture("vllm_v1.prom")).await;
    let err = collect(&target(addr, 2_000, 1_000)).await.unwrap_err();
    assert_eq!(err, CollectError::BodyTooLarge(1_000));
    next_collect_works().await;
}

#[tokio::test]
async fn host_caps_the_body_even_when_the_guest_allows_more() {
    let addr = serve_body("text/plain", fixture("vllm_v1.prom")).await;
    let t = target(addr, 2_000, 64 << 20);
    let err = plugin()
        .collect(&t, allow(&t).with_max_body_bytes(1_000))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, CollectError::BodyTooLarge(_)), "{err:?}");
    next_collect_works().await;
}

#[tokio::test]
async fn non_utf8_body_is_a_parse_error_with_position() {
    let addr = serve_body(
        "text/plain; version=0.0.4",
        b"vllm:num_requests_running 1\nvllm:x{a=\"\xc3\x28\"} 2\n".to_vec(),
    )
    .await;
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::Parse(e) => assert_eq!((e.line, e.column), (2, 11), "{}", e.message),
        other => panic!("expected a parse error, got {other:?}"),
    }
    next_collect_works().await;
}

#[tokio::test]
async fn html_page_is_not_an_exposition() {
    let addr = serve_body(
        "text/html; charset=utf-8",
        b"<html><body>Login</body></html>".to_vec(),
    )
    .await;
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::NotAnExposition(m) => assert!(m.contains("text/html"), "{m}"),
        other => panic!("expected not-an-exposition, got {other:?}"),
    }
    next_collect_works().await;
}

#[tokio::test]
async fn exposition_of_no_known_engine_is_an_error() {
    let text = b"# TYPE go_goroutines gauge\ngo_goroutines 12\n".to_vec();
    let addr = serve_body("text/plain", text).await;
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::UnrecognizedEngine(m) => assert!(m.contains("go_goroutines"), "{m}"),
        other => panic!("expected unrecognized-engine, got {other:?}"),
    }
}

#[tokio::test]
async fn host_not_on_the_allow_list_is_denied_before_any_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = accepted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let t = target(addr, 2_000, 1 << 20);
    // Same host, other port: not this endpoint.
    let other_port = EgressPolicy::deny_all()
        .allow(AllowedHost::parse(&format!("127.0.0.1:{}", addr.port() ^ 1)).unwrap());
    for policy in [EgressPolicy::deny_all(), other_port] {
        match plugin().collect(&t, policy).await.unwrap().unwrap_err() {
            CollectError::Denied(_) => {}
            other => panic!("expected denied, got {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the listener saw a connection"
    );
    next_collect_works().await;
}

#[tokio::test]
async fn request_headers_and_accept_reach_the_server() {
    let router = Router::new().route(
        "/metrics",
        get(|headers: axum::http::HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let accept = headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if auth != "Bearer s3cret" || !accept.starts_with("text/plain;version=0.0.4") {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            ([(header::CONTENT_TYPE, VLLM_CT)], fixture("vllm_v1.prom")).into_response()
        }),
    );
    let addr = serve(router).await;
    let mut t = target(addr, 2_000, 16 << 20);
    assert_eq!(
        collect(&t).await.unwrap_err(),
        CollectError::HttpStatus(401)
    );
    t.headers.push(llm_metrics_host::wit::collector::Header {
        name: "Authorization".into(),
        value: "Bearer s3cret".into(),
    });
    t.instance_id = Some("gpu-node-7".into());
    let snap = collect(&t).await.unwrap();
    assert_eq!(snap.instance_id, "gpu-node-7");
    assert_eq!(snap.endpoint, t.url);
}

// ---- Snapshots of real engine output, checked against tests/fixtures/EXPECTED.md ----

fn close(actual: Option<f64>, expected: f64, what: &str) {
    let a = actual.unwrap_or_else(|| panic!("{what}: absent, expected {expected}"));
    assert!(
        (a - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: {a} != {expected}"
    );
}

fn field<'a>(
    s: &'a Snapshot,
    group: &str,
    name: &str,
) -> &'a llm_metrics_host::wit::mapper::EngineField {
    s.engine_metrics
        .iter()
        .find(|g| g.name == group)
        .and_then(|g| g.fields.iter().find(|f| f.name == name))
        .unwrap_or_else(|| panic!("no {group}.{name}"))
}

fn by_label(s: &Snapshot, group: &str, name: &str) -> (String, Vec<(String, f64)>) {
    use llm_metrics_host::wit::mapper::MetricValue;
    match &field(s, group, name).value {
        MetricValue::ByLabel((label, values)) => {
            let mut v: Vec<(String, f64)> =
                values.iter().map(|lv| (lv.key.clone(), lv.value)).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            (label.clone(), v)
        }
        other => panic!("{group}.{name} is {other:?}"),
    }
}

async fn collect_fixture(name: &str) -> Snapshot {
    let addr = serve_body(VLLM_CT, fixture(name)).await;
    collect(&target(addr, 5_000, 16 << 20)).await.unwrap()
}

#[tokio::test]
async fn vllm_v1_two_dp_engines_snapshot() {
    let s = collect_fixture("vllm_v1.prom").await;
    assert_eq!(s.engine, "vllm");
    assert_eq!(s.model_names, ["meta-llama/Llama-3.1-8B-Instruct"]);
    // Summed over engine="0" and engine="1"; KV usage is the mean.
    close(s.load.requests_running, 8.0, "running");
    close(s.load.requests_waiting, 2.0, "waiting");
    close(s.load.kv_cache_usage, 0.3125, "kv");
    close(s.totals.requests_succeeded, 1560.0, "succeeded");
    close(s.totals.requests_failed, 20.0, "failed");
    // 1.254321e+06 + 805679; a prefix match would add the _created timestamps.
    close(s.totals.prompt_tokens, 2_060_000.0, "prompt tokens");
    close(s.totals.generation_tokens, 635_000.0, "generation tokens");
    close(s.totals.preemptions, 4.0, "preemptions");

    let ttft = s.latency.time_to_first_token_seconds.as_ref().unwrap();
    close(Some(ttft.count), 1588.0, "ttft count");
    close(Some(ttft.sum), 208.75, "ttft sum");
    close(ttft.mean, 208.75 / 1588.0, "ttft mean");
    close(ttft.p50, 0.08 + 0.02 * 234.0 / 420.0, "ttft p50");
    close(ttft.p90, 0.1 + 0.15 * 449.2 / 500.0, "ttft p90");
    close(ttft.p99, 0.5 + 0.25 * 19.12 / 30.0, "ttft p99");

    let e2e = s.latency.e2e_request_latency_seconds.as_ref().unwrap();
    close(Some(e2e.count), 1580.0, "e2e count");
    close(Some(e2e.sum), 4415.0, "e2e sum");
    close(e2e.p50, 2.25, "e2e p50");
    close(e2e.p90, 5.0 + 5.0 * 2.0 / 140.0, "e2e p90");
    close(e2e.p99, 11.05, "e2e p99");

    let itl = s.latency.inter_token_latency_seconds.as_ref().unwrap();
    close(Some(itl.count), 633_412.0, "itl count");
    close(Some(itl.sum), 15_180.02, "itl sum");
    let queue = s.latency.queue_time_seconds.as_ref().unwrap();
    close(queue.p50, 0.3 * 790.0 / 1520.0, "queue p50");

    assert_eq!(
        by_label(&s, "request", "finished_by_reason"),
        (
            "finished_reason".to_string(),
            vec![
                ("abort".into(), 0.0),
                ("error".into(), 20.0),
                ("length".into(), 260.0),
                ("repetition".into(), 0.0),
                ("stop".into(), 1300.0)
            ]
        )
    );
    assert_eq!(
        field(&s, "request", "finished_by_reason").metric,
        "vllm:request_success_total"
    );
    use llm_metrics_host::wit::mapper::MetricValue;
    assert_eq!(
        field(&s, "cache", "prefix_cache_hit_ratio").value,
        MetricValue::Number(0.25)
    );
    assert_eq!(
        field(&s, "cache", "kv_cache_usage_max").value,
        MetricValue::Number(0.4375)
    );
    assert_eq!(
        field(&s, "cache", "block_size").value,
        MetricValue::Number(16.0)
    );
    // The lora_requests_info series with the largest value (a timestamp) wins.
    assert_eq!(
        field(&s, "cache", "running_lora_adapters").value,
        MetricValue::Names(vec!["sql-lora".into(), "chat-lora".into()])
    );
    assert_eq!(
        field(&s, "engine", "engines").value,
        MetricValue::Number(2.0)
    );
}

#[tokio::test]
async fn vllm_v0_snapshot_uses_old_names_and_leaves_absent_as_null() {
    let s = collect_fixture("vllm_v0.prom").await;
    assert_eq!(s.engine, "vllm");
    assert_eq!(s.model_names, ["Qwen/Qwen2.5-7B-Instruct"]);
    close(s.load.requests_running, 4.0, "running");
    close(s.load.requests_waiting, 1.0, "waiting");
    close(
        s.load.kv_cache_usage,
        0.62109375,
        "kv from gpu_cache_usage_perc",
    );
    close(s.totals.requests_succeeded, 352.0, "succeeded");
    assert_eq!(
        s.totals.requests_failed, None,
        "V0 exposes no failure reasons"
    );
    close(s.totals.prompt_tokens, 186_420.0, "prompt tokens");
    let ttft = s.latency.time_to_first_token_seconds.as_ref().unwrap();
    close(Some(ttft.count), 356.0, "ttft count");
    close(ttft.p50, 0.08 + 0.02 * 78.0 / 90.0, "ttft p50");
    let e2e = s.latency.e2e_request_latency_seconds.as_ref().unwrap();
    close(e2e.p50, 2.5 + 2.5 * 26.0 / 150.0, "e2e p50");
    let itl = s.latency.inter_token_latency_seconds.as_ref().unwrap();
    close(
        Some(itl.count),
        71_479.0,
        "itl via time_per_output_token_seconds",
    );
    assert!(
        s.latency.queue_time_seconds.is_none(),
        "0.6.3 has no queue-time histogram"
    );
    // The -1 "disabled" hit-rate gauges are not reported as values.
    assert!(
        s.engine_metrics
            .iter()
            .flat_map(|g| &g.fields)
            .all(|f| !f.metric.contains("prefix_cache_hit_rate"))
    );
}

#[tokio::test]
async fn tgi_snapshot_without_total_suffixes_and_with_1024_buckets() {
    let s = collect_fixture("tgi.prom").await;
    assert_eq!(s.engine, "tgi");
    assert!(s.model_names.is_empty(), "TGI has no model label");
    close(s.load.requests_running, 12.0, "running");
    close(s.load.requests_waiting, 3.0, "waiting");
    close(s.load.kv_cache_usage, 24576.0 / 65536.0, "kv estimate");
    close(s.totals.requests_succeeded, 1312.0, "succeeded");
    close(s.totals.requests_failed, 18.0, "failed");
    close(s.totals.prompt_tokens, 290_000.0, "prompt tokens");
    close(s.totals.generation_tokens, 185_000.0, "generation tokens");
    assert_eq!(s.totals.preemptions, None);
    assert!(
        s.latency.time_to_first_token_seconds.is_none(),
        "TGI has no TTFT"
    );
    let e2e = s.latency.e2e_request_latency_seconds.as_ref().unwrap();
    close(Some(e2e.count), 1312.0, "e2e count");
    close(Some(e2e.sum), 3350.75, "e2e sum");
    // D(k) = 0.0001 * 1.5^k; p50 inside (D(24), D(25)].
    let d24 = (0..24).fold(0.0001_f64, |d, _| d * 1.5);
    close(e2e.p50, d24 * (1.0 + 0.5 * 306.0 / 400.0), "e2e p50");
    assert_eq!(
        by_label(&s, "request", "failures_by_err"),
        (
            "err".to_string(),
            vec![
                ("generation".into(), 1.0),
                ("overloaded".into(), 3.0),
                ("validation".into(), 14.0)
            ]
        )
    );
    use llm_metrics_host::wit::mapper::MetricValue;
    match &field(&s, "request", "skipped_tokens").value {
        MetricValue::Distribution(d) => {
            assert_eq!((d.count, d.sum, d.p50), (185_000.0, 0.0, Some(0.0)))
        }
        other => panic!("skipped_tokens is {other:?}"),
    }
    match &field(&s, "generation", "batch_next_size").value {
        MetricValue::Distribution(d) => assert_eq!((d.count, d.sum), (2400.0, 3320.0)),
        other => panic!("batch_next_size is {other:?}"),
    }
}

#[tokio::test]
async fn engine_can_be_forced_and_a_wrong_engine_is_an_error() {
    let addr = serve_body(VLLM_CT, fixture("tgi.prom")).await;
    let mut t = target(addr, 5_000, 16 << 20);
    t.engine = "vllm".into();
    assert!(matches!(
        collect(&t).await.unwrap_err(),
        CollectError::UnrecognizedEngine(_)
    ));
    t.engine = "tgi".into();
    t.include_raw = true;
    let s = collect(&t).await.unwrap();
    let raw = s.raw_metrics.expect("raw families");
    // Names are the raw exposed ones: no `_total` added to TGI counters.
    assert!(raw.iter().any(|f| f.name == "tgi_request_success"));
    assert!(!raw.iter().any(|f| f.name.ends_with("_total")));
}

#[tokio::test]
async fn map_exposition_needs_no_network() {
    let text = fixture("vllm_v1.prom");
    let s = plugin()
        .map(&text, Some(VLLM_CT), "auto", "gateway-fetched")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.instance_id.as_str(), s.endpoint.as_str()),
        ("gateway-fetched", "")
    );
    close(s.load.requests_running, 8.0, "running");
    let err = plugin()
        .map(b"a{ 1\n", None, "auto", "x")
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, CollectError::Parse(e) if e.line == 1));
}

#[tokio::test]
async fn unrequested_gzip_is_refused_not_misparsed() {
    let router = Router::new().route(
        "/metrics",
        get(|| async {
            // A gzip header and junk: we never ask for compression.
            (
                [
                    (header::CONTENT_TYPE, "text/plain"),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                vec![0x1f, 0x8b, 8, 0, 0, 0],
            )
        }),
    );
    let addr = serve(router).await;
    match collect(&target(addr, 2_000, 1 << 20)).await.unwrap_err() {
        CollectError::NotAnExposition(m) => assert!(m.contains("gzip"), "{m}"),
        other => panic!("expected not-an-exposition, got {other:?}"),
    }
    next_collect_works().await;
}

#[tokio::test]
async fn slow_chunked_fetch_is_a_fetch_timeout_not_a_cpu_overrun() {
    // Many small chunks, each after a pause longer than an epoch tick: the guest
    // resumes from a host wait dozens of times but barely runs.
    let addr = serve_slow_chunks(b'#', Duration::from_millis(30), 200).await;
    let plugin = crate::common::plugin_with(llm_metrics_host::Limits {
        cpu_time: Duration::from_millis(100), // 10 ticks; the fetch resumes ~50 times
        ..llm_metrics_host::Limits::default()
    });
    let t = target(addr, 1_500, 1 << 20);
    let err = plugin
        .collect(&t, allow(&t))
        .await
        .expect("a slow fetch is not a CPU overrun");
    assert!(matches!(err, Err(CollectError::Timeout(_))), "{err:?}");
}
