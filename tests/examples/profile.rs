//! What a `map` or `collect` costs inside the sandbox: wall time per call,
//! the guest's CPU time and its peak linear memory ([`CallStats`]), for a
//! ~65 KB vLLM body (the fixture's first 65,000 bytes, as the pooling example
//! uses) or the 10 MiB synthetic one the parse benchmark uses. A measurement
//! and profiling tool, not a test.
//!
//! ```sh
//! cargo run --release -p llm-metrics-tests --example profile -- MODE SIZE [CALLS] [COMPONENT]
//! ```
//! - `MODE`: `map` (text handed in), `collect` (fetched from a loopback server
//!   that sends `Content-Length`, keep-alive), or `collect-close` (the server
//!   sends no length and closes: the body's size is unknown until the end).
//! - `SIZE`: `65k` or `10m`. `CALLS` defaults to 200 for 65k, 20 for 10m.
//! - `COMPONENT`: a component file instead of the embedded one, e.g. a build
//!   that keeps function names (see BENCHMARKS.md, "Inside the sandbox").
//!
//! `LLM_METRICS_POOL=BYTES` uses the pooling allocator with one slot, keeping
//! `BYTES` of its memory resident between calls (`1048576`: as the default
//! engine and `serve` do; `0`: none). Without it, on-demand allocation.
//!
//! `LLM_METRICS_NO_EPOCH=1` compiles without epoch interruption, to measure
//! what the per-loop epoch checks cost (BENCHMARKS.md, issue 20).
//!
//! With `LLM_METRICS_PERFMAP=1` the engine writes `/tmp/perf-<pid>.map` as it
//! compiles, so `perf record -g` / `perf report` name the guest's functions.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use llm_metrics_host::engine::{engine_config, engine_config_keep_resident};
use llm_metrics_host::wit::collector::Target;
use llm_metrics_host::{
    AllowedHost, CallStats, ComponentSource, EgressPolicy, EngineChoice, Limits, Plugin,
    PluginOptions, Ticker,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The body for `size`.
fn body(size: &str) -> Vec<u8> {
    match size {
        "65k" => {
            let full = std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fixtures/vllm_v1.prom"
            ))
            .expect("fixture");
            let cut = full[..65_000]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(full.len(), |i| i + 1);
            full[..cut].to_vec()
        }
        "10m" => llm_metrics_guest::text::synth::vllm_exposition(10 << 20).into_bytes(),
        other => panic!("SIZE is 65k or 10m, not {other}"),
    }
}

/// Answer every `GET` on `conn` with `body`; with `length`, a
/// `Content-Length` and keep-alive, otherwise no length and close.
async fn answer(mut conn: TcpStream, body: &'static [u8], length: bool) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        // Requests are bodyless GETs: read up to the blank line.
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.clear();
        let head = if length {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
                 content-length: {}\r\n\r\n",
                body.len()
            )
        } else {
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
             connection: close\r\n\r\n"
                .to_string()
        };
        if conn.write_all(head.as_bytes()).await.is_err() || conn.write_all(body).await.is_err() {
            return;
        }
        if !length {
            return;
        }
    }
}

/// A loopback server answering with `body`.
async fn serve(body: &'static [u8], length: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            // Head and body go out as two writes: without this, Nagle holds
            // the body until the client's delayed ACK (40 ms) of the head.
            let _ = conn.set_nodelay(true);
            tokio::spawn(answer(conn, body, length));
        }
    });
    addr
}

fn plugin(component: Option<String>) -> Plugin {
    // `LLM_METRICS_POOL=<bytes kept resident>`: the pooling allocator (one
    // slot), as the default engine and `serve` use it, instead of on-demand.
    let mut config = match std::env::var("LLM_METRICS_POOL") {
        Ok(resident) => engine_config_keep_resident(
            Some((1, Limits::default().memory_bytes)),
            resident.parse().expect("LLM_METRICS_POOL is a byte count"),
        ),
        Err(_) => engine_config(None),
    };
    // `LLM_METRICS_NO_EPOCH=1`: no epoch checks in the compiled code (and so
    // no CPU budget or wall-clock cut for a running guest), to measure what
    // the checks cost. Never how the library runs.
    if std::env::var_os("LLM_METRICS_NO_EPOCH").is_some_and(|v| v == "1") {
        config.epoch_interruption(false);
    }
    if std::env::var_os("LLM_METRICS_PERFMAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = wasmtime::Engine::new(&config).expect("engine");
    let options = PluginOptions {
        limits: Limits::default(),
        cache_dir: None,
        engine: EngineChoice::Custom {
            engine,
            ticker: Ticker::Thread,
        },
    };
    let source = component.map_or(ComponentSource::Embedded, |p| {
        ComponentSource::File(p.into())
    });
    Plugin::new(&source, &options).expect("plugin")
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(size)) = (args.first(), args.get(1)) else {
        eprintln!("usage: profile map|collect|collect-close 65k|10m [CALLS] [COMPONENT]");
        std::process::exit(2);
    };
    let body: &'static [u8] = Box::leak(body(size).into_boxed_slice());
    let calls: usize = args
        .get(2)
        .map(|n| n.parse().expect("CALLS is a number"))
        .unwrap_or(if size == "65k" { 200 } else { 20 });
    let plugin = plugin(args.get(3).cloned());

    let target = match mode.as_str() {
        "map" => None,
        "collect" | "collect-close" => {
            let addr = serve(body, mode == "collect").await;
            Some(Target {
                url: format!("http://{addr}/metrics"),
                instance_id: None,
                engine: "vllm".into(),
                timeout_ms: 30_000,
                max_body_bytes: 64 << 20,
                headers: Vec::new(),
                include_raw: false,
            })
        }
        other => panic!("MODE is map, collect or collect-close, not {other}"),
    };
    let once = async || -> CallStats {
        let (result, stats) = match &target {
            None => plugin.map_with_stats(body, None, "vllm", "profile").await,
            Some(t) => {
                let egress =
                    EgressPolicy::deny_all().allow(AllowedHost::from_url(&t.url).expect("url"));
                plugin.collect_with_stats(t, egress).await
            }
        };
        let snapshot = result.expect("no trap").expect("a snapshot");
        assert_eq!(snapshot.engine, "vllm");
        stats
    };

    once().await; // warm-up: the first call pays for lazy initialisation
    let mut walls = Vec::with_capacity(calls);
    let mut cpus = Vec::with_capacity(calls);
    let mut peak = 0;
    for _ in 0..calls {
        let start = Instant::now();
        let stats = once().await;
        walls.push(start.elapsed());
        cpus.push(stats.cpu_time);
        peak = peak.max(stats.peak_memory_bytes);
    }
    walls.sort();
    cpus.sort();
    let pct = |v: &[Duration], p: usize| v[(v.len() - 1) * p / 100];
    println!(
        "{mode} {size}: body {} bytes; {calls} calls: wall p50 {:.3} ms, p99 {:.3} ms; \
         guest CPU p50 {:.3} ms; peak guest memory {} bytes ({:.2} MiB, {:.2}× the body)",
        body.len(),
        ms(pct(&walls, 50)),
        ms(pct(&walls, 99)),
        ms(pct(&cpus, 50)),
        peak,
        mib(peak),
        peak as f64 / body.len() as f64,
    );
}
