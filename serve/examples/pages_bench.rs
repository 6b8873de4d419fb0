//! Benchmark of the pages (a measurement tool, not a test): the server
//! time of the fleet page with TARGETS servers and of one server's page
//! over 24 h, against stored history (every 15 s: a real vLLM snapshot,
//! mapped by the plugin, with its counters advanced; SNAPSHOTS_PER_TARGET,
//! a day by default, for the server whose page is measured and at most an
//! hour for the others, so the database stays small) and a running `serve`
//! whose config names every target (all scraping one loopback fixture
//! server).
//!
//! `cargo run --release -p llm-metrics-serve --example pages_bench -- \
//!     target/release/llm-metrics-serve [TARGETS=100] [SNAPSHOTS_PER_TARGET=5760]`

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::http::header;
use llm_metrics_host::{ComponentSource, Plugin, PluginOptions};
use llm_metrics_serve::history;
use llm_metrics_serve::store::{Options, Store};

#[allow(dead_code)]
mod common;
use common::{STEP_MS, get, pct, snapshot_at, spawn_serve};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let serve_bin = args
        .get(1)
        .expect("usage: pages_bench SERVE_BIN [TARGETS] [PER_TARGET]");
    let targets: usize = args.get(2).map_or(100, |s| s.parse().unwrap());
    let per_target: i64 = args.get(3).map_or(5_760, |s| s.parse().unwrap());
    let dir = std::env::temp_dir().join(format!("llm-metrics-pages-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("history.sqlite3");

    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/vllm_v1.prom"
    ))
    .unwrap();
    let plugin = Plugin::new(&ComponentSource::Embedded, &PluginOptions::default()).unwrap();
    let base = Arc::new(
        plugin
            .map(&text, None, "vllm", "t000")
            .await
            .unwrap()
            .unwrap(),
    );
    let store = Store::open(&Options {
        path: db.clone(),
        max_size: None,
        queue: 1024,
    })
    .unwrap();
    let now = history::millis(SystemTime::now());
    let measured = targets / 2;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut stored = 0;
    for t in 0..targets {
        let (store, base) = (store.clone(), base.clone());
        let n = if t == measured {
            per_target
        } else {
            per_target.min(240)
        };
        stored += n;
        let first = now - n * STEP_MS;
        tasks.push(tokio::spawn(async move {
            let phase = (t as i64 * 149) % STEP_MS;
            for i in 0..n {
                let s = snapshot_at(&base, t, i, first + i * STEP_MS + phase);
                let row =
                    history::success_row(&s.instance_id, &s, Duration::from_millis(20)).unwrap();
                store.insert(row).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "stored {stored} snapshots in {:.1} s ({per_target} for the measured server)",
        started.elapsed().as_secs_f64()
    );
    drop(store);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // One loopback fixture server behind every target.
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = text.clone();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = String::new();
    for t in 0..targets {
        config.push_str(&format!(
            "[[targets]]\nid = \"t{t:03}\"\nurl = \"http://{upstream}/metrics\"\nengine = \"vllm\"\ninterval = \"15s\"\n"
        ));
    }
    let cfg = dir.join("serve.toml");
    std::fs::write(&cfg, config).unwrap();
    let (mut child, addr) = spawn_serve(
        serve_bin,
        &[
            "--db",
            db.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
    )
    .await;
    // Let every target be scraped once.
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "load average before: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap().trim()
    );
    let server = format!("/servers/t{measured:03}");
    let to = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let from = to - 86_400.0;
    for (label, path, runs) in [
        (
            "API the fleet page reads: GET /api/v1/fleet/window?range=5m".to_string(),
            "/api/v1/fleet/window?range=5m".to_string(),
            20,
        ),
        (
            "API the 24 h server page reads: GET …/history, step 12m (121 points)".to_string(),
            format!(
                "/api/v1/targets/t{measured:03}/history?from={from}&to={to}&step=720000ms&range=720000ms"
            ),
            20,
        ),
        (
            format!("fleet page, {targets} servers"),
            "/".to_string(),
            20,
        ),
        (
            "server page, 24 h (120 points)".to_string(),
            format!("{server}?range=24h"),
            20,
        ),
        (
            "server page, 1 h (120 points)".to_string(),
            format!("{server}?range=1h"),
            20,
        ),
    ] {
        let mut ms = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let (status, n) = get(addr, &path).await;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(status, 200, "{path}");
            size = n;
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{label}: p50 {:.1} ms, p99 {:.1} ms over {runs} runs, {size} bytes",
            pct(&ms, 0.5),
            pct(&ms, 0.99)
        );
    }
    println!(
        "load average after: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap().trim()
    );
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
