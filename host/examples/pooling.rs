//! Per-call cost with wasmtime's on-demand allocator (`EngineChoice::OnDemand`)
//! against its pooling allocator (a measurement tool, not a test): the
//! smallest call (`engines`, mostly instantiation) and mapping the first
//! ~65 KB of the vLLM fixture, one at a time and `PARALLEL` at once.
//! Rounds alternate between the two so machine load hits both alike.
//!
//! `cargo run --release -p llm-metrics-host --example pooling -- [CALLS] [PARALLEL]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use llm_metrics_host::{ComponentSource, EngineChoice, Limits, Plugin, PluginOptions};

fn body() -> Vec<u8> {
    let full = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/vllm_v1.prom"
    ))
    .expect("fixture");
    let cut = full[..65_000.min(full.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(full.len(), |i| i + 1);
    full[..cut].to_vec()
}

fn plugin(engine: EngineChoice) -> Arc<Plugin> {
    let options = PluginOptions {
        limits: Limits {
            memory_bytes: 256 << 20,
            ..Limits::default()
        },
        cache_dir: None,
        engine,
    };
    Arc::new(Plugin::new(&ComponentSource::Embedded, &options).expect("plugin"))
}

/// Wall time per call of `calls` calls run `parallel` at a time.
async fn per_call(
    plugin: &Arc<Plugin>,
    body: &Arc<Vec<u8>>,
    map: bool,
    calls: usize,
    parallel: usize,
) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (plugin, body) = (plugin.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..calls / parallel {
                if map {
                    let s = plugin.map(&body, None, "vllm", "bench").await.unwrap();
                    assert!(s.is_ok());
                } else {
                    assert!(!plugin.engines().await.unwrap().is_empty());
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed() / u32::try_from(calls / parallel * parallel).unwrap()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls: usize = args.get(1).map_or(400, |s| s.parse().unwrap());
    let parallel: usize = args.get(2).map_or(2, |s| s.parse().unwrap());
    let body = Arc::new(body());
    let on_demand = plugin(EngineChoice::OnDemand);
    let pooled = plugin(EngineChoice::Pooled {
        slots: u32::try_from(parallel).unwrap() + 1,
    });
    println!(
        "body {} bytes, {calls} calls per figure, best of 3 rounds",
        body.len()
    );
    for (what, map) in [("engines()", false), ("map 65 KB", true)] {
        for p in [1, parallel] {
            let (mut a, mut b) = (Duration::MAX, Duration::MAX);
            for _ in 0..3 {
                a = a.min(per_call(&on_demand, &body, map, calls, p).await);
                b = b.min(per_call(&pooled, &body, map, calls, p).await);
            }
            println!(
                "{what:10} x{p}: on-demand {a:>10.1?}/call, pooling {b:>10.1?}/call, pooling/on-demand {:.2}",
                b.as_secs_f64() / a.as_secs_f64()
            );
        }
    }
}
