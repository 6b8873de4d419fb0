//! Ad-hoc `POST /api/v1/collect/vllm` latency of `llm-metrics-serve` against
//! the original design's Python collector (`serve/bench/python_collector.py`:
//! httpx, a regex over every line, pydantic), both reading the same loopback
//! server's ~65 KB vLLM body in the same run (a measurement tool, not a test).
//!
//! `cargo run --release -p llm-metrics-serve --example adhoc_latency -- \
//!     target/release/llm-metrics-serve [CALLS]`

use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};

fn body() -> Bytes {
    let full = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/vllm_v1.prom"
    ))
    .expect("fixture");
    let cut = full[..65_000.min(full.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(full.len(), |i| i + 1);
    Bytes::from(full[..cut].to_vec())
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let serve_bin = args.get(1).expect("path to llm-metrics-serve");
    let calls: usize = args.get(2).map_or(500, |s| s.parse().unwrap());

    let body = body();
    let size = body.len();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut child = tokio::process::Command::new(serve_bin)
        .args(["--listen", "127.0.0.1:0", "--allow", "127.0.0.1"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .trim_start_matches("listening on http://")
        .parse()
        .unwrap();

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
    let (p50, p99) = (quantile(&latencies, 0.5), quantile(&latencies, 0.99));

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
