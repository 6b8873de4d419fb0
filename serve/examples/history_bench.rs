//! Benchmark of the history store (a measurement tool, not a test): ingest
//! rate into SQLite through the store's single writer, bytes stored per
//! snapshot, and the latency of windows, one-day histories and the fleet
//! window, with TARGETS targets scraped every 15 s for a day (generated: a
//! real vLLM snapshot, mapped by the plugin, with its counters advanced).
//! The same run measures the previous design beside it: a whole snapshot
//! per scrape (the store's `encode`: zstd CBOR) and a window per history
//! point computed by the plugin between two decoded snapshots.
//!
//! `cargo run --release -p llm-metrics-serve --example history_bench -- \
//!     target/release/llm-metrics-serve [TARGETS=100] [SNAPSHOTS_PER_TARGET=5760]`

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use llm_metrics_host::{ComponentSource, Plugin, PluginOptions};
use llm_metrics_serve::history;
use llm_metrics_serve::store::{Options, Store};

#[allow(dead_code)]
mod common;
use common::{STEP_MS, get, pct, snapshot_at, spawn_serve};

async fn latency(addr: std::net::SocketAddr, path: &str, runs: usize) -> (f64, f64, usize) {
    let mut ms = Vec::new();
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let (status, n) = get(addr, path).await;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, 200, "{path}");
        size = n;
    }
    ms.sort_by(f64::total_cmp);
    (pct(&ms, 0.5), pct(&ms, 0.99), size)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let serve_bin = args
        .get(1)
        .expect("usage: history_bench SERVE_BIN [TARGETS] [PER_TARGET]");
    let targets: usize = args.get(2).map_or(100, |s| s.parse().unwrap());
    let per_target: i64 = args.get(3).map_or(5_760, |s| s.parse().unwrap());
    let dir =
        std::env::temp_dir().join(format!("llm-metrics-history-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("history.sqlite3");

    let plugin = Plugin::new(&ComponentSource::Embedded, &PluginOptions::default()).unwrap();
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/vllm_v1.prom"
    ))
    .unwrap();
    let base = plugin
        .map(&text, None, "vllm", "t000")
        .await
        .unwrap()
        .unwrap();
    let json_bytes = serde_json::to_vec(&llm_metrics_host::json::snapshot(&base))
        .unwrap()
        .len();
    let stored_one = llm_metrics_serve::store::encode(&base).unwrap().len();

    let store = Store::open(&Options {
        path: db.clone(),
        max_size: None,
        queue: 1024,
    })
    .unwrap();
    let now = history::millis(SystemTime::now());
    let first = now - per_target * STEP_MS;
    let started = Instant::now();
    let base = Arc::new(base);
    let mut tasks = Vec::new();
    for t in 0..targets {
        let (store, base) = (store.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let phase = (t as i64 * 149) % STEP_MS;
            for i in 0..per_target {
                let at = first + i * STEP_MS + phase;
                let s = snapshot_at(&base, t, i, at);
                let row =
                    history::success_row(&s.instance_id, &s, Duration::from_millis(20)).unwrap();
                store.insert(row).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ingest = started.elapsed();
    let rows = targets as f64 * per_target as f64;
    let (record_mean, layout_bytes, layouts, file_pages): (f64, i64, i64, i64) = store
        .read(|c| {
            Ok((
                c.query_row(
                    "SELECT avg(length(record)) FROM scrapes WHERE ok = 1",
                    [],
                    |r| r.get(0),
                )?,
                c.query_row("SELECT total(length(body)) FROM layouts", [], |r| {
                    r.get::<_, f64>(0).map(|v| v as i64)
                })?,
                c.query_row("SELECT count(*) FROM layouts", [], |r| r.get(0))?,
                c.query_row("PRAGMA page_count", [], |r| r.get(0))?,
            ))
        })
        .await
        .unwrap();
    // Per-row zstd over the packed values, measured on a sample.
    let sample: Vec<Vec<u8>> = store
        .read(|c| {
            c.prepare("SELECT record FROM scrapes WHERE ok = 1 LIMIT 2000")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
        .await
        .unwrap();
    let zstd_mean = sample
        .iter()
        .map(|v| zstd::bulk::compress(v, 3).unwrap().len())
        .sum::<usize>() as f64
        / sample.len() as f64;
    // The previous design: the whole snapshot per scrape (one target's day).
    let old_target = targets / 2;
    let old_snaps: Vec<Vec<u8>> = (0..per_target)
        .map(|i| {
            let at = first + i * STEP_MS + (old_target as i64 * 149) % STEP_MS;
            llm_metrics_serve::store::encode(&snapshot_at(&base, old_target, i, at)).unwrap()
        })
        .collect();
    let blob_mean = old_snaps.iter().map(Vec::len).sum::<usize>() as f64 / old_snaps.len() as f64;
    // The previous design's history: per point, two stored snapshots
    // decoded and one plugin call (the windows of a day at step 5m, range
    // 5m: 288 pairs 20 scrapes apart), and one window over the whole day.
    let old_window = |a: usize, b: usize| {
        let (plugin, old_snaps) = (&plugin, &old_snaps);
        async move {
            let x = llm_metrics_serve::store::decode(&old_snaps[a]).unwrap();
            let y = llm_metrics_serve::store::decode(&old_snaps[b]).unwrap();
            let w = plugin.window(&x, &y).await.unwrap().unwrap();
            serde_json::to_vec(&llm_metrics_host::json::window(&w))
                .unwrap()
                .len()
        }
    };
    let t = Instant::now();
    let n = usize::try_from(per_target).unwrap();
    let mut points = 0;
    let mut a = 0;
    while a + 20 < n {
        old_window(a, a + 20).await;
        a += 20;
        points += 1;
    }
    let old_history = t.elapsed();
    let mut one = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        old_window(0, n - 1).await;
        one.push(t.elapsed().as_secs_f64() * 1e3);
    }
    one.sort_by(f64::total_cmp);
    println!(
        "previous design, in-process (no HTTP): a day's windows at step 5m ({points} plugin calls, each on two decoded snapshots) {:.0} ms; one window over the day p50 {:.2} ms ({:.0}x)",
        old_history.as_secs_f64() * 1e3,
        pct(&one, 0.5),
        old_history.as_secs_f64() * 1e3 / pct(&one, 0.5)
    );
    drop(store);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let file_bytes = (file_pages * 4096) as f64;
    println!(
        "load average before queries: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap().trim()
    );
    println!(
        "ingest: {rows} snapshots in {:.1} s = {:.0} snapshots/s (100 concurrent writers, one SQLite writer thread, WAL, synchronous=FULL)",
        ingest.as_secs_f64(),
        rows / ingest.as_secs_f64()
    );
    println!(
        "bytes per scrape: {record_mean:.1} stored record (packed increments, gauges and totals); {zstd_mean:.1} if each record were zstd-compressed; {layouts} layouts, {layout_bytes} bytes in all; {:.0} in the file incl. index, row and page overhead",
        file_bytes / rows,
    );
    println!(
        "previous design: {blob_mean:.0} bytes per scrape (whole snapshot, CBOR+zstd; the first alone {stored_one}); the API's JSON of one snapshot: {json_bytes} bytes"
    );

    // The targets, registered (for the fleet window) but never answering
    // within the run: a closed port, scraped hourly.
    let mut config = String::new();
    for t in 0..targets {
        config.push_str(&format!(
            "[[targets]]\nid = \"t{t:03}\"\nurl = \"http://127.0.0.1:9/metrics\"\nengine = \"vllm\"\ninterval = \"1h\"\n"
        ));
    }
    let config_path = dir.join("serve.toml");
    std::fs::write(&config_path, config).unwrap();
    let (mut child, addr) = spawn_serve(
        serve_bin,
        &[
            "--db",
            db.to_str().unwrap(),
            "--config",
            config_path.to_str().unwrap(),
            // A day at 1m is ~18 MB of JSON.
            "--history-max-bytes",
            "64MiB",
        ],
    )
    .await;
    let to = now as f64 / 1e3;
    let from = to - 86_400.0;
    let target = format!("t{:03}", targets / 2);
    for (label, path, runs) in [
        (
            "1-day history, step 5m (289 points, 288 windows)",
            format!("/api/v1/targets/{target}/history?from={from}&to={to}&step=5m"),
            20,
        ),
        (
            "1-day history, step 1m (1441 points)",
            format!("/api/v1/targets/{target}/history?from={from}&to={to}&step=1m"),
            10,
        ),
        (
            "window, range 5m",
            format!("/api/v1/targets/{target}/window?range=5m&at={to}"),
            50,
        ),
        (
            "window, range 1d",
            format!("/api/v1/targets/{target}/window?range=1d&at={to}"),
            20,
        ),
        (
            "fleet window over all targets, range 5m",
            format!("/api/v1/fleet/window?range=5m&at={to}"),
            50,
        ),
    ] {
        let (p50, p99, size) = latency(addr, &path, runs).await;
        println!("{label}: p50 {p50:.1} ms, p99 {p99:.1} ms over {runs} runs, {size} bytes");
    }
    println!(
        "load average after: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap().trim()
    );
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
