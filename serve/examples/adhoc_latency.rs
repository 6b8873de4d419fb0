//! Ad-hoc `POST /api/v1/collect/vllm` latency of `llm-metrics-serve` against
//! the original design's Python collector (`serve/bench/python_collector.py`:
//! httpx, a regex over every line, pydantic), both reading the same loopback
//! server's ~65 KB vLLM body in the same run (a measurement tool, not a test).
//!
//! `cargo run --release -p llm-metrics-serve --example adhoc_latency -- \
//!     target/release/llm-metrics-serve [CALLS]`

use std::time::{Duration, Instant};

use axum::http::header;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

#[allow(dead_code)]
mod common;
use common::{pct, spawn_serve, upstream, vllm_body};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let serve_bin = args.get(1).expect("path to llm-metrics-serve");
    let calls: usize = args.get(2).map_or(500, |s| s.parse().unwrap());

    let body = vllm_body();
    let size = body.len();
    let up = upstream("/metrics", body).await;
    let (child, addr) = spawn_serve(serve_bin, &["--allow", "127.0.0.1"]).await;

    // One keep-alive connection to the service, as the Python client keeps
    // one to the upstream.
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let payload = format!(r#"{{"instance_id": "bench", "endpoint": "http://{up}/metrics"}}"#);
    let mut latencies = Vec::with_capacity(calls);
    for i in 0..calls + 20 {
        let req = hyper::Request::post("/api/v1/collect/vllm")
            .header(header::HOST, addr.to_string())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload.clone())))
            .unwrap();
        sender.ready().await.unwrap();
        let t = Instant::now();
        let resp = sender.send_request(req).await.unwrap();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let elapsed = t.elapsed();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["success"], true, "{v}");
        if i >= 20 {
            latencies.push(elapsed.as_secs_f64() * 1000.0); // warm-up skipped
        }
    }
    latencies.sort_by(f64::total_cmp);
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    let (p50, p99) = (pct(&latencies, 0.5), pct(&latencies, 0.99));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/python_collector.py");
    let py = tokio::process::Command::new("python3")
        .args([script, &format!("http://{up}/metrics"), &calls.to_string()])
        .output()
        .await
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let py: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    let (py50, py99) = (
        py["p50_ms"].as_f64().unwrap(),
        py["p99_ms"].as_f64().unwrap(),
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "body {size} bytes, {calls} calls each, load average {}",
        load.trim()
    );
    println!(
        "llm-metrics-serve POST /api/v1/collect: p50 {p50:.2} ms, p99 {p99:.2} ms, mean {mean:.2} ms"
    );
    println!(
        "python collector (in-process call):   p50 {py50:.2} ms, p99 {py99:.2} ms, mean {:.2} ms",
        py["mean_ms"].as_f64().unwrap()
    );
    println!("serve/python: p50 {:.2}, p99 {:.2}", p50 / py50, p99 / py99);
    drop(child);
    tokio::time::sleep(Duration::from_millis(10)).await;
}
