//! Warm `Plugin::collect` latency (issue 10), a measurement, not a test: a
//! fast axum loopback server serves the first 64,923 bytes of the vLLM V1
//! fixture (cut at a line end); after a warm-up, `CALLS` sequential
//! collects are timed for each way of running the plugin (pooled keep-alive
//! connections or a new connection per call; wasmtime's on-demand or
//! pooling allocator), and in the same run the original design's Python
//! collector (`serve/bench/python_collector.py`: httpx, a regex per line,
//! pydantic) reads the same server. Two rows are without a sandbox: the
//! floor, the fastest native path we could build (one blocking keep-alive
//! socket, `httparse` for the response head, the body read into one reused
//! buffer, and the guest crate's parser and mapper called natively), and the
//! same with a kept-alive hyper client, as an embedder would write it.
//! Prints a table with p50/p99, the ratio Python / ours and each row's ratio
//! to the floor (issue 20's first target reads the default engine's row).
//!
//! `cargo bench -p llm-metrics-tests --bench collect [-- CALLS]` (default
//! 2,000 calls per row; about 30 s after the build). Without python3,
//! httpx or pydantic the Python row is skipped with a message
//! (`pip install httpx pydantic`).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use llm_metrics_guest::engines;
use llm_metrics_guest::text::{Format, ParseOptions};
use llm_metrics_host::engine::{engine_config_keep_resident, shared_engine_pools};
use llm_metrics_host::wit::collector::Target;
use llm_metrics_host::{
    AllowedHost, ComponentSource, EgressPolicy, EngineChoice, Limits, Plugin, PluginOptions,
    Sender, SenderConfig, Ticker,
};
use wasmtime::Engine;

const WARM_UP: usize = 200;
/// Each call's memory cap (and each pooling slot's size).
const MEMORY: usize = 64 << 20;

/// The first ~65 KB of the vLLM fixture, cut at a line end.
fn body() -> Bytes {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vllm_v1.prom");
    let full = std::fs::read(path).expect("fixture");
    let cut = full[..65_000.min(full.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(full.len(), |i| i + 1);
    Bytes::from(full[..cut].to_vec())
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy)]
struct Figures {
    p50: f64,
    p99: f64,
    mean: f64,
}

fn figures(mut ms: Vec<f64>) -> Figures {
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    Figures {
        p50: q(0.5),
        p99: q(0.99),
        mean: ms.iter().sum::<f64>() / ms.len() as f64,
    }
}

fn plugin(engine: EngineChoice, keep_alive: bool) -> Plugin {
    let options = PluginOptions {
        limits: Limits {
            memory_bytes: MEMORY,
            ..Limits::default()
        },
        cache_dir: None,
        engine,
    };
    let plugin = Plugin::new(&ComponentSource::Embedded, &options).expect("plugin");
    if keep_alive {
        plugin
    } else {
        // No idle connection is kept: a new one per call, as before.
        plugin.with_sender(Sender::new(SenderConfig {
            max_idle_per_host: 0,
            ..SenderConfig::default()
        }))
    }
}

async fn measure(plugin: &Plugin, url: &str, calls: usize) -> Figures {
    let policy = EgressPolicy::deny_all().allow(AllowedHost::from_url(url).unwrap());
    let target = Target {
        url: url.to_string(),
        instance_id: Some("bench".into()),
        engine: "vllm".into(),
        timeout_ms: 5_000,
        max_body_bytes: 16 << 20,
        headers: Vec::new(),
        include_raw: false,
    };
    let mut ms = Vec::with_capacity(calls);
    for i in 0..WARM_UP + calls {
        let t = Instant::now();
        let snapshot = plugin.collect(&target, policy.clone()).await.unwrap();
        let elapsed = t.elapsed();
        assert!(snapshot.is_ok(), "{snapshot:?}");
        if i >= WARM_UP {
            ms.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    figures(ms)
}

/// The guest crate's parse and map of `body`, natively, as both rows
/// without a sandbox run it.
fn map_natively(body: &[u8]) {
    let options = ParseOptions {
        format: Format::Auto,
        strict: false,
        content_type: Some("text/plain; version=0.0.4"),
    };
    let snapshot = engines::map_text(body, &options, "vllm")
        .expect("parses")
        .expect("maps");
    assert!(snapshot.load.requests_running.is_some());
}

/// The same fetch, parse and map with no sandbox and no `wasi:http`: one
/// kept-alive hyper connection, and the guest crate's parser and mapper
/// called as a native library.
async fn measure_hyper(addr: std::net::SocketAddr, calls: usize) -> Figures {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut ms = Vec::with_capacity(calls);
    for i in 0..WARM_UP + calls {
        let t = Instant::now();
        let request = hyper::Request::get("/metrics")
            .header(header::HOST, addr.to_string())
            .header(header::ACCEPT, "text/plain;version=0.0.4")
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert!(response.status().is_success());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        map_natively(&body);
        let elapsed = t.elapsed();
        if i >= WARM_UP {
            ms.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    figures(ms)
}

/// The floor: the least work that fetches, parses and maps the body with
/// no sandbox. One blocking keep-alive socket with `TCP_NODELAY`, a request
/// written once, `httparse` for the response head, the body read into one
/// buffer reused by every call, and `engines::map_text` natively. Runs on
/// its own thread, so no async runtime sits in the way.
fn measure_floor(addr: std::net::SocketAddr, calls: usize) -> Figures {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain;version=0.0.4\r\n\r\n"
    );
    let mut buf = vec![0u8; 1 << 20];
    let mut ms = Vec::with_capacity(calls);
    for i in 0..WARM_UP + calls {
        let t = Instant::now();
        stream.write_all(request.as_bytes()).unwrap();
        let mut filled = 0;
        // The head: read until httparse sees all of it.
        let (head, length) = loop {
            let n = stream.read(&mut buf[filled..]).unwrap();
            assert!(n > 0, "the server closed the connection");
            filled += n;
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = response.parse(&buf[..filled]).unwrap() {
                assert_eq!(response.code, Some(200));
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| {
                        std::str::from_utf8(h.value)
                            .unwrap()
                            .parse::<usize>()
                            .unwrap()
                    })
                    .expect("the server declares a length");
                break (head, length);
            }
        };
        while filled < head + length {
            let n = stream.read(&mut buf[filled..head + length]).unwrap();
            assert!(n > 0, "the server closed the connection");
            filled += n;
        }
        map_natively(&buf[head..head + length]);
        let elapsed = t.elapsed();
        if i >= WARM_UP {
            ms.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    figures(ms)
}

/// The Python collector against `url`, or why it could not run.
fn python(url: &str, calls: usize) -> Result<Figures, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../serve/bench/python_collector.py"
    );
    let check = Command::new("python3")
        .args(["-c", "import httpx, pydantic"])
        .output()
        .map_err(|e| format!("python3 not found ({e})"))?;
    if !check.status.success() {
        return Err(format!(
            "httpx or pydantic missing ({}); pip install httpx pydantic",
            String::from_utf8_lossy(&check.stderr).trim()
        ));
    }
    let out = Command::new("python3")
        .args([script, url, &calls.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let f = |k: &str| v[k].as_f64().ok_or(format!("no {k} in {v}"));
    Ok(Figures {
        p50: f("p50_ms")?,
        p99: f("p99_ms")?,
        mean: f("mean_ms")?,
    })
}

fn main() {
    let calls: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
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
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://{addr}/metrics");

        let custom = |config: wasmtime::Config| EngineChoice::Custom {
            engine: Engine::new(&config).expect("engine"),
            ticker: Ticker::Thread,
        };
        // The default (`EngineChoice::Shared`) pools instances with
        // `POOL_KEEP_RESIDENT` (1 MiB) of each memory kept resident, as
        // `EngineChoice::Pooled` does; the on-demand rows are the previous
        // default, the last plugin row pools and keeps nothing resident.
        let rows: [(&str, EngineChoice, bool); 5] = [
            ("default engine (pooling, 1 MiB resident), keep-alive", EngineChoice::Shared, true),
            ("default engine, new connection", EngineChoice::Shared, false),
            ("on-demand, keep-alive", EngineChoice::OnDemand, true),
            ("on-demand, new connection", EngineChoice::OnDemand, false),
            (
                "pooling, nothing resident, keep-alive",
                custom(engine_config_keep_resident(Some((4, MEMORY)), 0)),
                true,
            ),
        ];
        let mut results = Vec::new();
        for (name, engine, keep_alive) in rows {
            let plugin = Arc::new(plugin(engine, keep_alive));
            let f = measure(&plugin, &url, calls).await;
            let opened = plugin.sender().stats().opened;
            results.push((name, f, opened));
        }
        let native = measure_hyper(addr, calls).await;
        let floor = tokio::task::spawn_blocking(move || measure_floor(addr, calls))
            .await
            .unwrap();
        let py = python(&url, calls);
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "warm collect of a {size}-byte vLLM body from a loopback axum server, \
             {calls} calls per row after {WARM_UP} warm-up; load average {}",
            load.trim()
        );
        println!(
            "| plugin | p50 ms | p99 ms | mean ms | connections | Python p50 / ours | p50 / floor p50 |"
        );
        println!("|---|---|---|---|---|---|---|");
        for (name, f, opened) in &results {
            let ratio = py
                .as_ref()
                .map_or("-".to_string(), |p| format!("{:.2}x", p.p50 / f.p50));
            println!(
                "| {name} | {:.3} | {:.3} | {:.3} | {opened} | {ratio} | {:.2}x |",
                f.p50,
                f.p99,
                f.mean,
                f.p50 / floor.p50
            );
        }
        for (name, f) in [
            ("no sandbox: hyper + the parser and mapper natively", native),
            ("no sandbox, the floor: one socket + httparse + the parser and mapper natively", floor),
        ] {
            let ratio = py
                .as_ref()
                .map_or("-".to_string(), |p| format!("{:.2}x", p.p50 / f.p50));
            println!(
                "| {name} | {:.3} | {:.3} | {:.3} | 1 | {ratio} | {:.2}x |",
                f.p50,
                f.p99,
                f.mean,
                f.p50 / floor.p50
            );
        }
        match &py {
            Ok(p) => println!(
                "| Python collector (httpx + regex + pydantic) | {:.3} | {:.3} | {:.3} | kept alive | 1.00x | {:.2}x |",
                p.p50,
                p.p99,
                p.mean,
                p.p50 / floor.p50
            ),
            Err(why) => println!("SKIPPED the Python collector: {why}"),
        }
        println!(
            "target (issue 20): the default engine's keep-alive row at p50 <= 1.25x the floor \
             (the default engine pools here: {})",
            shared_engine_pools()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}
