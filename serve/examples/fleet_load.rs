//! Load driver for `llm-metrics-serve` (a measurement tool, not a test):
//! one loopback upstream serving a ~65 KB vLLM body at `/metrics/{i}`, N
//! targets scraped every second, and the service's CPU, scrape rate, scrape
//! latency and freshness sampled from `/proc` and its own API.
//!
//! `cargo run --release -p llm-metrics-serve --example fleet_load -- \
//!     target/release/llm-metrics-serve N SECONDS CONCURRENCY [SERVE ARGS…]`
//!
//! Arguments after `CONCURRENCY` go to the service (e.g. `--on-demand`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The first ~65 KB of the vLLM fixture, cut at a line end.
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

async fn get_json(addr: std::net::SocketAddr, path: &str) -> Value {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let serve_bin = args.get(1).expect("path to llm-metrics-serve");
    let n: usize = args.get(2).map_or(100, |s| s.parse().unwrap());
    let seconds: u64 = args.get(3).map_or(20, |s| s.parse().unwrap());
    let concurrency: usize = args.get(4).map_or(16, |s| s.parse().unwrap());

    let body = body();
    let size = body.len();
    let app = Router::new().route(
        "/metrics/{i}",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut config = String::new();
    for i in 0..n {
        config.push_str(&format!(
            "[[targets]]\nid = \"t{i}\"\nurl = \"http://{up}/metrics/{i}\"\nengine = \"vllm\"\ninterval = 1\ntimeout = 1\n"
        ));
    }
    let path = std::env::temp_dir().join(format!("fleet-load-{}.toml", std::process::id()));
    std::fs::write(&path, config).unwrap();
    let db = std::env::temp_dir().join(format!("fleet-load-{}.sqlite3", std::process::id()));
    let mut child = tokio::process::Command::new(serve_bin)
        .args(["--db", db.to_str().unwrap()])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--config",
            path.to_str().unwrap(),
        ])
        .args(["--concurrency", &concurrency.to_string()])
        .args(args.iter().skip(5))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
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

    let scrapes = |v: &Value| -> u64 {
        v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["health"]["scrapes"].as_u64().unwrap())
            .sum()
    };
    tokio::time::sleep(Duration::from_secs(5)).await; // warm-up: every target's phase passed
    let (c0, t0, s0) = (
        cpu_seconds(pid),
        Instant::now(),
        scrapes(&get_json(addr, "/api/v1/targets").await),
    );
    let mut worst_fresh = 1.0f64;
    let mut latencies = Vec::new();
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let v = get_json(addr, "/api/v1/targets").await;
        let ts = v["targets"].as_array().unwrap();
        let fresh = ts
            .iter()
            .filter(|t| {
                t["health"]["age_seconds"].as_f64().is_some_and(|a| a < 2.0)
                    && t["health"]["consecutive_failures"] == 0
            })
            .count();
        worst_fresh = worst_fresh.min(fresh as f64 / n as f64);
        latencies.extend(
            ts.iter()
                .filter_map(|t| t["health"]["last_duration_seconds"].as_f64()),
        );
    }
    let v = get_json(addr, "/api/v1/targets").await;
    let (c1, t1, s1) = (cpu_seconds(pid), Instant::now(), scrapes(&v));
    let wall = (t1 - t0).as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "targets={n} body={size}B concurrency={concurrency} window={wall:.1}s scrapes/s={:.1} cpu_cores={:.2} \
         latency_p50={:.1}ms latency_p99={:.1}ms worst_fresh={:.1}%",
        (s1 - s0) as f64 / wall,
        (c1 - c0) / wall,
        quantile(&latencies, 0.5) * 1e3,
        quantile(&latencies, 0.99) * 1e3,
        worst_fresh * 100.0,
    );
}
