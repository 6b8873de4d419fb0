//! End to end: windows and history from the stored scrapes of the real
//! `llm-metrics-serve`, computed by the plugin's `window`. The upstream is
//! our own vLLM-shaped exposition whose counter grows by exactly 10 per
//! second of wall-clock time and whose new TTFT observations all fall in
//! the (0.1 s, 0.5 s] bucket, so the expectations are hand-computed: a
//! rate of 10/s, and windowed quantiles 0.1 + 0.4 q (0.3, 0.46, 0.496)
//! whatever the scrape times. A real Prometheus scraping serve's `/metrics`
//! computes the same rate with `rate()`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use common::{BUDGET, Prometheus, Serve, encode, prometheus_tool};
use serde_json::Value;

/// Tokens per second the upstream's counter grows by.
const RATE: f64 = 10.0;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// An upstream whose counters started at `started` (ms); storing a new
/// value restarts it.
struct Linear {
    addr: std::net::SocketAddr,
    started: Arc<AtomicU64>,
}

impl Linear {
    async fn start() -> Linear {
        let started = Arc::new(AtomicU64::new(now_ms()));
        let t0 = started.clone();
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let t0 = t0.load(Ordering::SeqCst);
                async move {
                    let g = RATE * (now_ms() - t0) as f64 / 1000.0;
                    let body = format!(
                        "# TYPE vllm:generation_tokens_total counter\n\
                         vllm:generation_tokens_total{{engine=\"0\",model_name=\"m\"}} {g}\n\
                         # TYPE vllm:num_requests_running gauge\n\
                         vllm:num_requests_running{{engine=\"0\",model_name=\"m\"}} 3\n\
                         # TYPE vllm:time_to_first_token_seconds histogram\n\
                         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"0.1\",model_name=\"m\"}} 5\n\
                         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"0.5\",model_name=\"m\"}} {c}\n\
                         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"+Inf\",model_name=\"m\"}} {c}\n\
                         vllm:time_to_first_token_seconds_count{{engine=\"0\",model_name=\"m\"}} {c}\n\
                         vllm:time_to_first_token_seconds_sum{{engine=\"0\",model_name=\"m\"}} {s}\n",
                        c = 5.0 + g,
                        s = 0.25 + 0.3 * g,
                    );
                    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Linear { addr, started }
    }

    fn reset(&self) {
        self.started.store(now_ms(), Ordering::SeqCst);
    }
}

async fn serve_for(upstream: &Linear) -> Serve {
    let dir = std::env::temp_dir().join(format!("llm-metrics-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join(format!("{}.toml", upstream.addr.port()));
    std::fs::write(
        &cfg,
        format!(
            "[[targets]]\nid = \"v0\"\nurl = \"http://{}/metrics\"\nengine = \"vllm\"\ninterval = \"200ms\"\n",
            upstream.addr
        ),
    )
    .unwrap();
    Serve::start(&["--config", cfg.to_str().unwrap()]).await
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * b.abs()
}

/// The window's TTFT quantiles are exact: every new observation is in
/// (0.1, 0.5].
fn assert_quantiles(w: &Value) {
    let ttft = &w["latency"]["time_to_first_token_seconds"];
    for (q, expected) in [("p50", 0.3), ("p90", 0.46), ("p99", 0.496)] {
        let got = ttft[q]
            .as_f64()
            .unwrap_or_else(|| panic!("{q} missing: {w}"));
        assert!(
            (got - expected).abs() < 1e-9,
            "{q}: {got} vs {expected}: {w}"
        );
    }
    // count and sum are increases: sum grows 0.3 per observation.
    let (count, sum) = (
        ttft["count"].as_f64().unwrap(),
        ttft["sum"].as_f64().unwrap(),
    );
    assert!((sum - 0.3 * count).abs() < 1e-6 * count.max(1.0), "{w}");
}

#[tokio::test]
async fn windows_history_and_fleet_follow_the_stored_scrapes_through_a_reset() {
    let upstream = Linear::start().await;
    let serve = serve_for(&upstream).await;
    let begin = now_ms();
    serve
        .wait_for("/api/v1/targets/v0", |v| {
            v["health"]["scrapes"].as_u64() >= Some(12)
        })
        .await;

    let r = serve.get("/api/v1/targets/v0/window?range=2s").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let w = &v["window"];
    assert_eq!(w["restarted"], false, "{w}");
    let seconds = w["seconds"].as_f64().unwrap();
    assert!(seconds > 0.5 && seconds <= 2.0, "{w}");
    // 10 tokens per second of wall-clock time; the tolerance covers the
    // milliseconds between the upstream's clock read and `collected_at`.
    let rate = w["rates"]["generation_tokens"].as_f64().unwrap();
    assert!(close(rate, RATE, 0.1), "rate {rate}: {w}");
    assert_quantiles(w);
    // An absent counter is absent, never 0.
    assert_eq!(w["rates"]["requests_failed"], Value::Null, "{w}");

    // The server restarts: its counters start again from 0.
    upstream.reset();
    let after_reset = now_ms();
    serve
        .wait_for("/api/v1/targets/v0", |v| {
            v["health"]["last_success"]
                .as_str()
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                .is_some_and(|t| {
                    t > SystemTime::UNIX_EPOCH + Duration::from_millis(after_reset + 1_500)
                })
        })
        .await;
    let at = (after_reset as f64 + 600.0) / 1000.0;
    let r = serve
        .get(&format!("/api/v1/targets/v0/window?range=1200ms&at={at}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let w = &r.json()["window"];
    assert_eq!(w["restarted"], true, "{w}");
    assert!(!w["resets"].as_array().unwrap().is_empty(), "{w}");

    // History: a point every 500 ms; the one after the reset says so.
    let r = serve
        .get(&format!(
            "/api/v1/targets/v0/history?from={}&to={}&step=500ms&range=1s",
            begin as f64 / 1000.0 - 2.0,
            now_ms() as f64 / 1000.0
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let points = r.json()["points"].as_array().unwrap().clone();
    assert_eq!(
        points[0]["snapshot"],
        Value::Null,
        "before the first scrape"
    );
    assert_eq!(points[0]["window"], Value::Null);
    let windows: Vec<&Value> = points
        .iter()
        .map(|p| &p["window"])
        .filter(|w| w.is_object())
        .collect();
    assert!(windows.len() >= 4, "{points:?}");
    assert!(windows.iter().any(|w| w["restarted"] == true), "{points:?}");
    for w in windows.iter().filter(|w| w["restarted"] == false) {
        assert_quantiles(w);
    }
    let last = points.last().unwrap();
    assert_eq!(last["snapshot"]["load"]["requests_running"], 3.0, "{last}");

    // The fleet: per model, summed over instances that report a rate.
    let r = serve.get("/api/v1/fleet/window?model=m&range=1s").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let f = r.json();
    assert_eq!(f["models"][0]["model"], "m", "{f}");
    let total = &f["models"][0]["totals"]["rates"]["generation_tokens"];
    assert_eq!(total["reported_by"], 1, "{f}");
    assert!(close(total["sum"].as_f64().unwrap(), RATE, 0.1), "{f}");
    let none = serve.get("/api/v1/fleet/window?model=other").await.json();
    assert_eq!(none["models"], serde_json::json!([]));
}

/// The Scale story: Prometheus scraping serve's `/metrics` and our window
/// endpoint agree on the rate.
#[tokio::test]
async fn prometheus_rate_over_the_re_export_agrees_with_the_window_endpoint() {
    let Some(prometheus) = prometheus_tool("prometheus") else {
        return;
    };
    let upstream = Linear::start().await;
    let serve = serve_for(&upstream).await;
    let server = Prometheus::start(&prometheus, serve.addr, "window-prometheus", true);
    let web = server.web;
    // Once Prometheus has samples over 10 s (so the series covers the whole
    // range: a series that starts inside it is extrapolated only half an
    // interval back), ask both for the rate over the same 6 s ending at the
    // same instant.
    let deadline = tokio::time::Instant::now() + BUDGET;
    let promql = encode("rate(llm_metrics_generation_tokens_total{instance=\"v0\"}[6s])");
    let (prom, at) = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus never had the rate"
        );
        let at = now_ms() as f64 / 1000.0;
        let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(web)).await
        else {
            continue;
        };
        let r = common::request(
            web,
            "GET",
            &format!("/api/v1/query?query={promql}&time={at}"),
            None,
            &[],
        )
        .await;
        if r.status != 200 {
            continue;
        }
        let count = common::request(
            web,
            "GET",
            &format!(
                "/api/v1/query?query={}&time={at}",
                encode(
                    "count_over_time(llm_metrics_generation_tokens_total{instance=\"v0\"}[12s])"
                )
            ),
            None,
            &[],
        )
        .await
        .json();
        let samples = count["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok());
        if samples.is_some_and(|n| n >= 10.0)
            && let Some(v) = r.json()["data"]["result"][0]["value"][1].as_str()
        {
            break (v.parse::<f64>().unwrap(), at);
        }
    };
    let ours = serve
        .get(&format!("/api/v1/targets/v0/window?range=6s&at={at}"))
        .await
        .json();
    let rate = ours["window"]["rates"]["generation_tokens"]
        .as_f64()
        .unwrap();
    assert!(close(rate, RATE, 0.1), "ours {rate}: {ours}");
    assert!(close(prom, RATE, 0.1), "Prometheus {prom}");
    assert!(close(rate, prom, 0.1), "ours {rate} vs Prometheus {prom}");
    let _ = std::fs::remove_dir_all(&server.dir);
}
