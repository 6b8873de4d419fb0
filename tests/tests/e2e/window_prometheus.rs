//! Our windows against the real thing: a loopback server plays the fixtures
//! `tests/fixtures/window/vllm_t{0,1,2_restarted,3}.prom` in turn (one per
//! scrape, a restart between the second and third), a real Prometheus
//! (Debian's 2.42) scrapes them every 500 ms, and for pairs of its samples
//! our window (the same texts mapped by the component, stamped with
//! Prometheus' own sample times) is compared with what Prometheus answers
//! over a range holding exactly those samples, evaluated at the later one:
//! `rate()`, `increase()` and `histogram_quantile(q, sum by (le) (rate(…)))`.
//!
//! Without `prometheus` on PATH the test skips loudly, unless
//! `LLM_METRICS_REQUIRE_PROMETHEUS=1` (set by `.ci/run`) makes that a failure.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use llm_metrics_host::wit::mapper::{Distribution, MetricValue, Snapshot, WindowStats};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use crate::common::{fixture, plugin};

const FIXTURES: [&str; 4] = [
    "window/vllm_t0.prom",
    "window/vllm_t1.prom",
    "window/vllm_t2_restarted.prom",
    "window/vllm_t3.prom",
];

/// `vllm:prompt_tokens_total` in each fixture: tells which one a sample is.
const PROMPT_TOKENS: [f64; 4] = [10000.0, 15000.0, 1200.0, 3600.0];

fn prometheus_binary() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("prometheus"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("LLM_METRICS_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
            "LLM_METRICS_REQUIRE_PROMETHEUS=1 but `prometheus` is not on PATH"
        );
        eprintln!(
            "SKIPPED window vs Prometheus: `prometheus` not found; apt-get install prometheus"
        );
    }
    found
}

/// Serves the fixtures in turn, one per request, then the last one again.
async fn serve_sequence() -> SocketAddr {
    let texts: Arc<Vec<Vec<u8>>> = Arc::new(FIXTURES.iter().map(|f| fixture(f)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (texts, next) = (texts.clone(), next.clone());
            async move {
                let i = next.fetch_add(1, Ordering::SeqCst).min(texts.len() - 1);
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    texts[i].clone(),
                )
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The Prometheus process, killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_prometheus(binary: &std::path::Path, target: SocketAddr) -> Prometheus {
    let dir = std::env::temp_dir().join(format!("llm-metrics-window-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n\
             scrape_configs:\n  - job_name: window\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    Prometheus { child, addr, dir }
}

/// Percent-encode a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /api/v1/query` → the `data.result` array (`None` while Prometheus
/// is not answering yet).
async fn query(prom: SocketAddr, promql: &str, time: Option<f64>) -> Option<Vec<Value>> {
    let mut path = format!("/api/v1/query?query={}", encode(promql));
    if let Some(t) = time {
        path.push_str(&format!("&time={t:.3}"));
    }
    let stream = TcpStream::connect(prom).await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", prom.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.ok()?;
    let body = resp.into_body().collect().await.ok()?.to_bytes();
    let v: Value = serde_json::from_slice(&body).ok()?;
    assert_eq!(v["status"], "success", "{promql}: {v}");
    v["data"]["result"].as_array().cloned()
}

/// The one value of an instant-vector answer.
async fn scalar(prom: SocketAddr, promql: &str, at_ms: u64) -> f64 {
    let result = query(prom, promql, Some(at_ms as f64 / 1000.0))
        .await
        .unwrap_or_else(|| panic!("{promql}: no answer"));
    assert_eq!(result.len(), 1, "{promql}: {result:?}");
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

/// Prometheus' samples of `vllm:prompt_tokens_total`: (ms, value).
async fn samples(prom: SocketAddr) -> Vec<(u64, f64)> {
    let Some(result) = query(prom, "vllm:prompt_tokens_total[10m]", None).await else {
        return Vec::new();
    };
    let Some(series) = result.first() else {
        return Vec::new();
    };
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let ms = (p[0].as_f64().unwrap() * 1000.0).round() as u64;
            (ms, p[1].as_str().unwrap().parse().unwrap())
        })
        .collect()
}

#[track_caller]
fn agree(ours: f64, theirs: f64, what: &str) {
    assert!(
        (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0),
        "{what}: ours {ours}, Prometheus {theirs}"
    );
}

async fn compare_distribution(
    prom: SocketAddr,
    ours: &Option<Distribution>,
    metric: &str,
    range: &str,
    at_ms: u64,
) {
    let d = ours
        .as_ref()
        .unwrap_or_else(|| panic!("{metric}: no window"));
    let count = scalar(
        prom,
        &format!("sum(increase({metric}_count[{range}]))"),
        at_ms,
    )
    .await;
    agree(d.count, count, &format!("{metric} count over {range}"));
    let sum = scalar(
        prom,
        &format!("sum(increase({metric}_sum[{range}]))"),
        at_ms,
    )
    .await;
    agree(d.sum, sum, &format!("{metric} sum over {range}"));
    for (q, ours) in [(0.5, d.p50), (0.9, d.p90), (0.99, d.p99)] {
        let promql =
            format!("histogram_quantile({q}, sum by (le) (rate({metric}_bucket[{range}])))");
        let theirs = scalar(prom, &promql, at_ms).await;
        agree(ours.expect("a quantile"), theirs, &promql);
    }
}

async fn compare(prom: SocketAddr, w: &WindowStats) {
    let range = format!("{}ms", w.end_ms - w.start_ms);
    let at = w.end_ms;
    let rate = |sel: &str| format!("sum(rate({sel}[{range}]))");
    let counters = [
        (
            w.rates.prompt_tokens,
            "vllm:prompt_tokens_total".to_string(),
        ),
        (
            w.rates.generation_tokens,
            "vllm:generation_tokens_total".into(),
        ),
        (w.rates.preemptions, "vllm:num_preemptions_total".into()),
        (
            w.rates.requests_succeeded,
            "vllm:request_success_total{finished_reason=~\"stop|length|repetition\"}".into(),
        ),
        (
            w.rates.requests_failed,
            "vllm:request_success_total{finished_reason=~\"abort|error\"}".into(),
        ),
    ];
    for (ours, sel) in counters {
        let theirs = scalar(prom, &rate(&sel), at).await;
        agree(ours.expect("a rate"), theirs, &rate(&sel));
    }
    let increase = format!("sum(increase(vllm:prompt_tokens_total[{range}]))");
    agree(
        w.rates.prompt_tokens.unwrap() * w.seconds,
        scalar(prom, &increase, at).await,
        &increase,
    );
    let hits = w
        .engine_metrics
        .iter()
        .find(|g| g.name == "cache")
        .and_then(|g| g.fields.iter().find(|f| f.name == "prefix_cache_hits"))
        .expect("prefix-cache hits rate");
    let MetricValue::Number(ours) = hits.value else {
        panic!("{hits:?}")
    };
    let sel = rate("vllm:prefix_cache_hits_total");
    agree(ours, scalar(prom, &sel, at).await, &sel);
    let l = &w.latency;
    for (d, metric) in [
        (
            &l.time_to_first_token_seconds,
            "vllm:time_to_first_token_seconds",
        ),
        (
            &l.inter_token_latency_seconds,
            "vllm:inter_token_latency_seconds",
        ),
        (
            &l.e2e_request_latency_seconds,
            "vllm:e2e_request_latency_seconds",
        ),
        (&l.queue_time_seconds, "vllm:request_queue_time_seconds"),
    ] {
        compare_distribution(prom, d, metric, &range, at).await;
    }
}

#[tokio::test]
async fn windows_agree_with_prometheus() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let target = serve_sequence().await;
    let prom = start_prometheus(&binary, target);
    // Wait for the four fixtures to be scraped (each is one sample).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let times = loop {
        let s = samples(prom.addr).await;
        if s.len() >= FIXTURES.len() {
            let values: Vec<f64> = s[..4].iter().map(|(_, v)| *v).collect();
            assert_eq!(values, PROMPT_TOKENS, "Prometheus' samples: {s:?}");
            break s[..4].iter().map(|(t, _)| *t).collect::<Vec<u64>>();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus did not scrape 4 samples in 90 s (log: {})",
            std::fs::read_to_string(prom.dir.join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut snapshots: Vec<Snapshot> = Vec::new();
    for (name, &at) in FIXTURES.iter().zip(&times) {
        let mut s = plugin()
            .map(&fixture(name), None, "auto", "vllm-0")
            .await
            .unwrap()
            .unwrap();
        s.collected_at_ms = at;
        snapshots.push(s);
    }
    // Adjacent pairs (one across the restart), and 1 → 3 across the restart
    // with a sample in between: the restart makes every counter count from
    // 0, which is also what Prometheus' per-series reset rule gives here.
    // (0 → 3 would differ: Prometheus also sees the growth from 0 to 1
    // before the restart, which two snapshots cannot.)
    for (i, j) in [(0, 1), (1, 2), (2, 3), (1, 3)] {
        let w = plugin()
            .window(&snapshots[i], &snapshots[j])
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("window {i} → {j}: {e:?}"));
        assert_eq!(w.restarted, i < 2 && j >= 2, "{i} → {j}: {:?}", w.resets);
        compare(prom.addr, &w).await;
    }
}
