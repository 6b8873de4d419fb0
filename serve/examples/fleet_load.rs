//! Load driver for `llm-metrics-serve` (a measurement tool, not a test):
//! one loopback upstream serving a ~65 KB vLLM body at `/metrics/{i}`, N
//! targets scraped every second, and the service's CPU, scrape rate, scrape
//! latency and freshness sampled from `/proc` and its own API.
//!
//! `cargo run --release -p llm-metrics-serve --example fleet_load -- \
//!     target/release/llm-metrics-serve N SECONDS CONCURRENCY [SERVE ARGS…]`
//!
//! Arguments after `CONCURRENCY` go to the service (e.g. `--on-demand`).

use std::time::{Duration, Instant};

use serde_json::Value;

#[allow(dead_code)]
mod common;
use common::{get_body, pct, spawn_serve, upstream, vllm_body};

/// `GET path` of the service's API, as JSON.
async fn get_json(addr: std::net::SocketAddr, path: &str) -> Value {
    serde_json::from_slice(&get_body(addr, path).await.1).unwrap()
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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let serve_bin = args.get(1).expect("path to llm-metrics-serve");
    let n: usize = args.get(2).map_or(100, |s| s.parse().unwrap());
    let seconds: u64 = args.get(3).map_or(20, |s| s.parse().unwrap());
    let concurrency: usize = args.get(4).map_or(16, |s| s.parse().unwrap());

    let body = vllm_body();
    let size = body.len();
    let up = upstream("/metrics/{i}", body).await;

    let mut config = String::new();
    for i in 0..n {
        config.push_str(&format!(
            "[[targets]]\nid = \"t{i}\"\nurl = \"http://{up}/metrics/{i}\"\nengine = \"vllm\"\ninterval = 1\ntimeout = 1\n"
        ));
    }
    let path = std::env::temp_dir().join(format!("fleet-load-{}.toml", std::process::id()));
    std::fs::write(&path, config).unwrap();
    let db = std::env::temp_dir().join(format!("fleet-load-{}.sqlite3", std::process::id()));
    let concurrency = concurrency.to_string();
    let mut serve_args = vec![
        "--db",
        db.to_str().unwrap(),
        "--config",
        path.to_str().unwrap(),
        "--concurrency",
        &concurrency,
    ];
    serve_args.extend(args.iter().skip(5).map(String::as_str));
    let (child, addr) = spawn_serve(serve_bin, &serve_args).await;
    let pid = child.id().unwrap();

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
        pct(&latencies, 0.5) * 1e3,
        pct(&latencies, 0.99) * 1e3,
        worst_fresh * 100.0,
    );
}
